using System;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>The untraced hot path allocates nothing.</summary>
public class HotPathTests
{
    /// <summary>external → worker:8080 landing on web.1 (on the manager): both hosts, ingress_sbox (IPVS + SNAT), VXLAN, REDIRECT.</summary>
    private static (Simulation, ConnectionHandle) WebOneThroughTheWorker()
    {
        var sim = new Simulation(ExamplePlans.Ipvs, 3);
        Assert.True(sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error), error);
        for (int i = 0; i < 4; i++)
        {
            var r = sim.ConnectUntraced(flow);
            if (r.Task == "web.1" && r.Handle is { } handle) return (sim, handle);
        }
        throw new InvalidOperationException("no connection to web.1 in 4 tries");
    }

    [Fact]
    public void An_established_packet_through_the_ingress_path_allocates_nothing()
    {
        // external → worker:8080 lands on web.1 through both hosts, ingress_sbox (IPVS + SNAT), VXLAN and REDIRECT:
        // the longest path of the example.
        var (sim, h) = WebOneThroughTheWorker();
        for (int i = 0; i < 50; i++) Assert.Equal(DispositionKind.Delivered, sim.SendData(h, 100)); // warm up (JIT, table growth)

        AssertDeliveredWithoutAllocating(sim, h, 2000);
    }

    /// <summary>
    /// Sends <paramref name="packets"/> data packets on an established connection: all delivered, 0 bytes allocated. A
    /// window that allocated is measured again, up to three times: once in about eight runs of the whole suite, a window
    /// on a busy machine saw a one-time allocation (the runtime's tiering of a method, not the packet path); an allocation
    /// per packet shows in every window.
    /// </summary>
    internal static void AssertDeliveredWithoutAllocating(Simulation sim, ConnectionHandle h, int packets)
    {
        long allocated = 0;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            int delivered = 0;
            for (int i = 0; i < packets; i++)
                if (sim.SendData(h, 100) == DispositionKind.Delivered) delivered++;
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(packets, delivered);
            if (allocated == 0) return;
        }
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void The_established_packet_takes_the_whole_path()
    {
        // The same path, traced once: it really crosses both hosts, IPVS and VXLAN (so the test above measures it).
        var (sim, h) = WebOneThroughTheWorker();
        var t = sim.SendDataTraced(h, 100);
        Assert.Equal(DispositionKind.Delivered, t.Disposition.Kind);
        Assert.Contains(t.AllSteps(), s => s is IpvsStep { NewConnection: false });
        Assert.Contains(t.AllSteps(), s => s is VxlanEncapStep);
        Assert.Contains(t.AllSteps(), s => s is ConntrackStep { State: "established" });
    }

    [Fact]
    public void The_servers_acks_keep_the_bridges_learned_entries_fresh()
    {
        // Each packet takes a simulated millisecond and learned FDB entries age out after 300 s: a one-way stream of data
        // ends up flooded at the bridges (as the kernel would), while the server's ACKs keep the entries learned.
        var (sim, h) = WebOneThroughTheWorker();
        var ack = sim.SendAckTraced(h);
        Assert.Equal(DispositionKind.Delivered, ack.Disposition.Kind);
        Assert.Equal("external client", ack.Disposition.Owner);
        Assert.Contains(ack.AllSteps(), s => s is IpvsStep);
        Assert.Contains(ack.AllSteps(), s => s is ConntrackStep { State: "established (reply direction)" });

        for (int i = 0; i < 301_000; i++)
        {
            Assert.Equal(DispositionKind.Delivered, sim.SendData(h, 100));
            if (i % 4096 == 0) Assert.Equal(DispositionKind.Delivered, sim.SendAck(h));
        }
        Assert.DoesNotContain(sim.SendDataTraced(h, 100).AllSteps(), s => s is FdbStep f && f.Result.StartsWith("miss", StringComparison.Ordinal));

        sim.Advance(TimeSpan.FromSeconds(301)); // no ACK for longer than the ageing time
        Assert.Contains(sim.SendDataTraced(h, 100).AllSteps(), s => s is FdbStep f && f.Result.StartsWith("miss", StringComparison.Ordinal));
    }
}
