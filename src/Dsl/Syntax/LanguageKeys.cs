using System.Collections.Generic;

namespace SwarmDsl.Syntax;

/// <summary>
/// Every key the topology language accepts, per element. The YAML binder checks keys against these lists, and a test
/// proves <c>schema/swarm-topology.schema.json</c> declares exactly the same keys (so the editor and the compiler never drift).
/// </summary>
public static class LanguageKeys
{
    /// <summary>Top level.</summary>
    public static readonly string[] Topology = { "version", "name", "underlay", "nodes", "networks", "services", "tuning", "expect", "rules" };
    /// <summary><c>underlay</c>.</summary>
    public static readonly string[] Underlay = { "mtu", "subnet", "dataPathPort" };
    /// <summary><c>nodes.&lt;name&gt;</c>.</summary>
    public static readonly string[] Node = { "hostname", "role", "address", "interface", "labels", "sysctls" };
    /// <summary><c>networks.&lt;name&gt;</c> (bridge and overlay together; the binder checks which driver a key belongs to).</summary>
    public static readonly string[] Network = { "driver", "subnet", "gateway", "icc", "masquerade", "vni", "mtu", "ingress", "attachable", "loadBalancerAddresses" };
    /// <summary>Keys that only bridge networks take.</summary>
    public static readonly string[] BridgeOnly = { "icc", "masquerade" };
    /// <summary>Keys that only overlay networks take.</summary>
    public static readonly string[] OverlayOnly = { "vni", "mtu", "ingress", "attachable", "loadBalancerAddresses" };
    /// <summary><c>services.&lt;name&gt;</c>.</summary>
    public static readonly string[] Service = { "image", "replicas", "mode", "networks", "vip", "endpointMode", "ports", "expose", "loadBalancing", "tasks", "placement" };
    /// <summary><c>ports[]</c>.</summary>
    public static readonly string[] Port = { "published", "target", "protocol", "mode" };
    /// <summary><c>loadBalancing</c>.</summary>
    public static readonly string[] LoadBalancing = { "scheduler" };
    /// <summary><c>tasks[]</c>.</summary>
    public static readonly string[] Task = { "node", "address", "weight", "name" };
    /// <summary><c>placement</c>.</summary>
    public static readonly string[] Placement = { "nodes" };
    /// <summary><c>tuning</c>.</summary>
    public static readonly string[] Tuning = { "sysctls" };
    /// <summary><c>rules[]</c>.</summary>
    public static readonly string[] Rule = { "node", "namespace", "table", "chain", "rule", "position" };
    /// <summary><c>expect[]</c>.</summary>
    public static readonly string[] Expect = { "from", "to", "reaches", "blocked" };

    /// <summary>Element path (as the schema test walks it) → keys.</summary>
    public static IReadOnlyDictionary<string, string[]> ByElement { get; } = new Dictionary<string, string[]>
    {
        ["topology"] = Topology,
        ["underlay"] = Underlay,
        ["node"] = Node,
        ["network"] = Network,
        ["service"] = Service,
        ["port"] = Port,
        ["loadBalancing"] = LoadBalancing,
        ["task"] = Task,
        ["placement"] = Placement,
        ["tuning"] = Tuning,
        ["rule"] = Rule,
        ["expect"] = Expect,
    };

    /// <summary>The known key nearest to <paramref name="key"/> (edit distance), or null when none is close.</summary>
    public static string? Nearest(string key, IEnumerable<string> known)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            if (string.Equals(k, key, System.StringComparison.OrdinalIgnoreCase)) return k;
            var d = Distance(key.ToLowerInvariant(), k.ToLowerInvariant());
            if (d < bestDistance) { bestDistance = d; best = k; }
        }
        var limit = System.Math.Max(2, key.Length / 3);
        return bestDistance <= limit ? best : null;
    }

    /// <summary>Damerau–Levenshtein (optimal string alignment) distance.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = System.Math.Min(System.Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = System.Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
