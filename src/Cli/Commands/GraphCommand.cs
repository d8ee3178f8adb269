using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Views;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl graph FILE [--format dot|mermaid] [--trace-from SRC --trace-to DST] [--node N]...</c>: the topology as a graph
/// (hosts, namespaces, devices, veth pairs, bridge ports, VXLAN tunnels, the underlay and the external client); with a
/// trace, the path of the first simulated packet from SRC to DST drawn over it as numbered edges; with <c>--node</c>, only
/// those hosts (and the ones the packet crosses) in full, the others as one box their tunnels end at.
/// </summary>
internal static class GraphCommand
{
    // Above this many hosts a full drawing is too dense for Graphviz to lay out readably: the command says how to focus it.
    private const int LargeGraph = 12;

    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file" };
        var format = new Option<string>("--format") { Description = "dot (Graphviz, default) or mermaid" };
        var lb = new Option<string>("--lb") { Description = "load balancing backend the plan uses: ipvs (default) or nftables" };
        var traceFrom = new Option<string>("--trace-from") { Description = "draw the path of a packet from SRC (with --trace-to)" };
        var traceTo = new Option<string>("--trace-to") { Description = "draw the path of a packet to DST (with --trace-from)" };
        var nodes = new Option<string[]>("--node")
        {
            Description = "draw only this host in full (repeatable; hosts a traced packet crosses are drawn too); the others are one box",
            AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new Command("graph", "Print the topology as a graph (Graphviz DOT or Mermaid): hosts, namespaces, devices, links, tunnels.")
        {
            file, format, lb, traceFrom, traceTo, nodes,
        };
        cmd.SetAction(parse =>
        {
            var fmt = parse.GetValue(format) ?? "dot";
            if (fmt is not ("dot" or "mermaid")) throw new CliUsageException($"--format must be dot or mermaid, not '{fmt}'");
            var from = parse.GetValue(traceFrom);
            var to = parse.GetValue(traceTo);
            if ((from is null) != (to is null)) throw new CliUsageException("--trace-from and --trace-to go together");
            var plan = PlanLoader.Load(parse.GetValue(file)!, TopologyLoader.Lowering(ShowCommand.ParseBackend(parse.GetValue(lb))), io, out var topology);
            if (plan is null || topology is null) return Program.Failed;
            var wanted = parse.GetValue(nodes) is { Length: > 0 } named ? named : null;
            if (wanted is not null) NodeNames.Check(plan, wanted, "--node: ");
            IReadOnlyList<PathHop>? path = null;
            PathEnd? end = null;
            if (from is not null)
            {
                var sim = new Simulation(plan);
                var flow = FlowEndpoints.Resolve(sim, topology, from, to!, "--trace-from", "--trace-to");
                var request = sim.Connect(flow, 1)[0].Request;
                path = TracePath.From(plan, request);
                var ending = SwarmDsl.Runtime.Tracing.TextTraceRenderer.Disposition(request.Disposition);
                // Only a delivered packet ends well: one that left the modelled world (EXITED) reached nothing either.
                end = new PathEnd(ending, request.Disposition.Kind is not SwarmDsl.Runtime.Tracing.DispositionKind.Delivered);
                if (path.Distinct().Count() <= 1)
                    io.Error.WriteLine("swarmdsl: note: the packet did not leave where it was sent from (drawn as a loop there): " + ending);
            }
            var graph = TopologyGraph.Build(plan, path, wanted, end);
            if (wanted is null && plan.Hosts.Count > LargeGraph)
                io.Error.WriteLine($"swarmdsl: note: all {plan.Hosts.Count} hosts are drawn, with a tunnel between every two of them per overlay; --node NAME draws only some");
            if (graph.UnknownHops.Count > 0)
                io.Error.WriteLine("swarmdsl: warning: the trace crossed devices the graph does not show: "
                    + string.Join(", ", graph.UnknownHops.Select(h => h.Node + "/" + h.Namespace + "/" + h.Device)));
            io.Out.Write(fmt == "dot" ? GraphWriter.Dot(graph) : GraphWriter.Mermaid(graph));
            return Program.Ok;
        });
        return cmd;
    }
}
