using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Lowering;

public class PlanDumpTests
{
    [Fact]
    public void Example_ipvs() => Snapshot.Verify(PlanDump.Render(LoweringFixtures.Example(LoadBalancerBackend.Ipvs)));

    [Fact]
    public void Example_nftables() => Snapshot.Verify(PlanDump.Render(LoweringFixtures.Example(LoadBalancerBackend.Nftables)));

    [Fact]
    public void Three_node_ipvs() => Snapshot.Verify(PlanDump.Render(LoweringFixtures.ThreeNode(LoadBalancerBackend.Ipvs)));

    [Fact]
    public void Three_node_nftables() => Snapshot.Verify(PlanDump.Render(LoweringFixtures.ThreeNode(LoadBalancerBackend.Nftables)));
}
