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
    /// The timeout of a state (seconds): tcp_timeouts[] of ip_vs_proto_tcp.c (NONE 2 s, ESTABLISHED 15 min, SYN_RECV 1 min,
    /// FIN_WAIT 2 min, CLOSE 10 s) and udp_timeouts[] of ip_vs_proto_udp.c (5 min).
    /// </summary>
    public static int TimeoutSeconds(IpvsConnectionState state) => state switch
    {
        IpvsConnectionState.SynRecv => 60,
        IpvsConnectionState.Established => 15 * 60,
        IpvsConnectionState.FinWait => 2 * 60,
        IpvsConnectionState.Close => 10,
        IpvsConnectionState.Udp => 5 * 60,
        _ => 2,
    };
}

/// <summary>The IPVS connection hash of a namespace: looked up by client→virtual (in) and real→client (out).</summary>
public sealed class IpvsConnectionTable
{
    private IpvsConnection[] _conns = new IpvsConnection[8];
    private int _used;
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
            if (_used == _conns.Length) Array.Resize(ref _conns, _conns.Length * 2);
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
