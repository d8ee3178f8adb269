using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Synthetic;
using Xunit.Abstractions;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// What simulating <c>expect:</c> costs inside the generator, printed to the test output (not a timed test: the build machine
/// is shared). The figures in src/Generators/README.md come from here. The assertions are about correctness: the synthetic
/// topologies' expectations hold, so the step runs and reports nothing.
/// </summary>
public class ExpectationCostTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("example", 0, 0, 0, 0)]
    [InlineData("small", 4, 8, 16, 8)]
    [InlineData("medium", 10, 40, 200, 16)]
    public void ExpectationStep_Cost(string shape, int nodes, int services, int tasks, int expectations)
    {
        var yaml = shape == "example" ? GeneratorHarness.ExampleYaml : SyntheticTopology.Generate(SyntheticTopologyOptions.Small with
        {
            Name = shape, Nodes = nodes, Services = services, Tasks = tasks, PublishedPorts = services, Expectations = expectations,
        });
        var file = shape + ".swarm.yaml";
        var total = Stopwatch.StartNew();
        var run = GeneratorHarness.RunGenerator([(file, yaml)]);
        total.Stop();
        Assert.Empty(run.GeneratorDiagnostics);

        TimeSpan Step(string name) => run.Result.TrackedSteps[name].Aggregate(TimeSpan.Zero, (t, s) => t + s.ElapsedTime);
        var expect = run.Result.TrackedSteps[TrackingNames.ExpectYaml];
        var evaluated = expect.Single().Inputs.Single().Source.Outputs.Single().Value;
        int count = ((SwarmDsl.Generators.Expectations.ExpectationInput)evaluated).Topology.Expectations.Count;
        Assert.True(count > 0, "the topology expects something");
        output.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "{0}: {1} expectations, expect step {2:F0} ms (erasing locations before it {3:F1} ms, placing verdicts after it {4:F1} ms); compile step {5:F0} ms; whole run {6:F0} ms",
            shape, count, Step(TrackingNames.ExpectYaml).TotalMilliseconds, Step(TrackingNames.PrepareExpectYaml).TotalMilliseconds,
            Step(TrackingNames.LocateExpectYaml).TotalMilliseconds, Step(TrackingNames.CompileYaml).TotalMilliseconds, total.Elapsed.TotalMilliseconds));
    }
}
