using System.IO;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Lowering;

/// <summary>Raw <c>rules:</c> on top of the example topology.</summary>
public class UserRuleTests
{
    private static string WithRules(string rules) => File.ReadAllText(Paths.Example) + "\nrules:\n" + rules;

    private static int LineOf(string yaml, string text) => yaml.Split('\n').ToList().FindIndex(l => l.Contains(text)) + 1;

    [Fact]
    public void A_rule_for_a_task_namespace_lands_only_where_the_task_runs()
    {
        var yaml = WithRules("""
              - namespace: web.2
                table: mangle
                chain: PREROUTING
                rule: "-p udp -m udp --dport 53 -j MARK --set-mark 0x7"
            """);
        var plan = LoweringFixtures.Plan("rules.swarm.yaml", yaml);
        var rule = Assert.Single(plan.Host("worker").Ns("web.2").Chain("mangle", "PREROUTING").Rules);
        Assert.Equal(new MarkTarget(7, 0xFFFF_FFFF), rule.Target);
        Assert.Equal(EquatableArray.Create<RuleMatch>(new ProtocolMatch(IpProtocol.Udp), new PortMatch(IpProtocol.Udp, Direction.Destination, 53, 53)), rule.Matches);
        Assert.Equal("rules[0]", rule.Origin);
        Assert.Equal(LineOf(yaml, "--set-mark 0x7"), rule.Span.StartLine);
        Assert.DoesNotContain(plan.Host("manager").Namespaces, n => n.Name == "web.2");
    }

    [Fact]
    public void Parsed_rules_keep_their_matches_and_target_and_print_back_the_same()
    {
        const string text = "-s 10.0.0.0/8 ! -i eth0 -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset";
        var plan = LoweringFixtures.Plan("rules.swarm.yaml", WithRules($"  - {{ chain: DOCKER-USER, rule: \"{text}\" }}\n"));
        var rule = Assert.Single(plan.Host("manager").Ns("host").Chain("filter", "DOCKER-USER").Rules);
        Assert.Equal(new RejectTarget(true), rule.Target);
        Assert.Contains(new MultiportMatch(Direction.Destination, EquatableArray.Create(80, 443)), rule.Matches);
        Assert.Contains(new InterfaceMatch(true, "eth0", true), rule.Matches);
        Assert.Equal(text, IptablesSyntax.FormatBody(rule.Matches, rule.Target));
    }

    [Fact]
    public void Inserted_user_rules_keep_declaration_order_above_derived_rules()
    {
        var yaml = WithRules("""
              - { namespace: ingress_sbox, table: nat, chain: POSTROUTING, position: insert, rule: "-d 10.255.0.9 -j RETURN" }
              - { namespace: ingress_sbox, table: nat, chain: POSTROUTING, position: insert, rule: "-d 10.255.0.8 -j RETURN" }
              - { namespace: ingress_sbox, table: nat, chain: POSTROUTING, rule: "-j ACCEPT" }
            """);
        var plan = LoweringFixtures.Plan("rules.swarm.yaml", yaml);
        foreach (var host in plan.Hosts)
            Assert.Equal(new[] { "rules[0]", "rules[1]", "networks.ingress", "rules[2]" },
                host.Ns("ingress_sbox").Chain("nat", "POSTROUTING").Rules.Select(r => r.Origin));
    }

    [Theory]
    [InlineData("-p tcp --dport 22")]
    [InlineData("--dport 22 -j ACCEPT")]
    [InlineData("-m bogus -j ACCEPT")]
    [InlineData("-A DOCKER-USER -j ACCEPT")]
    [InlineData("-m statistic --mode random --probability NaN -j ACCEPT")]
    public void Unparsable_rules_are_located_errors(string rule)
    {
        // The wording comes from the rule parser; lowering locates it and names the rule.
        var d = SingleRuleError(rule, out var yaml);
        Assert.Equal(LineOf(yaml, rule), d.Span.StartLine);
        Assert.StartsWith("rules[0]: ", d.Message);
    }

    [Theory]
    [InlineData("-p tcp --dport 22 -j NOPE-CHAIN", "does not have")]
    [InlineData("-j DNAT --to-destination 10.0.0.1", "nat table")]
    [InlineData("-j INPUT", "built-in")]
    [InlineData("-g DOCKER-USER", "its own chain DOCKER-USER: iptables refuses a table whose chains loop (ELOOP)")]
    [InlineData("-p tcp -j DOCKER-USER", "(ELOOP)")]
    public void Rules_that_parse_but_cannot_be_placed_are_located_errors(string rule, string message)
    {
        var d = SingleRuleError(rule, out var yaml);
        Assert.Equal(LineOf(yaml, rule), d.Span.StartLine);
        Assert.StartsWith("rules[0]: ", d.Message);
        Assert.Contains(message, d.Message);
    }

    private static SwarmDsl.Diagnostics.Diagnostic SingleRuleError(string rule, out string yaml)
    {
        yaml = WithRules($"  - chain: DOCKER-USER\n    rule: \"{rule}\"\n");
        var result = LoweringFixtures.Compile(yaml, "bad.swarm.yaml");
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics, x => x.IsError);
        Assert.Equal("SWARM0024", d.Id);
        return d;
    }

    [Fact]
    public void A_rule_for_a_namespace_missing_on_its_node_is_an_error()
    {
        var yaml = WithRules("  - { node: manager, namespace: web.2, chain: INPUT, rule: \"-j ACCEPT\" }\n");
        var result = LoweringFixtures.Compile(yaml);
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("SWARM0024", true), (d.Id, d.Message.Contains("does not exist on node 'manager'")));
    }

    [Fact]
    public void The_ingress_network_has_no_load_balancer_namespace_to_name_or_suggest()
    {
        // ingress_sbox balances the routing mesh (swarm-dataplane.md §2.2): a tester was offered lb_ingress for a misspelt
        // namespace, and naming it then failed in lowering.
        var yaml = WithRules("  - { namespace: nosuch, chain: INPUT, rule: \"-j ACCEPT\" }\n  - { namespace: lb_ingress, chain: INPUT, rule: \"-j ACCEPT\" }\n");
        var result = LoweringFixtures.Compile(yaml);
        Assert.Null(result.Plan);
        Assert.Equal(new[] { "SWARM0007", "SWARM0007" }, result.Diagnostics.Select(d => d.Id));
        Assert.All(result.Diagnostics, d => Assert.DoesNotContain("lb_ingress,", d.Message + ",", System.StringComparison.Ordinal));
        Assert.Contains("declared namespaces: host, ingress_sbox, ", result.Diagnostics[0].Message, System.StringComparison.Ordinal);
        Assert.StartsWith("unknown namespace 'lb_ingress'", result.Diagnostics[1].Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_built_in_chain_of_another_table_is_refused()
    {
        var result = LoweringFixtures.Compile(WithRules("  - { table: filter, chain: PREROUTING, rule: \"-j ACCEPT\" }\n"));
        Assert.Equal("SWARM0024", Assert.Single(result.Diagnostics).Id);
    }

    // ---- what iptables and the kernel refuse (KernelRuleLimits; each case was tried with iptables-restore 1.8.9 (nf_tables)
    // on Linux 6.18 in a throwaway network namespace) ----------------------------------------------------------------

    /// <summary>The one SWARM0024 a topology with these rules gets, checked to sit on the line and column of <paramref name="at"/>.</summary>
    private static SwarmDsl.Diagnostics.Diagnostic RefusedAt(string rules, string at)
    {
        var yaml = WithRules(rules);
        var result = LoweringFixtures.Compile(yaml, "refused.swarm.yaml");
        Assert.Null(result.Plan);
        var d = Assert.Single(result.Diagnostics, x => x.IsError);
        Assert.Equal("SWARM0024", d.Id);
        var line = LineOf(yaml, at);
        Assert.Equal((line, yaml.Split('\n')[line - 1].IndexOf(at, System.StringComparison.Ordinal) + 1), (d.Span.StartLine, d.Span.StartColumn));
        return d;
    }

    private static DataplanePlan Accepted(string rules)
    {
        var result = LoweringFixtures.Compile(WithRules(rules), "accepted.swarm.yaml");
        Assert.Empty(result.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()));
        return result.Plan!;
    }

    /// <summary>Rules refused wherever they are reached from: table, chain, rule, what the message says.</summary>
    public static readonly TheoryData<string, string, string, string> RefusedInTheirChain = new()
    {
        { "nat", "PREROUTING", "-p tcp --dport 8080 -j DROP", "iptables refuses DROP in the nat table (\"The \"nat\" table is not intended for filtering" },
        { "nat", "NATCHECK", "-j DROP", "iptables refuses DROP in the nat table" },
        { "mangle", "PREROUTING", "-p udp --dport 9 -j REJECT", "the kernel refuses REJECT outside the filter table" },
        { "mangle", "INPUT", "-p udp --dport 9 -j REJECT", "set table: filter and use chain INPUT, FORWARD or OUTPUT" },
        { "raw", "PREROUTING", "-j REJECT", "REJECT outside the filter table" },
        { "nat", "OUTPUT", "-p tcp -j REJECT --reject-with tcp-reset", "REJECT outside the filter table" },
        { "filter", "INPUT", "-o eth0 -j ACCEPT", "iptables refuses -o in INPUT (\"Can't use -o with INPUT\")" },
        { "nat", "PREROUTING", "-o eth0 -j ACCEPT", "Can't use -o with PREROUTING" },
        { "filter", "OUTPUT", "-i eth0 -j DROP", "iptables refuses -i in OUTPUT (\"Can't use -i with OUTPUT\")" },
        { "nat", "POSTROUTING", "-i eth0 -j ACCEPT", "Can't use -i with POSTROUTING" },
        { "nat", "PREROUTING", "-p tcp --dport 8080 -j MASQUERADE", "the kernel refuses MASQUERADE in nat PREROUTING: MASQUERADE works only in nat POSTROUTING (iptables-restore: RULE_APPEND failed (Invalid argument)); put it in chain POSTROUTING" },
        { "nat", "OUTPUT", "-j MASQUERADE", "refuses MASQUERADE in nat OUTPUT" },
        { "nat", "INPUT", "-j MASQUERADE", "refuses MASQUERADE in nat INPUT" },
        { "nat", "POSTROUTING", "-p tcp --dport 9 -j DNAT --to-destination 10.1.1.10", "the kernel refuses DNAT in nat POSTROUTING: DNAT works only in nat PREROUTING and OUTPUT (iptables-restore: RULE_APPEND failed (Invalid argument)); put it in chain PREROUTING or OUTPUT" },
        { "nat", "INPUT", "-p tcp -j DNAT --to-destination 10.1.1.10", "refuses DNAT in nat INPUT" },
        { "nat", "POSTROUTING", "-p tcp -j REDIRECT --to-ports 80", "refuses REDIRECT in nat POSTROUTING" },
        { "nat", "PREROUTING", "-j SNAT --to-source 10.1.1.10", "SNAT works only in nat INPUT and POSTROUTING" },
        { "nat", "OUTPUT", "-j SNAT --to-source 10.1.1.10", "refuses SNAT in nat OUTPUT" },
    };

    [Theory]
    [MemberData(nameof(RefusedInTheirChain))]
    public void Rules_iptables_or_the_kernel_refuse_in_their_chain_are_located_errors(string table, string chain, string rule, string message)
    {
        var d = RefusedAt($"  - table: {table}\n    chain: {chain}\n    rule: \"{rule}\"\n", "\"" + rule);
        Assert.StartsWith("rules[0]: ", d.Message);
        Assert.Contains(message, d.Message);
    }

    /// <summary>Their neighbours the kernel takes: table, chain, rule.</summary>
    public static readonly TheoryData<string, string, string> AcceptedInTheirChain = new()
    {
        { "filter", "INPUT", "-p udp --dport 9 -j REJECT" },
        { "filter", "FORWARD", "-p tcp -j REJECT --reject-with tcp-reset" },
        { "filter", "OUTPUT", "-p udp -j REJECT" },
        { "nat", "PREROUTING", "-p tcp --dport 81 -j DNAT --to-destination 10.1.1.10:80" },
        { "nat", "OUTPUT", "-p tcp --dport 81 -j DNAT --to-destination 10.1.1.10" },
        { "nat", "PREROUTING", "-p tcp --dport 81 -j REDIRECT --to-ports 80" },
        { "nat", "OUTPUT", "-p tcp --dport 81 -j REDIRECT --to-ports 80" },
        { "nat", "POSTROUTING", "-s 10.0.9.0/24 -j MASQUERADE" },
        { "nat", "POSTROUTING", "-s 10.0.9.0/24 -j SNAT --to-source 10.1.1.10" },
        { "nat", "INPUT", "-s 10.0.9.0/24 -j SNAT --to-source 10.1.1.10" },
        { "nat", "PREROUTING", "-p tcp --dport 81 -j ACCEPT" },
        { "mangle", "PREROUTING", "-p udp -j DROP" },
        { "raw", "PREROUTING", "-p udp --dport 4789 -j DROP" },
        { "raw", "OUTPUT", "-j TRACE" },
        { "filter", "FORWARD", "-i eth0 -o eth1 -j ACCEPT" },
        { "filter", "INPUT", "-i eth0 -j ACCEPT" },
        { "filter", "OUTPUT", "-o eth0 -j ACCEPT" },
    };

    [Theory]
    [MemberData(nameof(AcceptedInTheirChain))]
    public void Their_neighbours_the_kernel_accepts_are_placed(string table, string chain, string rule)
    {
        var plan = Accepted($"  - {{ node: manager, table: {table}, chain: {chain}, rule: \"{rule}\" }}\n");
        Assert.Contains(plan.Host("manager").Ns("host").Chain(table, chain).Rules, r => r.Origin == "rules[0]");
    }

    [Theory]
    [InlineData("-j")]
    [InlineData("-g")]
    public void A_target_is_checked_against_every_built_in_chain_that_reaches_its_user_chain(string jump)
    {
        // nat POSTROUTING may reach a MASQUERADE; PREROUTING may not, and the kernel blames the MASQUERADE rule itself.
        var d = RefusedAt($$"""
              - { table: nat, chain: POSTROUTING, rule: "-s 10.0.9.0/24 {{jump}} MYMASQ" }
              - { table: nat, chain: PREROUTING, rule: "-p tcp --dport 81 {{jump}} MYMASQ" }
              - { table: nat, chain: MYMASQ, rule: "-p tcp -j MASQUERADE" }
            """, "\"-p tcp -j MASQUERADE");
        Assert.Equal("rules[2]: the kernel refuses MASQUERADE in chain MYMASQ, which nat PREROUTING reaches: MASQUERADE works only in nat POSTROUTING (iptables-restore: RULE_APPEND failed (Invalid argument)); jump to MYMASQ only from POSTROUTING", d.Message);

        // Two chains down, from OUTPUT and PREROUTING: both are named.
        d = RefusedAt("""
              - { table: nat, chain: OUTPUT, rule: "-j OUTER" }
              - { table: nat, chain: PREROUTING, rule: "-j OUTER" }
              - { table: nat, chain: OUTER, rule: "-p tcp -j INNER" }
              - { table: nat, chain: INNER, rule: "-j SNAT --to-source 10.1.1.10" }
            """, "\"-j SNAT");
        Assert.Contains("SNAT in chain INNER, which nat PREROUTING and OUTPUT reach:", d.Message);
    }

    [Fact]
    public void User_chains_reached_only_from_allowed_hooks_or_from_none_are_placed()
    {
        var plan = Accepted("""
              - { node: manager, table: filter, chain: INPUT, rule: "-p udp -j MYREJECT" }
              - { node: manager, table: filter, chain: MYREJECT, rule: "-p udp --dport 9 -j REJECT" }
              - { node: manager, table: nat, chain: OUTPUT, rule: "-p tcp -j MYDNAT" }
              - { node: manager, table: nat, chain: MYDNAT, rule: "-p tcp --dport 81 -j DNAT --to-destination 10.1.1.10" }
              - { node: manager, table: nat, chain: POSTROUTING, rule: "-s 10.0.9.0/24 -g MYMASQ" }
              - { node: manager, table: nat, chain: MYMASQ, rule: "-j MASQUERADE" }
              - { node: manager, table: nat, chain: UNREACHED, rule: "-j MASQUERADE" }
              - { node: manager, table: filter, chain: MYOUT, rule: "-o eth0 -j ACCEPT" }
            """);
        var host = plan.Host("manager").Ns("host");
        Assert.Equal(new RejectTarget(), Assert.Single(host.Chain("filter", "MYREJECT").Rules).Target);
        Assert.Equal(new MasqueradeTarget(), Assert.Single(host.Chain("nat", "UNREACHED").Rules).Target);
    }

    /// <summary>C1 … C<paramref name="depth"/> below filter INPUT, each jumping (or going) to the next.</summary>
    private static string Nested(int depth, string jump = "-j", string from = "INPUT")
    {
        var sb = new System.Text.StringBuilder();
        if (from.Length > 0) sb.Append("  - { node: worker, chain: ").Append(from).Append(", rule: \"").Append(jump).Append(" C1\" }\n");
        for (int i = 1; i < depth; i++)
            sb.Append("  - { node: worker, chain: C").Append(i).Append(", rule: \"").Append(jump).Append(" C").Append(i + 1).Append("\" }\n");
        sb.Append("  - { node: worker, chain: C").Append(depth).Append(", rule: \"-p tcp --dport 22 -j DROP\" }\n");
        return sb.ToString();
    }

    [Theory]
    [InlineData("-j")]
    [InlineData("-g")]
    public void Chains_nest_at_most_15_deep_below_a_built_in_chain(string jump)
    {
        // nf_tables (NFT_JUMP_STACK_SIZE 16) takes C15 and refuses the rule in C15 that jumps to C16, "Too many links".
        var plan = Accepted(Nested(15, jump));
        Assert.Single(plan.Host("worker").Ns("host").Chain("filter", "C15").Rules);

        var d = RefusedAt(Nested(16, jump), $"\"{jump} C16\"");
        Assert.Equal("rules[15]: jumps from chain C15, 15 jumps below a built-in chain, to chain C16, which would sit 16 or more jumps below it: "
            + "iptables (nf_tables) allows at most 15 nested chains (iptables-restore: RULE_APPEND failed (Too many links)); flatten the chains (one chain can hold many rules)", d.Message);
        // Deeper still: only the rule that crosses the limit is blamed, as the kernel does.
        RefusedAt(Nested(20, jump), $"\"{jump} C16\"");
        // Nothing reaches the chains: the kernel does not validate them.
        Accepted(Nested(20, jump, from: ""));
    }

    [Fact]
    public void A_user_jump_into_docker_chains_counts_their_depth_too()
    {
        // DOCKER-FORWARD goes two chains further down (DOCKER-BRIDGE, then DOCKER): the kernel counts those levels too,
        // and the user's jump into them is the rule to blame.
        Accepted(Nested(12).Replace("-p tcp --dport 22 -j DROP", "-j DOCKER-FORWARD"));
        var d = RefusedAt(Nested(13).Replace("-p tcp --dport 22 -j DROP", "-j DOCKER-FORWARD"), "\"-j DOCKER-FORWARD\"");
        Assert.StartsWith("rules[13]: jumps from chain C13, 13 jumps below a built-in chain, to chain DOCKER-FORWARD,", d.Message);
    }

    [Fact]
    public void Every_derived_rule_of_the_examples_is_one_the_kernel_accepts()
    {
        // Lowering judges only user rules; the derived ones must pass the same tests, or lowering would be wrong.
        foreach (var plan in new[] { LoweringFixtures.Example(), LoweringFixtures.Example(LoadBalancerBackend.Nftables), LoweringFixtures.ThreeNode() })
        foreach (var host in plan.Hosts)
        foreach (var ns in host.Namespaces)
        foreach (var table in ns.Tables)
        {
            var views = table.Chains.Select(c => new SwarmDsl.Lowering.KernelRuleLimits.ChainView(c.Name, c.BuiltIn, c.Rules)).ToList();
            var problems = SwarmDsl.Lowering.KernelRuleLimits.PlacementProblems(table.Name, views, _ => true).Select(p => p.Problem).ToList();
            foreach (var chain in table.Chains)
            foreach (var rule in chain.Rules)
            {
                if (SwarmDsl.Lowering.KernelRuleLimits.TableProblem(table.Name, rule.Target) is { } t) problems.Add(t);
                if (chain.BuiltIn && SwarmDsl.Lowering.KernelRuleLimits.InterfaceProblem(chain.Name, rule.Matches) is { } i) problems.Add(i);
            }
            Assert.True(problems.Count == 0, $"{host.Node}/{ns.Name} {table.Name}: {string.Join("; ", problems)}");
        }
    }

    /// <summary>
    /// The same cases against the real iptables-restore (nf_tables) in a scratch namespace: what lowering refuses, the
    /// kernel refuses; the files lowering emits for their accepted neighbours (and 15 nested chains) load.
    /// </summary>
    [NetnsFact("iptables-restore")]
    public void The_kernel_agrees_on_every_case()
    {
        using var scratch = new ScratchNamespaces();
        var ns = scratch.Create("rules");
        ProcessResult Restore(string text) => ScratchNamespaces.Exec(ns, "iptables-restore", System.Array.Empty<string>(), text);
        static string Declare(string table, params string[] chains)
            => "*" + table + "\n" + string.Concat(chains.Where(c => !SwarmDsl.Lowering.NetfilterBuilder.IsBuiltInAnywhere(c)).Select(c => ":" + c + " - [0:0]\n"));

        foreach (var row in RefusedInTheirChain)
        {
            string table = (string)row[0], chain = (string)row[1], rule = (string)row[2];
            var r = Restore(Declare(table, chain) + $"-A {chain} {rule}\nCOMMIT\n");
            Assert.True(r.ExitCode != 0, $"iptables-restore took {table} {chain} {rule}");
        }
        foreach (var row in AcceptedInTheirChain)
        {
            string table = (string)row[0], chain = (string)row[1], rule = (string)row[2];
            Restore(Declare(table, chain) + $"-A {chain} {rule}\nCOMMIT\n").EnsureSuccess($"{table} {chain} {rule}");
        }
        // Through a user chain, and one chain too deep: refused with the reasons lowering gives.
        var masq = Restore(Declare("nat", "MYMASQ") + "-A PREROUTING -j MYMASQ\n-A MYMASQ -j MASQUERADE\nCOMMIT\n");
        Assert.Contains("RULE_APPEND failed (Invalid argument): rule in chain MYMASQ", masq.StdErr);
        var chains = Enumerable.Range(1, 16).Select(i => "C" + i).ToArray();
        var deep = Declare("filter", chains) + "-A INPUT -j C1\n" + string.Concat(Enumerable.Range(1, 15).Select(i => $"-A C{i} -j C{i + 1}\n")) + "COMMIT\n";
        Assert.Contains("RULE_APPEND failed (Too many links): rule in chain C15", Restore(deep).StdErr);

        // What lowering emits for the accepted chains of the tests above loads as it is.
        var plan = Accepted(Nested(15) + """
              - { node: manager, table: filter, chain: INPUT, rule: "-p udp -j MYREJECT" }
              - { node: manager, table: filter, chain: MYREJECT, rule: "-p udp --dport 9 -j REJECT" }
              - { node: manager, table: nat, chain: OUTPUT, rule: "-p tcp -j MYDNAT" }
              - { node: manager, table: nat, chain: MYDNAT, rule: "-p tcp --dport 81 -j DNAT --to-destination 10.1.1.10" }
              - { node: manager, table: nat, chain: POSTROUTING, rule: "-s 10.0.9.0/24 -g MYMASQ" }
              - { node: manager, table: nat, chain: MYMASQ, rule: "-j MASQUERADE" }
              - { node: worker, table: filter, chain: OUTPUT, rule: "-j D1" }
            """ + "\n" + Nested(12, from: "").Replace("C", "D").Replace("-p tcp --dport 22 -j DROP", "-j DOCKER-FORWARD"));
        foreach (var host in plan.Hosts)
            Restore(SwarmDsl.Emit.IptablesRestoreEmitter.Emit(plan, host, host.Ns("host"))).EnsureSuccess(host.Node + " host rules");
    }
}
