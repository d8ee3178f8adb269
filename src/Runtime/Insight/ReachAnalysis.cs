using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Insight;

/// <summary>One line of a reach table: a source, a destination, a protocol and a port range with one outcome.</summary>
/// <param name="Source">external, a node or a service.</param>
/// <param name="Destination">A node (its underlay address) or a service (its VIP).</param>
/// <param name="Address">The destination address probed.</param>
/// <param name="Protocol">tcp, udp, sctp or icmp.</param>
/// <param name="FromPort">First destination port (0 for icmp).</param>
/// <param name="ToPort">Last destination port (0 for icmp).</param>
/// <param name="Result">The outcome class: <c>reaches SERVICE</c>, <c>blocked</c>, <c>no reply from SERVICE</c> or <c>delivered to OWNER</c>.</param>
/// <param name="Service">The service reached, when one is.</param>
/// <param name="Cause">For anything but reaching a service: why, with the step and declaration (from a traced probe).</param>
public sealed record ReachRow(string Source, string Destination, Ipv4Address Address, string Protocol, int FromPort, int ToPort, string Result, string? Service, string? Cause);

/// <summary>
/// Which sources reach which services on which protocols and ports, computed over port atoms (<see cref="PortAtoms"/>):
/// one untraced probe per atom, protocol and source–destination pair, adjacent atoms with equal outcomes merged back
/// into ranges, and one traced probe per range that does not reach a service, to say why.
/// </summary>
public static class ReachAnalysis
{
    /// <summary>The protocols probed, in output order.</summary>
    public static readonly IReadOnlyList<IpProtocol> Protocols = new[] { IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp, IpProtocol.Icmp };

    /// <summary>A source and destination to probe, as trace writes them.</summary>
    /// <param name="Source">The source endpoint text.</param>
    /// <param name="Destination">The destination endpoint text (without port).</param>
    public readonly record struct Pair(string Source, string Destination);

    /// <summary>
    /// The pairs probed: external to every node's address, every node to every node's address, every service's task
    /// to every service sharing a network with it (its VIP there).
    /// </summary>
    public static IReadOnlyList<Pair> Pairs(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var pairs = new List<Pair>();
        foreach (var n in topology.Nodes) pairs.Add(new Pair("external", n.Name));
        foreach (var a in topology.Nodes)
            foreach (var b in topology.Nodes) pairs.Add(new Pair(a.Name, b.Name));
        foreach (var s in topology.Services)
            foreach (var d in topology.Services)
                if (ShareNetwork(s, d) && d.EndpointMode == EndpointMode.Vip) pairs.Add(new Pair(s.Name, d.Name));
        return pairs;
    }

    private static bool ShareNetwork(ServiceModel a, ServiceModel b)
    {
        foreach (var x in a.Networks) foreach (var y in b.Networks) if (x == y) return true;
        return false;
    }

    /// <summary>Computes the reach table of a topology over its plan.</summary>
    public static IReadOnlyList<ReachRow> Analyze(Topology topology, DataplanePlan plan, uint seed = 0)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        var atoms = PortAtoms.Of(plan);
        var taskService = TaskServices(topology);
        var rows = new List<ReachRow>();
        var sim = new Simulation(plan, seed);
        foreach (var pair in Pairs(topology))
        {
            if (!sim.TryResolve(pair.Source, pair.Destination + ":1/tcp", out var baseFlow, out _)) continue;
            foreach (var proto in Protocols)
            {
                if (proto == IpProtocol.Icmp)
                {
                    var f = baseFlow with { Protocol = IpProtocol.Icmp, DestinationPort = 0 };
                    var p = Probe(sim, f, taskService);
                    rows.Add(Row(pair, f, 0, 0, p.Result, p.Cause));
                    continue;
                }
                int start = 0;
                (string Key, string Result, string? Cause)? current = null;
                for (int i = 0; i < atoms.Count; i++)
                {
                    var probe = Probe(sim, baseFlow with { Protocol = proto, DestinationPort = atoms[i].From }, taskService);
                    if (current is { } c && string.Equals(probe.Key, c.Key, StringComparison.Ordinal)) continue;
                    if (current is { } done) rows.Add(Row(pair, baseFlow with { Protocol = proto }, start, atoms[i].From - 1, done.Result, done.Cause));
                    current = probe;
                    start = atoms[i].From;
                }
                rows.Add(Row(pair, baseFlow with { Protocol = proto }, start, 65535, current!.Value.Result, current.Value.Cause));
            }
            // Forget this pair's client sockets so ephemeral ports never run out over many probes.
            sim.Cluster.Namespaces[baseFlow.SourceNamespace].ClientSockets.Clear();
        }
        return rows;
    }

    /// <summary>The task → service map of a topology.</summary>
    public static IReadOnlyDictionary<string, string> TaskServices(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks) map[t.Name] = t.Service;
        return map;
    }

    /// <summary>The outcome class of one connection attempt (what merges atoms into ranges).</summary>
    public static string Classify(ConnectionResult r, IReadOnlyDictionary<string, string> taskService)
    {
        if (r.Request != DispositionKind.Delivered) return "blocked";
        if (r.Task is null || !taskService.TryGetValue(r.Task, out var service)) return "delivered to " + (r.Task ?? "host");
        return r.Reply == DispositionKind.Delivered ? "reaches " + service : "no reply from " + service;
    }

    /// <summary>
    /// Probes one packet: untraced when it reaches a service; otherwise traced once more to say why, and the reason
    /// becomes part of the key, so ranges only merge atoms that fail the same way at the same rule.
    /// </summary>
    private static (string Key, string Result, string? Cause) Probe(Simulation sim, Flow flow, IReadOnlyDictionary<string, string> taskService)
    {
        var result = Classify(sim.ConnectUntraced(flow), taskService);
        if (result.StartsWith("reaches ", StringComparison.Ordinal)) return (result, result, null);
        var t = sim.Connect(flow, 1)[0];
        var failed = t.Request.Disposition.Kind == DispositionKind.Delivered && t.Reply is not null && t.Reply.Disposition.Kind != DispositionKind.Delivered
            ? t.Reply : t.Request;
        var cause = (failed == t.Reply ? "reply " : "") + TraceExplanation.Explain(failed);
        return (result + "|" + TraceExplanation.Key(failed), result, cause);
    }

    private static ReachRow Row(Pair pair, Flow flow, int from, int to, string result, string? cause)
    {
        const string Reaches = "reaches ";
        string? service = result.StartsWith(Reaches, StringComparison.Ordinal) ? result.Substring(Reaches.Length) : null;
        return new ReachRow(pair.Source, pair.Destination, flow.Destination, flow.Protocol.Name(), from, to, result, service, cause);
    }
}
