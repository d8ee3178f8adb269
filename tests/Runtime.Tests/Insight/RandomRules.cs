using System;
using System.Text;

namespace SwarmDsl.Tests.Insight;

/// <summary>Random raw host rules for the tests that check a shared table against each pair's own sweep.</summary>
internal static class RandomRules
{
    /// <summary>Four nodes a–d on 10.9.0.10–13/24, the ingress network and one overlay, <c>app</c>; the services follow.</summary>
    public const string FourNodes = """
        version: 1
        name: four-node
        nodes:
          a: { address: 10.9.0.10/24, role: manager }
          b: { address: 10.9.0.11/24 }
          c: { address: 10.9.0.12/24 }
          d: { address: 10.9.0.13/24 }
        networks:
          ingress: { driver: overlay, ingress: true, subnet: 10.255.0.0/16 }
          app: { driver: overlay, subnet: 10.1.0.0/24 }

        """;

    /// <summary>
    /// A <c>rules:</c> list of one to <paramref name="most"/> rules on nodes a–d, each inserted in one of
    /// <paramref name="chains"/>: random addresses, protocols, ports and connection states (and nth statistic matches when
    /// <paramref name="statistic"/>), DROP/REJECT/ACCEPT/RETURN in filter chains, ACCEPT/RETURN elsewhere.
    /// </summary>
    public static string Write(Random random, (string Table, string Chain)[] chains, string[] addresses, string[] ports, bool statistic, int most = 3)
    {
        var targets = new[] { "DROP", "REJECT", "ACCEPT", "RETURN" };
        var rules = new StringBuilder();
        int count = 1 + random.Next(most);
        for (int k = 0; k < count; k++)
        {
            var (table, chain) = chains[random.Next(chains.Length)];
            var rule = new StringBuilder();
            if (random.Next(3) == 0) rule.Append("-s ").Append(addresses[random.Next(addresses.Length)]).Append(' ');
            if (random.Next(3) == 0) rule.Append("-d ").Append(addresses[random.Next(addresses.Length)]).Append(' ');
            var proto = random.Next(3) switch { 0 => "tcp", 1 => "udp", _ => "" };
            if (proto.Length > 0)
            {
                rule.Append("-p ").Append(proto).Append(' ');
                if (random.Next(2) == 0) rule.Append(random.Next(2) == 0 ? "--dport " : "--sport ").Append(ports[random.Next(ports.Length)]).Append(' ');
            }
            if (random.Next(4) == 0) rule.Append("-m conntrack --ctstate ").Append(random.Next(2) == 0 ? "NEW" : "ESTABLISHED").Append(' ');
            if (statistic && random.Next(8) == 0) rule.Append("-m statistic --mode nth --every ").Append(2 + random.Next(3)).Append(" --packet 0 ");
            var target = table == "filter" ? targets[random.Next(targets.Length)] : targets[2 + random.Next(2)];
            rule.Append("-j ").Append(target);
            rules.Append("  - node: ").Append((char)('a' + random.Next(4))).Append("\n    table: ").Append(table).Append("\n    chain: ").Append(chain)
                .Append("\n    rule: ").Append(rule).Append("\n    position: insert\n");
        }
        return rules.ToString();
    }
}
