using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using SwarmDsl.Net;

namespace SwarmDsl.Cli.Lab;

/// <summary>What the external client saw for one connection attempt or packet.</summary>
/// <param name="Outcome">The comparable result: a task name, <c>refused</c>, <c>unreachable</c>, <c>no answer</c>, <c>frag-needed (mtu N)</c>, ...</param>
/// <param name="Detail">More, for the report (an error text, the ICMP sender).</param>
/// <param name="IcmpSource">For an ICMP error: the address it came from, as the client sees it.</param>
internal sealed record ClientObservation(string Outcome, string Detail, Ipv4Address? IcmpSource = null);

/// <summary>
/// The external client's side of <c>verify</c>: real sockets created inside the client namespace. A socket belongs to the
/// network namespace of the thread that creates it, so the work runs on a dedicated thread that has entered the client's
/// namespace with <c>setns(2)</c>; no process is started per connection.
/// </summary>
internal sealed class ClientProbe
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>How long a connection attempt or an answer may take before it counts as "no answer".</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(2);

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    private readonly Ipv4Address _clientAddress;

    public ClientProbe(Ipv4Address clientAddress) => _clientAddress = clientAddress;

    /// <summary>Runs <paramref name="work"/> on a thread inside network namespace <paramref name="netns"/>.</summary>
    public static T InNamespace<T>(string netns, Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle(HostCommand.NetnsPath(netns), FileMode.Open, FileAccess.Read))
                {
                    if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                        throw new IOException("setns into " + netns + " failed: errno " + Marshal.GetLastPInvokeError().ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                result = work();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = "swarmdsl lab client " + netns };
        thread.Start();
        thread.Join();
        if (failure is not null) throw new IOException("in namespace " + netns + ": " + failure.Message, failure);
        return result;
    }

    /// <summary>A TCP connection: connect, read the line the task answers with.</summary>
    public ClientObservation Tcp(Ipv4Address destination, int port, int sourcePort)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (sourcePort > 0)
            {
                s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                s.Bind(new IPEndPoint(ToIp(_clientAddress), sourcePort));
            }
            using (var cts = new CancellationTokenSource(AnswerTimeout))
            {
                try { s.ConnectAsync(new IPEndPoint(ToIp(destination), port), cts.Token).AsTask().GetAwaiter().GetResult(); }
                catch (OperationCanceledException) { return new ClientObservation("no answer", "connect timed out"); }
            }
            s.ReceiveTimeout = (int)AnswerTimeout.TotalMilliseconds;
            var text = ReadLine(s);
            return text.Length > 0 ? new ClientObservation(text, "") : new ClientObservation("connected, no data", "the connection closed without an answer");
        }
        catch (SocketException ex)
        {
            return FromError(ex);
        }
    }

    /// <summary>A UDP exchange: one datagram on a connected socket (so ICMP errors are reported), one answer awaited.</summary>
    public ClientObservation Udp(Ipv4Address destination, int port, int sourcePort)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            s.Bind(new IPEndPoint(ToIp(_clientAddress), sourcePort > 0 ? sourcePort : 0));
            s.Connect(new IPEndPoint(ToIp(destination), port));
            s.Send(Encoding.ASCII.GetBytes("swarmdsl lab verify\n"));
            s.ReceiveTimeout = (int)AnswerTimeout.TotalMilliseconds;
            var buffer = new byte[2048];
            int n = s.Receive(buffer);
            var text = Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return new ClientObservation(text.Length > 0 ? text : "empty answer", "");
        }
        catch (SocketException ex)
        {
            return FromError(ex);
        }
    }

    /// <summary>
    /// One hand-made packet of <paramref name="totalLength"/> bytes with DF set (a UDP datagram, or a TCP SYN carrying data),
    /// sent through a raw socket so the client's own path MTU cannot shrink it; then whatever comes back for it within the
    /// timeout: an ICMP error about it, the task's answer (UDP) or a SYN-ACK / RST (TCP).
    /// </summary>
    public ClientObservation OversizedPacket(IpProtocol protocol, Ipv4Address destination, int port, int sourcePort, int totalLength)
    {
        using var icmp = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        using var answers = protocol == IpProtocol.Udp
            ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Tcp);
        if (protocol == IpProtocol.Udp) answers.Bind(new IPEndPoint(ToIp(_clientAddress), sourcePort));
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
        var packet = BuildPacket(protocol, _clientAddress, destination, sourcePort, port, totalLength);
        raw.SendTo(packet, new IPEndPoint(ToIp(destination), 0));

        var deadline = Stopwatch.StartNew();
        var buffer = new byte[65536];
        while (deadline.Elapsed < AnswerTimeout)
        {
            var ready = new System.Collections.Generic.List<Socket> { icmp, answers };
            Socket.Select(ready, null, null, (int)Math.Max(1, (AnswerTimeout - deadline.Elapsed).TotalMilliseconds * 1000));
            foreach (var s in ready)
            {
                if (s == icmp)
                {
                    int n = icmp.Receive(buffer);
                    if (ParseIcmpError(buffer.AsSpan(0, n), protocol, sourcePort, port) is { } seen) return seen;
                }
                else if (protocol == IpProtocol.Udp)
                {
                    int n = answers.Receive(buffer);
                    return new ClientObservation("reached " + Encoding.ASCII.GetString(buffer, 0, n).Trim(), "the task answered");
                }
                else
                {
                    int n = answers.Receive(buffer);
                    var seen = ParseTcp(buffer.AsSpan(0, n), sourcePort, port);
                    if (seen is not null) return seen;
                }
            }
        }
        return new ClientObservation("no answer", "nothing came back within " + AnswerTimeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) + " s");
    }

    private static ClientObservation? ParseIcmpError(ReadOnlySpan<byte> p, IpProtocol protocol, int sourcePort, int port)
    {
        int ihl = (p[0] & 0x0F) * 4;
        if (p.Length < ihl + 8 + 20 + 4) return null;
        var icmp = p.Slice(ihl);
        byte type = icmp[0], code = icmp[1];
        if (type is not (3 or 11 or 12)) return null;
        var inner = icmp.Slice(8);
        int innerIhl = (inner[0] & 0x0F) * 4;
        if (inner[9] != (byte)protocol || inner.Length < innerIhl + 4) return null;
        int sport = BinaryPrimitives.ReadUInt16BigEndian(inner.Slice(innerIhl));
        int dport = BinaryPrimitives.ReadUInt16BigEndian(inner.Slice(innerIhl + 2));
        if (sport != sourcePort || dport != port) return null;
        var from = new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(p.Slice(12)));
        var about = new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(inner.Slice(16)));
        var detail = "ICMP from " + from + " about the packet to " + about + ":" + dport.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (type == 3 && code == 4)
            return new ClientObservation("frag-needed (mtu " + BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(6)).ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", detail, from);
        if (type == 3 && code == 3) return new ClientObservation("port-unreachable", detail, from);
        return new ClientObservation("icmp type " + type.ToString(System.Globalization.CultureInfo.InvariantCulture) + " code " + code.ToString(System.Globalization.CultureInfo.InvariantCulture), detail, from);
    }

    private static ClientObservation? ParseTcp(ReadOnlySpan<byte> p, int sourcePort, int port)
    {
        int ihl = (p[0] & 0x0F) * 4;
        if (p.Length < ihl + 14) return null;
        var tcp = p.Slice(ihl);
        int sport = BinaryPrimitives.ReadUInt16BigEndian(tcp);
        int dport = BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(2));
        if (sport != port || dport != sourcePort) return null;
        byte flags = tcp[13];
        if ((flags & 0x04) != 0) return new ClientObservation("reset", "TCP RST");
        if ((flags & 0x12) == 0x12) return new ClientObservation("reached", "SYN-ACK");
        return null;
    }

    /// <summary>IPv4 header (DF, the kernel fills checksum, id and total length) and a UDP datagram or TCP SYN, padded with zeros.</summary>
    internal static byte[] BuildPacket(IpProtocol protocol, Ipv4Address source, Ipv4Address destination, int sourcePort, int port, int totalLength)
    {
        var p = new byte[totalLength];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), 0x4000); // DF
        p[8] = 64;
        p[9] = (byte)protocol;
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(12), source.Value);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(16), destination.Value);
        var l4 = p.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(l4, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), (ushort)port);
        int checksumAt;
        if (protocol == IpProtocol.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)l4.Length);
            checksumAt = 6;
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), 0x5eed0001u); // sequence number
            l4[12] = 5 << 4; // data offset: 20-byte header, no options
            l4[13] = 0x02;   // SYN
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 64240);
            checksumAt = 16;
        }
        // RFC 768 / RFC 9293 checksum over the pseudo-header and the segment.
        uint sum = (source.Value >> 16) + (source.Value & 0xFFFF) + (destination.Value >> 16) + (destination.Value & 0xFFFF) + (uint)protocol + (uint)l4.Length;
        for (int i = 0; i + 1 < l4.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(i));
        if ((l4.Length & 1) != 0) sum += (uint)l4[^1] << 8;
        while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        var checksum = (ushort)~sum;
        if (checksum == 0 && protocol == IpProtocol.Udp) checksum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(checksumAt), checksum);
        return p;
    }

    private static string ReadLine(Socket s)
    {
        var sb = new StringBuilder();
        var buffer = new byte[256];
        while (sb.Length < 4096)
        {
            int n;
            try { n = s.Receive(buffer); }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock) { break; }
            if (n == 0) break;
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
            if (sb.ToString().Contains('\n')) break;
        }
        return sb.ToString().Split('\n')[0].Trim();
    }

    private static ClientObservation FromError(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => new ClientObservation("refused", ex.Message),
        SocketError.ConnectionReset => new ClientObservation("refused", ex.Message),
        SocketError.HostUnreachable or SocketError.NetworkUnreachable => new ClientObservation("unreachable", ex.Message),
        SocketError.TimedOut or SocketError.WouldBlock => new ClientObservation("no answer", ex.Message),
        _ => new ClientObservation("error " + ex.SocketErrorCode, ex.Message),
    };

    private static IPAddress ToIp(Ipv4Address a) => new(new[] { a[0], a[1], a[2], a[3] });
}
