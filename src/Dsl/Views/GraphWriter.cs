using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace SwarmDsl.Views;

/// <summary>Renders a <see cref="TopologyGraph"/> as Graphviz DOT or as a Mermaid flowchart.</summary>
public static class GraphWriter
{
    /// <summary>Graphviz DOT (<c>dot -Tsvg</c>): hosts and namespaces as nested clusters.</summary>
    public static string Dot(TopologyGraph graph)
    {
        var sb = new StringBuilder();
        sb.Append("graph ").Append(DotString(graph.Title)).Append(" {\n");
        // newrank: rank nodes across clusters in one pass. Without it dot fails ("trouble in init_rank") on a trace
        // overlay whose labelled, non-constraining edges cross clusters of several hosts (a 3-node multi-overlay topology).
        sb.Append("  graph [rankdir=LR, newrank=true, fontname=\"Helvetica\", compound=true, label=").Append(DotString("topology " + graph.Title)).Append("];\n");
        sb.Append("  node [fontname=\"Helvetica\", fontsize=10];\n");
        sb.Append("  edge [fontname=\"Helvetica\", fontsize=9];\n");
        var nesting = new Nesting(graph);
        foreach (var v in nesting.VerticesOf(null)) AppendDotVertex(sb, v, "  ");
        foreach (var host in nesting.ClustersOf(null))
        {
            sb.Append("  subgraph cluster_").Append(host.Id).Append(" {\n");
            sb.Append("    label=").Append(DotString(host.Label)).Append(";\n    style=rounded;\n");
            foreach (var ns in nesting.ClustersOf(host))
            {
                sb.Append("    subgraph cluster_").Append(ns.Id).Append(" {\n");
                sb.Append("      label=").Append(DotString(ns.Label)).Append(";\n      style=dashed;\n");
                foreach (var v in nesting.VerticesOf(ns)) AppendDotVertex(sb, v, "      ");
                sb.Append("    }\n");
            }
            sb.Append("  }\n");
        }
        var lost = new HashSet<string>(graph.Vertices.Where(v => v.Kind == GraphVertexKind.Lost).Select(v => v.Id));
        foreach (var e in graph.Edges)
        {
            sb.Append("  ").Append(e.From).Append(" -- ").Append(e.To).Append(" [");
            sb.Append(e.Kind switch
            {
                GraphEdgeKind.VethPair => "style=bold",
                GraphEdgeKind.BridgePort => "color=gray40",
                GraphEdgeKind.Tunnel => "style=dashed, color=blue",
                GraphEdgeKind.Underlay => "color=gray60",
                GraphEdgeKind.End => lost.Contains(e.To) ? "style=dotted, color=red, dir=forward" : "style=dotted, color=darkgreen, dir=forward",
                _ => "color=red, penwidth=2, dir=forward, constraint=false",
            });
            if (e.Label.Length > 0) sb.Append(", label=").Append(DotString(e.Label));
            if (e.Kind == GraphEdgeKind.Trace) sb.Append(", fontcolor=red");
            sb.Append("];\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>
    /// Which clusters and vertices sit directly in each cluster (null: the top level), in the graph's order. Built once:
    /// filtering every list per cluster made a 100-node topology's graph (13,500 namespaces) take half a minute.
    /// </summary>
    private sealed class Nesting
    {
        private readonly Dictionary<GraphCluster, List<GraphCluster>> _clusters = new();
        private readonly Dictionary<GraphCluster, List<GraphVertex>> _vertices = new();
        private readonly List<GraphCluster> _topClusters = new();
        private readonly List<GraphVertex> _topVertices = new();

        public Nesting(TopologyGraph graph)
        {
            foreach (var c in graph.Clusters)
                if (c.Parent is null) _topClusters.Add(c);
                else Add(_clusters, c.Parent, c);
            foreach (var v in graph.Vertices)
                if (v.Cluster is null) _topVertices.Add(v);
                else Add(_vertices, v.Cluster, v);
        }

        public IReadOnlyList<GraphCluster> ClustersOf(GraphCluster? parent) =>
            parent is null ? _topClusters : _clusters.TryGetValue(parent, out var list) ? list : System.Array.Empty<GraphCluster>();

        public IReadOnlyList<GraphVertex> VerticesOf(GraphCluster? cluster) =>
            cluster is null ? _topVertices : _vertices.TryGetValue(cluster, out var list) ? list : System.Array.Empty<GraphVertex>();

        private static void Add<T>(Dictionary<GraphCluster, List<T>> map, GraphCluster key, T item)
        {
            if (!map.TryGetValue(key, out var list)) map[key] = list = new List<T>();
            list.Add(item);
        }
    }

    private static void AppendDotVertex(StringBuilder sb, GraphVertex v, string indent)
    {
        var shape = v.Kind switch
        {
            GraphVertexKind.Bridge => "box, style=filled, fillcolor=lightyellow",
            GraphVertexKind.Vxlan => "hexagon, style=filled, fillcolor=lightblue",
            GraphVertexKind.Physical => "box, style=filled, fillcolor=lightgray",
            GraphVertexKind.Underlay => "box, style=\"rounded,filled\", fillcolor=gray90",
            GraphVertexKind.External => "ellipse, style=filled, fillcolor=white",
            GraphVertexKind.OtherHosts => "box3d, style=filled, fillcolor=whitesmoke",
            GraphVertexKind.Delivered => "note, style=filled, fillcolor=honeydew, color=darkgreen",
            GraphVertexKind.Lost => "note, style=filled, fillcolor=mistyrose, color=red, fontcolor=red",
            _ => "ellipse",
        };
        sb.Append(indent).Append(v.Id).Append(" [label=").Append(DotString(string.Join("\n", v.Lines))).Append(", shape=").Append(shape).Append("];\n");
    }

    /// <summary>A DOT quoted string: backslash and quote escaped, newlines as <c>\n</c>.</summary>
    private static string DotString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': break;
                default: sb.Append(ch); break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>A Mermaid <c>flowchart LR</c>: hosts and namespaces as nested subgraphs.</summary>
    public static string Mermaid(TopologyGraph graph)
    {
        var sb = new StringBuilder("flowchart LR\n");
        var nesting = new Nesting(graph);
        foreach (var v in nesting.VerticesOf(null)) AppendMermaidVertex(sb, v, "  ");
        foreach (var host in nesting.ClustersOf(null))
        {
            sb.Append("  subgraph ").Append(host.Id).Append("[\"").Append(MermaidText(host.Label)).Append("\"]\n");
            foreach (var ns in nesting.ClustersOf(host))
            {
                sb.Append("    subgraph ").Append(ns.Id).Append("[\"").Append(MermaidText(ns.Label)).Append("\"]\n");
                foreach (var v in nesting.VerticesOf(ns)) AppendMermaidVertex(sb, v, "      ");
                sb.Append("    end\n");
            }
            sb.Append("  end\n");
        }
        int index = 0;
        var traceLinks = new System.Collections.Generic.List<int>();
        foreach (var e in graph.Edges)
        {
            var label = MermaidText(e.Label);
            sb.Append("  ").Append(e.From);
            switch (e.Kind)
            {
                case GraphEdgeKind.Tunnel: sb.Append(" -.-|").Append(label).Append("| "); break;
                case GraphEdgeKind.Trace: sb.Append(" ==>|").Append(label).Append("| "); traceLinks.Add(index); break;
                case GraphEdgeKind.VethPair: sb.Append(" ===|").Append(label).Append("| "); break;
                case GraphEdgeKind.End: sb.Append(" -.-> "); traceLinks.Add(index); break;
                default: sb.Append(label.Length > 0 ? " ---|" + label + "| " : " --- "); break;
            }
            sb.Append(e.To).Append('\n');
            index++;
        }
        if (traceLinks.Count > 0)
            sb.Append("  linkStyle ").Append(string.Join(",", traceLinks.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))))
              .Append(" stroke:red,stroke-width:2px\n");
        foreach (var v in graph.Vertices)
            if (v.Kind is GraphVertexKind.Delivered or GraphVertexKind.Lost)
                sb.Append("  style ").Append(v.Id).Append(v.Kind == GraphVertexKind.Lost ? " fill:#ffe4e1,stroke:red,color:red\n" : " fill:#f0fff0,stroke:darkgreen\n");
        return sb.ToString();
    }

    private static void AppendMermaidVertex(StringBuilder sb, GraphVertex v, string indent)
    {
        var text = "\"" + string.Join("<br/>", v.Lines.Select(MermaidText)) + "\"";
        sb.Append(indent).Append(v.Id);
        sb.Append(v.Kind switch
        {
            GraphVertexKind.Bridge => "[[" + text + "]]",
            GraphVertexKind.Vxlan => "{{" + text + "}}",
            GraphVertexKind.External => "((" + text + "))",
            GraphVertexKind.Underlay => "[(" + text + ")]",
            GraphVertexKind.Physical => "[/" + text + "/]",
            GraphVertexKind.OtherHosts => "[" + text + "]",
            GraphVertexKind.Delivered or GraphVertexKind.Lost => ">" + text + "]",
            _ => "([" + text + "])",
        });
        sb.Append('\n');
    }

    /// <summary>Text inside a quoted Mermaid label: quotes and markup characters as entity codes.</summary>
    private static string MermaidText(string s)
    {
        var sb = new StringBuilder();
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("#quot;"); break;
                case '<': sb.Append("#lt;"); break;
                case '>': sb.Append("#gt;"); break;
                case '#': sb.Append("#35;"); break;
                case '|': sb.Append("#124;"); break;
                case '\n': case '\r': sb.Append(' '); break;
                default: sb.Append(ch); break;
            }
        }
        return sb.ToString();
    }
}
