using System;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Semantics;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// A question about one service on the synthetic <c>huge</c> topology (100 nodes, 1,000 services, 10,000 tasks), each part
/// against a baseline in the same run. <b>lower</b>: lowering the topology with a node per processor at a time (what the
/// command line does), and the slice a question about a node lowers, against the whole topology one node at a time. <b>question</b>: who reaches <c>svc-0001</c> (the 721 pairs toward it, one
/// worker), its namespaces' netfilter chains compiled when a packet first enters them, against compiling every chain of a
/// namespace's tables when the namespace is first touched (what the simulator did before). <b>answer</b>: the question
/// from the analysed topology to its rows, lowering only the question's slice (<see cref="ReachAnalysis.Slice"/>) against
/// lowering the whole topology (session 8), and with every backend of a balanced class probed against one.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ReachQuestionBenchmarks
{
    private CompilationResult _compiled = null!;
    private Topology _topology = null!;
    private DataplanePlan _plan = null!;

    [GlobalSetup]
    public void Setup()
    {
        _compiled = SwarmCompiler.Compile(Inputs.FileName("huge"), Inputs.Yaml("huge"));
        _topology = _compiled.Topology ?? throw new InvalidOperationException("huge does not compile");
        _plan = SwarmCompiler.Lower(_compiled).Plan ?? throw new InvalidOperationException("huge does not lower");
    }

    [GlobalCleanup]
    public void Cleanup() => CompiledTable.CompileEveryChain = false;

    /// <summary>Lowering, a node per processor at a time.</summary>
    [Benchmark, BenchmarkCategory("lower")]
    public object LowerInParallel() => SwarmCompiler.Lower(_compiled, new LoweringOptions { Parallelism = Environment.ProcessorCount }).Plan!;

    /// <summary>
    /// Lowering the slice a question about a node needs (<c>reach --to node-050</c>: every publishing service, for the
    /// routing mesh), a node per processor at a time, as the command line does.
    /// </summary>
    [Benchmark, BenchmarkCategory("lower")]
    public object LowerSliceForANode() =>
        SwarmCompiler.Lower(_compiled, ReachAnalysis.Slice(_topology, null, "node-050"), new LoweringOptions { Parallelism = Environment.ProcessorCount }).Plan!;

    /// <summary>Lowering, one node at a time.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("lower")]
    public object LowerOneNodeAtATime() => SwarmCompiler.Lower(_compiled, new LoweringOptions()).Plan!;

    /// <summary>Who reaches svc-0001: chains compiled as packets enter them.</summary>
    [Benchmark, BenchmarkCategory("question")]
    public int QuestionChainsOnEntry()
    {
        CompiledTable.CompileEveryChain = false;
        return Question();
    }

    /// <summary>Who reaches svc-0001: every chain of a namespace compiled when the namespace is first touched.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("question")]
    public int QuestionEveryChain()
    {
        CompiledTable.CompileEveryChain = true;
        try { return Question(); }
        finally { CompiledTable.CompileEveryChain = false; }
    }

    /// <summary>Who reaches svc-0001, from the analysed topology: the slice lowered, then probed.</summary>
    [Benchmark, BenchmarkCategory("answer")]
    public int AnswerFromSlice() => Answer(ReachAnalysis.Slice(_topology, null, "svc-0001"), everyBackend: false);

    /// <summary>The same with every backend of a balanced class probed.</summary>
    [Benchmark, BenchmarkCategory("answer")]
    public int AnswerFromSliceEveryBackend() => Answer(ReachAnalysis.Slice(_topology, null, "svc-0001"), everyBackend: true);

    /// <summary>The same from the whole topology lowered.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("answer")]
    public int AnswerFromWholePlan() => Answer(_topology, everyBackend: false);

    private int Answer(Topology part, bool everyBackend)
    {
        var plan = SwarmCompiler.Lower(_compiled, part, new LoweringOptions { Parallelism = Environment.ProcessorCount }).Plan!;
        int rows = 0;
        ReachAnalysis.Analyze(part, plan, null, "svc-0001", (_, r) => rows += r.Count, 0, 1, everyBackend);
        return rows;
    }

    private int Question()
    {
        int rows = 0;
        ReachAnalysis.Analyze(_topology, _plan, null, "svc-0001", (_, r) => rows += r.Count, 0, 1);
        return rows;
    }
}
