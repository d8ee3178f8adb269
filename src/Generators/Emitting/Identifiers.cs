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

    /// <summary>The other spelling of <see cref="TopologyFileSuffix"/> YAML allows.</summary>
    public const string ShortTopologyFileSuffix = ".swarm.yml";

    /// <summary>Whether <paramref name="path"/> names a topology file (<c>*.swarm.yaml</c> or <c>*.swarm.yml</c>, any case).</summary>
    public static bool IsTopologyFile(string path)
        => path.EndsWith(TopologyFileSuffix, StringComparison.OrdinalIgnoreCase) || path.EndsWith(ShortTopologyFileSuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The members the generator may declare directly in a topology class (under any setting): a class of one of these names
    /// would hold a member named like itself, which C# forbids (CS0542). <c>GeneratorNamesTests</c> keeps the list whole.
    /// </summary>
    public static readonly HashSet<string> TopLevelMembers = new(StringComparer.Ordinal)
    {
        "TopologyName", "SourceFile", "Underlay", "Nodes", "Networks", "Vips", "PublishedPorts", "Services", "Addresses",
        "Namespaces", "Tasks", "LoadBalancers", "Sysctls", "Rules", "Expectations", "Provisioning", "ModelDump", "PlanDump",
        "SourceText", "PlanFingerprint", "CompilePlan", "CreateSimulation", "CreateInterpretedSimulation", "Traffic",
        "CompiledNetfilter", "CompiledForwarding", "DeclarationPaths", "s_declarationPaths",
    };

    /// <summary>
    /// Why a topology class may not be called <paramref name="simpleName"/>, or null: it is one of <see cref="TopLevelMembers"/>.
    /// </summary>
    public static string? ReservedClassName(string simpleName, string fix)
        => TopLevelMembers.Contains(simpleName)
            ? $"the topology class '{simpleName}' would hold the generated member '{simpleName}', which C# forbids (CS0542): {fix}"
            : null;

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
            // Letters and digits of any script (ünï → Ünï; a tester's file lost its ü and ï to an 'N').
            if (char.IsLetterOrDigit(ch) && SyntaxFacts.IsIdentifierPartCharacter(ch))
            {
                sb.Append(upper ? char.ToUpperInvariant(ch) : ch);
                upper = false;
            }
            else upper = true;
        }
        if (sb.Length == 0) return fallback;
        if (!SyntaxFacts.IsIdentifierStartCharacter(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    /// <summary>The class a topology file generates: <c>two-node.swarm.yaml</c> → <c>TwoNode</c>.</summary>
    public static string ClassNameFromPath(string path)
    {
        var name = FileName(path);
        foreach (var suffix in new[] { TopologyFileSuffix, ShortTopologyFileSuffix })
            if (name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) { name = name.Substring(0, name.Length - suffix.Length); break; }
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

    /// <summary>
    /// The namespace a project's <c>RootNamespace</c> stands for, as Visual Studio's templates make one from a project name:
    /// every character an identifier cannot hold becomes <c>_</c>, a part starting with a digit or naming a keyword gets a
    /// leading <c>_</c> (<c>my-app</c> → <c>my_app</c>, <c>1st.class</c> → <c>_1st._class</c>). Empty parts are dropped.
    /// </summary>
    public static string NamespaceFromRoot(string root)
    {
        var parts = new List<string>();
        foreach (var raw in root.Split('.'))
        {
            var sb = new StringBuilder();
            foreach (var ch in raw.Trim()) sb.Append(SyntaxFacts.IsIdentifierPartCharacter(ch) ? ch : '_');
            if (sb.Length == 0) continue;
            var part = sb.ToString();
            if (!SyntaxFacts.IsIdentifierStartCharacter(part[0]) || SyntaxFacts.GetKeywordKind(part) != SyntaxKind.None || part == "global") part = "_" + part;
            parts.Add(part);
        }
        return string.Join(".", parts);
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
