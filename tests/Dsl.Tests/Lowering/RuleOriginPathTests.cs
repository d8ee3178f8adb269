using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Tests.Lowering;

/// <summary>
/// A rule's <see cref="SwarmDsl.Plan.NetfilterRule.Origin"/> (written by lowering, shown in rule comments) and the declaration path of
/// its span (found in the YAML, shown by trace) name the same declaration.
/// </summary>
public sealed class RuleOriginPathTests
{
    public static TheoryData<string> Topologies() => new() { "example", "three-node", "synthetic" };

    private static (CompilationResult Compilation, SwarmDsl.Plan.DataplanePlan Plan) Compile(string which)
    {
        var (file, text) = which switch
        {
            "example" => (Paths.Example, File.ReadAllText(Paths.Example)),
            "three-node" => (LoweringFixtures.ThreeNodePath, File.ReadAllText(LoweringFixtures.ThreeNodePath)),
            _ => ("synthetic.swarm.yaml", SyntheticTopology.Generate(new SyntheticTopologyOptions { Nodes = 3, Overlays = 2, Services = 4, Tasks = 6, PublishedPorts = 2 })),
        };
        var compilation = SwarmCompiler.Compile(file, text);
        var lowered = SwarmCompiler.Lower(compilation, new LoweringOptions(SwarmDsl.Plan.LoadBalancerBackend.Ipvs));
        Assert.False(lowered.HasErrors, string.Join("\n", lowered.Diagnostics));
        return (compilation, lowered.Plan!);
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Every_rule_of_a_declared_object_has_a_span_whose_path_is_its_origin_or_inside_it(string which)
    {
        var (c, plan) = Compile(which);
        var t = c.Topology!;
        var ingress = t.Networks.FirstOrDefault(n => n.Ingress);
        var checkedOrigins = new HashSet<string>();
        foreach (var rule in plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(ns => ns.Tables).SelectMany(tb => tb.Chains).SelectMany(ch => ch.Rules))
        {
            if (Derived(t, rule.Origin)) continue;
            var path = c.DeclarationPaths.PathOf(rule.Span);
            Assert.True(path is not null, rule.Origin + " " + rule.Span.ToShortString());
            // swarm.ingress names Swarm's routing-mesh setup (not a key of the file): its rules point at the ingress network.
            var expected = rule.Origin == "swarm.ingress" ? "networks." + ingress!.Name : rule.Origin;
            Assert.True(path == expected || path!.StartsWith(expected + ".", System.StringComparison.Ordinal) || path.StartsWith(expected + "[", System.StringComparison.Ordinal),
                $"{rule.Origin} has span {rule.Span.ToShortString()}, which is {path}");
            checkedOrigins.Add(rule.Origin);
        }
        Assert.Contains(checkedOrigins, o => o.StartsWith("services.", System.StringComparison.Ordinal) && o.Contains(".ports["));
        Assert.Contains(checkedOrigins, o => o.StartsWith("rules[", System.StringComparison.Ordinal) || which == "example");
    }

    // A rule of an object the file does not declare (an implicit docker_gwbridge or ingress network).
    private static bool Derived(Topology t, string origin)
    {
        var network = origin == "swarm.ingress" ? t.Networks.FirstOrDefault(n => n.Ingress)
            : origin.StartsWith("networks.", System.StringComparison.Ordinal) ? t.Networks.FirstOrDefault(n => "networks." + n.Name == origin) : null;
        return network is { Implicit: true };
    }
}
