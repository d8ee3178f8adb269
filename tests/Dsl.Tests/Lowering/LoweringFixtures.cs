using System.IO;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Lowering;

/// <summary>Compiles topologies to plans for the lowering tests, failing loudly on any error.</summary>
internal static class LoweringFixtures
{
    public static DataplanePlan Example(LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
        => Plan(Paths.Example, File.ReadAllText(Paths.Example), backend);

    public static string ThreeNodePath => Path.Combine(Paths.Root, "tests", "Dsl.Tests", "Lowering", "TestData", "three-node.swarm.yaml");

    public static DataplanePlan ThreeNode(LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
        => Plan(ThreeNodePath, File.ReadAllText(ThreeNodePath), backend);

    /// <summary>Compiles <paramref name="yaml"/> to a plan and returns the diagnostics too (no assertion).</summary>
    public static PlanCompilationResult Compile(string yaml, string file = "test.swarm.yaml", LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
        => SwarmCompiler.CompileToPlan(file, yaml, new LoweringOptions(backend));

    public static DataplanePlan Plan(string file, string yaml, LoadBalancerBackend backend = LoadBalancerBackend.Ipvs)
    {
        var result = SwarmCompiler.CompileToPlan(file, yaml, new LoweringOptions(backend));
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.NotNull(result.Plan);
        return result.Plan!;
    }

    public static HostPlan Host(this DataplanePlan plan, string node) => plan.Hosts.Single(h => h.Node == node);

    public static NamespacePlan Ns(this HostPlan host, string name) => host.Namespaces.Single(n => n.Name == name);

    public static NetfilterChain Chain(this NamespacePlan ns, string table, string chain)
        => ns.Tables.Single(t => t.Name == table).Chains.Single(c => c.Name == chain);

    public static DevicePlan Device(this NamespacePlan ns, string name) => ns.Devices.Single(d => d.Name == name);
}
