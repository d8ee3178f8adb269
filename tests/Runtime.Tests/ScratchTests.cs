using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using Xunit.Abstractions;

namespace SwarmDsl.Tests;

public class ScratchTests(ITestOutputHelper output)
{
    [Fact]
    public void Print()
    {
        var sim = new Simulation(ExamplePlans.Ipvs, 1);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out var err), err);
        var traces = sim.Connect(flow, 2);
        output.WriteLine(TextTraceRenderer.Render(traces, flow.Description, true));
    }
}
