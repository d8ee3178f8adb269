using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Benchmarks;

/// <summary>What one operation of <see cref="PipelineBenchmarks"/> is.</summary>
public enum PipelineScenario
{
    /// <summary>
    /// The example, external → worker:8080/tcp on an established connection to web.1 on the manager: worker host (DNAT),
    /// ingress_sbox (IPVS, SNAT), the ingress overlay, VXLAN to the manager, the task (REDIRECT). One data segment.
    /// </summary>
    EstablishedFlow,

    /// <summary>
    /// The example, a new connection external → worker:8080/tcp: SYN, SYN-ACK and ACK through the same path, with conntrack
    /// entries created, an IPVS destination picked and NAT bound on the way.
    /// </summary>
    NewConnection,

    /// <summary>
    /// The synthetic <c>large</c> topology (50 nodes, 500 services, 5,000 tasks, 1,000 published ports): one data segment of an
    /// established connection entering the least loaded node and served by a task on another node (VXLAN), through chains of
    /// about 2,000 ingress rules and an ingress_sbox with hundreds of IPVS services.
    /// </summary>
    LargeTopology,
}

/// <summary>
/// Packets through the dataplane, tracing off. <see cref="Interpreted"/> walks the plan (src/Runtime). The generated pipeline
/// (the source generator's phase 2) is not on main yet, so there is no <c>Generated</c> method: see docs/performance.md.
/// </summary>
/// <remarks>
/// An invocation sends <see cref="OperationsPerInvoke"/> operations, so the reported time and allocation are per packet
/// (per connection for <see cref="PipelineScenario.NewConnection"/>). New connections fill conntrack and the client's port
/// range, so each iteration starts from a fresh simulation (<see cref="FreshSimulation"/>) and runs a fixed number of
/// invocations that stays below the 28,232 ephemeral ports of one client.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(InvocationsPerIteration)]
public class PipelineBenchmarks
{
    /// <summary>Packets (or connections) per invocation.</summary>
    public const int OperationsPerInvoke = 64;

    /// <summary>Invocations per iteration: 16,384 operations per iteration.</summary>
    public const int InvocationsPerIteration = 256;

    private const int PayloadBytes = 100;

    private Simulation _simulation = null!;
    private DataplanePlan _plan = null!;
    private Flow _flow = null!;
    private ConnectionHandle _connection;

    /// <summary>The scenario.</summary>
    [Params(PipelineScenario.EstablishedFlow, PipelineScenario.NewConnection, PipelineScenario.LargeTopology)]
    public PipelineScenario Scenario { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _plan = Inputs.Plan(Scenario == PipelineScenario.LargeTopology ? "large" : "example");
        if (Scenario == PipelineScenario.NewConnection)
        {
            FreshSimulation();
            var first = _simulation.ConnectUntraced(_flow);
            if (first.Handle is null) throw new InvalidOperationException("the example's connection is not established: " + first);
            FreshSimulation();
            return;
        }
        (_simulation, _flow, _connection) = Scenario == PipelineScenario.LargeTopology ? LargeCrossNodeConnection() : ExampleCrossNodeConnection();
        // The benchmark is only meaningful if the packet takes the whole path: prove it once, traced.
        var trace = _simulation.SendDataTraced(_connection, PayloadBytes);
        if (trace.Disposition.Kind != DispositionKind.Delivered
            || !trace.AllSteps().Any(s => s is VxlanEncapStep)
            || !trace.AllSteps().Any(s => s is IpvsStep { NewConnection: false }))
            throw new InvalidOperationException("the established packet does not cross IPVS and VXLAN to a delivered socket: " + trace.Disposition.Detail);
        for (int i = 0; i < 1000; i++) _simulation.SendData(_connection, PayloadBytes); // tables at their steady size
    }

    /// <summary>A fresh simulation for the new-connection scenario (no-op for the others).</summary>
    [IterationSetup]
    public void FreshSimulation()
    {
        if (Scenario != PipelineScenario.NewConnection) return;
        _simulation = new Simulation(_plan, 3);
        if (!_simulation.TryResolve("external", "worker:8080/tcp", out _flow, out var error)) throw new InvalidOperationException(error);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OperationsPerInvoke)]
    public int Interpreted()
    {
        int delivered = 0;
        if (Scenario == PipelineScenario.NewConnection)
        {
            for (int i = 0; i < OperationsPerInvoke; i++)
                if (_simulation.ConnectUntraced(_flow).Handle is not null) delivered++;
        }
        else
        {
            for (int i = 0; i < OperationsPerInvoke; i++)
                if (_simulation.SendData(_connection, PayloadBytes) == DispositionKind.Delivered) delivered++;
        }
        return delivered;
    }

    // external → worker:8080 landing on web.1 (on the manager): the HotPathTests path.
    private (Simulation, Flow, ConnectionHandle) ExampleCrossNodeConnection()
    {
        var sim = new Simulation(_plan, 3);
        if (!sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error)) throw new InvalidOperationException(error);
        for (int i = 0; i < 16; i++)
        {
            var r = sim.ConnectUntraced(flow);
            if (r.Task == "web.1" && r.Handle is { } h) return (sim, flow, h);
        }
        throw new InvalidOperationException("no connection to web.1 through the worker");
    }

    // The least loaded node's published TCP port of a service whose tasks all run elsewhere.
    private (Simulation, Flow, ConnectionHandle) LargeCrossNodeConnection()
    {
        var sim = new Simulation(_plan, 3);
        var entry = _plan.Hosts.OrderBy(h => h.Namespaces.Count(n => n.Kind == NamespaceKind.Task)).ThenBy(h => h.Node, StringComparer.Ordinal).First();
        var taskNodes = _plan.Hosts.SelectMany(h => h.Namespaces.Where(n => n.Kind == NamespaceKind.Task).Select(n => (Task: n.Name, h.Node)))
            .ToDictionary(x => x.Task, x => x.Node, StringComparer.Ordinal);
        var ingress = entry.Namespaces.First(n => n.Kind == NamespaceKind.IngressSandbox);
        foreach (var rule in ingress.Tables.First(t => t.Name == "mangle").Chains.First(c => c.Name == "PREROUTING").Rules)
        {
            var port = rule.Matches.OfType<PortMatch>().FirstOrDefault();
            if (port is null || rule.Matches.OfType<ProtocolMatch>().FirstOrDefault()?.Protocol != Net.IpProtocol.Tcp) continue;
            if (!sim.TryResolve("external", entry.Node + ":" + port.From.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/tcp", out var flow, out _)) continue;
            var r = sim.ConnectUntraced(flow);
            if (r.Handle is { } h && r.Task is { } task && taskNodes.TryGetValue(task, out var node) && node != entry.Node) return (sim, flow, h);
        }
        throw new InvalidOperationException("no published TCP port of " + entry.Node + " is served from another node");
    }
}
