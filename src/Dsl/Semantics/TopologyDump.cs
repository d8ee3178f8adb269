using System.Globalization;
using System.Linq;
using System.Text;

namespace SwarmDsl.Semantics;

/// <summary>
/// A stable, readable text form of the analyzed topology with every derived value visible (snapshot tests read it).
/// Pinned values are marked <c>(pinned)</c>, derived ones <c>(derived)</c>.
/// </summary>
public static class TopologyDump
{
    /// <summary>Renders <paramref name="t"/>.</summary>
    public static string Render(Topology t)
    {
        var sb = new StringBuilder();
        void L(string s) => sb.Append(s).Append('\n');
        string P(bool pinned) => pinned ? "(pinned)" : "(derived)";
        string Loc(Text.SourceSpan s) => s.IsKnown ? "@" + s.ToShortString() : "@(derived)";
        L($"topology {t.Name}");
        L($"underlay mtu={t.Underlay.Mtu} subnet={(t.Underlay.Subnet?.ToString() ?? "-")} dataPathPort={t.Underlay.DataPathPort}");
        L("nodes:");
        foreach (var n in t.Nodes)
            L($"  {n.Name} hostname={n.Hostname} role={n.Role.ToString().ToLowerInvariant()} address={n.Address} interface={n.Interface}"
              + (n.Labels.IsEmpty ? "" : " labels=" + string.Join(",", n.Labels.Select(l => l.Key + "=" + l.Value))) + " " + Loc(n.Span));
        L("networks:");
        foreach (var n in t.Networks)
        {
            var extra = n.IsOverlay ? $" vni={n.Vni} mtu={n.Mtu}{(n.Ingress ? " ingress" : "")}{(n.Attachable ? " attachable" : "")}"
                : $" icc={(n.Icc ? "true" : "false")} masquerade={(n.Masquerade ? "true" : "false")}";
            L($"  {n.Name} driver={n.Driver.ToString().ToLowerInvariant()} subnet={n.Subnet} gateway={n.Gateway}{extra}{(n.Implicit ? " (implicit)" : "")} {Loc(n.Span)}");
        }
        L("services:");
        foreach (var s in t.Services)
        {
            L($"  {s.Name} mode={s.Mode.ToString().ToLowerInvariant()} {(s.Mode == ServiceMode.Global ? "tasks=" + t.Tasks.Count(k => k.Service == s.Name) : "replicas=" + s.Replicas)} endpointMode={s.EndpointMode.ToString().ToLowerInvariant()} scheduler={s.Scheduler.ToString().ToLowerInvariant()} networks=[{string.Join(",", s.Networks)}] {Loc(s.Span)}");
            foreach (var v in s.Vips) L($"    vip {v.Network} {v.Address} {P(v.Pinned)}");
            foreach (var p in s.Ports) L($"    port {p.Published}->{p.Target}/{Net.IpProtocolNames.Name(p.Protocol)} mode={p.Mode.ToString().ToLowerInvariant()} {Loc(p.Span)}");
            foreach (var x in s.Exposed) L($"    expose {x.Port}/{Net.IpProtocolNames.Name(x.Protocol)} {Loc(x.Span)}");
        }
        L("tasks:");
        foreach (var k in t.Tasks)
            L($"  {k.Name} service={k.Service} slot={k.Slot} node={k.Node} weight={k.Weight} {P(k.Pinned)} {Loc(k.Span)}");
        L("endpoints:");
        foreach (var e in t.Endpoints)
            L($"  {e.Node}/{e.Namespace} {e.Interface} network={e.Network} address={e.Address} mac={e.Mac} kind={e.Kind} {P(e.Pinned)}");
        L("load balancers:");
        foreach (var lb in t.LoadBalancers)
            L($"  {lb.Node}/{lb.Namespace} service={lb.Service} network={lb.Network} vip={lb.Vip} fwmark={lb.FwMark} (0x{lb.FwMark.ToString("x", CultureInfo.InvariantCulture)})");
        if (!t.Sysctls.IsEmpty)
        {
            L("sysctls:");
            foreach (var s in t.Sysctls) L($"  {(s.Node ?? "*")} {s.Key}={s.Value} {Loc(s.Span)}");
        }
        if (!t.Rules.IsEmpty)
        {
            L("rules:");
            foreach (var r in t.Rules) L($"  {(r.Node ?? "*")}/{r.Namespace} -t {r.Table} {r.Position.ToString().ToLowerInvariant()} {r.Chain} {r.Rule} {Loc(r.Span)}");
        }
        if (!t.Expectations.IsEmpty)
        {
            L("expect:");
            foreach (var x in t.Expectations) L($"  from={x.From} to={x.To} {(x.Blocked ? "blocked" : "reaches=" + x.Reaches)} {Loc(x.Span)}");
        }
        return sb.ToString();
    }
}
