using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Lowering;

/// <summary>Properties every lowered plan must have, checked on both test topologies and both backends.</summary>
public class PlanInvariantTests
{
    public static IEnumerable<object[]> Plans()
    {
        foreach (var backend in new[] { LoadBalancerBackend.Ipvs, LoadBalancerBackend.Nftables })
        {
            yield return new object[] { "example", backend };
            yield return new object[] { "three-node", backend };
        }
    }

    private static DataplanePlan Load(string which, LoadBalancerBackend backend)
        => which == "example" ? LoweringFixtures.Example(backend) : LoweringFixtures.ThreeNode(backend);

    [Theory, MemberData(nameof(Plans))]
    public void Lowering_is_deterministic(string which, LoadBalancerBackend backend)
    {
        var a = Load(which, backend);
        var b = Load(which, backend);
        Assert.True(a.Equals(b));
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(PlanDump.Render(a), PlanDump.Render(b));

        // Lowering the same topology object twice also gives equal plans.
        var path = which == "example" ? Paths.Example : LoweringFixtures.ThreeNodePath;
        var topology = SwarmCompiler.Compile(path, File.ReadAllText(path)).Topology!;
        var options = new LoweringOptions(backend);
        Assert.Equal(SwarmLowering.Lower(topology, options, new DiagnosticBag()), SwarmLowering.Lower(topology, options, new DiagnosticBag()));
    }

    [Fact]
    public void Backends_give_different_plans()
        => Assert.NotEqual(LoweringFixtures.Example(LoadBalancerBackend.Ipvs), LoweringFixtures.Example(LoadBalancerBackend.Nftables));

    [Theory, MemberData(nameof(Plans))]
    public void Every_veth_has_a_peer_pointing_back_and_exactly_one_end_creates_the_pair(string which, LoadBalancerBackend backend)
    {
        foreach (var host in Load(which, backend).Hosts)
        {
            foreach (var ns in host.Namespaces)
            foreach (var dev in ns.Devices.Where(d => d.Kind == DeviceKind.Veth))
            {
                Assert.NotNull(dev.Peer);
                var peerNs = host.Namespaces.Single(n => n.Name == dev.Peer!.Namespace);
                var peer = peerNs.Devices.Single(d => d.Name == dev.Peer!.Device);
                Assert.Equal(DeviceKind.Veth, peer.Kind);
                Assert.Equal(new VethPeer(ns.Name, dev.Name, !dev.Peer!.CreatesPair), peer.Peer);
                Assert.Equal(dev.Mtu, peer.Mtu);
                // The sandbox end creates the pair; its peer's namespace is listed before it.
                var creator = dev.Peer.CreatesPair ? ns : peerNs;
                Assert.Contains(creator.Kind, new[] { NamespaceKind.Task, NamespaceKind.IngressSandbox, NamespaceKind.LoadBalancer });
                var order = host.Namespaces.ToList();
                Assert.True(order.IndexOf(dev.Peer.CreatesPair ? peerNs : ns) < order.IndexOf(creator));
            }
        }
    }

    [Theory, MemberData(nameof(Plans))]
    public void Names_fit_the_kernel_and_are_unique_per_namespace(string which, LoadBalancerBackend backend)
    {
        foreach (var host in Load(which, backend).Hosts)
        {
            Assert.Equal("host", host.Namespaces[0].Name);
            Assert.Equal(host.Namespaces.Count, host.Namespaces.Select(n => n.Name).Distinct().Count());
            foreach (var ns in host.Namespaces)
            {
                Assert.All(ns.Devices, d => Assert.InRange(d.Name.Length, 1, InterfaceNames.MaxLength));
                Assert.Equal(ns.Devices.Count, ns.Devices.Select(d => d.Name).Distinct().Count());
                // Addresses, routes and masters refer to devices of the same namespace.
                var names = ns.Devices.Select(d => d.Name).ToHashSet();
                Assert.All(ns.Addresses, a => Assert.Contains(a.Device, names));
                Assert.All(ns.Routes, r => Assert.Contains(r.Device, names));
                Assert.All(ns.Devices.Where(d => d.Master is not null), d => Assert.Equal(DeviceKind.Bridge, ns.Devices.Single(b => b.Name == d.Master).Kind));
            }
        }
    }

    [Theory, MemberData(nameof(Plans))]
    public void Every_rule_has_an_origin_and_every_jump_reaches_a_user_chain(string which, LoadBalancerBackend backend)
    {
        foreach (var ns in Load(which, backend).Hosts.SelectMany(h => h.Namespaces))
        foreach (var table in ns.Tables)
        foreach (var rule in table.Chains.SelectMany(c => c.Rules))
        {
            Assert.Matches(@"^(swarm\.ingress|networks\.[a-z][a-z0-9_-]*|services\.[a-z][a-z0-9_-]*(\.ports\[\d+\])?|rules\[\d+\])$", rule.Origin);
            if (rule.Target is JumpTarget j)
                Assert.False(Assert.Single(table.Chains, c => c.Name == j.Chain).BuiltIn);
        }
    }

    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void In_the_example_everything_but_loopback_points_at_a_declaration(LoadBalancerBackend backend)
    {
        // The example declares docker_gwbridge and ingress, so nothing it lowers to is implicit except lo.
        var plan = LoweringFixtures.Example(backend);
        foreach (var ns in plan.Hosts.SelectMany(h => h.Namespaces))
        {
            Assert.True(ns.Span.IsKnown, ns.Name);
            Assert.All(ns.Devices.Where(d => d.Kind != DeviceKind.Loopback), d => Assert.True(d.Span.IsKnown, d.Name));
            Assert.All(ns.Devices.Where(d => d.Kind == DeviceKind.Loopback), d => Assert.False(d.Span.IsKnown));
            Assert.All(ns.Addresses, a => Assert.True(a.Span.IsKnown));
            Assert.All(ns.Routes, r => Assert.True(r.Span.IsKnown));
            Assert.All(ns.Fdb, f => Assert.True(f.Span.IsKnown));
            Assert.All(ns.Sysctls, s => Assert.True(s.Span.IsKnown, s.Key));
            Assert.All(ns.Tables.SelectMany(t => t.Chains).SelectMany(c => c.Rules), r => Assert.True(r.Span.IsKnown, r.Origin));
        }
    }
}
