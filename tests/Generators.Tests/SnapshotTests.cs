using System.Linq;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Tests;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The generated sources of the example, in both forms, against reviewed snapshots. The bodies of the text constants (the
/// compiler's model and plan dumps and emit's files) are cut to their first lines here: CompileTests holds them byte for
/// byte to what src/Dsl produces, so a change in an emitter does not churn these snapshots.
/// </summary>
public class SnapshotTests
{
    private static string Shorten(string source)
    {
        var lines = source.Split('\n');
        var result = new System.Text.StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            result.Append(lines[i]).Append('\n');
            if (!lines[i].EndsWith(" =", System.StringComparison.Ordinal) || !lines[i].Contains("const string ", System.StringComparison.Ordinal)) continue;
            int end = i + 1;
            while (end < lines.Length && !lines[end].EndsWith(";", System.StringComparison.Ordinal)) end++;
            int kept = 0;
            for (int j = i + 1; j <= end && j < lines.Length && kept < 3; j++, kept++) result.Append(lines[j]).Append('\n');
            int omitted = end - i - kept;
            if (omitted > 0)
                result.Append(lines[i].Substring(0, lines[i].Length - lines[i].TrimStart().Length)).Append("    // ... ")
                      .Append(omitted.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(omitted == 1 ? " more line\n" : " more lines\n");
            i = end;
        }
        return result.ToString().TrimEnd('\n');
    }

    private static void VerifySource(GeneratorHarness.Run run, string hint, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
        => Snapshot.Verify("//HintName: " + hint + "\n" + Shorten(GeneratorHarness.ScrubVersion(run.Source(hint))), name: test, extension: "cs");

    [Fact]
    public void YamlForm_GeneratesTypedClass()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        Assert.Empty(run.GeneratorDiagnostics);
        var hint = "Consumer.App.TwoNode.swarm.g.cs";
        VerifySource(run, hint);
    }

    [Fact]
    public void YamlForm_WithRuntime_GeneratesTheCompiledPipeline()
    {
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.WithRuntime(GeneratorHarness.Compilation(("Empty.cs", "namespace Consumer.App { }"))),
            GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]));
        Assert.Empty(run.GeneratorDiagnostics);
        VerifySource(run, "Consumer.App.TwoNode.swarm.pipeline.g.cs");
    }

    [Fact]
    public void AttributeForm_ExtendsThePartialClass()
    {
        var run = GeneratorHarness.RunGenerator(null, ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes));
        Assert.Empty(run.GeneratorDiagnostics);
        var hint = "SwarmDsl.Examples.TwoNodeDeclared.g.cs";
        VerifySource(run, hint);
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
        VerifySource(run, hint);
    }
}
