using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Collections;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Expectations;

/// <summary>
/// A topology with every source location replaced by a placeholder, so that an edit that only moves declarations (a
/// comment line above them) leaves it equal: the key of the expectation simulation.
/// </summary>
/// <remarks>
/// The k-th distinct known span met in a fixed walk of the model (which depends on its structure only) becomes
/// <see cref="Placeholder"/>(k), and the k-th entry of the spans <see cref="Erase"/> returns is the real one. Equal spans
/// get one placeholder and distinct ones distinct placeholders, so equal location-free topologies are the same topology
/// but for where it is written. The plan is lowered from the topology and takes its spans from it (lowering uses them as
/// labels only), so it needs no key of its own, and every declaration a simulation message names has a placeholder.
/// A span field the walk misses keeps its real value: still correct, only not cached across moves.
/// </remarks>
internal sealed class LocationFree
{
    /// <summary>The placeholders' file: a private-use character no path or message the compiler writes contains.</summary>
    public const string Marker = "\uE000span";

    private readonly Dictionary<SourceSpan, SourceSpan> _placeholders = new();
    private readonly List<SourceSpan> _spans = new();

    private LocationFree() { }

    /// <summary>The location-free copy of <paramref name="topology"/>, and the real span behind each placeholder, by index.</summary>
    public static (Topology Topology, EquatableArray<SourceSpan> Spans) Erase(Topology topology)
    {
        var eraser = new LocationFree();
        var t = eraser.Of(topology);
        return (t, eraser._spans.ToEquatableArray());
    }

    /// <summary>The placeholder of the real span at <paramref name="index"/>.</summary>
    public static SourceSpan Placeholder(int index) => new(Marker, index + 1, 1, index + 1, 1);

    /// <summary>The index of <paramref name="span"/> among the real spans when it is a placeholder, else -1.</summary>
    public static int IndexOf(SourceSpan span) => span.IsKnown && string.Equals(span.File, Marker, StringComparison.Ordinal) ? span.StartLine - 1 : -1;

    /// <summary>
    /// <paramref name="message"/> with every placeholder written as <see cref="SourceSpan.ToShortString"/>
    /// (<c>file:line:col</c>, how traces and expectation messages name declarations) replaced by its real span's.
    /// </summary>
    public static string Restore(string message, EquatableArray<SourceSpan> spans)
    {
        var prefix = Marker + ":";
        int at = message.IndexOf(prefix, StringComparison.Ordinal);
        if (at < 0) return message;
        var sb = new StringBuilder(message.Length);
        int copied = 0;
        while (at >= 0)
        {
            // Marker ":" (k + 1) ":1", the whole of a placeholder's short form.
            int digits = at + prefix.Length, end = digits;
            while (end < message.Length && message[end] is >= '0' and <= '9') end++;
            bool whole = end > digits && end + 2 <= message.Length && message[end] == ':' && message[end + 1] == '1'
                && (end + 2 == message.Length || message[end + 2] is < '0' or > '9');
            if (whole && int.TryParse(message.Substring(digits, end - digits), NumberStyles.None, CultureInfo.InvariantCulture, out var line)
                && line >= 1 && line <= spans.Count)
            {
                sb.Append(message, copied, at - copied).Append(spans[line - 1].ToShortString());
                copied = end + 2;
            }
            at = message.IndexOf(prefix, Math.Max(copied, at + 1), StringComparison.Ordinal);
        }
        return sb.Append(message, copied, message.Length - copied).ToString();
    }

    private SourceSpan S(SourceSpan span)
    {
        if (!span.IsKnown) return span;
        if (!_placeholders.TryGetValue(span, out var placeholder))
        {
            placeholder = Placeholder(_spans.Count);
            _placeholders.Add(span, placeholder);
            _spans.Add(span);
        }
        return placeholder;
    }

    private static EquatableArray<T> Map<T>(EquatableArray<T> items, Func<T, T> map)
    {
        if (items.Count == 0) return items;
        var result = new T[items.Count];
        for (int i = 0; i < result.Length; i++) result[i] = map(items[i]);
        return EquatableArray<T>.Own(result);
    }

    // Every SourceSpan of the model, field by field (members without spans are shared, not copied).
    private Topology Of(Topology t) => t with
    {
        Underlay = t.Underlay with { Span = S(t.Underlay.Span) },
        Nodes = Map(t.Nodes, n => n with { Span = S(n.Span), GatewayBridgeCause = S(n.GatewayBridgeCause) }),
        Networks = Map(t.Networks, n => n with { Span = S(n.Span), Cause = S(n.Cause) }),
        Services = Map(t.Services, s => s with
        {
            Ports = Map(s.Ports, p => p with { Span = S(p.Span) }),
            Vips = Map(s.Vips, v => v with { Span = S(v.Span) }),
            Span = S(s.Span),
            Exposed = Map(s.Exposed, e => e with { Span = S(e.Span) }),
        }),
        Tasks = Map(t.Tasks, x => x with { Span = S(x.Span) }),
        Endpoints = Map(t.Endpoints, e => e with { Span = S(e.Span) }),
        LoadBalancers = Map(t.LoadBalancers, l => l with { Span = S(l.Span) }),
        Sysctls = Map(t.Sysctls, s => s with { Span = S(s.Span) }),
        Rules = Map(t.Rules, r => r with { Span = S(r.Span) }),
        Expectations = Map(t.Expectations, x => x with { Span = S(x.Span), FromSpan = S(x.FromSpan), ToSpan = S(x.ToSpan) }),
        Span = S(t.Span),
    };
}
