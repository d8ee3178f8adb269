using System.IO;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests;

/// <summary>The example topology compiled to its plan (once per backend).</summary>
internal static class ExamplePlans
{
    private static DataplanePlan? _ipvs, _nft;

    public static DataplanePlan Ipvs => _ipvs ??= Compile(LoadBalancerBackend.Ipvs);

    public static DataplanePlan Nftables => _nft ??= Compile(LoadBalancerBackend.Nftables);

    public static DataplanePlan Compile(LoadBalancerBackend backend)
    {
        var result = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example), new LoweringOptions(backend));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }
}
