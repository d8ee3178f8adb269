using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SwarmDsl.Tests;

/// <summary>
/// A small mutable YAML tree for generating test inputs: it can hold what real YAML libraries refuse to build (duplicate keys,
/// aliases before anchors) and renders to block-style text, keeping each scalar's plain or quoted style (which decides its type).
/// </summary>
public abstract class YNode
{
    /// <summary>An anchor written before the node (<c>&amp;name</c>).</summary>
    public string? Anchor { get; set; }

    public abstract YNode Clone();

    public static YNode FromYaml(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new System.IO.StringReader(yaml));
        return From(stream.Documents[0].RootNode);
    }

    private static YNode From(YamlNode n) => n switch
    {
        YamlMappingNode m => new YMap(m.Children.Select(kv => (From((YamlScalarNode)kv.Key) is YScalar k ? k : throw new System.InvalidOperationException(), From(kv.Value))).ToList()),
        YamlSequenceNode s => new YList(s.Children.Select(From).ToList()),
        YamlScalarNode sc => new YScalar(sc.Value ?? "", sc.Style is ScalarStyle.Plain or ScalarStyle.Any),
        _ => throw new System.NotSupportedException(n.GetType().Name),
    };

    /// <summary>Block-style YAML text.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        switch (this)
        {
            case YMap or YList: Write(sb, this, 0); break;
            default: sb.Append(Inline(this)).Append('\n'); break;
        }
        return sb.ToString();
    }

    private static string Prefix(YNode n) => n.Anchor is null ? "" : "&" + n.Anchor + " ";

    private static bool IsBlock(YNode n) => n is YMap { Entries.Count: > 0 } or YList { Items.Count: > 0 };

    private static string Inline(YNode n) => Prefix(n) + n switch
    {
        YScalar s => s.Text(),
        YMap => "{}",
        YList => "[]",
        YAlias a => "*" + a.Name,
        _ => "",
    };

    private static void Write(StringBuilder sb, YNode node, int indent)
    {
        var pad = new string(' ', indent);
        if (node is YMap m)
        {
            foreach (var (k, v) in m.Entries)
            {
                sb.Append(pad).Append(k.KeyText()).Append(':');
                if (IsBlock(v)) { sb.Append(v.Anchor is null ? "" : " &" + v.Anchor).Append('\n'); Write(sb, v, indent + 2); }
                else sb.Append(' ').Append(Inline(v)).Append('\n');
            }
        }
        else if (node is YList l)
        {
            foreach (var item in l.Items)
            {
                sb.Append(pad).Append('-');
                if (IsBlock(item)) { sb.Append(item.Anchor is null ? "" : " &" + item.Anchor).Append('\n'); Write(sb, item, indent + 2); }
                else sb.Append(' ').Append(Inline(item)).Append('\n');
            }
        }
    }

    /// <summary>Every node with its parent (null for the root), depth first.</summary>
    public IEnumerable<(YNode Node, YNode? Parent)> Walk()
    {
        var stack = new Stack<(YNode, YNode?)>();
        stack.Push((this, null));
        while (stack.Count > 0)
        {
            var (n, p) = stack.Pop();
            yield return (n, p);
            if (n is YMap m) for (int i = m.Entries.Count - 1; i >= 0; i--) stack.Push((m.Entries[i].Value, n));
            if (n is YList l) for (int i = l.Items.Count - 1; i >= 0; i--) stack.Push((l.Items[i], n));
        }
    }

    /// <summary>Replaces <paramref name="old"/> (by reference) under this node.</summary>
    public bool Replace(YNode old, YNode replacement)
    {
        foreach (var (n, _) in Walk())
        {
            if (n is YMap m)
                for (int i = 0; i < m.Entries.Count; i++)
                    if (ReferenceEquals(m.Entries[i].Value, old)) { m.Entries[i] = (m.Entries[i].Key, replacement); return true; }
            if (n is YList l)
                for (int i = 0; i < l.Items.Count; i++)
                    if (ReferenceEquals(l.Items[i], old)) { l.Items[i] = replacement; return true; }
        }
        return false;
    }
}

public sealed class YScalar : YNode
{
    public YScalar(string value, bool plain) { Value = value; Plain = plain; }
    public string Value { get; }
    public bool Plain { get; }
    public override YNode Clone() => new YScalar(Value, Plain) { Anchor = Anchor };

    internal string Text() => Plain ? (Value.Length == 0 ? "~" : Value) : Quote(Value);

    internal string KeyText() => Plain && IsSafePlainKey(Value) ? Value : Quote(Value);

    private static bool IsSafePlainKey(string s) =>
        s.Length > 0 && s.All(c => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-' or '.') && s[0] != '-';

    /// <summary>A double-quoted YAML scalar holding exactly <paramref name="s"/>.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(ch) || char.IsSurrogate(ch) || ch == '\uFEFF') sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

public sealed class YMap : YNode
{
    public YMap(List<(YScalar Key, YNode Value)> entries) => Entries = entries;
    public List<(YScalar Key, YNode Value)> Entries { get; }
    public override YNode Clone() => new YMap(Entries.Select(e => ((YScalar)e.Key.Clone(), e.Value.Clone())).ToList()) { Anchor = Anchor };
    public YNode? this[string key] => Entries.FirstOrDefault(e => e.Key.Value == key).Value;
}

public sealed class YList : YNode
{
    public YList(List<YNode> items) => Items = items;
    public List<YNode> Items { get; }
    public override YNode Clone() => new YList(Items.Select(i => i.Clone()).ToList()) { Anchor = Anchor };
}

public sealed class YAlias : YNode
{
    public YAlias(string name) => Name = name;
    public string Name { get; }
    public override YNode Clone() => new YAlias(Name) { Anchor = Anchor };
}
