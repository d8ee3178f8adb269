using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Tests;

/// <summary>Hand-made dataplane plans for tests: small helpers over the plan records.</summary>
internal static class P
{
    public const string File = "test.swarm.yaml";

    public static SourceSpan S(int line) => new(File, line, 1, line, 1);

    public static EquatableArray<T> A<T>(params T[] items) => EquatableArray<T>.Own(items);

    public static DevicePlan Lo() => new("lo", DeviceKind.Loopback, 65536, null, null, null, null, SourceSpan.None);

    public static DevicePlan Phys(string name, int mtu = 1500) => new(name, DeviceKind.Physical, mtu, null, null, null, null, S(1));

    public static DevicePlan Bridge(string name, int mtu = 1500, int line = 2) => new(name, DeviceKind.Bridge, mtu, null, null, null, null, S(line));

    public static DevicePlan Veth(string name, string peerNs, string peerDev, bool creates, int mtu = 1500, string? mac = null, string? master = null, int line = 3)
        => new(name, DeviceKind.Veth, mtu, mac is null ? null : MacAddress.TryParse(mac, out var m) ? m : throw new FormatException(mac), master,
            new VethPeer(peerNs, peerDev, creates), null, S(line));

    public static DevicePlan Vxlan(string name, int vni, string master, int mtu = 1450, int port = 4789) =>
        new(name, DeviceKind.Vxlan, mtu, null, master, null, new VxlanPlan(vni, port, true, true, true, true, 0, "host"), S(4));

    public static AddressPlan Addr(string dev, string cidr) => new(dev, Ipv4Cidr.Parse(cidr), S(5));

    public static RoutePlan Connected(string cidr, string dev, string src) => new(Ipv4Cidr.Parse(cidr).Subnet, null, dev, Ipv4Address.Parse(src), RouteOrigin.Kernel, S(6));

    public static RoutePlan Via(string cidr, string gateway, string dev) => new(Ipv4Cidr.Parse(cidr), Ipv4Address.Parse(gateway), dev, null, RouteOrigin.Static, S(7));

    public static SysctlPlan Sysctl(string key, string value) => new(key, value, true, S(8));

    public static ListenerPlan Listen(IpProtocol protocol, int port, string owner) => new(protocol, port, owner, S(9));

    public static NeighborPlan Neigh(string dev, string ip, string mac) => new(dev, Ipv4Address.Parse(ip), MacAddress.TryParse(mac, out var m) ? m : default, S(10));

    public static FdbPlan Fdb(string dev, string mac, string vtep) => new(dev, MacAddress.TryParse(mac, out var m) ? m : default, Ipv4Address.Parse(vtep), S(11));

    private static readonly string[] BuiltIns = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" };

    /// <summary>A table from iptables-save-like lines: <c>-A CHAIN body</c>, or <c>-P CHAIN DROP</c>.</summary>
    public static NetfilterTable Table(string name, params string[] lines)
    {
        var chains = new List<(string Name, Verdict? Policy, List<NetfilterRule> Rules)>();
        (string Name, Verdict? Policy, List<NetfilterRule> Rules) Chain(string n)
        {
            var i = chains.FindIndex(c => c.Name == n);
            if (i >= 0) return chains[i];
            var c = (n, BuiltIns.Contains(n) ? Verdict.Accept : (Verdict?)null, new List<NetfilterRule>());
            chains.Add(c);
            return c;
        }
        foreach (var b in BuiltInsFor(name)) Chain(b);
        int line = 100;
        foreach (var l in lines)
        {
            var parts = l.Split(' ', 3);
            if (parts[0] == "-P")
            {
                var i = chains.FindIndex(c => c.Name == parts[1]);
                chains[i] = (parts[1], parts[2] == "DROP" ? Verdict.Drop : Verdict.Accept, chains[i].Rules);
                continue;
            }
            if (parts[0] == "-N") { Chain(parts[1]); continue; }
            var chain = Chain(parts[1]);
            if (!IptablesSyntax.TryParse(parts[2], out var matches, out var target, out var error)) throw new FormatException(error + ": " + l);
            // Jump targets that name chains not declared yet are created on first use.
            if (target is JumpTarget j) Chain(j.Chain);
            if (target is GotoTarget g) Chain(g.Chain);
            chain.Rules.Add(new NetfilterRule(matches, target!, "test line " + line, S(line++)));
        }
        return new NetfilterTable(name, A(chains.Select(c => new NetfilterChain(c.Name, BuiltIns.Contains(c.Name), c.Policy, A(c.Rules.ToArray()))).ToArray()));
    }

    private static string[] BuiltInsFor(string table) => table switch
    {
        "nat" => new[] { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" },
        "filter" => new[] { "INPUT", "FORWARD", "OUTPUT" },
        "raw" => new[] { "PREROUTING", "OUTPUT" },
        _ => BuiltIns,
    };

    public static NamespacePlan Ns(string name, NamespaceKind kind, DevicePlan[] devices, AddressPlan[]? addresses = null, RoutePlan[]? routes = null,
        NetfilterTable[]? tables = null, IpvsServicePlan[]? ipvs = null, SysctlPlan[]? sysctls = null, ListenerPlan[]? listeners = null,
        NeighborPlan[]? neighbors = null, FdbPlan[]? fdb = null, NftLoadBalancerPlan[]? nft = null, string owner = "")
        => new(name, kind, owner, A(devices), A(addresses ?? Array.Empty<AddressPlan>()), A(routes ?? Array.Empty<RoutePlan>()),
            A(neighbors ?? Array.Empty<NeighborPlan>()), A(fdb ?? Array.Empty<FdbPlan>()), A(tables ?? Array.Empty<NetfilterTable>()),
            A(ipvs ?? Array.Empty<IpvsServicePlan>()), A(nft ?? Array.Empty<NftLoadBalancerPlan>()), A(sysctls ?? Array.Empty<SysctlPlan>()),
            A(listeners ?? Array.Empty<ListenerPlan>()), S(12));

    public static HostPlan Host(string node, string underlay, params NamespacePlan[] namespaces)
        => new(node, node, Ipv4Cidr.Parse(underlay), "eth0", A(namespaces), S(13));

    public static DataplanePlan Plan(string underlaySubnet, params HostPlan[] hosts)
    {
        var subnet = Ipv4Cidr.Parse(underlaySubnet);
        return new DataplanePlan("test", File, LoadBalancerBackend.Ipvs, new UnderlayPlan(subnet, 1500, 4789, subnet.LastHost), A(hosts));
    }

    public static IpvsServicePlan Ipvs(int fwmark, string vip, Scheduler scheduler, params (string Address, int Weight, string Task)[] dests)
        => new(fwmark, Ipv4Address.Parse(vip), null, IpProtocol.Tcp, scheduler,
            A(dests.Select(d => new IpvsDestinationPlan(Ipv4Address.Parse(d.Address), 0, d.Weight, IpvsForward.Masquerade, d.Task, S(20))).ToArray()), "svc", S(21));

    /// <summary>
    /// One host as a router: underlay eth0 10.0.0.1/24; a server namespace <c>srv</c> at 192.168.1.2 (listens on tcp 8080,
    /// REDIRECTs 9090 → 8080); a bridge <c>brc</c> 192.168.2.1/24 with two client namespaces <c>cli1</c> (.2) and
    /// <c>cli2</c> (.3), masqueraded towards the server; DNAT of underlay port 80 to the server.
    /// </summary>
    public static DataplanePlan RouterLab() => Plan("10.0.0.0/24",
        Host("r", "10.0.0.1/24",
            Ns("host", NamespaceKind.Host,
                new[] { Lo(), Phys("eth0"), Veth("vsrv", "srv", "eth0", false, mtu: 1400), Bridge("brc"), Veth("vc1", "cli1", "eth0", false, master: "brc"), Veth("vc2", "cli2", "eth0", false, master: "brc") },
                new[] { Addr("eth0", "10.0.0.1/24"), Addr("vsrv", "192.168.1.1/24"), Addr("brc", "192.168.2.1/24") },
                new[] { Connected("10.0.0.0/24", "eth0", "10.0.0.1"), Connected("192.168.1.0/24", "vsrv", "192.168.1.1"), Connected("192.168.2.0/24", "brc", "192.168.2.1") },
                new[]
                {
                    Table("nat",
                        "-A PREROUTING -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.1.2:8080",
                        "-A POSTROUTING -s 192.168.2.0/24 -o vsrv -j MASQUERADE"),
                    Table("filter",
                        "-A FORWARD -p tcp -m tcp --dport 7070 -j DROP",
                        "-A FORWARD -p tcp -m tcp --dport 7071 -j REJECT --reject-with tcp-reset"),
                },
                sysctls: new[] { Sysctl("net.ipv4.ip_forward", "1") }),
            Ns("srv", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vsrv", true, mtu: 1400) },
                new[] { Addr("eth0", "192.168.1.2/24") },
                new[] { Connected("192.168.1.0/24", "eth0", "192.168.1.2"), Via("0.0.0.0/0", "192.168.1.1", "eth0") },
                new[] { Table("nat", "-A PREROUTING -p tcp -m tcp --dport 9090 -j REDIRECT --to-ports 8080") },
                listeners: new[] { Listen(IpProtocol.Tcp, 8080, "srv"), Listen(IpProtocol.Udp, 5353, "srv") }),
            Ns("cli1", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vc1", true) },
                new[] { Addr("eth0", "192.168.2.2/24") },
                new[] { Connected("192.168.2.0/24", "eth0", "192.168.2.2"), Via("0.0.0.0/0", "192.168.2.1", "eth0") }),
            Ns("cli2", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vc2", true) },
                new[] { Addr("eth0", "192.168.2.3/24") },
                new[] { Connected("192.168.2.0/24", "eth0", "192.168.2.3"), Via("0.0.0.0/0", "192.168.2.1", "eth0") })));

    /// <summary>
    /// A VIP:port IPVS service in namespace <c>lb</c> (192.168.5.10, VIP 192.168.5.100 tcp/80, rr) on the host bridge
    /// <c>br</c> (192.168.5.1): real server r1 (192.168.5.11, VIP on lo with arp_ignore=1/arp_announce=2, port 80) by
    /// direct routing, r2 (192.168.5.12, port 8080, default route via the balancer) by NAT. The client <c>c</c>
    /// (192.168.6.2) sits on a second bridge <c>brc</c>; the host routes between them.
    /// </summary>
    public static DataplanePlan LbLab() => Plan("10.0.0.0/24",
        Host("h", "10.0.0.1/24",
            Ns("host", NamespaceKind.Host,
                new[] { Lo(), Phys("eth0"), Bridge("br"), Veth("vlb", "lb", "eth0", false, master: "br"), Veth("vr1", "r1", "eth0", false, master: "br"),
                    Veth("vr2", "r2", "eth0", false, master: "br"), Bridge("brc"), Veth("vc", "c", "eth0", false, master: "brc") },
                new[] { Addr("eth0", "10.0.0.1/24"), Addr("br", "192.168.5.1/24"), Addr("brc", "192.168.6.1/24") },
                new[] { Connected("10.0.0.0/24", "eth0", "10.0.0.1"), Connected("192.168.5.0/24", "br", "192.168.5.1"), Connected("192.168.6.0/24", "brc", "192.168.6.1") },
                sysctls: new[] { Sysctl("net.ipv4.ip_forward", "1") }),
            Ns("lb", NamespaceKind.LoadBalancer, new[] { Lo(), Veth("eth0", "host", "vlb", true) },
                new[] { Addr("eth0", "192.168.5.10/24"), Addr("eth0", "192.168.5.100/32") },
                new[] { Connected("192.168.5.0/24", "eth0", "192.168.5.10"), Via("0.0.0.0/0", "192.168.5.1", "eth0") },
                ipvs: new[]
                {
                    new IpvsServicePlan(null, Ipv4Address.Parse("192.168.5.100"), 80, IpProtocol.Tcp, Scheduler.Rr, A(
                        new IpvsDestinationPlan(Ipv4Address.Parse("192.168.5.11"), 0, 1, IpvsForward.DirectRoute, "r1", S(30)),
                        new IpvsDestinationPlan(Ipv4Address.Parse("192.168.5.12"), 8080, 1, IpvsForward.Masquerade, "r2", S(31))), "vipsvc", S(32)),
                },
                sysctls: new[] { Sysctl("net.ipv4.ip_forward", "1") }),
            Ns("r1", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vr1", true) },
                new[] { Addr("eth0", "192.168.5.11/24"), Addr("lo", "192.168.5.100/32") },
                new[] { Connected("192.168.5.0/24", "eth0", "192.168.5.11"), Via("0.0.0.0/0", "192.168.5.1", "eth0") },
                // The usual DR real-server settings: never answer ARP for the VIP on lo, never announce it as ARP sender.
                sysctls: new[] { Sysctl("net.ipv4.conf.all.arp_ignore", "1"), Sysctl("net.ipv4.conf.all.arp_announce", "2") },
                listeners: new[] { Listen(IpProtocol.Tcp, 80, "r1") }),
            Ns("r2", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vr2", true) },
                new[] { Addr("eth0", "192.168.5.12/24") },
                new[] { Connected("192.168.5.0/24", "eth0", "192.168.5.12"), Via("0.0.0.0/0", "192.168.5.10", "eth0") },
                listeners: new[] { Listen(IpProtocol.Tcp, 8080, "r2") }),
            Ns("c", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "host", "vc", true) },
                new[] { Addr("eth0", "192.168.6.2/24") },
                new[] { Connected("192.168.6.0/24", "eth0", "192.168.6.2"), Via("0.0.0.0/0", "192.168.6.1", "eth0") })));

    /// <summary>Two namespaces whose default routes point at each other: anything off-link loops.</summary>
    public static DataplanePlan RoutingLoop() => Plan("10.0.0.0/24",
        Host("h", "10.0.0.1/24",
            Ns("host", NamespaceKind.Host, new[] { Lo(), Phys("eth0") }, new[] { Addr("eth0", "10.0.0.1/24") }, new[] { Connected("10.0.0.0/24", "eth0", "10.0.0.1") }),
            Ns("a", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "b", "eth0", true) }, new[] { Addr("eth0", "172.30.0.1/30") },
                new[] { Connected("172.30.0.0/30", "eth0", "172.30.0.1"), Via("0.0.0.0/0", "172.30.0.2", "eth0") },
                sysctls: new[] { Sysctl("net.ipv4.ip_forward", "1") }),
            Ns("b", NamespaceKind.Task, new[] { Lo(), Veth("eth0", "a", "eth0", false) }, new[] { Addr("eth0", "172.30.0.2/30") },
                new[] { Connected("172.30.0.0/30", "eth0", "172.30.0.2"), Via("0.0.0.0/0", "172.30.0.1", "eth0") },
                sysctls: new[] { Sysctl("net.ipv4.ip_forward", "1") })));

    /// <summary>The example plan with the web service's IPVS destinations re-weighted (and its scheduler replaced).</summary>
    public static DataplanePlan Reweighted(DataplanePlan plan, Scheduler scheduler, params int[] weights)
    {
        var hosts = plan.Hosts.Select(h => h with
        {
            Namespaces = A(h.Namespaces.Select(ns => ns with
            {
                Ipvs = A(ns.Ipvs.Select(s => s with
                {
                    Scheduler = scheduler,
                    Destinations = A(s.Destinations.Select((d, i) => d with { Weight = weights[i % weights.Length] }).ToArray()),
                }).ToArray()),
            }).ToArray()),
        }).ToArray();
        return plan with { Hosts = A(hosts) };
    }
}
