using System;
using System.IO;
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
/// Packets through the dataplane, tracing off. <see cref="Interpreted"/> walks the plan (src/Runtime); <see cref="Generated"/>
/// walks the same plan with the compiled pipeline the source generator wrote into this project from the YAML files
/// (<c>TwoNode</c>, <c>Large</c>: every netfilter chain compiled to C#, attached with <c>CreateSimulation(plan)</c>). Both
/// run the same packets from the same seed; <see cref="Setup"/> proves their traces identical first.
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
    private Simulation _generated = null!;
    private DataplanePlan _plan = null!;
    private Flow _flow = null!;
    private ConnectionHandle _connection;
    private ConnectionHandle _generatedConnection;

    /// <summary>The scenario.</summary>
    [Params(PipelineScenario.EstablishedFlow, PipelineScenario.NewConnection, PipelineScenario.LargeTopology)]
    public PipelineScenario Scenario { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _plan = Inputs.Plan(Scenario == PipelineScenario.LargeTopology ? "large" : "example");
        if (Scenario == PipelineScenario.LargeTopology && File.ReadAllText(Path.Combine(Inputs.Root, "bench", "SwarmDsl.Benchmarks", "Topologies", "large.swarm.yaml")) != Inputs.Yaml("large"))
            throw new InvalidOperationException("Topologies/large.swarm.yaml is not what `swarmdsl synth --preset large` writes: regenerate it");
        if (Scenario == PipelineScenario.NewConnection)
        {
            FreshSimulation();
            var first = _simulation.ConnectUntraced(_flow);
            var second = _generated.ConnectUntraced(_flow);
            if (first.Handle is null) throw new InvalidOperationException("the example's connection is not established: " + first);
            var a = TextTraceRenderer.Render(new Simulation(_plan, 3).Connect(_flow, 3), "setup", includeReplies: true);
            var b = TextTraceRenderer.Render(Compiled(_plan, 3).Connect(_flow, 3), "setup", includeReplies: true);
            if (first.Task != second.Task || a != b) throw new InvalidOperationException("the generated pipeline opens connections differently:\n" + a + "\n---\n" + b);
            FreshSimulation();
            return;
        }
        bool large = Scenario == PipelineScenario.LargeTopology;
        (_simulation, _flow, _connection) = large ? LargeCrossNodeConnection(s => new Simulation(s, 3)) : ExampleCrossNodeConnection(p => new Simulation(p, 3));
        (_generated, _, _generatedConnection) = large ? LargeCrossNodeConnection(p => Compiled(p, 3)) : ExampleCrossNodeConnection(p => Compiled(p, 3));
        // The benchmark is only meaningful if the packet takes the whole path, the same way in both: prove it once, traced.
        var trace = _simulation.SendDataTraced(_connection, PayloadBytes);
        RequireCompiled(trace);
        var generated = _generated.SendDataTraced(_generatedConnection, PayloadBytes);
        if (trace.Disposition.Kind != DispositionKind.Delivered
            || !trace.AllSteps().Any(s => s is VxlanEncapStep)
            || !trace.AllSteps().Any(s => s is IpvsStep { NewConnection: false }))
            throw new InvalidOperationException("the established packet does not cross IPVS and VXLAN to a delivered socket: " + trace.Disposition.Detail);
        if (TextTraceRenderer.Render(trace) != TextTraceRenderer.Render(generated))
            throw new InvalidOperationException("the generated pipeline walks the packet differently:\n" + TextTraceRenderer.Render(trace) + "\n---\n" + TextTraceRenderer.Render(generated));
        // Steady state, tables and JIT: loading a plan calls thousands of methods often enough to queue them for tier-1
        // compilation, and the packet path's methods wait behind them; the out-of-process short job measured `Generated`
        // on `large` falling from 8.5 to 2.1 µs across its three iterations. So walk both for a few seconds first (with
        // the server's ACK now and then, which keeps the learned FDB entries from ageing out, see IterationSetup).
        var warm = System.Diagnostics.Stopwatch.StartNew();
        while (warm.Elapsed < TimeSpan.FromSeconds(WarmSeconds))
        {
            for (int i = 0; i < 4096; i++)
            {
                _simulation.SendData(_connection, PayloadBytes);
                _generated.SendData(_generatedConnection, PayloadBytes);
            }
            if (_simulation.SendAck(_connection) != DispositionKind.Delivered || _generated.SendAck(_generatedConnection) != DispositionKind.Delivered)
                throw new InvalidOperationException("the server's ACK was not delivered while warming up");
        }
    }

    /// <summary>How long GlobalSetup walks established packets before BenchmarkDotNet measures.</summary>
    private const double WarmSeconds = 4;

    /// <summary>
    /// Every netfilter table and route table of every namespace the packet crosses is served by the generated code (not the
    /// interpreter or the route trie).
    /// </summary>
    private void RequireCompiled(PacketTrace trace)
    {
        var compiled =
#if SWARMDSL_BENCH_LARGE
            Scenario == PipelineScenario.LargeTopology ? (SwarmDsl.Runtime.Netfilter.ICompiledNetfilter)new Large.CompiledNetfilter() :
#endif
            new TwoNode.CompiledNetfilter();
        var forwarding =
#if SWARMDSL_BENCH_LARGE
            Scenario == PipelineScenario.LargeTopology ? (SwarmDsl.Runtime.Engine.ICompiledForwarding)new Large.CompiledForwarding() :
#endif
            new TwoNode.CompiledForwarding();
        const string Why = ": the packet crosses nodes that SwarmDslPipelineNodes (SwarmDsl.Benchmarks.csproj) leaves out";
        foreach (var hop in trace.Hops)
        {
            var ns = _plan.Hosts.FirstOrDefault(h => h.Node == hop.Node)?.Namespaces.FirstOrDefault(n => n.Name == hop.Namespace);
            if (ns is null) continue; // external client
            foreach (var table in ns.Tables)
                if (compiled.Table(hop.Node, hop.Namespace, table.Name) is null)
                    throw new InvalidOperationException(hop.Node + "/" + hop.Namespace + " " + table.Name + " is not compiled" + Why);
            if (ns.Routes.Count > 0 && forwarding.Routes(hop.Node, hop.Namespace) is null)
                throw new InvalidOperationException(hop.Node + "/" + hop.Namespace + "'s routes are not compiled" + Why);
        }
    }

    /// <summary>The plan with the generated pipeline attached (the fingerprint check proves it is the plan it was generated from).</summary>
    private Simulation Compiled(DataplanePlan plan, uint seed)
#if SWARMDSL_BENCH_LARGE
        => Scenario == PipelineScenario.LargeTopology ? Large.CreateSimulation(plan, seed) : TwoNode.CreateSimulation(plan, seed);
#else
        => Scenario == PipelineScenario.LargeTopology
            ? throw new InvalidOperationException("LargeTopology's generated pipeline is built in Release only (dotnet run -c Release ...): see the project file")
            : TwoNode.CreateSimulation(plan, seed);
#endif

    /// <summary>
    /// Fresh simulations for the new-connection scenario. For the established ones, the server's ACK: each packet takes a
    /// simulated millisecond, and without traffic back the bridges' learned FDB entries would age out after 300 s (18
    /// iterations) and every later packet would be flooded, which is not an established TCP flow (its ACKs keep them fresh).
    /// </summary>
    [IterationSetup]
    public void FreshSimulation()
    {
        if (Scenario != PipelineScenario.NewConnection)
        {
            if (_simulation is null) return;
            if (_simulation.SendAck(_connection) != DispositionKind.Delivered || _generated.SendAck(_generatedConnection) != DispositionKind.Delivered)
                throw new InvalidOperationException("the server's ACK does not reach the client");
            return;
        }
        _simulation = new Simulation(_plan, 3);
        _generated = Compiled(_plan, 3);
        if (!_simulation.TryResolve("external", "worker:8080/tcp", out _flow, out var error)) throw new InvalidOperationException(error);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OperationsPerInvoke)]
    public int Interpreted() => Run(_simulation, _connection);

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public int Generated() => Run(_generated, _generatedConnection);

    private int Run(Simulation simulation, ConnectionHandle connection)
    {
        int delivered = 0;
        if (Scenario == PipelineScenario.NewConnection)
        {
            for (int i = 0; i < OperationsPerInvoke; i++)
                if (simulation.ConnectUntraced(_flow).Handle is not null) delivered++;
        }
        else
        {
            for (int i = 0; i < OperationsPerInvoke; i++)
                if (simulation.SendData(connection, PayloadBytes) == DispositionKind.Delivered) delivered++;
        }
        return delivered;
    }

    // external → worker:8080 landing on web.1 (on the manager): the HotPathTests path.
    private (Simulation, Flow, ConnectionHandle) ExampleCrossNodeConnection(Func<DataplanePlan, Simulation> load)
    {
        var sim = load(_plan);
        if (!sim.TryResolve("external", "worker:8080/tcp", out var flow, out var error)) throw new InvalidOperationException(error);
        for (int i = 0; i < 16; i++)
        {
            var r = sim.ConnectUntraced(flow);
            if (r.Task == "web.1" && r.Handle is { } h) return (sim, flow, h);
        }
        throw new InvalidOperationException("no connection to web.1 through the worker");
    }

    // The least loaded node's published TCP port of a service whose tasks all run elsewhere.
    private (Simulation, Flow, ConnectionHandle) LargeCrossNodeConnection(Func<DataplanePlan, Simulation> load)
    {
        var sim = load(_plan);
        var entry = _plan.Hosts.OrderBy(h => h.Namespaces.Count(n => n.Kind == SwarmDsl.Plan.NamespaceKind.Task)).ThenBy(h => h.Node, StringComparer.Ordinal).First();
        var taskNodes = _plan.Hosts.SelectMany(h => h.Namespaces.Where(n => n.Kind == SwarmDsl.Plan.NamespaceKind.Task).Select(n => (Task: n.Name, h.Node)))
            .ToDictionary(x => x.Task, x => x.Node, StringComparer.Ordinal);
        var ingress = entry.Namespaces.First(n => n.Kind == SwarmDsl.Plan.NamespaceKind.IngressSandbox);
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
