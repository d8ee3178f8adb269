using System.Globalization;
using System.Text;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Insight;

/// <summary>One-line explanations of how a traced packet ended, naming the step and the declaration responsible.</summary>
public static class TraceExplanation
{
    /// <summary>
    /// Says why a packet did not arrive: "dropped by FilterDrop at manager/web.1 filter/INPUT rule 4 (-A INPUT …) from
    /// two-node.swarm.yaml:51:9". The step is the last netfilter verdict that discarded it, else the drop step itself.
    /// </summary>
    public static string Explain(PacketTrace trace) => Explain(trace, Declaration);

    /// <summary>
    /// <see cref="Explain(PacketTrace)"/> with the declaration behind the step written by <paramref name="declaration"/>
    /// instead of <see cref="SourceSpan.ToShortString"/> (the source generator writes a placeholder that it fills in where
    /// the declaration is when it reports the message, so a simulation need not run again when declarations only move).
    /// </summary>
    public static string Explain(PacketTrace trace, System.Func<SourceSpan, string> declaration)
    {
        if (trace is null) throw new System.ArgumentNullException(nameof(trace));
        if (declaration is null) throw new System.ArgumentNullException(nameof(declaration));
        NetfilterStep? verdict = null;
        DropStep? drop = null;
        foreach (var hop in trace.Hops)
            foreach (var s in hop.Steps)
            {
                if (s is NetfilterStep nf && IsDiscard(nf.Verdict)) verdict = nf;
                else if (s is DropStep ds) drop = ds;
            }
        return Explain(trace.Disposition, verdict, drop, declaration);
    }

    private static string Declaration(SourceSpan span) => span.ToShortString();

    /// <summary>
    /// <see cref="Explain(PacketTrace)"/> from a walk's facts alone: where it ended, the rule or policy that discarded it
    /// and the drop (what an untraced walk's <see cref="Engine.PathRecord"/> holds).
    /// </summary>
    internal static string Explain(Disposition d, NetfilterStep? verdict, DropStep? drop, System.Func<SourceSpan, string>? declaration = null)
    {
        switch (d.Kind)
        {
            case DispositionKind.Delivered:
                return "delivered to " + d.Owner + " (" + d.Socket + ") at " + d.Where;
            case DispositionKind.Looped:
                return "looped at " + d.Where + ": " + d.Detail;
            case DispositionKind.Exited:
                return "left the modelled network at " + d.Where + ": " + d.Detail;
        }
        return Dropped(d.Cause, d.Where, d.Detail, verdict, drop, declaration);
    }

    /// <summary>The explanation of a drop at <paramref name="where"/> (a namespace's qualified name).</summary>
    internal static string Dropped(DropCause? cause, string where, string detail, NetfilterStep? verdict, DropStep? drop,
        System.Func<SourceSpan, string>? declaration = null)
    {
        declaration ??= Declaration;
        var sb = new StringBuilder();
        sb.Append("dropped by ").Append(cause?.ToString() ?? "drop").Append(" at ").Append(where);
        // A DROP or REJECT rule is named by its own chain and text (the drop's detail knows only the table).
        if (verdict is not null && (cause is DropCause.FilterDrop or DropCause.Rejected || drop is null || !drop.Span.IsKnown))
        {
            sb.Append(' ').Append(verdict.Table).Append('/').Append(verdict.Chain)
              .Append(" rule ").Append(verdict.RuleNumber.ToString(CultureInfo.InvariantCulture));
            if (verdict.RuleText.Length > 0) sb.Append(" (").Append(verdict.RuleText).Append(')');
            if (verdict.Span.IsKnown) sb.Append(" from ").Append(declaration(verdict.Span));
            return sb.ToString();
        }
        if (drop is not null)
        {
            if (drop.Detail.Length > 0) sb.Append(": ").Append(drop.Detail);
            if (drop.Span.IsKnown) sb.Append(" from ").Append(declaration(drop.Span));
        }
        else if (detail.Length > 0) sb.Append(": ").Append(detail);
        return sb.ToString();
    }

    /// <summary>
    /// What makes two explanations the same apart from the packet's own fields and the load balancer's pick: the
    /// disposition, its cause and the discarding rule (so a range never merges a filter drop with a missing listener).
    /// </summary>
    public static string Key(PacketTrace trace)
    {
        if (trace is null) throw new System.ArgumentNullException(nameof(trace));
        NetfilterStep? verdict = null;
        foreach (var hop in trace.Hops)
            foreach (var s in hop.Steps)
                if (s is NetfilterStep nf && IsDiscard(nf.Verdict)) verdict = nf;
        return Key(trace.Disposition, verdict);
    }

    /// <summary><see cref="Key(PacketTrace)"/> from a walk's disposition and discarding rule.</summary>
    internal static string Key(Disposition d, NetfilterStep? verdict) => Key(d.Kind, d.Cause, verdict);

    /// <summary><see cref="Key(PacketTrace)"/> from how a walk ended and its discarding rule.</summary>
    internal static string Key(DispositionKind kind, DropCause? cause, NetfilterStep? verdict)
    {
        var sb = new StringBuilder().Append(kind).Append('|').Append(cause?.ToString() ?? "");
        if (verdict is not null) sb.Append('|').Append(verdict.Table).Append('/').Append(verdict.Chain).Append('#').Append(verdict.RuleNumber.ToString(CultureInfo.InvariantCulture)).Append('@').Append(verdict.Span.ToShortString());
        return sb.ToString();
    }

    private static bool IsDiscard(string verdict) =>
        verdict.StartsWith("DROP", System.StringComparison.Ordinal) || verdict.StartsWith("REJECT", System.StringComparison.Ordinal);
}
