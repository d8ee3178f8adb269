using System;
using BenchmarkDotNet.Attributes;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// The compiler's own costs, stage by stage: <see cref="Compile"/> (YAML → syntax → declaration → analyzed topology),
/// <see cref="Lower"/> (topology → dataplane plan), <see cref="Emit"/> (plan → provisioning files), and all three.
/// </summary>
[MemoryDiagnoser]
public class FrontEndBenchmarks
{
    private string _file = "";
    private string _yaml = "";
    private CompilationResult _compiled = null!;
    private DataplanePlan _plan = null!;

    /// <summary>
    /// <c>example</c> (examples/two-node.swarm.yaml), <c>large</c> (50 nodes, 500 services, 5,000 tasks) or <c>huge</c> (100 nodes,
    /// 1,000 services, 10,000 tasks: the topology of the reach goal).
    /// </summary>
    [Params("example", "large", "huge")]
    public string Topology { get; set; } = "example";

    [GlobalSetup]
    public void Setup()
    {
        _file = Inputs.FileName(Topology);
        _yaml = Inputs.Yaml(Topology);
        _compiled = SwarmCompiler.Compile(_file, _yaml);
        _plan = SwarmCompiler.Lower(_compiled).Plan ?? throw new InvalidOperationException(Topology + " does not lower");
    }

    // Results are returned as object: BenchmarkDotNet's generated code names the return type, and the Dsl types also exist
    // (compiled in) in the generator assembly this project references.

    [Benchmark]
    public object Compile() => SwarmCompiler.Compile(_file, _yaml);

    [Benchmark]
    public object Lower() => SwarmCompiler.Lower(_compiled);

    [Benchmark]
    public object Emit() => ProvisioningEmitter.Emit(_plan);

    [Benchmark(Baseline = true)]
    public object All()
        => ProvisioningEmitter.Emit(SwarmCompiler.CompileToPlan(_file, _yaml).Plan ?? throw new InvalidOperationException("no plan"));
}
