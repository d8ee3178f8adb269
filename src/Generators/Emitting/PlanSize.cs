using SwarmDsl.Generators.Model;
using SwarmDsl.Plan;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// How big a plan is, counted before any text is made: the provisioning files and dumps grow with these elements (a line or
/// two of script and dump each), so the count decides <see cref="EmbedMode.Auto"/> without paying for the text.
/// </summary>
internal static class PlanSize
{
    /// <summary>
    /// Above this many elements, <see cref="EmbedMode.Auto"/> leaves provisioning files and dumps out. The example has a few
    /// hundred; 20,000 elements are some 4 M characters of constants, which already cost seconds of every build.
    /// </summary>
    public const int AutoEmbedLimit = 20000;

    /// <summary>Devices, addresses, routes, neighbours, FDB entries, netfilter rules and IPVS destinations of every namespace.</summary>
    public static int Elements(DataplanePlan plan)
    {
        int n = 0;
        foreach (var host in plan.Hosts)
        {
            foreach (var ns in host.Namespaces)
            {
                n += 1 + ns.Devices.Count + ns.Addresses.Count + ns.Routes.Count + ns.Neighbors.Count + ns.Fdb.Count + ns.Sysctls.Count;
                foreach (var table in ns.Tables)
                    foreach (var chain in table.Chains) n += 1 + chain.Rules.Count;
                foreach (var service in ns.Ipvs) n += 1 + service.Destinations.Count;
                foreach (var lb in ns.NftLoadBalancers) n += 1 + lb.Slots.Count;
            }
        }
        return n;
    }

    /// <summary>Whether <paramref name="mode"/> embeds for a plan of <paramref name="elements"/> elements.</summary>
    public static bool Embeds(EmbedMode mode, int elements) => mode switch
    {
        EmbedMode.Always => true,
        EmbedMode.Never => false,
        _ => elements <= AutoEmbedLimit,
    };
}
