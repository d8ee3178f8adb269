using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Lowering;

public class EdgeCaseLoweringTests
{
    [Fact]
    public void Without_an_ingress_network_there_is_no_routing_mesh()
    {
        var plan = LoweringFixtures.Plan("solo.swarm.yaml", """
            version: 1
            name: solo
            nodes:
              one: { address: 192.0.2.10/24 }
            networks:
              apps: { driver: overlay, subnet: 10.20.0.0/24 }
            services:
              app: { networks: [apps] }
            """);
        var one = plan.Host("one");
        Assert.Equal(new[] { "host", "1-apps", "lb_apps", "app.1" }, one.Namespaces.Select(n => n.Name));
        var host = one.Ns("host");
        Assert.All(host.Tables, t => Assert.DoesNotContain(t.Chains, c => c.Name == "DOCKER-INGRESS"));
        Assert.Equal(new[] { "DOCKER-CT", "DOCKER-INTERNAL", "DOCKER-BRIDGE", "DOCKER", "DOCKER" },
            host.Chain("filter", "DOCKER-FORWARD").Rules.Select(r => r.Target).OfType<JumpTarget>().Select(j => j.Chain).Concat(
                host.Chain("nat", "PREROUTING").Rules.Concat(host.Chain("nat", "OUTPUT").Rules).Select(r => ((JumpTarget)r.Target).Chain)));
        Assert.DoesNotContain(host.Sysctls, s => s.Key.Contains("route_localnet"));
        // One node: no remote endpoints, so no static FDB or neighbour entries.
        Assert.True(one.Ns("1-apps").Fdb.IsEmpty);
        Assert.True(one.Ns("1-apps").Neighbors.IsEmpty);
        // A task without ports has no firewall and no listener.
        Assert.True(one.Ns("app.1").Tables.IsEmpty);
        Assert.True(one.Ns("app.1").Listeners.IsEmpty);
        Assert.Equal(Ipv4Address.Parse("192.0.2.254"), plan.Underlay.ExternalClient);
    }

    [Fact]
    public void Exposed_ports_open_sockets_in_every_task_without_publishing_anything()
    {
        var plan = LoweringFixtures.Plan("db.swarm.yaml", """
            version: 1
            name: db
            nodes:
              one: { address: 192.0.2.10/24 }
              two: { address: 192.0.2.11/24 }
            networks:
              apps: { driver: overlay, subnet: 10.20.0.0/24 }
            services:
              db:
                replicas: 2
                networks: [apps]
                expose: [5432, "5433/udp"]
            """);
        foreach (var (node, task) in new[] { ("one", "db.1"), ("two", "db.2") })
        {
            var ns = plan.Host(node).Ns(task);
            Assert.Equal(new[] { (IpProtocol.Tcp, 5432, task), (IpProtocol.Udp, 5433, task) }, ns.Listeners.Select(l => (l.Protocol, l.Port, l.Owner)));
            Assert.Equal((12, 20), (ns.Listeners[1].Span.StartLine, ns.Listeners[1].Span.StartColumn)); // the "5433/udp" item
            Assert.True(ns.Tables.IsEmpty); // nothing published: no REDIRECT, no INPUT/OUTPUT rules
        }
        Assert.DoesNotContain(plan.Hosts, h => h.Namespaces.Any(n => n.Name == "ingress_sbox"));
    }

    [Fact]
    public void Ingress_without_published_ports_keeps_empty_chains_and_no_balancing()
    {
        var plan = LoweringFixtures.Plan("quiet.swarm.yaml", """
            version: 1
            name: quiet
            nodes:
              one: { address: 192.0.2.10/24 }
            networks:
              ingress: { driver: overlay, ingress: true, subnet: 10.0.0.0/24 }
            """);
        var one = plan.Host("one");
        Assert.Equal(new[] { "host", "1-ingress", "ingress_sbox" }, one.Namespaces.Select(n => n.Name));
        Assert.Equal(new ReturnTarget(), Assert.Single(one.Ns("host").Chain("nat", "DOCKER-INGRESS").Rules).Target);
        Assert.Equal(new ReturnTarget(), Assert.Single(one.Ns("host").Chain("filter", "DOCKER-INGRESS").Rules).Target);
        var sbox = one.Ns("ingress_sbox");
        Assert.True(sbox.Ipvs.IsEmpty);
        Assert.Empty(sbox.Chain("mangle", "INPUT").Rules);
        Assert.DoesNotContain(sbox.Tables, t => t.Name == "nat");
        Assert.Equal("default", PlanDumpRoute(sbox.Routes.Last()));
    }

    [Fact]
    public void A_full_underlay_leaves_no_external_client_and_says_so()
    {
        var result = LoweringFixtures.Compile("""
            version: 1
            name: tight
            underlay: { subnet: 192.0.2.0/30 }
            nodes:
              a: { address: 192.0.2.1/30 }
              b: { address: 192.0.2.2/30 }
            """);
        Assert.NotNull(result.Plan);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("SWARM0022", global::SwarmDsl.Diagnostics.Severity.Warning), (d.Id, d.Severity));
        Assert.Equal(Ipv4Address.Any, result.Plan!.Underlay.ExternalClient);
    }

    private static string PlanDumpRoute(RoutePlan r) => r.Destination.PrefixLength == 0 ? "default" : r.Destination.ToString();
}
