using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>Netfilter, conntrack/NAT, routing and L2 behaviour on hand-made plans, each tied to the kernel code it follows.</summary>
public class EngineTests
{
    private static (Simulation Sim, int Ns) Lab(string ns, uint seed = 0)
    {
        var sim = new Simulation(P.RouterLab(), seed);
        return (sim, sim.Cluster.Namespace("r", ns)!.Index);
    }

    private static Packet Tcp(string src, int sport, string dst, int dport, TcpFlags flags = TcpFlags.Syn, int payload = 0, bool df = true) => new()
    {
        Headers = new PacketHeaders
        {
            Protocol = IpProtocol.Tcp, Source = Ipv4Address.Parse(src), SourcePort = (ushort)sport, Destination = Ipv4Address.Parse(dst),
            DestinationPort = (ushort)dport, Flags = flags, Ttl = 64, DontFragment = df, PayloadLength = payload, Seq = 1000,
        },
    };

    private static T[] Steps<T>(PacketTrace t) => t.AllSteps().OfType<T>().ToArray();

    [Fact]
    public void Redirect_changes_the_port_to_the_local_address_and_the_reply_is_un_redirected()
    {
        // nf_nat_redirect_ipv4: DNAT to the primary address of the incoming interface with the --to-ports port.
        var sim = new Simulation(P.RouterLab());
        Assert.True(sim.TryResolve("r/cli1", "192.168.1.2:9090", out var flow, out var error), error);
        var c = sim.Connect(flow, 1).Single();
        var d = c.Request.Disposition;
        Assert.Equal(DispositionKind.Delivered, d.Kind);
        Assert.Equal("tcp :8080", d.Socket);
        Assert.Equal((Ipv4Address.Parse("192.168.1.2"), 8080), (d.Final.Destination, d.Final.DestinationPort));
        var redirect = Steps<NatStep>(c.Request).Single(n => n.NatKind == "REDIRECT");
        Assert.Equal(("192.168.1.2:9090", "192.168.1.2:8080"), (redirect.Before, redirect.After));
        // The reply leaves the server from :8080 and reaches the client as coming from :9090, to its own address and port.
        var r = c.Reply!.Disposition;
        Assert.Equal(DispositionKind.Delivered, r.Kind);
        Assert.Equal("r/cli1", r.Where);
        Assert.Equal((Ipv4Address.Parse("192.168.1.2"), 9090), (r.Final.Source, r.Final.SourcePort));
        Assert.Equal((Ipv4Address.Parse("192.168.2.2"), c.Request.PacketIn.SourcePort), (r.Final.Destination, r.Final.DestinationPort));
        Assert.Contains(Steps<NatStep>(c.Reply!), n => n.NatKind.StartsWith("un-DNAT", System.StringComparison.Ordinal));
    }

    [Fact]
    public void Masquerade_uses_the_outgoing_address_and_takes_the_next_free_port_on_a_clash()
    {
        // nf_nat_masquerade_ipv4 picks inet_select_addr(out); nf_nat_l4proto_unique_tuple finds 192.168.1.1:40000 taken by
        // cli1's connection and takes the next port of the 1024–65535 class (the kernel starts at a random offset).
        var sim = new Simulation(P.RouterLab());
        int cli1 = sim.Cluster.Namespace("r", "cli1")!.Index, cli2 = sim.Cluster.Namespace("r", "cli2")!.Index;
        var first = sim.Send(cli1, Tcp("192.168.2.2", 40000, "192.168.1.2", 8080));
        var second = sim.Send(cli2, Tcp("192.168.2.3", 40000, "192.168.1.2", 8080));
        Assert.Equal("192.168.1.1:40000", first.Request.Disposition.Final.SourceEndpoint);
        Assert.Equal("192.168.1.1:40001", second.Request.Disposition.Final.SourceEndpoint);
        Assert.Equal("MASQUERADE", Steps<NatStep>(second.Request).Single().NatKind);
        // Each SYN-ACK is un-masqueraded to its own client.
        Assert.Equal(("r/cli1", "192.168.2.2:40000"), (first.Reply!.Disposition.Where, first.Reply.Disposition.Final.DestinationEndpoint));
        Assert.Equal(("r/cli2", "192.168.2.3:40000"), (second.Reply!.Disposition.Where, second.Reply.Disposition.Final.DestinationEndpoint));
    }

    [Fact]
    public void Dnat_of_the_underlay_address_is_undone_on_the_reply()
    {
        var sim = new Simulation(P.RouterLab());
        Assert.True(sim.TryResolve("external", "r:80/tcp", out var flow, out var error), error);
        var c = sim.Connect(flow, 1).Single();
        Assert.Equal("srv", c.Request.Disposition.Owner);
        var dnat = Steps<NatStep>(c.Request).Single(n => n.NatKind == "DNAT");
        Assert.Equal(("10.0.0.1:80", "192.168.1.2:8080"), (dnat.Before, dnat.After));
        Assert.Equal(P.S(100), dnat.Span); // the DNAT rule's declaration
        var reply = c.Reply!.Disposition;
        Assert.Equal(DispositionKind.Delivered, reply.Kind);
        Assert.Equal("10.0.0.1:80", reply.Final.SourceEndpoint);
        Assert.Equal("10.0.0.254:" + c.Request.PacketIn.SourcePort, reply.Final.DestinationEndpoint);
    }

    [Fact]
    public void Filter_drop_names_the_rule_that_dropped()
    {
        var (sim, cli1) = Lab("cli1");
        var c = sim.Send(cli1, Tcp("192.168.2.2", 40000, "192.168.1.2", 7070));
        var d = c.Request.Disposition;
        Assert.Equal((DispositionKind.Dropped, DropCause.FilterDrop), (d.Kind, d.Cause));
        var drop = Steps<DropStep>(c.Request).Single();
        Assert.Equal(P.S(100), drop.Span);
        Assert.Equal("DROP", Steps<NetfilterStep>(c.Request).Last().Verdict);
        Assert.Null(c.Reply); // DROP answers nothing
    }

    [Fact]
    public void Reject_with_tcp_reset_answers_with_a_rst_to_the_client()
    {
        var (sim, cli1) = Lab("cli1");
        var c = sim.Send(cli1, Tcp("192.168.2.2", 40000, "192.168.1.2", 7071));
        Assert.Equal(DropCause.Rejected, c.Request.Disposition.Cause);
        var r = c.Reply!.Disposition;
        Assert.Equal("RST,ACK", r.Final.Flags);
        Assert.Equal("r/cli1", r.Where);
        Assert.Equal("192.168.1.2:7071", r.Final.SourceEndpoint);
    }

    [Fact]
    public void No_listener_answers_tcp_with_rst_and_udp_with_port_unreachable_through_nat()
    {
        var sim = new Simulation(P.RouterLab());
        Assert.True(sim.TryResolve("r/cli1", "192.168.1.2:1234/tcp", out var tcp, out var e1), e1);
        var t = sim.Connect(tcp, 1).Single();
        Assert.Equal(DropCause.NoListener, t.Request.Disposition.Cause);
        Assert.Equal(("RST,ACK", "r/cli1"), (t.Reply!.Disposition.Final.Flags, t.Reply.Disposition.Where));
        Assert.Equal("192.168.2.2:" + t.Request.PacketIn.SourcePort, t.Reply.Disposition.Final.DestinationEndpoint);

        Assert.True(sim.TryResolve("r/cli1", "192.168.1.2:1234/udp", out var udp, out var e2), e2);
        var u = sim.Connect(udp, 1).Single();
        Assert.Equal(DropCause.NoListener, u.Request.Disposition.Cause);
        var icmp = u.Reply!.Disposition;
        Assert.Equal(DispositionKind.Delivered, icmp.Kind);
        Assert.Equal("r/cli1", icmp.Where);
        Assert.Equal((3, 3), (icmp.Final.IcmpType, icmp.Final.IcmpCode));
        // nf_nat_icmp_reply_translation: the error is RELATED to the masqueraded flow; the router rewrites the outer
        // destination (and the embedded source) back to the client.
        Assert.Equal(Ipv4Address.Parse("192.168.2.2"), icmp.Final.Destination);
        Assert.Contains(Steps<ConntrackStep>(u.Reply!), s => s.State.StartsWith("related", System.StringComparison.Ordinal));
    }

    [Fact]
    public void Df_packets_too_big_are_dropped_with_frag_needed_and_others_are_fragmented()
    {
        // ip_forward: ip_exceeds_mtu with DF → icmp_send(ICMP_FRAG_NEEDED, htonl(mtu)); vsrv has MTU 1400.
        var (sim, cli1) = Lab("cli1");
        var big = sim.Send(cli1, Tcp("192.168.2.2", 40000, "192.168.1.2", 8080, TcpFlags.Ack, payload: 1400));
        Assert.Equal(DropCause.MtuExceeded, big.Request.Disposition.Cause);
        var icmp = big.Reply!.Disposition;
        Assert.Equal((3, 4), (icmp.Final.IcmpType, icmp.Final.IcmpCode));
        Assert.Equal("r/cli1", icmp.Where);
        Assert.Equal(Ipv4Address.Parse("192.168.2.1"), icmp.Final.Source); // from the router's interface the packet came in on

        var frag = sim.Send(cli1, Tcp("192.168.2.2", 40002, "192.168.1.2", 8080, TcpFlags.Syn, payload: 1400, df: false));
        Assert.Equal(DispositionKind.Delivered, frag.Request.Disposition.Kind);
        var f = Steps<FragmentStep>(frag.Request).Single();
        Assert.Equal((1400, 1440, 2), (f.Mtu, f.Length, f.Fragments));
    }

    [Fact]
    public void A_routing_loop_is_reported_as_looped()
    {
        var sim = new Simulation(P.RoutingLoop());
        int a = sim.Cluster.Namespace("h", "a")!.Index;
        var c = sim.Send(a, Tcp("172.30.0.1", 40000, "8.8.8.8", 53));
        Assert.Equal(DispositionKind.Looped, c.Request.Disposition.Kind);
        Assert.DoesNotContain(c.Request.AllSteps().OfType<ReceivedStep>(), r => r.Packet.Ttl <= 0);
    }

    [Fact]
    public void Ttl_running_out_while_forwarding_is_a_drop_with_time_exceeded()
    {
        var sim = new Simulation(P.RoutingLoop());
        int a = sim.Cluster.Namespace("h", "a")!.Index;
        var p = Tcp("172.30.0.1", 40000, "8.8.8.8", 53);
        p.Headers.Ttl = 2;
        var c = sim.Send(a, p);
        Assert.Equal(DropCause.TtlExceeded, c.Request.Disposition.Cause);
        Assert.Equal(11, c.Reply!.Disposition.Final.IcmpType);
    }

    [Fact]
    public void Bridges_learn_from_arp_and_flood_on_a_miss()
    {
        // The first SYN from cli1 resolves 192.168.2.1 (the bridge itself) by ARP; the bridge learns cli1's MAC on vc1.
        var sim = new Simulation(P.RouterLab());
        Assert.True(sim.TryResolve("r/cli1", "192.168.1.2:8080", out var flow, out var error), error);
        var c = sim.Connect(flow, 1).Single();
        Assert.Contains(Steps<NeighborStep>(c.Request), n => n.How.StartsWith("ARP answered by r/host brc", System.StringComparison.Ordinal));
        // The reply to cli1 finds cli1's MAC learned on vc1 (no flood).
        var fdb = Steps<FdbStep>(c.Reply!).Single(f => f.Device == "brc");
        Assert.Equal(("vc1", "learned"), (fdb.Port, fdb.Result));
        // After the ageing time (300 s) the learned entry is gone: a frame towards cli1 that cli1 did not just refresh
        // floods, and the copy on vc1 still reaches it.
        sim.Cluster.NowMilliseconds += 301_000;
        int srv = sim.Cluster.Namespace("r", "srv")!.Index;
        var toClient = sim.Send(srv, Tcp("192.168.1.2", 5000, "192.168.2.2", 6000));
        var miss = Steps<FdbStep>(toClient.Request).Single(f => f.Device == "brc");
        Assert.StartsWith("miss", miss.Result, System.StringComparison.Ordinal);
        Assert.Equal("vc1", miss.Port);
        Assert.Equal("r/cli1", toClient.Request.Disposition.Where);
    }

    [Fact]
    public void Ipvs_vip_port_service_forwards_by_direct_routing_and_by_nat()
    {
        // ip_vs_dr_xmit keeps the VIP as destination and hands the frame to the real server's MAC; ip_vs_nat_xmit rewrites
        // it to the real server's port (8080) and ip_vs_reply4 (FORWARD) gives the reply the VIP back.
        var sim = new Simulation(P.LbLab());
        Assert.True(sim.TryResolve("h/c", "192.168.5.100:80", out var flow, out var error), error);
        var traces = sim.Connect(flow, 2);
        // rr from the head of the kernel's list: r2 (added last) first, then r1.
        var dr = traces[1];
        Assert.Equal(("r1", "192.168.5.100:80"), (dr.Request.Disposition.Owner, dr.Request.Disposition.Final.DestinationEndpoint));
        Assert.Equal("Route", dr.Request.AllSteps().OfType<IpvsStep>().Single().Forward);
        Assert.Equal("192.168.5.100:80", dr.Reply!.Disposition.Final.SourceEndpoint); // straight back from the real server
        Assert.DoesNotContain(dr.Reply.Hops, h => h.Namespace == "lb");
        var nat = traces[0];
        Assert.Equal(("r2", "192.168.5.12:8080"), (nat.Request.Disposition.Owner, nat.Request.Disposition.Final.DestinationEndpoint));
        Assert.Contains(nat.Reply!.Hops, h => h.Namespace == "lb");
        Assert.Equal("192.168.5.100:80", nat.Reply.Disposition.Final.SourceEndpoint);
        Assert.Equal(DispositionKind.Delivered, nat.Reply.Disposition.Kind);
        var svc = sim.Cluster.Namespace("h", "lb")!.IpvsServices.Single();
        Assert.Equal("TCP 192.168.5.100:80", svc.Describe());
        Assert.Equal(new long[] { 1, 1 }, svc.Destinations.Select(d => d.Stats.Connections));
        Assert.Equal(1, svc.Destinations.Single(d => d.Task == "r2").Stats.OutPackets); // only NAT replies pass the balancer
    }

    [Fact]
    public void Icmp_echo_is_answered_by_the_kernel()
    {
        var sim = new Simulation(P.RouterLab());
        Assert.True(sim.TryResolve("external", "r", out var flow, out var error), error);
        Assert.Equal(IpProtocol.Icmp, flow.Protocol);
        var c = sim.Connect(flow, 1).Single();
        Assert.Equal(DispositionKind.Delivered, c.Request.Disposition.Kind);
        Assert.Equal(0, c.Reply!.Disposition.Final.IcmpType);
        Assert.Equal(DispositionKind.Delivered, c.Reply.Disposition.Kind);
    }

    /// <summary>
    /// A flood on a bridge decides which port leads to a MAC from the plan when the port's veth peer is a plain device: the
    /// namespace behind another port is not built. Before, a frame from the VXLAN device to a task whose MAC the overlay
    /// bridge had not learned built every container on that node's bridge (on a 100-node topology, every task of every
    /// node a sweep's backends were on). The first connection to the manager's published port is balanced to web.2 on the
    /// worker: the worker's overlay bridge floods it past its ingress_sbox's port, which nothing else needs.
    /// </summary>
    [Fact]
    public void A_flood_does_not_build_the_namespace_behind_another_port()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out var error), error);
        var c = sim.Connect(flow, 1)[0];
        Assert.Contains(c.Request.AllSteps(), s => s is BridgeStep { Bridge: "docker_gwbridge" });
        Assert.Equal(DispositionKind.Delivered, c.Request.Disposition.Kind);
        Assert.Contains("worker/web.2", c.Request.Disposition.Where, System.StringComparison.Ordinal);
        Assert.False(sim.Cluster.Namespaces.Single(n => n.Node == "worker" && n.Name == "ingress_sbox").BodyBuilt);
    }

    /// <summary>
    /// <c>arp_ignore</c> as the kernel's <c>arp_ignore()</c> reads it: 8 never answers, so nothing on the underlay resolves
    /// the node's address; 1–3 answer for the address on the receiving device (the client is in its subnet), and the
    /// reserved 4–7 and values above 8 answer as 0. A tester found every value above 0 taken as 1: 8 answered.
    /// </summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(5, true)]
    [InlineData(8, false)]
    [InlineData(9, true)]
    public void Arp_ignore_8_never_answers(int value, bool answered)
    {
        var yaml = "version: 1\nname: tarp\nnodes:\n  m1: { role: manager, address: 10.91.0.11/24 }\n"
            + "  w1: { address: 10.91.0.12/24, sysctls: { net.ipv4.conf.all.arp_ignore: " + value + " } }\n";
        var compiled = SwarmDsl.SwarmCompiler.CompileToPlan("tarp.swarm.yaml", yaml, new SwarmDsl.Lowering.LoweringOptions(SwarmDsl.Plan.LoadBalancerBackend.Ipvs));
        Assert.True(compiled.Plan is not null, string.Join("\n", compiled.Diagnostics));
        var sim = new Simulation(compiled.Plan!);
        Assert.True(sim.TryResolve("external", "w1", out var flow, out var error), error);
        var trace = sim.Connect(flow, 1)[0].Request;
        Assert.Equal(answered, trace.Disposition.Kind == DispositionKind.Delivered);
        if (!answered) Assert.Contains("10.91.0.12", trace.Disposition.Detail, System.StringComparison.Ordinal);
    }

    /// <summary>
    /// A task name resolves, as Docker's resolver answers it, to the task's address on an overlay it shares with the client
    /// before its ingress address: from a task of a service that publishes ports (so both are on the ingress network too),
    /// web.2 was sent to at its ingress address, from web.1's own ingress address, and web.1's ingress filter dropped it
    /// (a tester's false SWARM0020).
    /// </summary>
    [Theory]
    [InlineData("web")]
    [InlineData("web.1")]
    [InlineData("cache")]
    public void A_task_name_resolves_to_its_overlay_address_before_its_ingress_address(string from)
    {
        const string yaml = "version: 1\nname: tc\nnodes:\n  m1: { role: manager, address: 10.30.0.11/24 }\n  w1: { address: 10.30.0.12/24 }\n"
            + "networks:\n  app: { driver: overlay, subnet: 10.40.0.0/24 }\n"
            + "services:\n  web:\n    replicas: 2\n    networks: [app]\n    ports:\n      - { published: 8080, target: 80 }\n"
            + "  cache:\n    networks: [app]\n    expose: [6379]\n";
        var compiled = SwarmDsl.SwarmCompiler.CompileToPlan("tc.swarm.yaml", yaml, new SwarmDsl.Lowering.LoweringOptions(SwarmDsl.Plan.LoadBalancerBackend.Ipvs));
        Assert.True(compiled.Plan is not null, string.Join("\n", compiled.Diagnostics));
        var sim = new Simulation(compiled.Plan!);
        Assert.True(sim.TryResolve(from, "web.2:80/tcp", out var flow, out var error), error);
        Assert.True(Ipv4Cidr.Parse("10.40.0.0/24").Contains(flow.Destination), flow.Destination + " is not web.2's address on app");
        var trace = sim.Connect(flow, 1)[0].Request;
        Assert.Equal(DispositionKind.Delivered, trace.Disposition.Kind);
        Assert.Contains("web.2", trace.Disposition.Where, System.StringComparison.Ordinal);
    }
}
