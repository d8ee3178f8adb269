using System;
using System.Collections.Generic;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Ipvs;

/// <summary>IPVS TCP connection states (ip_vs_proto_tcp.c), the subset a simulated handshake walks through.</summary>
public enum IpvsConnectionState
{
    /// <summary>NONE.</summary>
    None,
    /// <summary>SYN_RECV: the client's SYN was forwarded.</summary>
    SynRecv,
    /// <summary>ESTABLISHED: the client acknowledged the server's SYN-ACK.</summary>
    Established,
    /// <summary>FIN_WAIT.</summary>
    FinWait,
    /// <summary>CLOSE (RST seen).</summary>
    Close,
    /// <summary>UDP (no states).</summary>
    Udp,
    /// <summary>SYN_SENT: the real server sent a SYN first.</summary>
    SynSent,
    /// <summary>TIME_WAIT.</summary>
    TimeWait,
    /// <summary>CLOSE_WAIT.</summary>
    CloseWait,
    /// <summary>LAST_ACK.</summary>
    LastAck,
    /// <summary>LISTEN.</summary>
    Listen,
    /// <summary>SYNACK.</summary>
    SynAck,
    /// <summary>SCTP INIT1: the client's first INIT was forwarded.</summary>
    SctpInit1,
    /// <summary>SCTP INIT: a later INIT.</summary>
    SctpInit,
    /// <summary>SCTP C-SENT: the real server's INIT ACK went out.</summary>
    SctpCookieSent,
    /// <summary>SCTP C-REPLIED: the client echoed the cookie.</summary>
    SctpCookieReplied,
    /// <summary>SCTP C-WAIT: the real server sent an INIT.</summary>
    SctpCookieWait,
    /// <summary>SCTP COOKIE.</summary>
    SctpCookie,
    /// <summary>SCTP C-ECHOED.</summary>
    SctpCookieEchoed,
    /// <summary>SCTP ESTABLISHED.</summary>
    SctpEstablished,
    /// <summary>SCTP REJECTED: the INIT was answered by ABORT.</summary>
    SctpRejected,
    /// <summary>SCTP CLOSED.</summary>
    SctpClosed,
}

/// <summary>
/// IPVS's SCTP state table (ip_vs_proto_sctp.c <c>sctp_states</c>) for the chunks the engine sends (DATA, INIT, INIT ACK,
/// COOKIE ECHO, COOKIE ACK, ABORT; the shutdown states are never reached): INPUT for client → real server, OUTPUT for the
/// Masq replies, INPUT-ONLY for direct routing. A connection counts as active only while ESTABLISHED.
/// </summary>
public static class IpvsSctpStates
{
    // Column order of the kernel's table without its shutdown states: sNO sI1 sIN sCS sCR sCW sCO sCE sES sRJ sCL.
    private static readonly IpvsConnectionState[] Column =
    {
        IpvsConnectionState.None, IpvsConnectionState.SctpInit1, IpvsConnectionState.SctpInit, IpvsConnectionState.SctpCookieSent,
        IpvsConnectionState.SctpCookieReplied, IpvsConnectionState.SctpCookieWait, IpvsConnectionState.SctpCookie,
        IpvsConnectionState.SctpCookieEchoed, IpvsConnectionState.SctpEstablished, IpvsConnectionState.SctpRejected, IpvsConnectionState.SctpClosed,
    };

    private const byte NO = 0, I1 = 1, IN = 2, CS = 3, CR = 4, CW = 5, CO = 6, CE = 7, ES = 8, RJ = 9, CL = 10;

    // [INPUT, OUTPUT, INPUT-ONLY][data, init, init ack, cookie echo, cookie ack, abort][state]
    private static readonly byte[][][] Table =
    {
        new[]
        {
            new byte[] { ES, I1, IN, CS, CR, CW, CO, CE, ES, RJ, CL },
            new byte[] { I1, IN, IN, CS, CR, CW, CO, CE, ES, IN, IN },
            new byte[] { CW, CW, CW, CS, CR, CO, CO, CE, ES, RJ, CL },
            new byte[] { CR, IN, IN, CR, CR, CW, CO, CE, ES, RJ, CL },
            new byte[] { ES, I1, IN, CS, CR, CW, CO, ES, ES, RJ, CL },
            new byte[] { CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL },
        },
        new[]
        {
            new byte[] { ES, I1, IN, CS, CR, CW, CO, CE, ES, RJ, CL },
            new byte[] { CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW },
            new byte[] { CS, CS, CS, CS, CR, CW, CO, CE, ES, RJ, CL },
            new byte[] { CE, CE, CE, CE, CE, CE, CE, CE, ES, RJ, CL },
            new byte[] { ES, ES, ES, ES, ES, ES, ES, ES, ES, RJ, CL },
            new byte[] { CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL },
        },
        new[]
        {
            new byte[] { ES, I1, IN, CS, CR, ES, CO, CE, ES, RJ, CL },
            new byte[] { I1, IN, IN, IN, IN, IN, CO, CE, ES, IN, IN },
            new byte[] { CE, CE, CE, CE, CE, CE, CO, CE, ES, RJ, CL },
            new byte[] { ES, ES, ES, ES, ES, ES, CO, CE, ES, RJ, CL },
            new byte[] { ES, I1, IN, ES, ES, CW, ES, ES, ES, RJ, CL },
            new byte[] { CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL },
        },
    };

    /// <summary>The next state after a packet whose (first) chunk is <paramref name="chunk"/>.</summary>
    /// <param name="state">The connection's state.</param>
    /// <param name="direction">0 INPUT, 1 OUTPUT, 2 INPUT-ONLY.</param>
    /// <param name="chunk">The chunk.</param>
    public static IpvsConnectionState Next(IpvsConnectionState state, int direction, Packets.SctpChunk chunk)
    {
        int row = chunk switch
        {
            Packets.SctpChunk.Init => 1,
            Packets.SctpChunk.InitAck => 2,
            Packets.SctpChunk.CookieEcho => 3,
            Packets.SctpChunk.CookieAck => 4,
            Packets.SctpChunk.Abort => 5,
            _ => 0,
        };
        return IpvsTcpStates.Lookup(Column, Table, direction, row, state);
    }
}

/// <summary>
/// IPVS's TCP state table (ip_vs_proto_tcp.c <c>tcp_states</c>): INPUT for client → real server, OUTPUT for the Masq
/// replies, INPUT-ONLY for connections whose replies bypass the director (direct routing); rows by tcp_state_idx (RST
/// before SYN, FIN, ACK).
/// </summary>
public static class IpvsTcpStates
{
    // Column order of the kernel's table: sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA.
    private static readonly IpvsConnectionState[] Column =
    {
        IpvsConnectionState.None, IpvsConnectionState.Established, IpvsConnectionState.SynSent, IpvsConnectionState.SynRecv,
        IpvsConnectionState.FinWait, IpvsConnectionState.TimeWait, IpvsConnectionState.Close, IpvsConnectionState.CloseWait,
        IpvsConnectionState.LastAck, IpvsConnectionState.Listen, IpvsConnectionState.SynAck,
    };

    private const byte NO = 0, ES = 1, SS = 2, SR = 3, FW = 4, TW = 5, CL = 6, CW = 7, LA = 8, LI = 9, SA = 10;

    // [INPUT, OUTPUT, INPUT-ONLY][syn, fin, ack, rst][state]
    private static readonly byte[][][] Table =
    {
        new[]
        {
            new byte[] { SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR },
            new byte[] { CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW },
            new byte[] { CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES },
            new byte[] { CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR },
        },
        new[]
        {
            new byte[] { SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR },
            new byte[] { TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW },
            new byte[] { ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES },
            new byte[] { CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL },
        },
        new[]
        {
            new byte[] { SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR },
            new byte[] { CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW },
            new byte[] { CL, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES },
            new byte[] { CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL },
        },
    };

    /// <summary>The next state; <paramref name="state"/> itself when the segment has none of RST, SYN, FIN, ACK.</summary>
    /// <param name="state">The connection's state.</param>
    /// <param name="direction">0 INPUT, 1 OUTPUT, 2 INPUT-ONLY.</param>
    /// <param name="flags">The segment's flags.</param>
    public static IpvsConnectionState Next(IpvsConnectionState state, int direction, Packets.TcpFlags flags)
    {
        int row = (flags & Packets.TcpFlags.Rst) != 0 ? 3 : (flags & Packets.TcpFlags.Syn) != 0 ? 0 : (flags & Packets.TcpFlags.Fin) != 0 ? 1 : (flags & Packets.TcpFlags.Ack) != 0 ? 2 : -1;
        return row < 0 ? state : Lookup(Column, Table, direction, row, state);
    }

    /// <summary>A kernel state table's cell: <paramref name="columns"/> names its states, a state it lacks reads as the first (NONE).</summary>
    internal static IpvsConnectionState Lookup(IpvsConnectionState[] columns, byte[][][] table, int direction, int row, IpvsConnectionState state)
    {
        int col = Array.IndexOf(columns, state);
        if (col < 0) col = 0;
        return columns[table[direction][row][col]];
    }
}

/// <summary>One IPVS connection (<c>struct ip_vs_conn</c>): client, virtual and real addresses with counters.</summary>
public struct IpvsConnection
{
    /// <summary>Protocol.</summary>
    public IpProtocol Protocol;
    /// <summary>Client address.</summary>
    public Ipv4Address ClientAddress;
    /// <summary>Client port.</summary>
    public ushort ClientPort;
    /// <summary>Virtual address (the packet's destination when scheduled; for fwmark services whatever it was).</summary>
    public Ipv4Address VirtualAddress;
    /// <summary>Virtual port.</summary>
    public ushort VirtualPort;
    /// <summary>Real server address.</summary>
    public Ipv4Address DestinationAddress;
    /// <summary>Real server port.</summary>
    public ushort DestinationPort;
    /// <summary>Index of the service in its namespace.</summary>
    public int Service;
    /// <summary>Index of the destination in the service.</summary>
    public int Destination;
    /// <summary>State.</summary>
    public IpvsConnectionState State;
    /// <summary><c>IP_VS_CONN_F_INACTIVE</c>: counted in inactconns.</summary>
    public bool Inactive;
    /// <summary>Counters for this connection.</summary>
    public IpvsStats Stats;
    /// <summary>Whether the slot is used.</summary>
    public bool InUse;
    /// <summary>When the connection expires (simulated milliseconds): its last packet plus its state's timeout.</summary>
    public long ExpiresAt;

    /// <summary>
    /// The timeout of a state (seconds): tcp_timeouts[] of ip_vs_proto_tcp.c (NONE 2 s, ESTABLISHED 15 min, SYN_SENT 2 min,
    /// SYN_RECV 1 min, FIN_WAIT 2 min, TIME_WAIT 2 min, CLOSE 10 s, CLOSE_WAIT 60 s, LAST_ACK 30 s, LISTEN 2 min, SYNACK 2 min) and udp_timeouts[] of ip_vs_proto_udp.c (5 min).
    /// </summary>
    public static int TimeoutSeconds(IpvsConnectionState state) => state switch
    {
        IpvsConnectionState.Established => 15 * 60,
        IpvsConnectionState.SynSent => 2 * 60,
        IpvsConnectionState.SynRecv => 60,
        IpvsConnectionState.FinWait => 2 * 60,
        IpvsConnectionState.TimeWait => 2 * 60,
        IpvsConnectionState.Close => 10,
        IpvsConnectionState.CloseWait => 60,
        IpvsConnectionState.LastAck => 30,
        IpvsConnectionState.Listen => 2 * 60,
        IpvsConnectionState.SynAck => 2 * 60,
        IpvsConnectionState.Udp => 5 * 60,
        // sctp_timeouts[] of ip_vs_proto_sctp.c: INIT1 and REJECTED 4 s, ESTABLISHED 15 min, the others IP_VS_SCTP_MAX_RTO (61 s).
        IpvsConnectionState.SctpInit1 or IpvsConnectionState.SctpRejected => 4,
        IpvsConnectionState.SctpEstablished => 15 * 60,
        IpvsConnectionState.SctpInit or IpvsConnectionState.SctpCookieSent or IpvsConnectionState.SctpCookieReplied or IpvsConnectionState.SctpCookieWait
            or IpvsConnectionState.SctpCookie or IpvsConnectionState.SctpCookieEchoed or IpvsConnectionState.SctpClosed => 61,
        _ => 2,
    };
}

/// <summary>The IPVS connection hash of a namespace: looked up by client→virtual (in) and real→client (out).</summary>
public sealed class IpvsConnectionTable
{
    // Allocated on first use (most namespaces of a large plan never balance a connection).
    private IpvsConnection[] _conns = Array.Empty<IpvsConnection>();
    private int _used;

    /// <summary>Whether no connection was ever added: then the table is exactly as new.</summary>
    internal bool IsUnused => _used == 0;

    /// <summary>Back to exactly a new table's state, keeping the storage (a reset after every probe must not reallocate it).</summary>
    internal void Clear()
    {
        Array.Clear(_conns, 0, _used);
        _used = 0;
        _free.Clear();
        _in.Clear();
        _out.Clear();
    }
    private readonly Stack<int> _free = new();
    private readonly Dictionary<Key, int> _in = new();
    private readonly Dictionary<Key, int> _out = new();

    private readonly struct Key : IEquatable<Key>
    {
        public Key(IpProtocol p, Ipv4Address a, ushort ap, Ipv4Address b, ushort bp) { P = p; A = a.Value; Ap = ap; B = b.Value; Bp = bp; }
        private readonly IpProtocol P;
        private readonly uint A, B;
        private readonly ushort Ap, Bp;
        public bool Equals(Key o) => A == o.A && B == o.B && Ap == o.Ap && Bp == o.Bp && P == o.P;
        public override bool Equals(object? obj) => obj is Key k && Equals(k);
        public override int GetHashCode() => unchecked((int)(A * 0x9E3779B1u ^ (B + 0x85EBCA6Bu) ^ ((uint)Ap << 16 | Bp) * 31u ^ (uint)P));
    }

    /// <summary>The number of connections.</summary>
    public int Count => _in.Count;

    /// <summary>The connection at <paramref name="index"/>.</summary>
    public ref IpvsConnection this[int index] => ref _conns[index];

    /// <summary><c>ip_vs_conn_in_get</c>: a packet from the client to the virtual address.</summary>
    public bool TryGetIn(IpProtocol protocol, Ipv4Address client, ushort clientPort, Ipv4Address vaddr, ushort vport, out int index)
        => _in.TryGetValue(new Key(protocol, client, clientPort, vaddr, vport), out index);

    /// <summary><c>ip_vs_conn_out_get</c>: a packet from the real server to the client.</summary>
    public bool TryGetOut(IpProtocol protocol, Ipv4Address real, ushort realPort, Ipv4Address client, ushort clientPort, out int index)
        => _out.TryGetValue(new Key(protocol, real, realPort, client, clientPort), out index);

    /// <summary>Adds a connection (<c>ip_vs_conn_new</c> + hash).</summary>
    public int Add(in IpvsConnection connection)
    {
        int index;
        if (_free.Count > 0) index = _free.Pop();
        else
        {
            if (_used == _conns.Length) Array.Resize(ref _conns, Math.Max(8, _conns.Length * 2));
            index = _used++;
        }
        _conns[index] = connection;
        _conns[index].InUse = true;
        _in[new Key(connection.Protocol, connection.ClientAddress, connection.ClientPort, connection.VirtualAddress, connection.VirtualPort)] = index;
        _out[new Key(connection.Protocol, connection.DestinationAddress, connection.DestinationPort, connection.ClientAddress, connection.ClientPort)] = index;
        return index;
    }

    /// <summary>Unhashes and frees a connection (ip_vs_conn_expire); the caller unbinds it from its destination.</summary>
    public void Remove(int index)
    {
        ref var c = ref _conns[index];
        if (!c.InUse) return;
        _in.Remove(new Key(c.Protocol, c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort));
        _out.Remove(new Key(c.Protocol, c.DestinationAddress, c.DestinationPort, c.ClientAddress, c.ClientPort));
        c = default;
        _free.Push(index);
    }

    /// <summary>Connections in slot order.</summary>
    public IEnumerable<int> All()
    {
        for (int i = 0; i < _used; i++) if (_conns[i].InUse) yield return i;
    }
}
