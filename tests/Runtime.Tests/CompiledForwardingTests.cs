using System;
using System.Linq;
using CsCheck;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>
/// The generated forwarding lookups (route decisions, permanent bridge and VXLAN FDB entries as switches): they take over
/// every route table and FDB, the walker really consults them (a lookup counter, and deliberately wrong answers change the
/// traces), and permanent entries added at run time never let them disagree with the tables. The random differential
/// traces (compiled netfilter and forwarding against the interpreter) are in <see cref="CompiledNetfilterTests"/>.
/// </summary>
public partial class CompiledNetfilterTests
{
    [Theory]
    [InlineData("two-node ipvs")]
    [InlineData("three-node")]
    [InlineData("synthetic")]
    public void Generated_forwarding_takes_over_every_route_table_and_fdb(string name)
    {
        var plan = PlanNamed(name);
        var sim = new Simulation(plan);
        int expected = 0, vxlans = 0, bridges = 0;
        foreach (var ns in sim.Cluster.Namespaces.Where(n => n.Plan is not null))
        {
            if (ns.Routes.Count > 0) expected++;
            foreach (var d in ns.Devices)
            {
                if (d.Kind == DeviceKind.Bridge) { expected++; bridges++; }
                if (d.VxlanFdb is { } v && v.StaticEntries().Count > 0) { expected++; vxlans++; }
            }
        }
        Assert.True(bridges > 0 && vxlans > 0, bridges + " bridges, " + vxlans + " VXLAN devices with static entries");
        Assert.Equal(expected, sim.Cluster.AttachForwarding(CompileForwarding(plan, name)));
    }

    /// <summary>
    /// The example with routes Docker never adds, so the compiled decision has runs long enough for a switch (/24s, /32s),
    /// prefixes nested in others, a duplicate prefix (the first added wins) and a route through a device that does not exist;
    /// and with FDB entries lowering never makes: a static entry behind a bridge port, a local one on the bridge itself, and
    /// one that re-points a port's own local entry (the last one loaded wins).
    /// </summary>
    private static DataplanePlan ManyRoutes()
    {
        var plan = ExamplePlans.Ipvs;
        var extra = new System.Collections.Generic.List<RoutePlan>();
        var gw = Ipv4Address.FromBytes(172, 18, 0, 1);
        for (int k = 0; k < 6; k++) extra.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.FromBytes(10, 50, (byte)k, 0), 24), gw, "eth1", null, RouteOrigin.Static, SwarmDsl.Text.SourceSpan.None));
        for (int k = 0; k < 5; k++) extra.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.FromBytes(10, 50, 1, (byte)(10 + k)), 32), null, "eth0", null, RouteOrigin.Static, SwarmDsl.Text.SourceSpan.None));
        extra.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.FromBytes(10, 0, 0, 0), 8), gw, "eth1", null, RouteOrigin.Static, SwarmDsl.Text.SourceSpan.None));
        extra.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.FromBytes(10, 50, 2, 0), 24), null, "eth0", null, RouteOrigin.Static, SwarmDsl.Text.SourceSpan.None));
        extra.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.FromBytes(192, 0, 2, 0), 24), null, "nonexistent0", null, RouteOrigin.Static, SwarmDsl.Text.SourceSpan.None));
        var none = SwarmDsl.Text.SourceSpan.None;
        var cluster = new Simulation(plan).Cluster;
        var hosts = plan.Hosts.Select(h => h with
        {
            Namespaces = new SwarmDsl.Collections.EquatableArray<NamespacePlan>(h.Namespaces.Select(n =>
                n.Name == "ingress_sbox" ? n with { Routes = new SwarmDsl.Collections.EquatableArray<RoutePlan>(n.Routes.Concat(extra)) }
                : n.Name == "1-ingress" ? n with
                {
                    Fdb = new SwarmDsl.Collections.EquatableArray<FdbPlan>(n.Fdb.Concat(new[]
                    {
                        new FdbPlan("veth1", new MacAddress(0x02420AFF0099UL), null, none),
                        new FdbPlan("br0", new MacAddress(0x02420AFF009AUL), null, none),
                        new FdbPlan("veth1", cluster.Namespace(h.Node, n.Name)!.Device("veth0")!.Mac, null, none),
                    })),
                }
                : n)),
        });
        return plan with { Hosts = new SwarmDsl.Collections.EquatableArray<HostPlan>(hosts) };
    }

    [Theory]
    [InlineData("two-node ipvs")]
    [InlineData("three-node")]
    [InlineData("synthetic")]
    [InlineData("many routes")]
    [InlineData("many endpoints")]
    public void Compiled_route_decisions_and_fdb_switches_answer_as_the_trie_and_tables(string name)
    {
        var plan = PlanNamed(name);
        var forwarding = CompileForwarding(plan, name);
        var cluster = new Simulation(plan).Cluster;
        var namespaces = cluster.Namespaces.Where(n => n.Plan is not null).ToArray();
        // Addresses at and around every prefix's edges, and anywhere.
        var edges = namespaces.SelectMany(n => n.Routes).SelectMany(r =>
        {
            uint net = r.Destination.Subnet.Network.Value, last = net | ~(r.Destination.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - r.Destination.PrefixLength));
            return new[] { net, last, net - 1, last + 1, net + 1 };
        }).Distinct().ToArray();
        var gAddress = Gen.OneOf(Gen.UInt, Gen.Int[0, edges.Length - 1].Select(i => edges[i]));
        // A namespace without routes has no compiled decision, and every namespace with routes has one.
        foreach (var ns in namespaces)
            Assert.True((forwarding.Routes(ns.Node, ns.Name) is null) == (ns.Routes.Count == 0), ns.Node + "/" + ns.Name);
        var routed = namespaces.Where(n => n.Routes.Count > 0).ToArray();
        Assert.NotEmpty(routed);
        // CsCheck samples on several threads at once, so the count of lookups is kept with Interlocked.
        int lookups = 0;
        Gen.Select(Gen.Int[0, routed.Length - 1], gAddress).Sample((nsIndex, address) =>
        {
            var ns = routed[nsIndex];
            var compiled = forwarding.Routes(ns.Node, ns.Name)!;
            int expected = ns.RouteTrie.TryLookup(new Ipv4Address(address), out var index, out _) ? index : -1;
            System.Threading.Interlocked.Increment(ref lookups);
            return compiled(address) == expected;
        }, iter: 20000);
        Assert.True(lookups >= 20000, lookups + " route lookups compared");
        if (name == "many routes")
        {
            var source = Source(plan);
            Assert.True(source.Split('\n').Count(l => l.TrimStart().StartsWith("switch ((d & 0xFFFFFF00u))", StringComparison.Ordinal) || l.TrimStart().StartsWith("switch (d)", StringComparison.Ordinal)) >= 2, "no switch runs");
        }

        if (name == "many routes")
            Assert.Contains("local = false", Source(plan), StringComparison.Ordinal);

        // FDBs: every MAC the tables hold (all permanent before traffic) and random ones, against the tables.
        int vxlans = 0;
        foreach (var ns in namespaces)
            foreach (var d in ns.Devices)
            {
                if (d.Fdb is { } fdb)
                {
                    var compiled = forwarding.BridgeFdb(ns.Node, ns.Name, d.Name)!;
                    foreach (var mac in fdb.Snapshot().Select(e => e.Key.Value).Concat(new[] { 0UL, 0xFFFFFFFFFFFFUL, 0x0242AC120002UL }))
                    {
                        bool inTable = fdb.TryLookup(new MacAddress(mac), 0, out var expected);
                        bool inCode = compiled(mac, out var entry);
                        Assert.Equal(inTable, inCode);
                        if (inTable) Assert.Equal(expected, entry);
                    }
                }
                if (d.VxlanFdb is { } vxlan && forwarding.VxlanFdb(ns.Node, ns.Name, d.Name) is { } compiledVxlan)
                {
                    // Every static MAC, its neighbours (between the parts of a split switch too) and the extremes.
                    var macs = vxlan.StaticEntries().Select(e => e.Key.Value).SelectMany(m => new[] { m - 1, m, m + 1 })
                        .Concat(new[] { 0UL, 0xFFFFFFFFFFFFUL }).Distinct();
                    foreach (var mac in macs)
                    {
                        bool inTable = vxlan.TryLookup(new MacAddress(mac), 0, out var expected);
                        bool inCode = compiledVxlan(mac, out var entry);
                        Assert.Equal(inTable, inCode);
                        if (inTable) Assert.Equal(expected, entry);
                    }
                    vxlans = Math.Max(vxlans, vxlan.StaticEntries().Count);
                }
            }
        if (name == "many endpoints")
        {
            Assert.True(vxlans > 256, "the largest VXLAN FDB has " + vxlans + " static entries: one method would hold them all");
            Assert.Contains("_1(ulong mac, out", Source(plan), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("three-node")]
    [InlineData("synthetic")]
    public void Loading_only_the_compiled_nodes_gives_their_namespaces_the_same_tables(string name)
    {
        var plan = PlanNamed(name);
        var full = new Simulation(plan).Cluster;
        static string Describe(System.Collections.Generic.IEnumerable<NamespaceForwarding> views)
        {
            var sb = new StringBuilder();
            foreach (var v in views)
            {
                sb.Append(v.Node).Append('/').Append(v.Name).Append('\n');
                foreach (var r in v.Routes) sb.Append("  ").Append(r.ToString()).Append('\n');
                foreach (var (bridge, entries) in v.Bridges) foreach (var e in entries) sb.Append("  ").Append(bridge).Append(' ').Append(e.ToString()).Append('\n');
                foreach (var (device, entries) in v.Vxlans) foreach (var e in entries) sb.Append("  ").Append(device).Append(' ').Append(e.ToString()).Append('\n');
            }
            return sb.ToString();
        }
        foreach (var host in plan.Hosts)
        {
            var expected = Describe(full.Namespaces.Where(n => n.Plan is not null && n.Node == host.Node).Select(ForwardingView.Of));
            var alone = Describe(ForwardingView.Of(plan, new[] { host.Node }));
            Assert.Contains("EffectiveFdbEntry", expected, StringComparison.Ordinal);
            Assert.Equal(expected, alone);
        }
        Assert.Equal(Describe(full.Namespaces.Where(n => n.Plan is not null).Select(ForwardingView.Of)), Describe(ForwardingView.Of(plan, null)));
    }

    [Fact]
    public void An_established_packet_through_the_compiled_pipeline_allocates_nothing_and_uses_the_compiled_lookups()
    {
        // The HotPathTests path (external → worker:8080 → IPVS → VXLAN → web.1) with compiled netfilter and forwarding.
        var plan = ExamplePlans.Ipvs;
        var (nf, fwd) = CompileBoth(plan, "two-node ipvs");
        var counting = new Wrapped(fwd);
        var sim = new Simulation(plan, 3);
        sim.Cluster.AttachNetfilter(nf);
        sim.Cluster.AttachForwarding(counting);
        Assert.True(sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error), error);
        ConnectionHandle? handle = null;
        for (int i = 0; i < 4 && handle is null; i++)
        {
            var r = sim.ConnectUntraced(flow);
            if (r.Task == "web.1") handle = r.Handle;
        }
        Assert.True(handle is not null, "no connection to web.1");
        var h = handle!.Value;
        var trace = sim.SendDataTraced(h, 100);
        Assert.Contains(trace.AllSteps(), s => s is VxlanEncapStep);
        for (int i = 0; i < 50; i++) Assert.Equal(DispositionKind.Delivered, sim.SendData(h, 100));
        int routes = counting.RouteCalls, vxlan = counting.VxlanHits, bridge = counting.BridgeHits;
        HotPathTests.AssertDeliveredWithoutAllocating(sim, h, 2000);
        // Every packet of the flow routes and encapsulates through the compiled code.
        Assert.True(counting.RouteCalls - routes >= 2000 * 2, (counting.RouteCalls - routes) + " compiled route lookups for 2000 packets");
        Assert.True(counting.VxlanHits - vxlan >= 2000, (counting.VxlanHits - vxlan) + " compiled VXLAN FDB hits for 2000 packets");
        Assert.True(counting.BridgeHits >= bridge);
    }

    [Fact]
    public void Attaching_builds_no_namespace_that_traffic_has_not_reached()
    {
        var plan = PlanNamed("synthetic");
        var (nf, fwd) = CompileBoth(plan, "synthetic");
        var sim = new Simulation(plan);
        int built = sim.Cluster.Namespaces.Count(n => n.BodyBuilt);
        Assert.True(built < sim.Cluster.Namespaces.Count, built + " of " + sim.Cluster.Namespaces.Count + " namespaces built at load");
        sim.Cluster.AttachNetfilter(nf);
        Assert.True(sim.Cluster.AttachForwarding(fwd) > 0);
        Assert.Equal(built, sim.Cluster.Namespaces.Count(n => n.BodyBuilt));
    }

    [Fact]
    public void Code_generated_for_another_plan_is_refused_by_AttachForwarding()
    {
        var sim = new Simulation(ExamplePlans.Nftables);
        var error = Assert.Throws<InvalidOperationException>(() => sim.Cluster.AttachForwarding(CompileForwarding(ExamplePlans.Ipvs, "two-node ipvs")));
        Assert.Contains("generated for plan " + PlanFingerprint.Compute(ExamplePlans.Ipvs), error.Message, StringComparison.Ordinal);
        Assert.Contains("this cluster runs plan " + PlanFingerprint.Compute(ExamplePlans.Nftables), error.Message, StringComparison.Ordinal);
    }

    /// <summary>TCP connections from outside and from every namespace to every address and port of the plan, traced with replies.</summary>
    private static string Sweep(Simulation sim, DataplanePlan plan)
    {
        var addresses = Addresses(plan);
        var ports = Ports(plan);
        var sb = new StringBuilder();
        int namespaces = sim.Cluster.Namespaces.Count;
        for (int src = -1; src < namespaces; src++)
            foreach (var dst in addresses)
                foreach (var port in ports)
                {
                    var ns = src < 0 ? sim.Cluster.ExternalClient(plan.Underlay.ExternalClient) : sim.Cluster.Namespaces[src];
                    if (ns.IsExternalClient && src >= 0) continue;
                    var flow = new Flow(ns.Index, ns.PrimaryAddress() ?? Ipv4Address.FromBytes(127, 0, 0, 1), dst, IpProtocol.Tcp, port, "sweep");
                    sb.Append(TextTraceRenderer.Render(sim.Connect(flow, 1), "sweep", includeReplies: true));
                }
        return sb.ToString();
    }

    private static string Sweep(DataplanePlan plan, ICompiledForwarding? forwarding, Action<Simulation>? edit = null)
    {
        var sim = new Simulation(plan, 3);
        if (forwarding is not null) sim.Cluster.AttachForwarding(forwarding);
        edit?.Invoke(sim);
        return Sweep(sim, plan);
    }

    [Fact]
    public void The_walker_consults_the_compiled_lookups_and_their_answers_decide()
    {
        var plan = ExamplePlans.Ipvs;
        var real = CompileForwarding(plan, "two-node ipvs");
        var interpreted = Sweep(plan, null);

        // Every kind of compiled lookup is called and answers; the traces stay the interpreter's.
        var counting = new Wrapped(real);
        Assert.Equal(interpreted, Sweep(plan, counting));
        Assert.True(counting.RouteCalls > 100 && counting.BridgeHits > 10 && counting.VxlanHits > 10,
            counting.RouteCalls + " route lookups, " + counting.BridgeHits + " bridge FDB hits, " + counting.VxlanHits + " VXLAN FDB hits");

        // Wrong answers change the traces: the walker acts on what the compiled code says.
        var noRoutes = Sweep(plan, new Wrapped(real) { Routes = (_, _) => -1 });
        Assert.NotEqual(interpreted, noRoutes);
        Assert.Contains("no route to", noRoutes, StringComparison.Ordinal);
        // Every MAC the compiled switch does not know claimed as local: frames for learned MACs go up to the bridge instead.
        var allLocal = Sweep(plan, new Wrapped(real) { Bridge = (mac, found, e) => found ? e : new FdbEntry(0, FdbEntryKind.Local, 0) });
        Assert.NotEqual(interpreted, allLocal);
        var elsewhere = Ipv4Address.FromBytes(192, 0, 2, 1);
        var wrongVtep = Sweep(plan, new Wrapped(real) { Vxlan = (mac, found, e) => found ? new VxlanFdbEntry(elsewhere, true, 0) : e });
        Assert.NotEqual(interpreted, wrongVtep);
        Assert.Contains(elsewhere.ToString(), wrongVtep, StringComparison.Ordinal);
    }

    [Fact]
    public void Compiled_lookups_survive_a_reset_and_attach_to_fdbs_built_before()
    {
        var plan = ExamplePlans.Ipvs;
        var counting = new Wrapped(CompileForwarding(plan, "two-node ipvs"));
        var sim = new Simulation(plan, 3);
        var interpreted = new Simulation(plan, 3);
        // Traffic first: the FDBs are built (and learn) before the compiled code is attached.
        Assert.Equal(Sweep(interpreted, plan), Sweep(sim, plan));
        sim.Cluster.AttachForwarding(counting);
        Assert.Equal(Sweep(interpreted, plan), Sweep(sim, plan));
        int before = counting.BridgeHits;
        Assert.True(before > 0 && counting.VxlanHits > 0);
        // A reset rebuilds the FDBs that learned: they take the compiled entries again.
        sim.Reset();
        interpreted.Reset();
        Assert.Equal(Sweep(interpreted, plan), Sweep(sim, plan));
        Assert.True(counting.BridgeHits > before, counting.BridgeHits + " bridge FDB hits after the reset, " + before + " before");
    }

    [Fact]
    public void Permanent_entries_added_at_run_time_never_let_the_compiled_switch_disagree()
    {
        var plan = ExamplePlans.Ipvs;
        var forwarding = CompileForwarding(plan, "two-node ipvs");
        // The gateway bridge's own address re-pointed to a port (replies towards the default gateway now leave by it), and a
        // remote task's MAC pointed at another VTEP: both change what the interpreter does, so the switch must step aside.
        void Edit(Simulation sim)
        {
            var host = sim.Cluster.Namespace("manager", "host")!;
            var gw = host.Device("docker_gwbridge")!;
            gw.Fdb!.AddPermanent(gw.Mac, gw.Ports[0], FdbEntryKind.Static);
            var vxlan = sim.Cluster.Namespace("manager", "1-ingress")!.Device("vxlan0")!;
            var remote = vxlan.VxlanFdb!.StaticEntries()[0].Key;
            vxlan.VxlanFdb.AddStatic(remote, Ipv4Address.FromBytes(192, 0, 2, 7));
        }
        var edited = Sweep(plan, null, Edit);
        Assert.NotEqual(Sweep(plan, null), edited);
        Assert.Equal(edited, Sweep(plan, forwarding, Edit));
        // Attached after the edit: the edited tables refuse the stale switch as well.
        var sim = new Simulation(plan, 3);
        Edit(sim);
        sim.Cluster.AttachForwarding(forwarding);
        Assert.Equal(edited, Sweep(sim, plan));
    }

    /// <summary>Wraps generated forwarding: counts lookups, and optionally rewrites their answers.</summary>
    private sealed class Wrapped(ICompiledForwarding inner) : ICompiledForwarding
    {
        public int RouteCalls, BridgeHits, VxlanHits;
        public Func<uint, int, int>? Routes { get; init; }
        public Func<ulong, bool, FdbEntry, FdbEntry?>? Bridge { get; init; }
        public Func<ulong, bool, VxlanFdbEntry, VxlanFdbEntry?>? Vxlan { get; init; }

        public string PlanFingerprint => inner.PlanFingerprint;

        CompiledRouteLookup? ICompiledForwarding.Routes(string node, string namespaceName)
        {
            var real = inner.Routes(node, namespaceName);
            if (real is null) return null;
            return d =>
            {
                RouteCalls++;
                int index = real(d);
                return Routes is null ? index : Routes(d, index);
            };
        }

        public CompiledFdbLookup? BridgeFdb(string node, string namespaceName, string bridge)
        {
            var real = inner.BridgeFdb(node, namespaceName, bridge);
            if (real is null) return null;
            return (ulong mac, out FdbEntry entry) =>
            {
                bool found = real(mac, out entry);
                if (found) BridgeHits++;
                if (Bridge is null) return found;
                var rewritten = Bridge(mac, found, entry);
                entry = rewritten ?? default;
                return rewritten is not null;
            };
        }

        public CompiledVxlanFdbLookup? VxlanFdb(string node, string namespaceName, string device)
        {
            var real = inner.VxlanFdb(node, namespaceName, device);
            if (real is null) return null;
            return (ulong mac, out VxlanFdbEntry entry) =>
            {
                bool found = real(mac, out entry);
                if (found) VxlanHits++;
                if (Vxlan is null) return found;
                if (!found) return false;
                entry = Vxlan(mac, found, entry) ?? entry;
                return true;
            };
        }
    }
}
