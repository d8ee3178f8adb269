using System.IO;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Views;

/// <summary>The example topology compiled to its plan.</summary>
internal static class ExamplePlans
{
    public static DataplanePlan Ipvs() => Compile(LoadBalancerBackend.Ipvs);

    public static DataplanePlan Nftables() => Compile(LoadBalancerBackend.Nftables);

    private static DataplanePlan Compile(LoadBalancerBackend backend)
    {
        var result = SwarmCompiler.CompileToPlan(Path.GetFileName(Paths.Example), File.ReadAllText(Paths.Example), new LoweringOptions(backend));
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }
}
