using System.Text;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Emit;

/// <summary>
/// The ownership marker and origin every emitted rule carries: <c>swarmdsl:&lt;topology&gt;:&lt;file&gt;:&lt;line&gt;:&lt;col&gt; &lt;origin&gt;</c>
/// (e.g. <c>swarmdsl:two-node:two-node.swarm.yaml:44:9 services.web.ports[0]</c>), so a rule seen on a live host leads back
/// to its declaration and teardown can find exactly the rules apply made.
/// </summary>
public static class RuleComments
{
    /// <summary>nft limits a rule comment to 128 bytes.</summary>
    public const int MaxNftBytes = 128;

    /// <summary>The prefix of every comment of <paramref name="topology"/>: <c>swarmdsl:&lt;topology&gt;:</c>.</summary>
    public static string Marker(string topology) => "swarmdsl:" + Clean(topology) + ":";

    /// <summary>The comment for a rule (at most <see cref="IptablesSyntax.MaxCommentBytes"/> bytes).</summary>
    public static string For(string topology, NetfilterRule rule) => Build(topology, rule.Span, rule.Origin, IptablesSyntax.MaxCommentBytes);

    /// <summary>
    /// <c>marker + span + " " + origin</c>, limited to <paramref name="maxBytes"/>: characters that quoting could trip over
    /// (<c>"</c> <c>'</c> <c>\</c> <c>`</c> <c>$</c>, control and non-ASCII characters) become <c>?</c>, so the text is the same
    /// inside iptables-save quotes, nft strings and shell words. When too long, the origin is cut first, then the file name
    /// (ending in <c>~</c>), so the marker and the line and column survive.
    /// </summary>
    public static string Build(string topology, SourceSpan span, string origin, int maxBytes)
    {
        var marker = Marker(topology);
        var file = span.IsKnown ? Clean(span.FileName) : "";
        var where = span.IsKnown ? span.ToShortString().Substring(span.FileName.Length) : span.ToShortString();
        var tail = origin.Length > 0 ? " " + Clean(origin) : "";
        int room = maxBytes - marker.Length - where.Length;
        if (room < 1) return (marker + file + where).Substring(0, maxBytes); // a marker that long is refused by name rules
        if (file.Length + tail.Length <= room) return marker + file + where + tail;
        if (file.Length <= room) return marker + file + where + tail.Substring(0, room - file.Length);
        return marker + file.Substring(0, room - 1) + "~" + where;
    }

    private static string Clean(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) sb.Append(c is < ' ' or > '~' or '"' or '\'' or '\\' or '`' or '$' ? '?' : c);
        return sb.ToString();
    }
}
