using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using SwarmDsl.Diagnostics;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Insight;

/// <summary>
/// Evaluates a topology's <c>expect:</c> entries by simulating connections over its dataplane plan. Shared by
/// <c>swarmdsl check</c> and the source generator, so it uses only netstandard2.0 APIs.
/// </summary>
public static class ExpectationEvaluator
{
    /// <summary>The most connections one expectation simulates (a scheduler cycle is normally far shorter).</summary>
    public const int MaxConnections = 256;

    /// <summary>
    /// Simulates every expectation from the plan's initial state (seed <paramref name="seed"/>) and returns one SWARM0020 error,
    /// located at the <c>expect:</c> entry, per expectation that does not hold (SWARM0031 at its <c>from:</c> or <c>to:</c>
    /// when that names nothing the plan can send from or to), after a SWARM0043 warning per declared sysctl
    /// the simulation does not model. <paramref name="cancellationToken"/> is
    /// checked before every expectation (the source generator cancels when the compilation changes).
    /// </summary>
    public static IReadOnlyList<Diagnostic> Evaluate(Topology topology, DataplanePlan plan, uint seed = 0, CancellationToken cancellationToken = default)
        => Evaluate(topology, plan, seed, cancellationToken, static span => span.ToShortString());

    /// <summary>
    /// <see cref="Evaluate(Topology, DataplanePlan, uint, CancellationToken)"/>, with the declarations that messages name
    /// (the rule that dropped a connection) written by <paramref name="declaration"/> (see <see cref="TraceExplanation.Explain(PacketTrace, Func{SourceSpan, string})"/>).
    /// </summary>
    public static IReadOnlyList<Diagnostic> Evaluate(Topology topology, DataplanePlan plan, uint seed, CancellationToken cancellationToken,
        Func<SourceSpan, string> declaration)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        if (declaration is null) throw new ArgumentNullException(nameof(declaration));
        var result = new List<Diagnostic>();
        // A sysctl the walk does not read cannot make an expectation hold or fail: say so where it is declared, rather than
        // let an expectation about it fail (or hold) for a reason the topology does not show.
        if (topology.Expectations.Count > 0)
            foreach (var s in topology.Sysctls)
                if (Cluster.MayChangeAWalk(s.Key))
                    result.Add(Diagnostic.Create(DiagnosticDescriptors.SysctlNotSimulated, s.Span,
                        "sysctl " + s.Key + " = " + s.Value + " is provisioned by emit, but the packet simulation does not model it: expectations are evaluated as if it were unset"));
        var taskService = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks) taskService[t.Name] = t.Service;
        var withTasks = topology.ServicesWithTasks();
        // Loading the plan (devices, routes, compiled chains) costs far more than an expectation's connections: load it
        // once and reset the kernel state between expectations, which is exactly a fresh simulation.
        Simulation? sim = null;
        foreach (var x in topology.Expectations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A service without tasks has no balancer, VIP alias or name record on any node (Docker makes them with its first
            // task): nothing answers it, so "blocked" holds and "reaches" fails, without a packet.
            if (x.To.Kind == TrafficEndpointKind.Service && !withTasks.Contains(x.To.Name!))
            {
                if (!x.Blocked)
                    result.Add(Diagnostic.Create(DiagnosticDescriptors.ExpectationFailed, x.Span, Describe(x) + ": service " + x.To.Name
                        + " has no task (replicas 0, or no node it may run on), so no node balances its VIP or answers its name (Docker makes them with its first task)"));
                continue;
            }
            if (sim is null) sim = new Simulation(plan, seed);
            else sim.ResetTraffic();
            // An endpoint the plan has no namespace or address for is a mistake in the entry, not a verdict about the network:
            // reported where it is written, whatever the entry expects (a "blocked" entry held of it vacuously).
            if (!sim.TryResolve(x.From, x.To, EndpointNames.Keys, out var flow, out var error, out bool sourceFailed))
            {
                var at = sourceFailed ? x.FromSpan : x.ToSpan;
                result.Add(Diagnostic.Create(DiagnosticDescriptors.InvalidExpectation, at.IsKnown ? at : x.Span, (sourceFailed ? "from: " : "to: ") + error));
                continue;
            }
            var why = Check(sim, topology, x, flow, taskService, declaration);
            if (why is not null) result.Add(Diagnostic.Create(DiagnosticDescriptors.ExpectationFailed, x.Span, Describe(x) + ": " + why));
        }
        return result;
    }

    private static string Describe(ExpectModel x) =>
        "expected " + x.From.Text + " → " + x.To.Text + (x.Blocked ? " to be blocked" : " to reach " + x.Reaches);

    /// <summary>Null when the expectation holds, else why not, in one line.</summary>
    private static string? Check(Simulation sim, Topology topology, ExpectModel x, Flow flow, Dictionary<string, string> taskService,
        Func<SourceSpan, string> declaration)
    {
        string Explain(PacketTrace trace) => TraceExplanation.Explain(trace, declaration);
        int count = Connections(topology, x);
        var traces = sim.Connect(flow, count);
        foreach (var t in traces)
        {
            var d = t.Request.Disposition;
            string which = "connection " + t.Number.ToString(CultureInfo.InvariantCulture) + " of " + t.Count.ToString(CultureInfo.InvariantCulture);
            if (x.Blocked)
            {
                if (d.Kind == DispositionKind.Delivered) return which + " was " + Explain(t.Request);
                continue;
            }
            if (d.Kind != DispositionKind.Delivered) return which + " was " + Explain(t.Request);
            if (!taskService.TryGetValue(d.Owner, out var service) || !string.Equals(service, x.Reaches, StringComparison.Ordinal))
                return which + " was " + Explain(t.Request) + ", not to a task of " + x.Reaches;
            if (t.Reply is null) return which + " reached " + d.Owner + " but nothing answered";
            if (t.Reply.Disposition.Kind != DispositionKind.Delivered)
                return which + " reached " + d.Owner + " but the reply was " + Explain(t.Reply);
        }
        return null;
    }

    /// <summary>
    /// Enough connections to make every load balancer on the path pick every destination: one full weighted
    /// scheduler cycle of the largest service involved (the expected one, the addressed one, or one publishing the port).
    /// </summary>
    private static int Connections(Topology topology, ExpectModel x)
    {
        var weights = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks)
        {
            weights.TryGetValue(t.Service, out var w);
            weights[t.Service] = w + Math.Max(1, t.Weight);
        }
        int count = 1;
        void Take(string? service)
        {
            if (service is not null && weights.TryGetValue(service, out var w)) count = Math.Max(count, w);
        }
        Take(x.Reaches);
        if (x.To.Kind == TrafficEndpointKind.Service) Take(x.To.Name);
        if (x.To.Port is int port)
            foreach (var s in topology.Services)
                foreach (var p in s.Ports)
                    if (p.Published == port && p.Protocol == x.To.Protocol) Take(s.Name);
        return Math.Min(MaxConnections, count);
    }
}
