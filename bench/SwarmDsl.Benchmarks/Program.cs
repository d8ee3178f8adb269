using System;
using System.Collections.Generic;
using System.IO;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

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
        var rest = new List<string>(args);
        if (rest.Remove("--inProcess"))
        {
            // BenchmarkDotNet's own --inProcess has a timeout that stopped LargeTopology ("takes too long to run"): its setup (two simulations of
            // `large`) and the generator's large Cold runs need longer on this machine.
            var job = Job.Default;
            int at = rest.IndexOf("--job");
            if (at >= 0 && at + 1 < rest.Count && rest[at + 1] == "short")
            {
                job = Job.ShortRun;
                rest.RemoveRange(at, 2);
            }
            config = config.AddJob(job.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromMinutes(60), logOutput: true)).WithId(job == Job.ShortRun ? "ShortRun-InProcess" : "InProcess"));
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.ToArray(), config);
    }
}
