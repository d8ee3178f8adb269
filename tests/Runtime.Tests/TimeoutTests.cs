using System;
using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.State;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>
/// The simulated clock: conntrack entries, IPVS connections and learned FDB entries age with the kernel's default timeouts
/// (nf_conntrack_proto_{tcp,udp,icmp}.c, ip_vs_proto_{tcp,udp}.c, br_fdb ageing_time), and the views count down.
/// </summary>
public class TimeoutTests
{
    private static (Simulation Sim, ConnectionHandle Handle, int ClientPort) Established()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out var error), error);
        var r = sim.ConnectUntraced(flow);
        Assert.NotNull(r.Handle);
        var state = new SimulatedDataplaneState(sim);
        int port = state.ConntrackEntries("manager", "host").Single(e => e.Protocol == IpProtocol.Tcp).Original.SourcePort;
        return (sim, r.Handle!.Value, port);
    }

    private static SwarmDsl.Views.ConntrackEntry? HostEntry(Simulation sim, int clientPort) =>
        new SimulatedDataplaneState(sim).ConntrackEntries("manager", "host").SingleOrDefault(e => e.Protocol == IpProtocol.Tcp && e.Original.SourcePort == clientPort);

    [Theory]
    // tcp_conntracks[dir][index][state] (nf_conntrack_proto_tcp.c): a few transitions of each row kind.
    [InlineData(CtTcpState.None, CtDirection.Original, TcpFlags.Syn, CtTcpState.SynSent)]
    [InlineData(CtTcpState.SynSent, CtDirection.Reply, TcpFlags.Syn | TcpFlags.Ack, CtTcpState.SynRecv)]
    [InlineData(CtTcpState.SynRecv, CtDirection.Original, TcpFlags.Ack, CtTcpState.Established)]
    [InlineData(CtTcpState.Established, CtDirection.Original, TcpFlags.Fin | TcpFlags.Ack, CtTcpState.FinWait)]
    [InlineData(CtTcpState.FinWait, CtDirection.Reply, TcpFlags.Ack, CtTcpState.CloseWait)]
    [InlineData(CtTcpState.FinWait, CtDirection.Reply, TcpFlags.Fin | TcpFlags.Ack, CtTcpState.LastAck)]
    [InlineData(CtTcpState.LastAck, CtDirection.Original, TcpFlags.Ack, CtTcpState.TimeWait)]
    [InlineData(CtTcpState.Established, CtDirection.Reply, TcpFlags.Rst, CtTcpState.Close)]
    [InlineData(CtTcpState.None, CtDirection.Original, TcpFlags.Ack, CtTcpState.Established)] // picked up midstream (nf_ct_tcp_loose)
    [InlineData(CtTcpState.SynSent, CtDirection.Reply, TcpFlags.Syn, CtTcpState.SynSent2)]  // simultaneous open
    public void Tcp_states_follow_the_kernels_transition_table(CtTcpState from, CtDirection dir, TcpFlags flags, CtTcpState to)
    {
        Assert.True(TcpConntrack.TryNext(from, dir, flags, out var next));
        Assert.Equal(to, next);
    }

    [Theory]
    [InlineData(CtTcpState.None, CtDirection.Original, TcpFlags.Fin | TcpFlags.Ack)] // sIV: a FIN cannot start a connection
    [InlineData(CtTcpState.Established, CtDirection.Reply, TcpFlags.Syn | TcpFlags.Ack)] // sIG: a late SYN-ACK is ignored
    public void Invalid_and_ignored_segments_leave_the_state(CtTcpState from, CtDirection dir, TcpFlags flags)
    {
        Assert.False(TcpConntrack.TryNext(from, dir, flags, out var next));
        Assert.Equal(from, next);
    }

    [Fact]
    public void Tcp_timeouts_are_the_kernels_defaults()
    {
        // tcp_timeouts[]: SYN_SENT 2 min, SYN_RECV 60 s, ESTABLISHED 5 days, FIN_WAIT 2 min, CLOSE_WAIT 60 s,
        // LAST_ACK 30 s, TIME_WAIT 2 min, CLOSE 10 s.
        Assert.Equal(new[] { 120, 60, 432000, 120, 60, 30, 120, 10 },
            new[] { CtTcpState.SynSent, CtTcpState.SynRecv, CtTcpState.Established, CtTcpState.FinWait, CtTcpState.CloseWait, CtTcpState.LastAck, CtTcpState.TimeWait, CtTcpState.Close }
                .Select(TcpConntrack.TimeoutSeconds));
    }

    [Fact]
    public void A_closed_connection_sits_in_time_wait_for_two_minutes_and_then_is_gone()
    {
        var (sim, handle, port) = Established();
        Assert.Equal(("ESTABLISHED", 432000 - 1), (HostEntry(sim, port)!.TcpState, HostEntry(sim, port)!.TimeoutSeconds));
        sim.Close(handle);
        // FIN (original) → FIN_WAIT, FIN (reply) → LAST_ACK, ACK (original) → TIME_WAIT: 120 s.
        var e = HostEntry(sim, port)!;
        Assert.Equal("TIME_WAIT", e.TcpState);
        Assert.Equal(119, e.TimeoutSeconds);
        sim.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(59, HostEntry(sim, port)!.TimeoutSeconds); // counts down
        sim.Advance(TimeSpan.FromSeconds(60));
        Assert.Null(HostEntry(sim, port));
    }

    [Fact]
    public void Ipvs_follows_its_own_tcp_state_table_through_the_close()
    {
        // ip_vs_proto_tcp.c tcp_states: INPUT FIN in ESTABLISHED → CLOSE_WAIT, OUTPUT FIN in CLOSE_WAIT → TIME_WAIT, INPUT
        // ACK stays TIME_WAIT (2 min); the connection turns inactive when it leaves ESTABLISHED and is gone after 2 min.
        var (sim, handle, _) = Established();
        var close = sim.CloseTraced(handle);
        var state = new SimulatedDataplaneState(sim);
        var c = state.IpvsConnections("manager", "ingress_sbox").Single();
        Assert.True(("TIME_WAIT", 119) == (c.State, c.ExpiresInSeconds), c.State + " " + TextTraceRenderer.Render(close.Select(t => new ConnectionTrace(1, 1, t, null)).ToList(), "close", includeReplies: false));
        var svc = sim.Cluster.Namespace("manager", "ingress_sbox")!.IpvsServices.Single();
        Assert.Equal((0, 1), (svc.Destinations.Sum(d => d.ActiveConnections), svc.Destinations.Sum(d => d.InactiveConnections)));
        sim.Advance(TimeSpan.FromMinutes(2));
        Assert.Empty(state.IpvsConnections("manager", "ingress_sbox"));
        Assert.Equal(0, svc.Destinations.Sum(d => d.ActiveConnections + d.InactiveConnections));
        var table = sim.Cluster.Namespace("manager", "host")!.Conntrack;
        Assert.DoesNotContain(table.LiveEntries(), i => table[i].Original.Protocol == IpProtocol.Tcp);
    }

    [Fact]
    public void Ipvs_connections_expire_after_their_state_timeout_and_release_the_real_server()
    {
        // ip_vs_proto_tcp.c: ESTABLISHED 15 min; conntrack's own entry (5 days) outlives it.
        var (sim, _, port) = Established();
        var sbox = sim.Cluster.Namespace("manager", "ingress_sbox")!;
        var state = new SimulatedDataplaneState(sim);
        Assert.Single(state.IpvsConnections("manager", "ingress_sbox"));
        Assert.Equal(1, sbox.IpvsServices.Single().Destinations.Sum(d => d.ActiveConnections));
        sim.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, state.IpvsConnections("manager", "ingress_sbox").Single().ExpiresInSeconds);
        sim.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(state.IpvsConnections("manager", "ingress_sbox"));
        Assert.Equal(0, sbox.IpvsConnections.Count);
        Assert.Equal(0, sbox.IpvsServices.Single().Destinations.Sum(d => d.ActiveConnections + d.InactiveConnections));
        Assert.NotNull(HostEntry(sim, port));
        sim.Advance(TimeSpan.FromDays(5));
        Assert.Null(HostEntry(sim, port));
    }

    [Fact]
    public void Udp_flows_get_thirty_seconds_and_the_stream_timeout_once_replied_for_two_seconds()
    {
        // nf_conntrack_udp_packet: udp_timeout (30 s) until the flow saw a reply and is still active after stream_ts (its
        // first packet + 2 s); then udp_timeout_stream (120 s) and ASSURED.
        var sim = new Simulation(ExamplePlans.Udp);
        Assert.True(sim.TryResolve("external", "manager:8080/udp", out var flow, out var error), error);
        var h = new PacketHeaders
        {
            Protocol = IpProtocol.Udp, Source = flow.Source == Ipv4Address.Any ? sim.Cluster.Plan.Underlay.ExternalClient : flow.Source, SourcePort = 40000,
            Destination = flow.Destination, DestinationPort = 8080, Ttl = 64, PayloadLength = 10,
        };
        var first = sim.Send(flow.SourceNamespace, new Packet { Headers = h });
        Assert.StartsWith("external/", first.Reply!.Disposition.Where, StringComparison.Ordinal); // the answer came back through the host
        var state = new SimulatedDataplaneState(sim);
        SwarmDsl.Views.ConntrackEntry Entry() => state.ConntrackEntries("manager", "host").Single(x => x.Protocol == IpProtocol.Udp && x.Original.SourcePort == 40000);
        Assert.Equal((29, false, false), (Entry().TimeoutSeconds, Entry().Unreplied, Entry().Assured));
        sim.Advance(TimeSpan.FromSeconds(3));
        sim.Send(flow.SourceNamespace, new Packet { Headers = h });
        Assert.Equal((119, true), (Entry().TimeoutSeconds, Entry().Assured));
        sim.Advance(TimeSpan.FromSeconds(120));
        Assert.DoesNotContain(state.ConntrackEntries("manager", "host"), x => x.Protocol == IpProtocol.Udp && x.Original.SourcePort == 40000);
    }

    [Fact]
    public void An_unanswered_udp_datagram_is_forgotten_after_thirty_seconds()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        int client = sim.Cluster.ExternalClient(sim.Cluster.Plan.Underlay.ExternalClient).Index;
        var h = new PacketHeaders
        {
            Protocol = IpProtocol.Udp, Source = sim.Cluster.Plan.Underlay.ExternalClient, SourcePort = 40000,
            Destination = Ipv4Address.Parse("10.7.191.10"), DestinationPort = 53, Ttl = 64, PayloadLength = 10,
        };
        sim.Send(client, new Packet { Headers = h }); // nothing listens: port unreachable, RELATED, not a reply
        var state = new SimulatedDataplaneState(sim);
        var e = state.ConntrackEntries("manager", "host").Single(x => x.Protocol == IpProtocol.Udp && x.Original.SourcePort == 40000);
        Assert.Equal((29, true, false), (e.TimeoutSeconds, e.Unreplied, e.Assured));
        sim.Advance(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(state.ConntrackEntries("manager", "host"), x => x.Protocol == IpProtocol.Udp && x.Original.SourcePort == 40000);
    }

    [Fact]
    public void Learned_fdb_entries_age_out_after_ageing_time()
    {
        // br_fdb has_expired: a learned entry goes when updated + ageing_time (300 s) ≤ now; local and static ones stay.
        var (sim, _, _) = Established();
        var br = sim.Cluster.Namespace("manager", "host")!.Devices.Single(d => d.Name == "docker_gwbridge");
        var learned = br.Fdb!.Snapshot().Count(kv => kv.Value.Kind == SwarmDsl.Runtime.Bridging.FdbEntryKind.Learned);
        Assert.True(learned > 0);
        int total = br.Fdb.Count;
        sim.Advance(TimeSpan.FromSeconds(299));
        Assert.Equal(total, br.Fdb.Count);
        sim.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(total - learned, br.Fdb.Count);
        Assert.DoesNotContain(br.Fdb.Snapshot(), kv => kv.Value.Kind == SwarmDsl.Runtime.Bridging.FdbEntryKind.Learned);
    }

    [Fact]
    public void Traffic_after_expiry_starts_afresh()
    {
        // After the IPVS connection expired, the next packet of the flow is not part of any connection: a bare ACK is not
        // scheduled (tcp_conn_schedule wants a SYN), while a new connection is scheduled normally.
        var (sim, handle, _) = Established();
        sim.Advance(TimeSpan.FromMinutes(16));
        sim.SendData(handle, 10);
        Assert.Empty(new SimulatedDataplaneState(sim).IpvsConnections("manager", "ingress_sbox"));
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        Assert.Equal(DispositionKind.Delivered, sim.ConnectUntraced(flow).Request);
        Assert.Single(new SimulatedDataplaneState(sim).IpvsConnections("manager", "ingress_sbox"));
    }
}
