using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>
/// Writes captured frames as pcapng (the IETF pcapng draft / Wireshark's format): one Section Header Block, one
/// Interface Description Block (Ethernet, microsecond timestamps, <c>if_name</c> = <c>node/namespace/device</c>) per
/// device the packets crossed, and an Enhanced Packet Block per frame with its direction and a comment naming the trace.
/// </summary>
public static class PcapngWriter
{
    private const uint ShbType = 0x0A0D0D0A;
    private const uint IdbType = 0x00000001;
    private const uint EpbType = 0x00000006;
    private const ushort LinkTypeEthernet = 1;

    /// <summary>Writes the frames of <paramref name="traces"/> (in order) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IEnumerable<(string Comment, PacketTrace Trace)> traces)
    {
        var interfaces = new Dictionary<string, int>(StringComparer.Ordinal);
        var body = new MemoryStream();
        var header = new MemoryStream();
        WriteBlock(header, ShbType, b =>
        {
            WriteU32(b, 0x1A2B3C4D);
            WriteU16(b, 1);
            WriteU16(b, 0);
            WriteU64(b, ulong.MaxValue); // section length not specified
            WriteOption(b, 4, Encoding.UTF8.GetBytes(RuntimeInfo.Name)); // shb_userappl
            WriteEndOfOptions(b);
        });
        foreach (var (comment, trace) in traces)
        {
            foreach (var f in trace.Frames)
            {
                if (!interfaces.TryGetValue(f.Interface, out var id))
                {
                    id = interfaces.Count;
                    interfaces[f.Interface] = id;
                    WriteBlock(header, IdbType, b =>
                    {
                        WriteU16(b, LinkTypeEthernet);
                        WriteU16(b, 0);
                        WriteU32(b, 0); // no snap length limit
                        WriteOption(b, 2, Encoding.UTF8.GetBytes(f.Interface)); // if_name
                        WriteOption(b, 9, new byte[] { 6 });                     // if_tsresol: microseconds
                        WriteEndOfOptions(b);
                    });
                }
                WriteBlock(body, EpbType, b =>
                {
                    WriteU32(b, (uint)id);
                    ulong ts = (ulong)f.TimestampMicroseconds;
                    WriteU32(b, (uint)(ts >> 32));
                    WriteU32(b, (uint)ts);
                    WriteU32(b, (uint)f.Bytes.Length);
                    WriteU32(b, (uint)f.Bytes.Length);
                    b.Write(f.Bytes, 0, f.Bytes.Length);
                    Pad(b, f.Bytes.Length);
                    WriteOption(b, 1, Encoding.UTF8.GetBytes(comment + ": " + f.Interface + (f.Inbound ? " in" : " out"))); // opt_comment
                    WriteOption(b, 2, BitConverter.GetBytes(f.Inbound ? 1u : 2u));                                       // epb_flags: direction
                    WriteEndOfOptions(b);
                });
            }
        }
        header.Position = 0;
        header.CopyTo(stream);
        body.Position = 0;
        body.CopyTo(stream);
    }

    private static void WriteBlock(Stream s, uint type, Action<Stream> content)
    {
        var inner = new MemoryStream();
        content(inner);
        uint total = (uint)(inner.Length + 12);
        WriteU32(s, type);
        WriteU32(s, total);
        inner.Position = 0;
        inner.CopyTo(s);
        WriteU32(s, total);
    }

    private static void WriteOption(Stream s, ushort code, byte[] value)
    {
        WriteU16(s, code);
        WriteU16(s, (ushort)value.Length);
        s.Write(value, 0, value.Length);
        Pad(s, value.Length);
    }

    private static void WriteEndOfOptions(Stream s) { WriteU16(s, 0); WriteU16(s, 0); }

    private static void Pad(Stream s, int length)
    {
        for (int i = length; i % 4 != 0; i++) s.WriteByte(0);
    }

    private static void WriteU16(Stream s, ushort v) { s.WriteByte((byte)v); s.WriteByte((byte)(v >> 8)); }

    private static void WriteU32(Stream s, uint v) { for (int i = 0; i < 4; i++) s.WriteByte((byte)(v >> (8 * i))); }

    private static void WriteU64(Stream s, ulong v) { for (int i = 0; i < 8; i++) s.WriteByte((byte)(v >> (8 * i))); }
}
