using System.Linq;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Semantics;

namespace SwarmDsl.Cli;

/// <summary>The <c>--from</c>/<c>--to</c> of <c>trace</c>, <c>graph</c> and <c>show</c>, resolved over the plan.</summary>
internal static class FlowEndpoints
{
    /// <summary>
    /// The flow from <paramref name="from"/> to <paramref name="to"/>, or a usage error (exit 2) that says why, written with
    /// <paramref name="fromOption"/> and <paramref name="toOption"/> as the options' names.
    /// </summary>
    public static Flow Resolve(Simulation sim, Topology topology, string from, string to, string fromOption = "--from", string toOption = "--to")
    {
        if (sim.TryResolve(from, to, new EndpointNames(fromOption, toOption), out var flow, out var error)) return flow;
        throw new CliUsageException(Unplanned(sim, topology, fromOption, from) ?? Unplanned(sim, topology, toOption, to) ?? error);
    }

    // A declared service without tasks has nothing on any node (Docker makes its balancers, VIP aliases and name record with
    // its first task), so the plan, and the simulator reading it, do not know its name: say that rather than "not declared".
    private static string? Unplanned(Simulation sim, Topology topology, string option, string text)
    {
        var head = text.Trim();
        int cut = head.IndexOfAny(new[] { ':', '/' });
        if (cut >= 0) head = head.Substring(0, cut);
        if (sim.ResolveName(head) is not null || !topology.Services.Any(s => s.Name == head) || topology.HasTasks(head)) return null;
        return $"{option} {text}: service '{head}' has no task (replicas 0, or no node it may run on), so no node has its balancer, VIP or name record (Docker makes them with its first task): nothing sends from it or answers it";
    }
}
