using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>
/// Renders traces for people: a header line per hop (<c>── manager · host netns ──</c>), one line per step, rewrites as
/// <c>10.7.191.10:8080 → 172.18.0.2:8080</c>, and the YAML location of every step a declaration produced.
/// </summary>
public static class TextTraceRenderer
{
    private const int KindWidth = 11;

    /// <summary>Renders connections (request, then reply when <paramref name="includeReplies"/>).</summary>
    public static string Render(IReadOnlyList<ConnectionTrace> connections, string description, bool includeReplies)
    {
        var sb = new StringBuilder();
        foreach (var c in connections)
        {
            sb.Append("connection ").Append(I(c.Number)).Append('/').Append(I(c.Count)).Append(" · ").Append(description).Append('\n');
            Render(sb, c.Request);
            if (includeReplies && c.Reply is not null) Render(sb, c.Reply);
            sb.Append('\n');
        }
        sb.Append(Summary(connections, includeReplies));
        return sb.ToString();
    }

    /// <summary>One line summing up where the connections went.</summary>
    public static string Summary(IReadOnlyList<ConnectionTrace> connections) => Summary(connections, includeReplies: false);

    /// <summary>
    /// One line summing up where the connections went; with <paramref name="includeReplies"/>, also the replies that did not
    /// make it back (a request delivered whose answer is dropped is not a working connection).
    /// </summary>
    public static string Summary(IReadOnlyList<ConnectionTrace> connections, bool includeReplies)
    {
        var delivered = new SortedDictionary<string, int>(System.StringComparer.Ordinal);
        var dropped = new SortedDictionary<string, int>(System.StringComparer.Ordinal);
        int looped = 0, exited = 0;
        foreach (var c in connections)
        {
            var d = c.Request.Disposition;
            if (d.Kind == DispositionKind.Delivered) delivered[d.Owner] = delivered.TryGetValue(d.Owner, out var n) ? n + 1 : 1;
            else if (d.Kind == DispositionKind.Dropped) dropped[d.Cause!.Value.ToString()] = dropped.TryGetValue(d.Cause.Value.ToString(), out var m) ? m + 1 : 1;
            else if (d.Kind == DispositionKind.Looped) looped++;
            else exited++;
        }
        var sb = new StringBuilder();
        sb.Append(I(connections.Count)).Append(connections.Count == 1 ? " connection: " : " connections: ");
        int dsum = 0; foreach (var v in delivered.Values) dsum += v;
        sb.Append(I(dsum)).Append(" delivered");
        if (delivered.Count > 0)
        {
            sb.Append(" (");
            bool first = true;
            foreach (var kv in delivered) { if (!first) sb.Append(", "); first = false; sb.Append(kv.Key).Append(" ×").Append(I(kv.Value)); }
            sb.Append(')');
        }
        int xsum = 0; foreach (var v in dropped.Values) xsum += v;
        if (xsum > 0)
        {
            sb.Append(", ").Append(I(xsum)).Append(" dropped (");
            bool first = true;
            foreach (var kv in dropped) { if (!first) sb.Append(", "); first = false; sb.Append(kv.Key).Append(" ×").Append(I(kv.Value)); }
            sb.Append(')');
        }
        if (looped > 0) sb.Append(", ").Append(I(looped)).Append(" looped");
        if (exited > 0) sb.Append(", ").Append(I(exited)).Append(" exited the modelled network");
        if (includeReplies)
        {
            var lost = new SortedDictionary<string, int>(System.StringComparer.Ordinal);
            foreach (var c in connections)
            {
                if (c.Reply?.Disposition is not { } r) continue;
                var why = r.Kind == DispositionKind.Dropped ? r.Cause!.Value.ToString() : r.Kind == DispositionKind.Looped ? "Looped" : null;
                if (why is not null) lost[why] = lost.TryGetValue(why, out var k) ? k + 1 : 1;
            }
            int lsum = 0; foreach (var v in lost.Values) lsum += v;
            if (lsum > 0)
            {
                sb.Append("; ").Append(I(lsum)).Append(lsum == 1 ? " reply" : " replies").Append(" lost (");
                bool first = true;
                foreach (var kv in lost) { if (!first) sb.Append(", "); first = false; sb.Append(kv.Key).Append(" ×").Append(I(kv.Value)); }
                sb.Append(')');
            }
        }
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>Renders one packet trace.</summary>
    public static string Render(PacketTrace trace)
    {
        var sb = new StringBuilder();
        Render(sb, trace);
        return sb.ToString();
    }

    private static void Render(StringBuilder sb, PacketTrace t)
    {
        sb.Append(t.Label).Append("  ").Append(t.PacketIn.Summary()).Append('\n');
        foreach (var hop in t.Hops)
        {
            sb.Append("── ").Append(hop.Node).Append(" · ").Append(hop.Namespace == "host" ? "host netns" : hop.Namespace).Append(" ──\n");
            foreach (var s in hop.Steps)
            {
                sb.Append("  ").Append(s.Kind.PadRight(KindWidth)).Append(' ').Append(Describe(s));
                if (s.Span.IsKnown) sb.Append("  @").Append(s.Span.ToShortString());
                sb.Append('\n');
            }
        }
        sb.Append("⇒ ").Append(Disposition(t.Disposition)).Append('\n');
    }

    /// <summary>The one-line disposition.</summary>
    public static string Disposition(Disposition d) => d.Kind switch
    {
        DispositionKind.Delivered => "DELIVERED to " + d.Owner + " (" + d.Socket + ") in " + d.Where + " as " + d.Final.Summary(),
        DispositionKind.Dropped => "DROPPED (" + d.Cause + ") in " + d.Where + ": " + d.Detail,
        DispositionKind.Looped => "LOOPED in " + d.Where + ": " + d.Detail,
        _ => "EXITED from " + d.Where + ": " + d.Detail,
    };

    /// <summary>The text of one step (without kind and span).</summary>
    public static string Describe(TraceStep step) => step switch
    {
        ReceivedStep r => r.Device + "  " + Packet(r.Packet),
        NetfilterStep n => n.RuleNumber == 0
            ? n.Hook + " " + n.Table + "/" + n.Chain + " policy → " + n.Verdict
            : n.Hook + " " + n.Table + "/" + n.Chain + " #" + I(n.RuleNumber) + "  " + n.RuleText + "  → " + n.Verdict,
        ConntrackStep c => c.State + "  " + c.Tuple + (c.Nat.Length > 0 ? "  [" + c.Nat + "]" : ""),
        NatStep n => n.NatKind + "  " + n.Before + " → " + n.After,
        IpvsStep v => v.Backend + " " + v.Service + " " + v.Scheduler + (v.NewConnection ? " schedules " : " ")
            + (v.Destination.Length > 0 ? "→ " + v.Destination + (v.Task.Length > 0 ? " (" + v.Task + (v.Forward.Length > 0 ? ", " + v.Forward : "") + ")" : "") : "→ none") + "  " + v.Reason,
        RouteStep r => r.Purpose + ": " + (r.Table == "local" ? "local " + r.Prefix : r.Prefix) + (r.Gateway.Length > 0 ? " via " + r.Gateway : "") + " dev " + r.Device
            + (r.Source.Length > 0 ? " src " + r.Source : ""),
        NeighborStep n => n.Address + " dev " + n.Device + " → " + n.Mac + " (" + n.How + ")",
        FdbStep f => f.Bridge + " " + f.Mac + " → " + (f.Port.Length > 0 ? f.Port : "nowhere") + " (" + f.Result + ")",
        BridgeStep b => b.Bridge + ": " + b.InPort + " → " + b.OutPort,
        VethStep v => v.Device + " → " + v.PeerNamespace + " " + v.PeerDevice,
        VxlanEncapStep e => e.Device + " VNI " + I(e.Vni) + ": outer " + e.OuterSource + " → " + e.OuterDestination + ":" + I(e.DestinationPort)
            + " udp sport " + I(e.SourcePort) + ", +" + I(e.BytesAdded) + " bytes (frame " + I(e.InnerLength) + " → " + I(e.OuterLength)
            + "), underlay MTU " + I(e.UnderlayMtu) + (e.OuterLength - 14 > e.UnderlayMtu ? " exceeded: fragmented" : " ok"),
        VxlanDecapStep d => d.Device + " VNI " + I(d.Vni) + ": outer " + d.OuterSource + ":" + I(d.SourcePort) + " → " + d.OuterDestination + ":" + I(d.DestinationPort) + " removed",
        SocketStep s => s.Description + (s.Owner.Length > 0 ? " → " + s.Owner : ""),
        FragmentStep f => f.Device + " MTU " + I(f.Mtu) + ": " + I(f.Length) + " bytes sent as " + I(f.Fragments) + " fragments",
        DropStep d => d.Cause + ": " + d.Detail,
        _ => step.Kind,
    };

    private static string Packet(HeaderSnapshot p)
    {
        var s = p.Summary() + " ttl " + I(p.Ttl) + " len " + I(p.Length);
        if (p.Mark != 0) s += " mark 0x" + p.Mark.ToString("x", CultureInfo.InvariantCulture);
        if (p.Inner is not null) s += "  [vxlan " + I(p.Vni) + ": " + p.Inner.Summary() + "]";
        return s;
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
