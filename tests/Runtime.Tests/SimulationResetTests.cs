using System;
using System.IO;
using System.Linq;
using System.Text;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Runtime.State;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests;

/// <summary><see cref="Simulation.Reset"/> must leave a simulation indistinguishable from a freshly loaded one.</summary>
public sealed class SimulationResetTests
{
    public static TheoryData<string> Plans => new() { "ipvs", "nftables", "synthetic" };

    [Theory]
    [MemberData(nameof(Plans))]
    public void A_reset_simulation_traces_exactly_like_a_fresh_one(string name)
    {
        var (topology, plan) = Load(name);
        const uint Seed = 7;
        var fresh = Script(new Simulation(plan, Seed), topology, plan);

        var sim = new Simulation(plan, Seed);
        Disturb(sim, topology, plan);
        // The disturbance must show in the script, or the comparison below proves nothing.
        var disturbed = Script(sim, topology, plan);
        Assert.NotEqual(fresh, disturbed);

        Disturb(sim, topology, plan);
        sim.Reset();
        AssertSame(fresh, Script(sim, topology, plan));
        // Reset straight after the script too (its own connections still open).
        sim.Reset();
        AssertSame(fresh, Script(sim, topology, plan));
    }

    /// <summary>
    /// The analyses reset after every probe, touching only the namespaces traffic entered (or changed in passing: ARP
    /// learns on bridges and at the answerer): that must be as good as a whole reset after traffic of every kind.
    /// </summary>
    [Theory]
    [MemberData(nameof(Plans))]
    public void A_traffic_reset_simulation_traces_exactly_like_a_fresh_one(string name)
    {
        var (topology, plan) = Load(name);
        const uint Seed = 7;
        var fresh = Script(new Simulation(plan, Seed), topology, plan);

        var sim = new Simulation(plan, Seed);
        Disturb(sim, topology, plan, trafficOnly: true);
        Assert.NotEqual(fresh, Script(sim, topology, plan));

        Disturb(sim, topology, plan, trafficOnly: true);
        sim.ResetTraffic();
        AssertSame(fresh, Script(sim, topology, plan));
        sim.ResetTraffic();
        AssertSame(fresh, Script(sim, topology, plan));
    }

    /// <summary>
    /// ARP at the answerer overwrites whatever its cache held for the asker; a traffic reset must bring back the plan's
    /// permanent entry, not just the table's size.
    /// </summary>
    [Fact]
    public void A_traffic_reset_restores_a_permanent_neighbour_that_traffic_overwrote()
    {
        var (_, plan) = Load("ipvs");
        var sim = new Simulation(plan);
        var ns = sim.Cluster.Namespaces.First(n => n.Plan is { } p && p.Neighbors.Count > 0);
        var permanent = ns.NeighborTable().First(kv => kv.Value.Permanent);
        int count = ns.NeighborTable().Count;
        var learned = new NeighborEntry(new MacAddress(0x02_00_00_00_00_99), false, "test", SwarmDsl.Text.SourceSpan.None);
        ns.LearnNeighbor(permanent.Key, learned);
        ns.LearnNeighbor(new NeighborKey(permanent.Key.Device, Ipv4Address.FromBytes(203, 0, 113, 7)), learned);
        Assert.Equal(count + 1, ns.NeighborTable().Count);
        Assert.True(ns.TryGetNeighbor(permanent.Key, out var overwritten) && !overwritten.Permanent);
        sim.Cluster.Touch(ns);
        sim.ResetTraffic();
        Assert.True(ns.TryGetNeighbor(permanent.Key, out var restored));
        Assert.Equal(permanent.Value, restored);
        Assert.Equal(count, ns.NeighborTable().Count);
    }

    /// <summary>
    /// A cluster builds each namespace's tables, IPVS services, neighbours and FDBs on first use; one that builds them all
    /// up front must trace exactly the same, fresh and after a reset.
    /// </summary>
    [Theory]
    [MemberData(nameof(Plans))]
    public void A_lazily_loaded_simulation_traces_exactly_like_an_eagerly_loaded_one(string name)
    {
        var (topology, plan) = Load(name);
        const uint Seed = 3;
        var lazy = new Simulation(plan, Seed);
        // Loading builds no namespace's tables, services, neighbours or FDBs, nor (but for the hosts, which hold the
        // underlay) its devices, addresses and routes: traffic does, where it goes.
        Assert.All(lazy.Cluster.Namespaces, ns => Assert.False(ns.TablesLoaded || ns.IpvsLoaded || ns.FdbLoaded || ns.PermanentNeighborIndex is not null
            || (ns.BodyBuilt && ns.Kind != NamespaceKind.Host)));
        var eager = new Simulation(plan, Seed);
        eager.Cluster.LoadEverything();
        var expected = Script(eager, topology, plan);
        AssertSame(expected, Script(lazy, topology, plan));

        // After a reset, parts that traffic changed are built again on first use; everything else was kept.
        var lazyAgain = new Simulation(plan, Seed);
        Disturb(lazyAgain, topology, plan);
        lazyAgain.Reset();
        Assert.Contains(lazyAgain.Cluster.Namespaces, ns => ns.Plan is not null && !ns.TablesLoaded);
        AssertSame(expected, Script(lazyAgain, topology, plan));
        eager.Reset();
        eager.Cluster.LoadEverything();
        AssertSame(expected, Script(eager, topology, plan));
    }

    private static void AssertSame(string expected, string actual)
    {
        if (string.Equals(expected, actual, StringComparison.Ordinal)) return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        int i = 0;
        while (i < e.Length && i < a.Length && e[i] == a[i]) i++;
        Assert.Fail("reset simulation differs from a fresh one at line " + (i + 1) + ":\n  fresh: " + (i < e.Length ? e[i] : "<end>")
            + "\n  reset: " + (i < a.Length ? a[i] : "<end>"));
    }

    private static (Topology Topology, DataplanePlan Plan) Load(string name)
    {
        var (file, text, backend) = name switch
        {
            "ipvs" => (Paths.Example, File.ReadAllText(Paths.Example), LoadBalancerBackend.Ipvs),
            "nftables" => (Paths.Example, File.ReadAllText(Paths.Example), LoadBalancerBackend.Nftables),
            _ => ("synthetic.swarm.yaml", SwarmDsl.Synthetic.SyntheticTopology.Generate(SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with
            {
                Name = "synthetic", Nodes = 4, Overlays = 2, Services = 6, Tasks = 10, PublishedPorts = 5, HostModePercent = 30, UdpPercent = 40,
            }), LoadBalancerBackend.Ipvs),
        };
        var result = SwarmCompiler.CompileToPlan(file, text, new LoweringOptions(backend));
        Assert.True(result.Plan is not null && result.Topology is not null, string.Join("\n", result.Diagnostics));
        return (result.Topology!, result.Plan!);
    }

    /// <summary>
    /// Traffic that leaves every kind of dynamic state behind: open connections, conntrack and IPVS entries, learned FDB
    /// and neighbour entries, counters, a second external client, a changed IPVS weight, time that passed.
    /// </summary>
    private static void Disturb(Simulation sim, Topology topology, DataplanePlan plan, bool trafficOnly = false)
    {
        var other = Ipv4Address.FromBytes(203, 0, 113, 9);
        foreach (var s in topology.Services)
            foreach (var p in s.Ports)
            {
                var proto = p.Protocol.Name();
                foreach (var n in topology.Nodes)
                {
                    if (sim.TryResolve("external", n.Name + ":" + p.Published + "/" + proto, out var f, out _)) sim.Connect(f, 2);
                    // A client the plan does not know, created on first use (Reset must forget it again).
                    if (sim.TryResolve("external", n.Name + ":" + p.Published + "/" + proto, out f, out _))
                        sim.Connect(f with { SourceNamespace = sim.Cluster.ExternalClient(other).Index, Source = other }, 1);
                }
            }
        foreach (var pair in ReachAnalysis.Pairs(topology).Take(20))
            if (sim.TryResolve(pair.Source, pair.Destination, out var f, out _))
            {
                var r = sim.ConnectUntraced(f);
                if (r.Handle is { } h) sim.SendData(h, 100);
            }
        if (!trafficOnly)
            foreach (var ns in sim.Cluster.Namespaces)
                foreach (var svc in ns.IpvsServices)
                    if (svc.Destinations.Length > 1) svc.SetWeight(0, svc.Destinations[0].Weight + 3);
        sim.Advance(TimeSpan.FromSeconds(5));
    }

    /// <summary>A fixed sequence of traced connections, data and closes, then every table the state view shows.</summary>
    private static string Script(Simulation sim, Topology topology, DataplanePlan plan)
    {
        var sb = new StringBuilder();
        foreach (var s in topology.Services)
            foreach (var p in s.Ports)
            {
                var to = topology.Nodes[0].Name + ":" + p.Published + "/" + p.Protocol.Name();
                if (!sim.TryResolve("external", to, out var f, out var error)) { sb.Append(to).Append(": ").Append(error).Append('\n'); continue; }
                sb.Append(TextTraceRenderer.Render(sim.Connect(f, 3), "external → " + to, includeReplies: true));
            }
        foreach (var pair in ReachAnalysis.Pairs(topology).Take(30))
        {
            if (!sim.TryResolve(pair.Source, pair.Destination, out var f, out var error)) { sb.Append(error).Append('\n'); continue; }
            sb.Append(TextTraceRenderer.Render(sim.Connect(f, 2), pair.Source + " → " + pair.Destination, includeReplies: true));
            var r = sim.ConnectUntraced(f);
            if (r.Handle is { } h)
            {
                sb.Append(TextTraceRenderer.Render(sim.SendDataTraced(h, 200)));
                foreach (var t in sim.CloseTraced(h)) sb.Append(TextTraceRenderer.Render(t));
            }
        }
        var state = new SimulatedDataplaneState(sim);
        foreach (var h in plan.Hosts)
            foreach (var n in h.Namespaces)
            {
                foreach (var c in state.ConntrackEntries(h.Node, n.Name)) sb.Append("ct ").Append(c).Append('\n');
                foreach (var c in state.IpvsConnections(h.Node, n.Name)) sb.Append("ipvs ").Append(c).Append('\n');
                foreach (var s in n.Ipvs)
                {
                    sb.Append("svc ").Append(state.IpvsService(h.Node, n.Name, s.FwMark, s.Vip, s.Port)).Append('\n');
                    foreach (var d in s.Destinations)
                        sb.Append("dest ").Append(state.IpvsDestination(h.Node, n.Name, s.FwMark, s.Vip, s.Port, d.Address)).Append('\n');
                }
                foreach (var d in n.Devices) sb.Append("if ").Append(d.Name).Append(' ').Append(state.Interface(h.Node, n.Name, d.Name)).Append('\n');
                foreach (var t in n.Tables)
                    foreach (var c in t.Chains)
                        for (int i = -1; i < c.Rules.Count; i++)
                            sb.Append("rule ").Append(t.Name).Append(' ').Append(c.Name).Append(' ').Append(i).Append(' ')
                              .Append(state.RuleCounters(h.Node, n.Name, t.Name, c.Name, i)).Append('\n');
            }
        return sb.ToString();
    }
}
