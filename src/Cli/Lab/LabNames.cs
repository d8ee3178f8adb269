using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Plan;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// How the lab names what it builds. Everything carries the prefix: the underlay fabric <c>&lt;P&gt;fabric</c>, one namespace
/// per node <c>&lt;P&gt;&lt;node&gt;</c> (the node's "host" namespace), the namespaces the node's <c>apply.sh</c> makes
/// <c>&lt;P&gt;&lt;node&gt;-&lt;name&gt;</c> (through <c>SWARMDSL_NETNS_PREFIX</c>), the external client <c>&lt;P&gt;client</c>, and
/// the state directory <c>/run/swarmdsl-lab/&lt;P&gt;</c>. Links live only inside these namespaces; the root namespace is never touched.
/// </summary>
internal sealed class LabNames
{
    /// <summary>The prefix when <c>--prefix</c> is not given.</summary>
    public const string DefaultPrefix = "swlab-";

    /// <summary>Where lab state directories live (tests may move it with <c>SWARMDSL_LAB_STATE_ROOT</c>).</summary>
    public static string StateRoot => Environment.GetEnvironmentVariable("SWARMDSL_LAB_STATE_ROOT") is { Length: > 0 } root ? root : "/run/swarmdsl-lab";

    public LabNames(string prefix) => Prefix = prefix;

    /// <summary>The prefix every name starts with.</summary>
    public string Prefix { get; }

    /// <summary>The underlay fabric namespace (a bridge joining the nodes and the client).</summary>
    public string Fabric => Prefix + "fabric";

    /// <summary>The external client's namespace.</summary>
    public string Client => Prefix + "client";

    /// <summary>The namespace standing for node <paramref name="node"/>'s host.</summary>
    public string Node(string node) => Prefix + node;

    /// <summary>The <c>SWARMDSL_NETNS_PREFIX</c> the node's scripts run with.</summary>
    public string NodeNetnsPrefix(string node) => Prefix + node + "-";

    /// <summary>The lab namespace of plan namespace <paramref name="planNamespace"/> on <paramref name="node"/>.</summary>
    public string Namespace(string node, string planNamespace) => planNamespace == "host" ? Node(node) : NodeNetnsPrefix(node) + planNamespace;

    /// <summary>The state directory of this prefix.</summary>
    public string StateDir => Path.Combine(StateRoot, Prefix);

    /// <summary>Whether <paramref name="netns"/> is one of this lab's namespaces for one of <paramref name="nodes"/>.</summary>
    public bool Owns(string netns, IEnumerable<string> nodes)
    {
        if (netns == Fabric || netns == Client) return true;
        foreach (var n in nodes)
            if (netns == Node(n) || netns.StartsWith(NodeNetnsPrefix(n), StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>Checks a prefix: it becomes part of namespace names, file names and nft/ip arguments.</summary>
    public static bool IsValidPrefix(string prefix, out string error)
    {
        error = "";
        if (prefix.Length is 0 or > 32) { error = "--prefix must have 1 to 32 characters"; return false; }
        if (prefix[0] is '-' or '.') { error = "--prefix must not start with '-' or '.'"; return false; }
        foreach (var c in prefix)
            if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.'))
            {
                error = $"--prefix may hold only letters, digits, '_', '.' and '-' (not '{c}')";
                return false;
            }
        return true;
    }

    /// <summary>
    /// The lab's own namespaces for <paramref name="plan"/> (fabric, nodes, client, and every namespace the scripts make),
    /// or an error when two of them would have the same name (a node called <c>fabric</c>, say).
    /// </summary>
    public bool TryPlanNamespaces(DataplanePlan plan, out IReadOnlyList<string> names, out string error)
    {
        var all = new List<string> { Fabric, Client };
        foreach (var h in plan.Hosts)
            foreach (var ns in h.Namespaces)
                all.Add(Namespace(h.Node, ns.Name));
        names = all;
        error = "";
        var dup = all.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
        {
            error = $"two lab namespaces would both be called '{dup.Key}' (a node named 'fabric' or 'client', or a node name that is another's prefix); choose other node names";
            return false;
        }
        return true;
    }
}
