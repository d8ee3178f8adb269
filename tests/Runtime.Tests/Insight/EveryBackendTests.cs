using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Insight;

/// <summary><c>reach --every-backend</c>: a balanced class probed on each backend its balancer could pick.</summary>
public sealed class EveryBackendTests
{
    /// <summary>web has a task on each node; the one on c drops tcp port 80 (a raw rule in its namespace).</summary>
    internal static string Mixed => System.IO.File.ReadAllText(ReachSliceTests.TopologyFile("mixed"));

    private static (Topology Topology, DataplanePlan Plan) Compile(string yaml, LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
    {
        var r = SwarmCompiler.CompileToPlan("mixed.swarm.yaml", yaml, new SwarmDsl.Lowering.LoweringOptions { Backend = backend });
        Assert.True(r.Plan is not null, string.Join("\n", r.Diagnostics));
        return (r.Topology!, r.Plan!);
    }

    private static List<ReachRow> Rows(Topology topology, DataplanePlan plan, string? source, string? destination, bool everyBackend)
    {
        var rows = new List<ReachRow>();
        ReachAnalysis.Analyze(topology, plan, source, destination, (_, r) => rows.AddRange(r), 0, 1, everyBackend);
        return rows;
    }

    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void A_backend_that_answers_otherwise_is_named_in_its_row(LoadBalancerBackend backend)
    {
        var (topology, plan) = Compile(Mixed, backend);
        var one = Rows(topology, plan, "api", "web", everyBackend: false);
        var every = Rows(topology, plan, "api", "web", everyBackend: true);
        var port80 = every.Single(r => r.Protocol == "tcp" && r.FromPort == 80);
        Assert.Equal(80, port80.ToPort);
        Assert.StartsWith("varies by backend: ", port80.Result, System.StringComparison.Ordinal);
        Assert.Contains("blocked (web.3)", port80.Result, System.StringComparison.Ordinal);
        Assert.Matches(@"reaches web \(web\.[12], web\.[12]\)", port80.Result);
        // The cause is the dropping backend's, at the raw rule (line 21 of the YAML).
        Assert.StartsWith("web.3: dropped by FilterDrop at c/web.3 filter/INPUT", port80.Cause, System.StringComparison.Ordinal);
        Assert.Contains("mixed.swarm.yaml:21:", port80.Cause, System.StringComparison.Ordinal);
        Assert.Null(port80.Service);
        // The rule is in one of web's tasks, so web's classes are probed on each backend without being asked: the same rows.
        Assert.Equal(new[] { "web" }, ReachAnalysis.ServicesWithUnevenBackends(topology));
        Assert.Equal(every, one);
    }

    [Fact]
    public void The_backends_named_are_those_a_cycle_of_connections_meets()
    {
        // Independent of forcing a pick: round robin gives three connections in a row to the three backends.
        var (topology, plan) = Compile(Mixed);
        var row = Rows(topology, plan, "api", "web", everyBackend: true).Single(r => r.Protocol == "tcp" && r.FromPort == 80);
        var sim = new Simulation(plan, 0);
        Assert.True(sim.TryResolve("api", "web:80/tcp", out var flow, out var error), error);
        var taskService = ReachAnalysis.TaskServices(topology);
        var delivered = new List<string>();
        int blocked = 0;
        for (int i = 0; i < 3; i++)
        {
            var r = sim.ConnectUntraced(flow);
            if (ReachAnalysis.Classify(r, taskService) == "reaches web") delivered.Add(r.Task!);
            else blocked++;
        }
        Assert.Equal(1, blocked);
        // "varies by backend: RESULT (TASK, TASK), RESULT (TASK)"
        var groups = System.Text.RegularExpressions.Regex.Matches(row.Result.Substring("varies by backend: ".Length), @"(?<result>[a-z ]+?) \((?<tasks>[^)]*)\)")
            .ToDictionary(m => m.Groups["result"].Value.TrimStart(',', ' '), m => m.Groups["tasks"].Value.Split(", ").OrderBy(t => t).ToList());
        Assert.Equal(new[] { "blocked", "reaches web" }, groups.Keys.OrderBy(k => k));
        Assert.Equal(delivered.OrderBy(t => t), groups["reaches web"]);
        Assert.Equal(blocked, groups["blocked"].Count);
    }

    [Fact]
    public void A_balancer_that_hashes_the_source_is_not_asked_for_other_backends()
    {
        // sh always gives this client the same task: the others are not what it can meet.
        var (topology, plan) = Compile(Mixed.Replace("      - { published: 8080, target: 80 }\n", "      - { published: 8080, target: 80 }\n    loadBalancing: { scheduler: sh }\n", System.StringComparison.Ordinal));
        Assert.Equal(Scheduler.Sh, topology.Services.Single(s => s.Name == "web").Scheduler);
        Assert.Equal(Rows(topology, plan, "api", "web", everyBackend: false), Rows(topology, plan, "api", "web", everyBackend: true));
    }

    [Fact]
    public void Alike_backends_give_the_table_of_one_connection_per_class()
    {
        var yaml = File.ReadAllText(Paths.Example);
        var r = SwarmCompiler.CompileToPlan(Paths.Example, yaml);
        var one = new List<ReachRow>();
        var every = new List<ReachRow>();
        ReachAnalysis.Analyze(r.Topology!, r.Plan!, null, null, (_, rows) => one.AddRange(rows), 0, 1, everyBackend: false);
        ReachAnalysis.Analyze(r.Topology!, r.Plan!, null, null, (_, rows) => every.AddRange(rows), 0, 1, everyBackend: true);
        Assert.Equal(one, every);
    }

    [Theory]
    [InlineData("tangled")]
    [InlineData("three-node")]
    public void Nodes_sharing_the_outside_clients_sweep_share_its_backends_too(string name)
    {
        // Raw rules on some nodes make backends differ here; a node's rows must not depend on whether it took the client's.
        var yaml = name == "tangled" ? ReachSliceTests.Tangled : ReachAnalysisTests.ThreeNode;
        var r = SwarmCompiler.CompileToPlan(name + ".swarm.yaml", yaml);
        Assert.True(r.Plan is not null, string.Join("\n", r.Diagnostics));
        var shared = new List<ReachRow>();
        var own = new List<ReachRow>();
        ReachAnalysis.Analyze(r.Topology!, r.Plan!, (_, rows) => shared.AddRange(rows), 1, null, 1, null, System.TimeSpan.Zero, shareSources: true, everyBackend: true);
        ReachAnalysis.Analyze(r.Topology!, r.Plan!, (_, rows) => own.AddRange(rows), 1, null, 1, null, System.TimeSpan.Zero, shareSources: false, everyBackend: true);
        Assert.Equal(own, shared);
        // tangled's node a drops VXLAN from c, so the routing mesh's backends differ (three-node's rule on c drops before the balancer).
        if (name == "tangled") Assert.Contains(shared, x => x.Source != "external" && x.Result.StartsWith("varies by backend: ", System.StringComparison.Ordinal));
    }

    private static (Topology Topology, DataplanePlan Plan) FromFile(string name, LoadBalancerBackend backend)
    {
        var path = ReachSliceTests.TopologyFile(name);
        var r = SwarmCompiler.CompileToPlan(path, System.IO.File.ReadAllText(path), new SwarmDsl.Lowering.LoweringOptions { Backend = backend });
        Assert.True(r.Plan is not null, string.Join("\n", r.Diagnostics));
        return (r.Topology!, r.Plan!);
    }

    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void A_weighted_backend_is_asked_whichever_slot_the_connection_took_and_equal_rows_merge(LoadBalancerBackend backend)
    {
        // s.1 weight 3, s.2 weight 1; s.2 drops tcp 80-85, the ports s listens on. (Found by a tester: the nftables map
        // repeats s.1 in three slots, and a connection given its second slot was taken for a backend of its own; and the
        // rows of 80-85 were kept apart by which backend each class's own connection had met.)
        var (topology, plan) = FromFile("eb-nft-weights", backend);
        var rows = Rows(topology, plan, "c", "s", everyBackend: true).Where(r => r.Protocol == "tcp" && r.FromPort <= 85 && r.ToPort >= 80).ToList();
        var row = Assert.Single(rows);
        Assert.Equal((80, 85), (row.FromPort, row.ToPort));
        Assert.Equal("varies by backend: reaches s (s.1), blocked (s.2)", row.Result.Replace("blocked (s.2), reaches s (s.1)", "reaches s (s.1), blocked (s.2)", System.StringComparison.Ordinal));
        Assert.Equal(2, row.Backends.Count);
    }

    [Fact]
    public void An_echo_whose_answer_is_dropped_is_no_reply_not_delivered()
    {
        var (topology, plan) = FromFile("icmp-reply-dropped", LoadBalancerBackend.Ipvs);
        var table = ReachAnalysis.Analyze(topology, plan);
        var echo = table.Single(r => r.Source == "c" && r.Destination == "s" && r.Protocol == "icmp");
        Assert.Equal("no reply from lb_net", echo.Result);
        Assert.StartsWith("reply dropped by FilterDrop at n1/lb_net filter/OUTPUT", echo.Cause, System.StringComparison.Ordinal);
        Assert.Equal("no reply from host", table.Single(r => r.Source == "external" && r.Protocol == "icmp").Result);
    }
}
