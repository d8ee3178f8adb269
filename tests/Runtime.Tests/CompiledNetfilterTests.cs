using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using CsCheck;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>
/// The generated netfilter (chains as methods, rules as straight-line ifs) and forwarding (route decisions, permanent FDB
/// entries as switches) against the interpreter: the same plan, the same seed, the same random connections must give the
/// same text traces.
/// </summary>
public partial class CompiledNetfilterTests
{
    private static readonly Dictionary<string, (ICompiledNetfilter Netfilter, ICompiledForwarding Forwarding)> Compiled = new(StringComparer.Ordinal);

    private static DataplanePlan ThreeNode()
    {
        var path = Path.Combine(Paths.Root, "tests", "Dsl.Tests", "Topologies", "three-node.swarm.yaml");
        var result = SwarmCompiler.CompileToPlan(path, File.ReadAllText(path), new LoweringOptions(LoadBalancerBackend.Ipvs));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    /// <summary>
    /// The example with raw rules that make DOCKER-USER two runs of port-keyed rules (compiled to a dispatch on the ports)
    /// around a rule whose statistic match comes before its port (not keyed: nth counts every evaluation), with
    /// non-terminal targets, repeated keys, both port sides, UDP, a jump and a RETURN inside the runs.
    /// </summary>
    private static DataplanePlan KeyedRuns()
    {
        var rules = new[]
        {
            "-p tcp --dport 8080 -j MARK --set-mark 0x1", "-p tcp --sport 8080 -j MARK --set-mark 0x2", "-p udp --dport 8080 -j DROP",
            "-p tcp --dport 9 -j DROP", "-p tcp --dport 8080 -m mark --mark 0x1 -j LOG --log-prefix keyed", "-p tcp --sport 80 -j MARK --set-mark 0x3",
            "-p tcp --dport 80 -s 10.255.0.0/16 -j RETURN", "-p udp --sport 53 -j ACCEPT", "-p tcp --dport 8080 -m statistic --mode nth --every 3 --packet 1 -j ACCEPT",
            "-p tcp --dport 22 -j REJECT",
            "-m statistic --mode nth --every 2 --packet 0 -p tcp --dport 8080 -j MARK --set-mark 0x4",
            "-p tcp --dport 8080 -m mark --mark 0x4 -j DOCKER-INGRESS", "-p tcp --sport 8080 -j MARK --set-mark 0x5", "-p tcp --dport 8080 -m mark --mark 0x5 -j RETURN",
            "-p tcp --dport 7 -j DROP", "-p udp --dport 7 -j DROP", "-p tcp --sport 7 -j DROP", "-p tcp --dport 8080 -m statistic --mode random --probability 0.5 -j ACCEPT",
            "-p tcp --sport 8080 -m conntrack --ctstate ESTABLISHED -j ACCEPT", "-p tcp --dport 80 -j MARK --set-mark 0x6",
            // A run of address-keyed rules (as ingress_sbox's mangle INPUT has one -d VIP/32 per service): both sides, a
            // repeated key, a negated /32 and a /16 (not keyed, they end the run), a RETURN and a statistic after the key.
            "-d 10.255.0.5/32 -j MARK --set-mark 0x11", "-s 10.255.0.3/32 -j MARK --set-mark 0x12", "-d 172.18.0.2/32 -j MARK --set-mark 0x13",
            "-d 10.255.0.5/32 -m mark --mark 0x11 -j LOG --log-prefix vip", "-s 172.18.0.1/32 -d 10.255.0.6/32 -j RETURN",
            "-d 10.255.0.4/32 -m statistic --mode nth --every 2 --packet 0 -j MARK --set-mark 0x14", "-s 10.7.191.254/32 -j MARK --set-mark 0x15",
            "-d 10.7.191.9/32 -j MARK --set-mark 0x16", "-s 10.255.0.5/32 -p udp -j DROP", "-d 10.255.0.6/32 -j MARK --set-mark 0x17",
            "! -d 10.255.0.7/32 -j MARK --set-mark 0x18", "-d 10.255.0.0/16 -j MARK --set-mark 0x19",
            // Prefixes the forwarded traffic does fall in (ingress_sbox's network, the underlay): never keyed as an address.
            "-d 172.18.0.0/16 -j MARK --set-mark 0x1a", "-s 10.7.191.0/24 -j MARK --set-mark 0x1b",
        };
        var yaml = File.ReadAllText(Paths.Example) + "\nrules:\n" + string.Concat(rules.Select(r => "  - { chain: DOCKER-USER, rule: \"" + r + "\" }\n"));
        var result = SwarmCompiler.CompileToPlan("keyed.swarm.yaml", yaml, new LoweringOptions(LoadBalancerBackend.Ipvs));
        Assert.True(result.Plan is not null && !result.HasErrors, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    /// <summary>A synthetic topology: three nodes, 40 published ports (a tenth UDP, some host mode), so every host and
    /// ingress_sbox has port-keyed chains long enough to be dispatched.</summary>
    private static DataplanePlan Synthetic() => SyntheticPlan(new SwarmDsl.Synthetic.SyntheticTopologyOptions
    {
        Name = "synthetic", Nodes = 3, Overlays = 2, Services = 12, Tasks = 24, PublishedPorts = 40, Seed = 5,
    });

    /// <summary>Enough tasks on one overlay that each node's VXLAN FDB has more entries than one generated method holds.</summary>
    private static DataplanePlan ManyEndpoints() => SyntheticPlan(new SwarmDsl.Synthetic.SyntheticTopologyOptions
    {
        Name = "many-endpoints", Nodes = 3, Overlays = 1, Services = 6, Tasks = 900, PublishedPorts = 6, Seed = 9,
    });

    private static DataplanePlan SyntheticPlan(SwarmDsl.Synthetic.SyntheticTopologyOptions options)
    {
        var yaml = SwarmDsl.Synthetic.SyntheticTopology.Generate(options);
        var result = SwarmCompiler.CompileToPlan(options.Name + ".swarm.yaml", yaml, new LoweringOptions(LoadBalancerBackend.Ipvs));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    private static readonly Dictionary<string, DataplanePlan> Plans = new(StringComparer.Ordinal);

    private static DataplanePlan PlanNamed(string name)
    {
        lock (Plans)
        {
            if (Plans.TryGetValue(name, out var plan)) return plan;
            return Plans[name] = name switch
            {
                "two-node ipvs" => ExamplePlans.Ipvs,
                "two-node nftables" => ExamplePlans.Nftables,
                "keyed runs" => KeyedRuns(),
                "synthetic" => Synthetic(),
                "many routes" => ManyRoutes(),
                "many endpoints" => ManyEndpoints(),
                _ => ThreeNode(),
            };
        }
    }

    private static string Source(DataplanePlan plan)
    {
        var w = new SourceWriter();
        w.WriteLine("#nullable enable");
        using (w.Block("namespace Differential"))
        {
            NetfilterEmitter.Write(w, plan, "CompiledNetfilter", publicType: true);
            w.WriteLine();
            ForwardingEmitter.Write(w, plan, "CompiledForwarding", publicType: true);
        }
        return w.ToString();
    }

    [Theory]
    [InlineData("keyed runs", 2)]
    [InlineData("synthetic", 5)] // 5 since placement breaks ties as swarmkit does (tasks spread differently over the nodes)
    public void Long_port_keyed_chains_become_dispatches(string name, int atLeast)
    {
        var source = Source(PlanNamed(name));
        int runs = source.Split('\n').Count(l => l.Contains("var byDestination = ", StringComparison.Ordinal));
        Assert.True(runs >= atLeast, runs + " dispatched runs");
    }

    [Theory]
    [InlineData("keyed runs", 1)]
    [InlineData("synthetic", 1)] // ingress_sbox's mangle INPUT: one -d VIP/32 MARK per publishing service
    public void Long_address_keyed_chains_become_dispatches(string name, int atLeast)
    {
        var source = Source(PlanNamed(name));
        int runs = source.Split('\n').Count(l => l.Contains("each for one address", StringComparison.Ordinal));
        Assert.True(runs >= atLeast, runs + " dispatched address runs");
    }

    /// <summary>Emits the plan's CompiledNetfilter, compiles it with warnings as errors and nullable on, loads it.</summary>
    private static ICompiledNetfilter Compile(DataplanePlan plan, string key) => CompileBoth(plan, key).Netfilter;

    /// <summary>The plan's CompiledForwarding (emitted and compiled with its CompiledNetfilter).</summary>
    private static ICompiledForwarding CompileForwarding(DataplanePlan plan, string key) => CompileBoth(plan, key).Forwarding;

    private static (ICompiledNetfilter Netfilter, ICompiledForwarding Forwarding) CompileBoth(DataplanePlan plan, string key)
    {
        lock (Compiled)
        {
            if (Compiled.TryGetValue(key, out var done)) return done;
            var tree = CSharpSyntaxTree.ParseText(Source(plan), new CSharpParseOptions(LanguageVersion.CSharp8));
            var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                .Concat(new[] { typeof(Cluster).Assembly.Location, typeof(DataplanePlan).Assembly.Location })
                .Distinct(StringComparer.Ordinal)
                .Select(p => MetadataReference.CreateFromFile(p));
            var compilation = CSharpCompilation.Create("Differential" + Math.Abs(key.GetHashCode()), new[] { tree }, refs,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
                    generalDiagnosticOption: ReportDiagnostic.Error, warningLevel: 9999));
            using var ms = new MemoryStream();
            var emit = compilation.Emit(ms);
            var problems = emit.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
            Assert.True(emit.Success && problems.Count == 0, string.Join("\n", problems.Take(20)));
            var asm = Assembly.Load(ms.ToArray());
            var nf = (ICompiledNetfilter)Activator.CreateInstance(asm.GetType("Differential.CompiledNetfilter")!)!;
            var fwd = (ICompiledForwarding)Activator.CreateInstance(asm.GetType("Differential.CompiledForwarding")!)!;
            return Compiled[key] = (nf, fwd);
        }
    }

    /// <summary>The named plan, its compiled netfilter, and the addresses, ports and namespace count random packets draw from.</summary>
    private static (DataplanePlan Plan, ICompiledNetfilter Netfilter, ICompiledForwarding Forwarding, Ipv4Address[] Addresses, int[] Ports, int Namespaces) Setup(string name)
    {
        var plan = PlanNamed(name);
        var (nf, fwd) = CompileBoth(plan, name);
        return (plan, nf, fwd, Addresses(plan), Ports(plan), new Simulation(plan).Cluster.Namespaces.Count);
    }

    /// <summary>A simulation with the compiled netfilter and forwarding attached (the generated pipeline's CreateSimulation).</summary>
    private static Simulation CompiledSimulation(DataplanePlan plan, uint seed, ICompiledNetfilter nf, ICompiledForwarding fwd)
    {
        var sim = new Simulation(plan, seed);
        sim.Cluster.AttachNetfilter(nf);
        sim.Cluster.AttachForwarding(fwd);
        return sim;
    }

    private static int TableCount(DataplanePlan plan) => plan.Hosts.Sum(h => h.Namespaces.Sum(n => n.Tables.Count));

    [Theory]
    [InlineData("two-node ipvs")]
    [InlineData("two-node nftables")]
    [InlineData("three-node")]
    [InlineData("keyed runs")]
    [InlineData("synthetic")]
    public void Generated_source_compiles_warning_free_and_takes_over_every_table(string name)
    {
        var plan = PlanNamed(name);
        var nf = Compile(plan, name);
        var sim = new Simulation(plan);
        Assert.True(TableCount(plan) > 0);
        Assert.Equal(TableCount(plan), sim.Cluster.AttachNetfilter(nf));
    }

    [Fact]
    public void Code_generated_for_another_plan_is_refused()
    {
        var ipvs = Compile(ExamplePlans.Ipvs, "two-node ipvs");
        var sim = new Simulation(ExamplePlans.Nftables);
        var error = Assert.Throws<InvalidOperationException>(() => sim.Cluster.AttachNetfilter(ipvs));
        Assert.Contains("generated for plan " + PlanFingerprint.Compute(ExamplePlans.Ipvs), error.Message, StringComparison.Ordinal);
        Assert.Contains("this cluster runs plan " + PlanFingerprint.Compute(ExamplePlans.Nftables), error.Message, StringComparison.Ordinal);
        Assert.NotEqual(PlanFingerprint.Compute(ExamplePlans.Ipvs), PlanFingerprint.Compute(ExamplePlans.Nftables));
        // Nothing was attached: the cluster still interprets every table.
        Assert.Equal(TableCount(ExamplePlans.Nftables), sim.Cluster.AttachNetfilter(Compile(ExamplePlans.Nftables, "two-node nftables")));
    }

    [Fact]
    public void Fingerprint_ignores_file_names_and_locations_but_not_content()
    {
        var text = File.ReadAllText(Paths.Example);
        var a = SwarmCompiler.CompileToPlan("/somewhere/two-node.swarm.yaml", text).Plan!;
        var b = SwarmCompiler.CompileToPlan("elsewhere.swarm.yaml", "# a comment shifts every line\n" + text).Plan!;
        var c = SwarmCompiler.CompileToPlan("two-node.swarm.yaml", text.Replace("replicas: 2", "replicas: 3")).Plan!;
        Assert.Equal(PlanFingerprint.Compute(a), PlanFingerprint.Compute(b));
        Assert.NotEqual(PlanFingerprint.Compute(a), PlanFingerprint.Compute(c));
        Assert.Matches("^two-node/[0-9a-f]{16}$", PlanFingerprint.Compute(a));
    }

    [Theory]
    [InlineData("two-node ipvs")]
    [InlineData("two-node nftables")]
    [InlineData("three-node")]
    [InlineData("keyed runs")]
    [InlineData("synthetic")]
    [InlineData("many routes")]
    public void Compiled_and_interpreted_netfilter_give_identical_traces(string name)
    {
        var (plan, nf, fwd, addresses, ports, namespaces) = Setup(name);
        var gFlow = Gen.Select(Gen.Int[-1, namespaces - 1], Gen.Int[0, addresses.Length - 1], Gen.Int[0, 2], Gen.Int[0, ports.Length], Gen.Int[1, 65535], Gen.Int[1, 3]);
        // After flow `ageAt` five minutes pass (learned FDB entries age out, permanent ones stay: the compiled switch must
        // keep agreeing); after flow `resetAt` both simulations reset (FDBs that learned are rebuilt and re-attached).
        var gCase = Gen.Select(Gen.UInt, gFlow.Array[1, 8], Gen.Int[0, 9], Gen.Int[0, 9]);
        // CsCheck samples on several threads at once, so the count of connections is kept with Interlocked.
        int connections = 0;
        gCase.Sample((seed, flows, ageAt, resetAt) =>
        {
            var interpreted = new Simulation(plan, seed);
            var compiled = CompiledSimulation(plan, seed, nf, fwd);
            for (int i = 0; i < flows.Length; i++)
            {
                var (src, dst, proto, portIndex, randomPort, count) = flows[i];
                var a = Run(interpreted, plan, addresses, ports, src, dst, proto, portIndex, randomPort, count);
                var b = Run(compiled, plan, addresses, ports, src, dst, proto, portIndex, randomPort, count);
                if (a != b) throw new Exception("traces differ:\n--- interpreted\n" + a + "\n--- compiled\n" + b);
                System.Threading.Interlocked.Add(ref connections, count);
                if (i == ageAt) { interpreted.Advance(TimeSpan.FromSeconds(301)); compiled.Advance(TimeSpan.FromSeconds(301)); }
                if (i == resetAt) { interpreted.Reset(); compiled.Reset(); }
            }
            var ca = Counters(interpreted, plan);
            var cb = Counters(compiled, plan);
            if (ca != cb) throw new Exception("rule counters differ:\n--- interpreted\n" + ca + "\n--- compiled\n" + cb);
        }, iter: 250);
        Assert.True(connections >= 1000, connections + " connections");
    }

    [Theory]
    [InlineData("keyed runs")]
    [InlineData("synthetic")]
    [InlineData("two-node ipvs")]
    public void Crafted_packets_with_both_ports_from_the_rules_give_identical_traces(string name)
    {
        // Connections use ephemeral source ports; here both ports come from the rules, so a packet can match a
        // destination-keyed and a source-keyed rule of one run, and the order they are tried in shows.
        var (plan, nf, fwd, addresses, ports, namespaces) = Setup(name);
        var gPacket = Gen.Select(Gen.Int[-1, namespaces - 1], Gen.Int[0, addresses.Length - 1], Gen.Int[0, addresses.Length - 1],
            Gen.Bool, Gen.Int[0, ports.Length - 1], Gen.Int[0, ports.Length - 1], Gen.Bool);
        // CsCheck samples on several threads at once, so the count of packets is kept with Interlocked.
        int packets = 0;
        Gen.Select(Gen.UInt, gPacket.Array[1, 10]).Sample((seed, list) =>
        {
            var interpreted = new Simulation(plan, seed);
            var compiled = CompiledSimulation(plan, seed, nf, fwd);
            foreach (var (src, from, to, udp, sport, dport, ack) in list)
            {
                var packet = new Packet
                {
                    Headers = new PacketHeaders
                    {
                        Protocol = udp ? IpProtocol.Udp : IpProtocol.Tcp, Source = addresses[from], Destination = addresses[to],
                        SourcePort = (ushort)ports[sport], DestinationPort = (ushort)ports[dport], Flags = ack ? TcpFlags.Ack : TcpFlags.Syn,
                        Ttl = 64, Seq = 1000,
                    },
                };
                int ns = src < 0 ? interpreted.Cluster.ExternalClient(plan.Underlay.ExternalClient).Index : src;
                if (src < 0) compiled.Cluster.ExternalClient(plan.Underlay.ExternalClient);
                var a = TextTraceRenderer.Render(interpreted.Send(ns, packet, "crafted"));
                var b = TextTraceRenderer.Render(compiled.Send(ns, packet, "crafted"));
                if (a != b) throw new Exception("traces differ:\n--- interpreted\n" + a + "\n--- compiled\n" + b);
                System.Threading.Interlocked.Increment(ref packets);
            }
        }, iter: 300);
        Assert.True(packets >= 1000, packets + " packets");
    }

    private static string Run(Simulation sim, DataplanePlan plan, Ipv4Address[] addresses, int[] ports, int src, int dst, int proto, int portIndex, int randomPort, int count)
    {
        var ns = src < 0 ? sim.Cluster.ExternalClient(plan.Underlay.ExternalClient) : sim.Cluster.Namespaces[src];
        var source = ns.PrimaryAddress() ?? Ipv4Address.FromBytes(127, 0, 0, 1);
        var protocol = proto switch { 0 => IpProtocol.Tcp, 1 => IpProtocol.Udp, _ => IpProtocol.Icmp };
        int port = portIndex < ports.Length ? ports[portIndex] : randomPort;
        var flow = new Flow(ns.Index, source, addresses[dst], protocol, protocol == IpProtocol.Icmp ? 0 : port, "random");
        return TextTraceRenderer.Render(sim.Connect(flow, count), "random", includeReplies: true);
    }

    /// <summary>Every rule's and policy's packet and byte counters (iptables -L -v), one line each.</summary>
    private static string Counters(Simulation sim, DataplanePlan plan)
    {
        var state = new SwarmDsl.Runtime.State.SimulatedDataplaneState(sim);
        var sb = new System.Text.StringBuilder();
        foreach (var h in plan.Hosts)
            foreach (var n in h.Namespaces)
                foreach (var t in n.Tables)
                    foreach (var c in t.Chains)
                        for (int i = -1; i < c.Rules.Count; i++)
                            sb.Append(h.Node).Append('/').Append(n.Name).Append(' ').Append(t.Name).Append(' ').Append(c.Name).Append(' ').Append(i)
                              .Append(' ').Append(state.RuleCounters(h.Node, n.Name, t.Name, c.Name, i)).Append('\n');
        return sb.ToString();
    }

    /// <summary>Every address the plan mentions, plus ones outside it.</summary>
    private static Ipv4Address[] Addresses(DataplanePlan plan)
    {
        var set = new SortedSet<uint> { Ipv4Address.FromBytes(8, 8, 8, 8).Value, plan.Underlay.ExternalClient.Value };
        foreach (var h in plan.Hosts)
        {
            set.Add(h.UnderlayAddress.Address.Value);
            foreach (var n in h.Namespaces)
            {
                foreach (var a in n.Addresses) set.Add(a.Address.Address.Value);
                foreach (var s in n.Ipvs) set.Add(s.Vip.Value);
                foreach (var t in n.Tables)
                    foreach (var c in t.Chains)
                        foreach (var r in c.Rules)
                        {
                            foreach (var m in r.Matches) if (m is AddressMatch am) set.Add(am.Prefix.Network.Value | (~am.Prefix.Mask & 1u));
                            if (r.Target is DnatTarget d) set.Add(d.Address.Value);
                        }
            }
        }
        return set.Select(v => new Ipv4Address(v)).ToArray();
    }

    /// <summary>Every port the plan's rules and listeners name.</summary>
    private static int[] Ports(DataplanePlan plan)
    {
        var set = new SortedSet<int> { 22, 80 };
        foreach (var h in plan.Hosts)
            foreach (var n in h.Namespaces)
            {
                foreach (var l in n.Listeners) set.Add(l.Port);
                foreach (var t in n.Tables)
                    foreach (var c in t.Chains)
                        foreach (var r in c.Rules)
                            foreach (var m in r.Matches)
                            {
                                if (m is PortMatch pm) { set.Add(pm.From); set.Add(pm.To); }
                                if (m is MultiportMatch mp) foreach (var p in mp.Ports) set.Add(p);
                            }
            }
        return set.ToArray();
    }
}
