using System;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;

namespace SwarmDsl.Benchmarks;

/// <summary>
/// The first connection through a node that runs many tasks: external → a:8080/tcp on a fresh simulation of one node with
/// one ingress service of 2,500 tasks (the baseline) and of 10,000. The first ARP floods the ingress overlay's bridge, so
/// every task's namespace is built, and each links its veth to its peer in the overlay namespace, which holds a leg per
/// task: the ratio says how that grows (4 is linear; it was quadratic while linking scanned the peer namespace's devices,
/// docs/performance.md, session 16).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1, 1)]
public class DenseNodeBenchmarks
{
    private DataplanePlan _small = null!, _large = null!;

    private static DataplanePlan Plan(int tasks)
    {
        var yaml = string.Format(CultureInfo.InvariantCulture, """
            version: 1
            name: dense
            nodes: {{ a: {{ address: 192.168.0.1/24 }} }}
            networks:
              ingress: {{ driver: overlay, ingress: true, subnet: 10.0.0.0/8 }}
              docker_gwbridge: {{ driver: bridge, subnet: 172.16.0.0/12 }}
            services:
              web: {{ networks: [ingress], replicas: {0}, ports: [{{ published: 8080, target: 80 }}] }}
            """, tasks);
        return SwarmCompiler.Lower(SwarmCompiler.Compile("dense.swarm.yaml", yaml)).Plan ?? throw new InvalidOperationException("dense does not lower");
    }

    [GlobalSetup]
    public void Setup()
    {
        _small = Plan(2_500);
        _large = Plan(10_000);
    }

    private static bool FirstConnection(DataplanePlan plan)
    {
        var sim = new Simulation(plan, 0);
        if (!sim.TryResolve("external", "a:8080/tcp", out var flow, out var error)) throw new InvalidOperationException(error);
        // Delivered to a task of web: the whole path was walked, not refused early.
        return sim.ConnectUntraced(flow).Task is not null ? true : throw new InvalidOperationException("the connection reached no task");
    }

    /// <summary>2,500 tasks on the node.</summary>
    [Benchmark(Baseline = true)]
    public bool Tasks2500() => FirstConnection(_small);

    /// <summary>10,000 tasks on the node.</summary>
    [Benchmark]
    public bool Tasks10000() => FirstConnection(_large);
}
