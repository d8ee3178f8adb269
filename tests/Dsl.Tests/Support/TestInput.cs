using System.Globalization;
using System.Linq;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SwarmDsl.Diagnostics;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SwarmDsl.Tests;

/// <summary>Small helpers shared by the front-end tests.</summary>
public static class TestInput
{
    /// <summary>The file name test inputs are compiled as.</summary>
    public const string File = "t.swarm.yaml";

    /// <summary>tests/Dsl.Tests/Topologies/three-node.swarm.yaml: the richer topology of the snapshot tests.</summary>
    public static string ThreeNodePath => System.IO.Path.Combine(Paths.Root, "tests", "Dsl.Tests", "Topologies", "three-node.swarm.yaml");

    /// <summary>Compiles <paramref name="yaml"/> as <see cref="File"/>.</summary>
    public static CompilationResult Compile(string yaml) => SwarmCompiler.Compile(File, yaml);

    /// <summary>All diagnostics, one per line, for assertion messages.</summary>
    public static string Describe(CompilationResult r) => r.Diagnostics.Count == 0 ? "(no diagnostics)" : string.Join("\n", r.Diagnostics.Select(d => d.ToString()));

    /// <summary>
    /// Converts YAML to JSON the way yaml-language-server sees it (YAML 1.2 core schema): plain null/bool/int/float scalars become
    /// JSON null/booleans/numbers, everything else a string. Built on YamlDotNet's representation model, independent of our reader.
    /// </summary>
    public static JsonNode? YamlToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new System.IO.StringReader(yaml));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    private static readonly Regex Int = new("^[-+]?[0-9]+$", RegexOptions.CultureInvariant);
    private static readonly Regex Float = new(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant);

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(kv => new System.Collections.Generic.KeyValuePair<string, JsonNode?>(((YamlScalarNode)kv.Key).Value ?? "", Convert(kv.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(Convert).ToArray()),
        YamlScalarNode sc => Scalar(sc),
        _ => throw new System.NotSupportedException(node.GetType().Name),
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var v = s.Value ?? "";
        if (s.Style != ScalarStyle.Plain) return JsonValue.Create(v);
        if (v is "" or "~" or "null" or "Null" or "NULL") return null;
        if (v is "true" or "True" or "TRUE") return JsonValue.Create(true);
        if (v is "false" or "False" or "FALSE") return JsonValue.Create(false);
        if (Int.IsMatch(v) && decimal.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return JsonValue.Create(i);
        if (Float.IsMatch(v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f)) return JsonValue.Create(f);
        return JsonValue.Create(v);
    }
}
