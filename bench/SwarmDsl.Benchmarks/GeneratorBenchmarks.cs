extern alias generators;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using BenchmarkDotNet.Attributes;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using SwarmTopologyGenerator = generators::SwarmDsl.Generators.SwarmTopologyGenerator;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// The source generator as the compiler runs it (<see cref="CSharpGeneratorDriver"/>), on a consumer project holding one
/// <c>*.swarm.yaml</c> additional file and a little C#:
/// <see cref="Cold"/> is a build from scratch (a new driver: nothing cached); <see cref="UnrelatedEdit"/> is the IDE case,
/// the driver of a previous run given a compilation where an unrelated C# file changed (every step must be cached).
/// </summary>
/// <remarks>
/// "Cold" means no incremental state, with the JIT warm; docs/performance.md also reports a JIT-cold first run. Server GC,
/// as the compiler runs generators: csc and VBCSCompiler ship with <c>"System.GC.Server": true</c> in their
/// runtimeconfig.json; docs/performance.md also gives workstation-GC figures.
/// </remarks>
[MemoryDiagnoser]
[GcServer(true)]
public class GeneratorBenchmarks
{
    private const string ProjectDir = "/consumer/";
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);
    private const string UnrelatedBefore = "namespace Consumer.App { internal static class Unrelated { internal static int Value => 1; } }";
    private const string UnrelatedAfter = "namespace Consumer.App { internal static class Unrelated { internal static int Value => 2; } }";

    private CSharpCompilation _compilation = null!;
    private CSharpCompilation _edited = null!;
    private AdditionalText[] _yaml = null!;
    private GeneratorDriver _warm = null!;

    /// <summary><c>example</c> (examples/two-node.swarm.yaml) or the synthetic <c>large</c> (50 nodes, 500 services) and <c>huge</c>
    /// (100 nodes, 1,000 services: the goal's 1,000-service topology; a few seconds per run since the compact handles).</summary>
    [Params("example", "large", "huge")]
    public string Topology { get; set; } = "example";

    [GlobalSetup]
    public void Setup()
    {
        _yaml = new AdditionalText[] { new InMemoryAdditionalText(ProjectDir + Inputs.FileName(Topology), Inputs.Yaml(Topology)) };
        _compilation = CSharpCompilation.Create("Consumer",
            new[] { CSharpSyntaxTree.ParseText(UnrelatedBefore, ParseOptions, ProjectDir + "Unrelated.cs", Encoding.UTF8) },
            Net100.References.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var old = _compilation.SyntaxTrees.Single();
        _edited = _compilation.ReplaceSyntaxTree(old, old.WithChangedText(SourceText.From(UnrelatedAfter, Encoding.UTF8)));

        // The run must succeed and produce the topology's class, or the numbers mean nothing.
        _warm = NewDriver().RunGenerators(_compilation);
        var result = _warm.GetRunResult();
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0) throw new InvalidOperationException("the generator failed on " + Topology + ": " + string.Join("; ", errors.Take(3)));
        if (!result.Results.Single().GeneratedSources.Any(s => s.HintName.EndsWith(".swarm.g.cs", StringComparison.Ordinal)))
            throw new InvalidOperationException("the generator produced no topology class for " + Topology);
        Console.WriteLine("// " + Topology + ": the generator writes " + result.Results.Single().GeneratedSources.Sum(s => (long)s.SourceText.Length) + " characters of C#");
        // An unrelated edit must not regenerate anything.
        var again = _warm.RunGenerators(_edited).GetRunResult().Results.Single();
        var redone = again.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Where(o => o.Reason != IncrementalStepRunReason.Cached).ToList();
        if (redone.Count > 0) throw new InvalidOperationException("an unrelated edit re-ran " + redone.Count + " output step(s)");
    }

    private GeneratorDriver NewDriver() => CSharpGeneratorDriver.Create(
        new[] { new SwarmTopologyGenerator().AsSourceGenerator() }, _yaml, ParseOptions, new ConsumerOptions("Consumer.App"),
        new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    [Benchmark(Baseline = true)]
    public GeneratorDriver Cold() => NewDriver().RunGenerators(_compilation);

    [Benchmark]
    public GeneratorDriver UnrelatedEdit() => _warm.RunGenerators(_edited);

    private sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text, Encoding.UTF8);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    // build_property.RootNamespace, as MSBuild passes it; nothing per file.
    private sealed class ConsumerOptions(string rootNamespace) : AnalyzerConfigOptionsProvider
    {
        private static readonly AnalyzerConfigOptions None = new Options(ImmutableDictionary<string, string>.Empty);

        public override AnalyzerConfigOptions GlobalOptions { get; } =
            new Options(ImmutableDictionary<string, string>.Empty.Add("build_property.RootNamespace", rootNamespace));

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => None;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => None;

        private sealed class Options(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, out string value)
            {
                if (values.TryGetValue(key, out var v)) { value = v; return true; }
                value = null!;
                return false;
            }
        }
    }
}
