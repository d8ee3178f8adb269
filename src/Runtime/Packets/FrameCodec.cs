using System;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Packets;

/// <summary>
/// Turns a <see cref="Packet"/> into real frame bytes (Ethernet II, IPv4 with header checksum, TCP/UDP with
/// pseudo-header checksums, ICMP, SCTP with a DATA chunk and its CRC-32C, VXLAN) and back. Used by the pcapng writer and by tests that check the bytes.
/// </summary>
public static class FrameCodec
{
    private const ushort EtherTypeIpv4 = 0x0800;

    /// <summary>The number of bytes <see cref="Write(in Packet, Span{byte})"/> produces.</summary>
    public static int Length(in Packet packet) => packet.Headers.FrameLength;

    /// <summary>Writes the frame of <paramref name="packet"/> (outer and inner when encapsulated); returns the length.</summary>
    public static int Write(in Packet packet, Span<byte> destination)
    {
        if (!packet.Encapsulated) return WriteFrame(packet.Headers, destination, default, -1);
        // Inner frame first (it is the outer UDP payload after the VXLAN header), then the outer headers around it.
        var inner = packet.Inner;
        int innerLength = inner.FrameLength;
        int payloadStart = 14 + 20 + 8;
        VxlanCodec.WriteHeader(destination.Slice(payloadStart), packet.Vni);
        WriteFrame(inner, destination.Slice(payloadStart + VxlanCodec.HeaderLength), default, -1);
        var outer = packet.Headers;
        return WriteFrame(outer, destination, destination.Slice(payloadStart, VxlanCodec.HeaderLength + innerLength), payloadStart);
    }

    /// <summary>Writes one frame. When <paramref name="presetPayloadOffset"/> ≥ 0 the payload is already in place.</summary>
    private static int WriteFrame(in PacketHeaders h, Span<byte> d, ReadOnlySpan<byte> presetPayload, int presetPayloadOffset)
    {
        WriteMac(d, 0, h.EthDestination);
        WriteMac(d, 6, h.EthSource);
        d[12] = EtherTypeIpv4 >> 8; d[13] = EtherTypeIpv4 & 0xFF;
        var ip = d.Slice(14);
        int total = h.TotalLength;
        ip[0] = 0x45;
        ip[1] = h.Tos;
        WriteU16(ip, 2, (ushort)total);
        WriteU16(ip, 4, h.Id);
        WriteU16(ip, 6, (ushort)(h.DontFragment ? 0x4000 : 0));
        ip[8] = h.Ttl;
        ip[9] = (byte)h.Protocol;
        WriteU16(ip, 10, 0);
        WriteU32(ip, 12, h.Source.Value);
        WriteU32(ip, 16, h.Destination.Value);
        WriteU16(ip, 10, InternetChecksum.Compute(ip.Slice(0, 20)));
        var l4 = ip.Slice(20, total - 20);
        int hdr = h.TransportHeaderLength;
        if (presetPayloadOffset < 0) FillPayload(l4.Slice(hdr, h.PayloadLength));
        switch (h.Protocol)
        {
            case IpProtocol.Tcp:
                WriteU16(l4, 0, h.SourcePort);
                WriteU16(l4, 2, h.DestinationPort);
                WriteU32(l4, 4, h.Seq);
                WriteU32(l4, 8, h.Ack);
                l4[12] = 5 << 4;
                l4[13] = (byte)h.Flags;
                WriteU16(l4, 14, 64240);
                WriteU16(l4, 16, 0);
                WriteU16(l4, 18, 0);
                WriteU16(l4, 16, TransportChecksum(h, l4));
                break;
            case IpProtocol.Udp:
                WriteU16(l4, 0, h.SourcePort);
                WriteU16(l4, 2, h.DestinationPort);
                WriteU16(l4, 4, (ushort)l4.Length);
                WriteU16(l4, 6, 0);
                var csum = TransportChecksum(h, l4);
                WriteU16(l4, 6, csum == 0 ? (ushort)0xFFFF : csum); // RFC 768: a computed 0 is sent as all ones
                break;
            case IpProtocol.Icmp:
                l4[0] = h.IcmpType;
                l4[1] = h.IcmpCode;
                WriteU16(l4, 2, 0);
                if (IcmpTypes.IsError(h.IcmpType))
                {
                    WriteU16(l4, 4, 0);
                    WriteU16(l4, 6, h.IcmpType == IcmpTypes.DestinationUnreachable && h.IcmpCode == IcmpTypes.FragmentationNeeded ? h.IcmpNextHopMtu : (ushort)0);
                    WriteEmbedded(l4.Slice(8, 28), h.Embedded);
                }
                else
                {
                    WriteU16(l4, 4, h.SourcePort);
                    WriteU16(l4, 6, h.IcmpSequence);
                }
                WriteU16(l4, 2, InternetChecksum.Compute(l4));
                break;
            case IpProtocol.Sctp:
                WriteU16(l4, 0, h.SourcePort);
                WriteU16(l4, 2, h.DestinationPort);
                // The verification tag travels in Seq (NAT keeps it: the same at every hop); INIT's is 0.
                WriteU32(l4, 4, h.Seq);
                WriteU32(l4, 8, 0);
                if (presetPayloadOffset < 0) WriteSctpChunk(l4.Slice(hdr, h.PayloadLength), h);
                // Stored as the kernel stores it (sctp_compute_cksum: cpu_to_le32), low byte first.
                var crc = Crc32c.Compute(l4);
                l4[8] = (byte)crc; l4[9] = (byte)(crc >> 8); l4[10] = (byte)(crc >> 16); l4[11] = (byte)(crc >> 24);
                break;
        }
        return 14 + total;
    }

    // The chunk of an SCTP packet (RFC 9260 §3.3): INIT and INIT ACK with the initiate tag (in Ack), a receive window, one
    // stream each way and the initial TSN (the tag again); INIT ACK's State Cookie parameter (type 7) and COOKIE ECHO's
    // cookie are deterministic bytes; COOKIE ACK is a bare chunk header; anything else is DATA.
    private static void WriteSctpChunk(Span<byte> chunk, in PacketHeaders h)
    {
        switch (h.Chunk)
        {
            case SctpChunk.Init:
            case SctpChunk.InitAck:
                if (chunk.Length < 20) { WriteSctpData(chunk); return; }
                chunk[0] = (byte)h.Chunk;
                chunk[1] = 0;
                WriteU16(chunk, 2, (ushort)chunk.Length);
                WriteU32(chunk, 4, h.Ack);
                WriteU32(chunk, 8, 106496); // a_rwnd: Linux's default receive buffer
                WriteU16(chunk, 12, 10);     // outbound streams (Linux's default)
                WriteU16(chunk, 14, 65535);  // inbound streams
                WriteU32(chunk, 16, h.Ack);  // initial TSN
                if (h.Chunk == SctpChunk.InitAck && chunk.Length >= 24)
                {
                    WriteU16(chunk, 20, 7);
                    WriteU16(chunk, 22, (ushort)(chunk.Length - 20));
                    FillPayload(chunk.Slice(24));
                }
                return;
            case SctpChunk.CookieEcho:
            case SctpChunk.CookieAck:
            case SctpChunk.Abort:
                if (chunk.Length < 4) return;
                chunk[0] = (byte)h.Chunk;
                chunk[1] = 0;
                WriteU16(chunk, 2, (ushort)chunk.Length);
                FillPayload(chunk.Slice(4));
                return;
            default:
                WriteSctpData(chunk);
                return;
        }
    }

    // The payload as one DATA chunk (RFC 9260 §3.3.1: type 0, flags B|E, TSN 1, stream 0, sequence 0, PPID 0) around the
    // payload bytes, so a dissector reads a whole chunk; one too short for a DATA chunk is a PAD chunk (RFC 4820, type 132).
    private static void WriteSctpData(Span<byte> chunk)
    {
        if (chunk.Length < 16)
        {
            if (chunk.Length < 4) return;
            chunk[0] = 132;
            chunk[1] = 0;
            WriteU16(chunk, 2, (ushort)chunk.Length);
            return;
        }
        chunk[0] = 0;
        chunk[1] = 0x03;
        // The chunk's length leaves out the padding to four bytes (the engine's payloads are whole words).
        WriteU16(chunk, 2, (ushort)chunk.Length);
        WriteU32(chunk, 4, 1);
        WriteU16(chunk, 8, 0);
        WriteU16(chunk, 10, 0);
        WriteU32(chunk, 12, 0);
    }

    private static void WriteEmbedded(Span<byte> d, in EmbeddedHeader e)
    {
        d[0] = 0x45; d[1] = 0;
        WriteU16(d, 2, e.TotalLength);
        WriteU16(d, 4, e.Id);
        WriteU16(d, 6, (ushort)(e.DontFragment ? 0x4000 : 0));
        d[8] = e.Ttl;
        d[9] = (byte)e.Protocol;
        WriteU16(d, 10, 0);
        WriteU32(d, 12, e.Source.Value);
        WriteU32(d, 16, e.Destination.Value);
        WriteU16(d, 10, InternetChecksum.Compute(d.Slice(0, 20)));
        var t = d.Slice(20, 8);
        if (e.Protocol == IpProtocol.Icmp)
        {
            t[0] = e.IcmpType; t[1] = 0; WriteU16(t, 2, 0); WriteU16(t, 4, e.SourcePort); WriteU16(t, 6, 0);
        }
        else
        {
            WriteU16(t, 0, e.SourcePort);
            WriteU16(t, 2, e.DestinationPort);
            if (e.Protocol == IpProtocol.Tcp) WriteU32(t, 4, e.Seq);
            else { WriteU16(t, 4, (ushort)Math.Max(8, e.TotalLength - 20)); WriteU16(t, 6, 0); }
        }
    }

    private static ushort TransportChecksum(in PacketHeaders h, ReadOnlySpan<byte> l4)
        => InternetChecksum.Finish(InternetChecksum.Accumulate(l4, InternetChecksum.PseudoHeader(h.Source, h.Destination, h.Protocol, l4.Length)));

    /// <summary>Deterministic payload bytes (the engine does not carry application data).</summary>
    private static void FillPayload(Span<byte> payload)
    {
        for (int i = 0; i < payload.Length; i++) payload[i] = (byte)('a' + i % 26);
    }

    /// <summary>Parses a frame written by <see cref="Write(in Packet, Span{byte})"/> (or any Ethernet/IPv4 frame without IP options); verifies checksums.</summary>
    /// <param name="frame">The bytes.</param>
    /// <param name="headers">The parsed headers (outer ones for VXLAN).</param>
    /// <param name="checksumsValid">Whether the IPv4, TCP/UDP (non-zero UDP), ICMP and SCTP (CRC-32C) checksums verify.</param>
    /// <param name="vxlanPayload">The UDP payload when the datagram is addressed to <paramref name="vxlanPort"/>.</param>
    /// <param name="vxlanPort">The VXLAN port to recognise (0: none).</param>
    public static bool TryRead(ReadOnlySpan<byte> frame, out PacketHeaders headers, out bool checksumsValid, out ReadOnlySpan<byte> vxlanPayload, int vxlanPort = 4789)
    {
        headers = default;
        checksumsValid = false;
        vxlanPayload = default;
        if (frame.Length < 34 || frame[12] != 0x08 || frame[13] != 0x00) return false;
        headers.EthDestination = ReadMac(frame, 0);
        headers.EthSource = ReadMac(frame, 6);
        var ip = frame.Slice(14);
        if ((ip[0] >> 4) != 4 || (ip[0] & 0xF) != 5) return false;
        int total = ReadU16(ip, 2);
        if (total < 20 || total > ip.Length) return false;
        headers.Tos = ip[1];
        headers.Id = ReadU16(ip, 4);
        headers.DontFragment = (ReadU16(ip, 6) & 0x4000) != 0;
        headers.Ttl = ip[8];
        headers.Protocol = (IpProtocol)ip[9];
        headers.Source = new Ipv4Address(ReadU32(ip, 12));
        headers.Destination = new Ipv4Address(ReadU32(ip, 16));
        bool ok = InternetChecksum.Verify(ip.Slice(0, 20));
        var l4 = ip.Slice(20, total - 20);
        uint pseudo = InternetChecksum.PseudoHeader(headers.Source, headers.Destination, headers.Protocol, l4.Length);
        switch (headers.Protocol)
        {
            case IpProtocol.Tcp:
                if (l4.Length < 20) return false;
                headers.SourcePort = ReadU16(l4, 0);
                headers.DestinationPort = ReadU16(l4, 2);
                headers.Seq = ReadU32(l4, 4);
                headers.Ack = ReadU32(l4, 8);
                headers.Flags = (TcpFlags)l4[13];
                headers.PayloadLength = l4.Length - (l4[12] >> 4) * 4;
                ok &= InternetChecksum.Verify(l4, pseudo);
                break;
            case IpProtocol.Udp:
                if (l4.Length < 8) return false;
                headers.SourcePort = ReadU16(l4, 0);
                headers.DestinationPort = ReadU16(l4, 2);
                headers.PayloadLength = l4.Length - 8;
                if (ReadU16(l4, 6) != 0) ok &= InternetChecksum.Verify(l4, pseudo);
                if (vxlanPort != 0 && headers.DestinationPort == vxlanPort) vxlanPayload = l4.Slice(8);
                break;
            case IpProtocol.Icmp:
                if (l4.Length < 8) return false;
                headers.IcmpType = l4[0];
                headers.IcmpCode = l4[1];
                if (IcmpTypes.IsError(headers.IcmpType))
                {
                    headers.IcmpNextHopMtu = ReadU16(l4, 6);
                    if (l4.Length >= 36)
                    {
                        var e = l4.Slice(8);
                        headers.Embedded.TotalLength = ReadU16(e, 2);
                        headers.Embedded.Id = ReadU16(e, 4);
                        headers.Embedded.DontFragment = (ReadU16(e, 6) & 0x4000) != 0;
                        headers.Embedded.Ttl = e[8];
                        headers.Embedded.Protocol = (IpProtocol)e[9];
                        headers.Embedded.Source = new Ipv4Address(ReadU32(e, 12));
                        headers.Embedded.Destination = new Ipv4Address(ReadU32(e, 16));
                        headers.Embedded.SourcePort = ReadU16(e, 20);
                        headers.Embedded.DestinationPort = ReadU16(e, 22);
                        headers.PayloadLength = l4.Length - 36;
                    }
                }
                else
                {
                    headers.SourcePort = headers.DestinationPort = ReadU16(l4, 4);
                    headers.IcmpSequence = ReadU16(l4, 6);
                    headers.PayloadLength = l4.Length - 8;
                }
                ok &= InternetChecksum.Verify(l4);
                break;
            case IpProtocol.Sctp:
                if (l4.Length < 12) return false;
                headers.SourcePort = ReadU16(l4, 0);
                headers.DestinationPort = ReadU16(l4, 2);
                headers.Seq = ReadU32(l4, 4);
                headers.PayloadLength = l4.Length - 12;
                if (l4.Length >= 16)
                {
                    headers.Chunk = (SctpChunk)l4[12];
                    if (headers.Chunk is SctpChunk.Init or SctpChunk.InitAck && l4.Length >= 20) headers.Ack = ReadU32(l4, 16);
                }
                ok &= SctpChecksumValid(l4);
                break;
            default:
                headers.PayloadLength = l4.Length;
                break;
        }
        checksumsValid = ok;
        return true;
    }

    private static bool SctpChecksumValid(ReadOnlySpan<byte> l4)
    {
        uint stored = l4[8] | (uint)l4[9] << 8 | (uint)l4[10] << 16 | (uint)l4[11] << 24;
        Span<byte> copy = l4.Length <= 1500 ? stackalloc byte[l4.Length] : new byte[l4.Length];
        l4.CopyTo(copy);
        copy[8] = copy[9] = copy[10] = copy[11] = 0;
        return Crc32c.Compute(copy) == stored;
    }

    private static void WriteMac(Span<byte> d, int at, MacAddress mac)
    {
        for (int i = 0; i < 6; i++) d[at + i] = mac[i];
    }

    private static MacAddress ReadMac(ReadOnlySpan<byte> s, int at)
    {
        ulong v = 0;
        for (int i = 0; i < 6; i++) v = (v << 8) | s[at + i];
        return new MacAddress(v);
    }

    private static void WriteU16(Span<byte> d, int at, ushort v) { d[at] = (byte)(v >> 8); d[at + 1] = (byte)v; }

    private static void WriteU32(Span<byte> d, int at, uint v)
    {
        d[at] = (byte)(v >> 24); d[at + 1] = (byte)(v >> 16); d[at + 2] = (byte)(v >> 8); d[at + 3] = (byte)v;
    }

    private static ushort ReadU16(ReadOnlySpan<byte> s, int at) => (ushort)((s[at] << 8) | s[at + 1]);

    private static uint ReadU32(ReadOnlySpan<byte> s, int at) => ((uint)s[at] << 24) | ((uint)s[at + 1] << 16) | ((uint)s[at + 2] << 8) | s[at + 3];
}
