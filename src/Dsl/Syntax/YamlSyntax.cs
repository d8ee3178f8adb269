using System.Collections.Generic;
using SwarmDsl.Text;

namespace SwarmDsl.Syntax;

/// <summary>A node of the YAML syntax tree, with the exact place it was written.</summary>
public abstract class YamlNode
{
    private protected YamlNode(SourceSpan span) => Span = span;

    /// <summary>Where the node is written (start and end, 1-based).</summary>
    public SourceSpan Span { get; }

    /// <summary>A word for the node's kind, for messages ("a mapping").</summary>
    public abstract string KindName { get; }
}

/// <summary>A scalar: a plain or quoted string.</summary>
public sealed class YamlScalar : YamlNode
{
    internal YamlScalar(string value, bool isPlain, SourceSpan span) : base(span)
    {
        Value = value;
        IsPlain = isPlain;
    }

    /// <summary>The scalar's text.</summary>
    public string Value { get; }

    /// <summary>Whether it was written without quotes (only plain scalars can be numbers, booleans or null).</summary>
    public bool IsPlain { get; }

    /// <summary>Whether it is YAML's null (<c>~</c>, <c>null</c> or empty, unquoted).</summary>
    public bool IsNull => IsPlain && (Value.Length == 0 || Value == "~" || Value == "null" || Value == "Null" || Value == "NULL");

    /// <inheritdoc/>
    public override string KindName => IsNull ? "null" : "a scalar";
}

/// <summary>One <c>key: value</c> entry of a mapping.</summary>
public sealed class YamlEntry
{
    internal YamlEntry(YamlScalar key, YamlNode value)
    {
        Key = key;
        Value = value;
    }

    /// <summary>The key.</summary>
    public YamlScalar Key { get; }

    /// <summary>The value.</summary>
    public YamlNode Value { get; }
}

/// <summary>A mapping, in the order its keys were written.</summary>
public sealed class YamlMapping : YamlNode
{
    internal YamlMapping(IReadOnlyList<YamlEntry> entries, SourceSpan span, bool hasInvalidKeys = false) : base(span)
    {
        Entries = entries;
        HasInvalidKeys = hasInvalidKeys;
    }

    /// <summary>The entries in document order (duplicates were reported and dropped).</summary>
    public IReadOnlyList<YamlEntry> Entries { get; }

    /// <summary>
    /// Whether an entry was dropped because its key is not a plain name (reported as SWARM0003): such a mapping was written
    /// with entries, so it is not "empty" even when <see cref="Entries"/> is.
    /// </summary>
    public bool HasInvalidKeys { get; }

    /// <summary>The entry for <paramref name="key"/>, if present.</summary>
    public YamlEntry? Find(string key)
    {
        foreach (var e in Entries) if (e.Key.Value == key) return e;
        return null;
    }

    /// <inheritdoc/>
    public override string KindName => "a mapping";
}

/// <summary>A sequence.</summary>
public sealed class YamlSequence : YamlNode
{
    internal YamlSequence(IReadOnlyList<YamlNode> items, SourceSpan span) : base(span) => Items = items;

    /// <summary>The items in document order.</summary>
    public IReadOnlyList<YamlNode> Items { get; }

    /// <inheritdoc/>
    public override string KindName => "a list";
}
