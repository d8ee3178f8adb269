using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl graph</c> end to end.</summary>
public class GraphCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void Dot_is_the_default_and_mermaid_is_available()
    {
        var dot = Run("graph", Paths.Example);
        Assert.Equal(0, dot.Exit);
        Assert.StartsWith("graph \"two-node\" {\n", dot.Out);
        Assert.Contains("label=\"VNI 4096 udp/4789\"", dot.Out);
        var mermaid = Run("graph", Paths.Example, "--format", "mermaid");
        Assert.Equal(0, mermaid.Exit);
        Assert.StartsWith("flowchart LR\n", mermaid.Out);
        Assert.Contains("-.-|VNI 4096 udp/4789|", mermaid.Out);
    }

    [Fact]
    public void Bad_format_is_a_usage_error()
    {
        var (exit, _, err) = Run("graph", Paths.Example, "--format", "svg");
        Assert.Equal(2, exit);
        Assert.StartsWith("swarmdsl: error: --format must be dot or mermaid", err);
    }

    [Fact]
    public void Trace_needs_both_ends()
    {
        Assert.Equal(2, Run("graph", Paths.Example, "--trace-from", "external").Exit);
    }

    [Fact]
    public void Trace_overlay_draws_the_packets_path_numbered()
    {
        var (exit, output, err) = Run("graph", Paths.Example, "--trace-from", "external", "--trace-to", "worker:8080/tcp");
        Assert.Equal(0, exit);
        Assert.Equal("", err);
        // Vertex 2 is the external client, 1 the underlay: the path starts there and is numbered from 1.
        Assert.Contains("  v2 -- v1 [color=red, penwidth=2, dir=forward, constraint=false, label=\"1\", fontcolor=red];\n", output);
        var steps = System.Text.RegularExpressions.Regex.Matches(output, "color=red, penwidth=2").Count;
        Assert.True(steps >= 10, "expected a path across both hosts, got " + steps + " steps");
        Assert.Contains("label=\"" + steps + "\"", output);
        var mermaid = Run("graph", Paths.Example, "--format", "mermaid", "--trace-from", "external", "--trace-to", "worker:8080/tcp");
        Assert.Contains("  v2 ==>|1| v1\n", mermaid.Out);
        Assert.Contains("linkStyle ", mermaid.Out);
    }

    [Fact]
    public void Unknown_trace_endpoint_is_a_usage_error()
    {
        var (exit, output, err) = Run("graph", Paths.Example, "--trace-from", "external", "--trace-to", "nosuchthing");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.StartsWith("swarmdsl: error: ", err);
    }

    /// <summary>
    /// A topology that is not in the repository: a synthetic 3-node cluster with three overlays besides ingress, written to a
    /// temporary file; its graph plain, with a trace from outside across hosts, and as Mermaid with the same trace.
    /// </summary>
    private static (string Plain, string Traced, string Mermaid) ThreeNodeGraphs()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-graph-");
        try
        {
            var file = Path.Combine(dir.FullName, "tri.swarm.yaml");
            File.WriteAllText(file, SwarmDsl.Synthetic.SyntheticTopology.Generate(SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with
            {
                Name = "tri", Nodes = 3, Overlays = 3, Services = 6, Tasks = 9, PublishedPorts = 4,
            }));
            var plain = Run("graph", file);
            Assert.Equal((0, ""), (plain.Exit, plain.Err));
            var traced = Run("graph", file, "--trace-from", "external", "--trace-to", "node-002:10000/tcp");
            Assert.Equal((0, ""), (traced.Exit, traced.Err));
            var mermaid = Run("graph", file, "--format", "mermaid", "--trace-from", "external", "--trace-to", "node-002:10000/tcp");
            Assert.Equal((0, ""), (mermaid.Exit, mermaid.Err));
            return (plain.Out, traced.Out, mermaid.Out);
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void A_three_node_multi_overlay_topology_from_outside_the_repository_graphs_in_both_formats()
    {
        var (plain, traced, mermaid) = ThreeNodeGraphs();
        foreach (var overlay in new[] { "net-001", "net-002", "net-003" }) Assert.Contains("netns 1-" + overlay, plain);
        Assert.Contains("label=\"1\", fontcolor=red", traced);
        Assert.StartsWith("flowchart LR\n", mermaid);
        Assert.Contains("==>|1|", mermaid);
        Assert.Contains("linkStyle ", mermaid);
    }

    [NetnsFact("dot")]
    public void A_three_node_multi_overlay_topology_renders_with_graphviz_with_and_without_a_trace()
    {
        var (plain, traced, _) = ThreeNodeGraphs();
        foreach (var dot in new[] { plain, traced })
        {
            var r = HostLinux.Run("dot", new[] { "-Tsvg" }, dot);
            Assert.True(r.ExitCode == 0 && r.StdErr.Length == 0, "dot rejected the graph:\n" + r.StdErr);
            Assert.Contains("<svg", r.StdOut);
        }
    }

    private static (int Exit, string Dot, string Mermaid) DroppedGraphs()
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("swarmdsl-graph-").FullName;
        try
        {
            var path = System.IO.Path.Combine(dir, "dropped.swarm.yaml");
            System.IO.File.WriteAllText(path, System.IO.File.ReadAllText(Paths.Example)
                + "\nrules:\n  - { node: worker, chain: DOCKER-USER, rule: \"-p tcp --dport 8080 -j DROP\" }\n");
            var (exit, dot, _) = Run("graph", path, "--trace-from", "external", "--trace-to", "worker:8080/tcp");
            var (_, mermaid, _) = Run("graph", path, "--trace-from", "external", "--trace-to", "worker:8080/tcp", "--format", "mermaid");
            return (exit, dot, mermaid);
        }
        finally { System.IO.Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// A packet dropped on its way ends in a red note beside its last hop that says where and why (a tester's find: the
    /// picture of a packet dropped in the worker's FORWARD chain showed two red edges and nothing else); a delivered one
    /// ends in a green note.
    /// </summary>
    [Fact]
    public void A_traced_path_ends_in_a_note_that_says_how_it_ended()
    {
        var (exit, dot, mermaid) = DroppedGraphs();
        Assert.Equal(0, exit);
        var note = dot.Split('\n').Single(l => l.Contains("shape=note", System.StringComparison.Ordinal)).Trim();
        Assert.Contains("label=\"DROPPED (FilterDrop) in worker/host: ", note, System.StringComparison.Ordinal);
        Assert.Contains("fillcolor=mistyrose, color=red", note, System.StringComparison.Ordinal);
        var id = note.Split(' ')[0];
        Assert.Contains(dot.Split('\n'), l => l.EndsWith(" -- " + id + " [style=dotted, color=red, dir=forward];", System.StringComparison.Ordinal));
        Assert.Contains(" -.-> " + id + "\n", mermaid, System.StringComparison.Ordinal);
        Assert.Contains("  " + id + ">\"DROPPED (FilterDrop) in worker/host: ", mermaid, System.StringComparison.Ordinal);
        Assert.Contains("  style " + id + " fill:#ffe4e1,stroke:red,color:red\n", mermaid, System.StringComparison.Ordinal);
        var (_, delivered, _) = Run("graph", Paths.Example, "--trace-from", "external", "--trace-to", "manager:8080/tcp");
        Assert.Contains(delivered.Split('\n'), l => l.Contains("[label=\"DELIVERED to web.", System.StringComparison.Ordinal)
            && l.Contains("shape=note, style=filled, fillcolor=honeydew", System.StringComparison.Ordinal));
        // A packet that left the modelled world reached nothing either: red, not green (a reviewer's find).
        var (_, exited, _) = Run("graph", Paths.Example, "--trace-from", "external", "--trace-to", "10.7.191.99:80/tcp");
        Assert.Contains(exited.Split('\n'), l => l.Contains("[label=\"EXITED from ", System.StringComparison.Ordinal)
            && l.Contains("fillcolor=mistyrose", System.StringComparison.Ordinal));
        // Without a trace there is nothing to end.
        Assert.DoesNotContain("shape=note", Run("graph", Paths.Example).Out, System.StringComparison.Ordinal);
    }

    [NetnsFact("dot")]
    public void A_path_ending_in_a_note_renders_with_graphviz()
    {
        var r = HostLinux.Run("dot", new[] { "-Tsvg" }, DroppedGraphs().Dot);
        Assert.True(r.ExitCode == 0 && r.StdErr.Length == 0, "dot rejected the graph:\n" + r.StdErr);
        Assert.Contains("DROPPED (FilterDrop) in worker/host", r.StdOut, System.StringComparison.Ordinal);
    }

    /// <summary>
    /// A trace that ends at the external client draws its last edge into the client's vertex and warns of nothing (the
    /// client's own hop was reported as a device the graph does not show); a hint names --trace-to, not trace's --to.
    /// </summary>
    [Fact]
    public void A_trace_to_the_external_client_ends_at_its_vertex_without_a_warning()
    {
        var (exit, stdout, stderr) = Run("graph", Paths.Example, "--trace-from", "web", "--trace-to", "external");
        Assert.Equal((0, ""), (exit, stderr));
        var client = stdout.Split('\n').Single(l => l.Contains("label=\"external client", System.StringComparison.Ordinal)).Trim().Split(' ')[0];
        Assert.Contains(stdout.Split('\n'), l => l.Contains(" -- " + client + " [color=red", System.StringComparison.Ordinal));
    }

    /// <summary>
    /// A packet that never leaves where it is sent from (the client to itself, a node to itself over lo, a task dropping
    /// what it sends to itself) is a loop at that vertex, with a note saying how it ended; before, nothing was drawn and
    /// nothing said, as if no trace had been asked for.
    /// </summary>
    [Theory]
    [InlineData("external", "external", "external client", "DELIVERED to external/client-10.7.191.254")]
    [InlineData("manager", "manager", "eth0\\n10.7.191.10/24", "DELIVERED to manager/host")]
    [InlineData("web", "web", "eth0\\n10.255.0.5/16", "DROPPED (FilterDrop) in manager/web.1")]
    public void A_packet_that_stays_where_it_was_sent_is_a_loop_there(string from, string to, string vertexLabel, string ending)
    {
        foreach (var format in new[] { "dot", "mermaid" })
        {
            var (exit, stdout, stderr) = Run("graph", Paths.Example, "--format", format, "--trace-from", from, "--trace-to", to);
            Assert.Equal(0, exit);
            Assert.Contains("swarmdsl: note: the packet did not leave where it was sent from (drawn as a loop there): " + ending, stderr);
            var lines = stdout.Split('\n');
            var vertex = format == "dot"
                ? lines.Single(l => l.Contains("[label=\"" + vertexLabel, System.StringComparison.Ordinal)).Trim().Split(' ')[0]
                : lines.Single(l => l.Contains(vertexLabel.Replace("\\n", "<br/>"), System.StringComparison.Ordinal)).Trim().Split('[', '(')[0];
            var trace = lines.Where(l => format == "dot" ? l.Contains("color=red, penwidth=2", System.StringComparison.Ordinal) : l.Contains("==>", System.StringComparison.Ordinal)).ToList();
            Assert.StartsWith(format == "dot" ? vertex + " -- " + vertex + " [color=red" : vertex + " ==>|1| " + vertex + "\n",
                Assert.Single(trace).Trim() + "\n");
        }
    }

    private static readonly string[] ReadmeTrace = { "--trace-from", "external", "--trace-to", "manager:8080/tcp" };

    /// <summary>The README's Mermaid picture of the example is what <c>graph --format mermaid</c> draws today, and it shows the SVG.</summary>
    [Fact]
    public void The_readmes_mermaid_picture_is_the_examples_graph()
    {
        var readme = File.ReadAllText(Path.Combine(Paths.Root, "README.md")).Replace("\r\n", "\n");
        const string open = "```mermaid\n";
        int start = readme.IndexOf(open, System.StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no mermaid block");
        start += open.Length;
        int end = readme.IndexOf("```", start, System.StringComparison.Ordinal);
        var mermaid = Run(new[] { "graph", Paths.Example, "--format", "mermaid" }.Concat(ReadmeTrace).ToArray());
        Assert.Equal((0, ""), (mermaid.Exit, mermaid.Err));
        Assert.Equal(mermaid.Out, readme.Substring(start, end - start));
        Assert.Contains("](docs/two-node.svg)", readme);
    }

    /// <summary>
    /// docs/two-node.svg, which the README shows, is Graphviz's drawing of what <c>graph</c> draws today: the same labels
    /// (text), whatever Graphviz version drew it (layout coordinates differ between versions).
    /// </summary>
    [NetnsFact("dot")]
    public void The_readmes_svg_picture_is_the_examples_graph()
    {
        var dot = Run(new[] { "graph", Paths.Example }.Concat(ReadmeTrace).ToArray());
        Assert.Equal((0, ""), (dot.Exit, dot.Err));
        var r = HostLinux.Run("dot", new[] { "-Tsvg" }, dot.Out);
        Assert.True(r.ExitCode == 0, "dot rejected the graph:\n" + r.StdErr);
        var committed = File.ReadAllText(Path.Combine(Paths.Root, "docs", "two-node.svg"));
        Assert.Equal(Texts(r.StdOut), Texts(committed));
        Assert.Contains("16", Texts(committed)); // the trace's last numbered edge
    }

    private static List<string> Texts(string svg) =>
        Regex.Matches(svg, "<text[^>]*>([^<]*)</text>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value))
            .OrderBy(t => t, System.StringComparer.Ordinal).ToList();

    [Fact]
    public void Node_focus_names_must_be_nodes()
    {
        var (exit, output, err) = Run("graph", Paths.Example, "--node", "manager", "--node", "nosuch");
        Assert.Equal((2, ""), (exit, output));
        Assert.StartsWith("swarmdsl: error: --node: no node 'nosuch' in two-node (nodes: manager, worker)", err);
    }

    /// <summary>
    /// A 14-node topology (not in the repository): drawn whole, the command says how to focus it; focused on one node with a
    /// trace into another, both are drawn and the other twelve are one box.
    /// </summary>
    [Fact]
    public void A_large_topology_can_be_drawn_one_node_at_a_time()
    {
        var (whole, focused) = WideGraphs();
        Assert.Equal(0, whole.Exit);
        Assert.Equal("swarmdsl: note: all 14 hosts are drawn, with a tunnel between every two of them per overlay; --node NAME draws only some\n", whole.Err);
        Assert.Equal((0, ""), (focused.Exit, focused.Err));
        // node-001 as asked, node-014 and the node of the task the routing mesh picked as the packet crosses them.
        var drawn = Regex.Matches(focused.Out, "label=\"(node-[0-9]+) \\(").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, drawn.Count);
        Assert.Equal(new[] { "node-001", "node-014" }, drawn.Where(n => n is "node-001" or "node-014"));
        Assert.Contains($"[label=\"11 hosts not drawn\\nnode-002 … node-013\", shape=box3d", focused.Out);
        Assert.True(focused.Out.Length * 4 < whole.Out.Length, $"focused {focused.Out.Length} bytes, whole {whole.Out.Length}");
    }

    [NetnsFact("dot")]
    public void A_focused_graph_renders_with_graphviz()
    {
        var r = HostLinux.Run("dot", new[] { "-Tsvg" }, WideGraphs().Focused.Out);
        Assert.True(r.ExitCode == 0 && r.StdErr.Length == 0, "dot rejected the graph:\n" + r.StdErr);
        Assert.Contains("hosts not drawn", r.StdOut);
    }

    private static ((int Exit, string Out, string Err) Whole, (int Exit, string Out, string Err) Focused) WideGraphs()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-graph-");
        try
        {
            var file = Path.Combine(dir.FullName, "wide.swarm.yaml");
            File.WriteAllText(file, SwarmDsl.Synthetic.SyntheticTopology.Generate(SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with
            {
                Name = "wide", Nodes = 14, Overlays = 2, Services = 6, Tasks = 9, PublishedPorts = 4,
            }));
            return (Run("graph", file), Run("graph", file, "--node", "node-001", "--trace-from", "external", "--trace-to", "node-014:10000/tcp"));
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
