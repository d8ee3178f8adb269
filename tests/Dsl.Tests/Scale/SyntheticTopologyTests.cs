using System;
using System.Linq;
using CsCheck;
using SwarmDsl.Emit;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Tests.Scale;

/// <summary>The synthetic topology generator: deterministic, and what it writes is valid and has exactly the shape asked for.</summary>
public class SyntheticTopologyTests
{
    [Fact]
    public void The_header_names_the_seed_as_synth_takes_it()
    {
        // synth --seed is unsigned: a seed above 2^31 must read back as itself, not as a negative number --seed refuses.
        var options = SyntheticTopologyOptions.Preset("small")! with { Seed = unchecked((int)4294967295u) };
        Assert.Contains("(seed 4294967295)", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("(seed 4294967295)", SyntheticTopology.Generate(options), StringComparison.Ordinal);
    }

    private static PlanCompilationResult CompileToPlan(SyntheticTopologyOptions options)
        => SwarmCompiler.CompileToPlan(options.Name + ".swarm.yaml", SyntheticTopology.Generate(options));

    private static string Describe(PlanCompilationResult r) => string.Join("\n", r.Diagnostics.Take(10).Select(d => d.ToString()));

    [Fact]
    public void The_same_options_give_the_same_text_and_another_seed_another_text()
    {
        var a = SyntheticTopology.Generate(SyntheticTopologyOptions.Small);
        Assert.Equal(a, SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { }));
        Assert.NotEqual(a, SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { Seed = 2 }));
    }

    [Theory]
    [InlineData("small")]
    [InlineData("large")]
    [InlineData("huge")]
    public void Presets_compile_without_any_diagnostic(string preset)
    {
        var options = SyntheticTopologyOptions.Preset(preset)!;
        var c = SwarmCompiler.Compile(preset + ".swarm.yaml", SyntheticTopology.Generate(options));
        Assert.True(c.Diagnostics.Count == 0, string.Join("\n", c.Diagnostics.Take(10)));
        var t = c.Topology!;
        Assert.Equal(options.Nodes, t.Nodes.Count);
        Assert.Equal(options.Services, t.Services.Count);
        Assert.Equal(options.Tasks, t.Tasks.Count);
        Assert.Equal(options.PublishedPorts, t.Services.Sum(s => s.Ports.Count));
        Assert.Equal(options.Overlays + 1, t.Networks.Count(n => n.IsOverlay));
    }

    [Fact]
    public void Any_valid_shape_compiles_lowers_and_emits_without_diagnostics()
    {
        var sizes = Gen.Select(Gen.Int[1, 6], Gen.Int[1, 4], Gen.Int[1, 12], Gen.Int[0, 20], Gen.Int[0, 3], Gen.Int[0, 30], Gen.Int[0, 100000],
            (a, b, c, d, e, f, g) => (a, b, c, d, e, f, g));
        var shapes = Gen.Select(sizes, Gen.Int[0, 100], Gen.Int[0, 100], Gen.Int[0, 100], Gen.Int[0, 100], Gen.Bool,
                (shape, host, udp, weighted, placement, onlyRr) => new SyntheticTopologyOptions
                {
                    Nodes = shape.Item1, Overlays = shape.Item2, Services = shape.Item3, Tasks = shape.Item3 + shape.Item4,
                    GlobalServices = shape.Item5, PublishedPorts = shape.Item6, Seed = shape.Item7,
                    HostModePercent = host, UdpPercent = udp, WeightedPercent = weighted, PlacementPercent = placement,
                    Schedulers = onlyRr ? Array.Empty<Scheduler>() : SyntheticTopologyOptions.AllSchedulers,
                    Expectations = 3, UserRules = 2,
                });
        shapes.Sample(options =>
        {
            var r = CompileToPlan(options);
            Assert.True(r.Diagnostics.Count == 0, options + "\n" + Describe(r));
            var t = r.Topology!;
            Assert.Equal(options.Tasks + options.GlobalServices * options.Nodes, t.Tasks.Count);
            Assert.Equal(options.PublishedPorts, t.Services.Sum(s => s.Ports.Count));
            var files = ProvisioningEmitter.Emit(r.Plan!);
            Assert.Equal(2 * options.Nodes, files.Count(f => f.Executable && f.Content.Length > 0));
        }, iter: 60);
    }

    [Fact]
    public void Lowering_nodes_in_parallel_gives_the_same_plan_and_diagnostics()
    {
        // Eight nodes or more are lowered in parallel; what nodes share (balancer parts, remote FDB entries, ingress
        // rules) is made once under a lock. The plan must not depend on which node got there first.
        var shapes = Gen.Select(Gen.Int[8, 14], Gen.Int[1, 4], Gen.Int[4, 30], Gen.Int[0, 40], Gen.Int[0, 2], Gen.Int[0, 100000], Gen.Bool,
            (nodes, overlays, services, extra, global, seed, nft) => (Options: SyntheticTopologyOptions.Small with
            {
                Nodes = nodes, Overlays = overlays, Services = services, Tasks = services + extra, GlobalServices = global,
                PublishedPorts = services, Seed = seed, UserRules = 3, Schedulers = SyntheticTopologyOptions.AllSchedulers,
            }, Backend: nft ? SwarmDsl.Plan.LoadBalancerBackend.Nftables : SwarmDsl.Plan.LoadBalancerBackend.Ipvs));
        shapes.Sample(x =>
        {
            var compiled = SwarmCompiler.Compile(x.Options.Name + ".swarm.yaml", SyntheticTopology.Generate(x.Options));
            var one = SwarmCompiler.Lower(compiled, new SwarmDsl.Lowering.LoweringOptions(x.Backend));
            for (int round = 0; round < 3; round++)
            {
                var many = SwarmCompiler.Lower(compiled, new SwarmDsl.Lowering.LoweringOptions(x.Backend) { Parallelism = 4 });
                Assert.NotNull(many.Plan);
                Assert.Equal(one.Plan, many.Plan);
                Assert.Equal(one.Diagnostics.Select(d => d.ToString()), many.Diagnostics.Select(d => d.ToString()));
                Assert.Equal(string.Join("\n", ProvisioningEmitter.Emit(one.Plan!).Select(f => f.Path + "\n" + f.Content)),
                    string.Join("\n", ProvisioningEmitter.Emit(many.Plan!).Select(f => f.Path + "\n" + f.Content)));
            }
        }, iter: 12);
    }

    [Fact]
    public void Jump_problems_found_on_nodes_in_parallel_are_reported_once_each_as_the_first_node_has_them()
    {
        // Each node's tables are checked on their own (in parallel from eight nodes); the diagnostics must be those of one
        // pass in node order: a rule placed on many nodes once, as the first node has it.
        var yaml = SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { Nodes = 10, Services = 6, Tasks = 12, PublishedPorts = 4, UserRules = 0 })
            + "rules:\n"
            + "  - { chain: INPUT, rule: \"-p tcp --dport 22 -j NOWHERE\" }\n"
            + "  - { node: node-007, table: filter, chain: LOOPA, rule: \"-j LOOPB\" }\n"
            + "  - { node: node-007, table: filter, chain: LOOPB, rule: \"-j LOOPA\" }\n"
            + "  - { node: node-003, table: nat, chain: PREROUTING, rule: \"-p udp -j MISSING3\" }\n"
            + "  - { node: node-009, chain: FORWARD, rule: \"-j MISSING9\" }\n";
        var compiled = SwarmCompiler.Compile("jumps.swarm.yaml", yaml);
        Assert.True(compiled.Topology is not null, string.Join("\n", compiled.Diagnostics));
        var one = SwarmCompiler.Lower(compiled, new SwarmDsl.Lowering.LoweringOptions());
        var texts = one.Diagnostics.Select(d => d.ToString()).ToList();
        Assert.Equal(5, texts.Count(t => t.Contains("SWARM", StringComparison.Ordinal) && t.Contains("rules[", StringComparison.Ordinal)));
        // A rule on every node is reported as the first node has it.
        Assert.Contains("on node 'node-001'", Assert.Single(texts, t => t.Contains("rules[0]", StringComparison.Ordinal)), StringComparison.Ordinal);
        for (int round = 0; round < 3; round++)
            Assert.Equal(texts, SwarmCompiler.Lower(compiled, new SwarmDsl.Lowering.LoweringOptions { Parallelism = 4 }).Diagnostics.Select(d => d.ToString()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public void Host_mode_share_is_honoured_only_where_tasks_land_on_distinct_nodes(int percent)
    {
        var options = SyntheticTopologyOptions.Small with { Nodes = 3, Services = 6, Tasks = 14, PublishedPorts = 12, HostModePercent = percent };
        var r = CompileToPlan(options);
        Assert.True(r.Diagnostics.Count == 0, Describe(r));
        var ports = r.Topology!.Services.SelectMany(s => s.Ports.Select(p => (s, p))).ToList();
        if (percent == 0) Assert.All(ports, x => Assert.Equal(PublishMode.Ingress, x.p.Mode));
        else Assert.All(ports.Where(x => x.p.Mode == PublishMode.Host), x => Assert.True(x.s.Replicas <= options.Nodes));
        if (percent == 100) Assert.Contains(ports, x => x.p.Mode == PublishMode.Host);
    }

    [Fact]
    public void Options_that_cannot_be_valid_are_refused_with_the_reason()
    {
        var e = Assert.Throws<ArgumentException>(() => SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { Tasks = 3 }));
        Assert.Contains("tasks must be at least", e.Message);
        Assert.NotNull((SyntheticTopologyOptions.Small with { Name = "Bad Name" }).Problem());
        Assert.NotNull((SyntheticTopologyOptions.Small with { Overlays = 0 }).Problem());
        Assert.Null(SyntheticTopologyOptions.Huge.Problem());
    }
}
