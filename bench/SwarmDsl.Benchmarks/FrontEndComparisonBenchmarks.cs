using System;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;
using System.Threading;
using BenchmarkDotNet.Attributes;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// <see cref="SwarmCompiler.Compile"/> of this build against another build of <c>SwarmDsl.Dsl.dll</c> (a baseline, e.g. the
/// commit before a change), in one run, so that the ratio is measured under the same load: set
/// <c>SWARMDSL_BASELINE_DSL</c> to the baseline's <c>SwarmDsl.Dsl.dll</c> (built with <c>dotnet build src/Dsl -c Release</c> in a
/// checkout of that commit). Each build is loaded into its own load context; both share this process's YamlDotNet.
/// </summary>
[MemoryDiagnoser]
public class FrontEndComparisonBenchmarks
{
    /// <summary>The environment variable naming the baseline's <c>SwarmDsl.Dsl.dll</c>.</summary>
    public const string BaselineVariable = "SWARMDSL_BASELINE_DSL";

    private string _file = "";
    private string _yaml = "";
    private Func<string, string, CancellationToken, object> _baseline = null!;
    private Func<string, string, CancellationToken, object> _current = null!;

    /// <summary><c>large</c> or <c>huge</c> (<see cref="Inputs"/>).</summary>
    [Params("large", "huge")]
    public string Topology { get; set; } = "huge";

    [GlobalSetup]
    public void Setup()
    {
        var path = Environment.GetEnvironmentVariable(BaselineVariable);
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            throw new InvalidOperationException($"set {BaselineVariable} to the baseline's SwarmDsl.Dsl.dll");
        _file = Inputs.FileName(Topology);
        _yaml = Inputs.Yaml(Topology);
        _baseline = Load(Path.GetFullPath(path));
        _current = Load(typeof(SwarmCompiler).Assembly.Location);
    }

    // Both through a delegate from a separate load context, so that neither has an advantage of being called directly.
    private static Func<string, string, CancellationToken, object> Load(string path)
    {
        var assembly = new DslLoadContext(path).LoadFromAssemblyPath(path);
        var compile = assembly.GetType("SwarmDsl.SwarmCompiler", throwOnError: true)!
            .GetMethod("Compile", new[] { typeof(string), typeof(string), typeof(CancellationToken) })!;
        return (Func<string, string, CancellationToken, object>)compile.CreateDelegate(typeof(Func<string, string, CancellationToken, object>));
    }

    private sealed class DslLoadContext : AssemblyLoadContext
    {
        private readonly string _path;

        public DslLoadContext(string path) : base("dsl:" + path, isCollectible: false) => _path = path;

        // Only the Dsl assembly itself is this context's; YamlDotNet and the framework come from the default context.
        protected override Assembly? Load(AssemblyName name) => null;

        public override string ToString() => _path;
    }

    [Benchmark(Baseline = true)]
    public object Baseline() => _baseline(_file, _yaml, CancellationToken.None);

    [Benchmark]
    public object Current() => _current(_file, _yaml, CancellationToken.None);
}
