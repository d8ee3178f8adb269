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
}
