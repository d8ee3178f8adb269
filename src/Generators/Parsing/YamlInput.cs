using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Model;

namespace SwarmDsl.Generators.Parsing;

/// <summary>Reads a <c>*.swarm.yaml</c> additional file and the MSBuild settings that name its class.</summary>
internal static class YamlInput
{
    /// <summary>MSBuild property: the project's root namespace (declared compiler-visible by build/SwarmDsl.Generators.props).</summary>
    public const string RootNamespaceProperty = "build_property.RootNamespace";

    /// <summary>AdditionalFiles metadata that overrides the class name.</summary>
    public const string ClassNameMetadata = "build_metadata.AdditionalFiles.SwarmDslClassName";

    /// <summary>AdditionalFiles metadata that overrides the namespace.</summary>
    public const string NamespaceMetadata = "build_metadata.AdditionalFiles.SwarmDslNamespace";

    /// <summary>AdditionalFiles metadata: the nodes whose tables the compiled pipeline covers (';' or ',' separated).</summary>
    public const string PipelineNodesMetadata = "build_metadata.AdditionalFiles.SwarmDslPipelineNodes";

    /// <summary>Whether <paramref name="path"/> names a topology file.</summary>
    public static bool IsTopologyFile(string path) => Identifiers.IsTopologyFile(path);

    /// <summary>The file's text and target class. The text is read through <see cref="AdditionalText.GetText"/> only (never from disk).</summary>
    public static YamlSource Read(AdditionalText file, AnalyzerConfigOptionsProvider options, CancellationToken cancellationToken)
    {
        string? text;
        try
        {
            text = file.GetText(cancellationToken)?.ToString();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Unreadable: the compile step reports it at the file.
            text = null;
        }
        var fileOptions = options.GetOptions(file);
        var problems = new List<DiagnosticInfo>();
        void Problem(string message) => problems.Add(new DiagnosticInfo(SwarmDiagnosticDescriptors.InvalidSetting.Id, SwarmDsl.Diagnostics.Severity.Warning,
            "'" + Identifiers.FileName(file.Path) + "': " + message, new LocationInfo(file.Path, default, default)));
        var root = Get(options.GlobalOptions, RootNamespaceProperty);
        // The SDK's RootNamespace is the project name (my-app), which need not be a namespace: made one as the templates do.
        if (root is not null && !Identifiers.IsNamespace(root)) root = Identifiers.NamespaceFromRoot(root);
        string ns = root ?? "";
        if (Get(fileOptions, NamespaceMetadata) is { } asked)
        {
            if (Identifiers.IsNamespace(asked)) ns = asked;
            else Problem($"SwarmDslNamespace '{asked}' is not a C# namespace: the class goes in {(ns.Length == 0 ? "the global namespace" : "'" + ns + "'")}");
        }
        var cls = Get(fileOptions, ClassNameMetadata);
        if (cls is not null)
        {
            // A keyword is a name too, written @class (as the user may have written it already).
            var bare = cls.StartsWith("@", StringComparison.Ordinal) ? cls.Substring(1) : cls;
            if (SyntaxFacts.IsValidIdentifier(bare)) cls = Identifiers.Escaped(bare);
            else
            {
                var derived = Identifiers.ClassNameFromPath(file.Path);
                Problem($"SwarmDslClassName '{cls}' is not a C# identifier: the class is named '{derived}'");
                cls = null;
            }
        }
        cls ??= Identifiers.ClassNameFromPath(file.Path);
        var target = new TargetType(ns, EquatableArray.Create(new TypeDeclaration("class", cls)), IsGeneratedType: true);
        var nodes = (Get(fileOptions, PipelineNodesMetadata) ?? "").Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries);
        var pipelineNodes = string.Join(";", nodes.Select(n => n.Trim()).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal));
        return new YamlSource(file.Path, text, target, pipelineNodes, problems.ToEquatableArray());
    }

    private static string? Get(AnalyzerConfigOptions options, string key)
        => options.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
}
