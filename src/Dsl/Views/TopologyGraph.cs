using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>
/// One step of a packet's path: a device in a namespace of a node (what the Runtime's trace records). The namespace
/// <c>external</c> stands for the external client and <c>underlay</c> for the underlay segment (node and device ignored).
/// </summary>
/// <param name="Node">The node.</param>
/// <param name="Namespace">The plan namespace, <c>external</c> or <c>underlay</c>.</param>
/// <param name="Device">The device; empty for the namespace itself (drawn at its first device).</param>
public sealed record PathHop(string Node, string Namespace, string Device);

/// <summary>How a traced packet's path ended, drawn at its last hop.</summary>
/// <param name="Text">What happened, one line (e.g. the trace's disposition: <c>DROPPED (FilterDrop) in w2/host: …</c>).</param>
/// <param name="Failed">Whether the packet was not delivered (dropped, looping, or gone out of the modelled world).</param>
public sealed record PathEnd(string Text, bool Failed);

/// <summary>What a graph vertex stands for (it decides the shape).</summary>
public enum GraphVertexKind
{
    /// <summary>A veth end.</summary>
    Veth,
    /// <summary>A Linux bridge.</summary>
    Bridge,
    /// <summary>A VXLAN device.</summary>
    Vxlan,
    /// <summary>The host's underlay NIC.</summary>
    Physical,
    /// <summary>The underlay segment between the hosts.</summary>
    Underlay,
    /// <summary>The external client on the underlay.</summary>
    External,
    /// <summary>The hosts a focused graph does not draw, as one box on the underlay (their tunnels end there).</summary>
    OtherHosts,
    /// <summary>Where a traced packet was delivered (a note beside its last hop).</summary>
    Delivered,
    /// <summary>Where a traced packet was not delivered: dropped, looping, or gone out of the modelled world (a note beside its last hop).</summary>
    Lost,
}

/// <summary>What a graph edge stands for (it decides the style).</summary>
public enum GraphEdgeKind
{
    /// <summary>A veth pair.</summary>
    VethPair,
    /// <summary>A device enslaved to a bridge.</summary>
    BridgePort,
    /// <summary>A VXLAN tunnel between two hosts' VXLAN devices.</summary>
    Tunnel,
    /// <summary>A NIC (or the external client) on the underlay segment.</summary>
    Underlay,
    /// <summary>One step of a traced packet's path, numbered from 1.</summary>
    Trace,
    /// <summary>From a traced packet's last hop to the note that says how its path ended.</summary>
    End,
}

/// <summary>A vertex: a device, the underlay or the external client.</summary>
/// <param name="Id">A stable identifier safe in DOT and Mermaid (<c>v1</c>, <c>v2</c>, ...).</param>
/// <param name="Kind">What it is.</param>
/// <param name="Lines">The label, one entry per line (name first, then addresses).</param>
/// <param name="Cluster">The namespace cluster it sits in, or null at top level.</param>
public sealed record GraphVertex(string Id, GraphVertexKind Kind, IReadOnlyList<string> Lines, GraphCluster? Cluster);

/// <summary>A cluster: a host, or a namespace inside a host.</summary>
/// <param name="Id">A stable identifier (<c>c1</c>, ...).</param>
/// <param name="Label">Its label.</param>
/// <param name="Parent">The host cluster of a namespace cluster; null for a host.</param>
public sealed record GraphCluster(string Id, string Label, GraphCluster? Parent);

/// <summary>An edge.</summary>
/// <param name="From">Source vertex id.</param>
/// <param name="To">Target vertex id.</param>
/// <param name="Kind">What it stands for.</param>
/// <param name="Label">Its label, or empty.</param>
public sealed record GraphEdge(string From, string To, GraphEdgeKind Kind, string Label);

/// <summary>
/// The topology as a graph: hosts (clusters) holding namespaces (sub-clusters) holding devices; veth pairs, bridge ports,
/// VXLAN tunnels between hosts (labelled with VNI and UDP port), the underlay segment and the external client; optionally
/// a traced packet's path drawn over it as numbered edges. Loopback devices are left out. Built in plan order, so the
/// output is deterministic; <see cref="GraphWriter"/> renders it as Graphviz DOT or a Mermaid flowchart.
/// </summary>
public sealed class TopologyGraph
{
    private readonly List<GraphCluster> _clusters = new();
    private readonly List<GraphVertex> _vertices = new();
    private readonly List<GraphEdge> _edges = new();
    private readonly Dictionary<(string Node, string Ns, string Dev), string> _deviceIds = new();

    private TopologyGraph(string title) => Title = title;

    /// <summary>The topology's name.</summary>
    public string Title { get; }

    /// <summary>Clusters, hosts before their namespaces, in plan order.</summary>
    public IReadOnlyList<GraphCluster> Clusters => _clusters;

    /// <summary>Vertices in plan order.</summary>
    public IReadOnlyList<GraphVertex> Vertices => _vertices;

    /// <summary>Edges: pairs and ports in plan order, then tunnels, the underlay, and the trace.</summary>
    public IReadOnlyList<GraphEdge> Edges => _edges;

    /// <summary>Hops of the trace that name no device of the plan (they are not drawn).</summary>
    public IReadOnlyList<PathHop> UnknownHops { get; private set; } = Array.Empty<PathHop>();

    /// <summary>The vertex id of a device (an empty <paramref name="device"/>: the first drawn device of the namespace), or null.</summary>
    public string? DeviceId(string node, string ns, string device) => _deviceIds.TryGetValue((node, ns, device), out var id) ? id : null;

    /// <summary>Builds the graph of <paramref name="plan"/>, with <paramref name="trace"/> (a packet's hops in order) drawn over it.</summary>
    public static TopologyGraph Build(DataplanePlan plan, IReadOnlyList<PathHop>? trace = null) => Build(plan, trace, null);

    /// <summary>
    /// Builds the graph of <paramref name="plan"/> drawing only the hosts in <paramref name="nodes"/> (null: every host) and
    /// those <paramref name="trace"/> crosses. The others are one <see cref="GraphVertexKind.OtherHosts"/> box on the
    /// underlay, where each drawn VXLAN device has one tunnel edge per VNI, labelled with how many of them it reaches: a
    /// 100-host graph in full is a mesh of thousands of tunnels that Graphviz cannot lay out readably.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="trace">A packet's hops in order, or null.</param>
    /// <param name="nodes">The node names to draw (unknown names are ignored), or null for all.</param>
    public static TopologyGraph Build(DataplanePlan plan, IReadOnlyList<PathHop>? trace, IReadOnlyCollection<string>? nodes)
        => Build(plan, trace, nodes, null);

    /// <summary>
    /// As <see cref="Build(DataplanePlan, IReadOnlyList{PathHop}?, IReadOnlyCollection{string}?)"/>, with how the path ended
    /// drawn as a note beside its last hop: a packet dropped where it entered a host looked, without it, like one that went
    /// on along a path the picture did not show.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="trace">A packet's hops in order, or null.</param>
    /// <param name="nodes">The node names to draw (unknown names are ignored), or null for all.</param>
    /// <param name="end">How the path ended, or null (nothing drawn for it; nothing either without a trace).</param>
    public static TopologyGraph Build(DataplanePlan plan, IReadOnlyList<PathHop>? trace, IReadOnlyCollection<string>? nodes, PathEnd? end)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        var g = new TopologyGraph(plan.Topology);
        var underlay = g.AddVertex(GraphVertexKind.Underlay, new[] { "underlay", plan.Underlay.Subnet.ToString(), "mtu " + Num(plan.Underlay.Mtu) }, null);
        var external = g.AddVertex(GraphVertexKind.External, new[] { "external client", plan.Underlay.ExternalClient.ToString() }, null);
        HashSet<string>? drawn = null;
        if (nodes is not null)
        {
            drawn = new HashSet<string>(nodes, StringComparer.Ordinal);
            // The packet's hosts are drawn whatever was asked: a path into an undrawn host would lose its hops.
            if (trace is not null)
                foreach (var hop in trace)
                    if (hop.Namespace is not ("external" or "underlay")) drawn.Add(hop.Node);
        }
        bool Drawn(HostPlan h) => drawn is null || drawn.Contains(h.Node);
        var others = plan.Hosts.Where(h => !Drawn(h)).ToList();
        string? otherHosts = null;
        if (others.Count > 0)
        {
            otherHosts = g.AddVertex(GraphVertexKind.OtherHosts, new[]
            {
                others.Count == 1 ? "1 host not drawn" : Num(others.Count) + " hosts not drawn",
                others.Count <= 3 ? string.Join(", ", others.Select(h => h.Node)) : others[0].Node + " … " + others[others.Count - 1].Node,
            }, null);
        }

        foreach (var host in plan.Hosts)
        {
            if (!Drawn(host)) continue;
            var hostCluster = g.AddCluster(host.Node + " (" + host.Hostname + ")", null);
            foreach (var ns in host.Namespaces)
            {
                var nsCluster = g.AddCluster(ns.Name == "host" ? "host namespace" : "netns " + ns.Name, hostCluster);
                foreach (var dev in ns.Devices)
                {
                    if (dev.Kind == DeviceKind.Loopback) continue;
                    var lines = new List<string> { dev.Name };
                    lines.AddRange(ns.Addresses.Where(a => a.Device == dev.Name).Select(a => a.Address.ToString()));
                    if (dev.Kind == DeviceKind.Vxlan && dev.Vxlan is { } vx) lines.Add("vni " + Num(vx.Vni));
                    var id = g.AddVertex(Kind(dev.Kind), lines, nsCluster);
                    g._deviceIds[(host.Node, ns.Name, dev.Name)] = id;
                    if (!g._deviceIds.ContainsKey((host.Node, ns.Name, ""))) g._deviceIds[(host.Node, ns.Name, "")] = id;
                }
            }
            foreach (var ns in host.Namespaces)
            {
                foreach (var dev in ns.Devices)
                {
                    var id = g.DeviceId(host.Node, ns.Name, dev.Name);
                    if (id is null) continue;
                    if (dev.Master is { } master && g.DeviceId(host.Node, ns.Name, master) is { } bridge)
                        g._edges.Add(new GraphEdge(id, bridge, GraphEdgeKind.BridgePort, ""));
                    if (dev.Kind == DeviceKind.Veth && dev.Peer is { CreatesPair: true } peer && g.DeviceId(host.Node, peer.Namespace, peer.Device) is { } other)
                        g._edges.Add(new GraphEdge(id, other, GraphEdgeKind.VethPair, "veth"));
                    if (dev.Kind == DeviceKind.Physical)
                        g._edges.Add(new GraphEdge(id, underlay, GraphEdgeKind.Underlay, host.UnderlayAddress.ToString()));
                }
            }
        }

        // A tunnel joins the VXLAN devices of one VNI on every two hosts; its packets cross the underlay between the hosts' addresses.
        var vxlans = plan.Hosts.SelectMany(h => h.Namespaces.SelectMany(ns => ns.Devices
                .Where(d => d.Kind == DeviceKind.Vxlan && d.Vxlan is not null)
                .Select(d => (Host: h, Ns: ns, Dev: d))))
            .ToList();
        for (int i = 0; i < vxlans.Count; i++)
        {
            var a = vxlans[i];
            if (!Drawn(a.Host)) continue;
            for (int j = i + 1; j < vxlans.Count; j++)
            {
                var b = vxlans[j];
                if (!Drawn(b.Host) || a.Host.Node == b.Host.Node || a.Dev.Vxlan!.Vni != b.Dev.Vxlan!.Vni) continue;
                g._edges.Add(new GraphEdge(g.DeviceId(a.Host.Node, a.Ns.Name, a.Dev.Name)!, g.DeviceId(b.Host.Node, b.Ns.Name, b.Dev.Name)!,
                    GraphEdgeKind.Tunnel, "VNI " + Num(a.Dev.Vxlan.Vni) + " udp/" + Num(a.Dev.Vxlan.DstPort)));
            }
        }
        if (otherHosts is not null)
        {
            // Each drawn VXLAN device's tunnels to the hosts not drawn: one edge, with how many hosts have its VNI.
            var undrawnByVni = new Dictionary<int, HashSet<string>>();
            foreach (var v in vxlans)
            {
                if (Drawn(v.Host)) continue;
                if (!undrawnByVni.TryGetValue(v.Dev.Vxlan!.Vni, out var set)) undrawnByVni[v.Dev.Vxlan.Vni] = set = new HashSet<string>(StringComparer.Ordinal);
                set.Add(v.Host.Node);
            }
            foreach (var v in vxlans)
            {
                if (!Drawn(v.Host) || !undrawnByVni.TryGetValue(v.Dev.Vxlan!.Vni, out var reached)) continue;
                g._edges.Add(new GraphEdge(g.DeviceId(v.Host.Node, v.Ns.Name, v.Dev.Name)!, otherHosts, GraphEdgeKind.Tunnel,
                    "VNI " + Num(v.Dev.Vxlan.Vni) + " udp/" + Num(v.Dev.Vxlan.DstPort) + " to " + Num(reached.Count) + (reached.Count == 1 ? " host" : " hosts")));
            }
            g._edges.Add(new GraphEdge(otherHosts, underlay, GraphEdgeKind.Underlay, ""));
        }
        g._edges.Add(new GraphEdge(external, underlay, GraphEdgeKind.Underlay, plan.Underlay.ExternalClient.ToString()));

        if (trace is not null)
        {
            var unknown = new List<PathHop>();
            string? previous = null;
            int step = 0;
            foreach (var hop in trace)
            {
                var id = hop.Namespace switch
                {
                    "external" => external,
                    "underlay" => underlay,
                    _ => g.DeviceId(hop.Node, hop.Namespace, hop.Device),
                };
                if (id is null)
                {
                    unknown.Add(hop);
                    continue;
                }
                if (previous is not null && previous != id)
                    g._edges.Add(new GraphEdge(previous, id, GraphEdgeKind.Trace, Num(++step)));
                previous = id;
            }
            // A packet that never left one vertex (delivered or dropped where it was sent) is a loop there, so the
            // overlay still shows where it was: without it the picture looked as if no trace had been asked for.
            // Its namespace stands for it when the vertex is not drawn (sent to itself over lo, or dropped before leaving).
            previous ??= trace.Select(h => g.DeviceId(h.Node, h.Namespace, "")).FirstOrDefault(id => id is not null);
            if (step == 0 && previous is not null) g._edges.Add(new GraphEdge(previous, previous, GraphEdgeKind.Trace, Num(1)));
            if (end is not null && previous is not null)
            {
                // In the last hop's namespace, so that the layout puts it beside that hop.
                var at = g._vertices.First(v => v.Id == previous).Cluster;
                var note = g.AddVertex(end.Failed ? GraphVertexKind.Lost : GraphVertexKind.Delivered, new[] { end.Text }, at);
                g._edges.Add(new GraphEdge(previous, note, GraphEdgeKind.End, ""));
            }
            g.UnknownHops = unknown;
        }
        return g;
    }

    private static GraphVertexKind Kind(DeviceKind k) => k switch
    {
        DeviceKind.Bridge => GraphVertexKind.Bridge,
        DeviceKind.Vxlan => GraphVertexKind.Vxlan,
        DeviceKind.Physical => GraphVertexKind.Physical,
        _ => GraphVertexKind.Veth,
    };

    private GraphCluster AddCluster(string label, GraphCluster? parent)
    {
        var c = new GraphCluster("c" + Num(_clusters.Count + 1), label, parent);
        _clusters.Add(c);
        return c;
    }

    private string AddVertex(GraphVertexKind kind, IReadOnlyList<string> lines, GraphCluster? cluster)
    {
        var id = "v" + Num(_vertices.Count + 1);
        _vertices.Add(new GraphVertex(id, kind, lines, cluster));
        return id;
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);
}
