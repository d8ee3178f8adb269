using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// Plans built by hand, small but real: the two-node ingress example as Docker provisions it (reference/swarm-dataplane.md
/// §2–§4), so the emitters can be tested without the lowering stage.
/// </summary>
public static class HandPlans
{
    private const string File = "two-node.swarm.yaml";
    private static SourceSpan S(int line, int col) => SourceSpan.At(File, line, col);
    private static Ipv4Address A(string s) => Ipv4Address.Parse(s);
    private static Ipv4Cidr C(string s) => Ipv4Cidr.Parse(s);
    private static EquatableArray<T> E<T>(params T[] items) => EquatableArray.Create(items);

    private static NetfilterRule Rule(string body, string origin, SourceSpan span)
    {
        if (!IptablesSyntax.TryParse(body, out var m, out var t, out var error)) throw new System.InvalidOperationException(body + ": " + error);
        return new NetfilterRule(m, t!, origin, span);
    }

    private static NetfilterChain Builtin(string name, params NetfilterRule[] rules) => new(name, true, Verdict.Accept, E(rules));
    private static NetfilterChain User(string name, params NetfilterRule[] rules) => new(name, false, null, E(rules));

    private static NamespacePlan Ns(string name, NamespaceKind kind, string owner, SourceSpan span,
        IEnumerable<DevicePlan> devices, IEnumerable<AddressPlan>? addresses = null, IEnumerable<RoutePlan>? routes = null,
        IEnumerable<NeighborPlan>? neigh = null, IEnumerable<FdbPlan>? fdb = null, IEnumerable<NetfilterTable>? tables = null,
        IEnumerable<IpvsServicePlan>? ipvs = null, IEnumerable<NftLoadBalancerPlan>? nft = null, IEnumerable<SysctlPlan>? sysctls = null,
        IEnumerable<ListenerPlan>? listeners = null)
        => new(name, kind, owner, devices.ToEquatableArray(), (addresses ?? []).ToEquatableArray(), (routes ?? []).ToEquatableArray(),
            (neigh ?? []).ToEquatableArray(), (fdb ?? []).ToEquatableArray(), (tables ?? []).ToEquatableArray(), (ipvs ?? []).ToEquatableArray(),
            (nft ?? []).ToEquatableArray(), (sysctls ?? []).ToEquatableArray(), (listeners ?? []).ToEquatableArray(), span);

    private static DevicePlan Lo => new("lo", DeviceKind.Loopback, 65536, null, null, null, null, SourceSpan.None);

    private sealed record NodeFacts(string Node, string Hostname, string Underlay, SourceSpan Span, string LbIp, string TaskIp, string TaskName,
        string GwVeth, string TaskGwVeth, string RemoteLbIp, string RemoteTaskIp, string RemoteVtep, SourceSpan LbSpan, SourceSpan TaskSpan,
        SourceSpan TaskOverlaySpan, SourceSpan RemoteLbSpan, SourceSpan RemoteTaskSpan);

    /// <summary>The two-node example: manager and worker, ingress overlay 10.255.0.0/16 VNI 4096, service web (VIP 10.255.0.4, port 8080→80).</summary>
    public static DataplanePlan TwoNode(LoadBalancerBackend backend)
    {
        var manager = new NodeFacts("manager", "i-xah31y1o", "10.7.191.10/24", S(9, 3), "10.255.0.2", "10.255.0.5", "web.1", "veth157550a", "veth2698d47",
            "10.255.0.3", "10.255.0.6", "10.7.191.9", S(34, 16), S(51, 9), S(51, 35), S(35, 15), S(52, 35));
        var worker = new NodeFacts("worker", "i-hqsrcwx6", "10.7.191.9/24", S(14, 3), "10.255.0.3", "10.255.0.6", "web.2", "veth970a2bd", "vethf7137b5",
            "10.255.0.2", "10.255.0.5", "10.7.191.10", S(35, 15), S(52, 9), S(52, 35), S(34, 16), S(51, 35));
        return new DataplanePlan("two-node", File, backend, new UnderlayPlan(C("10.7.191.0/24"), 1500, 4789, A("10.7.191.254")),
            E(Host(manager, backend), Host(worker, backend)));
    }

    private static HostPlan Host(NodeFacts f, LoadBalancerBackend backend)
    {
        var gw = S(20, 3);
        var ingress = S(26, 3);
        var port = S(44, 9);
        var service = S(38, 3);
        var underlay = C(f.Underlay);

        var host = Ns("host", NamespaceKind.Host, "", f.Span,
            new[]
            {
                Lo,
                new DevicePlan("eth0", DeviceKind.Physical, 1500, null, null, null, null, f.Span),
                new DevicePlan("docker_gwbridge", DeviceKind.Bridge, 1500, null, null, null, null, gw),
                new DevicePlan(f.GwVeth, DeviceKind.Veth, 1500, null, "docker_gwbridge", new VethPeer("ingress_sbox", "eth1", false), null, gw),
                new DevicePlan(f.TaskGwVeth, DeviceKind.Veth, 1500, null, "docker_gwbridge", new VethPeer(f.TaskName, "eth1", false), null, f.TaskSpan),
            },
            addresses: new[] { new AddressPlan("eth0", underlay, f.Span), new AddressPlan("docker_gwbridge", C("172.18.0.1/16"), gw) },
            routes: new[]
            {
                new RoutePlan(underlay.Subnet, null, "eth0", underlay.Address, RouteOrigin.Kernel, f.Span),
                new RoutePlan(C("172.18.0.0/16"), null, "docker_gwbridge", A("172.18.0.1"), RouteOrigin.Kernel, gw),
            },
            tables: new[]
            {
                new NetfilterTable("filter", E(
                    Builtin("INPUT"),
                    Builtin("FORWARD", Rule("-j DOCKER-USER", "networks.docker_gwbridge", gw), Rule("-j DOCKER-FORWARD", "networks.docker_gwbridge", gw)),
                    Builtin("OUTPUT"),
                    User("DOCKER", Rule("! -i docker_gwbridge -o docker_gwbridge -j DROP", "networks.docker_gwbridge", gw)),
                    User("DOCKER-FORWARD",
                        Rule("-j DOCKER-INGRESS", "swarm.ingress", ingress),
                        Rule("-j DOCKER-CT", "networks.docker_gwbridge", gw),
                        Rule("-j DOCKER-INTERNAL", "networks.docker_gwbridge", gw),
                        Rule("-j DOCKER-BRIDGE", "networks.docker_gwbridge", gw),
                        Rule("-i docker_gwbridge -o docker_gwbridge -j DROP", "networks.docker_gwbridge", gw),
                        Rule("-i docker_gwbridge ! -o docker_gwbridge -j ACCEPT", "networks.docker_gwbridge", gw)),
                    User("DOCKER-BRIDGE", Rule("-o docker_gwbridge -j DOCKER", "networks.docker_gwbridge", gw)),
                    User("DOCKER-CT", Rule("-o docker_gwbridge -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "networks.docker_gwbridge", gw)),
                    User("DOCKER-INTERNAL"),
                    User("DOCKER-USER") with { Shared = true }, // as lowering marks it: the administrator's chain too
                    User("DOCKER-INGRESS",
                        Rule("-p tcp --dport 8080 -j ACCEPT", "services.web.ports[0]", port),
                        Rule("-p tcp --sport 8080 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", "services.web.ports[0]", port),
                        Rule("-j RETURN", "swarm.ingress", ingress)))),
                new NetfilterTable("nat", E(
                    Builtin("PREROUTING",
                        Rule("-m addrtype --dst-type LOCAL -j DOCKER-INGRESS", "swarm.ingress", ingress),
                        Rule("-m addrtype --dst-type LOCAL -j DOCKER", "networks.docker_gwbridge", gw)),
                    Builtin("INPUT"),
                    Builtin("OUTPUT",
                        Rule("-m addrtype --dst-type LOCAL -j DOCKER-INGRESS", "swarm.ingress", ingress),
                        Rule("! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER", "networks.docker_gwbridge", gw)),
                    Builtin("POSTROUTING",
                        Rule("-o docker_gwbridge -m addrtype --src-type LOCAL -j MASQUERADE", "swarm.ingress", ingress),
                        Rule("-s 172.18.0.0/16 ! -o docker_gwbridge -j MASQUERADE", "networks.docker_gwbridge", gw)),
                    User("DOCKER"),
                    User("DOCKER-INGRESS",
                        Rule("-p tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080", "services.web.ports[0]", port),
                        Rule("-j RETURN", "swarm.ingress", ingress)))),
            },
            sysctls: new[]
            {
                new SysctlPlan("net.ipv4.ip_forward", "1", true, gw),
                new SysctlPlan("net.bridge.bridge-nf-call-iptables", "1", false, gw),
                new SysctlPlan("net.ipv4.conf.docker_gwbridge.route_localnet", "1", true, ingress),
                new SysctlPlan("net.core.rmem_max", "26214400", false, S(56, 5)),
            });

        var overlay = Ns("1-ingress", NamespaceKind.Overlay, "ingress", ingress,
            new[]
            {
                Lo,
                new DevicePlan("br0", DeviceKind.Bridge, 1450, null, null, null, null, ingress),
                new DevicePlan("vxlan0", DeviceKind.Vxlan, 1450, null, "br0", null, new VxlanPlan(4096, 4789, true, true, true, true, 0, "host"), ingress),
                new DevicePlan("veth0", DeviceKind.Veth, 1450, null, "br0", new VethPeer("ingress_sbox", "eth0", false), null, f.LbSpan),
                new DevicePlan("veth1", DeviceKind.Veth, 1450, null, "br0", new VethPeer(f.TaskName, "eth0", false), null, f.TaskOverlaySpan),
            },
            addresses: new[] { new AddressPlan("br0", C("10.255.0.1/16"), ingress) },
            routes: new[] { new RoutePlan(C("10.255.0.0/16"), null, "br0", A("10.255.0.1"), RouteOrigin.Kernel, ingress) },
            neigh: new[]
            {
                new NeighborPlan("vxlan0", A(f.RemoteLbIp), MacAddress.FromIp(A(f.RemoteLbIp)), f.RemoteLbSpan),
                new NeighborPlan("vxlan0", A(f.RemoteTaskIp), MacAddress.FromIp(A(f.RemoteTaskIp)), f.RemoteTaskSpan),
            },
            fdb: new[]
            {
                new FdbPlan("vxlan0", MacAddress.FromIp(A(f.RemoteLbIp)), A(f.RemoteVtep), f.RemoteLbSpan),
                new FdbPlan("vxlan0", MacAddress.FromIp(A(f.RemoteTaskIp)), A(f.RemoteVtep), f.RemoteTaskSpan),
            });

        var slots = E(A("10.255.0.5"), A("10.255.0.6"));
        var mangle = new NetfilterTable("mangle", E(
            Builtin("PREROUTING", Rule("-p tcp --dport 8080 -j MARK --set-mark 0x100", "services.web.ports[0]", port)),
            Builtin("INPUT", Rule("-d 10.255.0.4 -j MARK --set-mark 0x100", "services.web", service)),
            Builtin("FORWARD"), Builtin("OUTPUT"), Builtin("POSTROUTING")));
        var sboxTables = new List<NetfilterTable> { mangle };
        if (backend == LoadBalancerBackend.Ipvs)
            sboxTables.Add(new NetfilterTable("nat", E(Builtin("PREROUTING"), Builtin("INPUT"), Builtin("OUTPUT"),
                Builtin("POSTROUTING", Rule("-d 10.255.0.0/16 -m ipvs --ipvs -j SNAT --to-source " + f.LbIp, "swarm.ingress", ingress)))));
        var sboxSysctls = new List<SysctlPlan> { new("net.ipv4.ip_forward", "1", true, ingress) };
        if (backend == LoadBalancerBackend.Ipvs)
            sboxSysctls.AddRange(new SysctlPlan[]
            {
                new("net.ipv4.vs.conntrack", "1", true, ingress), new("net.ipv4.vs.conn_reuse_mode", "0", true, ingress),
                new("net.ipv4.vs.expire_nodest_conn", "1", true, ingress), new("net.ipv4.vs.expire_quiescent_template", "1", true, ingress),
            });
        var sbox = Ns("ingress_sbox", NamespaceKind.IngressSandbox, "ingress", ingress,
            new[]
            {
                Lo,
                new DevicePlan("eth0", DeviceKind.Veth, 1450, MacAddress.FromIp(A(f.LbIp)), null, new VethPeer("1-ingress", "veth0", true), null, f.LbSpan),
                new DevicePlan("eth1", DeviceKind.Veth, 1500, MacAddress.FromIp(A("172.18.0.2")), null, new VethPeer("host", f.GwVeth, true), null, gw),
            },
            addresses: new[]
            {
                new AddressPlan("eth0", new Ipv4Cidr(A(f.LbIp), 16), f.LbSpan),
                new AddressPlan("eth0", C("10.255.0.4/32"), S(42, 10)),
                new AddressPlan("eth1", C("172.18.0.2/16"), gw),
            },
            routes: new[]
            {
                new RoutePlan(C("10.255.0.0/16"), null, "eth0", A(f.LbIp), RouteOrigin.Kernel, f.LbSpan),
                new RoutePlan(C("172.18.0.0/16"), null, "eth1", A("172.18.0.2"), RouteOrigin.Kernel, gw),
                new RoutePlan(C("0.0.0.0/0"), A("172.18.0.1"), "eth1", null, RouteOrigin.Static, gw),
            },
            tables: sboxTables,
            ipvs: backend == LoadBalancerBackend.Ipvs
                ? new[] { new IpvsServicePlan(256, A("10.255.0.4"), null, IpProtocol.Tcp, Scheduler.Wrr, E(
                    new IpvsDestinationPlan(A("10.255.0.5"), 0, 1, IpvsForward.Masquerade, "web.1", S(51, 9)),
                    new IpvsDestinationPlan(A("10.255.0.6"), 0, 1, IpvsForward.Masquerade, "web.2", S(52, 9))), "web", service) }
                : null,
            nft: backend == LoadBalancerBackend.Nftables
                ? new[] { new NftLoadBalancerPlan(256, A("10.255.0.4"), NftPick.NumgenIncrement, slots, Scheduler.Wrr, "web", service, C("10.255.0.0/16"), A(f.LbIp)) }
                : null,
            sysctls: sboxSysctls);

        var task = Ns(f.TaskName, NamespaceKind.Task, "web", f.TaskSpan,
            new[]
            {
                Lo,
                new DevicePlan("eth0", DeviceKind.Veth, 1450, MacAddress.FromIp(A(f.TaskIp)), null, new VethPeer("1-ingress", "veth1", true), null, f.TaskOverlaySpan),
                new DevicePlan("eth1", DeviceKind.Veth, 1500, MacAddress.FromIp(A("172.18.0.3")), null, new VethPeer("host", f.TaskGwVeth, true), null, f.TaskSpan),
            },
            addresses: new[] { new AddressPlan("eth0", new Ipv4Cidr(A(f.TaskIp), 16), f.TaskOverlaySpan), new AddressPlan("eth1", C("172.18.0.3/16"), f.TaskSpan) },
            routes: new[]
            {
                new RoutePlan(C("10.255.0.0/16"), null, "eth0", A(f.TaskIp), RouteOrigin.Kernel, f.TaskOverlaySpan),
                new RoutePlan(C("172.18.0.0/16"), null, "eth1", A("172.18.0.3"), RouteOrigin.Kernel, f.TaskSpan),
                new RoutePlan(C("0.0.0.0/0"), A("172.18.0.1"), "eth1", null, RouteOrigin.Static, f.TaskSpan),
            },
            tables: new[]
            {
                new NetfilterTable("filter", E(
                    Builtin("INPUT",
                        Rule($"-d {f.TaskIp} -p tcp --dport 80 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT", "services.web.ports[0]", port),
                        Rule($"-d {f.TaskIp} -p sctp -j DROP", "services.web", f.TaskSpan),
                        Rule($"-d {f.TaskIp} -p udp -j DROP", "services.web", f.TaskSpan),
                        Rule($"-d {f.TaskIp} -p tcp -j DROP", "services.web", f.TaskSpan)),
                    Builtin("FORWARD"),
                    Builtin("OUTPUT",
                        Rule($"-s {f.TaskIp} -p tcp --sport 80 -m conntrack --ctstate ESTABLISHED -j ACCEPT", "services.web.ports[0]", port),
                        Rule($"-s {f.TaskIp} -p sctp -j DROP", "services.web", f.TaskSpan),
                        Rule($"-s {f.TaskIp} -p udp -j DROP", "services.web", f.TaskSpan),
                        Rule($"-s {f.TaskIp} -p tcp -j DROP", "services.web", f.TaskSpan)))),
                new NetfilterTable("nat", E(
                    Builtin("PREROUTING", Rule($"-d {f.TaskIp} -p tcp --dport 8080 -j REDIRECT --to-ports 80", "services.web.ports[0]", port)),
                    Builtin("INPUT"), Builtin("OUTPUT"), Builtin("POSTROUTING"))),
            },
            listeners: new[] { new ListenerPlan(IpProtocol.Tcp, 80, f.TaskName, port) });

        return new HostPlan(f.Node, f.Hostname, underlay, "eth0", E(host, overlay, sbox, task), f.Span);
    }
}
