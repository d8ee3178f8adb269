using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>
/// How the simulator names things: services from the plan (a task namespace's owner, every balancer), not from task
/// names; a task addressed on a network its client shares with it; an ICMP echo to a VIP answered where IPVS leaves it.
/// </summary>
public class ResolutionTests
{
    private const string Yaml = """
        version: 1
        name: resolution
        nodes:
          m: { address: 10.1.1.10/24, role: manager }
          w: { address: 10.1.1.11/24 }
        networks:
          app: { driver: overlay, subnet: 10.9.0.0/24 }
        services:
          client:
            networks: [app]
            expose: [22]
            tasks: [ { node: m } ]
          web:
            networks: [app]
            ports: [ { published: 8080, target: 80 } ]
            tasks: [ { node: w, name: front.0 } ]
          idle:
            networks: [app]
            replicas: 0
        """;

    private static DataplanePlan Plan(LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
    {
        var result = SwarmCompiler.CompileToPlan("resolution.swarm.yaml", Yaml, new SwarmDsl.Lowering.LoweringOptions(backend));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    [Fact]
    public void A_task_belongs_to_the_service_that_owns_it_not_to_the_service_its_name_looks_like()
    {
        var sim = new Simulation(Plan());
        // "front.0" is web's task: no service "front" appears, and web sends from it.
        Assert.False(sim.TryResolve("client", "front:80/tcp", out _, out _));
        Assert.True(sim.TryResolve("web", "client:22/tcp", out var flow, out var error), error);
        Assert.Equal("front.0", sim.Cluster.Namespaces[flow.SourceNamespace].Name);
        var trace = sim.Connect("client", "web:80/tcp")[0];
        Assert.Equal(DispositionKind.Delivered, trace.Request.Disposition.Kind);
        Assert.Equal("front.0", trace.Request.Disposition.Owner.Split('/')[^1]);
    }

    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void A_service_without_tasks_has_no_balancer_and_no_name_in_the_plan(LoadBalancerBackend backend)
    {
        // Docker programs a service's balancer, VIP alias and name record with its first task (swarm-dataplane.md §2.3).
        var plan = Plan(backend);
        Assert.DoesNotContain(plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.Ipvs), s => s.Service == "idle");
        Assert.DoesNotContain(plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.NftLoadBalancers), l => l.Service == "idle");
        var sim = new Simulation(plan);
        Assert.Null(sim.ResolveName("idle"));
        Assert.False(sim.TryResolve("client", "idle:80/tcp", out _, out _));
    }

    [Fact]
    public void A_task_is_addressed_on_a_network_its_client_shares_with_it()
    {
        var sim = new Simulation(Plan());
        // front.0 publishes a port, so its first address is on the ingress network, which the client is not on.
        Assert.True(sim.TryResolve("client", "front.0:80/tcp", out var flow, out var error), error);
        Assert.Equal("10.9.0", flow.Destination.ToString()[..6]);
        var trace = sim.Connect(flow, 1)[0];
        Assert.Equal(DispositionKind.Delivered, trace.Request.Disposition.Kind);
    }

    [Fact]
    public void IPVS_leaves_an_echo_to_a_vip_to_the_namespace_that_owns_it()
    {
        // ip_vs_in: an echo request is not an ICMP error related to a connection and ICMP has no IPVS protocol data, so it
        // is accepted to the local stack; the balancer's sandbox, which holds the VIP, answers.
        var sim = new Simulation(Plan());
        Assert.True(sim.TryResolve("client", "web", out var flow, out var error), error);
        var trace = sim.Connect(flow with { Protocol = SwarmDsl.Net.IpProtocol.Icmp, DestinationPort = 0 }, 1)[0];
        Assert.Equal(DispositionKind.Delivered, trace.Request.Disposition.Kind);
        Assert.EndsWith("lb_app", trace.Request.Disposition.Where);
        Assert.DoesNotContain(trace.Request.AllSteps(), s => s is IpvsStep);
        Assert.Equal(DispositionKind.Delivered, trace.Reply!.Disposition.Kind);
    }

    [Theory]
    [InlineData("255.255.255.255", "limited broadcast")]
    [InlineData("224.0.0.5", "multicast")]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("240.0.0.1", "class E")]
    [InlineData("10.1.1.255", "broadcast")]
    [InlineData("10.1.1.11", "node w")]
    [InlineData("10.9.0.2", "an address of")]
    public void An_outside_client_cannot_take_a_martian_or_taken_address(string address, string why)
    {
        var sim = new Simulation(Plan());
        Assert.False(sim.TryResolve("external:" + address, "m:8080/tcp", out _, out var error));
        Assert.Contains(why, error, System.StringComparison.Ordinal);
        Assert.True(sim.TryResolve("external:10.1.1.200", "m:8080/tcp", out _, out error), error);
    }

    [Theory]
    [InlineData("10.1.1.255:8080/tcp", "broadcast")]
    [InlineData("255.255.255.255:53/udp", "broadcast")]
    [InlineData("224.0.0.5:80/tcp", "multicast")]
    public void A_client_does_not_send_to_a_broadcast_or_connect_to_a_group(string to, string why)
    {
        var sim = new Simulation(Plan());
        Assert.False(sim.TryResolve("external", to, out _, out var error));
        Assert.Contains(why, error, System.StringComparison.Ordinal);
        Assert.True(sim.TryResolve("external", "10.1.1.10:8080/tcp", out _, out error), error);
    }

    [Theory]
    [InlineData("[front, back]", "10.8.0.100")]
    [InlineData("[back, front]", "10.9.0.100")]
    public void A_service_on_two_shared_networks_is_sent_to_on_the_clients_first(string clientNetworks, string vip)
    {
        // Docker's resolver asks the sandbox's networks in endpoint order; the ingress network, which has no service
        // records, comes last.
        var yaml = $$"""
            version: 1
            name: two-vips
            nodes:
              m: { address: 10.1.1.10/24, role: manager }
              w: { address: 10.1.1.11/24 }
            networks:
              front: { driver: overlay, subnet: 10.8.0.0/24 }
              back: { driver: overlay, subnet: 10.9.0.0/24 }
            services:
              client:
                networks: {{clientNetworks}}
                expose: [22]
                tasks: [ { node: m } ]
              web:
                networks: [ingress, front, back]
                vip: { front: 10.8.0.100, back: 10.9.0.100 }
                ports: [ { published: 8080, target: 80 } ]
                tasks: [ { node: w } ]
            """;
        var plan = SwarmCompiler.CompileToPlan("two-vips.swarm.yaml", yaml).Plan!;
        var sim = new Simulation(plan);
        Assert.True(sim.TryResolve("client", "web:80/tcp", out var flow, out var error), error);
        Assert.Equal(vip, flow.Destination.ToString());
    }
}

