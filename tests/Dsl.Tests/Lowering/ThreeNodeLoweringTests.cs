using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Lowering;

/// <summary>
/// TestData/three-node.swarm.yaml: two user overlays and the implicit ingress, a node-local bridge with icc, TCP and UDP
/// ingress ports, host-mode ports, a dnsrr service, a global service, wrr weights 3/1/2 and raw rules.
/// </summary>
public class ThreeNodeLoweringTests
{
    private static readonly DataplanePlan Plan = LoweringFixtures.ThreeNode();

    private static Ipv4Address A(string s) => Ipv4Address.Parse(s);
    private static Ipv4Cidr C(string s) => Ipv4Cidr.Parse(s);

    [Fact]
    public void Declared_underlay_and_data_path_port()
    {
        Assert.Equal(new UnderlayPlan(C("192.168.56.0/24"), 1500, 4790, A("192.168.56.254")), Plan.Underlay);
        Assert.Equal("ens3", Plan.Host("beta").UnderlayInterface);
        Assert.Equal(DeviceKind.Physical, Plan.Host("beta").Ns("host").Device("ens3").Kind);
        Assert.All(Plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.Devices).Where(d => d.Vxlan is not null),
            d => Assert.Equal(4790, d.Vxlan!.DstPort));
    }

    [Fact]
    public void Namespace_order_is_host_overlays_in_network_order_ingress_sbox_lbs_then_tasks()
    {
        Assert.Equal(new[] { "host", "1-frontend", "1-backend", "1-ingress", "ingress_sbox", "lb_frontend", "lb_backend", "api.1", "db.1", "agent.alpha" },
            Plan.Host("alpha").Namespaces.Select(n => n.Name));
        Assert.Equal(new[] { "host", "1-frontend", "1-backend", "1-ingress", "ingress_sbox", "lb_frontend", "lb_backend", "api.3", "agent.gamma" },
            Plan.Host("gamma").Namespaces.Select(n => n.Name));
    }

    [Fact]
    public void Each_overlay_has_its_own_vni_and_remote_endpoints()
    {
        var topology = SwarmCompiler.Compile(LoweringFixtures.ThreeNodePath, System.IO.File.ReadAllText(LoweringFixtures.ThreeNodePath)).Topology!;
        var gamma = Plan.Host("gamma");
        foreach (var net in new[] { "frontend", "backend", "ingress" })
        {
            var ns = gamma.Ns("1-" + net);
            var model = topology.Networks.Single(n => n.Name == net);
            Assert.Equal(model.Vni, ns.Device("vxlan0").Vxlan!.Vni);
            var remote = topology.Endpoints.Where(e => e.Network == net && e.Node != "gamma").ToList();
            Assert.Equal(remote.Select(e => (e.Mac, (Ipv4Address?)topology.Nodes.Single(n => n.Name == e.Node).Address.Address)), ns.Fdb.Select(f => (f.Mac, f.RemoteVtep)));
            Assert.Equal(remote.Select(e => e.Address.Address), ns.Neighbors.Select(n => n.Address));
        }
        Assert.Equal(3, gamma.Namespaces.Select(n => n.Devices.FirstOrDefault(d => d.Vxlan is not null)?.Vxlan!.Vni).Where(v => v is not null).Distinct().Count());
        // backend on gamma: lb_backend, api.3, agent.gamma (db has no task there).
        Assert.Equal(new[] { "lb_backend", "api.3", "agent.gamma" }, gamma.Ns("1-backend").Devices.Where(d => d.Kind == DeviceKind.Veth).Select(d => d.Peer!.Namespace));
    }

    [Fact]
    public void Bridge_with_icc_and_without_masquerade_gets_one_accept_and_no_postrouting_rule()
    {
        var host = Plan.Host("beta").Ns("host");
        var br = host.Devices.Single(d => d.Name == "br-mgmt");
        Assert.Equal(DeviceKind.Bridge, br.Kind);
        Assert.Contains(host.Addresses, a => a.Device == "br-mgmt" && a.Address == C("172.30.0.1/16"));
        var forward = host.Chain("filter", "DOCKER-FORWARD").Rules;
        var mgmt = forward.Where(r => r.Origin == "networks.mgmt").ToList();
        Assert.Equal(new AcceptTarget(), Assert.Single(mgmt).Target);
        Assert.Equal(EquatableArray.Create<RuleMatch>(new InterfaceMatch(true, "br-mgmt")), mgmt[0].Matches);
        // docker_gwbridge's rules (icc=false) come first.
        Assert.Equal(new[] { "swarm.ingress", "networks.docker_gwbridge", "networks.docker_gwbridge", "networks.docker_gwbridge", "networks.docker_gwbridge", "networks.docker_gwbridge", "networks.mgmt" },
            forward.Select(r => r.Origin));
        Assert.DoesNotContain(host.Chain("nat", "POSTROUTING").Rules, r => r.Origin == "networks.mgmt");
        Assert.Contains(host.Chain("filter", "DOCKER-CT").Rules, r => r.Matches.Contains(new InterfaceMatch(false, "br-mgmt")));
    }

    [Fact]
    public void Ingress_ports_later_ones_above_earlier_ones_on_the_host()
    {
        var host = Plan.Host("gamma").Ns("host");
        var udp = new ProtocolMatch(IpProtocol.Udp);
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        var gw = A("172.18.0.2");
        Assert.Equal(new (RuleTarget, RuleMatch, RuleMatch)[]
        {
            (new DnatTarget(gw, 5353), udp, new PortMatch(IpProtocol.Udp, Direction.Destination, 5353, 5353)),
            (new DnatTarget(gw, 8080), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
        }, host.Chain("nat", "DOCKER-INGRESS").Rules.Take(2).Select(r => (r.Target, r.Matches[0], r.Matches[1])));
        Assert.Equal(new[] { "services.api.ports[1]", "services.api.ports[1]", "services.api.ports[0]", "services.api.ports[0]", "swarm.ingress" },
            host.Chain("filter", "DOCKER-INGRESS").Rules.Select(r => r.Origin));
        Assert.Equal(new PortMatch(IpProtocol.Udp, Direction.Destination, 5353, 5353), host.Chain("filter", "DOCKER-INGRESS").Rules[0].Matches[1]);
        Assert.Equal(new PortMatch(IpProtocol.Udp, Direction.Source, 5353, 5353), host.Chain("filter", "DOCKER-INGRESS").Rules[1].Matches[1]);
    }

    [Fact]
    public void Host_mode_ports_map_on_docker_gwbridge_of_the_node_running_the_task()
    {
        var host = Plan.Host("alpha").Ns("host");
        var notGw = new InterfaceMatch(true, "docker_gwbridge", true);
        Assert.Equal(new[]
        {
            (RuleTarget)new DnatTarget(A("172.18.0.4"), 5432), // db.1
            new DnatTarget(A("172.18.0.5"), 9100),             // agent.alpha
        }, host.Chain("nat", "DOCKER").Rules.Select(r => r.Target));
        Assert.Equal(EquatableArray.Create<RuleMatch>(notGw, new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 5432, 5432)),
            host.Chain("nat", "DOCKER").Rules[0].Matches);

        var docker = host.Chain("filter", "DOCKER").Rules;
        // Inserted at the top (agent.alpha's above db.1's), above the bridges' DROP rules.
        Assert.Equal(new[] { "services.agent.ports[0]", "services.db.ports[0]", "networks.docker_gwbridge", "networks.mgmt" }, docker.Select(r => r.Origin));
        Assert.Equal(EquatableArray.Create<RuleMatch>(new AddressMatch(Direction.Destination, C("172.18.0.4/32")), notGw, new InterfaceMatch(false, "docker_gwbridge"),
            new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 5432, 5432)), docker[1].Matches);

        // gamma runs no db task: only the agent's mapping.
        Assert.Equal(new[] { "services.agent.ports[0]" }, Plan.Host("gamma").Ns("host").Chain("nat", "DOCKER").Rules.Select(r => r.Origin));
        // Host-mode tasks get no ingress guard rules, but do listen.
        var db = Plan.Host("alpha").Ns("db.1");
        Assert.True(db.Tables.IsEmpty);
        Assert.Equal(new[] { (IpProtocol.Tcp, 5432) }, db.Listeners.Select(l => (l.Protocol, l.Port)));
    }

    [Fact]
    public void Ingress_sbox_marks_every_published_port_with_the_services_one_fwmark()
    {
        var sbox = Plan.Host("beta").Ns("ingress_sbox");
        var mark = new MarkTarget(0x103, 0xFFFF_FFFF);
        Assert.Equal(new[]
        {
            (mark, (RuleMatch)new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
            (mark, new PortMatch(IpProtocol.Udp, Direction.Destination, 5353, 5353)),
        }, sbox.Chain("mangle", "PREROUTING").Rules.Select(r => ((MarkTarget)r.Target, r.Matches[1])));
        var vip = Assert.Single(sbox.Addresses, a => a.Address.PrefixLength == 32);
        Assert.Equal(C("10.0.0.5/32"), vip.Address);
    }

    [Fact]
    public void Network_load_balancer_has_no_gateway_leg_no_default_route_and_no_prerouting_marks()
    {
        var lb = Plan.Host("alpha").Ns("lb_frontend");
        Assert.Equal((NamespaceKind.LoadBalancer, "frontend"), (lb.Kind, lb.Owner));
        Assert.Equal(new[] { "lo", "eth0" }, lb.Devices.Select(d => d.Name));
        Assert.Equal(new[] { C("10.10.1.2/24"), C("10.10.1.5/32") }, lb.Addresses.Select(a => a.Address));
        Assert.DoesNotContain(lb.Routes, r => r.Origin == RouteOrigin.Static);
        Assert.Empty(lb.Chain("mangle", "PREROUTING").Rules);
        Assert.Equal(new MarkTarget(0x100, 0xFFFF_FFFF), Assert.Single(lb.Chain("mangle", "INPUT").Rules).Target);
        Assert.Equal(new SnatTarget(A("10.10.1.2"), null), Assert.Single(lb.Chain("nat", "POSTROUTING").Rules).Target);
    }

    [Fact]
    public void Weighted_destinations_keep_task_weights_and_order()
    {
        var ipvs = Assert.Single(Plan.Host("gamma").Ns("lb_frontend").Ipvs);
        Assert.Equal(Scheduler.Wrr, ipvs.Scheduler);
        Assert.Equal(new[] { ("api.1", A("10.10.1.6"), 3), ("api.2", A("10.10.1.7"), 1), ("api.3", A("10.10.1.8"), 2) },
            ipvs.Destinations.Select(d => (d.Task, d.Address, d.Weight)));

        var nft = Assert.Single(LoweringFixtures.ThreeNode(LoadBalancerBackend.Nftables).Host("gamma").Ns("lb_frontend").NftLoadBalancers);
        // One ip_vs_wrr cycle for weights 3,1,2: current weight 3 → api.1; 2 → api.1, api.3; 1 → api.1, api.2, api.3.
        Assert.Equal(new[] { "10.10.1.6", "10.10.1.6", "10.10.1.8", "10.10.1.6", "10.10.1.7", "10.10.1.8" }, nft.Slots.Select(a => a.ToString()));
        Assert.Equal((C("10.10.1.0/24"), (Ipv4Address?)A("10.10.1.4")), (nft.SnatSubnet!.Value, nft.SnatSource));
    }

    [Fact]
    public void Global_service_is_balanced_over_one_task_per_node_and_dnsrr_has_no_load_balancer()
    {
        var lb = Plan.Host("beta").Ns("lb_backend");
        Assert.Equal(new[] { "api", "agent" }, lb.Ipvs.Select(s => s.Service));
        Assert.Equal(new[] { "agent.alpha", "agent.beta", "agent.gamma" }, lb.Ipvs[1].Destinations.Select(d => d.Task));
        Assert.Equal(new[] { 257, 258 }, lb.Ipvs.Select(s => s.FwMark!.Value));
        // db (dnsrr) has no VIP: only api's and agent's /32 aliases.
        Assert.Equal(2, lb.Addresses.Count(a => a.Address.PrefixLength == 32));
        Assert.DoesNotContain(Plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.Ipvs), s => s.Service == "db");
    }

    [Fact]
    public void Task_on_three_networks_has_legs_in_join_order_and_guards_tcp_and_udp_ports()
    {
        var task = Plan.Host("alpha").Ns("api.1");
        Assert.Equal(new[] { ("eth0", "1-ingress"), ("eth1", "1-frontend"), ("eth2", "1-backend"), ("eth3", "host") },
            task.Devices.Skip(1).Select(d => (d.Name, d.Peer!.Namespace)));
        Assert.Equal("eth3", task.Routes.Single(r => r.Origin == RouteOrigin.Static).Device);
        var input = task.Chain("filter", "INPUT").Rules;
        Assert.Equal(new[]
        {
            (RuleTarget)new AcceptTarget(), new AcceptTarget(), new DropTarget(), new DropTarget(), new DropTarget(),
        }, input.Select(r => r.Target));
        Assert.Equal(new PortMatch(IpProtocol.Udp, Direction.Destination, 53, 53), input[0].Matches[2]);
        Assert.Equal(new PortMatch(IpProtocol.Tcp, Direction.Destination, 80, 80), input[1].Matches[2]);
        Assert.Equal(new[] { "services.api.ports[0]", "services.api.ports[1]" }, task.Chain("nat", "PREROUTING").Rules.Select(r => r.Origin));
        Assert.Equal(new[] { (IpProtocol.Tcp, 80), (IpProtocol.Udp, 53) }, task.Listeners.Select(l => (l.Protocol, l.Port)));
    }

    [Fact]
    public void Node_sysctls_override_cluster_ones()
    {
        Assert.Equal("4096", Plan.Host("alpha").Ns("host").Sysctls.Single(s => s.Key == "net.core.somaxconn").Value);
        Assert.Equal("1024", Plan.Host("beta").Ns("host").Sysctls.Single(s => s.Key == "net.core.somaxconn").Value);
        Assert.False(Plan.Host("beta").Ns("host").Sysctls.Single(s => s.Key == "net.core.somaxconn").Required);
    }

    [Fact]
    public void User_rules_append_insert_and_create_chains_where_asked()
    {
        var alpha = Plan.Host("alpha").Ns("host");
        var user = alpha.Chain("filter", "DOCKER-USER").Rules;
        Assert.Equal(new[] { "rules[2]", "rules[0]" }, user.Select(r => r.Origin));
        Assert.Equal(new JumpTarget("SWARMDSL-LOG"), user[0].Target);
        Assert.Equal(EquatableArray.Create<RuleMatch>(new AddressMatch(Direction.Source, C("203.0.113.0/24"))), user[1].Matches);
        var log = alpha.Chain("filter", "SWARMDSL-LOG");
        Assert.False(log.BuiltIn);
        Assert.Equal(new LogTarget("audit"), Assert.Single(log.Rules).Target);
        Assert.Equal("SWARMDSL-LOG", alpha.Tables.Single(t => t.Name == "filter").Chains.Last().Name);

        var beta = Plan.Host("beta").Ns("host");
        Assert.Equal(new[] { "rules[0]" }, beta.Chain("filter", "DOCKER-USER").Rules.Select(r => r.Origin));
        Assert.DoesNotContain(beta.Tables.Single(t => t.Name == "filter").Chains, c => c.Name == "SWARMDSL-LOG");
    }

    [Fact]
    public void Implicit_networks_rules_say_what_they_are_and_point_at_what_made_Docker_create_them()
    {
        var host = Plan.Host("alpha").Ns("host");
        var ingressJump = host.Chain("filter", "DOCKER-FORWARD").Rules[0];
        Assert.Equal("swarm.ingress", ingressJump.Origin);
        // The ingress network is not declared: its rules point at the first port published through the mesh (api's 8080).
        Assert.Equal("three-node.swarm.yaml:43:9", ingressJump.Span.ToShortString());
        Assert.True(host.Chain("filter", "DOCKER-FORWARD").Rules.Single(r => r.Origin == "networks.mgmt").Span.IsKnown);
    }
}
