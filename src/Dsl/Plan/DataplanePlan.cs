using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Plan;

// The dataplane plan: the narrow waist of the compiler (design/architecture.md). Everything before it understands
// topologies; everything after it (emitters, show, the Runtime interpreter, the generated pipeline, the lab) understands
// only these Linux objects. Plain immutable, value-equatable data; every element keeps the span of the declaration that
// produced it. Lists are in the order the kernel objects are created / rules are evaluated.

/// <summary>How service load balancing is realised in the kernel.</summary>
public enum LoadBalancerBackend
{
    /// <summary>IPVS fwmark services, as Docker Swarm does it.</summary>
    Ipvs,
    /// <summary>nftables numgen/jhash maps, for kernels without IPVS (same services, SNAT by <c>ct status dnat</c>).</summary>
    Nftables,
}

/// <summary>The whole cluster's kernel state, per host.</summary>
/// <param name="Topology">The topology name (it goes into every rule comment as the ownership marker).</param>
/// <param name="SourceFile">The file name the spans refer to.</param>
/// <param name="Backend">How load balancing is realised.</param>
/// <param name="Underlay">The physical network between the hosts.</param>
/// <param name="Hosts">One plan per node, in declaration order.</param>
public sealed record DataplanePlan(string Topology, string SourceFile, LoadBalancerBackend Backend, UnderlayPlan Underlay, EquatableArray<HostPlan> Hosts);

/// <summary>The underlay L2 segment all hosts share, and where the external client sits on it.</summary>
/// <param name="Subnet">The underlay subnet (declared, or the first node's).</param>
/// <param name="Mtu">The underlay MTU.</param>
/// <param name="DataPathPort">VXLAN UDP destination port.</param>
/// <param name="ExternalClient">The default external client address: the underlay subnet's highest free address when every node has an on-link route to it, else the highest free address of the first node prefix every node reaches (lowering's LowerUnderlay).</param>
public sealed record UnderlayPlan(Ipv4Cidr Subnet, int Mtu, int DataPathPort, Ipv4Address ExternalClient);

/// <summary>One host.</summary>
/// <param name="Node">The node name.</param>
/// <param name="Hostname">Its hostname.</param>
/// <param name="UnderlayAddress">The underlay address (must already be on <paramref name="UnderlayInterface"/>).</param>
/// <param name="UnderlayInterface">The underlay interface (pre-existing).</param>
/// <param name="Namespaces">The host namespace first (named <c>host</c>), then the others in creation order.</param>
/// <param name="Span">The node declaration.</param>
public sealed record HostPlan(string Node, string Hostname, Ipv4Cidr UnderlayAddress, string UnderlayInterface, EquatableArray<NamespacePlan> Namespaces, SourceSpan Span);

/// <summary>What a namespace is for.</summary>
public enum NamespaceKind
{
    /// <summary>The host's own (root) network namespace.</summary>
    Host,
    /// <summary><c>ingress_sbox</c>.</summary>
    IngressSandbox,
    /// <summary><c>lb_&lt;network&gt;</c>.</summary>
    LoadBalancer,
    /// <summary><c>1-&lt;network&gt;</c>: br0 and vxlan0 of an overlay.</summary>
    Overlay,
    /// <summary>A task (container) sandbox.</summary>
    Task,
}

/// <summary>One network namespace and everything in it.</summary>
/// <param name="Name"><c>host</c>, <c>ingress_sbox</c>, <c>lb_net</c>, <c>1-net</c> or the task name.</param>
/// <param name="Kind">What it is for.</param>
/// <param name="Owner">The task, network or service it belongs to (empty for host).</param>
/// <param name="Devices">Devices in creation order (lo first).</param>
/// <param name="Addresses">Interface addresses in the order they are added (primary before /32 aliases).</param>
/// <param name="Routes">The main routing table, connected routes (<see cref="RouteOrigin.Kernel"/>) included.</param>
/// <param name="Neighbors">Static neighbour entries.</param>
/// <param name="Fdb">Static forwarding-database entries.</param>
/// <param name="Tables">iptables tables (filter, nat, mangle, raw) with their chains, as iptables-save would list them.</param>
/// <param name="Ipvs">IPVS virtual services (IPVS backend).</param>
/// <param name="NftLoadBalancers">nftables load balancers (nftables backend).</param>
/// <param name="Sysctls">sysctls to set in this namespace.</param>
/// <param name="Listeners">Sockets listening in this namespace (the task's application).</param>
/// <param name="Span">The declaration that made the namespace.</param>
public sealed record NamespacePlan(
    string Name,
    NamespaceKind Kind,
    string Owner,
    EquatableArray<DevicePlan> Devices,
    EquatableArray<AddressPlan> Addresses,
    EquatableArray<RoutePlan> Routes,
    EquatableArray<NeighborPlan> Neighbors,
    EquatableArray<FdbPlan> Fdb,
    EquatableArray<NetfilterTable> Tables,
    EquatableArray<IpvsServicePlan> Ipvs,
    EquatableArray<NftLoadBalancerPlan> NftLoadBalancers,
    EquatableArray<SysctlPlan> Sysctls,
    EquatableArray<ListenerPlan> Listeners,
    SourceSpan Span);

/// <summary>Kinds of network devices.</summary>
public enum DeviceKind
{
    /// <summary><c>lo</c>.</summary>
    Loopback,
    /// <summary>The host's pre-existing underlay interface (never created or removed by us).</summary>
    Physical,
    /// <summary>A Linux bridge.</summary>
    Bridge,
    /// <summary>One end of a veth pair.</summary>
    Veth,
    /// <summary>A VXLAN device.</summary>
    Vxlan,
}

/// <summary>A network device.</summary>
/// <param name="Name">Interface name (≤ 15 characters).</param>
/// <param name="Kind">Device kind.</param>
/// <param name="Mtu">MTU.</param>
/// <param name="Mac">MAC address, when we set it (null: kernel-random; the runtime then derives a stable one).</param>
/// <param name="Master">The bridge this device is a port of, or null.</param>
/// <param name="Peer">For a veth end: its peer; the end with <see cref="VethPeer.CreatesPair"/> creates the pair.</param>
/// <param name="Vxlan">For a VXLAN device: its parameters.</param>
/// <param name="Span">The declaration behind it.</param>
public sealed record DevicePlan(string Name, DeviceKind Kind, int Mtu, MacAddress? Mac, string? Master, VethPeer? Peer, VxlanPlan? Vxlan, SourceSpan Span);

/// <summary>The other end of a veth pair.</summary>
/// <param name="Namespace">The namespace the peer lives in.</param>
/// <param name="Device">The peer's interface name.</param>
/// <param name="CreatesPair">True on exactly one end of each pair: that end's namespace creates the pair.</param>
public sealed record VethPeer(string Namespace, string Device, bool CreatesPair);

/// <summary>VXLAN parameters, as libnetwork's <c>createVxlan</c> sends them.</summary>
/// <param name="Vni">VXLAN network identifier.</param>
/// <param name="DstPort">UDP destination port.</param>
/// <param name="Learning">MAC learning (Docker: on).</param>
/// <param name="Proxy">ARP proxy from the neighbour table (Docker: on).</param>
/// <param name="L2Miss">L2 miss notifications (Docker: on).</param>
/// <param name="L3Miss">L3 miss notifications (Docker: on).</param>
/// <param name="Ttl">Outer TTL, 0 = auto.</param>
/// <param name="CreatedIn">The namespace it is created in before being moved (its UDP socket stays there: <c>host</c>).</param>
public sealed record VxlanPlan(int Vni, int DstPort, bool Learning, bool Proxy, bool L2Miss, bool L3Miss, int Ttl, string CreatedIn);

/// <summary>An interface address.</summary>
public sealed record AddressPlan(string Device, Ipv4Cidr Address, SourceSpan Span);

/// <summary>Where a route comes from.</summary>
public enum RouteOrigin
{
    /// <summary>Added by the kernel for an interface address (<c>proto kernel scope link</c>); not emitted.</summary>
    Kernel,
    /// <summary>Added by us.</summary>
    Static,
}

/// <summary>A route in the main table.</summary>
/// <param name="Destination">The prefix (0.0.0.0/0 for default).</param>
/// <param name="Gateway">Next hop, or null for on-link.</param>
/// <param name="Device">Output device.</param>
/// <param name="PreferredSource">Preferred source (<c>src</c>), for kernel routes the interface address.</param>
/// <param name="Origin">Kernel (connected) or static.</param>
/// <param name="Span">The declaration behind it.</param>
public sealed record RoutePlan(Ipv4Cidr Destination, Ipv4Address? Gateway, string Device, Ipv4Address? PreferredSource, RouteOrigin Origin, SourceSpan Span);

/// <summary>A static neighbour (ARP) entry: <c>ip neigh add IP lladdr MAC dev DEV nud permanent</c>.</summary>
public sealed record NeighborPlan(string Device, Ipv4Address Address, MacAddress Mac, SourceSpan Span);

/// <summary>A static FDB entry: <c>bridge fdb add MAC dev DEV [dst IP] self permanent</c>.</summary>
/// <param name="Device">The device (vxlan0 for remote endpoints).</param>
/// <param name="Mac">The MAC.</param>
/// <param name="RemoteVtep">The remote VTEP for a VXLAN entry.</param>
/// <param name="Span">The declaration behind it (the remote task or load balancer).</param>
public sealed record FdbPlan(string Device, MacAddress Mac, Ipv4Address? RemoteVtep, SourceSpan Span);

/// <summary>A sysctl set in one namespace.</summary>
/// <param name="Key">Dotted key (<c>net.ipv4.ip_forward</c>).</param>
/// <param name="Value">Value.</param>
/// <param name="Required">False for keys some kernels or non-initial namespaces lack (then skipped with a warning).</param>
/// <param name="Span">The declaration behind it.</param>
/// <param name="RaiseOnly">Set only when the host's value is lower (a whole number), as Docker's overlay driver raises the
/// neighbour table's thresholds and never lowers them.</param>
public sealed record SysctlPlan(string Key, string Value, bool Required, SourceSpan Span, bool RaiseOnly = false);

/// <summary>A listening socket (the task's application).</summary>
/// <param name="Protocol">tcp, udp or sctp.</param>
/// <param name="Port">Port.</param>
/// <param name="Owner">The task.</param>
/// <param name="Span">The port declaration.</param>
public sealed record ListenerPlan(IpProtocol Protocol, int Port, string Owner, SourceSpan Span);

/// <summary>IPVS forwarding methods.</summary>
public enum IpvsForward
{
    /// <summary>NAT (<c>-m</c>, "Masq").</summary>
    Masquerade,
    /// <summary>Direct routing (<c>-g</c>, "Route").</summary>
    DirectRoute,
}

/// <summary>An IPVS virtual service: fwmark (Swarm) or VIP:port.</summary>
/// <param name="FwMark">The fwmark, or null for a VIP:port service.</param>
/// <param name="Vip">The VIP for a VIP:port service (and, for fwmark services, the service's VIP for reference).</param>
/// <param name="Port">The port for a VIP:port service.</param>
/// <param name="Protocol">The protocol for a VIP:port service.</param>
/// <param name="Scheduler">Scheduler.</param>
/// <param name="Destinations">Real servers in the order they are added.</param>
/// <param name="Service">The Swarm service.</param>
/// <param name="Span">The service declaration (scheduler).</param>
public sealed record IpvsServicePlan(int? FwMark, Ipv4Address Vip, int? Port, IpProtocol Protocol, Scheduler Scheduler,
    EquatableArray<IpvsDestinationPlan> Destinations, string Service, SourceSpan Span);

/// <summary>An IPVS real server.</summary>
/// <param name="Address">The task's address on the network.</param>
/// <param name="Port">0 keeps the packet's destination port (Swarm).</param>
/// <param name="Weight">Weight.</param>
/// <param name="Forward">Forwarding method.</param>
/// <param name="Task">The task.</param>
/// <param name="Span">The task declaration.</param>
public sealed record IpvsDestinationPlan(Ipv4Address Address, int Port, int Weight, IpvsForward Forward, string Task, SourceSpan Span);

/// <summary>How the nftables backend picks a destination.</summary>
public enum NftPick
{
    /// <summary><c>numgen inc mod N</c> over destinations repeated by weight (rr, wrr, lc, wlc).</summary>
    NumgenIncrement,
    /// <summary><c>jhash ip saddr mod N</c> (sh).</summary>
    SourceHash,
    /// <summary><c>jhash ip daddr mod N</c> (dh).</summary>
    DestinationHash,
}

/// <summary>
/// One service balanced by nftables instead of IPVS (in table <c>ip swarmdsl</c> of the namespace). Packets carrying
/// <paramref name="FwMark"/> (set by the same mangle rules as for IPVS) or addressed to <paramref name="Vip"/> are DNATed in
/// nat prerouting (priority dstnat + 1, after the iptables nat chains) to a destination picked by <paramref name="Pick"/>; the destination port is kept.
/// </summary>
/// <param name="FwMark">The fwmark that selects the service.</param>
/// <param name="Vip">The VIP.</param>
/// <param name="Pick">How the destination is picked.</param>
/// <param name="Slots">The map's values in index order (each destination repeated by its weight).</param>
/// <param name="Scheduler">The scheduler the YAML asked for (nftables approximates lc/wlc by weights).</param>
/// <param name="Service">The Swarm service.</param>
/// <param name="Span">The service declaration.</param>
/// <param name="SnatSubnet">
/// With <paramref name="SnatSource"/>: balanced connections whose new destination is in this subnet are source-NATed
/// (<c>ct status dnat ip daddr SUBNET snat to SOURCE</c>), replacing IPVS's <c>-m ipvs --ipvs -j SNAT</c> rule. The subnet of the
/// load-balancer endpoint; the same for every load balancer of one namespace.
/// </param>
/// <param name="SnatSource">The load-balancer endpoint's address that balanced connections are source-NATed to.</param>
public sealed record NftLoadBalancerPlan(int FwMark, Ipv4Address Vip, NftPick Pick, EquatableArray<Ipv4Address> Slots, Scheduler Scheduler, string Service, SourceSpan Span,
    Ipv4Cidr? SnatSubnet = null, Ipv4Address? SnatSource = null);
