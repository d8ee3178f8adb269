using SwarmDsl.Net;
using SwarmDsl.Runtime.Packets;

namespace SwarmDsl.Runtime.Conntrack;

/// <summary>
/// Conntrack's TCP state machine and its timeouts, as nf_conntrack_proto_tcp.c has them: <c>tcp_conntracks[dir][flags][state]</c>
/// (without window tracking) and <c>tcp_timeouts[]</c>; UDP, ICMP and generic timeouts from their protocol files.
/// </summary>
public static class TcpConntrack
{
    // Kernel order of enum tcp_conntrack: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2, then sIV (invalid) and sIG (ignore).
    private const byte NO = 0, SS = 1, SR = 2, ES = 3, FW = 4, CW = 5, LA = 6, TW = 7, CL = 8, S2 = 9, IV = 10, IG = 11;

    private static readonly CtTcpState[] ToState =
    {
        CtTcpState.None, CtTcpState.SynSent, CtTcpState.SynRecv, CtTcpState.Established, CtTcpState.FinWait,
        CtTcpState.CloseWait, CtTcpState.LastAck, CtTcpState.TimeWait, CtTcpState.Close, CtTcpState.SynSent2,
    };

    private static byte FromState(CtTcpState s) => s switch
    {
        CtTcpState.SynSent => SS,
        CtTcpState.SynRecv => SR,
        CtTcpState.Established => ES,
        CtTcpState.FinWait => FW,
        CtTcpState.CloseWait => CW,
        CtTcpState.LastAck => LA,
        CtTcpState.TimeWait => TW,
        CtTcpState.Close => CL,
        CtTcpState.SynSent2 => S2,
        _ => NO,
    };

    // tcp_conntracks[dir][index][state]; index as get_conntrack_index: SYN, SYN-ACK, FIN, ACK, RST, none.
    private static readonly byte[][][] Table =
    {
        new[]
        {
            new byte[] { SS, SS, IG, IG, IG, IG, IG, SS, SS, S2 },
            new byte[] { IV, IV, SR, IV, IV, IV, IV, IV, IV, SR },
            new byte[] { IV, IV, FW, FW, LA, LA, LA, TW, CL, IV },
            new byte[] { ES, IV, ES, ES, CW, CW, TW, TW, CL, IV },
            new byte[] { IV, CL, CL, CL, CL, CL, CL, CL, CL, CL },
            new byte[] { IV, IV, IV, IV, IV, IV, IV, IV, IV, IV },
        },
        new[]
        {
            new byte[] { IV, S2, IV, IV, IV, IV, IV, IV, IV, S2 },
            new byte[] { IV, SR, IG, IG, IG, IG, IG, IG, IG, SR },
            new byte[] { IV, IV, FW, FW, LA, LA, LA, TW, CL, IV },
            new byte[] { IV, IG, SR, ES, CW, CW, TW, TW, CL, IG },
            new byte[] { IV, CL, CL, CL, CL, CL, CL, CL, CL, CL },
            new byte[] { IV, IV, IV, IV, IV, IV, IV, IV, IV, IV },
        },
    };

    /// <summary>get_conntrack_index: RST wins, then SYN (with or without ACK), FIN, ACK.</summary>
    private static int Index(TcpFlags f) =>
        (f & TcpFlags.Rst) != 0 ? 4 : (f & TcpFlags.Syn) != 0 ? ((f & TcpFlags.Ack) != 0 ? 1 : 0) : (f & TcpFlags.Fin) != 0 ? 2 : (f & TcpFlags.Ack) != 0 ? 3 : 5;

    /// <summary>
    /// The next state of a connection in <paramref name="state"/> that sees a segment with <paramref name="flags"/> in
    /// direction <paramref name="dir"/>. False for an invalid segment (sIV) or one conntrack ignores (sIG): the state stays.
    /// </summary>
    public static bool TryNext(CtTcpState state, CtDirection dir, TcpFlags flags, out CtTcpState next)
    {
        byte n = Table[dir == CtDirection.Original ? 0 : 1][Index(flags)][FromState(state)];
        if (n >= IV) { next = state; return false; }
        next = ToState[n];
        return true;
    }

    /// <summary>tcp_timeouts[] (seconds): SYN_SENT 2 min, SYN_RECV 60 s, ESTABLISHED 5 days, FIN_WAIT 2 min, CLOSE_WAIT 60 s, LAST_ACK 30 s, TIME_WAIT 2 min, CLOSE 10 s, SYN_SENT2 2 min.</summary>
    public static int TimeoutSeconds(CtTcpState state) => state switch
    {
        CtTcpState.SynSent => 120,
        CtTcpState.SynRecv => 60,
        CtTcpState.Established => 5 * 24 * 3600,
        CtTcpState.FinWait => 120,
        CtTcpState.CloseWait => 60,
        CtTcpState.LastAck => 30,
        CtTcpState.TimeWait => 120,
        CtTcpState.Close => 10,
        CtTcpState.SynSent2 => 120,
        _ => 120,
    };

    /// <summary>nf_conntrack_proto_udp.c: <c>udp_timeout</c> 30 s until the flow is a stream, <c>udp_timeout_stream</c> 120 s after.</summary>
    public const int UdpTimeoutSeconds = 30, UdpStreamTimeoutSeconds = 120;

    /// <summary>A UDP flow that saw a reply becomes a stream once it is still active two seconds after its first packet (<c>stream_ts</c>).</summary>
    public const long UdpStreamAfterMilliseconds = 2000;

    /// <summary>nf_conntrack_proto_icmp.c: <c>nf_ct_icmp_timeout</c>, 30 s.</summary>
    public const int IcmpTimeoutSeconds = 30;

    /// <summary>nf_conntrack_proto_generic.c: <c>nf_ct_generic_timeout</c>, 600 s.</summary>
    public const int GenericTimeoutSeconds = 600;

    /// <summary>The timeout a packet of <paramref name="protocol"/> gives its connection (TCP: by state; UDP: by stream).</summary>
    internal static int TimeoutSeconds(IpProtocol protocol, CtTcpState state, bool udpStream) => protocol switch
    {
        IpProtocol.Tcp => TimeoutSeconds(state),
        IpProtocol.Udp => udpStream ? UdpStreamTimeoutSeconds : UdpTimeoutSeconds,
        IpProtocol.Icmp => IcmpTimeoutSeconds,
        _ => GenericTimeoutSeconds,
    };
}
