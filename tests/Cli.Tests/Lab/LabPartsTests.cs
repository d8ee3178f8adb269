using System;
using System.Collections.Generic;
using System.Buffers.Binary;
using System.Linq;
using SwarmDsl.Cli.Lab;
using SwarmDsl.Collections;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;

namespace SwarmDsl.Tests.Lab;

/// <summary>The lab's parts that need no kernel: names, parsers of nft and iptables output, packets, outcome mapping.</summary>
public class LabPartsTests
{
    private const string Listing = """
        table ip filter { # handle 1
        	chain DOCKER-USER { # handle 4
        	}

        	chain FORWARD { # handle 2
        		type filter hook forward priority filter; policy accept;
        		 counter packets 0 bytes 0 jump DOCKER-USER # handle 9
        		 counter packets 0 bytes 0 jump DOCKER-FORWARD # handle 10
        	}

        	chain INPUT { # handle 3
        		type filter hook input priority filter; policy accept;
        	}
        }
        table ip swarmdsl { # handle 5
        	chain prerouting { # handle 1
        		type nat hook prerouting priority dstnat; policy accept;
        		meta mark 0x00000100 dnat to numgen inc mod 2 map { 0 : 10.255.0.5, 1 : 10.255.0.6 } comment "c" # handle 4
        	}
        }
        """;

    private const string Monitor = """
        trace id 9ad90bdf ip swarmdsl_lab pre packet: iif "eth0" ip saddr 10.7.191.254 ip daddr 10.7.191.10 tcp sport 11005 tcp dport 8080 tcp flags == syn
        trace id 9ad90bdf ip swarmdsl_lab pre rule tcp sport 11005 tcp flags & syn == syn meta nftrace set 1 comment "flow 0 request" # handle 3 (verdict continue)
        trace id 9ad90bdf ip swarmdsl_lab pre policy accept
        trace id 9ad90bdf ip filter FORWARD packet: iif "eth0" oif "docker_gwbridge" ip saddr 10.7.191.254 ip daddr 172.18.0.2 tcp sport 11005 tcp dport 8080 tcp flags == syn
        trace id 9ad90bdf ip filter FORWARD rule  counter packets 0 bytes 0 jump DOCKER-FORWARD # handle 10 (verdict jump DOCKER-FORWARD)
        trace id 9ad90bdf ip filter INPUT policy accept
        trace id 9ad90bdf ip swarmdsl prerouting rule meta mark 0x00000100 dnat to numgen inc mod 2 map { 0 : 10.255.0.5, 1 : 10.255.0.6 } comment "c" # handle 4 (verdict accept)
        trace id 73216dd5 ip filter FORWARD packet: iif "docker_gwbridge" oif "eth0" ip saddr 172.18.0.2 ip daddr 10.7.191.254 tcp sport 8080 tcp dport 11005 tcp flags == 0x12
        trace id 73216dd5 ip filter FORWARD rule  counter packets 0 bytes 0 jump DOCKER-USER # handle 9 (verdict jump DOCKER-USER)
        trace id 0badcafe ip filter FORWARD rule  counter packets 0 bytes 0 jump DOCKER-USER # handle 9 (verdict jump DOCKER-USER)
        """;

    [Fact]
    public void Paths_that_differ_only_in_how_requests_and_replies_interleave_are_the_same_by_direction()
    {
        string[] sim = { "→ nat PREROUTING #1 accept", "→ filter INPUT #1 drop", "← filter OUTPUT #5 drop" };
        string[] kernel = { "→ nat PREROUTING #1 accept", "← filter OUTPUT #5 drop", "→ filter INPUT #1 drop" };
        Assert.True(LabVerify.SameByDirection(kernel, sim));
        Assert.False(LabVerify.SameByDirection(sim, sim));
        Assert.False(LabVerify.SameByDirection(new[] { sim[1], sim[0], sim[2] }, sim));
        Assert.False(LabVerify.SameByDirection(kernel.Take(2).ToList(), sim));
    }

    [Fact]
    public void Rule_handles_become_positions_in_their_chain()
    {
        var index = NftRuleIndex.Parse(Listing.Replace("        ", ""));
        Assert.Equal(1, index.Position("filter", "FORWARD", 9));
        Assert.Equal(2, index.Position("filter", "FORWARD", 10));
        Assert.Equal(1, index.Position("swarmdsl", "prerouting", 4));
        Assert.Equal(0, index.Position("filter", "FORWARD", 4));
        Assert.Equal(0, index.RuleCount("filter", "INPUT"));
        Assert.Equal(0, index.RuleCount("filter", "DOCKER-USER"));
        Assert.Equal(-1, index.RuleCount("nat", "PREROUTING"));
    }

    [Fact]
    public void Trace_events_are_attributed_by_the_tracing_rule_and_by_inner_ports()
    {
        var index = NftRuleIndex.Parse(Listing.Replace("        ", ""));
        var flows = new[] { new TracedFlow(0, IpProtocol.Tcp, 11005) };
        var events = KernelTrace.Parse("ns", Monitor, index, flows).ToList();
        Assert.Equal(new[]
        {
            "filter FORWARD #2 jump DOCKER-FORWARD",
            "swarmdsl prerouting #1 accept",
            "filter FORWARD #1 jump DOCKER-USER",
        }, events.Select(e => e.Token));
        // The empty INPUT chain's accepting policy is left out (the simulation shows no policy for a chain without rules);
        // the reply is recognised by its destination port although its trace id is new; an unknown id is nobody's.
        Assert.Equal(new[] { false, false, true }, events.Select(e => e.Reply));
        Assert.All(events, e => Assert.Equal(0, e.Flow));
    }

    [Fact]
    public void The_tracing_table_matches_inner_and_encapsulated_packets_of_each_flow()
    {
        var script = KernelTrace.Script(new[] { new TracedFlow(0, IpProtocol.Tcp, 12000), new TracedFlow(1, IpProtocol.Udp, 12001) }, 4789);
        Assert.Contains("type filter hook prerouting priority -350; policy accept;", script, StringComparison.Ordinal);
        Assert.Contains("type filter hook output priority -350; policy accept;", script, StringComparison.Ordinal);
        Assert.Contains("tcp sport 12000 tcp flags & syn == syn limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 request\"", script, StringComparison.Ordinal);
        // Each once per rule, so once per namespace: a retransmitted SYN (nothing answered it) and its copies' answers are
        // not traced (a tester: verify called a DROP in DOCKER-USER a difference).
        // A reply is the SYN-ACK or the RST of a port nobody listens on (a tester's empty service: the kernel answered RST).
        // Only the RST that answers the SYN (RST|ACK, sequence 0), not one at the connection's teardown.
        Assert.Contains("tcp dport 12000 tcp flags & (syn | ack) == syn | ack limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 reply\"", script, StringComparison.Ordinal);
        Assert.Contains("tcp dport 12000 tcp flags & (rst | ack) == rst | ack tcp sequence 0 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 reply\"", script, StringComparison.Ordinal);
        Assert.Contains("udp dport 4789 @th,312,8 6 @th,416,16 12000 @th,504,8 & 0x12 == 0x12 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 reply\"", script, StringComparison.Ordinal);
        Assert.Contains("udp dport 4789 @th,312,8 6 @th,416,16 12000 @th,504,8 & 0x14 == 0x14 @th,432,32 0 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 reply\"", script, StringComparison.Ordinal);
        Assert.Contains("udp dport 4789 @th,312,8 6 @th,400,16 12000 @th,504,8 & 0x2 == 0x2 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 0 request\"", script, StringComparison.Ordinal);
        Assert.Contains("udp dport 12001 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 1 reply\"", script, StringComparison.Ordinal);
        Assert.Contains("udp dport 4789 @th,312,8 17 @th,400,16 12001 limit rate 1/hour burst 1 packets meta nftrace set 1 comment \"flow 1 request\"", script, StringComparison.Ordinal);
        Assert.Contains("icmp type { destination-unreachable, time-exceeded } @th,224,16 12000 meta nftrace set 1 comment \"flow 0 reply icmp\"", script, StringComparison.Ordinal);
        Assert.StartsWith("table ip swarmdsl_lab\ndelete table ip swarmdsl_lab\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Iptables_save_output_is_read_per_table_and_chain()
    {
        var tables = DriftDetector.ParseIptablesSave("""
            # Generated by iptables-save v1.8.9
            *nat
            :PREROUTING ACCEPT [0:0]
            :DOCKER - [0:0]
            -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
            -A DOCKER -i docker_gwbridge -j RETURN
            COMMIT
            *filter
            :FORWARD DROP [3:180]
            COMMIT
            """);
        Assert.Equal(new[] { "nat", "filter" }, tables.Keys);
        Assert.Equal("ACCEPT", tables["nat"].Chains["PREROUTING"]);
        Assert.Equal("-", tables["nat"].Chains["DOCKER"]);
        Assert.Equal(new[] { "PREROUTING", "DOCKER" }, tables["nat"].Rules.Select(r => r.Chain));
        Assert.Equal("DROP", tables["filter"].Chains["FORWARD"]);
        Assert.Empty(tables["filter"].Rules);
    }

    [Fact]
    public void Nft_json_rules_compare_without_handles()
    {
        const string a = """{"nftables": [{"metainfo": {"json_schema_version": 1}}, {"chain": {"family": "ip", "table": "swarmdsl", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"rule": {"family": "ip", "table": "swarmdsl", "chain": "prerouting", "handle": 4, "comment": "c", "expr": [{"accept": null}]}}]}""";
        var b = a.Replace("\"handle\": 4", "\"handle\": 9").Replace("\"handle\": 1", "\"handle\": 2");
        Assert.Equal(DriftDetector.NftRules(a), DriftDetector.NftRules(b));
        Assert.NotEqual(DriftDetector.NftRules(a), DriftDetector.NftRules(a.Replace("accept\": null", "drop\": null")));
        Assert.Empty(DriftDetector.NftRules(""));
    }

    [Theory]
    [InlineData("swlab-", true)]
    [InlineData("a", true)]
    [InlineData("", false)]
    [InlineData("-x", false)]
    [InlineData("x y", false)]
    [InlineData("x/..", false)]
    [InlineData("abcdefghijabcdefghijabcdefghijabc", false)]
    public void Prefixes_are_checked(string prefix, bool valid) => Assert.Equal(valid, LabNames.IsValidPrefix(prefix, out _));

    /// <summary>
    /// The lab refuses a sysctl outside net.*: a lab node is a network namespace of this machine, so kernel., vm. or fs.
    /// keys would change the machine itself (a tester's kernel.printk_ratelimit_burst outlived lab down). net.* keys pass.
    /// </summary>
    [Fact]
    public void The_lab_refuses_sysctls_that_belong_to_the_whole_machine()
    {
        static DataplanePlan With(string sysctl) => SwarmCompiler.Lower(SwarmCompiler.Compile("t.swarm.yaml", """
            version: 1
            name: t
            nodes:
              n1: { address: 10.20.0.1/24, role: manager }
            networks:
              ingress: { driver: overlay, ingress: true, subnet: 10.0.0.0/24 }
            services:
              web: { replicas: 1, networks: [ingress], ports: [ { published: 8080, target: 80 } ] }
            tuning:
              sysctls:

            """ + "    " + sysctl + "\n")).Plan!;
        // The compiler refuses keys outside net. (SWARM0028), so no topology brings one to the lab; the guard stays for plans
        // made otherwise.
        var refused = SwarmCompiler.Compile("t.swarm.yaml", "version: 1\nname: t\nnodes: { n1: { address: 10.20.0.1/24 } }\ntuning: { sysctls: { kernel.printk_ratelimit_burst: 11 } }\n");
        Assert.Contains(refused.Diagnostics, d => d.Id == "SWARM0028");
        var plan = With("net.ipv4.tcp_keepalive_time: 600");
        Assert.Null(LabUp.MachineWideSysctl(plan));
        // A plan made otherwise, with a key of the whole machine in its host namespace: refused, naming key and node.
        var host = plan.Hosts[0];
        var ns = host.Namespaces[0];
        var kernel = new SysctlPlan("kernel.printk_ratelimit_burst", "11", false, ns.Span);
        var made = plan with { Hosts = new[] { host with { Namespaces = new[] { ns with { Sysctls = ns.Sysctls.Append(kernel).ToEquatableArray() } }
            .Concat(host.Namespaces.Skip(1)).ToEquatableArray() } }.ToEquatableArray() };
        Assert.Contains("the lab cannot set kernel.printk_ratelimit_burst on node n1", LabUp.MachineWideSysctl(made), StringComparison.Ordinal);
    }

    /// <summary>
    /// Labs whose prefixes extend each other cannot both be up: lab "p-" with a node "n1" names its node's namespaces
    /// "p-n1-*", which is every name of lab "p-n1-" (a tester's down of one removed the other).
    /// </summary>
    [Fact]
    public void A_prefix_that_begins_or_extends_another_labs_is_refused()
    {
        Assert.Equal("p-", LabUp.Overlapping("p-n1-", new[] { "a-", "p-" }));
        Assert.Equal("p-n1-", LabUp.Overlapping("p-", new[] { "p-n1-" }));
        Assert.Null(LabUp.Overlapping("p-", new[] { "q-", "pp", "p-" }.Where(o => o != "p-")));
        Assert.Null(LabUp.Overlapping("lab1-", new[] { "lab2-", "lab-" }));
    }

    [Fact]
    public void Lab_namespaces_are_named_after_prefix_node_and_plan_namespace()
    {
        var names = new LabNames("p-");
        Assert.Equal("p-fabric", names.Fabric);
        Assert.Equal("p-client", names.Client);
        Assert.Equal("p-manager", names.Namespace("manager", "host"));
        Assert.Equal("p-manager-ingress_sbox", names.Namespace("manager", "ingress_sbox"));
        Assert.True(names.Owns("p-manager-web.1", new[] { "manager" }));
        Assert.False(names.Owns("p-managerx", new[] { "manager" }));
        Assert.False(names.Owns("q-manager", new[] { "manager" }));
        var plan = ExamplePlan();
        Assert.True(names.TryPlanNamespaces(plan, out var all, out _));
        Assert.Equal(10, all.Count); // fabric, client, and four namespaces on each node
        var clash = plan with { Hosts = plan.Hosts.Select(h => h.Node == "worker" ? h with { Node = "fabric" } : h).ToEquatableArray() };
        Assert.False(names.TryPlanNamespaces(clash, out _, out var error));
        Assert.Contains("p-fabric", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_oversized_packet_has_DF_its_length_and_a_valid_checksum()
    {
        foreach (var protocol in new[] { IpProtocol.Tcp, IpProtocol.Udp })
        {
            var src = Ipv4Address.Parse("10.7.191.254");
            var dst = Ipv4Address.Parse("10.7.191.10");
            var p = ClientProbe.BuildPacket(protocol, src, dst, 12345, 8080, 1500);
            Assert.Equal(1500, p.Length);
            Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(6)) & 0x4000);
            Assert.Equal((byte)protocol, p[9]);
            var l4 = p.AsSpan(20);
            uint sum = (src.Value >> 16) + (src.Value & 0xFFFF) + (dst.Value >> 16) + (dst.Value & 0xFFFF) + (uint)protocol + (uint)l4.Length;
            for (int i = 0; i + 1 < l4.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(i));
            while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
            Assert.Equal(0xFFFFu, sum);
        }
    }

    [Fact]
    public void Simulated_connections_become_what_the_client_would_see()
    {
        var plan = ExamplePlan();
        var sim = new Simulation(plan);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var mesh, out var e1), e1);
        Assert.Equal(new[] { "web.1", "web.2", "web.1" }, Enumerable.Range(0, 3).Select(_ => LabVerify.Outcome(sim.Connect(mesh, 1)[0])));
        // Nobody listens on 9999: the node answers the SYN with a reset; a UDP datagram with port unreachable.
        Assert.True(sim.TryResolve("external", "manager:9999/tcp", out var closed, out var e2), e2);
        Assert.Equal("refused", LabVerify.Outcome(sim.Connect(closed, 1)[0]));
        Assert.True(sim.TryResolve("external", "worker:9999/udp", out var closedUdp, out var e3), e3);
        Assert.Equal("refused", LabVerify.Outcome(sim.Connect(closedUdp, 1)[0]));
    }

    private static DataplanePlan ExamplePlan()
    {
        var result = SwarmCompiler.CompileToPlan(Paths.Example, System.IO.File.ReadAllText(Paths.Example), new LoweringOptions(LoadBalancerBackend.Nftables));
        return result.Plan ?? throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
    }

    /// <summary>
    /// Docker's neighbour thresholds are raise-only: a host above the plan's value is what apply leaves there, not drift; one
    /// below it is. Found in review: diff --live called a host's gc_thresh1 of 16384 changed.
    /// </summary>
    [Fact]
    public void A_raise_only_sysctl_above_the_plan_is_not_drift()
    {
        var plan = SwarmDsl.SwarmCompiler.CompileToPlan(Paths.Example, System.IO.File.ReadAllText(Paths.Example)).Plan!;
        var host = plan.Hosts[0].Namespaces.Single(n => n.Kind == SwarmDsl.Plan.NamespaceKind.Host);
        var raised = host with { Sysctls = host.Sysctls.Where(s => s.RaiseOnly).ToArray().ToEquatableArray() };
        Assert.Equal(3, raised.Sysctls.Count);
        List<string> Drifts(string gc1)
        {
            var found = new List<string>();
            var live = LiveNamespace.WithSysctls(raised.Sysctls.Select(s => new KeyValuePair<string, string?>(s.Key, s.Key.EndsWith("gc_thresh1", StringComparison.Ordinal) ? gc1 : s.Value)));
            DriftDetector.Sysctls(raised, live, (kind, what, detail) => found.Add(kind + " " + what + ": " + detail));
            return found;
        }
        Assert.Empty(Drifts("16384"));
        Assert.Empty(Drifts("8192"));
        Assert.Equal(new[] { "changed sysctl net.ipv4.neigh.default.gc_thresh1: plan 8192, live 1024" }, Drifts("1024"));
    }
}
