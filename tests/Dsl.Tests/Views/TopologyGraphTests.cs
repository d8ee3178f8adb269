using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>The topology graph: its content, DOT rendered by Graphviz, Mermaid's structure, and the trace overlay.</summary>
public class TopologyGraphTests
{
    [Fact]
    public void Example_graph_has_hosts_namespaces_devices_links_and_tunnels()
    {
        var plan = ExamplePlans.Ipvs();
        var g = TopologyGraph.Build(plan);
        Assert.Equal(new[] { "manager (i-xah31y1o)", "worker (i-hqsrcwx6)" }, g.Clusters.Where(c => c.Parent is null).Select(c => c.Label));
        Assert.Contains(g.Clusters, c => c.Label == "netns ingress_sbox" && c.Parent!.Label.StartsWith("manager"));
        Assert.DoesNotContain(g.Vertices, v => v.Lines[0] == "lo");
        var tunnel = Assert.Single(g.Edges, e => e.Kind == GraphEdgeKind.Tunnel);
        Assert.Equal("VNI 4096 udp/4789", tunnel.Label);
        Assert.Equal(g.DeviceId("manager", "1-ingress", "vxlan0"), tunnel.From);
        Assert.Equal(g.DeviceId("worker", "1-ingress", "vxlan0"), tunnel.To);
        // One edge per veth pair, one per bridge port, one per NIC on the underlay plus the external client.
        var vethEnds = plan.Hosts.Sum(h => h.Namespaces.Sum(n => n.Devices.Count(d => d.Kind == SwarmDsl.Plan.DeviceKind.Veth)));
        Assert.Equal(vethEnds / 2, g.Edges.Count(e => e.Kind == GraphEdgeKind.VethPair));
        Assert.Equal(plan.Hosts.Sum(h => h.Namespaces.Sum(n => n.Devices.Count(d => d.Master is not null))), g.Edges.Count(e => e.Kind == GraphEdgeKind.BridgePort));
        Assert.Equal(plan.Hosts.Count + 1, g.Edges.Count(e => e.Kind == GraphEdgeKind.Underlay));
        Assert.Contains(g.Vertices, v => v.Kind == GraphVertexKind.External && v.Lines.Contains("10.7.191.254"));
    }

    [Fact]
    public void Dot_and_mermaid_snapshots() =>
        Snapshot.Verify(GraphWriter.Dot(TopologyGraph.Build(ExamplePlans.Ipvs())) + "\n" + GraphWriter.Mermaid(TopologyGraph.Build(ExamplePlans.Ipvs())));

    [Fact]
    public void Output_is_deterministic()
    {
        Assert.Equal(GraphWriter.Dot(TopologyGraph.Build(ExamplePlans.Ipvs())), GraphWriter.Dot(TopologyGraph.Build(ExamplePlans.Ipvs())));
        Assert.Equal(GraphWriter.Mermaid(TopologyGraph.Build(HandMadePlans.Lab())), GraphWriter.Mermaid(TopologyGraph.Build(HandMadePlans.Lab())));
    }

    [NetnsFact("dot")]
    public void Dot_renders_with_graphviz()
    {
        foreach (var plan in new[] { ExamplePlans.Ipvs(), HandMadePlans.Lab() })
        {
            var trace = new[] { new PathHop("", "external", ""), new PathHop(plan.Hosts[0].Node, "host", "eth0") };
            foreach (var dot in new[] { GraphWriter.Dot(TopologyGraph.Build(plan)), GraphWriter.Dot(TopologyGraph.Build(plan, trace)) })
            {
                var r = HostLinux.Run("dot", new[] { "-Tsvg" }, dot);
                Assert.True(r.ExitCode == 0 && r.StdErr.Length == 0, "dot rejected the graph:\n" + r.StdErr + "\n" + dot);
                Assert.Contains("<svg", r.StdOut);
                Assert.Contains("vxlan0", r.StdOut);
            }
        }
    }

    [Fact]
    public void Mermaid_is_a_well_formed_flowchart()
    {
        foreach (var plan in new[] { ExamplePlans.Ipvs(), HandMadePlans.Lab() })
        {
            var g = TopologyGraph.Build(plan, new[] { new PathHop("", "external", ""), new PathHop(plan.Hosts[0].Node, "host", "eth0") });
            var lines = GraphWriter.Mermaid(g).TrimEnd('\n').Split('\n');
            Assert.Equal("flowchart LR", lines[0]);
            var vertex = new Regex(@"^\s*(v\d+)(\(\[""[^""]*""\]\)|\[\[""[^""]*""\]\]|\{\{""[^""]*""\}\}|\(\(""[^""]*""\)\)|\[\(""[^""]*""\)\]|\[/""[^""]*""/\])$");
            var subgraph = new Regex(@"^\s*subgraph (c\d+)\[""[^""]*""\]$");
            var edge = new Regex(@"^\s*(v\d+) (---|-\.-\|[^|""]+\||===\|[^|""]+\||---\|[^|""]+\||==>\|[^|""]+\|) (v\d+)$");
            var style = new Regex(@"^\s*linkStyle \d+(,\d+)* stroke:red,stroke-width:2px$");
            int depth = 0, edges = 0;
            var declared = new System.Collections.Generic.HashSet<string>();
            foreach (var line in lines.Skip(1))
            {
                if (subgraph.IsMatch(line)) depth++;
                else if (line.Trim() == "end") { depth--; Assert.True(depth >= 0, "unbalanced end"); }
                else if (vertex.Match(line) is { Success: true } v) Assert.True(declared.Add(v.Groups[1].Value), "vertex declared twice: " + line);
                else if (edge.Match(line) is { Success: true } e)
                {
                    Assert.Contains(e.Groups[1].Value, declared);
                    Assert.Contains(e.Groups[3].Value, declared);
                    edges++;
                }
                else Assert.Matches(style, line);
            }
            Assert.Equal(0, depth);
            Assert.Equal(g.Edges.Count, edges);
            Assert.Equal(g.Vertices.Count, declared.Count);
        }
    }

    [Fact]
    public void Trace_overlay_numbers_the_hops_in_order_and_reports_unknown_ones()
    {
        var plan = ExamplePlans.Ipvs();
        var hops = new[]
        {
            new PathHop("", "external", ""),
            new PathHop("manager", "host", "eth0"),
            new PathHop("manager", "host", "docker_gwbridge"),
            new PathHop("manager", "host", "veth157550a"),
            new PathHop("manager", "ingress_sbox", "eth1"),
            new PathHop("manager", "nowhere", "eth9"),
            new PathHop("manager", "ingress_sbox", "eth0"),
        };
        var g = TopologyGraph.Build(plan, hops);
        var trace = g.Edges.Where(e => e.Kind == GraphEdgeKind.Trace).ToList();
        Assert.Equal(new[] { "1", "2", "3", "4", "5" }, trace.Select(e => e.Label));
        Assert.Equal(g.DeviceId("manager", "host", "eth0"), trace[0].To);
        Assert.Equal(g.DeviceId("manager", "ingress_sbox", "eth0"), trace[4].To);
        Assert.Equal(new[] { hops[5] }, g.UnknownHops);
        Assert.Contains("color=red", GraphWriter.Dot(g));
        Assert.Contains("linkStyle", GraphWriter.Mermaid(g));
    }

    /// <summary>
    /// A focused graph (<c>graph --node</c>) draws the asked hosts and those the packet crosses in full; every other host
    /// is one box, and each drawn VXLAN device has one tunnel to it per VNI, counting the undrawn hosts with that VNI.
    /// </summary>
    [Fact]
    public void A_focused_graph_draws_its_hosts_and_one_box_for_the_others()
    {
        var options = SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with { Name = "five", Nodes = 5, Overlays = 2, Services = 6, Tasks = 8, PublishedPorts = 2 };
        var plan = SwarmCompiler.CompileToPlan("five.swarm.yaml", SwarmDsl.Synthetic.SyntheticTopology.Generate(options)).Plan!;
        var names = plan.Hosts.Select(h => h.Node).ToList();
        var trace = new[] { new PathHop("", "external", ""), new PathHop(names[3], "host", plan.Hosts[3].UnderlayInterface) };
        var g = TopologyGraph.Build(plan, trace, new[] { names[1] });

        var drawn = new[] { names[1], names[3] };
        Assert.Equal(drawn, g.Clusters.Where(c => c.Parent is null).Select(c => c.Label.Split(' ')[0]));
        var others = Assert.Single(g.Vertices, v => v.Kind == GraphVertexKind.OtherHosts);
        Assert.Equal("3 hosts not drawn", others.Lines[0]);
        Assert.Equal(string.Join(", ", names[0], names[2], names[4]), others.Lines[1]);
        Assert.Null(g.DeviceId(names[0], "host", ""));
        Assert.Contains(g.Edges, e => e.Kind == GraphEdgeKind.Underlay && e.From == others.Id);

        // Tunnels among the drawn hosts as before; from each drawn VXLAN device, one to the box per VNI the others have.
        var vxlans = plan.Hosts.SelectMany(h => h.Namespaces.SelectMany(ns => ns.Devices.Where(d => d.Vxlan is not null).Select(d => (h.Node, Ns: ns.Name, Dev: d)))).ToList();
        foreach (var v in vxlans.Where(v => drawn.Contains(v.Node)))
        {
            var id = g.DeviceId(v.Node, v.Ns, v.Dev.Name);
            var reached = vxlans.Count(o => !drawn.Contains(o.Node) && o.Dev.Vxlan!.Vni == v.Dev.Vxlan!.Vni);
            var toOthers = g.Edges.Where(e => e.Kind == GraphEdgeKind.Tunnel && e.From == id && e.To == others.Id).ToList();
            if (reached == 0) Assert.Empty(toOthers);
            else Assert.Equal($"VNI {v.Dev.Vxlan!.Vni} udp/{v.Dev.Vxlan.DstPort} to {reached} hosts", Assert.Single(toOthers).Label);
            var peer = vxlans.Count(o => o.Node != v.Node && drawn.Contains(o.Node) && o.Dev.Vxlan!.Vni == v.Dev.Vxlan!.Vni);
            Assert.Equal(peer, g.Edges.Count(e => e.Kind == GraphEdgeKind.Tunnel && e.To != others.Id && (e.From == id || e.To == id)));
        }
        Assert.Equal(g.DeviceId(names[3], "host", plan.Hosts[3].UnderlayInterface), Assert.Single(g.Edges, e => e.Kind == GraphEdgeKind.Trace).To);
        // Every host asked: the same graph as without a focus.
        Assert.Equal(GraphWriter.Dot(TopologyGraph.Build(plan, trace)), GraphWriter.Dot(TopologyGraph.Build(plan, trace, names)));
    }
}
