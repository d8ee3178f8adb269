using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Insight;

/// <summary>
/// A question lowers only its slice of the topology (<see cref="ReachAnalysis.Slice"/>): its rows must be the whole
/// table's rows for that question, explanations included, whatever the other services do.
/// </summary>
public sealed class ReachSliceTests
{
    /// <summary>
    /// Services that reach into each other's paths: two that share only the routing mesh, host-mode ports, a dnsrr and an empty service, and raw rules in a task, a load-balancer sandbox, the ingress sandbox and the hosts (one on ephemeral source ports,
    /// one dropping a node's VXLAN).
    /// </summary>
    internal const string Tangled = """
        version: 1
        name: tangled
        nodes:
          a: { address: 10.9.0.10/24, role: manager }
          b: { address: 10.9.0.11/24 }
          c: { address: 10.9.0.12/24 }
        networks:
          ingress: { driver: overlay, ingress: true, subnet: 10.255.0.0/16 }
          front: { driver: overlay, subnet: 10.1.0.0/24 }
          back: { driver: overlay, subnet: 10.2.0.0/24 }
        services:
          web:
            replicas: 3
            networks: [front]
            ports:
              - { published: 8080, target: 80 }
          shop:
            replicas: 2
            networks: [back]
            ports:
              - { published: 9000, target: 80 }
              - { published: 8081, target: 81, mode: host }
          cache:
            networks: [back]
            ports:
              - { published: 6379, target: 6379 }
          api:
            replicas: 2
            networks: [front, back]
          db:
            replicas: 2
            networks: [back]
            loadBalancing: { scheduler: sh }
            tasks: [ { node: b }, { node: c } ]
          names:
            replicas: 2
            networks: [front]
            endpointMode: dnsrr
          idle:
            replicas: 0
            networks: [front]
        rules:
          - { node: b, namespace: db.1, chain: INPUT, rule: "-p tcp --dport 80 -j DROP" }
          - { namespace: lb_back, chain: INPUT, rule: "-p udp --dport 53 -j DROP" }
          - { node: c, namespace: ingress_sbox, chain: INPUT, rule: "-p tcp --dport 9000 -j DROP" }
          - { chain: INPUT, rule: "-p tcp --sport 32768:45000 -j DROP" }
          - { node: a, chain: INPUT, rule: "-p udp --dport 4789 -s 10.9.0.12 -j DROP" }

        """;

    /// <summary><see cref="Tangled"/> with a service publishing the VXLAN data path port: every overlay probe's datagrams enter the routing mesh.</summary>
    internal static readonly string Tunnelled = Tangled.Replace("""
          api:
        """, """
          tunnel:
            networks: [back]
            ports:
              - { published: 4789, target: 4789, protocol: udp }
          api:
        """, System.StringComparison.Ordinal);

    /// <summary><see cref="Tangled"/> with a raw rule in an overlay namespace: a slice keeps that network's legs where they are.</summary>
    internal static readonly string OverlayRule = Tangled.Replace("""
          - { namespace: lb_back, chain: INPUT, rule: "-p udp --dport 53 -j DROP" }
        """, """
          - { namespace: lb_back, chain: INPUT, rule: "-p udp --dport 53 -j DROP" }
          - { node: b, namespace: 1-front, chain: INPUT, rule: "-j DROP" }
        """, System.StringComparison.Ordinal);

    public static TheoryData<string, LoadBalancerBackend, bool> Cases => new()
    {
        // With every backend of a balanced class probed too: the slice keeps every backend a question's balancers have.
        { "tangled", LoadBalancerBackend.Ipvs, true },
        { "t3-mixed", LoadBalancerBackend.Ipvs, true },
        { "tangled", LoadBalancerBackend.Ipvs, false },
        { "tangled", LoadBalancerBackend.Nftables, false },
        { "tunnelled", LoadBalancerBackend.Ipvs, false },
        { "overlay-rule", LoadBalancerBackend.Ipvs, false },
        { "synthetic", LoadBalancerBackend.Ipvs, false },
        { "three-node", LoadBalancerBackend.Nftables, false },
        { "example", LoadBalancerBackend.Ipvs, false },
        // Found by a black-box tester (session 9): raw rules that send to, or mark for, a service the question does not
        // name, and one whose number counts the other services' rules in its chain.
        { "slice-dnat-unpublished", LoadBalancerBackend.Ipvs, false },
        { "slice-dnat-vip", LoadBalancerBackend.Nftables, false },
        { "slice-mark", LoadBalancerBackend.Ipvs, false },
        { "slice-rule-number", LoadBalancerBackend.Ipvs, false },
        { "t3-mixed", LoadBalancerBackend.Nftables, false },
        // A second tester round: raw NAT rules and jumps that carry service traffic into the routing mesh.
        { "slice-dnat-node-port", LoadBalancerBackend.Ipvs, false },
        { "slice-dnat-sbox-addr", LoadBalancerBackend.Nftables, false },
        { "slice-jump-docker-ingress", LoadBalancerBackend.Ipvs, false },
        { "slice-vxlan-dnat-sbox", LoadBalancerBackend.Ipvs, true },
        // A differential fuzz (session 17): a raw jump to DOCKER-FORWARD, which leads to DOCKER-INGRESS.
        { "slice-jump-docker-forward", LoadBalancerBackend.Ipvs, false },
    };

    private static (string File, string Yaml) Source(string name) => name switch
    {
        "tangled" => ("tangled.swarm.yaml", Tangled),
        "tunnelled" => ("tunnelled.swarm.yaml", Tunnelled),
        "overlay-rule" => ("overlay-rule.swarm.yaml", OverlayRule),
        "three-node" => ("three.swarm.yaml", ReachAnalysisTests.ThreeNode),
        "example" => (Paths.Example, File.ReadAllText(Paths.Example)),
        "synthetic" => ("synthetic.swarm.yaml", ReachAnalysisTests.Synthetic),
        _ => (name + ".swarm.yaml", File.ReadAllText(TopologyFile(name))),
    };

    /// <summary>A topology of <c>Insight/Topologies</c>.</summary>
    internal static string TopologyFile(string name) => Path.Combine(Paths.Root, "tests", "Runtime.Tests", "Insight", "Topologies", name + ".swarm.yaml");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_question_of_a_slice_has_the_rows_of_the_whole_table(string name, LoadBalancerBackend backend, bool everyBackend)
    {
        var (file, yaml) = Source(name);
        var compiled = SwarmCompiler.Compile(file, yaml);
        var options = new SwarmDsl.Lowering.LoweringOptions { Backend = backend };
        var whole = SwarmCompiler.Lower(compiled, options);
        Assert.True(whole.Plan is not null, string.Join("\n", whole.Diagnostics));
        var topology = compiled.Topology!;
        var table = new List<ReachRow>();
        ReachAnalysis.Analyze(topology, whole.Plan!, null, null, (_, r) => table.AddRange(r), 7, 1, everyBackend);
        var names = topology.Nodes.Select(n => n.Name).Concat(topology.Services.Select(s => s.Name)).ToList();
        var questions = names.Prepend("external").Select(n => ((string?)n, (string?)null))
            .Concat(names.Select(n => ((string?)null, (string?)n)))
            .Concat(names.SelectMany(s => names.Select(d => ((string?)s, (string?)d))))
            .Where(q => ReachAnalysis.Pairs(topology, q.Item1, q.Item2).Count > 0).ToList();
        int smaller = 0;
        foreach (var (source, destination) in questions)
        {
            var slice = ReachAnalysis.Slice(topology, source, destination);
            if (slice.Services.Count < topology.Services.Count) smaller++;
            var lowered = SwarmCompiler.Lower(compiled, slice, options);
            // Lowering the slice finds what lowering the whole finds (the raw rules land in the same namespaces).
            Assert.Equal(whole.Diagnostics.Select(d => d.ToString()), lowered.Diagnostics.Select(d => d.ToString()));
            Assert.Equal(ReachAnalysis.Pairs(topology, source, destination), ReachAnalysis.Pairs(slice, source, destination));
            var rows = new List<ReachRow>();
            ReachAnalysis.Analyze(slice, lowered.Plan!, source, destination, (_, r) => rows.AddRange(r), 7, 1, everyBackend);
            var expected = table.Where(r => (source is null || r.Source == source) && (destination is null || r.Destination == destination)).ToList();
            Assert.NotEmpty(expected);
            Assert.True(expected.SequenceEqual(rows), $"{name} --from {source} --to {destination}: the slice keeps {string.Join(", ", slice.Services.Select(s => s.Name))}\n"
                + string.Join("\n", expected.Except(rows).Select(r => "whole: " + r)) + "\n" + string.Join("\n", rows.Except(expected).Select(r => "slice: " + r)));
        }
        // Not a test of nothing: where there are services to leave out, questions leave some out.
        Assert.True(name is not ("tangled" or "tunnelled" or "overlay-rule" or "synthetic") || smaller * 4 >= questions.Count, $"{smaller} of {questions.Count} questions were sliced");
    }

    [Fact]
    public void A_question_keeps_what_can_meet_its_probes_and_only_that()
    {
        var topology = SwarmCompiler.Compile("tangled.swarm.yaml", Tangled).Topology!;
        string Kept(string? source, string? destination) => string.Join(" ", ReachAnalysis.Slice(topology, source, destination).Services.Select(s => s.Name));
        // Every service is a source and a destination of the whole table.
        Assert.Same(topology, ReachAnalysis.Slice(topology, null, null));
        // db's sources on back, db itself (also for its raw rule in db.1), nothing else.
        Assert.Equal("shop cache api db", Kept(null, "db"));
        Assert.Equal("api db", Kept("api", "db"));
        Assert.Equal("api db", Kept("db", "api"));
        // web and shop share only the routing mesh, which carries no service names: no pair (they meet through a node's port).
        Assert.Empty(ReachAnalysis.Pairs(topology, "web", "shop"));
        // A node's address is the routing mesh.
        Assert.Equal("web shop cache db", Kept("external", null));
        Assert.Equal("web shop cache db", Kept(null, "b"));
        // Publishing the data path port puts every overlay probe in the mesh.
        var tunnelled = SwarmCompiler.Compile("tunnelled.swarm.yaml", Tunnelled).Topology!;
        Assert.Equal("web shop cache tunnel api db", string.Join(" ", ReachAnalysis.Slice(tunnelled, "api", "db").Services.Select(s => s.Name)));
        // Sliced services lose their tasks, task endpoints and load balancers; the sandboxes stay.
        var slice = ReachAnalysis.Slice(topology, "api", "db");
        Assert.DoesNotContain(slice.Tasks, t => t.Service == "web");
        Assert.DoesNotContain(slice.Endpoints, e => e.Kind == EndpointKind.Task && e.Namespace.StartsWith("web.", System.StringComparison.Ordinal));
        Assert.DoesNotContain(slice.LoadBalancers, l => l.Service == "web");
        // The ingress sandboxes stay; a balancer sandbox stays where a kept balancer is, or on every node for a network a
        // raw rule is placed in (lb_back); api.1 keeps its leg on back, the network it probes db on, not the one on front.
        Assert.Equal(topology.Endpoints.Count(e => e.Kind is EndpointKind.IngressLoadBalancer or EndpointKind.IngressGateway),
            slice.Endpoints.Count(e => e.Kind is EndpointKind.IngressLoadBalancer or EndpointKind.IngressGateway));
        Assert.Equal(topology.Endpoints.Count(e => e.Namespace == "lb_back"), slice.Endpoints.Count(e => e.Namespace == "lb_back"));
        Assert.DoesNotContain(slice.Endpoints, e => e.Namespace == "lb_front");
        Assert.Equal(new[] { "back", "docker_gwbridge" }, slice.Endpoints.Where(e => e.Namespace == "api.1").Select(e => e.Network).OrderBy(n => n, System.StringComparer.Ordinal));
        // A service that only sends keeps the task it sends from (the first by name), a destination all of its tasks; the
        // balancers kept are the destination's in the sender's node's sandbox.
        Assert.Equal("api.1 db.1 db.2", string.Join(" ", slice.Tasks.Select(t => t.Name)));
        var sender = slice.Tasks.Single(t => t.Name == "api.1").Node;
        Assert.Equal($"{sender}/lb_back/db", string.Join(" ", slice.LoadBalancers.Select(l => $"{l.Node}/{l.Namespace}/{l.Service}")));
        // In the routing mesh a publishing service keeps every task, with its ingress and docker_gwbridge legs only; the
        // balancers kept are the probed nodes' ingress_sbox ones.
        var mesh = ReachAnalysis.Slice(topology, null, "b");
        Assert.Equal(topology.Tasks.Count(t => t.Service is "web" or "shop" or "cache" or "db"), mesh.Tasks.Count);
        Assert.DoesNotContain(mesh.Endpoints, e => e.Kind == EndpointKind.Task && e.Namespace.StartsWith("web.", System.StringComparison.Ordinal) && e.Network == "front");
        Assert.Contains(mesh.Endpoints, e => e.Kind == EndpointKind.Task && e.Namespace.StartsWith("web.", System.StringComparison.Ordinal) && e.Network == "ingress");
        // db is kept for its raw rule, as it is: its legs on back stay.
        Assert.Contains(mesh.Endpoints, e => e.Kind == EndpointKind.Task && e.Namespace.StartsWith("db.", System.StringComparison.Ordinal) && e.Network == "back");
        Assert.All(mesh.LoadBalancers, l => Assert.Equal(("b", "ingress_sbox"), (l.Node, l.Namespace)));
        Assert.Equal(new[] { "web", "shop", "cache" }, mesh.LoadBalancers.Select(l => l.Service));
        // Where overlay traffic itself can enter the mesh, every balancer and leg stays.
        var everywhere = ReachAnalysis.Slice(tunnelled, null, "b");
        Assert.Equal(tunnelled.LoadBalancers.Count(l => everywhere.Services.Any(s => s.Name == l.Service)), everywhere.LoadBalancers.Count);
        Assert.Equal(tunnelled.Endpoints.Count(e => e.Kind != EndpointKind.Task || everywhere.Tasks.Any(t => t.Name == e.Namespace)), everywhere.Endpoints.Count);
    }
}
