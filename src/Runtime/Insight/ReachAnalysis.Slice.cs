using System;
using System.Collections.Generic;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Insight;

public static partial class ReachAnalysis
{
    /// <summary>
    /// The part of <paramref name="topology"/> a question about <paramref name="source"/> and <paramref name="destination"/>
    /// needs: every node, network, load-balancer sandbox, sysctl and raw rule, but only the services whose tasks, VIPs or
    /// published ports a probe of the question can meet. Lowering that instead of the whole topology answers a question
    /// about one service of a 1,000-service topology without building the other 900 services' namespaces, IPVS tables
    /// and overlay entries; the question's rows are the same (<c>ReachSliceTests</c>). Returns
    /// <paramref name="topology"/> itself when every service is needed.
    /// </summary>
    /// <remarks>
    /// What another service can change for a probe, and so what keeps it:
    /// <list type="bullet">
    /// <item>being the probe's source or destination;</item>
    /// <item>a published port, for a probe that enters the routing mesh (a node's address): the mesh marks and forwards by
    /// port alone, so any service's published port can catch it;</item>
    /// <item>a published UDP port equal to the VXLAN data path port: the hosts' ingress DNAT catches the datagrams that
    /// carry every overlay probe, so every probe is in the routing mesh; likewise a raw DNAT, SNAT, or jump into the mesh's
    /// chains (<see cref="IntoTheMesh"/>);</item>
    /// <item>a raw rule placed in one of its tasks' namespaces (the rule must land where it lands in the whole plan), in a
    /// chain its own rules are in (the raw rule's number counts them), or sending to its address or setting its fwmark
    /// (<see cref="KeepForRules"/>).</item>
    /// </list>
    /// Anything else a service adds matches its own addresses, VIPs or marks only (its task namespaces, its IPVS services,
    /// its overlay neighbour and FDB entries), and a probe of the question never carries them. So a service that only
    /// sends keeps only the task it sends from, with its legs on the networks it probes on; a kept service keeps only the
    /// balancers a probe can pass through (<see cref="BalancerNodes"/>); a service kept for the routing mesh only its
    /// mesh legs; unless a probe can enter the routing mesh anywhere. Addresses, VIPs, marks and
    /// MACs were assigned over the whole topology before this, so the kept services keep theirs.
    /// </remarks>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="source">external, a node or a service; null for every source.</param>
    /// <param name="destination">A node or a service; null for every destination.</param>
    public static Topology Slice(Topology topology, string? source, string? destination)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        if (source is null && destination is null) return topology;
        var services = new Dictionary<string, ServiceModel>(StringComparer.Ordinal);
        foreach (var s in topology.Services) services[s.Name] = s;
        var keep = new HashSet<string>(StringComparer.Ordinal);
        var senders = new HashSet<string>(StringComparer.Ordinal);
        var meshNodes = new HashSet<string>(StringComparer.Ordinal);
        // The networks a sending service probes on: those it shares with a destination (a VIP on another is never asked).
        var probedOn = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        bool mesh = false;
        foreach (var pair in Pairs(topology, source, destination))
        {
            if (services.TryGetValue(pair.Source, out var from))
            {
                senders.Add(pair.Source);
                if (!probedOn.TryGetValue(pair.Source, out var on)) probedOn[pair.Source] = on = new HashSet<string>(StringComparer.Ordinal);
                if (services.TryGetValue(pair.Destination, out var to))
                    foreach (var n in from.Networks)
                        foreach (var m in to.Networks)
                            if (n == m) on.Add(n);
            }
            // A node's address is the routing mesh; a service is probed at its VIP on a network other than the mesh's.
            if (services.ContainsKey(pair.Destination)) keep.Add(pair.Destination);
            else { mesh = true; meshNodes.Add(pair.Destination); }
        }
        // A published data path port puts the VXLAN datagrams of every overlay probe into the routing mesh; so can a raw
        // rule that rewrites addresses or jumps into the mesh's chains. Then any node's balancers can meet a probe.
        bool everywhere = IntoTheMesh(topology);
        foreach (var s in topology.Services)
            foreach (var p in s.Ports)
                if (p.Protocol == IpProtocol.Udp && p.Published == topology.Underlay.DataPathPort) everywhere = true;
        mesh |= everywhere;
        if (!KeepForRules(topology, keep)) return topology;
        // A publishing service in the routing mesh is met through its ingress and docker_gwbridge legs: its tasks' legs on
        // other overlays (and those overlays' entries for them) matter only when overlay traffic itself can enter the mesh.
        var meshOnly = new HashSet<string>(StringComparer.Ordinal);
        if (mesh)
            foreach (var s in topology.Services)
                if (s.Ports.Count > 0 && !keep.Contains(s.Name)) (everywhere ? keep : meshOnly).Add(s.Name);
        // A service that only sends keeps the task it sends from (Simulation: the first of its tasks by name); its other
        // tasks and its balancers answer only at its own addresses and VIPs, which no probe of the question carries.
        var sending = new Dictionary<string, TaskModel>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks)
            if (senders.Contains(t.Service) && (!sending.TryGetValue(t.Service, out var first) || string.CompareOrdinal(t.Name, first.Name) < 0))
                sending[t.Service] = t;
        var balancersAt = everywhere ? null : BalancerNodes(topology, sending.Values, meshNodes);
        if (keep.Count == topology.Services.Count && balancersAt is null) return topology;

        // Legs on the overlays other than the mesh's are kept where a probe can use them: every one of a task kept whole;
        // none of a task kept for the mesh; those a sending task probes on. A raw rule placed in a network's overlay or
        // balancer namespace keeps that network's legs and sandboxes where they are (the rule must land as it lands).
        var trimmed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in topology.Networks)
            if (n.IsOverlay && !n.Ingress && !everywhere) trimmed.Add(n.Name);
        foreach (var r in topology.Rules)
        {
            if (r.Namespace.StartsWith("lb_", StringComparison.Ordinal)) trimmed.Remove(r.Namespace.Substring("lb_".Length));
            else if (r.Namespace.StartsWith("1-", StringComparison.Ordinal)) trimmed.Remove(r.Namespace.Substring("1-".Length));
        }
        var tasks = new List<TaskModel>();
        var legs = new Dictionary<string, HashSet<string>?>(StringComparer.Ordinal); // task → the trimmed networks it keeps legs on (null: all)
        foreach (var t in topology.Tasks)
        {
            if (keep.Contains(t.Service)) legs[t.Name] = null;
            else if (sending.TryGetValue(t.Service, out var first) && ReferenceEquals(first, t)) legs[t.Name] = probedOn[t.Service];
            else if (meshOnly.Contains(t.Service)) legs[t.Name] = new HashSet<string>();
            else continue;
            tasks.Add(t);
        }
        var balancers = new List<LoadBalancerModel>();
        foreach (var lb in topology.LoadBalancers)
            if ((keep.Contains(lb.Service) || meshOnly.Contains(lb.Service)) && (balancersAt is null || balancersAt.Contains((lb.Node, lb.Namespace))))
                balancers.Add(lb);
        var sandboxes = new HashSet<(string, string)>();
        foreach (var lb in balancers) sandboxes.Add((lb.Node, lb.Namespace));
        var endpoints = new List<EndpointModel>();
        foreach (var e in topology.Endpoints)
        {
            bool stays = e.Kind switch
            {
                EndpointKind.Task => legs.TryGetValue(e.Namespace, out var on) && (on is null || !trimmed.Contains(e.Network) || on.Contains(e.Network)),
                // A balancer sandbox of a trimmed network stays where a kept balancer is (its leg carries the VIPs and the SNAT).
                EndpointKind.NetworkLoadBalancer => !trimmed.Contains(e.Network) || sandboxes.Contains((e.Node, e.Namespace)),
                _ => true,
            };
            if (stays) endpoints.Add(e);
        }
        var kept = new List<ServiceModel>();
        foreach (var s in topology.Services)
            if (keep.Contains(s.Name) || meshOnly.Contains(s.Name) || senders.Contains(s.Name)) kept.Add(s);
        return topology with
        {
            Services = new EquatableArray<ServiceModel>(kept),
            Tasks = new EquatableArray<TaskModel>(tasks),
            Endpoints = new EquatableArray<EndpointModel>(endpoints),
            LoadBalancers = new EquatableArray<LoadBalancerModel>(balancers),
        };
    }

    /// <summary>
    /// The sandboxes whose balancers a probe of the question can meet: a service probes a VIP from the task it sends from,
    /// and its node's <c>lb_</c> sandbox of that network balances it (the backend's node only decapsulates and delivers);
    /// a probe at a node's address is balanced by that node's <c>ingress_sbox</c>, and its host's DNAT rules come from the
    /// same balancers. The rest only add rules and IPVS services for marks and VIPs that the question's probes carry
    /// nowhere else.
    /// </summary>
    private static HashSet<(string Node, string Namespace)> BalancerNodes(Topology topology, IEnumerable<TaskModel> sending, HashSet<string> meshNodes)
    {
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in sending) nodes.Add(t.Node);
        var at = new HashSet<(string, string)>();
        foreach (var lb in topology.LoadBalancers)
            if (lb.Namespace == TopologyAnalyzer.IngressSandbox ? meshNodes.Contains(lb.Node) : nodes.Contains(lb.Node))
                at.Add((lb.Node, lb.Namespace));
        return at;
    }

    /// <summary>
    /// Whether a raw rule can send a probe into the routing mesh whatever its destination: a DNAT or SNAT (to a node's
    /// address, the ingress sandbox's, or anything a host then hands to <c>DOCKER-INGRESS</c>; a reply to an SNAT address
    /// can meet a published port), or a jump or goto to any of Docker's chains: <c>DOCKER-INGRESS</c> itself, or one that
    /// leads there (<c>DOCKER-FORWARD</c> jumps to it; a differential fuzz found a raw <c>-j DOCKER-FORWARD</c> in a host's
    /// INPUT meeting other nodes' per-port ESTABLISHED rules that the slice had left out).
    /// </summary>
    private static bool IntoTheMesh(Topology topology)
    {
        foreach (var r in topology.Rules)
        {
            if (!SwarmDsl.Plan.IptablesSyntax.TryParse(r.Rule, out _, out var target, out _)) continue;
            switch (target)
            {
                case SwarmDsl.Plan.DnatTarget or SwarmDsl.Plan.SnatTarget:
                case SwarmDsl.Plan.JumpTarget j when DockerChain(j.Chain):
                case SwarmDsl.Plan.GotoTarget g when DockerChain(g.Chain):
                    return true;
            }
        }
        return false;
    }

    // Docker's chains (DOCKER, DOCKER-INGRESS, DOCKER-FORWARD, DOCKER-USER, ...): what the plan puts under them can reach the
    // mesh's chains, so the slice does not try to tell which.
    private static bool DockerChain(string chain) => chain.StartsWith("DOCKER", StringComparison.Ordinal);

    /// <summary>
    /// Adds what the raw rules need kept: the service of a task a rule is placed in; every service whose rules share a
    /// chain with a raw rule (its number, which explanations name, counts them: the routing mesh's chains, a balancer
    /// sandbox's); the owner of an address a NAT rule sends to; the service whose fwmark a MARK rule sets. False when a
    /// rule sets marks under a mask (any service's could come of it): then nothing is left out.
    /// </summary>
    private static bool KeepForRules(Topology topology, HashSet<string> keep)
    {
        if (topology.Rules.Count == 0) return true;
        var serviceOfTask = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks) serviceOfTask[t.Name] = t.Service;
        // Who owns an address, for NAT targets: made only when a rule has one (every task endpoint of a large topology).
        Dictionary<uint, HashSet<string>>? owners = null;
        HashSet<string>? OwnersOf(Ipv4Address address)
        {
            if (owners is null)
            {
                owners = new Dictionary<uint, HashSet<string>>();
                void Own(Ipv4Address a, string service)
                {
                    if (!owners.TryGetValue(a.Value, out var set)) owners[a.Value] = set = new HashSet<string>(StringComparer.Ordinal);
                    set.Add(service);
                }
                foreach (var e in topology.Endpoints)
                    if (e.Kind == EndpointKind.Task && serviceOfTask.TryGetValue(e.Namespace, out var svc)) Own(e.Address.Address, svc);
                foreach (var s in topology.Services)
                    foreach (var v in s.Vips) Own(v.Address, s.Name);
            }
            return owners.TryGetValue(address.Value, out var found) ? found : null;
        }
        foreach (var r in topology.Rules)
        {
            if (serviceOfTask.TryGetValue(r.Namespace, out var owner)) keep.Add(owner);
            // The chains lowering fills per service: a sandbox's mangle table (marks per published port or VIP), a
            // host's DOCKER-INGRESS and DOCKER chains (per published port).
            if ((r.Namespace == TopologyAnalyzer.IngressSandbox && r.Table == "mangle")
                || (r.Namespace == TopologyAnalyzer.HostNamespaceName && r.Chain is "DOCKER-INGRESS" or "DOCKER"))
            {
                foreach (var s in topology.Services)
                    if (s.Ports.Count > 0) keep.Add(s.Name);
            }
            else if (r.Table == "mangle" && r.Namespace.StartsWith("lb_", StringComparison.Ordinal))
            {
                var network = r.Namespace.Substring("lb_".Length);
                foreach (var s in topology.Services)
                    foreach (var n in s.Networks)
                        if (n == network) keep.Add(s.Name);
            }
            if (!SwarmDsl.Plan.IptablesSyntax.TryParse(r.Rule, out _, out var target, out _)) continue;
            switch (target)
            {
                case SwarmDsl.Plan.DnatTarget d when OwnersOf(d.Address) is { } to:
                    keep.UnionWith(to);
                    break;
                case SwarmDsl.Plan.SnatTarget n when OwnersOf(n.Address) is { } from:
                    keep.UnionWith(from);
                    break;
                case SwarmDsl.Plan.MarkTarget m:
                    if (m.Mask != uint.MaxValue) return false;
                    foreach (var lb in topology.LoadBalancers)
                        if ((uint)lb.FwMark == m.Value) keep.Add(lb.Service);
                    break;
            }
        }
        return true;
    }

    /// <summary>
    /// The balanced services (two tasks or more) with a raw rule in one of their task namespaces: one backend then runs
    /// rules the others do not. A class such a service balances is probed on each of its backends even without
    /// <c>--every-backend</c> (a tester's find: a rule dropping a port in one of two tasks left the row saying "reaches"
    /// while <c>expect:</c> on the same flow failed). Rules elsewhere (a node's host, whose INPUT sees the VXLAN traffic of
    /// its own backends only; rules matching a task's address) and per-node sysctls can tell backends apart too, but
    /// probing every service they might touch on each backend would cost every node question its shared sweeps; those are
    /// left to <c>--every-backend</c>, and the command says so.
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    public static IReadOnlyCollection<string> ServicesWithUnevenBackends(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var result = new SortedSet<string>(StringComparer.Ordinal);
        if (topology.Rules.Count == 0) return result;
        var balanced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in topology.Services)
            if (s.EndpointMode == EndpointMode.Vip) balanced.Add(s.Name);
        var serviceOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var count = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks)
        {
            if (!balanced.Contains(t.Service)) continue;
            serviceOf[t.Name] = t.Service;
            count[t.Service] = (count.TryGetValue(t.Service, out var n) ? n : 0) + 1;
        }
        foreach (var r in topology.Rules)
            if (serviceOf.TryGetValue(r.Namespace, out var service) && count[service] > 1) result.Add(service);
        return result;
    }

    /// <summary>
    /// Whether a service's backends may answer a probe differently, so that one connection per class can miss what
    /// <c>--every-backend</c> shows: Docker's own rules treat every task alike, but a raw rule (placed on some nodes or
    /// tasks, or matching a node's address or the VXLAN traffic only remote backends get) or a sysctl set on one node need
    /// not; and only a balanced (VIP) service with two tasks or more has backends to tell apart.
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    public static bool BackendsMayDiffer(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var balanced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in topology.Services)
            if (s.EndpointMode == EndpointMode.Vip) balanced.Add(s.Name);
        var tasks = new Dictionary<string, int>(StringComparer.Ordinal);
        bool several = false;
        foreach (var t in topology.Tasks)
            if (balanced.Contains(t.Service))
            {
                tasks.TryGetValue(t.Service, out var n);
                several |= (tasks[t.Service] = n + 1) > 1;
            }
        if (!several) return false;
        if (topology.Rules.Count > 0) return true;
        foreach (var s in topology.Sysctls)
            if (s.Node is not null) return true;
        return false;
    }
}
