using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Engine;

namespace SwarmDsl.Runtime.Tests;

/// <summary>
/// One node's VXLAN static entries serve the same namespace of the other nodes (<see cref="SharedVxlanStatics"/>) only
/// where the view is exactly what that namespace's plan lists: checked against the plain table for every namespace of a
/// multi-node topology, and for plans whose lists differ in the ways a view could hide.
/// </summary>
public sealed class SharedVxlanStaticsTests
{
    private static DataplanePlan Plan(int seed)
    {
        var yaml = SwarmDsl.Synthetic.SyntheticTopology.Generate(new SwarmDsl.Synthetic.SyntheticTopologyOptions
        {
            Name = "shared-fdb", Nodes = 5, Overlays = 3, Services = 12, Tasks = 60, PublishedPorts = 8, Seed = seed,
        });
        var result = SwarmCompiler.CompileToPlan("shared-fdb.swarm.yaml", yaml, new LoweringOptions(LoadBalancerBackend.Ipvs));
        Assert.True(result.Plan is not null && !result.HasErrors, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    private static IEnumerable<(HostPlan Host, NamespacePlan Ns, string Device)> VxlanDevices(DataplanePlan plan) =>
        from h in plan.Hosts
        from ns in h.Namespaces
        from d in ns.Devices
        where d.Vxlan is not null && ns.Fdb.Any(f => f.RemoteVtep is not null && f.Device == d.Name)
        select (h, ns, d.Name);

    /// <summary>Every way of reading the view agrees with the plain table (keys, values, count, absent keys).</summary>
    private static void AssertSame(Dictionary<ulong, VxlanFdbEntry> expected, IReadOnlyDictionary<ulong, VxlanFdbEntry> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, what + ": count " + actual.Count + ", table " + expected.Count);
        var listed = actual.ToList();
        Assert.Equal(listed.Count, listed.Select(kv => kv.Key).Distinct().Count());
        Assert.Equal(expected.OrderBy(kv => kv.Key), listed.OrderBy(kv => kv.Key));
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var kv in expected)
        {
            Assert.True(actual.TryGetValue(kv.Key, out var v) && v == kv.Value, what + ": " + new MacAddress(kv.Key));
            Assert.True(actual.ContainsKey(kv.Key));
        }
        Assert.False(actual.ContainsKey(0x02_00_00_00_00_01UL));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void Every_overlay_namespace_sees_exactly_its_own_list_and_most_share_one_table(int seed)
    {
        var plan = Plan(seed);
        int views = 0, devices = 0;
        foreach (var (host, ns, device) in VxlanDevices(plan))
        {
            devices++;
            var actual = SharedVxlanStatics.For(plan, ns, device, host.UnderlayAddress.Address);
            if (actual is SharedVxlanStatics.View) views++;
            AssertSame(SharedVxlanStatics.Table(ns, device), actual, host.Node + "/" + ns.Name + "/" + device);
        }
        // Each overlay's first node makes the table; every other node of it takes a view (else this proves nothing).
        int tables = VxlanDevices(plan).Select(x => (x.Ns.Name, x.Device)).Distinct().Count();
        Assert.True(devices >= 10, "only " + devices + " VXLAN devices with entries");
        Assert.Equal(devices - tables, views);
    }

    /// <summary>
    /// Lists a view would get wrong if the check were weaker: an entry missing on one node, one pointing elsewhere, one
    /// listed twice with the later one different, and one of the node's own VTEP. Each gets exactly its own table.
    /// </summary>
    [Fact]
    public void A_node_whose_list_differs_gets_exactly_its_own_entries()
    {
        var plan = Plan(3);
        var devices = VxlanDevices(plan).ToList();
        var first = devices[0];
        var others = devices.Where(x => x.Ns.Name == first.Ns.Name && x.Device == first.Device && x.Host.Node != first.Host.Node).ToList();
        Assert.True(others.Count >= 3);
        // An entry the shared table (the first node's) holds too: one the view would show from there.
        var shared = SharedVxlanStatics.Table(first.Ns, first.Device);
        FdbPlan Remote(NamespacePlan ns, string device) => ns.Fdb.First(f => f.RemoteVtep is Ipv4Address vtep && f.Device == device
            && shared.TryGetValue(f.Mac.Value, out var e) && e.RemoteVtep == vtep);
        var cases = new List<(string What, Func<NamespacePlan, string, Ipv4Address, NamespacePlan> Change)>
        {
            ("an entry missing", (ns, d, own) => ns with { Fdb = ns.Fdb.Where(f => f != Remote(ns, d)).ToEquatableArray() }),
            ("an entry pointing elsewhere", (ns, d, own) => ns with { Fdb = ns.Fdb.Select(f => f == Remote(ns, d) ? f with { RemoteVtep = Ipv4Address.Parse("10.99.0.1") } : f).ToEquatableArray() }),
            ("a later entry for the same MAC", (ns, d, own) => ns with { Fdb = ns.Fdb.Append(Remote(ns, d) with { RemoteVtep = Ipv4Address.Parse("10.99.0.2") }).ToEquatableArray() }),
            ("an earlier different entry for the MAC", (ns, d, own) => ns with { Fdb = new[] { Remote(ns, d) with { RemoteVtep = Ipv4Address.Parse("10.99.0.3") } }.Concat(ns.Fdb).ToEquatableArray() }),
            ("the same entry twice", (ns, d, own) => ns with { Fdb = ns.Fdb.Append(Remote(ns, d)).ToEquatableArray() }),
            ("an entry of its own VTEP", (ns, d, own) => ns with { Fdb = ns.Fdb.Append(Remote(ns, d) with { Mac = new MacAddress(0x02_42_0a_63_00_09UL), RemoteVtep = own }).ToEquatableArray() }),
        };
        // The shared table is made from the first node's list (as a simulation would, on first use).
        Assert.IsNotType<SharedVxlanStatics.View>(SharedVxlanStatics.For(plan, first.Ns, first.Device, first.Host.UnderlayAddress.Address));
        for (int i = 0; i < cases.Count; i++)
        {
            var (host, ns, device) = others[i % others.Count];
            var own = host.UnderlayAddress.Address;
            var changed = cases[i].Change(ns, device, own);
            AssertSame(SharedVxlanStatics.Table(changed, device), SharedVxlanStatics.For(plan, changed, device, own), cases[i].What);
        }
    }

    /// <summary>A namespace's permanent neighbours, read both ways: the index <c>For</c> gives and the plan's own.</summary>
    private static void AssertSameNeighbors(NamespaceRuntime ns, string what)
    {
        var actual = PermanentNeighbors.For(ns);
        var expected = PermanentNeighbors.Plain(ns);
        Assert.Equal(expected.Select(kv => (kv.Key.Device, kv.Key.Address, kv.Value.Mac, kv.Value.Span)),
            actual.Select(kv => (kv.Key.Device, kv.Key.Address, kv.Value.Mac, kv.Value.Span)));
        foreach (var kv in expected)
            Assert.True(actual.TryGet(kv.Key, out var e) && e.Mac == kv.Value.Mac && e.Span.Equals(kv.Value.Span) && e.Permanent, what);
        // Keys of the other nodes' views that this one must not show: every address another namespace of the name holds.
        var mine = expected.Select(kv => kv.Key).ToHashSet();
        foreach (var other in ns.Owner!.Namespaces.Where(n => n.Name == ns.Name && n != ns))
            foreach (var kv in PermanentNeighbors.Plain(other))
                if (!mine.Contains(kv.Key)) Assert.False(actual.TryGet(kv.Key, out _), what + ": shows " + new Ipv4Address(kv.Key.Address));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void Every_namespace_sees_exactly_its_own_neighbours_and_most_overlay_namespaces_share_one_index(int seed)
    {
        var sim = new Simulation(Plan(seed), 1);
        int views = 0;
        foreach (var ns in sim.Cluster.Namespaces.Where(n => n.Plan is { Neighbors.Count: > 0 }))
        {
            AssertSameNeighbors(ns, ns.QualifiedName);
            if (PermanentNeighbors.For(ns).IsView) views++;
        }
        // Every node but the first of each overlay namespace takes a view (else this proves nothing).
        var overlays = sim.Cluster.Namespaces.Where(n => n.Plan is { Neighbors.Count: > 0 } && n.Kind == NamespaceKind.Overlay).ToList();
        Assert.Equal(overlays.Count - overlays.Select(n => n.Name).Distinct().Count(), views);
    }

    /// <summary>Lists a view would get wrong if its check were weaker: an entry missing on a node, one answering with another
    /// MAC, one of the node's own endpoints listed, and a key listed twice, the later one different.</summary>
    [Fact]
    public void A_node_whose_neighbours_differ_gets_exactly_its_own()
    {
        // Each case on a plan of its own: a namespace plan's index is cached with the plan object, so an unchanged node of a
        // plan changed with `with` would bring its index from the plan before.
        int cases = 0, views = 0;
        for (int c = 0; c < 5; c++)
        {
            var plan = Plan(3);
            var overlay = plan.Hosts[0].Namespaces.First(n => n.Kind == NamespaceKind.Overlay && n.Neighbors.Count > 0).Name;
            // An entry node 0's index holds too: one a view of it would show from there.
            var shared = plan.Hosts[0].Namespaces.First(n => n.Name == overlay).Neighbors.Select(n => (n.Address, n.Mac)).ToHashSet();
            int K(NamespacePlan ns) => ns.Neighbors.Select((n, i) => (n, i)).First(x => shared.Contains((x.n.Address, x.n.Mac))).i;
            NeighborPlan At(NamespacePlan ns) => ns.Neighbors[K(ns)];
            var (what, change) = c switch
            {
                0 => ("an entry missing", (Func<NamespacePlan, NamespacePlan>)(ns => ns with { Neighbors = ns.Neighbors.Where((n, i) => i != K(ns)).ToEquatableArray() })),
                1 => ("an entry with another MAC", ns => ns with { Neighbors = ns.Neighbors.Select((n, i) => i == K(ns) ? n with { Mac = new MacAddress(0x02_42_0a_63_00_01UL) } : n).ToEquatableArray() }),
                2 => ("a later entry for the same key", ns => ns with { Neighbors = ns.Neighbors.Append(At(ns) with { Mac = new MacAddress(0x02_42_0a_63_00_02UL) }).ToEquatableArray() }),
                3 => ("an earlier different entry for the key", ns => ns with { Neighbors = new[] { At(ns) with { Mac = new MacAddress(0x02_42_0a_63_00_03UL) } }.Concat(ns.Neighbors).ToEquatableArray() }),
                _ => ("the same entry twice, another missing", ns => ns with { Neighbors = ns.Neighbors.Where((n, i) => i != K(ns)).Append(ns.Neighbors.Where((n, i) => i != K(ns) && shared.Contains((n.Address, n.Mac))).First()).ToEquatableArray() }),
            };
            // Node 0 makes the index the others view; node 2's list is changed.
            var hosts = plan.Hosts.Select((h, i) => i != 2 ? h : h with
            {
                Namespaces = h.Namespaces.Select(n => n.Name == overlay ? change(n) : n).ToEquatableArray(),
            }).ToEquatableArray();
            var sim = new Simulation(plan with { Hosts = hosts }, 1);
            foreach (var ns in sim.Cluster.Namespaces.Where(n => n.Name == overlay)) AssertSameNeighbors(ns, what + " (" + ns.QualifiedName + ")");
            cases++;
            if (PermanentNeighbors.For(sim.Cluster.Namespaces.First(n => n.Name == overlay && n.Node == plan.Hosts[2].Node)).IsView) views++;
        }
        // The two cases with a key listed twice, the later one matching or not, keep a view (its extra entries decide).
        Assert.Equal(5, cases);
        Assert.Equal(2, views);
    }
}
