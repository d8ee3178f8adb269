using System.IO;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Lowering;

/// <summary>The example's plan against the reference (swarm-dataplane.md §2, §4, §7 captures A and C).</summary>
public class ExampleLoweringTests
{
    private static readonly DataplanePlan Plan = LoweringFixtures.Example();

    private static Ipv4Address A(string s) => Ipv4Address.Parse(s);
    private static Ipv4Cidr C(string s) => Ipv4Cidr.Parse(s);
    private static MacAddress M(string s) => MacAddress.TryParse(s, out var m) ? m : throw new System.FormatException(s);

    [Fact]
    public void Underlay_takes_the_first_nodes_subnet_and_the_last_free_address_for_the_client()
    {
        Assert.Equal(new UnderlayPlan(C("10.7.191.0/24"), 1500, 4789, A("10.7.191.254")), Plan.Underlay);
        Assert.Equal("two-node", Plan.Topology);
        Assert.Equal(LoadBalancerBackend.Ipvs, Plan.Backend);
        Assert.Equal(new[] { "manager", "worker" }, Plan.Hosts.Select(h => h.Node));
        var manager = Plan.Host("manager");
        Assert.Equal(("i-xah31y1o", C("10.7.191.10/24"), "eth0"), (manager.Hostname, manager.UnderlayAddress, manager.UnderlayInterface));
    }

    [Fact]
    public void Namespaces_come_host_overlays_ingress_sbox_then_tasks()
    {
        var manager = Plan.Host("manager");
        Assert.Equal(new[] { "host", "1-ingress", "ingress_sbox", "web.1" }, manager.Namespaces.Select(n => n.Name));
        Assert.Equal(new[] { NamespaceKind.Host, NamespaceKind.Overlay, NamespaceKind.IngressSandbox, NamespaceKind.Task },
            manager.Namespaces.Select(n => n.Kind));
        Assert.Equal(new[] { "host", "1-ingress", "ingress_sbox", "web.2" }, Plan.Host("worker").Namespaces.Select(n => n.Name));
        Assert.All(Plan.Hosts.SelectMany(h => h.Namespaces), ns => Assert.Equal(new DevicePlan("lo", DeviceKind.Loopback, 65536, null, null, null, null, Text.SourceSpan.None), ns.Devices[0]));
    }

    [Fact]
    public void Host_has_the_underlay_interface_docker_gwbridge_and_the_host_ends_of_gateway_legs()
    {
        var host = Plan.Host("manager").Ns("host");
        Assert.Equal(new[] { "lo", "eth0", "docker_gwbridge", InterfaceNames.HostVeth("manager", "ingress_sbox", "eth1"), InterfaceNames.HostVeth("manager", "web.1", "eth1") },
            host.Devices.Select(d => d.Name));
        var eth0 = host.Device("eth0");
        Assert.Equal((DeviceKind.Physical, 1500), (eth0.Kind, eth0.Mtu));
        Assert.Equal(DeviceKind.Bridge, host.Device("docker_gwbridge").Kind);
        var veth = host.Devices[3];
        Assert.Matches("^veth[0-9a-f]{7}$", veth.Name);
        Assert.Equal((DeviceKind.Veth, 1500, "docker_gwbridge", (MacAddress?)null), (veth.Kind, veth.Mtu, veth.Master, veth.Mac));
        Assert.Equal(new VethPeer("ingress_sbox", "eth1", false), veth.Peer);
        Assert.Equal(new[] { ("eth0", C("10.7.191.10/24")), ("docker_gwbridge", C("172.18.0.1/16")) }, host.Addresses.Select(a => (a.Device, a.Address)));
        Assert.Equal(new RoutePlan(C("172.18.0.0/16"), null, "docker_gwbridge", A("172.18.0.1"), RouteOrigin.Kernel, host.Addresses[1].Span), host.Routes[1]);
        Assert.DoesNotContain(Plan.Host("manager").Namespaces.SelectMany(n => n.Devices), d => d.Name.Length > InterfaceNames.MaxLength);
    }

    [Fact]
    public void Host_sysctls_are_the_drivers_then_the_users_with_required_flags()
    {
        var sysctls = Plan.Host("worker").Ns("host").Sysctls.Select(s => (s.Key, s.Value, s.Required)).ToArray();
        Assert.Equal(new[]
        {
            ("net.ipv4.ip_forward", "1", true),
            ("net.bridge.bridge-nf-call-iptables", "1", false),
            ("net.ipv4.conf.docker_gwbridge.route_localnet", "1", true),
            ("net.ipv4.neigh.default.gc_thresh1", "8192", false),
            ("net.ipv4.neigh.default.gc_thresh2", "49152", false),
            ("net.ipv4.neigh.default.gc_thresh3", "65536", false),
            ("net.core.rmem_max", "26214400", false),
            ("net.core.wmem_max", "26214400", false),
        }, sysctls);
    }

    /// <summary>
    /// The overlay driver's neighbour thresholds are only raised (ostweaks_linux.go checkHigher); a value the user sets in
    /// tuning.sysctls is theirs, set exactly.
    /// </summary>
    [Fact]
    public void Neighbour_thresholds_are_raise_only_unless_the_user_sets_them()
    {
        bool RaiseOnly(DataplanePlan plan, string key) => plan.Host("worker").Ns("host").Sysctls.Single(s => s.Key == key).RaiseOnly;
        Assert.True(RaiseOnly(Plan, "net.ipv4.neigh.default.gc_thresh1"));
        Assert.True(RaiseOnly(Plan, "net.ipv4.neigh.default.gc_thresh3"));
        Assert.False(RaiseOnly(Plan, "net.ipv4.ip_forward"));
        var yaml = File.ReadAllText(Paths.Example).Replace("    net.core.rmem_max: 26214400\n", "    net.core.rmem_max: 26214400\n    net.ipv4.neigh.default.gc_thresh1: 1024\n");
        var tuned = LoweringFixtures.Compile(yaml).Plan!;
        var set = tuned.Host("worker").Ns("host").Sysctls.Single(s => s.Key == "net.ipv4.neigh.default.gc_thresh1");
        Assert.Equal(("1024", false), (set.Value, set.RaiseOnly));
    }

    /// <summary>
    /// A bridge network (docker_gwbridge among them) has the daemon's default MTU, 1500, whatever the underlay carries; an
    /// overlay follows the underlay. Found by an audit: docker_gwbridge took a 9000-byte underlay's MTU.
    /// </summary>
    [Fact]
    public void Bridge_networks_keep_dockers_default_mtu_on_a_jumbo_underlay()
    {
        var plan = LoweringFixtures.Compile("""
            version: 1
            name: jumbo
            underlay: { mtu: 9000 }
            nodes:
              a: { address: 10.9.0.21/24, role: manager }
              b: { address: 10.9.0.22/24 }
            networks:
              app: { driver: overlay, subnet: 10.0.1.0/24 }
            services:
              s1: { networks: [app], replicas: 2, ports: [ { published: 8080, target: 80 } ] }
            """).Plan!;
        var host = plan.Host("a").Ns("host");
        Assert.Equal(1500, host.Devices.Single(d => d.Name == "docker_gwbridge").Mtu);
        Assert.All(host.Devices.Where(d => d.Master == "docker_gwbridge"), d => Assert.Equal(1500, d.Mtu));
        Assert.Equal(9000, host.Devices.Single(d => d.Name == "eth0").Mtu);
        Assert.Equal(8950, plan.Host("a").Ns("1-app").Devices.Single(d => d.Name == "vxlan0").Mtu);
    }

    [Fact]
    public void Host_filter_is_the_28_0_1_layout_with_ingress_first_in_docker_forward()
    {
        var host = Plan.Host("manager").Ns("host");
        var filter = host.Tables.Single(t => t.Name == "filter");
        Assert.Equal(new[] { "INPUT", "FORWARD", "OUTPUT", "DOCKER", "DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-INTERNAL", "DOCKER-USER", "DOCKER-INGRESS" },
            filter.Chains.Select(c => c.Name));
        Assert.All(filter.Chains.Where(c => c.BuiltIn), c => Assert.Equal(Verdict.Accept, c.Policy));
        Assert.All(filter.Chains.Where(c => !c.BuiltIn), c => Assert.Null(c.Policy));

        Assert.Equal(new RuleTarget[] { new JumpTarget("DOCKER-USER"), new JumpTarget("DOCKER-FORWARD") }, host.Chain("filter", "FORWARD").Rules.Select(r => r.Target));
        Assert.Empty(host.Chain("filter", "DOCKER-USER").Rules);
        Assert.Empty(host.Chain("filter", "DOCKER-INTERNAL").Rules);

        var forward = host.Chain("filter", "DOCKER-FORWARD").Rules;
        Assert.Equal(new RuleTarget[] { new JumpTarget("DOCKER-INGRESS"), new JumpTarget("DOCKER-CT"), new JumpTarget("DOCKER-INTERNAL"), new JumpTarget("DOCKER-BRIDGE"), new DropTarget(), new AcceptTarget() },
            forward.Select(r => r.Target));
        Assert.Equal(EquatableArray.Create<RuleMatch>(new InterfaceMatch(true, "docker_gwbridge"), new InterfaceMatch(false, "docker_gwbridge")), forward[4].Matches);
        Assert.Equal(EquatableArray.Create<RuleMatch>(new InterfaceMatch(true, "docker_gwbridge"), new InterfaceMatch(false, "docker_gwbridge", true)), forward[5].Matches);
        Assert.Equal("swarm.ingress", forward[0].Origin);
        Assert.Equal("networks.docker_gwbridge", forward[4].Origin);

        var docker = Assert.Single(host.Chain("filter", "DOCKER").Rules);
        Assert.Equal(Rule(new DropTarget(), new InterfaceMatch(true, "docker_gwbridge", true), new InterfaceMatch(false, "docker_gwbridge")), Strip(docker));
        Assert.Equal(Rule(new JumpTarget("DOCKER"), new InterfaceMatch(false, "docker_gwbridge")), Strip(Assert.Single(host.Chain("filter", "DOCKER-BRIDGE").Rules)));
        Assert.Equal(Rule(new AcceptTarget(), new InterfaceMatch(false, "docker_gwbridge"), new ConntrackMatch(CtState.Related | CtState.Established)),
            Strip(Assert.Single(host.Chain("filter", "DOCKER-CT").Rules)));
    }

    [Fact]
    public void Host_ingress_chains_match_the_generated_iptablesdoc()
    {
        var host = Plan.Host("worker").Ns("host");
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        Assert.Equal(new[]
        {
            Rule(new AcceptTarget(), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
            Rule(new AcceptTarget(), tcp, new PortMatch(IpProtocol.Tcp, Direction.Source, 8080, 8080), new ConntrackMatch(CtState.Related | CtState.Established)),
            Rule(new ReturnTarget()),
        }, host.Chain("filter", "DOCKER-INGRESS").Rules.Select(Strip));

        var dnat = host.Chain("nat", "DOCKER-INGRESS").Rules;
        Assert.Equal(new[]
        {
            Rule(new DnatTarget(A("172.18.0.2"), 8080), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
            Rule(new ReturnTarget()),
        }, dnat.Select(Strip));
        // The port rule points at the port declaration (two-node.swarm.yaml:44:9).
        Assert.Equal("services.web.ports[0]", dnat[0].Origin);
        Assert.Equal((44, 9), (dnat[0].Span.StartLine, dnat[0].Span.StartColumn));

        var local = new AddrTypeMatch(Direction.Destination, AddressType.Local);
        Assert.Equal(new[] { Rule(new JumpTarget("DOCKER-INGRESS"), local), Rule(new JumpTarget("DOCKER"), local) },
            host.Chain("nat", "PREROUTING").Rules.Select(Strip));
        Assert.Equal(new[] { Rule(new JumpTarget("DOCKER-INGRESS"), local), Rule(new JumpTarget("DOCKER"), new AddressMatch(Direction.Destination, C("127.0.0.0/8"), true), local) },
            host.Chain("nat", "OUTPUT").Rules.Select(Strip));
        Assert.Equal(new[]
        {
            Rule(new MasqueradeTarget(), new InterfaceMatch(false, "docker_gwbridge"), new AddrTypeMatch(Direction.Source, AddressType.Local)),
            Rule(new MasqueradeTarget(), new AddressMatch(Direction.Source, C("172.18.0.0/16")), new InterfaceMatch(false, "docker_gwbridge", true)),
        }, host.Chain("nat", "POSTROUTING").Rules.Select(Strip));
        Assert.Empty(host.Chain("nat", "DOCKER").Rules);
    }

    [Fact]
    public void Overlay_namespace_has_br0_vxlan0_a_veth_per_local_endpoint_and_static_entries_for_remote_ones()
    {
        var overlay = Plan.Host("worker").Ns("1-ingress");
        Assert.Equal((NamespaceKind.Overlay, "ingress"), (overlay.Kind, overlay.Owner));
        Assert.Equal(new[] { "lo", "br0", "vxlan0", "veth0", "veth1" }, overlay.Devices.Select(d => d.Name));
        var vxlan = overlay.Device("vxlan0");
        Assert.Equal(new VxlanPlan(4096, 4789, true, true, true, true, 0, "host"), vxlan.Vxlan);
        Assert.Equal((DeviceKind.Vxlan, 1450, "br0"), (vxlan.Kind, vxlan.Mtu, vxlan.Master));
        Assert.Equal((DeviceKind.Bridge, 1450), (overlay.Device("br0").Kind, overlay.Device("br0").Mtu));
        Assert.Equal(new VethPeer("ingress_sbox", "eth0", false), overlay.Device("veth0").Peer);
        Assert.Equal(new VethPeer("web.2", "eth0", false), overlay.Device("veth1").Peer);
        Assert.Equal("br0", overlay.Device("veth1").Master);
        Assert.Equal(new AddressPlan("br0", C("10.255.0.1/16"), overlay.Addresses[0].Span), Assert.Single(overlay.Addresses));
        Assert.Equal(C("10.255.0.0/16"), Assert.Single(overlay.Routes).Destination);

        // Capture: "02:42:0a:ff:00:05 dst 10.7.191.10 self permanent" — web.1 on the manager, and the manager's LB endpoint.
        Assert.Equal(new[] { (M("02:42:0a:ff:00:02"), A("10.7.191.10")), (M("02:42:0a:ff:00:05"), A("10.7.191.10")) },
            overlay.Fdb.Select(f => (f.Mac, f.RemoteVtep!.Value)));
        Assert.All(overlay.Fdb, f => Assert.Equal("vxlan0", f.Device));
        Assert.Equal(new[] { (A("10.255.0.2"), M("02:42:0a:ff:00:02")), (A("10.255.0.5"), M("02:42:0a:ff:00:05")) },
            overlay.Neighbors.Select(n => (n.Address, n.Mac)));
        Assert.True(overlay.Tables.IsEmpty);
    }

    [Fact]
    public void Ingress_sbox_has_eth0_on_the_overlay_eth1_on_docker_gwbridge_and_a_default_route()
    {
        var sbox = Plan.Host("manager").Ns("ingress_sbox");
        var eth0 = sbox.Device("eth0");
        Assert.Equal((DeviceKind.Veth, 1450, (MacAddress?)M("02:42:0a:ff:00:02")), (eth0.Kind, eth0.Mtu, eth0.Mac));
        Assert.Equal(new VethPeer("1-ingress", "veth0", true), eth0.Peer);
        var eth1 = sbox.Device("eth1");
        Assert.Equal(1500, eth1.Mtu);
        Assert.Equal(new VethPeer("host", InterfaceNames.HostVeth("manager", "ingress_sbox", "eth1"), true), eth1.Peer);

        Assert.Equal(new[] { ("eth0", C("10.255.0.2/16")), ("eth0", C("10.255.0.4/32")), ("eth1", C("172.18.0.2/16")) },
            sbox.Addresses.Select(a => (a.Device, a.Address)));
        Assert.Equal(new[]
        {
            (C("10.255.0.0/16"), (Ipv4Address?)null, "eth0", RouteOrigin.Kernel),
            (C("172.18.0.0/16"), null, "eth1", RouteOrigin.Kernel),
            (C("0.0.0.0/0"), A("172.18.0.1"), "eth1", RouteOrigin.Static),
        }, sbox.Routes.Select(r => (r.Destination, r.Gateway, r.Device, r.Origin)));
    }

    [Fact]
    public void Ingress_sbox_marks_snats_and_balances_like_capture_a()
    {
        var sbox = Plan.Host("manager").Ns("ingress_sbox");
        var mark = new MarkTarget(0x100, 0xFFFF_FFFF);
        Assert.Equal(new[] { Rule(mark, new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)) },
            sbox.Chain("mangle", "PREROUTING").Rules.Select(Strip));
        Assert.Equal(new[] { Rule(mark, new AddressMatch(Direction.Destination, C("10.255.0.4/32"))) }, sbox.Chain("mangle", "INPUT").Rules.Select(Strip));
        Assert.Equal(new[] { Rule(new SnatTarget(A("10.255.0.2"), null), new AddressMatch(Direction.Destination, C("10.255.0.0/16")), new IpvsMatch()) },
            sbox.Chain("nat", "POSTROUTING").Rules.Select(Strip));
        Assert.DoesNotContain(sbox.Tables, t => t.Name == "filter");

        var ipvs = Assert.Single(sbox.Ipvs);
        Assert.Equal((256, A("10.255.0.4"), (int?)null, Scheduler.Wrr, "web"), (ipvs.FwMark!.Value, ipvs.Vip, ipvs.Port, ipvs.Scheduler, ipvs.Service));
        Assert.Equal(new[] { (A("10.255.0.5"), 0, 1, IpvsForward.Masquerade, "web.1"), (A("10.255.0.6"), 0, 1, IpvsForward.Masquerade, "web.2") },
            ipvs.Destinations.Select(d => (d.Address, d.Port, d.Weight, d.Forward, d.Task)));
        Assert.True(sbox.NftLoadBalancers.IsEmpty);

        Assert.Equal(new[]
        {
            ("net.ipv4.ip_forward", "1"), ("net.ipv4.vs.conntrack", "1"), ("net.ipv4.vs.conn_reuse_mode", "0"),
            ("net.ipv4.vs.expire_nodest_conn", "1"), ("net.ipv4.vs.expire_quiescent_template", "1"),
        }, sbox.Sysctls.Select(s => (s.Key, s.Value)));
        Assert.All(sbox.Sysctls, s => Assert.True(s.Required));
    }

    [Fact]
    public void Worker_ingress_sbox_snats_to_its_own_load_balancer_address()
    {
        var sbox = Plan.Host("worker").Ns("ingress_sbox");
        Assert.Equal(new SnatTarget(A("10.255.0.3"), null), Assert.Single(sbox.Chain("nat", "POSTROUTING").Rules).Target);
    }

    [Fact]
    public void Task_redirects_published_to_target_and_guards_its_ingress_leg()
    {
        var task = Plan.Host("manager").Ns("web.1");
        Assert.Equal((NamespaceKind.Task, "web"), (task.Kind, task.Owner));
        Assert.Equal(new[] { "lo", "eth0", "eth1" }, task.Devices.Select(d => d.Name));
        Assert.Equal(new VethPeer("1-ingress", "veth1", true), task.Device("eth0").Peer);
        Assert.Equal(M("02:42:0a:ff:00:05"), task.Device("eth0").Mac);
        Assert.Equal(new RoutePlan(C("0.0.0.0/0"), A("172.18.0.1"), "eth1", null, RouteOrigin.Static, task.Routes[2].Span), task.Routes[2]);

        var self = C("10.255.0.5/32");
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        Assert.Equal(new[] { Rule(new RedirectTarget(80), new AddressMatch(Direction.Destination, self), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)) },
            task.Chain("nat", "PREROUTING").Rules.Select(Strip));
        Assert.Equal(new[]
        {
            Rule(new AcceptTarget(), new AddressMatch(Direction.Destination, self), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, 80, 80), new ConntrackMatch(CtState.New | CtState.Established)),
            Rule(new DropTarget(), new AddressMatch(Direction.Destination, self), new ProtocolMatch(IpProtocol.Sctp)),
            Rule(new DropTarget(), new AddressMatch(Direction.Destination, self), new ProtocolMatch(IpProtocol.Udp)),
            Rule(new DropTarget(), new AddressMatch(Direction.Destination, self), tcp),
        }, task.Chain("filter", "INPUT").Rules.Select(Strip));
        Assert.Equal(new[]
        {
            Rule(new AcceptTarget(), new AddressMatch(Direction.Source, self), tcp, new PortMatch(IpProtocol.Tcp, Direction.Source, 80, 80), new ConntrackMatch(CtState.Established)),
            Rule(new DropTarget(), new AddressMatch(Direction.Source, self), new ProtocolMatch(IpProtocol.Sctp)),
            Rule(new DropTarget(), new AddressMatch(Direction.Source, self), new ProtocolMatch(IpProtocol.Udp)),
            Rule(new DropTarget(), new AddressMatch(Direction.Source, self), tcp),
        }, task.Chain("filter", "OUTPUT").Rules.Select(Strip));
        var listener = Assert.Single(task.Listeners);
        Assert.Equal((IpProtocol.Tcp, 80, "web.1", 44), (listener.Protocol, listener.Port, listener.Owner, listener.Span.StartLine));
    }

    [Fact]
    public void Nftables_backend_replaces_ipvs_and_its_snat_rule()
    {
        var plan = LoweringFixtures.Example(LoadBalancerBackend.Nftables);
        Assert.Equal(LoadBalancerBackend.Nftables, plan.Backend);
        var sbox = plan.Host("worker").Ns("ingress_sbox");
        Assert.True(sbox.Ipvs.IsEmpty);
        Assert.DoesNotContain(sbox.Tables, t => t.Name == "nat");
        var lb = Assert.Single(sbox.NftLoadBalancers);
        Assert.Equal(new NftLoadBalancerPlan(256, A("10.255.0.4"), NftPick.NumgenIncrement, EquatableArray.Create(A("10.255.0.5"), A("10.255.0.6")),
            Scheduler.Wrr, "web", lb.Span, C("10.255.0.0/16"), A("10.255.0.3")), lb);
        // The marks that select the service are the same as with IPVS.
        Assert.Equal(new MarkTarget(0x100, 0xFFFF_FFFF), Assert.Single(sbox.Chain("mangle", "PREROUTING").Rules).Target);
        Assert.Equal(new[] { "net.ipv4.ip_forward" }, sbox.Sysctls.Select(s => s.Key));
        // Everything outside the load-balancer sandboxes is the same.
        var ipvs = LoweringFixtures.Example(LoadBalancerBackend.Ipvs);
        Assert.Equal(ipvs.Host("worker").Ns("host"), plan.Host("worker").Ns("host"));
        Assert.Equal(ipvs.Host("worker").Ns("web.2"), plan.Host("worker").Ns("web.2"));
    }

    // The rule without origin and span, for comparing the kernel-visible part.
    private static NetfilterRule Strip(NetfilterRule r) => r with { Origin = "", Span = Text.SourceSpan.None };

    private static NetfilterRule Rule(RuleTarget target, params RuleMatch[] matches) => new(EquatableArray.Create(matches), target, "", Text.SourceSpan.None);
}
