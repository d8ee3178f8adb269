using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Plan;

namespace SwarmDsl.Cli;

/// <summary>The <c>--node</c> options of <c>emit</c> and <c>graph</c>: every name must be a node of the plan.</summary>
internal static class NodeNames
{
    // A usage error lists the plan's nodes; a 100-node plan's list would bury the message.
    private const int Listed = 10;

    /// <summary>Throws a usage error (exit 2) for the first of <paramref name="wanted"/> that is not a node of <paramref name="plan"/>.</summary>
    public static void Check(DataplanePlan plan, IEnumerable<string> wanted, string option)
    {
        var known = new HashSet<string>(plan.Hosts.Select(h => h.Node), System.StringComparer.Ordinal);
        foreach (var n in wanted)
        {
            if (known.Contains(n)) continue;
            var names = plan.Hosts.Select(h => h.Node).ToList();
            var list = names.Count <= Listed
                ? string.Join(", ", names)
                : string.Join(", ", names.Take(Listed)) + $", … ({names.Count} nodes)";
            throw new CliUsageException($"{option}no node '{n}' in {plan.Topology} (nodes: {list})");
        }
    }
}
