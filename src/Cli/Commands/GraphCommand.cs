using System.CommandLine;
using SwarmDsl.Lowering;
using SwarmDsl.Views;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl graph FILE [--format dot|mermaid] [--trace-from SRC --trace-to DST]</c>: the topology as a graph (hosts,
/// namespaces, devices, veth pairs, bridge ports, VXLAN tunnels, the underlay and the external client).
/// </summary>
internal static class GraphCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file" };
        var format = new Option<string>("--format") { Description = "dot (Graphviz, default) or mermaid" };
        var lb = new Option<string>("--lb") { Description = "load balancing backend the plan uses: ipvs (default) or nftables" };
        var traceFrom = new Option<string>("--trace-from") { Description = "draw the path of a packet from SRC (with --trace-to)" };
        var traceTo = new Option<string>("--trace-to") { Description = "draw the path of a packet to DST (with --trace-from)" };
        var cmd = new Command("graph", "Print the topology as a graph (Graphviz DOT or Mermaid): hosts, namespaces, devices, links, tunnels.")
        {
            file, format, lb, traceFrom, traceTo,
        };
        cmd.SetAction(parse =>
        {
            var fmt = parse.GetValue(format) ?? "dot";
            if (fmt is not ("dot" or "mermaid")) throw new CliUsageException($"--format must be dot or mermaid, not '{fmt}'");
            var from = parse.GetValue(traceFrom);
            var to = parse.GetValue(traceTo);
            if ((from is null) != (to is null)) throw new CliUsageException("--trace-from and --trace-to go together");
            var plan = PlanLoader.Load(parse.GetValue(file)!, new LoweringOptions(ShowCommand.ParseBackend(parse.GetValue(lb))), io);
            if (plan is null) return Program.Failed;
            if (from is not null)
            {
                // The path comes from the packet engine's trace (TopologyGraph.Build takes its hops); until the engine is
                // part of this build there is no honest path to draw.
                io.Error.WriteLine("swarmdsl: error: --trace-from/--trace-to need the packet engine (src/Runtime), which this build does not have yet");
                return Program.Failed;
            }
            var graph = TopologyGraph.Build(plan);
            io.Out.Write(fmt == "dot" ? GraphWriter.Dot(graph) : GraphWriter.Mermaid(graph));
            return Program.Ok;
        });
        return cmd;
    }
}
