using System.IO;
using System.Linq;
using SwarmDsl.Emit;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Lowering;

/// <summary>
/// Objects of networks Docker derives (an undeclared docker_gwbridge or ingress network) point at the declaration that made
/// Docker create them, so every rule comment names a YAML line, while the model still says the networks are derived.
/// </summary>
public sealed class DerivedObjectSpanTests
{
    private static (CompilationResult Compilation, DataplanePlan Plan) Compile(string file, string yaml, LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
    {
        var compilation = SwarmCompiler.Compile(file, yaml);
        var lowered = SwarmCompiler.Lower(compilation, new LoweringOptions(backend));
        Assert.False(lowered.HasErrors, string.Join("\n", lowered.Diagnostics));
        return (compilation, lowered.Plan!);
    }

    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void Without_declared_ingress_and_gateway_bridge_everything_but_loopback_still_points_at_a_declaration(LoadBalancerBackend backend)
    {
        var (_, plan) = Compile(LoweringFixtures.ThreeNodePath, File.ReadAllText(LoweringFixtures.ThreeNodePath), backend);
        foreach (var ns in plan.Hosts.SelectMany(h => h.Namespaces))
        {
            Assert.True(ns.Span.IsKnown, ns.Name);
            Assert.All(ns.Devices.Where(d => d.Kind != DeviceKind.Loopback), d => Assert.True(d.Span.IsKnown, ns.Name + " " + d.Name));
            Assert.All(ns.Addresses, a => Assert.True(a.Span.IsKnown, ns.Name + " " + a.Address));
            Assert.All(ns.Routes, r => Assert.True(r.Span.IsKnown, ns.Name + " " + r.Destination));
            Assert.All(ns.Fdb, f => Assert.True(f.Span.IsKnown));
            Assert.All(ns.Neighbors, n => Assert.True(n.Span.IsKnown));
            Assert.All(ns.Sysctls, s => Assert.True(s.Span.IsKnown, ns.Name + " " + s.Key));
            Assert.All(ns.Tables.SelectMany(t => t.Chains).SelectMany(c => c.Rules), r => Assert.True(r.Span.IsKnown, r.Origin));
            Assert.All(ns.Tables.SelectMany(t => t.Chains).SelectMany(c => c.Rules),
                r => Assert.DoesNotContain("(derived)", RuleComments.For(plan.Topology, r), System.StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_derived_ingress_network_and_gateway_bridge_point_at_the_first_port_published_through_the_mesh()
    {
        var (c, plan) = Compile(LoweringFixtures.ThreeNodePath, File.ReadAllText(LoweringFixtures.ThreeNodePath));
        string? PathOf(Text.SourceSpan s) => c.DeclarationPaths.PathOf(s);
        foreach (var host in plan.Hosts)
        {
            var rules = host.Ns("host").Tables.SelectMany(t => t.Chains).SelectMany(ch => ch.Rules).ToList();
            Assert.All(rules.Where(r => r.Origin is "swarm.ingress" or "networks.docker_gwbridge"), r => Assert.Equal("services.api.ports[0]", PathOf(r.Span)));
            Assert.Equal("services.api.ports[0]", PathOf(host.Ns("1-ingress").Span));
            Assert.Equal("services.api.ports[0]", PathOf(host.Ns("ingress_sbox").Span));
            Assert.Equal("services.api.ports[0]", PathOf(host.Ns("host").Device("docker_gwbridge").Span));
        }
        // The model still says they are derived: no place of their own, and the dump marks them.
        var model = TopologyDump.Render(c.Topology!);
        Assert.Contains("ingress driver=overlay subnet=10.0.0.0/24 gateway=10.0.0.1 vni=4096 mtu=1450 ingress (implicit) @(derived)", model, System.StringComparison.Ordinal);
        Assert.Contains("docker_gwbridge driver=bridge subnet=172.18.0.0/16 gateway=172.18.0.1 icc=false masquerade=true (implicit) @(derived)", model, System.StringComparison.Ordinal);
        Assert.All(c.Topology!.Networks.Where(n => n.Implicit), n => Assert.False(n.Span.IsKnown));
    }

    [Fact]
    public void Without_an_ingress_network_the_gateway_bridge_points_at_the_nodes_first_task_or_at_the_node()
    {
        const string yaml = """
            version: 1
            name: plain
            nodes:
              a: { address: 10.1.1.10/24, role: manager }
              b: { address: 10.1.1.11/24 }
              c: { address: 10.1.1.12/24 }
            networks:
              back: { driver: overlay, subnet: 10.20.0.0/24 }
            services:
              api:
                networks: [back]
                replicas: 2
                tasks:
                  - { node: b }
                  - { node: a }
              db:
                networks: [back]
                placement: { nodes: [b] }
            """;
        var (c, plan) = Compile("plain.swarm.yaml", yaml);
        string? Where(string node) => c.DeclarationPaths.PathOf(plan.Host(node).Ns("host").Chain("filter", "FORWARD").Rules[0].Span);
        // Docker makes docker_gwbridge for the first sandbox that needs a default gateway: here each node's first task.
        Assert.Equal("services.api.tasks[1]", Where("a"));
        Assert.Equal("services.api.tasks[0]", Where("b"));
        // Node c runs nothing, so Docker would not make the bridge there; the plan has it on every node and names the node.
        Assert.Equal("nodes.c", Where("c"));
        Assert.All(plan.Host("c").Ns("host").Sysctls.Where(s => s.Key == "net.ipv4.ip_forward"), s => Assert.Equal("nodes.c", c.DeclarationPaths.PathOf(s.Span)));
    }
}
