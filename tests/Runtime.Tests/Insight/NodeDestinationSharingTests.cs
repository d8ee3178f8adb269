using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Insight;

/// <summary>
/// The outside client's sweep toward a node takes the classes of the reference node's sweep it can
/// (<see cref="NodeDestinationSharing"/>): every table must be the one each node's own sweep gives, byte for byte.
/// </summary>
public sealed class NodeDestinationSharingTests
{
    private static (Topology Topology, DataplanePlan Plan) Compile(string file, string yaml, LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
    {
        var r = SwarmCompiler.CompileToPlan(file, yaml, new SwarmDsl.Lowering.LoweringOptions(backend));
        Assert.True(r.Plan is not null, string.Join("\n", r.Diagnostics));
        return (r.Topology!, r.Plan!);
    }

    private static (List<ReachRow> Rows, ReachAnalysis.Counters Counters) Table(Topology topology, DataplanePlan plan, bool share, int workers = 1,
        Func<ReachAnalysis.Pair, bool>? include = null)
    {
        var rows = new List<ReachRow>();
        var counters = new ReachAnalysis.Counters();
        ReachAnalysis.Analyze(topology, plan, (_, r) => rows.AddRange(r), 5, include, workers, counters, TimeSpan.Zero, shareSources: true,
            everyBackend: false, shareDestinations: share);
        return (rows, counters);
    }

    private static void Same(List<ReachRow> alone, List<ReachRow> shared, string what)
    {
        var diff = alone.Except(shared).Select(r => "- " + r).Concat(shared.Except(alone).Select(r => "+ " + r)).Take(20);
        Assert.True(alone.SequenceEqual(shared), what + " differs with the reference's classes taken:\n" + string.Join("\n", diff));
    }

    /// <summary>Larger than the other tests' synthetic topology: 8 nodes, source hashing among the schedulers, host-mode ports.</summary>
    private static string Synthetic(int seed) => SwarmDsl.Synthetic.SyntheticTopology.Generate(SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with
    {
        Name = "dest", Seed = seed, Nodes = 8, Overlays = 3, Services = 16, Tasks = 40, PublishedPorts = 20, HostModePercent = 20, UdpPercent = 40,
        UserRules = 0,
    });

    /// <summary>
    /// Found by a differential fuzz (session 17): one lc balancer (a service's fwmark) serves a TCP and a UDP port; a node took
    /// the reference's TCP classes and probed its UDP class itself, on connection counts the taken classes had not moved, and
    /// the pick (a task whose host drops UDP) differed. Each protocol's sweep now starts from the loaded state.
    /// </summary>
    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void A_balancer_serving_two_protocols_is_kept_whole_across_them(LoadBalancerBackend backend)
    {
        var (topology, plan) = Compile("lcx.swarm.yaml", """
            version: 1
            name: lcx
            nodes:
              a: { address: 10.9.0.10/24, role: manager }
              b: { address: 10.9.0.11/24 }
              c: { address: 10.9.0.13/24 }
              d: { address: 10.9.0.14/24 }
            networks:
              ingress: { driver: overlay, ingress: true, subnet: 10.255.0.0/24 }
            services:
              web:
                networks: [ingress]
                loadBalancing: { scheduler: lc }
                ports: [ { published: 1000, target: 80, protocol: udp }, { published: 30000, target: 30000, protocol: tcp } ]
                replicas: 3
                tasks: [ { node: a }, { node: d }, { node: c } ]
            rules:
              - { node: d, table: filter, chain: INPUT, rule: "-p udp -j DROP" }
            """, backend);
        Same(Table(topology, plan, share: false).Rows, Table(topology, plan, share: true).Rows, "lc over tcp and udp");
    }

    public static TheoryData<string, LoadBalancerBackend> Cases => new()
    {
        { "example", LoadBalancerBackend.Ipvs }, { "example", LoadBalancerBackend.Nftables },
        { "three-node", LoadBalancerBackend.Ipvs }, { "synthetic", LoadBalancerBackend.Ipvs }, { "synthetic", LoadBalancerBackend.Nftables },
        { "dest-1", LoadBalancerBackend.Ipvs }, { "dest-2", LoadBalancerBackend.Nftables },
    };

    private static (string File, string Yaml) Source(string name) => name switch
    {
        "three-node" => ("three.swarm.yaml", ReachAnalysisTests.ThreeNode),
        "example" => (Paths.Example, System.IO.File.ReadAllText(Paths.Example)),
        "synthetic" => ("synthetic.swarm.yaml", ReachAnalysisTests.Synthetic),
        _ => (name + ".swarm.yaml", Synthetic(int.Parse(name.Substring(5), System.Globalization.CultureInfo.InvariantCulture))),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Nodes_take_the_reference_nodes_classes_and_the_table_does_not_change(string name, LoadBalancerBackend backend)
    {
        var (file, yaml) = Source(name);
        var (topology, plan) = Compile(file, yaml, backend);
        var (alone, probed) = Table(topology, plan, share: false);
        var (shared, sharing) = Table(topology, plan, share: true);
        Same(alone, shared, name);
        Assert.Equal(0, probed.TakenDestinations);
        Assert.True(sharing.TakenDestinations > 0, name + ": no node took the reference's classes");
        Assert.True(sharing.TakenClasses > 0 && sharing.Probes < probed.Probes, sharing.Probes + " probes with sharing, " + probed.Probes + " without");
        // Two workers: one sweeps the reference while the other decides who takes what, then waits for it.
        Same(alone, Table(topology, plan, share: true, workers: 2).Rows, name + " on two workers");
    }

    /// <summary>A question about the outside client alone takes the same way (the pairs from nodes are not there to wait for).</summary>
    [Fact]
    public void A_question_from_the_outside_alone_takes_and_gives_its_rows_of_the_whole_table()
    {
        var (topology, plan) = Compile("dest-1.swarm.yaml", Synthetic(1));
        var (whole, _) = Table(topology, plan, share: false);
        var (outside, counters) = Table(topology, plan, share: true, include: p => p.Source == "external");
        Assert.True(counters.TakenDestinations > 0);
        Same(whole.Where(r => r.Source == "external").ToList(), outside, "--from external");

        // A node's question has no outside sweeps to take: its sweep toward its first other node is its reference.
        foreach (var workers in new[] { 1, 2 })
        {
            var (fromNode, nodeCounters) = Table(topology, plan, share: true, workers, include: p => p.Source == "node-003");
            Assert.True(nodeCounters.TakenDestinations > 0, "--from node-003 took nothing");
            Same(whole.Where(r => r.Source == "node-003").ToList(), fromNode, "--from node-003 on " + workers + " workers");
        }
    }

    /// <summary>
    /// A question from a node asks no outside sweep: nothing may wait for one (found hanging: a node pair waited for the
    /// outside client's sweep toward its destination, which the question does not include).
    /// </summary>
    [Fact]
    public async System.Threading.Tasks.Task A_question_from_a_node_waits_for_no_sweep_it_does_not_ask()
    {
        // The example's manager shares the outside client's sweeps (NodeSourceSharing) when they are there.
        var (topology, plan) = Compile(Paths.Example, System.IO.File.ReadAllText(Paths.Example));
        Assert.True(NodeSourceSharing.For(new Simulation(plan, 5), topology).MayShare("manager"));
        var (whole, _) = Table(topology, plan, share: false);
        foreach (var workers in new[] { 1, 2 })
        {
            var run = System.Threading.Tasks.Task.Run(() => Table(topology, plan, share: true, workers, include: p => p.Source == "manager"));
            var first = await System.Threading.Tasks.Task.WhenAny(run, System.Threading.Tasks.Task.Delay(TimeSpan.FromMinutes(2)));
            Assert.True(first == run, "--from manager on " + workers + " workers did not finish");
            Same(whole.Where(r => r.Source == "manager").ToList(), (await run).Rows, "--from manager");
        }
    }

    private const string FourNode = RandomRules.FourNodes + """
        services:
          web:
            replicas: 4
            networks: [ingress, app]
            ports:
              - { published: 8080, target: 80 }
              - { published: 9000, target: 9000, protocol: udp }
            loadBalancing: { scheduler: sh }
          api:
            replicas: 3
            networks: [ingress, app]
            ports:
              - { published: 8443, target: 443 }
              - { published: 8444, target: 444 }
              - { published: 30000, target: 4000, mode: host }
          db:
            replicas: 2
            networks: [ingress]
            ports:
              - { published: 5432, target: 5432 }

        """;

    /// <summary>
    /// What tells a node from the reference refuses it, and it sweeps on its own: a raw rule in its own host (b), a rule in
    /// another node's host naming its address (c: d's host drops VXLAN from c, so c's routing mesh cannot reach d's tasks,
    /// though the reference's can). The others take the reference's classes, and the table is each node's own.
    /// </summary>
    [Fact]
    public void A_node_its_host_or_another_namespace_tells_from_the_reference_sweeps_on_its_own()
    {
        var yaml = FourNode + "rules:\n"
            + "  - node: b\n    table: filter\n    chain: INPUT\n    rule: -p tcp --dport 22 -j DROP\n    position: insert\n"
            + "  - node: d\n    table: filter\n    chain: INPUT\n    rule: -s 10.9.0.12/32 -p udp --dport 4789 -j DROP\n    position: insert\n";
        var (topology, plan) = Compile("four.swarm.yaml", yaml);
        var (alone, _) = Table(topology, plan, share: false);
        var (shared, counters) = Table(topology, plan, share: true);
        Same(alone, shared, "four nodes");

        var sharing = NodeDestinationSharing.For(new Simulation(plan, 5).Cluster);
        Assert.Contains("host", sharing.WhyNot("a", "b"), StringComparison.Ordinal);
        Assert.Contains("another namespace", sharing.WhyNot("a", "c"), StringComparison.Ordinal);
        // d's own rule names c, not d: d differs from a only by it, which is in d's host.
        Assert.NotNull(sharing.WhyNot("a", "d"));
        Assert.Equal(0, counters.TakenDestinations);

        // Without the rules, every node takes: not vacuous.
        var (plain, plainPlan) = Compile("four.swarm.yaml", FourNode);
        var plainSharing = NodeDestinationSharing.For(new Simulation(plainPlan, 5).Cluster);
        foreach (var n in new[] { "b", "c", "d" }) Assert.Null(plainSharing.WhyNot("a", n));
        var (plainAlone, _) = Table(plain, plainPlan, share: false);
        var (plainShared, plainCounters) = Table(plain, plainPlan, share: true);
        Same(plainAlone, plainShared, "four nodes without rules");
        // b, c and d take a's sweep toward them, and a's sweep of its own address for theirs.
        Assert.Equal(6, plainCounters.TakenDestinations);
    }

    /// <summary>
    /// A node's classes that a source-hashing balancer picked for by its address (web's <c>sh</c>) are probed toward the
    /// outside client's reference node and taken from there toward the other nodes: the rows are each node's own sweep's.
    /// A rule that drops VXLAN from one node at another's host makes that node's walks differ by destination, and the table
    /// stays each node's own.
    /// </summary>
    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void Nodes_take_the_classes_their_address_picked_for_from_the_reference_destination(LoadBalancerBackend backend)
    {
        static bool FromNodes(ReachAnalysis.Pair p) => p.Source != "external" && p.Source.Length == 1;
        var (topology, plan) = Compile("four.swarm.yaml", FourNode, backend);
        var (alone, _) = Table(topology, plan, share: false);
        var (shared, counters) = Table(topology, plan, share: true);
        Same(alone, shared, "four nodes");
        Assert.True(counters.TakenHashedComponents > 0, "no node took a hashed component from the reference");
        Same(alone, Table(topology, plan, share: true, workers: 2).Rows, "four nodes on two workers");

        var yaml = FourNode + "rules:\n  - node: d\n    table: filter\n    chain: INPUT\n    rule: -s 10.9.0.11/32 -p udp --dport 4789 -j DROP\n    position: insert\n";
        (topology, plan) = Compile("four.swarm.yaml", yaml, backend);
        (alone, _) = Table(topology, plan, share: false);
        (shared, _) = Table(topology, plan, share: true);
        Same(alone, shared, "d dropping VXLAN from b");
        Assert.Contains(alone, r => FromNodes(new ReachAnalysis.Pair(r.Source, r.Destination)) && r.Cause is { } cause && cause.Contains("at d/host", StringComparison.Ordinal));

        // one's only task runs on a, the reference, and drops what d's ingress sandbox sends it: every node's pick of it is
        // a local walk toward a and a remote one toward d, which ends otherwise (the walk entered the reference's task).
        yaml = FourNode.Replace("services:\n", "services:\n  one:\n    replicas: 1\n    networks: [ingress]\n    placement: { nodes: [a] }\n"
            + "    ports:\n      - { published: 7070, target: 70 }\n    loadBalancing: { scheduler: sh }\n", StringComparison.Ordinal)
            + "rules:\n  - namespace: one.1\n    table: filter\n    chain: INPUT\n    rule: -s 10.255.0.5/32 -j DROP\n    position: insert\n";
        (topology, plan) = Compile("four.swarm.yaml", yaml, backend);
        (alone, _) = Table(topology, plan, share: false);
        (shared, counters) = Table(topology, plan, share: true);
        Same(alone, shared, "one.1 dropping what d's ingress sandbox sends");
        Assert.True(counters.TakenHashedComponents > 0);
        Assert.Contains(shared, r => r.Source == "b" && r.Destination == "a" && r.FromPort == 7070 && r.Result == "reaches one");
        Assert.Contains(shared, r => r.Source == "b" && r.Destination == "d" && r.FromPort == 7070 && r.Cause is { } why && why.Contains("one.1", StringComparison.Ordinal));
    }

    /// <summary>
    /// A node's sweep of its own address takes the first node's sweep of its own (σ swaps the source with the destination):
    /// the rows are each node's own sweep's. A rule in a node's own OUTPUT chain tells it apart, and it sweeps on its own.
    /// </summary>
    [Fact]
    public void Nodes_take_the_first_nodes_sweep_of_its_own_address()
    {
        static bool Self(ReachAnalysis.Pair p) => p.Source == p.Destination;
        var (topology, plan) = Compile("four.swarm.yaml", FourNode);
        var (alone, _) = Table(topology, plan, share: false, include: Self);
        var (shared, counters) = Table(topology, plan, share: true, include: Self);
        Same(alone, shared, "the nodes' own addresses");
        Assert.Equal(3, counters.TakenDestinations);
        Assert.Contains(shared, r => r.Source == "d" && r.Destination == "d" && r.Result == "reaches web");

        var yaml = FourNode + "rules:\n  - node: b\n    table: filter\n    chain: OUTPUT\n    rule: -p tcp --dport 8080 -j DROP\n    position: insert\n";
        (topology, plan) = Compile("four.swarm.yaml", yaml);
        (alone, _) = Table(topology, plan, share: false, include: Self);
        (shared, counters) = Table(topology, plan, share: true, include: Self);
        Same(alone, shared, "b dropping what it sends to 8080");
        Assert.Equal(2, counters.TakenDestinations);
        Assert.Contains(shared, r => r.Source == "b" && r.Destination == "b" && r.FromPort == 8080 && r.Result.StartsWith("blocked", StringComparison.Ordinal)
            && r.Cause!.Contains("b/host", StringComparison.Ordinal));
        Assert.Contains(shared, r => r.Source == "c" && r.Destination == "c" && r.FromPort == 8080 && r.Result == "reaches web");
    }

    /// <summary>
    /// A prefix that holds one node's address and not the reference's tells them apart, though no entry names either: b's
    /// host drops VXLAN from 10.9.0.12/30 (c and d), so d's routing mesh cannot reach b's tasks, though a's can.
    /// </summary>
    [Fact]
    public void A_prefix_holding_the_node_and_not_the_reference_refuses_it()
    {
        var yaml = FourNode + "rules:\n  - node: b\n    table: filter\n    chain: INPUT\n    rule: -s 10.9.0.12/30 -p udp --dport 4789 -j DROP\n    position: insert\n";
        var (topology, plan) = Compile("four.swarm.yaml", yaml);
        var sharing = NodeDestinationSharing.For(new Simulation(plan, 5).Cluster);
        Assert.Contains("prefix 10.9.0.12/30", sharing.WhyNot("a", "d"), StringComparison.Ordinal);
        var (alone, _) = Table(topology, plan, share: false);
        var (shared, _) = Table(topology, plan, share: true);
        Same(alone, shared, "b dropping VXLAN from 10.9.0.12/30");
        // Not vacuous: some class of d's own ends at b's rule, where a's reaches.
        Assert.Contains(shared, r => r.Destination == "d" && r.Cause is { } cause && cause.Contains("at b/host", StringComparison.Ordinal));
    }

    /// <summary>
    /// Found by a black-box tester (session 13), each a table that differed when nodes took the reference's classes: a SNAT
    /// to a fixed port (a class a node probes clashed, in its own sweep, with the conntrack entry a taken class left); a raw
    /// SNAT to each node's own address before a source-hashing balancer (the reference's pick hashed the reference's
    /// address); a raw DNAT without MASQUERADE (the reply reaches the client from elsewhere, and its explanation names the
    /// client's ephemeral port, which a node's own probes take otherwise); a service publishing the VXLAN port (what the
    /// hosts do with a datagram to it depends on its source port). Each now refuses every node, and the tables are equal.
    /// </summary>
    [Theory]
    [InlineData("clash1", "a raw rule translates addresses")]
    [InlineData("snatown2", "a raw rule translates addresses")]
    [InlineData("asym", "a raw rule translates addresses")]
    [InlineData("min2", "the data path port")]
    public void What_a_tester_found_refuses_every_node_and_the_table_is_each_nodes_own(string name, string why)
    {
        var file = System.IO.Path.Combine(Paths.Root, "tests", "Runtime.Tests", "Insight", "Found", name + ".swarm.yaml");
        foreach (var backend in new[] { LoadBalancerBackend.Ipvs, LoadBalancerBackend.Nftables })
        {
            var (topology, plan) = Compile(file, System.IO.File.ReadAllText(file), backend);
            var sharing = NodeDestinationSharing.For(new Simulation(plan, 5).Cluster);
            Assert.Contains(why, sharing.WhyNot(topology.Nodes[0].Name, topology.Nodes[1].Name), StringComparison.Ordinal);
            var (alone, _) = Table(topology, plan, share: false);
            var (shared, counters) = Table(topology, plan, share: true);
            Same(alone, shared, name + " " + backend);
            Assert.Equal(0, counters.TakenDestinations);
            foreach (var node in topology.Nodes)
                Same(alone.Where(r => r.Source == node.Name).ToList(), Table(topology, plan, share: true, include: p => p.Source == node.Name).Rows, name + " --from " + node.Name);
        }
    }

    /// <summary>
    /// Random raw rules on random nodes' hosts (addresses of nodes, of the outside client and prefixes holding some of them,
    /// published, host-mode and VXLAN ports, connection states; DROP, REJECT, ACCEPT, RETURN in the chains the routing mesh
    /// passes): whatever they do, the table with the reference's classes taken is each node's own, and each node's own
    /// question's. Without the prefix check or the comparison of the nodes' namespaces, a difference shows within these rounds.
    /// </summary>
    [Fact]
    public void Random_host_rules_never_make_a_table_taken_from_the_reference_differ()
    {
        var random = new Random(20261127);
        var chains = new[] { ("filter", "INPUT"), ("filter", "FORWARD"), ("filter", "DOCKER-USER"), ("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("filter", "OUTPUT") };
        var addresses = new[] { "10.9.0.10/32", "10.9.0.11/32", "10.9.0.12/32", "10.9.0.13/32", "10.9.0.254/32", "10.9.0.10/31", "10.9.0.12/30", "10.255.0.0/16", "10.9.0.0/24" };
        var ports = new[] { "8080", "9000", "4789", "30000", "8443:8444", "1:1024", "5432" };
        int taken = 0, refused = 0, takenFromNodes = 0;
        for (int round = 0; round < 24; round++)
        {
            var rules = RandomRules.Write(random, chains, addresses, ports, statistic: false, most: 2);
            var (topology, plan) = Compile("random.swarm.yaml", FourNode + "rules:\n" + rules, round % 2 == 0 ? LoadBalancerBackend.Ipvs : LoadBalancerBackend.Nftables);
            var (alone, _) = Table(topology, plan, share: false);
            var (shared, counters) = Table(topology, plan, share: true);
            Same(alone, shared, "round " + round + " (rules:\n" + rules + ")");
            taken += (int)counters.TakenDestinations;
            if (counters.TakenDestinations < 3) refused++;
            // A node's own question: its first other node is the reference.
            var node = ((char)('a' + random.Next(4))).ToString();
            var (fromNode, nodeCounters) = Table(topology, plan, share: true, include: p => p.Source == node);
            Same(alone.Where(r => r.Source == node).ToList(), fromNode, "round " + round + " --from " + node + " (rules:\n" + rules + ")");
            takenFromNodes += (int)nodeCounters.TakenDestinations;
        }
        Assert.True(taken > 0 && refused > 0 && takenFromNodes > 0, taken + " nodes took, " + refused + " rounds with a node refused, " + takenFromNodes + " took from a node's reference");
    }

    /// <summary>
    /// The walk of a class whose backend is a task of the reference or of the node cannot be taken (the node's own task is
    /// local there, the reference's remote): the reference's walks note the keys they looked up, and those classes are
    /// probed. A single-task service on the node itself shows it.
    /// </summary>
    [Fact]
    public void A_class_whose_backend_is_the_nodes_own_task_is_probed_there()
    {
        var yaml = FourNode.Replace("  db:\n    replicas: 2\n", "  db:\n    replicas: 1\n    placement: { nodes: [c] }\n", StringComparison.Ordinal);
        Assert.NotEqual(FourNode, yaml);
        var (topology, plan) = Compile("four.swarm.yaml", yaml);
        var sim = new Simulation(plan, 5);
        var sharing = NodeDestinationSharing.For(sim.Cluster);
        Assert.Null(sharing.WhyNot("a", "c"));
        var request = new PathRecord { NotesKeys = true };
        var reply = new PathRecord { NotesKeys = true };
        Assert.True(sim.TryResolve("external", "a:5432/tcp", out var flow, out var error), error);
        sim.ConnectRecorded(flow, request, reply);
        var touched = sharing.Touched(request, reply, "a");
        var c = plan.Hosts.Select(h => h.Node).ToList().IndexOf("c");
        Assert.Contains(c, touched);
        Assert.False(sharing.To("a", "c")!.Takes(SwarmDsl.Net.IpProtocol.Tcp, 5432, 5432, touched));
        Assert.True(sharing.To("a", "b")!.Takes(SwarmDsl.Net.IpProtocol.Tcp, 5432, 5432, touched));
        var (alone, _) = Table(topology, plan, share: false);
        var (shared, _) = Table(topology, plan, share: true);
        Same(alone, shared, "db on c");

        // Where it matters: db's task drops what comes from c's own ingress sandbox. From a's the mesh reaches db; c's own
        // routing mesh, which sends from its sandbox's address, does not. Taking a's class would say it reaches.
        var sandbox = plan.Hosts.Single(h => h.Node == "c").Namespaces.Single(n => n.Name == "ingress_sbox");
        var leg = sandbox.Devices.Single(d => d.Peer is { Namespace: "1-ingress" }).Name;
        var own = sandbox.Addresses.First(a => a.Device == leg).Address.Address;
        var (dropping, droppingPlan) = Compile("four.swarm.yaml", yaml
            + "rules:\n  - node: c\n    namespace: db.1\n    table: filter\n    chain: INPUT\n    rule: -s " + own + "/32 -j DROP\n    position: insert\n");
        Assert.Null(NodeDestinationSharing.For(new Simulation(droppingPlan, 5).Cluster).WhyNot("a", "c"));
        var (droppingAlone, _) = Table(dropping, droppingPlan, share: false);
        var (droppingShared, counters) = Table(dropping, droppingPlan, share: true);
        Same(droppingAlone, droppingShared, "db on c dropping c's sandbox");
        Assert.True(counters.TakenDestinations > 0);
        static string At(List<ReachRow> rows, string to) => rows.Single(r => r.Source == "external" && r.Destination == to && r.Protocol == "tcp" && r.FromPort <= 5432 && 5432 <= r.ToPort).Result;
        Assert.Equal("reaches db", At(droppingShared, "a"));
        Assert.Equal("blocked", At(droppingShared, "c"));
    }

    /// <summary>
    /// A routing mesh's destination-hashing balancer (IPVS <c>dh</c>, nftables <c>jhash ip daddr</c>) hashes the address the
    /// host's DNAT sent the packet to, the ingress sandbox's gateway-bridge address, which is the same on every node: the
    /// same balancer with the same backends picks the same task, so a node takes those classes as it takes round robin's.
    /// </summary>
    [Theory]
    [InlineData(LoadBalancerBackend.Ipvs)]
    [InlineData(LoadBalancerBackend.Nftables)]
    public void A_destination_hash_of_an_address_every_node_shares_is_taken_like_round_robin(LoadBalancerBackend backend)
    {
        // Off the reference (a), so that whichever task a pick gives, another node than its own takes the class.
        const string db = "  db:\n    replicas: 2\n";
        Assert.Contains(db, FourNode, StringComparison.Ordinal);
        string Db(string scheduler) => FourNode.Replace(db, db + "    placement: { nodes: [c, d] }\n    loadBalancing: { scheduler: " + scheduler + " }\n", StringComparison.Ordinal);
        var (dh, dhPlan) = Compile("four.swarm.yaml", Db("dh"), backend);
        var (rr, rrPlan) = Compile("four.swarm.yaml", Db("rr"), backend);
        Assert.Contains(dhPlan.Hosts.SelectMany(h => h.Namespaces), n => n.Ipvs.Any(v => v.Scheduler == Scheduler.Dh)
            || n.NftLoadBalancers.Any(b => b.Pick == NftPick.DestinationHash));
        var (dhAlone, _) = Table(dh, dhPlan, share: false);
        var (dhShared, dhCounters) = Table(dh, dhPlan, share: true);
        Same(dhAlone, dhShared, "db by dh");
        var (_, rrCounters) = Table(rr, rrPlan, share: true);
        Assert.True(rrCounters.TakenClasses > 0);
        Assert.Equal(rrCounters.TakenClasses, dhCounters.TakenClasses);
    }

    /// <summary>
    /// A class whose backend is the reference's own task cannot be taken from the reference (local there, remote from the
    /// others); the second node swept probes it, from afar, as the others would, and they take its walk. A single-task
    /// service on the reference shows it.
    /// </summary>
    [Fact]
    public void A_class_ending_at_the_references_own_task_is_taken_from_the_second_reference()
    {
        var yaml = FourNode.Replace("  db:\n    replicas: 2\n", "  db:\n    replicas: 1\n    placement: { nodes: [a] }\n", StringComparison.Ordinal);
        Assert.NotEqual(FourNode, yaml);
        var (topology, plan) = Compile("four.swarm.yaml", yaml);
        var (alone, _) = Table(topology, plan, share: false);
        var (shared, counters) = Table(topology, plan, share: true);
        Same(alone, shared, "db on the reference");
        Assert.True(counters.TakenFromSecond > 0, "nothing was taken from the second reference");
        foreach (var node in new[] { "a", "b", "c", "d" })
            Assert.Equal("reaches db", shared.Single(r => r.Source == "external" && r.Destination == node && r.Protocol == "tcp" && r.FromPort <= 5432 && 5432 <= r.ToPort).Result);
        var (fromNode, nodeCounters) = Table(topology, plan, share: true, include: p => p.Source == "c");
        Same(alone.Where(r => r.Source == "c").ToList(), fromNode, "--from c");
        Assert.True(nodeCounters.TakenFromSecond > 0, "--from c took nothing from its second reference");
    }
}
