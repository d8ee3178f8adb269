using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Syntax;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>
/// Renders traces for people: a header line per hop (<c>── manager · host netns ──</c>), one line per step, rewrites as
/// <c>10.7.191.10:8080 → 172.18.0.2:8080</c>, and the YAML location of every step a declaration produced, with the
/// declaration's path when the caller knows the file's paths (<c>@two-node.swarm.yaml:44:9 (services.web.ports[0])</c>).
/// </summary>
public static class TextTraceRenderer
{
    private const int KindWidth = 11;

    /// <summary>
    /// Renders connections (request, then reply when <paramref name="includeReplies"/>), naming each step's declaration
    /// from <paramref name="declarations"/> when given.
    /// </summary>
    public static string Render(IReadOnlyList<ConnectionTrace> connections, string description, bool includeReplies, DeclarationPaths? declarations = null)
    {
        var sb = new StringBuilder();
        foreach (var c in connections) sb.Append(Render(c, description, includeReplies, declarations));
        sb.Append(Summary(connections, includeReplies));
        return sb.ToString();
    }

    /// <summary>
    /// Renders one connection as <see cref="Render(IReadOnlyList{ConnectionTrace}, string, bool, DeclarationPaths)"/> does, so
    /// that many can be written as they are simulated (with the summary from
    /// <see cref="Summary(IReadOnlyList{ConnectionTrace}, bool)"/>'s counts kept on the way) instead of held.
    /// </summary>
    public static string Render(ConnectionTrace connection, string description, bool includeReplies, DeclarationPaths? declarations = null)
    {
        if (connection is null) throw new System.ArgumentNullException(nameof(connection));
        var sb = new StringBuilder();
        sb.Append("connection ").Append(I(connection.Number)).Append('/').Append(I(connection.Count)).Append(" · ").Append(description).Append('\n');
        Render(sb, connection.Request, declarations);
        if (includeReplies && connection.Reply is not null) Render(sb, connection.Reply, declarations);
        sb.Append('\n');
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
        var summary = new TraceSummary();
        foreach (var c in connections) summary.Add(c);
        return summary.Line(includeReplies);
    }

    /// <summary>Renders one packet trace (naming each step's declaration from <paramref name="declarations"/> when given).</summary>
    public static string Render(PacketTrace trace, DeclarationPaths? declarations = null)
    {
        var sb = new StringBuilder();
        Render(sb, trace, declarations);
        return sb.ToString();
    }

    /// <summary>
    /// Where a step comes from: <c>two-node.swarm.yaml:44:9</c>, followed by <c> (services.web.ports[0])</c> when
    /// <paramref name="declarations"/> names the place; null for a step no declaration produced.
    /// </summary>
    public static string? Location(TraceStep step, DeclarationPaths? declarations)
    {
        if (step is null) throw new System.ArgumentNullException(nameof(step));
        if (!step.Span.IsKnown) return null;
        var path = declarations?.PathOf(step.Span);
        return path is null ? step.Span.ToShortString() : step.Span.ToShortString() + " (" + path + ")";
    }

    private static void Render(StringBuilder sb, PacketTrace t, DeclarationPaths? declarations)
    {
        sb.Append(t.Label).Append("  ").Append(t.PacketIn.Summary()).Append('\n');
        foreach (var hop in t.Hops)
        {
            sb.Append("── ").Append(hop.Node).Append(" · ").Append(hop.Namespace == "host" ? "host netns" : hop.Namespace).Append(" ──\n");
            foreach (var s in hop.Steps)
            {
                sb.Append("  ").Append(s.Kind.PadRight(KindWidth)).Append(' ').Append(Describe(s));
                if (Location(s, declarations) is { } at) sb.Append("  @").Append(at);
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
        FdbStep f => f.Device + " " + f.Mac + " → " + (f.Port.Length > 0 ? f.Port : "nowhere") + " (" + f.Result + ")",
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

/// <summary>
/// The counts behind <see cref="TextTraceRenderer.Summary(IReadOnlyList{ConnectionTrace}, bool)"/>, kept as connections go
/// by: a long run (<c>trace --count 100000</c>) writes each connection and forgets it.
/// </summary>
public sealed class TraceSummary
{
    private readonly SortedDictionary<string, int> _delivered = new(System.StringComparer.Ordinal);
    private readonly SortedDictionary<string, int> _dropped = new(System.StringComparer.Ordinal);
    private readonly SortedDictionary<string, int> _lostReplies = new(System.StringComparer.Ordinal);
    private int _count, _looped, _exited;

    /// <summary>Counts one connection.</summary>
    public void Add(ConnectionTrace connection)
    {
        if (connection is null) throw new System.ArgumentNullException(nameof(connection));
        _count++;
        var d = connection.Request.Disposition;
        if (d.Kind == DispositionKind.Delivered) Increment(_delivered, d.Owner);
        else if (d.Kind == DispositionKind.Dropped) Increment(_dropped, d.Cause!.Value.ToString());
        else if (d.Kind == DispositionKind.Looped) _looped++;
        else _exited++;
        if (connection.Reply?.Disposition is { } r)
        {
            var why = r.Kind == DispositionKind.Dropped ? r.Cause!.Value.ToString() : r.Kind == DispositionKind.Looped ? "Looped" : null;
            if (why is not null) Increment(_lostReplies, why);
        }
    }

    /// <summary>
    /// Whether <paramref name="connection"/>'s reply was sent and did not make it back (dropped or looped): with replies
    /// asked for, such a connection did not work.
    /// </summary>
    public static bool IsReplyLost(ConnectionTrace connection)
        => connection?.Reply?.Disposition.Kind is DispositionKind.Dropped or DispositionKind.Looped;

    private static void Increment(SortedDictionary<string, int> counts, string key) => counts[key] = counts.TryGetValue(key, out var n) ? n + 1 : 1;

    /// <summary>The summary line (with the replies that were lost when <paramref name="includeReplies"/>).</summary>
    public string Line(bool includeReplies)
    {
        var sb = new StringBuilder();
        sb.Append(I(_count)).Append(_count == 1 ? " connection: " : " connections: ");
        sb.Append(I(Sum(_delivered))).Append(" delivered");
        if (_delivered.Count > 0) sb.Append(" (").Append(List(_delivered)).Append(')');
        if (Sum(_dropped) > 0) sb.Append(", ").Append(I(Sum(_dropped))).Append(" dropped (").Append(List(_dropped)).Append(')');
        if (_looped > 0) sb.Append(", ").Append(I(_looped)).Append(" looped");
        if (_exited > 0) sb.Append(", ").Append(I(_exited)).Append(" exited the modelled network");
        int lost = Sum(_lostReplies);
        if (includeReplies && lost > 0)
            sb.Append("; ").Append(I(lost)).Append(lost == 1 ? " reply" : " replies").Append(" lost (").Append(List(_lostReplies)).Append(')');
        sb.Append('\n');
        return sb.ToString();
    }

    private static int Sum(SortedDictionary<string, int> counts)
    {
        int sum = 0;
        foreach (var v in counts.Values) sum += v;
        return sum;
    }

    private static string List(SortedDictionary<string, int> counts)
    {
        var sb = new StringBuilder();
        foreach (var kv in counts)
        {
            if (sb.Length > 0) sb.Append(", ");
            sb.Append(kv.Key).Append(" ×").Append(I(kv.Value));
        }
        return sb.ToString();
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
