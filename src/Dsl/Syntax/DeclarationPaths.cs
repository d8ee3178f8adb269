using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Text;

namespace SwarmDsl.Syntax;

/// <summary>
/// Names the declaration written at a place of a topology file, in the path syntax rule comments use
/// (<c>services.web.ports[0]</c>, <c>nodes.manager</c>, <c>networks.backend</c>, <c>rules[3]</c>): derived once from the YAML
/// syntax tree, so anything that carries a <see cref="SourceSpan"/> (a plan element, a trace step) can say what it came from.
/// </summary>
/// <remarks>
/// A span is looked up whole first (a key, a value, a list item or a mapping as written), then by where it starts. Several
/// nodes may start at one place: a block mapping starts at its first key, a list item at the first key of its mapping. By
/// its start alone a place names the list item (the whole declaration) and the key (not the mapping it opens, whose own path
/// is its key's). Keys that are not plain names (sysctl keys with dots) are written <c>["net.core.somaxconn"]</c>.
/// </remarks>
public sealed class DeclarationPaths
{
    private readonly string _file;
    private readonly Dictionary<(int, int, int, int), string> _spans;
    private readonly Dictionary<(int, int), string> _starts;

    private DeclarationPaths(string file, Dictionary<(int, int, int, int), string> spans, Dictionary<(int, int), string> starts)
    {
        _file = file;
        _spans = spans;
        _starts = starts;
    }

    /// <summary>An index that knows no path (a topology written as C# attributes has no YAML to name).</summary>
    public static DeclarationPaths Empty { get; } = new("", new Dictionary<(int, int, int, int), string>(), new Dictionary<(int, int), string>());

    /// <summary>Indexes every node of <paramref name="root"/>, the syntax tree of <paramref name="file"/> (null: <see cref="Empty"/>).</summary>
    public static DeclarationPaths From(string file, YamlNode? root)
    {
        if (file is null) throw new ArgumentNullException(nameof(file));
        if (root is null) return Empty;
        var spans = new Dictionary<(int, int, int, int), string>();
        var starts = new Dictionary<(int, int), string>();
        // Iterative: the reader bounds depth, but the tree may be wide (thousands of tasks), and the walk needs no recursion.
        var work = new Stack<(YamlNode Node, string Path, bool OpensEntry)>();
        work.Push((root, "", false));
        while (work.Count > 0)
        {
            var (node, path, opensEntry) = work.Pop();
            // The root has no name of its own; everything under it has. Nodes are visited in document order, parents before
            // children, and the first path recorded for a place stays: the outermost one.
            if (path.Length > 0 && node.Span.IsKnown)
            {
                var sp = node.Span;
                var whole = (sp.StartLine, sp.StartColumn, sp.EndLine, sp.EndColumn);
                if (!spans.ContainsKey(whole)) spans[whole] = path;
                // A mapping or list written as a key's value starts where its first key or item does: that place is theirs.
                if (!(opensEntry && node is YamlMapping or YamlSequence) && !starts.ContainsKey((sp.StartLine, sp.StartColumn)))
                    starts[(sp.StartLine, sp.StartColumn)] = path;
            }
            switch (node)
            {
                case YamlMapping m:
                    // Pushed in reverse, so popped in document order: each key, then its value.
                    for (int i = m.Entries.Count - 1; i >= 0; i--)
                    {
                        var e = m.Entries[i];
                        var child = Append(path, e.Key.Value);
                        work.Push((e.Value, child, true));
                        work.Push((e.Key, child, false));
                    }
                    break;
                case YamlSequence s:
                    for (int i = s.Items.Count - 1; i >= 0; i--)
                        work.Push((s.Items[i], path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", false));
                    break;
            }
        }
        return new DeclarationPaths(file, spans, starts);
    }

    /// <summary>
    /// The declaration path of <paramref name="span"/>: of the node written exactly there, else of the place it starts at;
    /// null when it names no place of this file.
    /// </summary>
    public string? PathOf(SourceSpan span)
    {
        if (!span.IsKnown || !string.Equals(span.File, _file, StringComparison.Ordinal)) return null;
        if (_spans.TryGetValue((span.StartLine, span.StartColumn, span.EndLine, span.EndColumn), out var path)) return path;
        return _starts.TryGetValue((span.StartLine, span.StartColumn), out path) ? path : null;
    }

    private static string Append(string path, string key)
    {
        if (IsName(key)) return path.Length == 0 ? key : path + "." + key;
        var sb = new StringBuilder(path).Append("[\"");
        foreach (var c in key) sb.Append(c is '"' or '\\' ? "\\" + c : c.ToString());
        return sb.Append("\"]").ToString();
    }

    private static bool IsName(string key)
    {
        if (key.Length == 0) return false;
        foreach (var c in key)
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-')) return false;
        return true;
    }
}
