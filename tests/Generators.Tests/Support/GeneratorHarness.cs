using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using SwarmDsl.Tests;

namespace SwarmDsl.Generators.Tests.Support;

/// <summary>An additional file held in memory.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    private readonly SourceText _text = SourceText.From(text, Encoding.UTF8);

    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>MSBuild-like options: global properties and per-file metadata.</summary>
public sealed class TestOptionsProvider : AnalyzerConfigOptionsProvider
{
    private readonly Dictionary<string, Dictionary<string, string>> _perFile = new(StringComparer.Ordinal);

    public TestOptionsProvider(IDictionary<string, string>? global = null) => GlobalOptions = new Options(global ?? new Dictionary<string, string>());

    public override AnalyzerConfigOptions GlobalOptions { get; }

    public TestOptionsProvider WithFile(string path, IDictionary<string, string> metadata)
    {
        _perFile[path] = new Dictionary<string, string>(metadata);
        return this;
    }

    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options(new Dictionary<string, string>());

    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
        => new Options(_perFile.TryGetValue(textFile.Path, out var d) ? d : new Dictionary<string, string>());

    private sealed class Options(IDictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value)
        {
            if (values.TryGetValue(key, out var v)) { value = v; return true; }
            value = null!;
            return false;
        }
    }
}

/// <summary>Builds consumer compilations and runs the generator on them, with step tracking on.</summary>
public static class GeneratorHarness
{
    /// <summary>Where test inputs pretend to live (only file names reach generated code).</summary>
    public const string ProjectDir = "/consumer/";

    /// <summary>The consumer's root namespace.</summary>
    public const string RootNamespace = "Consumer.App";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() => Net100.References.All.Cast<MetadataReference>().ToImmutableArray());

    /// <summary>A library compilation of <paramref name="sources"/> with nullable on.</summary>
    public static CSharpCompilation Compilation(IEnumerable<(string Path, string Text)> sources, CSharpParseOptions? parseOptions = null)
        => CSharpCompilation.Create("Consumer",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, parseOptions ?? ParseOptions, ProjectDir + s.Path, Encoding.UTF8)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                deterministic: true));

    public static CSharpCompilation Compilation(params (string Path, string Text)[] sources) => Compilation(sources.AsEnumerable());

    /// <summary>
    /// The folder holding the built SwarmDsl.Runtime (net10.0) and its SwarmDsl.Dsl: the project builds it first
    /// (ProjectReference without the assembly: this project already has the Dsl types inside the generator).
    /// </summary>
    public static string RuntimeDirectory { get; } = Path.Combine(Paths.Root, "src", "Runtime", "bin",
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name, "net10.0");

    private static readonly Lazy<ImmutableArray<MetadataReference>> RuntimeReferences = new(() => ImmutableArray.Create<MetadataReference>(
        MetadataReference.CreateFromFile(Path.Combine(RuntimeDirectory, "SwarmDsl.Runtime.dll")),
        MetadataReference.CreateFromFile(Path.Combine(RuntimeDirectory, "SwarmDsl.Dsl.dll"))));

    /// <summary><paramref name="compilation"/> referencing SwarmDsl.Runtime and SwarmDsl.Dsl, as a consumer of the runtime package.</summary>
    public static CSharpCompilation WithRuntime(CSharpCompilation compilation) => compilation.AddReferences(RuntimeReferences.Value);

    public static TestOptionsProvider DefaultOptions() => new(new Dictionary<string, string> { ["build_property.RootNamespace"] = RootNamespace });

    /// <summary>A driver over <paramref name="yaml"/> files (name → text).</summary>
    public static GeneratorDriver Driver(IEnumerable<(string Path, string Text)>? yaml = null, AnalyzerConfigOptionsProvider? options = null,
        CSharpParseOptions? parseOptions = null)
        => CSharpGeneratorDriver.Create(
            new[] { new SwarmTopologyGenerator().AsSourceGenerator() },
            (yaml ?? []).Select(y => (AdditionalText)new InMemoryAdditionalText(ProjectDir + y.Path, y.Text)),
            parseOptions ?? ParseOptions,
            options ?? DefaultOptions(),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>One run: the updated driver, the output compilation, the generator's diagnostics and its run result.</summary>
    public sealed record Run(GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorRunResult Result)
    {
        /// <summary>Generated sources ordered by hint name.</summary>
        public IReadOnlyList<GeneratedSourceResult> Sources => Result.GeneratedSources.OrderBy(s => s.HintName, StringComparer.Ordinal).ToList();

        /// <summary>The generated source with <paramref name="hintName"/>.</summary>
        public string Source(string hintName) => Result.GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

        /// <summary>Compiler diagnostics of the output (generated code included) at warning level or above.</summary>
        public IReadOnlyList<Diagnostic> OutputProblems => Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
    }

    public static Run RunGenerator(Compilation compilation, GeneratorDriver driver)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var result = driver.GetRunResult().Results.Single();
        return new Run(driver, output, diagnostics, result);
    }

    public static Run RunGenerator(IEnumerable<(string Path, string Text)>? yaml, params (string Path, string Text)[] sources)
        => RunGenerator(Compilation(sources), Driver(yaml));

    /// <summary>The example topology and its attribute form, from the repository.</summary>
    public static string ExampleYaml => File.ReadAllText(Paths.Example);

    public static string ExampleAttributes => File.ReadAllText(Path.Combine(Paths.Root, "examples", "TwoNode.App", "TwoNodeDeclared.cs"));

    /// <summary>Diagnostics as one line each: <c>ID severity file(line,col)-(line,col): message</c> (1-based, like MSBuild).</summary>
    public static string Format(IEnumerable<Diagnostic> diagnostics)
        => string.Join("\n", diagnostics
            .Select(d =>
            {
                var span = d.Location.GetLineSpan();
                var file = Path.GetFileName(span.Path);
                var where = d.Location == Location.None ? "(none)"
                    : $"{file}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1})-({span.EndLinePosition.Line + 1},{span.EndLinePosition.Character + 1})";
                return $"{d.Id} {d.Severity} {where}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
            })
            .OrderBy(s => s, StringComparer.Ordinal));

    /// <summary>Replaces the generator version in <c>[GeneratedCode]</c> so snapshots survive version bumps.</summary>
    public static string ScrubVersion(string source)
        => System.Text.RegularExpressions.Regex.Replace(source, "GeneratedCode\\(\"SwarmDsl.Generators\", \"[^\"]*\"\\)", "GeneratedCode(\"SwarmDsl.Generators\", \"VERSION\")");
}
