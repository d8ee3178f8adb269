using System;
using System.Collections.Generic;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Text;

namespace SwarmDsl.Semantics;

/// <summary>A node's role in the swarm.</summary>
public enum NodeRole { /** <summary>Runs tasks only.</summary> */ Worker, /** <summary>Manages the swarm (and runs tasks).</summary> */ Manager }

/// <summary>The driver of a network.</summary>
public enum NetworkDriver { /** <summary>A node-local Linux bridge network.</summary> */ Bridge, /** <summary>A cluster-wide VXLAN overlay.</summary> */ Overlay }

/// <summary>How a service's tasks are scheduled.</summary>
public enum ServiceMode { /** <summary>A fixed number of replicas.</summary> */ Replicated, /** <summary>One task per eligible node.</summary> */ Global }

/// <summary>How clients find a service.</summary>
public enum EndpointMode { /** <summary>A virtual IP balanced by IPVS.</summary> */ Vip, /** <summary>DNS round robin over task addresses, no VIP.</summary> */ Dnsrr }

/// <summary>Where a published port listens.</summary>
public enum PublishMode { /** <summary>The routing mesh: every node, balanced by ingress_sbox.</summary> */ Ingress, /** <summary>Only the node running the task, a plain port mapping.</summary> */ Host }

/// <summary>An IPVS scheduler (the kernel's <c>ip_vs_*.c</c> modules).</summary>
public enum Scheduler { /** <summary>Round robin (Swarm's only choice).</summary> */ Rr, /** <summary>Weighted round robin.</summary> */ Wrr, /** <summary>Least connections.</summary> */ Lc, /** <summary>Weighted least connections.</summary> */ Wlc, /** <summary>Source hashing.</summary> */ Sh, /** <summary>Destination hashing.</summary> */ Dh }

/// <summary>What an endpoint (an interface with an address on a network) belongs to.</summary>
public enum EndpointKind
{
    /// <summary>A task's interface.</summary>
    Task,
    /// <summary>ingress_sbox's eth0 on the ingress network.</summary>
    IngressLoadBalancer,
    /// <summary>ingress_sbox's leg on docker_gwbridge (the DNAT target).</summary>
    IngressGateway,
    /// <summary>An lb_&lt;network&gt; sandbox's eth0.</summary>
    NetworkLoadBalancer,
}

/// <summary>Where a raw rule goes in its chain.</summary>
public enum RulePosition { /** <summary>After the derived rules.</summary> */ Append, /** <summary>Before the derived rules.</summary> */ Insert }

/// <summary>The resolved topology: every derived value filled in, every reference bound.</summary>
public sealed record Topology(
    string Name,
    string File,
    Underlay Underlay,
    EquatableArray<NodeModel> Nodes,
    EquatableArray<NetworkModel> Networks,
    EquatableArray<ServiceModel> Services,
    EquatableArray<TaskModel> Tasks,
    EquatableArray<EndpointModel> Endpoints,
    EquatableArray<LoadBalancerModel> LoadBalancers,
    EquatableArray<SysctlModel> Sysctls,
    EquatableArray<RuleModel> Rules,
    EquatableArray<ExpectModel> Expectations,
    SourceSpan Span)
{
    /// <summary>
    /// Whether <paramref name="service"/> has a task. One without has no balancer, VIP alias or name record on any node:
    /// Docker makes them with its first task.
    /// </summary>
    public bool HasTasks(string service)
    {
        foreach (var t in Tasks)
            if (t.Service == service) return true;
        return false;
    }

    /// <summary>The names of the services that have a task (<see cref="HasTasks"/>), for many lookups.</summary>
    public HashSet<string> ServicesWithTasks()
    {
        var services = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in Tasks) services.Add(t.Service);
        return services;
    }
}

/// <summary>The physical network between hosts.</summary>
public sealed record Underlay(int Mtu, Ipv4Cidr? Subnet, int DataPathPort, SourceSpan Span);

/// <summary>A host.</summary>
public sealed record NodeModel(string Name, string Hostname, NodeRole Role, Ipv4Cidr Address, string Interface,
    EquatableArray<KeyValue> Labels, SourceSpan Span)
{
    /// <summary>
    /// When docker_gwbridge is <see cref="NetworkModel.Implicit"/>, the declaration that made Docker create it on this node: the
    /// first sandbox needing a default gateway is ingress_sbox (so the ingress network's declaration or cause), else the
    /// node's first task; a node with neither points at its own entry. <see cref="SourceSpan.None"/> when docker_gwbridge is declared.
    /// </summary>
    public SourceSpan GatewayBridgeCause { get; init; } = SourceSpan.None;
}

/// <summary>A key and a value (labels, sysctls).</summary>
public readonly record struct KeyValue(string Key, string Value);

/// <summary>A network, bridge or overlay.</summary>
public sealed record NetworkModel(string Name, NetworkDriver Driver, Ipv4Cidr Subnet, Ipv4Address Gateway, bool Icc, bool Masquerade,
    int Vni, int Mtu, bool Ingress, bool Attachable, bool Implicit, SourceSpan Span)
{
    /// <summary>Whether this is an overlay.</summary>
    public bool IsOverlay => Driver == NetworkDriver.Overlay;

    /// <summary>
    /// For an <see cref="Implicit"/> network that is the same on every node, the declaration that made Docker create it (the
    /// ingress network: the first port published in ingress mode); docker_gwbridge's is per node
    /// (<see cref="NodeModel.GatewayBridgeCause"/>). <see cref="SourceSpan.None"/> for a declared network, whose
    /// <see cref="Span"/> is its declaration. <see cref="Span"/> stays <see cref="SourceSpan.None"/> for an implicit one: it is
    /// not written anywhere.
    /// </summary>
    public SourceSpan Cause { get; init; } = SourceSpan.None;
}

/// <summary>A service.</summary>
public sealed record ServiceModel(string Name, string? Image, ServiceMode Mode, int Replicas, EquatableArray<string> Networks,
    EndpointMode EndpointMode, EquatableArray<PortModel> Ports, Scheduler Scheduler, EquatableArray<VipModel> Vips, SourceSpan Span,
    EquatableArray<ExposedPortModel> Exposed = default)
{
    /// <summary>Whether any port is published through the routing mesh.</summary>
    public bool PublishesIngress
    {
        get { foreach (var p in Ports) if (p.Mode == PublishMode.Ingress) return true; return false; }
    }
}

/// <summary>A service's virtual IP on one network.</summary>
public sealed record VipModel(string Network, Ipv4Address Address, bool Pinned, SourceSpan Span);

/// <summary>A port the service's tasks listen on without publishing it (<c>expose</c>).</summary>
public sealed record ExposedPortModel(int Port, IpProtocol Protocol, SourceSpan Span);

/// <summary>A published port.</summary>
public sealed record PortModel(int Published, int Target, IpProtocol Protocol, PublishMode Mode, SourceSpan Span);

/// <summary>A task (container) of a service, placed on a node.</summary>
public sealed record TaskModel(string Name, string Service, int Slot, string Node, int Weight, bool Pinned, SourceSpan Span);

/// <summary>An interface with an address on a network, in some namespace of some node.</summary>
public sealed record EndpointModel(string Node, string Namespace, string Interface, string Network, Ipv4Cidr Address, MacAddress Mac,
    EndpointKind Kind, string Owner, bool Pinned, SourceSpan Span);

/// <summary>One load balancer: a service on a network, on a node, with the fwmark that selects its IPVS service there.</summary>
public sealed record LoadBalancerModel(string Node, string Network, string Service, int FwMark, Ipv4Address Vip, string Namespace, SourceSpan Span);

/// <summary>A sysctl to set on every node (Node null) or on one node.</summary>
public sealed record SysctlModel(string? Node, string Key, string Value, SourceSpan Span);

/// <summary>A raw netfilter rule from <c>rules:</c>.</summary>
public sealed record RuleModel(string? Node, string Namespace, string Table, string Chain, string Rule, RulePosition Position, SourceSpan Span);

/// <summary>An <c>expect:</c> entry.</summary>
/// <param name="From">Where the traffic starts.</param>
/// <param name="To">Where it goes.</param>
/// <param name="Reaches">The service it must reach, or null when it must be blocked.</param>
/// <param name="Blocked">Whether it must be blocked.</param>
/// <param name="Span">The entry.</param>
/// <param name="FromSpan">Its <c>from:</c> value (an endpoint that cannot send is reported there).</param>
/// <param name="ToSpan">Its <c>to:</c> value (an address that names nothing is reported there).</param>
public sealed record ExpectModel(TrafficEndpoint From, TrafficEndpoint To, string? Reaches, bool Blocked, SourceSpan Span,
    SourceSpan FromSpan = default, SourceSpan ToSpan = default);
