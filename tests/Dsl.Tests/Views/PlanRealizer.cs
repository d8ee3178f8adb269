using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>
/// Builds one host of a plan in scratch network namespaces with plain <c>ip</c>, <c>bridge</c>, <c>sysctl</c> and
/// <c>iptables-restore</c>, in the creation order <see cref="LinkTable"/> models, so the real tools' output can be held
/// against the views. Every plan namespace (the host's too) becomes <c>PREFIX-name</c>; the underlay NIC is a veth into an
/// extra <c>PREFIX-ul</c> namespace. Devices whose MAC the kernel would draw at random get the views' stable MAC instead
/// (bridges excepted: they take their lowest port's, as in the kernel). IPv6 is switched off before any device exists
/// (the views do not model it). Rules the kernel here cannot load (<c>-m ipvs</c>: no IPVS) are left out of
/// <see cref="Loadable"/>, the plan both sides then use.
/// </summary>
internal sealed class PlanRealizer
{
    private readonly ScratchNamespaces _scratch;
    private readonly HostPlan _host;

    public PlanRealizer(ScratchNamespaces scratch, DataplanePlan plan, string node)
    {
        _scratch = scratch;
        Plan = Loadable(plan);
        _host = Plan.Hosts.Single(h => h.Node == node);
    }

    /// <summary>The sysctls that could be set (namespace, key).</summary>
    public HashSet<(string Namespace, string Key)> SetSysctls { get; } = new();

    /// <summary>The plan as realized (without rules this kernel cannot load).</summary>
    public DataplanePlan Plan { get; }

    /// <summary>The options that make the views name namespaces as realized.</summary>
    public ShowOptions Options => new()
    {
        NetnsPrefix = _scratch.Prefix + "-",
        HostNetnsName = _scratch.Prefix + "-host",
        PossibleCpus = PossibleCpus(),
    };

    public string Netns(string planNamespace) => _scratch.Prefix + "-" + planNamespace;

    /// <summary>Drops rules with <c>-m ipvs</c>: this kernel has no IPVS.</summary>
    public static DataplanePlan Loadable(DataplanePlan plan) => plan with
    {
        Hosts = plan.Hosts.Select(h => h with
        {
            Namespaces = h.Namespaces.Select(n => n with
            {
                Tables = n.Tables.Select(t => t with
                {
                    Chains = t.Chains.Select(c => c with { Rules = c.Rules.Where(r => !r.Matches.Any(m => m is IpvsMatch)).ToEquatableArray() }).ToEquatableArray(),
                }).ToEquatableArray(),
            }).ToEquatableArray(),
        }).ToEquatableArray(),
    };

    /// <summary>num_possible_cpus(), from sysfs (e.g. "0-1").</summary>
    public static int PossibleCpus()
    {
        var text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
        int count = 0;
        foreach (var part in text.Split(','))
        {
            var ends = part.Split('-');
            count += ends.Length == 2 ? int.Parse(ends[1], CultureInfo.InvariantCulture) - int.Parse(ends[0], CultureInfo.InvariantCulture) + 1 : 1;
        }
        return count;
    }

    private void Ip(string ns, params string[] args) =>
        HostLinux.Run("ip", new[] { "-n", Netns(ns) }.Concat(args)).EnsureSuccess("ip -n " + Netns(ns) + " " + string.Join(" ", args));

    private static string Mac(LinkTable links, string ns, string dev) => links.Find(ns, dev)!.Mac.ToString();

    public void Apply()
    {
        var links = LinkTable.Build(_host);
        foreach (var ns in _host.Namespaces)
        {
            HostLinux.Run("ip", "netns", "add", Netns(ns.Name)).EnsureSuccess("ip netns add");
            ScratchNamespaces.Exec(Netns(ns.Name), "sysctl", new[] { "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1" })
                .EnsureSuccess("disable IPv6");
            Ip(ns.Name, "link", "set", "lo", "up");
        }
        var underlay = _scratch.Create("ul");
        ScratchNamespaces.Exec(underlay, "sysctl", new[] { "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1" });
        foreach (var ns in _host.Namespaces)
            foreach (var dev in ns.Devices.Where(d => d.Kind == DeviceKind.Physical))
                Ip(ns.Name, "link", "add", dev.Name, "address", Mac(links, ns.Name, dev.Name), "mtu", Num(dev.Mtu), "type", "veth", "peer", "name", "up-" + dev.Name, "netns", underlay);

        int temp = 0;
        foreach (var ns in _host.Namespaces)
        {
            foreach (var dev in ns.Devices)
            {
                switch (dev.Kind)
                {
                    case DeviceKind.Bridge:
                        var br = new List<string> { "link", "add", dev.Name };
                        if (dev.Mac is { } bm) br.AddRange(new[] { "address", bm.ToString() });
                        br.AddRange(new[] { "mtu", Num(dev.Mtu), "type", "bridge" });
                        Ip(ns.Name, br.ToArray());
                        break;
                    case DeviceKind.Veth when dev.Peer is { CreatesPair: true } peer:
                        var peerDev = _host.Namespaces.Single(n => n.Name == peer.Namespace).Devices.Single(d => d.Name == peer.Device);
                        var args = new List<string> { "link", "add", dev.Name, "address", Mac(links, ns.Name, dev.Name), "mtu", Num(dev.Mtu), "type", "veth",
                            "peer", "name", peer.Device, "address", Mac(links, peer.Namespace, peer.Device), "mtu", Num(peerDev.Mtu) };
                        if (peer.Namespace != ns.Name) args.AddRange(new[] { "netns", Netns(peer.Namespace) });
                        Ip(ns.Name, args.ToArray());
                        break;
                    case DeviceKind.Vxlan when dev.Vxlan is { } vx:
                        var tmp = "vxtmp" + (temp++).ToString(CultureInfo.InvariantCulture);
                        var vargs = new List<string> { "link", "add", tmp, "address", Mac(links, ns.Name, dev.Name), "mtu", Num(dev.Mtu), "type", "vxlan",
                            "id", Num(vx.Vni), "dstport", Num(vx.DstPort) };
                        if (!vx.Learning) vargs.Add("nolearning");
                        if (vx.Proxy) vargs.Add("proxy");
                        if (vx.L2Miss) vargs.Add("l2miss");
                        if (vx.L3Miss) vargs.Add("l3miss");
                        if (vx.Ttl != 0) vargs.AddRange(new[] { "ttl", Num(vx.Ttl) });
                        Ip(vx.CreatedIn, vargs.ToArray());
                        if (vx.CreatedIn != ns.Name) Ip(vx.CreatedIn, "link", "set", tmp, "netns", Netns(ns.Name));
                        Ip(ns.Name, "link", "set", tmp, "name", dev.Name);
                        break;
                }
            }
        }
        foreach (var ns in _host.Namespaces)
            foreach (var dev in ns.Devices.Where(d => d.Master is not null))
                Ip(ns.Name, "link", "set", dev.Name, "master", dev.Master!);
        foreach (var ns in _host.Namespaces)
            foreach (var dev in ns.Devices.Where(d => d.Kind != DeviceKind.Loopback))
                Ip(ns.Name, "link", "set", dev.Name, "up");
        foreach (var ns in _host.Namespaces)
            foreach (var dev in ns.Devices.Where(d => d.Kind == DeviceKind.Physical))
                HostLinux.Run("ip", "-n", underlay, "link", "set", "up-" + dev.Name, "up");

        foreach (var ns in _host.Namespaces)
        {
            foreach (var a in ns.Addresses) Ip(ns.Name, "addr", "add", a.Address.ToString(), "dev", a.Device);
            foreach (var r in ns.Routes.Where(r => r.Origin == RouteOrigin.Static))
            {
                var args = new List<string> { "route", "add", r.Destination.PrefixLength == 0 ? "default" : r.Destination.Subnet.ToString() };
                if (r.Gateway is { } gw) args.AddRange(new[] { "via", gw.ToString() });
                args.AddRange(new[] { "dev", r.Device });
                if (r.PreferredSource is { } src) args.AddRange(new[] { "src", src.ToString() });
                Ip(ns.Name, args.ToArray());
            }
            foreach (var n in ns.Neighbors) Ip(ns.Name, "neigh", "add", n.Address.ToString(), "lladdr", n.Mac.ToString(), "dev", n.Device, "nud", "permanent");
            foreach (var f in ns.Fdb)
            {
                var args = new List<string> { "-n", Netns(ns.Name), "fdb", "add", f.Mac.ToString(), "dev", f.Device };
                if (f.RemoteVtep is { } vtep) args.AddRange(new[] { "dst", vtep.ToString() });
                args.AddRange(new[] { "self", "permanent" });
                HostLinux.Run("bridge", args).EnsureSuccess("bridge fdb add");
            }
            foreach (var s in ns.Sysctls)
            {
                // Keys this kernel or a non-initial namespace lacks or refuses (IPVS, net.core.*) stay unset; only the set ones are compared.
                // (a global key written from a child namespace may be accepted and ignored: read it back).
                ScratchNamespaces.Exec(Netns(ns.Name), "sysctl", new[] { "-q", "-w", s.Key + "=" + s.Value });
                var back = ScratchNamespaces.Exec(Netns(ns.Name), "sysctl", new[] { "-n", s.Key });
                if (back.ExitCode == 0 && back.StdOut.Trim() == s.Value) SetSysctls.Add((ns.Name, s.Key));
            }
            if (ns.Tables.Count > 0)
            {
                var restore = IptablesView.Save(Plan, ns, null, out _)!;
                ScratchNamespaces.Exec(Netns(ns.Name), "iptables-restore", Array.Empty<string>(), restore).EnsureSuccess("iptables-restore\n" + restore);
            }
        }
    }

    private static string Num(int v) => v.ToString(CultureInfo.InvariantCulture);
}
