using System;
using System.Collections.Generic;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace SwarmDsl.Generators.Emitting;

/// <summary>C# names made from topology names, file names and MSBuild properties.</summary>
internal static class Identifiers
{
    /// <summary>The suffix that marks a topology file.</summary>
    public const string TopologyFileSuffix = ".swarm.yaml";

    /// <summary>
    /// PascalCase from a name in the topology's own words: <c>two-node</c> → <c>TwoNode</c>, <c>docker_gwbridge</c> →
    /// <c>DockerGwbridge</c>, <c>web.1</c> → <c>Web1</c>. Every character that cannot be in an identifier separates words;
    /// a leading digit gets an underscore; nothing usable gives <paramref name="fallback"/>.
    /// </summary>
    public static string ToPascalCase(string text, string fallback)
    {
        var sb = new StringBuilder();
        bool upper = true;
        foreach (var ch in text)
        {
            if (ch is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9'))
            {
                sb.Append(upper ? char.ToUpperInvariant(ch) : ch);
                upper = false;
            }
            else upper = true;
        }
        if (sb.Length == 0) return fallback;
        if (sb[0] is >= '0' and <= '9') sb.Insert(0, '_');
        return sb.ToString();
    }

    /// <summary>The class a topology file generates: <c>two-node.swarm.yaml</c> → <c>TwoNode</c>.</summary>
    public static string ClassNameFromPath(string path)
    {
        var name = FileName(path);
        if (name.EndsWith(TopologyFileSuffix, StringComparison.OrdinalIgnoreCase)) name = name.Substring(0, name.Length - TopologyFileSuffix.Length);
        return ToPascalCase(name, "Topology");
    }

    /// <summary>The file name of a path written with either separator (the generator must not depend on the host OS).</summary>
    public static string FileName(string path)
    {
        int cut = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        return cut < 0 ? path : path.Substring(cut + 1);
    }

    /// <summary>An identifier's value as C# must write it: a keyword (a type the user named <c>@class</c>) with its <c>@</c>.</summary>
    public static string Escaped(string name) => SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None ? name : "@" + name;

    /// <summary>Whether <paramref name="name"/> is a plain C# identifier (no keyword, no <c>@</c>).</summary>
    public static bool IsIdentifier(string name)
        => SyntaxFacts.IsValidIdentifier(name) && SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None;

    /// <summary>Whether <paramref name="ns"/> is a usable dotted namespace (empty means the global namespace).</summary>
    public static bool IsNamespace(string ns)
    {
        if (ns.Length == 0) return true;
        foreach (var part in ns.Split('.'))
            if (!SyntaxFacts.IsValidIdentifier(part) || SyntaxFacts.GetKeywordKind(part) != SyntaxKind.None || part == "global") return false;
        return true;
    }

    /// <summary>A string as a C# literal, escaped by Roslyn (never by hand).</summary>
    public static string Literal(string? value) => value is null ? "null" : SymbolDisplay.FormatLiteral(value, quote: true);

    /// <summary>A file-name-safe hint name for generated source.</summary>
    public static string HintName(string fullName, string suffix)
    {
        var sb = new StringBuilder();
        foreach (var ch in fullName) sb.Append(ch is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-' ? ch : '_');
        return sb.Append(suffix).ToString();
    }
}

/// <summary>
/// Hands out member names unique within one generated type: the first <c>Web1</c> keeps its name, a later one becomes
/// <c>Web1_2</c>. Names reserved up front (the type's own name, <c>All</c>) are never handed out: C# forbids a member named
/// like its enclosing type.
/// </summary>
internal sealed class UniqueNames
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <summary>Starts with <paramref name="reserved"/> taken.</summary>
    public UniqueNames(params string[] reserved)
    {
        foreach (var r in reserved) _used.Add(r);
    }

    /// <summary>A unique identifier for <paramref name="text"/>.</summary>
    public string Make(string text)
    {
        var baseName = Identifiers.ToPascalCase(text, "Item");
        var name = baseName;
        for (int i = 2; !_used.Add(name); i++) name = baseName + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return name;
    }
}
