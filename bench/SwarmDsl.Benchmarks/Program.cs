using System;
using System.IO;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// BenchmarkDotNet entry point: <c>dotnet run -c Release --project bench/SwarmDsl.Benchmarks -- --filter '*' --job short</c>
/// (add <c>--inProcess</c> to skip building a separate benchmark process). Results go to
/// <c>bench/SwarmDsl.Benchmarks/BenchmarkDotNet.Artifacts</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            // Building the benchmark process compiles Dsl, Runtime and the generator: minutes on a busy machine.
            .WithBuildTimeout(TimeSpan.FromMinutes(20))
            .WithArtifactsPath(Path.Combine(Inputs.Root, "bench", "SwarmDsl.Benchmarks", "BenchmarkDotNet.Artifacts"));
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
    }
}
