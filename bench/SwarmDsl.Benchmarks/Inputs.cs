using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Benchmarks;

/// <summary>The topologies the benchmarks run on: the repository's example and the synthetic presets (generated once per process).</summary>
public static class Inputs
{
    private static readonly ConcurrentDictionary<string, string> Texts = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, DataplanePlan> Plans = new(StringComparer.Ordinal);

    /// <summary>The repository root (the folder holding SwarmDsl.sln), found from wherever BenchmarkDotNet runs us.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The file name a topology is compiled under.</summary>
    public static string FileName(string topology) => topology == "example" ? "two-node.swarm.yaml" : topology + ".swarm.yaml";

    /// <summary>The YAML of <c>example</c> (examples/two-node.swarm.yaml) or of a synthetic preset (small, large, huge).</summary>
    public static string Yaml(string topology) => Texts.GetOrAdd(topology, t => t == "example"
        ? File.ReadAllText(Path.Combine(Root, "examples", "two-node.swarm.yaml"))
        : SyntheticTopology.Generate(SyntheticTopologyOptions.Preset(t) ?? throw new ArgumentException("unknown topology " + t, nameof(topology))));

    /// <summary>The dataplane plan of a topology (IPVS backend, as Docker).</summary>
    public static DataplanePlan Plan(string topology) => Plans.GetOrAdd(topology, t =>
    {
        var r = SwarmCompiler.CompileToPlan(FileName(t), Yaml(t));
        return r.Plan ?? throw new InvalidOperationException(t + " does not compile: " + string.Join("; ", r.Diagnostics.Take(5)));
    });

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SwarmDsl.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find SwarmDsl.sln above " + AppContext.BaseDirectory);
    }
}
