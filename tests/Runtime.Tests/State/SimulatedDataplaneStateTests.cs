using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.State;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.State;

/// <summary><see cref="SimulatedDataplaneState"/>: what the show views read after traffic ran through the simulation.</summary>
public class SimulatedDataplaneStateTests
{
    private static (Simulation Sim, IReadOnlyList<ConnectionTrace> Traces) TwoConnections()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out var error), error);
        var traces = sim.Connect(flow, 2, captureFrames: true);
        foreach (var t in traces)
        {
            Assert.Equal(DispositionKind.Delivered, t.Request.Disposition.Kind);
            Assert.NotNull(t.Reply);
        }
        return (sim, traces);
    }

    private static IpvsServicePlan IngressService(Simulation sim) =>
        sim.Cluster.Namespace("manager", "ingress_sbox")!.Plan!.Ipvs.Single(s => s.FwMark == 256);

    [Fact]
    public void A_fresh_simulation_has_no_connections_and_zero_counters()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        var state = new SimulatedDataplaneState(sim);
        foreach (var ns in sim.Cluster.Namespaces.Where(n => !n.IsExternalClient))
        {
            Assert.Empty(state.ConntrackEntries(ns.Node, ns.Name));
            Assert.Empty(state.IpvsConnections(ns.Node, ns.Name));
            foreach (var d in ns.Devices)
                Assert.Equal(new InterfaceCounters(0, 0, 0, 0, 0, 0, 0, 0), state.Interface(ns.Node, ns.Name, d.Name));
        }
        var svc = IngressService(sim);
        Assert.Equal(new IpvsStatistics(0, 0, 0, 0, 0), state.IpvsService("manager", "ingress_sbox", 256, svc.Vip, null));
    }

    [Fact]
    public void Two_connections_are_split_over_the_real_servers_and_counted()
    {
        var (sim, _) = TwoConnections();
        var state = new SimulatedDataplaneState(sim);
        var svc = IngressService(sim);
        var total = state.IpvsService("manager", "ingress_sbox", 256, svc.Vip, null)!;
        Assert.Equal(2UL, total.Connections);
        // Per connection: SYN and the handshake's ACK in, the SYN-ACK out.
        Assert.Equal(4UL, total.InPackets);
        Assert.Equal(2UL, total.OutPackets);
        Assert.Equal(2, svc.Destinations.Count);
        foreach (var d in svc.Destinations)
        {
            var live = state.IpvsDestination("manager", "ingress_sbox", 256, svc.Vip, null, d.Address)!;
            Assert.Equal(1UL, live.Statistics.Connections);
            Assert.Equal(1U, live.ActiveConnections);
            Assert.Equal(0U, live.InactiveConnections);
        }
        Assert.Null(state.IpvsService("manager", "ingress_sbox", 999, svc.Vip, null));

        var conns = state.IpvsConnections("manager", "ingress_sbox");
        Assert.Equal(2, conns.Count);
        Assert.All(conns, c => Assert.Equal("ESTABLISHED", c.State));
        // ESTABLISHED: 15 min (ip_vs_proto_tcp.c), counted down from the last packet a few simulated milliseconds ago and
        // printed in whole seconds, rounded down.
        Assert.All(conns, c => Assert.Equal(15 * 60 - 1, c.ExpiresInSeconds));
        Assert.Equal(svc.Destinations.Select(d => d.Address).OrderBy(a => a.Value), conns.Select(c => c.Destination).OrderBy(a => a.Value));
        Assert.Equal(2, conns.Select(c => c.ClientPort).Distinct().Count());
        Assert.Empty(state.IpvsConnections("worker", "ingress_sbox"));
    }

    [Fact]
    public void Host_conntrack_shows_the_published_port_dnat_to_the_ingress_sandbox()
    {
        var (sim, _) = TwoConnections();
        var state = new SimulatedDataplaneState(sim);
        var manager = sim.Cluster.Plan.Hosts.Single(h => h.Node == "manager").UnderlayAddress.Address;
        var ipvs = state.IpvsConnections("manager", "ingress_sbox");
        var tcp = state.ConntrackEntries("manager", "host").Where(e => e.Protocol == IpProtocol.Tcp).ToList();
        Assert.Equal(2, tcp.Count);
        foreach (var e in tcp)
        {
            Assert.Equal(manager, e.Original.Destination);
            Assert.Equal(8080, e.Original.DestinationPort);
            // The reply comes from where DOCKER-INGRESS DNATed to: the virtual address IPVS saw.
            var c = ipvs.Single(x => x.ClientPort == e.Original.SourcePort);
            Assert.Equal(c.Virtual, e.Reply.Source);
            Assert.Equal(e.Original.Source, e.Reply.Destination);
            Assert.Equal(e.Original.SourcePort, e.Reply.DestinationPort);
            Assert.Equal("ESTABLISHED", e.TcpState);
            Assert.Equal(5 * 24 * 3600 - 1, e.TimeoutSeconds); // tcp_timeouts[ESTABLISHED], a few ms after the last packet
            Assert.True(e.Assured);
            Assert.False(e.Unreplied);
        }
        // The sandbox tracks the IPVS-forwarded flow (vs/conntrack=1) with the real server as the reply's source.
        var sbox = state.ConntrackEntries("manager", "ingress_sbox").Where(e => e.Protocol == IpProtocol.Tcp).ToList();
        Assert.Equal(ipvs.Select(c => c.Destination).OrderBy(a => a.Value), sbox.Select(e => e.Reply.Source).OrderBy(a => a.Value));
    }

    [Fact]
    public void Device_counters_match_the_frames_the_traces_crossed()
    {
        var (sim, traces) = TwoConnections();
        var state = new SimulatedDataplaneState(sim);
        // The untraced ACK completing each handshake follows its SYN's path, so it counts once more per request frame.
        var rx = new Dictionary<string, ulong>();
        var tx = new Dictionary<string, ulong>();
        void Count(PacketTrace t, ulong weight)
        {
            foreach (var f in t.Frames)
            {
                var map = f.Inbound ? rx : tx;
                map[f.Interface] = map.GetValueOrDefault(f.Interface) + weight;
            }
        }
        foreach (var t in traces) { Count(t.Request, 2); Count(t.Reply!, 1); }
        int crossed = 0;
        foreach (var ns in sim.Cluster.Namespaces)
            foreach (var d in ns.Devices)
            {
                var c = state.Interface(ns.Node, ns.Name, d.Name)!;
                Assert.Equal(tx.GetValueOrDefault(d.QualifiedName), c.TxPackets);
                // A bridge also counts the frames it passes up to its own stack, which no device captures.
                if (d.Kind != DeviceKind.Bridge) Assert.Equal(rx.GetValueOrDefault(d.QualifiedName), c.RxPackets);
                if (c.RxPackets + c.TxPackets > 0) crossed++;
            }
        Assert.True(crossed >= 6, "the flow crosses the underlay, the gateway bridge, the sandbox and a task on each node");
        Assert.Equal(0UL, state.Interface("manager", "host", "lo")!.RxPackets);
        Assert.Null(state.Interface("manager", "host", "nope"));
    }

    private static string Show(Simulation sim, string node, string ns, params string[] command)
    {
        var host = sim.Cluster.Plan.Hosts.Single(h => h.Node == node);
        var result = ShowCommandLine.Run(sim.Cluster.Plan, host, host.Namespaces.Single(n => n.Name == ns), command,
            new ShowOptions { State = new SimulatedDataplaneState(sim) });
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Output;
    }

    [Fact]
    public void Rule_counters_count_matches_before_the_target_and_policies_at_the_chain_end()
    {
        // ipt_do_table: ADD_COUNTER(e->counters, skb->len, 1) for every entry that matches, before its target runs — a
        // jump counts every packet it sends into the chain; the base chain's policy (its last entry) counts what falls off
        // the end. Only a connection's first packet traverses nat.
        var (sim, _) = TwoConnections();
        var state = new SimulatedDataplaneState(sim);
        var jump = state.RuleCounters("manager", "host", "nat", "PREROUTING", 0)!.Value;
        var dnat = state.RuleCounters("manager", "host", "nat", "DOCKER-INGRESS", 0)!.Value;
        var ret = state.RuleCounters("manager", "host", "nat", "DOCKER-INGRESS", 1)!.Value;
        Assert.Equal((2UL, 80UL), (dnat.Packets, dnat.Bytes)); // two SYNs of 40 bytes (20 IPv4 + 20 TCP)
        Assert.Equal(jump.Packets, dnat.Packets + ret.Packets);
        Assert.Equal(jump.Bytes, dnat.Bytes + ret.Bytes);
        Assert.Null(state.RuleCounters("manager", "host", "nat", "NO-SUCH-CHAIN", 0));

        Assert.Contains("[2:80] -A DOCKER-INGRESS -p tcp -m tcp --dport 8080", Show(sim, "manager", "host", "iptables-save", "-c", "-t", "nat"), StringComparison.Ordinal);
        var list = Show(sim, "manager", "host", "iptables", "-t", "nat", "-L", "DOCKER-INGRESS", "-v", "-n");
        Assert.Contains("\n    2    80 DNAT ", list, StringComparison.Ordinal);
    }

    [Fact]
    public void Iptables_list_prints_large_counters_with_units_as_xtables_print_num_does()
    {
        // xtables_print_num: up to 99999 as is (%5llu), then (n + 500) / 1000 with K (%4lluK), then M, G, T; -x prints
        // exact numbers (%8llu).
        var (sim, _) = TwoConnections();
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out var error), error);
        var handle = sim.ConnectUntraced(flow).Handle!.Value;
        for (int i = 0; i < 200; i++) Assert.Equal(DispositionKind.Delivered, sim.SendData(handle, 1000));
        var state = new SimulatedDataplaneState(sim);
        var chain = sim.Cluster.Plan.Hosts.Single(h => h.Node == "manager").Namespaces.Single(n => n.Name == "host").Tables.Single(t => t.Name == "filter")
            .Chains.Single(c => c.Name == "FORWARD");
        var counters = Enumerable.Range(0, chain.Rules.Count).Select(i => state.RuleCounters("manager", "host", "filter", "FORWARD", i)!.Value).ToList();
        var big = counters.First(c => c.Bytes > 99999);
        var list = Show(sim, "manager", "host", "iptables", "-L", "FORWARD", "-v", "-n");
        var kilo = ((big.Bytes + 500) / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(4) + "K ";
        Assert.Contains(big.Packets.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(5) + " " + kilo, list, StringComparison.Ordinal);
        var exact = Show(sim, "manager", "host", "iptables", "-L", "FORWARD", "-v", "-n", "-x");
        Assert.Contains(big.Packets.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(8) + " " + big.Bytes.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(8) + " ",
            exact, StringComparison.Ordinal);
    }

    [Fact]
    public void Namespaces_sharing_compiled_rules_count_their_own_packets()
    {
        // Every node's DOCKER-INGRESS holds the same rules and is compiled once per cluster; its counters are each
        // namespace's own, and a reset after traffic zeroes them.
        var (sim, _) = TwoConnections();
        Assert.True(sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error), error);
        Assert.Equal(DispositionKind.Delivered, sim.ConnectUntraced(flow).Request);
        var manager = sim.Cluster.Namespace("manager", "host")!.Nat!.Chain("DOCKER-INGRESS")!;
        var worker = sim.Cluster.Namespace("worker", "host")!.Nat!.Chain("DOCKER-INGRESS")!;
        Assert.Same(manager.Rules, worker.Rules);
        var state = new SimulatedDataplaneState(sim);
        Assert.Equal(2UL, state.RuleCounters("manager", "host", "nat", "DOCKER-INGRESS", 0)!.Value.Packets);
        Assert.Equal(1UL, state.RuleCounters("worker", "host", "nat", "DOCKER-INGRESS", 0)!.Value.Packets);
        sim.Cluster.ResetTraffic();
        Assert.Equal(0UL, state.RuleCounters("manager", "host", "nat", "DOCKER-INGRESS", 0)!.Value.Packets);
        Assert.Equal(0UL, state.RuleCounters("worker", "host", "nat", "DOCKER-INGRESS", 0)!.Value.Bytes);
    }
    /// <summary>
    /// An SCTP connection is an association's start, as Linux tracks it: INIT out, INIT ACK back, then the cookie echoed and
    /// acknowledged; conntrack shows it ESTABLISHED (210 s, ASSURED) and IPVS ESTABLISHED (15 min, active). A tester saw
    /// "sctp 132 599" with no state (the generic protocol's timeout) and IPVS's UDP state: every packet was one DATA chunk,
    /// which Linux's conntrack does not start an entry with.
    /// </summary>
    [Fact]
    public void An_sctp_association_is_established_in_conntrack_and_ipvs()
    {
        var compiled = SwarmCompiler.CompileToPlan("sctp.swarm.yaml", ExamplePlans.Sctp);
        Assert.True(compiled.Plan is not null, string.Join("\n", compiled.Diagnostics));
        var sim = new Simulation(compiled.Plan!);
        Assert.True(sim.TryResolve("external", "a:3868/sctp", out var flow, out var error), error);
        var t = sim.Connect(flow, 1).Single();
        Assert.EndsWith("[INIT]", t.Request.Disposition.Final.Summary(), StringComparison.Ordinal);
        Assert.EndsWith("[INIT_ACK]", t.Reply!.Disposition.Final.Summary(), StringComparison.Ordinal);
        var state = new SimulatedDataplaneState(sim);
        var ct = state.ConntrackEntries("a", "ingress_sbox").Single();
        Assert.Equal(("ESTABLISHED", true, false), (ct.TcpState, ct.Assured, ct.Unreplied));
        Assert.InRange(ct.TimeoutSeconds, 205, 210);
        var host = state.ConntrackEntries("a", "host").Single(e => e.Protocol == IpProtocol.Sctp); // beside the VXLAN datagrams' UDP flow
        Assert.Equal("ESTABLISHED", host.TcpState);
        var c = state.IpvsConnections("a", "ingress_sbox").Single();
        Assert.Equal("ESTABLISHED", c.State);
        Assert.InRange(c.ExpiresInSeconds, 890, 900);
        var svc = sim.Cluster.Namespace("a", "ingress_sbox")!.IpvsServices.Single();
        Assert.Equal((1, 0), (svc.Destinations.Sum(d => d.ActiveConnections), svc.Destinations.Sum(d => d.InactiveConnections)));
    }
}
