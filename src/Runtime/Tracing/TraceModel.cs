using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>Why a packet was dropped: the closed set traces and tests speak of.</summary>
public enum DropCause
{
    /// <summary>No route to the destination.</summary>
    NoRoute,
    /// <summary>A netfilter rule or chain policy dropped it.</summary>
    FilterDrop,
    /// <summary>A REJECT rule refused it (an ICMP error or TCP RST answers).</summary>
    Rejected,
    /// <summary>IPVS matched a service but no real server was available.</summary>
    NoIpvsDestination,
    /// <summary>Larger than the path MTU with DF set (ICMP fragmentation needed answers), or larger than a bridge port's MTU.</summary>
    MtuExceeded,
    /// <summary>The TTL ran out while forwarding (ICMP time exceeded answers).</summary>
    TtlExceeded,
    /// <summary>Delivered locally but no socket listens (TCP RST / ICMP port unreachable answers).</summary>
    NoListener,
    /// <summary>The next hop's MAC address could not be resolved.</summary>
    NeighborMiss,
    /// <summary>A bridge flooded the frame and no port led to its destination MAC, or a VXLAN device had no remote for it.</summary>
    FdbMiss,
    /// <summary>A martian address (127/8 off loopback without route_localnet, and similar).</summary>
    Martian,
    /// <summary>Forwarding is disabled in the namespace (<c>net.ipv4.ip_forward=0</c>).</summary>
    ForwardingDisabled,
    /// <summary>The frame's destination MAC is not this interface's (PACKET_OTHERHOST).</summary>
    NotForThisHost,
    /// <summary>A VXLAN datagram arrived for a VNI no device in the namespace carries.</summary>
    UnknownVni,
    /// <summary>Conntrack could not confirm the connection (a tuple clash).</summary>
    ConntrackClash,
    /// <summary>Chain jumps nested deeper than the kernel allows.</summary>
    ChainLoop,
    /// <summary>A frame came back to the bridge port it arrived on (hairpin mode is off).</summary>
    Hairpin,
    /// <summary>
    /// A VXLAN device with learning refused a received frame: an invalid inner source MAC, or one a static FDB entry keeps at
    /// another VTEP (the kernel's SKB_DROP_REASON_MAC_INVALID_SOURCE and SKB_DROP_REASON_VXLAN_ENTRY_EXISTS).
    /// </summary>
    VxlanSourceRejected,
}

/// <summary>How a packet's life ended.</summary>
public enum DispositionKind
{
    /// <summary>A socket received it.</summary>
    Delivered,
    /// <summary>Something dropped it.</summary>
    Dropped,
    /// <summary>It came back to where it had been with the same headers: a forwarding loop.</summary>
    Looped,
    /// <summary>It left the modelled world (an address on the underlay nobody in the plan owns).</summary>
    Exited,
}

/// <summary>The headers of a packet at one point, as a trace prints them.</summary>
public sealed record HeaderSnapshot(
    IpProtocol Protocol,
    Ipv4Address Source,
    int SourcePort,
    Ipv4Address Destination,
    int DestinationPort,
    string Flags,
    int Ttl,
    int Length,
    uint Mark,
    MacAddress EthSource,
    MacAddress EthDestination,
    int IcmpType,
    int IcmpCode,
    int Vni,
    HeaderSnapshot? Inner)
{
    /// <summary>Captures a packet.</summary>
    public static HeaderSnapshot Of(in Packet p)
    {
        var s = Of(p.Headers, p.Mark);
        return p.Encapsulated ? s with { Vni = p.Vni, Inner = Of(p.Inner, 0) } : s;
    }

    /// <summary>For an ICMP error: the packet it quotes (its IPv4 header and first 8 bytes: addresses, protocol, ports or echo id).</summary>
    public HeaderSnapshot? Quoted { get; init; }

    /// <summary>For an ICMP fragmentation-needed error: the next-hop MTU it reports (RFC 1191); 0 otherwise.</summary>
    public int IcmpMtu { get; init; }

    /// <summary>Captures headers.</summary>
    public static HeaderSnapshot Of(in PacketHeaders h, uint mark) => new(h.Protocol, h.Source, h.SourcePort, h.Destination, h.DestinationPort,
        h.Protocol == IpProtocol.Tcp ? FlagText(h.Flags) : h.Protocol == IpProtocol.Sctp ? SctpChunks.Name(h.Chunk) : "", h.Ttl, h.TotalLength, mark, h.EthSource, h.EthDestination,
        h.Protocol == IpProtocol.Icmp ? h.IcmpType : -1, h.Protocol == IpProtocol.Icmp ? h.IcmpCode : -1, 0, null)
    {
        Quoted = h.IsIcmpError ? OfQuoted(h.Embedded) : null,
        IcmpMtu = h.IsIcmpError && h.IcmpType == IcmpTypes.DestinationUnreachable && h.IcmpCode == IcmpTypes.FragmentationNeeded ? h.IcmpNextHopMtu : 0,
    };

    private static HeaderSnapshot OfQuoted(in EmbeddedHeader q)
    {
        bool icmp = q.Protocol == IpProtocol.Icmp;
        return new HeaderSnapshot(q.Protocol, q.Source, q.SourcePort, q.Destination, icmp ? q.SourcePort : q.DestinationPort, "", q.Ttl, q.TotalLength, 0,
            default, default, icmp ? q.IcmpType : -1, icmp ? 0 : -1, 0, null);
    }

    /// <summary><c>SYN,ACK</c>.</summary>
    public static string FlagText(TcpFlags f)
    {
        var parts = new List<string>();
        if ((f & TcpFlags.Syn) != 0) parts.Add("SYN");
        if ((f & TcpFlags.Fin) != 0) parts.Add("FIN");
        if ((f & TcpFlags.Rst) != 0) parts.Add("RST");
        if ((f & TcpFlags.Psh) != 0) parts.Add("PSH");
        if ((f & TcpFlags.Ack) != 0) parts.Add("ACK");
        if ((f & TcpFlags.Urg) != 0) parts.Add("URG");
        return string.Join(",", parts);
    }

    /// <summary><c>10.7.191.10:8080</c>.</summary>
    public string SourceEndpoint => Endpoint(Source, SourcePort);

    /// <summary><c>172.18.0.2:8080</c>.</summary>
    public string DestinationEndpoint => Endpoint(Destination, DestinationPort);

    private string Endpoint(Ipv4Address a, int port) => Protocol == IpProtocol.Icmp ? a.ToString() : a + ":" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>tcp 10.7.191.254:40000 → 10.7.191.10:8080 [SYN]</c>.</summary>
    public string Summary()
    {
        var s = Protocol.Name() + " " + SourceEndpoint + " → " + DestinationEndpoint;
        if (Protocol is IpProtocol.Tcp or IpProtocol.Sctp && Flags.Length > 0) s += " [" + Flags + "]";
        if (Protocol == IpProtocol.Icmp) s += " " + IcmpName(IcmpType, IcmpCode);
        if (IcmpMtu > 0) s += " (mtu " + IcmpMtu.ToString(CultureInfo.InvariantCulture) + ")";
        if (Quoted is not null) s += " about " + Quoted.Summary();
        return s;
    }

    /// <summary>Names of the ICMP messages the engine produces.</summary>
    public static string IcmpName(int type, int code) => (type, code) switch
    {
        (0, _) => "echo-reply",
        (8, _) => "echo-request",
        (3, 3) => "port-unreachable",
        (3, 4) => "frag-needed",
        (3, 13) => "admin-prohibited",
        (3, _) => "dest-unreachable code " + code.ToString(CultureInfo.InvariantCulture),
        (11, _) => "time-exceeded",
        _ => "type " + type.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>One step of a hop. Every step that comes from a declaration carries its span.</summary>
public abstract record TraceStep(SourceSpan Span)
{
    /// <summary>The step's kind as traces name it (<c>Netfilter</c>, <c>Route</c>, ...).</summary>
    public abstract string Kind { get; }
}

/// <summary>The packet arrived on a device.</summary>
public sealed record ReceivedStep(string Device, HeaderSnapshot Packet) : TraceStep(SourceSpan.None)
{
    /// <inheritdoc/>
    public override string Kind => "Received";
}

/// <summary>A netfilter rule matched (or a chain policy applied, <see cref="RuleNumber"/> 0).</summary>
public sealed record NetfilterStep(string Hook, string Table, string Chain, int RuleNumber, string RuleText, string Verdict, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Netfilter";
}

/// <summary>Conntrack classified the packet.</summary>
/// <param name="State">new, established, reply, related, related-reply, untracked, invalid.</param>
/// <param name="Tuple">The tuple looked up.</param>
/// <param name="Nat">The NAT the entry carries, e.g. <c>dnat to 172.18.0.2:8080</c>, or empty.</param>
public sealed record ConntrackStep(string State, string Tuple, string Nat) : TraceStep(SourceSpan.None)
{
    /// <inheritdoc/>
    public override string Kind => "Conntrack";
}

/// <summary>Which part of the kernel rewrote a header.</summary>
public enum NatOrigin
{
    /// <summary>A rule of an iptables nat table (DNAT, SNAT, MASQUERADE, REDIRECT) bound the connection's first packet.</summary>
    NatRule,
    /// <summary>The nftables backend's balancer (its <c>dstnat</c>/<c>srcnat</c> chains) bound the connection's first packet.</summary>
    NftablesBalancer,
    /// <summary>A later packet rewritten from its connection's tuples (nf_nat_packet).</summary>
    Conntrack,
    /// <summary>An ICMP error translated for the connection it is RELATED to (nf_nat_icmp_reply_translation).</summary>
    IcmpError,
    /// <summary>IPVS rewrote it itself (ip_vs_nat_xmit, ip_vs_out, ip_vs_nat_icmp).</summary>
    Ipvs,
}

/// <summary>Which side of the packet a rewrite changes (<c>enum nf_nat_manip_type</c>).</summary>
public enum NatManip
{
    /// <summary>The source (SNAT, MASQUERADE, un-DNAT of a reply).</summary>
    Source,
    /// <summary>The destination (DNAT, REDIRECT, un-SNAT of a reply).</summary>
    Destination,
}

/// <summary>A header rewrite.</summary>
/// <param name="NatKind">How a person reads it: DNAT, SNAT, MASQUERADE, REDIRECT, un-DNAT (conntrack), IPVS DNAT (Masq), ...</param>
/// <param name="Origin">What made it (the nat table, the nftables balancer, conntrack, ICMP error translation, IPVS).</param>
/// <param name="Manip">The side it rewrites.</param>
/// <param name="Before">The rewritten side before, <c>10.7.191.10:8080</c>.</param>
/// <param name="After">After, <c>172.18.0.2:8080</c>.</param>
/// <param name="Span">The rule's declaration, when a rule made it.</param>
public sealed record NatStep(string NatKind, NatOrigin Origin, NatManip Manip, string Before, string After, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Nat";
}

/// <summary>A load-balancing decision (IPVS, or the nftables backend's map).</summary>
/// <param name="Balancer">IPVS, or the nftables backend's map.</param>
/// <param name="Service">The virtual service (<c>FWM 256</c>, a VIP:port, or the nftables map's mark and VIP).</param>
/// <param name="Scheduler">The scheduler (rr, wrr, ..., numgen inc, jhash).</param>
/// <param name="Destination">The real server chosen (empty when none).</param>
/// <param name="Task">The task behind it.</param>
/// <param name="Reason">Why it was chosen (weights, counters, hash).</param>
/// <param name="Forward">The forwarding method (Masq, Route, dnat).</param>
/// <param name="NewConnection">Whether a connection was scheduled (false: an existing one).</param>
/// <param name="Span">The declaration of the service or destination.</param>
public sealed record IpvsStep(LoadBalancerBackend Balancer, string Service, string Scheduler, string Destination, string Task, string Reason, string Forward, bool NewConnection, SourceSpan Span) : TraceStep(Span)
{
    /// <summary><c>ipvs</c> or <c>nftables</c>, as traces print it.</summary>
    public string Backend => Balancer == LoadBalancerBackend.Ipvs ? "ipvs" : "nftables";

    /// <inheritdoc/>
    public override string Kind => "Ipvs";
}

/// <summary>A route lookup.</summary>
public sealed record RouteStep(string Purpose, string Table, string Prefix, string Gateway, string Device, string Source, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Route";
}

/// <summary>A neighbour (ARP) lookup.</summary>
public sealed record NeighborStep(string Device, Ipv4Address Address, string Mac, string How, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Neighbor";
}

/// <summary>
/// A forwarding-database lookup: a bridge's (<see cref="Port"/> is the bridge port) or a VXLAN device's (<see cref="Port"/> is
/// <c>dst</c> and the remote VTEP), named by <see cref="Device"/>.
/// </summary>
public sealed record FdbStep(string Device, MacAddress Mac, string Result, string Port, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Fdb";
}

/// <summary>A frame forwarded by a bridge (or the underlay segment).</summary>
public sealed record BridgeStep(string Bridge, string InPort, string OutPort) : TraceStep(SourceSpan.None)
{
    /// <inheritdoc/>
    public override string Kind => "Bridge";
}

/// <summary>A veth pair crossed into another namespace.</summary>
public sealed record VethStep(string Device, string PeerNamespace, string PeerDevice, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Veth";
}

/// <summary>VXLAN encapsulation.</summary>
public sealed record VxlanEncapStep(string Device, int Vni, Ipv4Address OuterSource, Ipv4Address OuterDestination, int SourcePort, int DestinationPort,
    int BytesAdded, int InnerLength, int OuterLength, int UnderlayMtu, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "VxlanEncap";
}

/// <summary>VXLAN decapsulation.</summary>
public sealed record VxlanDecapStep(string Device, int Vni, Ipv4Address OuterSource, Ipv4Address OuterDestination, int SourcePort, int DestinationPort, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "VxlanDecap";
}

/// <summary>Socket lookup on local delivery.</summary>
public sealed record SocketStep(string Description, string Owner, bool Found, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Socket";
}

/// <summary>The packet was fragmented to fit a device's MTU (DF clear); the engine carries it on whole.</summary>
public sealed record FragmentStep(string Device, int Mtu, int Length, int Fragments) : TraceStep(SourceSpan.None)
{
    /// <inheritdoc/>
    public override string Kind => "Fragment";
}

/// <summary>The packet was dropped.</summary>
public sealed record DropStep(DropCause Cause, string Detail, SourceSpan Span) : TraceStep(Span)
{
    /// <inheritdoc/>
    public override string Kind => "Drop";
}

/// <summary>One namespace visit.</summary>
public sealed class TraceHop
{
    /// <summary>Creates a hop.</summary>
    public TraceHop(string node, string @namespace, string kind)
    {
        Node = node;
        Namespace = @namespace;
        NamespaceKind = kind;
    }

    /// <summary>The node (<c>manager</c>), or <c>external</c>.</summary>
    public string Node { get; }
    /// <summary>The namespace (<c>host</c>, <c>ingress_sbox</c>, ...).</summary>
    public string Namespace { get; }
    /// <summary>host, ingress-sandbox, load-balancer, overlay, task, client.</summary>
    public string NamespaceKind { get; }
    /// <summary>The steps in order.</summary>
    public List<TraceStep> Steps { get; } = new();

    /// <summary><c>manager/host</c>.</summary>
    public string Name => Node + "/" + Namespace;
}

/// <summary>How one packet's life ended.</summary>
/// <param name="Kind">Delivered, Dropped, Looped or Exited.</param>
/// <param name="Where">The namespace it ended in (<c>worker/web.2</c>).</param>
/// <param name="Owner">For Delivered: the task (or <c>external client</c>) owning the socket.</param>
/// <param name="Socket">For Delivered: the socket (<c>tcp :80</c>).</param>
/// <param name="Cause">For Dropped.</param>
/// <param name="Detail">A sentence.</param>
/// <param name="Final">The headers at the end.</param>
public sealed record Disposition(DispositionKind Kind, string Where, string Owner, string Socket, DropCause? Cause, string Detail, HeaderSnapshot Final);

/// <summary>The bytes of a packet on one device, for pcapng.</summary>
/// <param name="Interface">The device, <c>manager/host/eth0</c>.</param>
/// <param name="Inbound">Received (true) or transmitted (false).</param>
/// <param name="TimestampMicroseconds">Simulated time.</param>
/// <param name="Bytes">The frame.</param>
public sealed record CapturedFrame(string Interface, bool Inbound, long TimestampMicroseconds, byte[] Bytes);

/// <summary>The simulated life of one packet: what went in, every hop, how it ended.</summary>
public sealed class PacketTrace
{
    /// <summary>Creates a trace.</summary>
    public PacketTrace(string label, HeaderSnapshot packetIn)
    {
        Label = label;
        PacketIn = packetIn;
    }

    /// <summary><c>request</c>, <c>reply</c>, ...</summary>
    public string Label { get; }
    /// <summary>The packet as it was sent.</summary>
    public HeaderSnapshot PacketIn { get; }
    /// <summary>The hops.</summary>
    public List<TraceHop> Hops { get; } = new();
    /// <summary>The end.</summary>
    public Disposition Disposition { get; internal set; } = null!;
    /// <summary>Frames for pcapng.</summary>
    public List<CapturedFrame> Frames { get; } = new();

    /// <summary>Every step of every hop in order.</summary>
    public IEnumerable<TraceStep> AllSteps()
    {
        foreach (var h in Hops) foreach (var s in h.Steps) yield return s;
    }
}

/// <summary>One simulated connection: its request and (when the destination answers) the reply.</summary>
public sealed class ConnectionTrace
{
    /// <summary>Creates a connection trace.</summary>
    public ConnectionTrace(int number, int count, PacketTrace request, PacketTrace? reply)
    {
        Number = number;
        Count = count;
        Request = request;
        Reply = reply;
    }

    /// <summary>1-based number.</summary>
    public int Number { get; }
    /// <summary>How many connections were simulated.</summary>
    public int Count { get; }
    /// <summary>The first packet.</summary>
    public PacketTrace Request { get; }
    /// <summary>The answer, traced back to the client (null when nothing answered).</summary>
    public PacketTrace? Reply { get; }
}
