using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Tests.Lowering;

/// <summary>
/// A rule's <see cref="SwarmDsl.Plan.NetfilterRule.Origin"/> (written by lowering, shown in rule comments) and the declaration path of
/// its span (found in the YAML, shown by trace) name the same declaration; for a network the file does not declare, the origin
/// names that network and the span what made Docker create it.
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
    public void Every_rule_has_a_span_whose_path_is_its_origin_or_inside_it_or_for_a_derived_object_its_cause(string which)
    {
        var (c, plan) = Compile(which);
        var t = c.Topology!;
        var ingress = t.Networks.FirstOrDefault(n => n.Ingress);
        var checkedOrigins = new HashSet<string>();
        foreach (var (host, rule) in plan.Hosts.SelectMany(h => h.Namespaces.SelectMany(ns => ns.Tables).SelectMany(tb => tb.Chains).SelectMany(ch => ch.Rules).Select(r => (h, r))))
        {
            var path = c.DeclarationPaths.PathOf(rule.Span);
            if (Derived(t, rule.Origin) is { } network)
            {
                // The origin names the derived object; its span (and so its path) names what made Docker create it.
                var cause = network.IsOverlay ? network.Cause : t.Nodes.Single(n => n.Name == host.Node).GatewayBridgeCause;
                Assert.True(cause.IsKnown, rule.Origin);
                Assert.Equal(c.DeclarationPaths.PathOf(cause), path);
                Assert.NotNull(path);
                continue;
            }
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

    // The network a rule of an object the file does not declare belongs to (an implicit docker_gwbridge or ingress network).
    private static NetworkModel? Derived(Topology t, string origin)
    {
        var network = origin == "swarm.ingress" ? t.Networks.FirstOrDefault(n => n.Ingress)
            : origin.StartsWith("networks.", System.StringComparison.Ordinal) ? t.Networks.FirstOrDefault(n => "networks." + n.Name == origin) : null;
        return network is { Implicit: true } ? network : null;
    }
}
