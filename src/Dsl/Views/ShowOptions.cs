using System.Collections.Generic;
using SwarmDsl.Net;

namespace SwarmDsl.Views;

/// <summary>
/// How the views name and number what the kernel would name and number on the real host. The plan says which namespaces
/// exist; the emitted scripts decide what they are called on the machine (<c>SWARMDSL_NETNS_PREFIX</c>), and whether the
/// host namespace is the machine's own (unnamed) one or a named namespace (the lab).
/// </summary>
public sealed class ShowOptions
{
    /// <summary>The defaults: no prefix, the host namespace is the init namespace, one possible CPU, no runtime state.</summary>
    public static ShowOptions Default { get; } = new();

    /// <summary>Prepended to every namespace name the scripts create (<c>SWARMDSL_NETNS_PREFIX</c>).</summary>
    public string NetnsPrefix { get; init; } = "";

    /// <summary>
    /// The name of the node's host namespace under <c>/run/netns</c> (the lab), or null when the host namespace is the
    /// machine's init namespace, which has no name: peers there print as <c>link-netnsid N</c>.
    /// </summary>
    public string? HostNetnsName { get; init; }

    /// <summary>
    /// <c>num_possible_cpus()</c> of the target host: the kernel gives a veth one queue per possible CPU
    /// (<c>numtxqueues</c> in <c>ip -d link</c>).
    /// </summary>
    public int PossibleCpus { get; init; } = 1;

    /// <summary>Counters, connections and learned entries of a running dataplane; null shows a freshly applied host (all zero, empty).</summary>
    public IDataplaneState? State { get; init; }

    /// <summary>The name <paramref name="planNamespace"/> has under <c>/run/netns</c>, or null for the unnamed init namespace.</summary>
    public string? NetnsName(string planNamespace) =>
        planNamespace == "host" ? HostNetnsName : NetnsPrefix + planNamespace;
}

/// <summary>Packet and byte counters.</summary>
/// <param name="Packets">Packets.</param>
/// <param name="Bytes">Bytes.</param>
public readonly record struct PacketCounters(ulong Packets, ulong Bytes);

/// <summary>Per-interface statistics, as <c>/proc/net/dev</c> has them.</summary>
public sealed record InterfaceCounters(ulong RxPackets, ulong RxErrors, ulong RxDropped, ulong RxOverruns,
    ulong TxPackets, ulong TxErrors, ulong TxDropped, ulong TxOverruns);

/// <summary>IPVS statistics of a virtual service or a real server (<c>ipvsadm -L --stats</c>).</summary>
public sealed record IpvsStatistics(ulong Connections, ulong InPackets, ulong OutPackets, ulong InBytes, ulong OutBytes);

/// <summary>One IPVS connection (<c>ipvsadm -L -c</c>).</summary>
/// <param name="Protocol">Protocol.</param>
/// <param name="ExpiresInSeconds">Seconds until the entry expires.</param>
/// <param name="State">The IPVS state name (ESTABLISHED, SYN_RECV, TIME_WAIT, NONE, ...).</param>
/// <param name="Client">Client address.</param>
/// <param name="ClientPort">Client port.</param>
/// <param name="Virtual">Virtual address.</param>
/// <param name="VirtualPort">Virtual port.</param>
/// <param name="Destination">Real server address.</param>
/// <param name="DestinationPort">Real server port.</param>
public sealed record IpvsConnection(IpProtocol Protocol, int ExpiresInSeconds, string State, Ipv4Address Client, int ClientPort,
    Ipv4Address Virtual, int VirtualPort, Ipv4Address Destination, int DestinationPort);

/// <summary>
/// What a running dataplane knows that the plan does not: counters and connections. The Runtime's interpreter implements
/// it; the views ask for what they print and show zeros (or nothing) when it answers null.
/// </summary>
public interface IDataplaneState
{
    /// <summary>Counters of rule <paramref name="ruleIndex"/> (0-based) of a chain, or of its policy when the index is -1.</summary>
    PacketCounters? RuleCounters(string node, string ns, string table, string chain, int ruleIndex);

    /// <summary>Statistics of an interface.</summary>
    InterfaceCounters? Interface(string node, string ns, string device);

    /// <summary>Statistics of an IPVS virtual service (by fwmark, or VIP:port when <paramref name="fwMark"/> is null).</summary>
    IpvsStatistics? IpvsService(string node, string ns, int? fwMark, Ipv4Address vip, int? port);

    /// <summary>Statistics and connection counts of one real server of a service.</summary>
    IpvsDestinationState? IpvsDestination(string node, string ns, int? fwMark, Ipv4Address vip, int? port, Ipv4Address destination);

    /// <summary>The IPVS connection table of a namespace.</summary>
    IReadOnlyList<IpvsConnection> IpvsConnections(string node, string ns);

    /// <summary>The conntrack table of a namespace.</summary>
    IReadOnlyList<ConntrackEntry> ConntrackEntries(string node, string ns);
}

/// <summary>One direction of a conntrack entry: addresses and ports (for ICMP, type, code and id instead of ports).</summary>
/// <param name="Source">Source address.</param>
/// <param name="Destination">Destination address.</param>
/// <param name="SourcePort">Source port (ICMP: id).</param>
/// <param name="DestinationPort">Destination port (ICMP: type).</param>
/// <param name="IcmpCode">ICMP code.</param>
public sealed record ConntrackTuple(Ipv4Address Source, Ipv4Address Destination, int SourcePort, int DestinationPort, int IcmpCode = 0);

/// <summary>One conntrack entry (<c>conntrack -L</c>).</summary>
/// <param name="Protocol">Protocol.</param>
/// <param name="TimeoutSeconds">Seconds until it expires.</param>
/// <param name="TcpState">The TCP or SCTP state (ESTABLISHED, SYN_SENT, COOKIE_WAIT, ...); null for other protocols.</param>
/// <param name="Original">The original direction.</param>
/// <param name="Reply">The reply direction (after NAT).</param>
/// <param name="Assured">Seen traffic both ways long enough ([ASSURED]).</param>
/// <param name="Unreplied">No reply seen yet ([UNREPLIED]).</param>
/// <param name="Mark">The connection mark.</param>
public sealed record ConntrackEntry(IpProtocol Protocol, int TimeoutSeconds, string? TcpState, ConntrackTuple Original, ConntrackTuple Reply,
    bool Assured, bool Unreplied, uint Mark);

/// <summary>A real server's live numbers.</summary>
/// <param name="ActiveConnections">ActiveConn.</param>
/// <param name="InactiveConnections">InActConn.</param>
/// <param name="Statistics">Traffic statistics.</param>
public sealed record IpvsDestinationState(uint ActiveConnections, uint InactiveConnections, IpvsStatistics Statistics);
