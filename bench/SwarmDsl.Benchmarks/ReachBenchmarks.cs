using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// <c>swarmdsl reach</c>'s analysis, each against a baseline in the same run. <b>pair</b>: one source–destination pair
/// (external → the first node) over port classes, against enumerating every port of TCP, UDP and SCTP with an untraced
/// connection each (what "not by enumerating ports" saves). <b>table</b>: the whole table of a 10-node topology on every
/// processor, against one worker. <b>nodes</b>: the pairs whose source is outside or a node (to a node's address), with the
/// nodes taking the outside client's sweep where it is theirs (NodeSourceSharing, the default), against every node
/// sweeping on its own; one worker each.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ReachBenchmarks
{
    private Topology _topology = null!;
    private DataplanePlan _plan = null!;
    private ReachAnalysis.Pair _pair;
    private Func<ReachAnalysis.Pair, bool> _nodePairs = null!;

    /// <summary>
    /// <c>example</c> (examples/two-node.swarm.yaml) or <c>ten-node</c>: 10 nodes, 40 services, 80 tasks, 40 published
    /// ports (1,406 pairs, about 13,000 rows).
    /// </summary>
    [Params("example", "ten-node")]
    public string Topology { get; set; } = "example";

    [GlobalSetup]
    public void Setup()
    {
        var yaml = Topology == "example" ? Inputs.Yaml("example")
            : SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { Name = "ten-node", Nodes = 10, Services = 40, Tasks = 80, PublishedPorts = 40 });
        var r = SwarmCompiler.CompileToPlan(Inputs.FileName(Topology), yaml);
        _topology = r.Topology ?? throw new InvalidOperationException(Topology + " does not compile");
        _plan = r.Plan ?? throw new InvalidOperationException(Topology + " does not lower");
        _pair = new ReachAnalysis.Pair("external", _topology.Nodes[0].Name);
        var nodes = _topology.Nodes.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        _nodePairs = p => nodes.Contains(p.Destination);
    }

    /// <summary>The pair's rows, port classes only: a connection per class.</summary>
    [Benchmark, BenchmarkCategory("pair")]
    public object PairOverClasses() => ReachAnalysis.Analyze(_topology, _plan, include: p => p == _pair, parallelism: 1);

    /// <summary>
    /// The same pair port by port: one untraced connection per port and protocol (196,605 of them, and an echo), on one
    /// simulation as the analysis uses, its client sockets reset per protocol so ephemeral ports never run out.
    /// </summary>
    [Benchmark(Baseline = true), BenchmarkCategory("pair")]
    public object PairEveryPort()
    {
        var sim = new Simulation(_plan);
        if (!sim.TryResolve(_pair.Source, _pair.Destination + ":1/tcp", out var flow, out var error)) throw new InvalidOperationException(error);
        int reached = 0;
        foreach (var proto in ReachAnalysis.Protocols)
        {
            if (proto == SwarmDsl.Net.IpProtocol.Icmp)
            {
                if (sim.ConnectUntraced(flow with { Protocol = proto, DestinationPort = 0 }).Request == Runtime.Tracing.DispositionKind.Delivered) reached++;
                continue;
            }
            for (int port = 1; port <= 65535; port++)
                if (sim.ConnectUntraced(flow with { Protocol = proto, DestinationPort = port }).Task is not null) reached++;
            sim.Reset();
        }
        return reached;
    }

    /// <summary>The whole table on every processor.</summary>
    [Benchmark, BenchmarkCategory("table")]
    public object TableAllProcessors() => ReachAnalysis.Analyze(_topology, _plan, parallelism: Environment.ProcessorCount).Count;

    /// <summary>The whole table on one worker.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("table")]
    public object TableOneWorker() => ReachAnalysis.Analyze(_topology, _plan, parallelism: 1).Count;

    /// <summary>The node pairs, nodes sharing the outside client's sweep.</summary>
    [Benchmark, BenchmarkCategory("nodes")]
    public object NodePairsShared() => NodePairs(share: true);

    /// <summary>The node pairs, every node sweeping on its own.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("nodes")]
    public object NodePairsOwnSweeps() => NodePairs(share: false);

    private int NodePairs(bool share)
    {
        int rows = 0;
        ReachAnalysis.Analyze(_topology, _plan, (_, r) => rows += r.Count, 0, _nodePairs, 1, null, TimeSpan.Zero, share);
        return rows;
    }
}
