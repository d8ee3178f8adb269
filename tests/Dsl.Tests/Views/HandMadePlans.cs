using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Views;

/// <summary>
/// A plan written by hand to exercise what the example does not: a port-less bridge, a bridge with an address of its own,
/// a veth pair inside one namespace, secondary addresses, static routes with and without gateway or source, a VXLAN device
/// without learning and with a fixed TTL, every kind of rule, VIP:port and fwmark IPVS services, sysctls.
/// </summary>
internal static class HandMadePlans
{
    private static readonly SourceSpan S = SourceSpan.None;

    private static Ipv4Address A(string s) => Ipv4Address.Parse(s);
    private static Ipv4Cidr C(string s) => Ipv4Cidr.Parse(s);
    private static MacAddress M(string s) => MacAddress.TryParse(s, out var m) ? m : throw new System.FormatException(s);

    private static DevicePlan Dev(string name, DeviceKind kind, int mtu = 1500, string? mac = null, string? master = null, VethPeer? peer = null, VxlanPlan? vx = null)
        => new(name, kind, mtu, mac is null ? null : M(mac), master, peer, vx, S);

    private static NetfilterRule Rule(RuleTarget target, string origin, params RuleMatch[] matches) => new(EquatableArray.Create(matches), target, origin, S);

    private static NamespacePlan Ns(string name, NamespaceKind kind, DevicePlan[] devices, AddressPlan[]? addresses = null, RoutePlan[]? routes = null,
        NeighborPlan[]? neigh = null, FdbPlan[]? fdb = null, NetfilterTable[]? tables = null, IpvsServicePlan[]? ipvs = null, SysctlPlan[]? sysctls = null)
        => new(name, kind, "", EquatableArray.Create(devices), EquatableArray.Create(addresses ?? new AddressPlan[0]), EquatableArray.Create(routes ?? new RoutePlan[0]),
            EquatableArray.Create(neigh ?? new NeighborPlan[0]), EquatableArray.Create(fdb ?? new FdbPlan[0]), EquatableArray.Create(tables ?? new NetfilterTable[0]),
            EquatableArray.Create(ipvs ?? new IpvsServicePlan[0]), EquatableArray<NftLoadBalancerPlan>.Empty, EquatableArray.Create(sysctls ?? new SysctlPlan[0]),
            EquatableArray<ListenerPlan>.Empty, S);

    private static RoutePlan Kernel(string dst, string dev, string src) => new(C(dst), null, dev, A(src), RouteOrigin.Kernel, S);

    public static DataplanePlan Lab()
    {
        var host = Ns("host", NamespaceKind.Host,
            new[]
            {
                Dev("lo", DeviceKind.Loopback, 65536),
                Dev("eth0", DeviceKind.Physical),
                Dev("br-empty", DeviceKind.Bridge),
                Dev("br-own", DeviceKind.Bridge, mac: "02:00:00:00:be:ef"),
                Dev("vhost0", DeviceKind.Veth, master: "br-own", peer: new VethPeer("app", "eth0", false)),
                Dev("pair-a", DeviceKind.Veth, peer: new VethPeer("host", "pair-b", true)),
                Dev("pair-b", DeviceKind.Veth, peer: new VethPeer("host", "pair-a", false)),
            },
            addresses: new[]
            {
                new AddressPlan("eth0", C("10.7.191.10/24"), S),
                new AddressPlan("br-own", C("192.168.50.1/24"), S),
                new AddressPlan("br-own", C("192.168.50.9/24"), S),
                new AddressPlan("br-own", C("192.168.50.7/32"), S),
                new AddressPlan("br-empty", C("192.168.60.1/24"), S),
            },
            routes: new[]
            {
                Kernel("10.7.191.0/24", "eth0", "10.7.191.10"),
                Kernel("192.168.50.0/24", "br-own", "192.168.50.1"),
                Kernel("192.168.60.0/24", "br-empty", "192.168.60.1"),
                new RoutePlan(C("0.0.0.0/0"), A("10.7.191.1"), "eth0", null, RouteOrigin.Static, S),
                new RoutePlan(C("10.8.0.0/16"), A("192.168.50.2"), "br-own", A("192.168.50.1"), RouteOrigin.Static, S),
                new RoutePlan(C("10.8.0.0/24"), A("192.168.50.3"), "br-own", null, RouteOrigin.Static, S),
                new RoutePlan(C("10.9.0.0/16"), null, "br-empty", null, RouteOrigin.Static, S),
                new RoutePlan(C("10.10.10.10/32"), null, "br-empty", null, RouteOrigin.Static, S),
            },
            tables: new[]
            {
                new NetfilterTable("filter", EquatableArray.Create(
                    new NetfilterChain("INPUT", true, Verdict.Accept, EquatableArray<NetfilterRule>.Empty),
                    new NetfilterChain("FORWARD", true, Verdict.Drop, EquatableArray.Create(
                        Rule(new JumpTarget("LAB-USER"), "lab.user"),
                        Rule(new AcceptTarget(), "lab.forward", new InterfaceMatch(true, "br-own"), new InterfaceMatch(false, "br-own", true)),
                        Rule(new AcceptTarget(), "lab.ct", new InterfaceMatch(false, "br-own"), new ConntrackMatch(CtState.Related | CtState.Established)),
                        Rule(new GotoTarget("LAB-FILTER"), "lab.goto", new ProtocolMatch(IpProtocol.Tcp)))),
                    new NetfilterChain("OUTPUT", true, Verdict.Accept, EquatableArray<NetfilterRule>.Empty),
                    new NetfilterChain("LAB-USER", false, null, EquatableArray.Create(Rule(new ReturnTarget(), "lab.user"))),
                    new NetfilterChain("LAB-FILTER", false, null, EquatableArray.Create(
                        Rule(new AcceptTarget(), "lab.web", new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
                        Rule(new AcceptTarget(), "lab.range", new ProtocolMatch(IpProtocol.Udp), new PortMatch(IpProtocol.Udp, Direction.Source, 53, 60),
                            new PortMatch(IpProtocol.Udp, Direction.Destination, 1000, 1000, true)),
                        Rule(new AcceptTarget(), "lab.multi", new ProtocolMatch(IpProtocol.Tcp), new MultiportMatch(Direction.Destination, EquatableArray.Create(80, 443))),
                        Rule(new DropTarget(), "lab.multi", new ProtocolMatch(IpProtocol.Tcp), new MultiportMatch(Direction.Source, EquatableArray.Create(22, 23), true)),
                        Rule(new AcceptTarget(), "lab.icmp", new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(8)),
                        Rule(new DropTarget(), "lab.icmp", new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(0, true)),
                        Rule(new AcceptTarget(), "lab.mark", new MarkMatch(0x100, uint.MaxValue)),
                        Rule(new AcceptTarget(), "lab.mark", new MarkMatch(0x100, 0xff00, true)),
                        Rule(new AcceptTarget(), "lab.stat", new StatisticMatch(true, 0.5, 0, 0)),
                        Rule(new AcceptTarget(), "lab.stat", new StatisticMatch(false, 0, 3, 1)),
                        Rule(new RejectTarget(true), "lab.reject", new ProtocolMatch(IpProtocol.Tcp)),
                        Rule(new RejectTarget(), "lab.reject"),
                        Rule(new LogTarget("lab: "), "lab.log"),
                        Rule(new ReturnTarget(), "lab.neg", new AddressMatch(Direction.Source, C("10.0.0.0/8"), true),
                            new AddressMatch(Direction.Destination, C("10.1.0.0/16"), true), new ProtocolMatch(IpProtocol.Udp, true)),
                        Rule(new DropTarget(), "lab.ct", new ConntrackMatch(CtState.Invalid | CtState.Dnat | CtState.Snat | CtState.Untracked, true)),
                        Rule(new DropTarget(), "lab.addrtype", new AddrTypeMatch(Direction.Source, AddressType.Local, true)))))),
                new NetfilterTable("nat", EquatableArray.Create(
                    new NetfilterChain("PREROUTING", true, Verdict.Accept, EquatableArray.Create(
                        Rule(new DnatTarget(A("192.168.50.2"), 80), "lab.dnat", new AddrTypeMatch(Direction.Destination, AddressType.Local),
                            new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)))),
                    new NetfilterChain("INPUT", true, Verdict.Accept, EquatableArray<NetfilterRule>.Empty),
                    new NetfilterChain("OUTPUT", true, Verdict.Accept, EquatableArray.Create(
                        Rule(new RedirectTarget(53), "lab.redirect", new ProtocolMatch(IpProtocol.Udp), new PortMatch(IpProtocol.Udp, Direction.Destination, 5353, 5353)))),
                    new NetfilterChain("POSTROUTING", true, Verdict.Accept, EquatableArray.Create(
                        Rule(new MasqueradeTarget(), "lab.masq", new AddressMatch(Direction.Source, C("192.168.50.0/24")), new InterfaceMatch(false, "br-own", true)),
                        Rule(new SnatTarget(A("10.7.191.10"), null), "lab.snat", new AddressMatch(Direction.Destination, C("10.7.191.0/24"))))))),
                new NetfilterTable("mangle", EquatableArray.Create(
                    new NetfilterChain("PREROUTING", true, Verdict.Accept, EquatableArray.Create(
                        Rule(new MarkTarget(0x100, uint.MaxValue), "lab.fwmark", new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
                        Rule(new MarkTarget(0x10, 0xf0), "lab.xset"),
                        Rule(new MarkTarget(0, 0xffffff00), "lab.and"))))),
            },
            sysctls: new[] { new SysctlPlan("net.ipv4.ip_forward", "1", true, S) });

        var overlay = Ns("1-lab", NamespaceKind.Overlay,
            new[]
            {
                Dev("lo", DeviceKind.Loopback, 65536),
                Dev("br0", DeviceKind.Bridge, 1450),
                Dev("vxlan0", DeviceKind.Vxlan, 1450, master: "br0", vx: new VxlanPlan(4097, 4789, false, true, true, false, 64, "host")),
                Dev("veth0", DeviceKind.Veth, 1450, master: "br0", peer: new VethPeer("app", "eth1", false)),
            },
            addresses: new[] { new AddressPlan("br0", C("10.254.0.1/24"), S) },
            routes: new[] { Kernel("10.254.0.0/24", "br0", "10.254.0.1") },
            neigh: new[] { new NeighborPlan("vxlan0", A("10.254.0.3"), M("02:42:0a:fe:00:03"), S) },
            fdb: new[] { new FdbPlan("vxlan0", M("02:42:0a:fe:00:03"), A("10.7.191.9"), S) });

        var app = Ns("app", NamespaceKind.Task,
            new[]
            {
                Dev("lo", DeviceKind.Loopback, 65536),
                Dev("eth0", DeviceKind.Veth, 1500, mac: "02:42:c0:a8:32:02", peer: new VethPeer("host", "vhost0", true)),
                Dev("eth1", DeviceKind.Veth, 1450, mac: "02:42:0a:fe:00:02", peer: new VethPeer("1-lab", "veth0", true)),
            },
            addresses: new[] { new AddressPlan("eth0", C("192.168.50.2/24"), S), new AddressPlan("eth1", C("10.254.0.2/24"), S) },
            routes: new[]
            {
                Kernel("192.168.50.0/24", "eth0", "192.168.50.2"),
                Kernel("10.254.0.0/24", "eth1", "10.254.0.2"),
                new RoutePlan(C("0.0.0.0/0"), A("192.168.50.1"), "eth0", null, RouteOrigin.Static, S),
            },
            ipvs: new[]
            {
                new IpvsServicePlan(null, A("10.254.0.9"), 80, IpProtocol.Tcp, Scheduler.Rr, EquatableArray.Create(
                    new IpvsDestinationPlan(A("10.254.0.12"), 80, 1, IpvsForward.Masquerade, "t2", S),
                    new IpvsDestinationPlan(A("10.254.0.11"), 80, 2, IpvsForward.DirectRoute, "t1", S)), "svc", S),
                new IpvsServicePlan(257, A("10.254.0.8"), null, IpProtocol.Tcp, Scheduler.Wlc, EquatableArray.Create(
                    new IpvsDestinationPlan(A("10.254.0.5"), 0, 1, IpvsForward.Masquerade, "t3", S)), "svc2", S),
                new IpvsServicePlan(256, A("10.254.0.7"), null, IpProtocol.Tcp, Scheduler.Sh, EquatableArray<IpvsDestinationPlan>.Empty, "svc3", S),
            },
            sysctls: new[] { new SysctlPlan("net.ipv4.ip_forward", "1", true, S), new SysctlPlan("net.ipv4.conf.all.rp_filter", "2", true, S) });

        var hostPlan = new HostPlan("lab", "lab-host", C("10.7.191.10/24"), "eth0", EquatableArray.Create(host, overlay, app), S);
        return new DataplanePlan("lab", "lab.swarm.yaml", LoadBalancerBackend.Ipvs,
            new UnderlayPlan(C("10.7.191.0/24"), 1500, 4789, A("10.7.191.254")), EquatableArray.Create(hostPlan));
    }
}
