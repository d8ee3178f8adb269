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
    public void A_built_in_chain_of_another_table_is_refused()
    {
        var result = LoweringFixtures.Compile(WithRules("  - { table: filter, chain: PREROUTING, rule: \"-j ACCEPT\" }\n"));
        Assert.Equal("SWARM0024", Assert.Single(result.Diagnostics).Id);
    }
}
