using System;
using System.Collections.Generic;
using System.Linq;
using CsCheck;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests;

/// <summary>The two-node example end to end: the ingress routing mesh of reference §2.6, request and reply.</summary>
public class ExampleTraceTests
{
    private static IReadOnlyList<ConnectionTrace> Trace(DataplanePlan plan, string from, string to, int count, uint seed = 0)
    {
        var sim = new Simulation(plan, seed);
        Assert.True(sim.TryResolve(from, to, out var flow, out var error), error);
        return sim.Connect(flow, count);
    }

    [Fact]
    public void External_to_manager_reads_like_the_routing_mesh_walk()
    {
        var traces = Trace(ExamplePlans.Ipvs, "external", "manager:8080/tcp", 2);
        Snapshot.Verify(TextTraceRenderer.Render(traces, "external → manager:8080/tcp", includeReplies: true));
    }

    [Fact]
    public void Both_tasks_are_reached_over_two_connections_with_the_expected_steps()
    {
        var traces = Trace(ExamplePlans.Ipvs, "external", "manager:8080/tcp", 2);
        Assert.Equal(new[] { "web.1", "web.2" }, traces.Select(t => t.Request.Disposition.Owner).OrderBy(x => x, StringComparer.Ordinal));
        var remote = traces.Single(t => t.Request.Disposition.Owner == "web.2").Request;
        var steps = remote.AllSteps().ToList();
        // host: nat PREROUTING → DOCKER-INGRESS DNAT 172.18.0.2:8080 → FORWARD DOCKER-INGRESS ACCEPT
        var dnat = steps.OfType<NatStep>().First();
        Assert.Equal(("DNAT", "10.7.191.10:8080", "172.18.0.2:8080"), (dnat.NatKind, dnat.Before, dnat.After));
        Assert.Equal("two-node.swarm.yaml:44:9", dnat.Span.ToShortString());
        Assert.Contains(steps.OfType<NetfilterStep>(), n => n.Hook == "FORWARD" && n.Chain == "DOCKER-INGRESS" && n.Verdict == "ACCEPT");
        // ingress_sbox: mangle MARK 0x100, IPVS FWM 256 wrr, SNAT 10.255.0.2
        Assert.Contains(steps.OfType<NetfilterStep>(), n => n.Table == "mangle" && n.Verdict == "MARK set 0x100");
        var ipvs = steps.OfType<IpvsStep>().Single();
        Assert.Equal(("FWM 256", "wrr", "10.255.0.6:8080", "web.2", "Masq"), (ipvs.Service, ipvs.Scheduler, ipvs.Destination, ipvs.Task, ipvs.Forward));
        Assert.Contains(steps.OfType<NatStep>(), n => n.NatKind == "SNAT" && n.After.StartsWith("10.255.0.2:", StringComparison.Ordinal));
        // overlay: br0 → vxlan0, VNI 4096, 10.7.191.10 → 10.7.191.9:4789, 50 bytes
        var encap = steps.OfType<VxlanEncapStep>().Single();
        Assert.Equal((4096, "10.7.191.10", "10.7.191.9", 4789, 50), (encap.Vni, encap.OuterSource.ToString(), encap.OuterDestination.ToString(), encap.DestinationPort, encap.BytesAdded));
        Assert.Equal(encap.InnerLength + 50, encap.OuterLength);
        Assert.InRange(encap.SourcePort, 32768, 60998);
        Assert.Equal(4096, steps.OfType<VxlanDecapStep>().Single().Vni);
        // web.2: REDIRECT 8080 → 80, filter INPUT ACCEPT, socket :80
        var redirect = steps.OfType<NatStep>().Single(n => n.NatKind == "REDIRECT");
        Assert.Equal(("10.255.0.6:8080", "10.255.0.6:80"), (redirect.Before, redirect.After));
        Assert.Contains(steps.OfType<NetfilterStep>(), n => n.Hook == "INPUT" && n.Table == "filter" && n.Verdict == "ACCEPT");
        Assert.Equal("tcp :80", remote.Disposition.Socket);
        // The hops, in order (consecutive visits of one namespace are one hop).
        Assert.Equal(new[] { "external/client 10.7.191.254", "manager/host", "manager/ingress_sbox", "manager/1-ingress", "manager/host", "worker/host", "worker/1-ingress", "worker/web.2" },
            remote.Hops.Select(h => h.Name));
    }

    [Fact]
    public void Every_declared_step_names_its_span()
    {
        var traces = Trace(ExamplePlans.Ipvs, "external", "worker:8080/tcp", 2);
        foreach (var t in traces.SelectMany(c => new[] { c.Request, c.Reply! }))
        {
            foreach (var s in t.AllSteps())
            {
                if (s is NetfilterStep { RuleNumber: > 0 } or IpvsStep or VxlanEncapStep or VxlanDecapStep or VethStep)
                    Assert.True(s.Span.IsKnown, s.Kind + " without a span: " + TextTraceRenderer.Describe(s));
            }
        }
    }

    private static readonly Gen<(uint Seed, byte Client, bool ToWorker, int Count)> Flows =
        Gen.Select(Gen.UInt, Gen.Byte[11, 250], Gen.Bool, Gen.Int[1, 4]);

    [Fact]
    public void Replies_reach_the_client_with_the_original_addresses_and_ports()
    {
        Flows.Sample(f =>
        {
            var client = "10.7.191." + f.Client;
            var node = f.ToWorker ? "worker" : "manager";
            var nodeAddress = f.ToWorker ? "10.7.191.9" : "10.7.191.10";
            foreach (var c in Trace(ExamplePlans.Ipvs, "external:" + client, node + ":8080/tcp", f.Count, f.Seed))
            {
                if (c.Request.Disposition.Kind != DispositionKind.Delivered || c.Reply is null) return false;
                var r = c.Reply.Disposition;
                if (r.Kind != DispositionKind.Delivered || r.Owner != "external client") return false;
                if (r.Final.SourceEndpoint != nodeAddress + ":8080") return false;
                if (r.Final.DestinationEndpoint != client + ":" + c.Request.PacketIn.SourcePort) return false;
                if (r.Final.Flags != "SYN,ACK") return false;
            }
            return true;
        }, iter: 40);
    }

    [Fact]
    public void A_static_vxlan_entry_naming_another_vtep_drops_the_frame_as_vxlan_snoop_does()
    {
        // vxlan_snoop: a frame whose inner source MAC has a static entry at another VTEP is dropped ("Don't migrate static
        // entries, drop packets", SKB_DROP_REASON_VXLAN_ENTRY_EXISTS), not delivered and not learned.
        var plan = ExamplePlans.Ipvs;
        var worker = plan.Hosts.Single(h => h.Node == "worker").UnderlayAddress.Address;
        var sim = new Simulation(plan, 0);
        var vxlan = sim.Cluster.Namespace("manager", "1-ingress")!.Device("vxlan0")!.VxlanFdb!;
        var elsewhere = Ipv4Address.FromBytes(192, 0, 2, 7);
        int moved = 0;
        foreach (var e in vxlan.StaticEntries())
            if (e.Value.RemoteVtep == worker) { vxlan.AddStatic(e.Key, elsewhere); moved++; }
        Assert.True(moved > 0, "manager's ingress vxlan0 has no static entry at worker");
        Assert.True(sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error), error);
        // Worker's IPVS sends one of two connections to web.1 on manager, across VXLAN: manager refuses that one.
        var dropped = sim.Connect(flow, 2).Select(t => t.Request.Disposition).Where(d => d.Kind != DispositionKind.Delivered).ToList();
        var refused = Assert.Single(dropped);
        Assert.Equal((DispositionKind.Dropped, DropCause.VxlanSourceRejected), (refused.Kind, refused.Cause));
        Assert.Contains("another VTEP than " + worker, refused.Detail);
        Assert.DoesNotContain(vxlan.StaticEntries(), e => e.Value.RemoteVtep == worker); // nothing migrated back
        // Unedited, both connections arrive.
        Assert.All(Trace(plan, "external", "worker:8080/tcp", 2), t => Assert.Equal(DispositionKind.Delivered, t.Request.Disposition.Kind));
    }

    [Fact]
    public void Every_packet_ends_in_exactly_one_disposition_and_ttl_never_goes_negative()
    {
        var targets = new[] { "manager:8080/tcp", "worker:8080/tcp", "manager:9999/tcp", "worker:8080/udp", "web.1", "web.2", "web", "manager", "10.255.0.6:80" };
        var sources = new[] { "external", "manager", "worker", "web.1", "web.2", "manager/ingress_sbox", "10.7.191.77" };
        Gen.Select(Gen.Int[0, sources.Length - 1], Gen.Int[0, targets.Length - 1], Gen.UInt, Gen.Int[1, 3]).Sample((si, ti, seed, count) =>
        {
            var sim = new Simulation(ExamplePlans.Ipvs, seed);
            if (!sim.TryResolve(sources[si], targets[ti], out var flow, out var error)) throw new Exception(error);
            foreach (var c in sim.Connect(flow, count))
            {
                foreach (var t in new[] { c.Request, c.Reply })
                {
                    if (t is null) continue;
                    var d = t.Disposition;
                    int drops = t.AllSteps().OfType<DropStep>().Count();
                    if (drops != (d.Kind == DispositionKind.Dropped ? 1 : 0)) return false;
                    int sockets = t.AllSteps().OfType<SocketStep>().Count(s => s.Found);
                    if (d.Kind == DispositionKind.Delivered && sockets != 1) return false;
                    if (t.AllSteps().OfType<ReceivedStep>().Any(r => r.Packet.Ttl <= 0)) return false;
                    if (t.Hops.Count == 0) return false;
                }
            }
            return true;
        }, iter: 60);
    }

    [Fact]
    public void Wrr_hands_out_connections_in_proportion_to_the_weights_over_full_cycles()
    {
        // Weights 3 and 1, added in order: the first pass runs at cw = 1 (A, B), then every cycle is A A A B
        // (cw = 3, 2, 1; ip_vs_wrr.c). So 2 + 4k connections give web.1 1 + 3k and web.2 1 + k.
        var plan = P.Reweighted(ExamplePlans.Ipvs, Scheduler.Wrr, 3, 1);
        Gen.Int[1, 6].Sample(k =>
        {
            var sim = new Simulation(plan, (uint)k);
            Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
            var owners = Enumerable.Range(0, 2 + 4 * k).Select(_ => sim.ConnectUntraced(flow).Task).ToList();
            return owners.Count(o => o == "web.1") == 1 + 3 * k && owners.Count(o => o == "web.2") == 1 + k;
        }, iter: 6);
    }

    [Fact]
    public void Ipvs_counts_connections_and_packets_per_destination()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        var results = Enumerable.Range(0, 4).Select(_ => sim.ConnectUntraced(flow)).ToList();
        Assert.All(results, r => Assert.NotNull(r.Handle));
        var sbox = sim.Cluster.Namespace("manager", "ingress_sbox")!;
        var svc = sbox.IpvsServices.Single();
        Assert.Equal(4, svc.Stats.Connections);
        Assert.Equal(new long[] { 2, 2 }, svc.Destinations.Select(d => d.Stats.Connections));
        // SYN + ACK in, SYN-ACK out per connection; the handshakes completed, so every connection is active (ESTABLISHED).
        Assert.Equal(8, svc.Stats.InPackets);
        Assert.Equal(4, svc.Stats.OutPackets);
        Assert.Equal(new[] { 2, 2 }, svc.Destinations.Select(d => d.ActiveConnections));
        Assert.Equal(new[] { 0, 0 }, svc.Destinations.Select(d => d.InactiveConnections));
        Assert.Equal(4, sbox.IpvsConnections.Count);
        sim.SendData(results[0].Handle!.Value, 100);
        Assert.Equal(9, svc.Stats.InPackets);
    }

    [Fact]
    public void Least_connection_schedulers_follow_the_connection_counts()
    {
        // lc: every completed handshake makes an active connection (overhead 256); ties go to the first destination of
        // the kernel's list, which holds the last added (web.2) first.
        var sim = new Simulation(P.Reweighted(ExamplePlans.Ipvs, Scheduler.Lc, 1, 1));
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        var owners = Enumerable.Range(0, 4).Select(_ => sim.ConnectUntraced(flow).Task).ToArray();
        Assert.Equal(new[] { "web.2", "web.1", "web.2", "web.1" }, owners);
        // wlc with weights 1 and 3: web.2 takes connections until 256·n₂·1 > 256·n₁·3 no longer holds.
        var wlc = new Simulation(P.Reweighted(ExamplePlans.Ipvs, Scheduler.Wlc, 1, 3));
        Assert.True(wlc.TryResolve("external", "manager:8080/tcp", out flow, out _));
        owners = Enumerable.Range(0, 8).Select(_ => wlc.ConnectUntraced(flow).Task).ToArray();
        Assert.Equal(2, owners.Count(o => o == "web.1"));
        Assert.Equal(6, owners.Count(o => o == "web.2"));
    }

    [Fact]
    public void Source_hashing_pins_a_client_to_one_task()
    {
        var sim = new Simulation(P.Reweighted(ExamplePlans.Ipvs, Scheduler.Sh, 1, 1));
        foreach (var client in new[] { "10.7.191.20", "10.7.191.21", "10.7.191.22" })
        {
            Assert.True(sim.TryResolve("external:" + client, "manager:8080/tcp", out var flow, out _));
            var owners = Enumerable.Range(0, 3).Select(_ => sim.ConnectUntraced(flow).Task).Distinct().ToArray();
            Assert.Single(owners);
            // bucket = hash_32(ntohl(saddr), 8); buckets alternate web.2, web.1 (weights 1, 1; list order web.2 web.1).
            int bucket = SwarmDsl.Runtime.Ipvs.HashScheduler.Bucket(Ipv4Address.Parse(client));
            Assert.Equal(bucket % 2 == 0 ? "web.2" : "web.1", owners[0]);
        }
    }

    [Fact]
    public void Nftables_backend_balances_with_numgen_and_snats_by_ct_status_dnat()
    {
        var traces = Trace(ExamplePlans.Nftables, "external", "worker:8080/tcp", 4);
        // numgen inc mod 2 starting at 0: slots 10.255.0.5, 10.255.0.6, 10.255.0.5, ...
        Assert.Equal(new[] { "web.1", "web.2", "web.1", "web.2" }, traces.Select(t => t.Request.Disposition.Owner));
        var first = traces[0].Request.AllSteps().ToList();
        var lb = first.OfType<IpvsStep>().Single();
        Assert.Equal("nftables", lb.Backend);
        Assert.StartsWith("numgen inc mod 2 = 0", lb.Reason, StringComparison.Ordinal);
        Assert.Contains(first.OfType<NatStep>(), n => n is { Origin: NatOrigin.NftablesBalancer, Manip: NatManip.Source } && n.After.StartsWith("10.255.0.3:", StringComparison.Ordinal));
        Assert.All(traces, t => Assert.Equal("10.7.191.9:8080", t.Reply!.Disposition.Final.SourceEndpoint));
    }

    [Fact]
    public void Nftables_jhash_picks_the_slot_from_the_kernel_jhash_of_the_source()
    {
        // nft_jhash_eval: reciprocal_scale(jhash(&saddr, 4, seed 0), modulus); the address bytes in network order.
        var plan = ExamplePlans.Nftables with
        {
            Hosts = P.A(ExamplePlans.Nftables.Hosts.Select(h => h with
            {
                Namespaces = P.A(h.Namespaces.Select(ns => ns with { NftLoadBalancers = P.A(ns.NftLoadBalancers.Select(l => l with { Pick = NftPick.SourceHash }).ToArray()) }).ToArray()),
            }).ToArray()),
        };
        foreach (var client in new[] { "10.7.191.20", "10.7.191.21", "10.7.191.22", "10.7.191.23" })
        {
            var traces = Trace(plan, "external:" + client, "manager:8080/tcp", 2);
            uint slot = SwarmDsl.Runtime.Hashing.KernelHash.ReciprocalScale(SwarmDsl.Runtime.Hashing.KernelHash.JhashAddress(Ipv4Address.Parse(client), 0), 2);
            Assert.All(traces, t => Assert.Equal(slot == 0 ? "web.1" : "web.2", t.Request.Disposition.Owner));
            Assert.StartsWith("jhash ip saddr " + client + " mod 2 seed 0x0 = " + slot, traces[0].Request.AllSteps().OfType<IpvsStep>().Single().Reason, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// An nftables balancer with no destination is no rule at all in the emitted table (nft cannot map into an empty set),
    /// so the connection goes on un-NATed to ingress_sbox, where nothing listens: the client gets the RST the kernel built
    /// from that file sends (a tester's lab saw "refused" where the simulation dropped at an "empty map").
    /// </summary>
    [Fact]
    public void An_nftables_balancer_without_destinations_is_no_rule_and_the_sandbox_answers_with_a_reset()
    {
        const string yaml = """
            version: 1
            name: zero
            nodes:
              n1: { address: 10.20.0.1/24, role: manager }
              n2: { address: 10.20.0.2/24 }
            networks:
              ingress: { driver: overlay, ingress: true, subnet: 10.0.0.0/24 }
            services:
              none:
                networks: [ingress]
                ports: [ { published: 8080, target: 80 } ]
                tasks: [ { node: n2, weight: 0 } ]
            """;
        var compiled = SwarmCompiler.CompileToPlan("zero.swarm.yaml", yaml, new SwarmDsl.Lowering.LoweringOptions(LoadBalancerBackend.Nftables));
        var plan = compiled.Plan ?? throw new InvalidOperationException(string.Join("\n", compiled.Diagnostics));
        Assert.Contains(plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.NftLoadBalancers), l => l.Slots.Count == 0);
        var c = Trace(plan, "external", "n1:8080/tcp", 1).Single();
        Assert.Equal((DispositionKind.Dropped, DropCause.NoListener, "n1/ingress_sbox"), (c.Request.Disposition.Kind, c.Request.Disposition.Cause, c.Request.Disposition.Where));
        Assert.Contains("RST", c.Reply!.Disposition.Final.Flags, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(DispositionKind.Delivered, c.Reply.Disposition.Kind);
    }

    [Fact]
    public void Ipvs_without_an_available_destination_drops_and_answers_port_unreachable()
    {
        var c = Trace(P.Reweighted(ExamplePlans.Ipvs, Scheduler.Wrr, 0, 0), "external", "manager:8080/tcp", 1).Single();
        Assert.Equal(DropCause.NoIpvsDestination, c.Request.Disposition.Cause);
        Assert.Equal("manager/ingress_sbox", c.Request.Disposition.Where);
        // The ICMP error is RELATED to the host's DNATed connection, so the client sees it come from the node's address.
        var icmp = c.Reply!.Disposition;
        Assert.Equal((DispositionKind.Delivered, 3, 3), (icmp.Kind, icmp.Final.IcmpType, icmp.Final.IcmpCode));
        Assert.Equal("10.7.191.10", icmp.Final.Source.ToString());
        Assert.Equal("external client", icmp.Owner);
    }

    [Fact]
    public void Tasks_cannot_originate_tcp_on_the_ingress_network()
    {
        // Reference §2.5 (libnetwork 83c9261d "Block non exposed port traffic on ingress nw interfaces"): a task's
        // OUTPUT chain only lets ESTABLISHED replies from the target port out of its ingress address; a new connection
        // to the VIP is dropped by the last `-s <task ip> -p tcp -j DROP`, which names the service declaration.
        var c = Trace(ExamplePlans.Ipvs, "web.1", "web", 1).Single();
        Assert.Equal((DispositionKind.Dropped, DropCause.FilterDrop), (c.Request.Disposition.Kind, c.Request.Disposition.Cause));
        Assert.Equal("10.255.0.5", c.Request.PacketIn.Source.ToString());
        var drop = c.Request.AllSteps().OfType<NetfilterStep>().Last();
        Assert.Equal(("OUTPUT", "-A OUTPUT -s 10.255.0.5/32 -p tcp -j DROP"), (drop.Hook, drop.RuleText));
        Assert.Equal("two-node.swarm.yaml:51:9", drop.Span.ToShortString());
    }

    [Fact]
    public void Containers_on_docker_gwbridge_cannot_talk_to_each_other()
    {
        // icc=false with bridge-nf-call-iptables=1: the frame bridged from web.1's eth1 to ingress_sbox's eth1 goes through
        // FORWARD with -i/-o docker_gwbridge and hits `-A DOCKER-FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP`.
        var c = Trace(ExamplePlans.Ipvs, "web.1", "172.18.0.2:80", 1).Single();
        Assert.Equal(DropCause.FilterDrop, c.Request.Disposition.Cause);
        Assert.Equal("manager/host", c.Request.Disposition.Where);
        var drop = c.Request.AllSteps().OfType<NetfilterStep>().Last();
        Assert.Equal(("DOCKER-FORWARD", "-A DOCKER-FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP"), (drop.Chain, drop.RuleText));
        Assert.Equal("two-node.swarm.yaml:20:3", drop.Span.ToShortString());
    }

    [Fact]
    public void Unpublished_ports_are_dropped_where_nothing_listens()
    {
        var c = Trace(ExamplePlans.Ipvs, "external", "manager:9999/tcp", 1).Single();
        Assert.Equal((DispositionKind.Dropped, DropCause.NoListener), (c.Request.Disposition.Kind, c.Request.Disposition.Cause));
        Assert.Equal("manager/host", c.Request.Disposition.Where);
        Assert.Equal("RST,ACK", c.Reply!.Disposition.Final.Flags);
    }

    [Fact]
    public void Traffic_to_an_unknown_underlay_address_exits_the_modelled_network()
    {
        var c = Trace(ExamplePlans.Ipvs, "manager", "10.7.191.50:443", 1).Single();
        Assert.Equal(DispositionKind.Exited, c.Request.Disposition.Kind);
        Assert.Equal("manager/host", c.Request.Disposition.Where);
        Assert.Null(c.Reply);
    }

    [Fact]
    public void The_same_command_prints_the_same_trace()
    {
        string Run(uint seed) => TextTraceRenderer.Render(Trace(ExamplePlans.Ipvs, "external", "worker:8080/tcp", 3, seed), "x", true);
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8)); // the seed moves ephemeral ports
    }
}
