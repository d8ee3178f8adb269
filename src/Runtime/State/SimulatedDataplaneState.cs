using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Ipvs;
using SwarmDsl.Views;
using CtEntry = SwarmDsl.Runtime.Conntrack.ConntrackEntry;
using ShownConntrackEntry = SwarmDsl.Views.ConntrackEntry;
using ShownIpvsConnection = SwarmDsl.Views.IpvsConnection;

namespace SwarmDsl.Runtime.State;

/// <summary>
/// The kernel state of a <see cref="Simulation"/> as the <c>show</c> views ask for it: conntrack tables, IPVS statistics and
/// connections, rule counters and device counters, read live from the simulated namespaces at the simulation's clock
/// (<see cref="Simulation.Now"/>): an entry's timeout counts down from its state's default as time passes, and an entry
/// whose timeout ran out is not shown (as the kernel's GC would have removed it).
/// </summary>
public sealed class SimulatedDataplaneState : IDataplaneState
{
    private readonly Cluster _cluster;

    /// <summary>Reads the state of <paramref name="simulation"/>.</summary>
    public SimulatedDataplaneState(Simulation simulation)
    {
        if (simulation is null) throw new ArgumentNullException(nameof(simulation));
        _cluster = simulation.Cluster;
    }

    /// <summary>
    /// The packets and bytes that matched rule <paramref name="ruleIndex"/> (0-based, in the plan's chain), or reached the
    /// built-in chain's policy (-1), counted as ipt_do_table counts them; null for a table, chain or rule the namespace lacks.
    /// </summary>
    public PacketCounters? RuleCounters(string node, string ns, string table, string chain, int ruleIndex)
    {
        var runtime = _cluster.Namespace(node, ns);
        var t = table switch { "raw" => runtime?.Raw, "mangle" => runtime?.Mangle, "nat" => runtime?.Nat, "filter" => runtime?.Filter, _ => null };
        var c = t?.Chain(chain);
        if (c is null) return null;
        if (ruleIndex < 0) return new PacketCounters((ulong)c.PolicyPackets, (ulong)c.PolicyBytes);
        if (ruleIndex >= c.ByPlanIndex.Length) return null;
        var r = c.ByPlanIndex[ruleIndex];
        return r is null ? new PacketCounters(0, 0) : new PacketCounters((ulong)c.Packets(r), (ulong)c.Bytes(r));
    }

    /// <summary>RX/TX packets of the device; the engine drops nothing at a queue, so errors, drops and overruns are zero.</summary>
    public InterfaceCounters? Interface(string node, string ns, string device)
    {
        var dev = _cluster.Namespace(node, ns)?.Device(device);
        if (dev is null) return null;
        return new InterfaceCounters((ulong)dev.RxPackets, 0, 0, 0, (ulong)dev.TxPackets, 0, 0, 0);
    }

    /// <inheritdoc/>
    public IpvsStatistics? IpvsService(string node, string ns, int? fwMark, Ipv4Address vip, int? port)
    {
        var service = FindService(node, ns, fwMark, vip, port);
        return service is null ? null : Statistics(service.Stats);
    }

    /// <inheritdoc/>
    public IpvsDestinationState? IpvsDestination(string node, string ns, int? fwMark, Ipv4Address vip, int? port, Ipv4Address destination)
    {
        var service = FindService(node, ns, fwMark, vip, port);
        if (service is null) return null;
        foreach (var d in service.Destinations)
            if (d.Address == destination)
                return new IpvsDestinationState((uint)d.ActiveConnections, (uint)d.InactiveConnections, Statistics(d.Stats));
        return null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<ShownIpvsConnection> IpvsConnections(string node, string ns)
    {
        var runtime = _cluster.Namespace(node, ns);
        var list = new List<ShownIpvsConnection>();
        if (runtime is null) return list;
        var table = runtime.IpvsConnections;
        long now = _cluster.NowMilliseconds;
        foreach (var i in table.All())
        {
            ref var c = ref table[i];
            if (c.ExpiresAt <= now) continue;
            list.Add(new ShownIpvsConnection(c.Protocol, Remaining(c.ExpiresAt, now), IpvsStateName(c.State),
                c.ClientAddress, c.ClientPort, c.VirtualAddress, c.VirtualPort, c.DestinationAddress, c.DestinationPort));
        }
        return list;
    }

    /// <summary>Confirmed entries only: <c>conntrack -L</c> dumps the hash table, which unconfirmed entries are not in yet.</summary>
    public IReadOnlyList<ShownConntrackEntry> ConntrackEntries(string node, string ns)
    {
        var runtime = _cluster.Namespace(node, ns);
        var list = new List<ShownConntrackEntry>();
        if (runtime is null) return list;
        var table = runtime.Conntrack;
        long now = _cluster.NowMilliseconds;
        foreach (var i in table.LiveEntries())
        {
            ref var e = ref table[i];
            if (!e.Confirmed || e.ExpiresAt <= now) continue;
            bool seenReply = (e.Status & CtStatus.SeenReply) != 0;
            bool icmp = e.Original.Protocol == IpProtocol.Icmp;
            list.Add(new ShownConntrackEntry(e.Original.Protocol, Remaining(e.ExpiresAt, now), ProtocolStateName(e),
                Tuple(e.Original, icmp, request: true), Tuple(e.Reply, icmp, request: false),
                (e.Status & CtStatus.Assured) != 0, !seenReply, e.Mark));
        }
        return list;
    }

    private IpvsService? FindService(string node, string ns, int? fwMark, Ipv4Address vip, int? port)
    {
        var runtime = _cluster.Namespace(node, ns);
        if (runtime is null) return null;
        foreach (var s in runtime.IpvsServices)
        {
            if (fwMark is int m) { if (s.Plan.FwMark == m) return s; }
            else if (s.Plan.FwMark is null && s.Plan.Vip == vip && s.Plan.Port == port) return s;
        }
        return null;
    }

    private static IpvsStatistics Statistics(in IpvsStats s) =>
        new((ulong)s.Connections, (ulong)s.InPackets, (ulong)s.OutPackets, (ulong)s.InBytes, (ulong)s.OutBytes);

    /// <summary>
    /// ICMP echo: the kernel's tuple keeps the id in both directions and the type of the direction's packet (8 request,
    /// 0 reply); <see cref="ConntrackTuple"/> carries the type in its destination port.
    /// </summary>
    private static ConntrackTuple Tuple(in ConnTuple t, bool icmp, bool request) => icmp
        ? new ConntrackTuple(t.Source, t.Destination, t.SourcePort, request ? 8 : 0)
        : new ConntrackTuple(t.Source, t.Destination, t.SourcePort, t.DestinationPort);

    private static string? ProtocolStateName(in CtEntry e)
    {
        // SCTP entries print their association state too (sctp_print_conntrack).
        if (e.Original.Protocol == IpProtocol.Sctp) return SctpConntrack.Name(e.SctpState);
        if (e.Original.Protocol != IpProtocol.Tcp) return null;
        return e.TcpState switch
        {
            CtTcpState.SynSent => "SYN_SENT",
            CtTcpState.SynRecv => "SYN_RECV",
            CtTcpState.Established => "ESTABLISHED",
            CtTcpState.FinWait => "FIN_WAIT",
            CtTcpState.CloseWait => "CLOSE_WAIT",
            CtTcpState.LastAck => "LAST_ACK",
            CtTcpState.TimeWait => "TIME_WAIT",
            CtTcpState.Close => "CLOSE",
            CtTcpState.SynSent2 => "SYN_SENT2",
            _ => "NONE",
        };
    }

    /// <summary>Whole seconds left, rounded down as ctnetlink_dump_timeout and ip_vs_conn's seq_show print them.</summary>
    private static int Remaining(long expiresAt, long now) => (int)((expiresAt - now) / 1000);

    /// <summary>The state names of <c>/proc/net/ip_vs_conn</c> (tcp_state_name_table; UDP connections show UDP).</summary>
    private static string IpvsStateName(IpvsConnectionState s) => s switch
    {
        IpvsConnectionState.SynRecv => "SYN_RECV",
        IpvsConnectionState.Established => "ESTABLISHED",
        IpvsConnectionState.FinWait => "FIN_WAIT",
        IpvsConnectionState.Close => "CLOSE",
        IpvsConnectionState.Udp => "UDP",
        IpvsConnectionState.SctpInit1 => "INIT1",
        IpvsConnectionState.SctpInit => "INIT",
        IpvsConnectionState.SctpCookieSent => "C-SENT",
        IpvsConnectionState.SctpCookieReplied => "C-REPLIED",
        IpvsConnectionState.SctpCookieWait => "C-WAIT",
        IpvsConnectionState.SctpCookie => "COOKIE",
        IpvsConnectionState.SctpCookieEchoed => "C-ECHOED",
        IpvsConnectionState.SctpEstablished => "ESTABLISHED",
        IpvsConnectionState.SctpRejected => "REJECTED",
        IpvsConnectionState.SctpClosed => "CLOSED",
        IpvsConnectionState.SynSent => "SYN_SENT",
        IpvsConnectionState.TimeWait => "TIME_WAIT",
        IpvsConnectionState.CloseWait => "CLOSE_WAIT",
        IpvsConnectionState.LastAck => "LAST_ACK",
        IpvsConnectionState.Listen => "LISTEN",
        IpvsConnectionState.SynAck => "SYNACK",
        _ => "NONE",
    };
}
