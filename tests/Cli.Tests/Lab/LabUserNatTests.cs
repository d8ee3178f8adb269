namespace SwarmDsl.Tests.Lab;

/// <summary>
/// A user's NAT rule inserted in a balancer's namespace comes before the balancer's own NAT on the real kernel too, as in
/// the simulation and as with IPVS (Docker's SNAT is a rule after the user's). Found by a tester (session 18): the nftables
/// table, at the iptables nat chains' priority and loaded after them, bound the connection first (the kernel runs the hook
/// registered last first), so the kernel answered where the simulation did not.
/// </summary>
public class LabUserNatTests
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
