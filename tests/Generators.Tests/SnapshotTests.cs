using System.Linq;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Tests;

namespace SwarmDsl.Generators.Tests;

/// <summary>The generated sources of the example, in both forms, against reviewed snapshots.</summary>
public class SnapshotTests
{
    [Fact]
    public void YamlForm_GeneratesTypedClass()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        Assert.Empty(run.GeneratorDiagnostics);
        var hint = "Consumer.App.TwoNode.swarm.g.cs";
        Snapshot.Verify("//HintName: " + hint + "\n" + GeneratorHarness.ScrubVersion(run.Source(hint)), extension: "cs");
    }

    [Fact]
    public void AttributeForm_ExtendsThePartialClass()
    {
        var run = GeneratorHarness.RunGenerator(null, ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes));
        Assert.Empty(run.GeneratorDiagnostics);
        var hint = "SwarmDsl.Examples.TwoNodeDeclared.g.cs";
        Snapshot.Verify("//HintName: " + hint + "\n" + GeneratorHarness.ScrubVersion(run.Source(hint)), extension: "cs");
    }

    [Fact]
    public void NestedGenericAttributeForm_RepeatsTheContainingTypes()
    {
        var source = """
            using SwarmDsl;
            namespace Outer.Space
            {
                /// <summary>Holds the topology.</summary>
                public partial class Holder<T>
                {
                    [SwarmTopology("tiny")]
                    [Node("solo", "192.168.50.2/24")]
                    internal partial record struct Tiny;
                }
            }
            """;
        var run = GeneratorHarness.RunGenerator(null, ("Tiny.cs", source));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputProblems);
        var hint = run.Sources.Single(s => s.HintName.StartsWith("Outer.Space", System.StringComparison.Ordinal)).HintName;
        Assert.Equal("Outer.Space.Holder_T_.Tiny.g.cs", hint);
        Snapshot.Verify("//HintName: " + hint + "\n" + GeneratorHarness.ScrubVersion(run.Source(hint)), extension: "cs");
    }
}
