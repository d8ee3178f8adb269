using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Text;

namespace SwarmDsl.Plan;

/// <summary>
/// A stable, readable text form of a whole <see cref="DataplanePlan"/> (snapshot tests and <c>swarmdsl plan</c> read it):
/// every host, namespace, device, address, route, neighbour and FDB entry, iptables rules in iptables-save form, IPVS
/// services in ipvsadm-save form (rules through <see cref="IptablesSyntax.Format"/>), nftables load balancers, sysctls and listeners, each followed by <c>@file:line:col</c>
/// of the declaration behind it (<c>@(derived)</c> for implicit things). Ordinal, invariant, one <c>\n</c> per line.
/// </summary>
public static class PlanDump
{
    /// <summary>Renders <paramref name="plan"/>.</summary>
    public static string Render(DataplanePlan plan)
    {
        var w = new Writer();
        var u = plan.Underlay;
        w.Line(0, $"plan {plan.Topology} file={System.IO.Path.GetFileName(plan.SourceFile)} backend={Lower(plan.Backend.ToString())}");
        w.Line(0, $"underlay subnet={u.Subnet} mtu={I(u.Mtu)} dataPathPort={I(u.DataPathPort)} externalClient={u.ExternalClient}");
        foreach (var h in plan.Hosts)
        {
            w.Line(0, $"host {h.Node} hostname={h.Hostname} underlay={h.UnderlayAddress} dev {h.UnderlayInterface} {At(h.Span)}");
            foreach (var ns in h.Namespaces) Namespace(w, ns);
        }
        return w.ToString();
    }

    private static void Namespace(Writer w, NamespacePlan ns)
    {
        w.Line(1, $"namespace {ns.Name} kind={Kind(ns.Kind)}{(ns.Owner.Length > 0 ? " owner=" + ns.Owner : "")} {At(ns.Span)}");
        if (!ns.Devices.IsEmpty)
        {
            w.Line(2, "devices:");
            foreach (var d in ns.Devices) w.Line(3, Device(d) + " " + At(d.Span));
        }
        if (!ns.Addresses.IsEmpty)
        {
            w.Line(2, "addresses:");
            foreach (var a in ns.Addresses) w.Line(3, $"{a.Address} dev {a.Device} {At(a.Span)}");
        }
        if (!ns.Routes.IsEmpty)
        {
            w.Line(2, "routes:");
            foreach (var r in ns.Routes) w.Line(3, Route(r) + " " + At(r.Span));
        }
        if (!ns.Neighbors.IsEmpty)
        {
            w.Line(2, "neigh:");
            foreach (var n in ns.Neighbors) w.Line(3, $"{n.Address} dev {n.Device} lladdr {n.Mac} PERMANENT {At(n.Span)}");
        }
        if (!ns.Fdb.IsEmpty)
        {
            w.Line(2, "fdb:");
            foreach (var f in ns.Fdb)
                w.Line(3, $"{f.Mac} dev {f.Device}{(f.RemoteVtep is { } v ? " dst " + v : "")} self permanent {At(f.Span)}");
        }
        if (!ns.Sysctls.IsEmpty)
        {
            w.Line(2, "sysctls:");
            foreach (var s in ns.Sysctls) w.Line(3, $"{s.Key} = {s.Value}{(s.Required ? "" : " (optional)")} {At(s.Span)}");
        }
        if (!ns.Tables.IsEmpty)
        {
            w.Line(2, "iptables:");
            foreach (var t in ns.Tables) Table(w, t);
        }
        if (!ns.Ipvs.IsEmpty)
        {
            w.Line(2, "ipvs:");
            foreach (var s in ns.Ipvs)
            {
                var key = s.FwMark is { } m ? "-f " + I(m) : $"-{(s.Protocol == IpProtocol.Udp ? "u" : s.Protocol == IpProtocol.Sctp ? "--sctp-service" : "t")} {s.Vip}:{I(s.Port ?? 0)}";
                w.Line(3, $"-A {key} -s {Lower(s.Scheduler.ToString())}  # service {s.Service} vip {s.Vip} {At(s.Span)}");
                foreach (var d in s.Destinations)
                    w.Line(3, $"-a {key} -r {d.Address}:{I(d.Port)} {(d.Forward == IpvsForward.Masquerade ? "-m" : "-g")} -w {I(d.Weight)}  # task {d.Task} {At(d.Span)}");
            }
        }
        if (!ns.NftLoadBalancers.IsEmpty)
        {
            w.Line(2, "nft load balancers:");
            foreach (var lb in ns.NftLoadBalancers)
            {
                var pick = lb.Pick switch { NftPick.SourceHash => "jhash-saddr", NftPick.DestinationHash => "jhash-daddr", _ => "numgen-inc" };
                var snat = lb.SnatSubnet is { } sn && lb.SnatSource is { } src ? $" snat {sn} to {src}" : "";
                w.Line(3, $"fwmark 0x{lb.FwMark.ToString("x", CultureInfo.InvariantCulture)} vip {lb.Vip} scheduler {Lower(lb.Scheduler.ToString())} pick {pick} slots [{string.Join(" ", lb.Slots.Select(a => a.ToString()))}]{snat}  # service {lb.Service} {At(lb.Span)}");
            }
        }
        if (!ns.Listeners.IsEmpty)
        {
            w.Line(2, "listeners:");
            foreach (var l in ns.Listeners) w.Line(3, $"{l.Protocol.Name()} {I(l.Port)} owner {l.Owner} {At(l.Span)}");
        }
    }

    private static string Device(DevicePlan d)
    {
        var sb = new StringBuilder();
        sb.Append(d.Name).Append(' ').Append(Lower(d.Kind.ToString())).Append(" mtu ").Append(I(d.Mtu));
        if (d.Mac is { } mac) sb.Append(" address ").Append(mac);
        if (d.Master is { } master) sb.Append(" master ").Append(master);
        if (d.Peer is { } p) sb.Append(" peer ").Append(p.Namespace).Append('/').Append(p.Device).Append(p.CreatesPair ? " (creates pair)" : "");
        if (d.Vxlan is { } v)
        {
            sb.Append(" vxlan id ").Append(I(v.Vni)).Append(" dstport ").Append(I(v.DstPort))
              .Append(v.Learning ? " learning" : " nolearning")
              .Append(v.Proxy ? " proxy" : "").Append(v.L2Miss ? " l2miss" : "").Append(v.L3Miss ? " l3miss" : "")
              .Append(v.Ttl == 0 ? " ttl auto" : " ttl " + I(v.Ttl)).Append(" created-in ").Append(v.CreatedIn);
        }
        return sb.ToString();
    }

    private static string Route(RoutePlan r)
    {
        var sb = new StringBuilder();
        sb.Append(r.Destination.PrefixLength == 0 && r.Destination.Address.Value == 0 ? "default" : r.Destination.ToString());
        if (r.Gateway is { } g) sb.Append(" via ").Append(g);
        sb.Append(" dev ").Append(r.Device);
        if (r.Origin == RouteOrigin.Kernel) sb.Append(" proto kernel scope link");
        if (r.PreferredSource is { } src) sb.Append(" src ").Append(src);
        return sb.ToString();
    }

    private static void Table(Writer w, NetfilterTable t)
    {
        w.Line(3, "*" + t.Name);
        foreach (var c in t.Chains)
            w.Line(3, $":{c.Name} {(c.Policy is { } p ? (p == Verdict.Accept ? "ACCEPT" : "DROP") : "-")}");
        foreach (var c in t.Chains)
            foreach (var r in c.Rules)
                w.Line(3, $"{IptablesSyntax.Format(r, c.Name, null)}  # {r.Origin} {At(r.Span)}");
        w.Line(3, "COMMIT");
    }

    private static string Kind(NamespaceKind k) => k switch
    {
        NamespaceKind.IngressSandbox => "ingress-sandbox",
        NamespaceKind.LoadBalancer => "load-balancer",
        _ => Lower(k.ToString()),
    };

    private static string At(SourceSpan s) => "@" + s.ToShortString();
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Lower(string s) => s.ToLowerInvariant();

    private sealed class Writer
    {
        private readonly StringBuilder _sb = new();

        public void Line(int indent, string text) => _sb.Append(' ', indent * 2).Append(text).Append('\n');

        public override string ToString() => _sb.ToString();
    }
}
