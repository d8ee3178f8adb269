using System.IO;
using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Model;

/// <summary>
/// Snapshots of the analyzed model (every derived value visible), plus explicit checks of the values dsl.md §3 and the
/// reference (swarm-dataplane.md) fix, so a snapshot can never silently accept a wrong derivation.
/// </summary>
public class TopologyDumpTests
{
    private static Topology Analyze(string path)
    {
        var result = SwarmCompiler.Compile(path, File.ReadAllText(path));
        Assert.False(result.HasErrors, TestInput.Describe(result));
        Assert.Empty(result.Diagnostics);
        return result.Topology!;
    }

    private static Topology TwoNode => Analyze(Paths.Example);
    private static Topology ThreeNode => Analyze(TestInput.ThreeNodePath);

    [Fact]
    public void Example() => Snapshot.Verify(TopologyDump.Render(TwoNode));

    [Fact]
    public void Three_node() => Snapshot.Verify(TopologyDump.Render(ThreeNode));

    private static EndpointModel Endpoint(Topology t, string node, string ns, string network) =>
        t.Endpoints.Single(e => e.Node == node && e.Namespace == ns && e.Network == network);

    [Fact]
    public void Example_matches_the_seed_article()
    {
        var t = TwoNode;
        var ingress = t.Networks.Single(n => n.Name == "ingress");
        Assert.Equal((4096, 1450, "10.255.0.1"), (ingress.Vni, ingress.Mtu, ingress.Gateway.ToString()));
        var web = t.Services.Single();
        Assert.Equal("10.255.0.4", web.Vips.Single().Address.ToString());
        Assert.Equal(Scheduler.Wrr, web.Scheduler);
        // ingress_sbox eth0 per node (pinned .2/.3), eth1 on docker_gwbridge as its first endpoint (172.18.0.2).
        Assert.Equal("10.255.0.2/16", Endpoint(t, "manager", "ingress_sbox", "ingress").Address.ToString());
        Assert.Equal("10.255.0.3/16", Endpoint(t, "worker", "ingress_sbox", "ingress").Address.ToString());
        Assert.Equal(("eth1", "172.18.0.2/16"), (Endpoint(t, "worker", "ingress_sbox", "docker_gwbridge").Interface, Endpoint(t, "worker", "ingress_sbox", "docker_gwbridge").Address.ToString()));
        // Tasks: eth0 on ingress, docker_gwbridge last; MAC 02:42 + the IPv4 bytes.
        var task = Endpoint(t, "manager", "web.1", "ingress");
        Assert.Equal(("eth0", "10.255.0.5/16", "02:42:0a:ff:00:05"), (task.Interface, task.Address.ToString(), task.Mac.ToString()));
        Assert.Equal("eth1", Endpoint(t, "manager", "web.1", "docker_gwbridge").Interface);
        Assert.Equal("10.255.0.6/16", Endpoint(t, "worker", "web.2", "ingress").Address.ToString());
        // One fwmark per service per network per node, from 256 (0x100).
        Assert.All(t.LoadBalancers, lb => Assert.Equal((256, "ingress_sbox"), (lb.FwMark, lb.Namespace)));
        Assert.Equal(new[] { "manager", "worker" }, t.LoadBalancers.Select(lb => lb.Node));
    }

    [Fact]
    public void Overlays_keep_their_vnis_when_a_first_port_is_published()
    {
        // Found by a black-box tester (session 18): publishing a first port derived the ingress network at 4096 and moved every
        // other overlay up by one. A swarm has its ingress network from `swarm init` on, so 4096 is never another's.
        const string yaml = """
            version: 1
            name: v
            nodes: { a: { address: 10.0.9.1/24 } }
            networks:
              o1: { driver: overlay, subnet: 10.1.0.0/24 }
              o2: { driver: overlay, subnet: 10.2.0.0/24 }
            services:
              s: { networks: [o1, o2], expose: [80] }
            """;
        int[] Vnis(string text)
        {
            var result = TestInput.Compile(text);
            Assert.False(result.HasErrors, TestInput.Describe(result));
            return new[] { "o1", "o2" }.Select(n => result.Topology!.Networks.Single(x => x.Name == n).Vni).ToArray();
        }
        Assert.Equal(new[] { 4097, 4098 }, Vnis(yaml));
        var published = yaml.Replace("expose: [80]", "ports: [{ published: 80, target: 80 }]");
        Assert.Equal(new[] { 4097, 4098 }, Vnis(published));
        Assert.Equal(4096, TestInput.Compile(published).Topology!.Networks.Single(n => n.Ingress).Vni);
        // Without an ingress network a pinned 4096 is the user's (one may have removed it), with no warning.
        var pinned = TestInput.Compile(yaml.Replace("10.1.0.0/24 }", "10.1.0.0/24, vni: 4096 }"));
        Assert.Empty(pinned.Diagnostics);
        Assert.Equal(4097, pinned.Topology!.Networks.Single(x => x.Name == "o2").Vni);
    }

    [Fact]
    public void Three_node_derives_like_docker()
    {
        var t = ThreeNode;
        var net = t.Networks.ToDictionary(n => n.Name);

        // The undeclared ingress takes Docker's first global /24 and VNI 4096 (Swarm creates it first); declared overlays
        // follow in declaration order around the pinned VNI; overlay MTU = underlay - 50.
        Assert.Equal(("10.0.0.0/24", 4096, true, true), (net["ingress"].Subnet.ToString(), net["ingress"].Vni, net["ingress"].Ingress, net["ingress"].Implicit));
        Assert.Equal(4097, net["front"].Vni);
        Assert.Equal(5000, net["back"].Vni);
        Assert.Equal(4098, net["metrics"].Vni);
        Assert.All(t.Networks.Where(n => n.IsOverlay), n => Assert.Equal(8950, n.Mtu));
        // docker_gwbridge: 172.18.0.0/16 (docker0 holds 172.17), icc off, derived.
        Assert.Equal(("172.18.0.0/16", false, true), (net["docker_gwbridge"].Subnet.ToString(), net["docker_gwbridge"].Icc, net["docker_gwbridge"].Implicit));

        // Placement: the pinned task takes slot 1; spread puts the others on the least-loaded nodes in declaration order.
        Assert.Equal(new[] { ("web.1", "w2"), ("web.2", "m1"), ("web.3", "w1") },
            t.Tasks.Where(x => x.Service == "web").Select(x => (x.Name, x.Node)));
        Assert.Equal(new[] { ("api.1", "w1"), ("api.2", "w2") }, t.Tasks.Where(x => x.Service == "api").Select(x => (x.Name, x.Node)));
        // Global services: one task per eligible node, named <service>.<node> unless pinned with a name.
        Assert.Equal(new[] { "dns.w1", "dns-secondary" }, t.Tasks.Where(x => x.Service == "dns").Select(x => x.Name));
        Assert.Equal(new[] { "monitor.m1", "monitor.w1", "monitor.w2" }, t.Tasks.Where(x => x.Service == "monitor").Select(x => x.Name));

        // Join order: ingress first (publishing joins it), then declared networks, docker_gwbridge last.
        Assert.Equal(new[] { ("eth0", "ingress"), ("eth1", "front"), ("eth2", "back"), ("eth3", "docker_gwbridge") },
            t.Endpoints.Where(e => e.Namespace == "web.2").Select(e => (e.Interface, e.Network)));

        // Pinned values stay; derived ones fill the first free host addresses after the gateway (LB endpoints first, then per
        // service its VIP and tasks, decisions.md).
        var web = t.Services.Single(s => s.Name == "web");
        Assert.Equal(new[] { ("front", "10.0.1.100", true), ("back", "10.0.2.5", false), ("ingress", "10.0.0.5", false) },
            web.Vips.Select(v => (v.Network, v.Address.ToString(), v.Pinned)));
        Assert.Equal(("10.0.1.50/24", true), (Endpoint(t, "w2", "web.1", "front").Address.ToString(), Endpoint(t, "w2", "web.1", "front").Pinned));
        Assert.Equal(("10.0.3.250/24", true), (Endpoint(t, "m1", "lb_metrics", "metrics").Address.ToString(), Endpoint(t, "m1", "lb_metrics", "metrics").Pinned));
        Assert.Equal("10.0.3.2/24", Endpoint(t, "w1", "lb_metrics", "metrics").Address.ToString());
        Assert.Equal(3, t.Tasks.Single(x => x.Name == "web.1").Weight);

        // dnsrr: no VIP and no load balancer; host-mode ports do not join ingress.
        var dns = t.Services.Single(s => s.Name == "dns");
        Assert.Empty(dns.Vips);
        Assert.DoesNotContain(t.LoadBalancers, lb => lb.Service == "dns");
        Assert.Equal(new[] { "back" }, dns.Networks.ToArray());
        Assert.Equal(new[] { "metrics" }, t.Services.Single(s => s.Name == "monitor").Networks.ToArray());
        Assert.Equal((IpProtocol.Udp, PublishMode.Ingress), (t.Services.Single(s => s.Name == "logs").Ports.Single().Protocol, t.Services.Single(s => s.Name == "logs").Ports.Single().Mode));

        // lb_<network> only on nodes hosting a task of that network; ingress_sbox on every node, balancing only publishers.
        Assert.Equal(new[] { "m1", "w1", "w2" }, t.Endpoints.Where(e => e.Namespace == "lb_back").Select(e => e.Node));
        Assert.Equal(new[] { "logs", "web" }, t.LoadBalancers.Where(lb => lb.Namespace == "ingress_sbox" && lb.Node == "w1").Select(lb => lb.Service).Order());

        // fwmarks: per node from 256, one per service per network, contiguous, identical on every node here.
        foreach (var node in new[] { "m1", "w1", "w2" })
            Assert.Equal(Enumerable.Range(256, 7), t.LoadBalancers.Where(lb => lb.Node == node).Select(lb => lb.FwMark));

        // Sysctls: cluster-wide first, then per node.
        Assert.Equal(new[] { (null, "net.core.somaxconn"), ((string?)"w1", "net.ipv4.tcp_keepalive_time") }, t.Sysctls.Select(s => (s.Node, s.Key)));
        Assert.Equal(("ens3", "w1"), (t.Nodes.Single(n => n.Name == "w1").Interface, t.Nodes.Single(n => n.Name == "w1").Hostname));
    }

    [Fact]
    public void Rendering_twice_gives_identical_text()
    {
        Assert.Equal(TopologyDump.Render(ThreeNode), TopologyDump.Render(ThreeNode));
        Assert.Equal(ThreeNode, ThreeNode);
    }
}
