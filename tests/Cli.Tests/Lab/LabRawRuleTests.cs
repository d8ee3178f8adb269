namespace SwarmDsl.Tests.Lab;

/// <summary>
/// Raw rules on the real kernel, found by a tester (session 18). A user's NAT rule inserted in a balancer's namespace comes before the balancer's own NAT on the real kernel too, as in
/// the simulation and as with IPVS (Docker's SNAT is a rule after the user's). Found by a tester (session 18): the nftables
/// table, at the iptables nat chains' priority and loaded after them, bound the connection first (the kernel runs the hook
/// registered last first), so the kernel answered where the simulation did not.
/// </summary>
public class LabRawRuleTests
{
    private const string Yaml = """
        version: 1
        name: usernat
        nodes:
          n1: { address: 10.53.0.11/24 }
        services:
          web: { networks: [], ports: [ { published: 5300, target: 53, protocol: udp } ] }
        rules:
          # The replies go to an address nobody has: nothing comes back when this rule binds the connection.
          - { namespace: ingress_sbox, table: nat, chain: POSTROUTING, rule: "-p udp -j SNAT --to-source 10.0.0.250", position: insert }
        """;

    private static void WithFile(string yaml, System.Action<string> test)
    {
        var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rawrule-" + System.Guid.NewGuid().ToString("N")[..8] + ".swarm.yaml");
        System.IO.File.WriteAllText(file, yaml);
        try { test(file); }
        finally { System.IO.File.Delete(file); }
    }

    /// <summary>
    /// A DROP in DOCKER-USER, the most common firewall rule: the client's kernel sends the unanswered SYN again after a
    /// second, inside the probe's wait, and the kernel's trace held the same way twice, which verify called a difference;
    /// now only the first SYN is traced.
    /// </summary>
    [LabFact]
    public void A_dropped_syn_traced_twice_by_the_kernel_agrees_with_the_simulation()
        => WithFile("""
            version: 1
            name: userdrop
            nodes:
              n1: { address: 10.52.0.11/24 }
            services:
              web: { networks: [], ports: [ { published: 8080, target: 80 } ] }
            rules:
              - { table: filter, chain: DOCKER-USER, rule: "-p tcp --dport 8080 -j DROP" }
            """, file => LabHarness.UpTestDown(file, "userdrop", 1, 6, 1, (prefix, _) =>
            {
                var verify = LabHarness.Run("lab", "verify", file, "--prefix", prefix, "--count", "1");
                LabHarness.AssertAgrees(verify);
                Assert.Matches(@"n1:8080/tcp +no_answer +\| no_answer   agree", verify.Out);
                // The retransmitted SYN is not traced: connection 1's path is shown once.
                var first = verify.Out.Substring(verify.Out.IndexOf("n1:8080/tcp connection 1", System.StringComparison.Ordinal));
                first = first.Substring(0, first.IndexOf("over-MTU packet", System.StringComparison.Ordinal));
                Assert.Single(System.Text.RegularExpressions.Regex.Matches(first, @"→ filter DOCKER-USER #1 drop +\| → filter DOCKER-USER #1 drop"));
            }));

    [LabFact]
    public void A_user_snat_in_ingress_sbox_wins_over_the_balancers_in_the_kernel_as_in_the_simulation()
    {
        var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "usernat-" + System.Guid.NewGuid().ToString("N")[..8] + ".swarm.yaml");
        System.IO.File.WriteAllText(file, Yaml);
        try
        {
            LabHarness.UpTestDown(file, "usernat", 1, 6, 1, (prefix, _) =>
            {
                var verify = LabHarness.Run("lab", "verify", file, "--prefix", prefix, "--count", "2");
                LabHarness.AssertAgrees(verify);
                Assert.Matches(@"n1:5300/udp +no_answer no_answer +\| no_answer no_answer   agree", verify.Out);
            });
        }
        finally { System.IO.File.Delete(file); }
    }
}
