using System.IO;
using System.Linq;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Tests.Insight;

/// <summary><c>expect:</c> simulated over the plan: what holds, what fails, and where and why.</summary>
public sealed class ExpectationEvaluatorTests
{
    private static string Example => File.ReadAllText(Paths.Example).Replace("\r\n", "\n");

    /// <summary>The example plus a raw rule on the worker that drops forwarded tcp/8080 (lines 67–72).</summary>
    internal static string WithDrop(string extraExpect) => Example + extraExpect + """

        rules:
          - node: worker
            table: filter
            chain: FORWARD
            rule: -p tcp --dport 8080 -j DROP
            position: insert

        """;

    private static System.Collections.Generic.IReadOnlyList<SwarmDsl.Diagnostics.Diagnostic> Evaluate(string yaml)
    {
        var r = SwarmCompiler.CompileToPlan("t.swarm.yaml", yaml);
        Assert.True(r.Plan is not null, string.Join("\n", r.Diagnostics));
        return ExpectationEvaluator.Evaluate(r.Compilation.Topology!, r.Plan!);
    }

    [Fact]
    public void The_example_expectations_hold()
    {
        var r = SwarmCompiler.CompileToPlan(Paths.Example, Example);
        Assert.Equal(2, r.Compilation.Topology!.Expectations.Count);
        Assert.Empty(ExpectationEvaluator.Evaluate(r.Compilation.Topology!, r.Plan!));
    }

    [Fact]
    public void A_rule_that_drops_the_traffic_fails_the_expectation_at_its_entry()
    {
        var d = Assert.Single(Evaluate(WithDrop("")));
        Assert.Equal("SWARM0020", d.Id);
        Assert.Equal((63, 5), (d.Span.StartLine, d.Span.StartColumn)); // the second expect entry: external → worker:8080
        Assert.Contains("to reach web", d.Message);
        Assert.Contains("dropped by FilterDrop at worker/host filter/FORWARD rule 1 (-A FORWARD -p tcp -m tcp --dport 8080 -j DROP) from t.swarm.yaml:71:11", d.Message);
    }

    /// <summary>
    /// A service without tasks has nothing on any node that answers it (Docker makes its balancer and name record with its
    /// first task): "blocked" holds, "reaches" fails saying why. Once lowering stopped giving it a balancer, both were an
    /// invalid expectation (found by a review, session 18).
    /// </summary>
    [Fact]
    public void A_service_without_tasks_is_blocked_and_not_reached()
    {
        var yaml = Example.Replace("services:\n", "services:\n  idle:\n    replicas: 0\n    networks: [ingress]\n    ports: [ { published: 9090, target: 90 } ]\n") + """
              - from: external
                to: idle
                blocked: true
              - from: external
                to: idle
                reaches: idle

            """.Replace("\r\n", "\n");
        var d = Assert.Single(Evaluate(yaml));
        Assert.Equal("SWARM0020", d.Id);
        Assert.Contains("expected external → idle to reach idle: service idle has no task (replicas 0, or no node it may run on), so no node balances its VIP or answers its name", d.Message);
    }

    [Fact]
    public void A_blocked_expectation_that_is_reachable_fails_and_one_that_is_blocked_holds()
    {
        var extra = """
              - from: external
                to: worker:9090/tcp
                blocked: true
              - from: external
                to: manager:8080/tcp
                blocked: true

            """.Replace("\r\n", "\n");
        var d = Assert.Single(Evaluate(Example + extra));
        Assert.Equal((69, 5), (d.Span.StartLine, d.Span.StartColumn));
        Assert.Contains("to be blocked", d.Message);
        Assert.Contains("was delivered to web.2 (tcp :80) at worker/web.2", d.Message);
    }

    [Fact]
    public void Every_destination_of_the_cycle_is_checked()
    {
        // Only web.2 (on the worker) drops: connection 1 lands on one task, so only a full cycle finds it.
        var yaml = Example + """

            rules:
              - node: worker
                namespace: web.2
                table: filter
                chain: INPUT
                rule: -p tcp -j DROP
                position: insert

            """;
        var list = Evaluate(yaml);
        Assert.Equal(2, list.Count);
        Assert.All(list, d => Assert.Contains("at worker/web.2 filter/INPUT rule", d.Message));
        Assert.Equal(new[] { 60, 63 }, list.Select(d => d.Span.StartLine).ToArray());
    }
    [Fact]
    public void An_endpoint_without_a_vip_is_SWARM0031_in_the_words_of_an_entry()
    {
        // A tester's find: the hint named the command line's option ("e.g. --to api.1") in an expect: entry's error.
        var d = Assert.Single(Evaluate("""
            version: 1
            name: pos
            nodes:
              a: { address: 10.0.0.1/24, role: manager }
            networks:
              ingress: { driver: overlay, ingress: true, subnet: 10.255.0.0/16 }
            services:
              web: { networks: [ingress], ports: [{ published: 8080, target: 80 }] }
              api: { networks: [ingress] }
            expect:
              - from: web
                to: api:80
                reaches: api
            """));
        Assert.Equal("SWARM0031", d.Id);
        Assert.EndsWith("address one of its tasks instead, e.g. to: api.1", d.Message, System.StringComparison.Ordinal);
        Assert.DoesNotContain("--to", d.Message, System.StringComparison.Ordinal);
    }
}
