using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Text;

namespace SwarmDsl.Semantics;

/// <summary>A value together with the place it was written.</summary>
public readonly record struct Located<T>(T Value, SourceSpan Span);

// Declarations are what the user wrote, before anything is derived. Both front ends (YAML and C# attributes)
// produce them, so both forms go through the same analysis and give the same model.

/// <summary>A topology as declared.</summary>
public sealed class TopologyDeclaration
{
    /// <summary>The file (or C# source) it came from.</summary>
    public string File { get; set; } = "";
    /// <summary>The whole declaration.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>version</c>.</summary>
    public Located<int>? Version { get; set; }
    /// <summary><c>name</c>.</summary>
    public Located<string>? Name { get; set; }
    /// <summary><c>underlay</c>.</summary>
    public UnderlayDeclaration Underlay { get; set; } = new();
    /// <summary><c>nodes</c>.</summary>
    public List<NodeDeclaration> Nodes { get; } = new();
    /// <summary><c>networks</c>.</summary>
    public List<NetworkDeclaration> Networks { get; } = new();
    /// <summary><c>services</c>.</summary>
    public List<ServiceDeclaration> Services { get; } = new();
    /// <summary><c>tuning.sysctls</c> and <c>nodes.*.sysctls</c>.</summary>
    public List<SysctlDeclaration> Sysctls { get; } = new();
    /// <summary><c>rules</c>.</summary>
    public List<RuleDeclaration> Rules { get; } = new();
    /// <summary><c>expect</c>.</summary>
    public List<ExpectDeclaration> Expectations { get; } = new();
}

/// <summary><c>underlay</c>.</summary>
public sealed class UnderlayDeclaration
{
    /// <summary>Where it is written.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>mtu</c>.</summary>
    public Located<int>? Mtu { get; set; }
    /// <summary><c>subnet</c>.</summary>
    public Located<Ipv4Cidr>? Subnet { get; set; }
    /// <summary><c>dataPathPort</c>.</summary>
    public Located<int>? DataPathPort { get; set; }
}

/// <summary><c>nodes.&lt;name&gt;</c>.</summary>
public sealed class NodeDeclaration
{
    /// <summary>The name (the mapping key).</summary>
    public Located<string> Name { get; set; }
    /// <summary><c>hostname</c>.</summary>
    public Located<string>? Hostname { get; set; }
    /// <summary><c>role</c>.</summary>
    public Located<NodeRole>? Role { get; set; }
    /// <summary><c>address</c>.</summary>
    public Located<Ipv4Cidr>? Address { get; set; }
    /// <summary><c>interface</c>.</summary>
    public Located<string>? Interface { get; set; }
    /// <summary><c>labels</c>.</summary>
    public List<(Located<string> Key, Located<string> Value)> Labels { get; } = new();
}

/// <summary><c>networks.&lt;name&gt;</c>.</summary>
public sealed class NetworkDeclaration
{
    /// <summary>The name.</summary>
    public Located<string> Name { get; set; }
    /// <summary><c>driver</c>.</summary>
    public Located<NetworkDriver>? Driver { get; set; }
    /// <summary><c>subnet</c>.</summary>
    public Located<Ipv4Cidr>? Subnet { get; set; }
    /// <summary><c>gateway</c>.</summary>
    public Located<Ipv4Address>? Gateway { get; set; }
    /// <summary><c>icc</c> (bridge).</summary>
    public Located<bool>? Icc { get; set; }
    /// <summary><c>masquerade</c> (bridge).</summary>
    public Located<bool>? Masquerade { get; set; }
    /// <summary><c>vni</c> (overlay).</summary>
    public Located<int>? Vni { get; set; }
    /// <summary><c>mtu</c> (overlay).</summary>
    public Located<int>? Mtu { get; set; }
    /// <summary><c>ingress</c> (overlay).</summary>
    public Located<bool>? Ingress { get; set; }
    /// <summary><c>attachable</c> (overlay).</summary>
    public Located<bool>? Attachable { get; set; }
    /// <summary><c>loadBalancerAddresses</c> (overlay): node → address.</summary>
    public List<(Located<string> Node, Located<Ipv4Address> Address)> LoadBalancerAddresses { get; } = new();
}

/// <summary><c>services.&lt;name&gt;</c>.</summary>
public sealed class ServiceDeclaration
{
    /// <summary>The name.</summary>
    public Located<string> Name { get; set; }
    /// <summary><c>image</c>.</summary>
    public Located<string>? Image { get; set; }
    /// <summary><c>replicas</c>.</summary>
    public Located<int>? Replicas { get; set; }
    /// <summary><c>mode</c>.</summary>
    public Located<ServiceMode>? Mode { get; set; }
    /// <summary><c>networks</c>.</summary>
    public List<Located<string>> Networks { get; } = new();
    /// <summary>Where <c>networks</c> is written (null when missing).</summary>
    public SourceSpan? NetworksSpan { get; set; }
    /// <summary><c>vip</c> as one address (the first network's VIP).</summary>
    public Located<Ipv4Address>? Vip { get; set; }
    /// <summary><c>vip</c> as a mapping network → address.</summary>
    public List<(Located<string> Network, Located<Ipv4Address> Address)> Vips { get; } = new();
    /// <summary><c>endpointMode</c>.</summary>
    public Located<EndpointMode>? EndpointMode { get; set; }
    /// <summary><c>ports</c>.</summary>
    public List<PortDeclaration> Ports { get; } = new();
    /// <summary><c>loadBalancing.scheduler</c>.</summary>
    public Located<Scheduler>? Scheduler { get; set; }
    /// <summary><c>tasks</c>.</summary>
    public List<TaskDeclaration> Tasks { get; } = new();
    /// <summary>Where <c>tasks</c> is written.</summary>
    public SourceSpan? TasksSpan { get; set; }
    /// <summary><c>placement.nodes</c>.</summary>
    public List<Located<string>> PlacementNodes { get; } = new();
    /// <summary><c>expose</c>: ports the tasks listen on without publishing them.</summary>
    public List<ExposeDeclaration> Expose { get; } = new();
}

/// <summary>One <c>expose</c> item: <c>5432</c> or <c>"53/udp"</c>.</summary>
public sealed class ExposeDeclaration
{
    /// <summary>The item.</summary>
    public SourceSpan Span { get; set; }
    /// <summary>The port.</summary>
    public int Port { get; set; }
    /// <summary>The protocol (tcp when not written).</summary>
    public IpProtocol Protocol { get; set; }
}

/// <summary><c>ports[]</c>.</summary>
public sealed class PortDeclaration
{
    /// <summary>The entry.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>published</c>.</summary>
    public Located<int>? Published { get; set; }
    /// <summary><c>target</c>.</summary>
    public Located<int>? Target { get; set; }
    /// <summary><c>protocol</c>.</summary>
    public Located<IpProtocol>? Protocol { get; set; }
    /// <summary><c>mode</c>.</summary>
    public Located<PublishMode>? Mode { get; set; }
}

/// <summary><c>tasks[]</c>.</summary>
public sealed class TaskDeclaration
{
    /// <summary>The entry.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>node</c>.</summary>
    public Located<string>? Node { get; set; }
    /// <summary><c>address</c> (on the service's first network).</summary>
    public Located<Ipv4Address>? Address { get; set; }
    /// <summary><c>weight</c>.</summary>
    public Located<int>? Weight { get; set; }
    /// <summary><c>name</c>.</summary>
    public Located<string>? Name { get; set; }
}

/// <summary>A sysctl.</summary>
public sealed class SysctlDeclaration
{
    /// <summary>The node, or null for every node.</summary>
    public string? Node { get; set; }
    /// <summary>The key.</summary>
    public Located<string> Key { get; set; }
    /// <summary>The value.</summary>
    public Located<string> Value { get; set; }
}

/// <summary><c>rules[]</c>.</summary>
public sealed class RuleDeclaration
{
    /// <summary>The entry.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>node</c>.</summary>
    public Located<string>? Node { get; set; }
    /// <summary><c>namespace</c>.</summary>
    public Located<string>? Namespace { get; set; }
    /// <summary><c>table</c>.</summary>
    public Located<string>? Table { get; set; }
    /// <summary><c>chain</c>.</summary>
    public Located<string>? Chain { get; set; }
    /// <summary><c>rule</c>.</summary>
    public Located<string>? Rule { get; set; }
    /// <summary><c>position</c>.</summary>
    public Located<RulePosition>? Position { get; set; }
}

/// <summary><c>expect[]</c>.</summary>
public sealed class ExpectDeclaration
{
    /// <summary>The entry.</summary>
    public SourceSpan Span { get; set; }
    /// <summary><c>from</c>.</summary>
    public Located<string>? From { get; set; }
    /// <summary><c>to</c>.</summary>
    public Located<string>? To { get; set; }
    /// <summary><c>reaches</c>.</summary>
    public Located<string>? Reaches { get; set; }
    /// <summary><c>blocked</c>.</summary>
    public Located<bool>? Blocked { get; set; }
}
