using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>Diagnostics carry the compiler's SWARM IDs and severities, at the exact YAML line/column or attribute argument.</summary>
public class DiagnosticTests
{
    private static GeneratorHarness.Run RunYaml(string yaml, string file = "two-node.swarm.yaml")
        => GeneratorHarness.RunGenerator([(file, yaml)]);

    private static string Example(string from, string to)
    {
        var text = GeneratorHarness.ExampleYaml;
        Assert.Contains(from, text);
        return text.Replace(from, to);
    }

    [Fact]
    public void YamlError_IsReportedAtTheScalar_InMSBuildForm()
    {
        var run = RunYaml(Example("vni: 4096", "vni: 4096x"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0003", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.False(d.Location.IsInSource);
        // What MSBuild prints: 1-based line and column of the value '4096x' (line 31, column 10).
        Assert.Equal("/consumer/two-node.swarm.yaml(31,10): error SWARM0003: expected a whole number for 'vni', not '4096x'", d.ToString());
        Assert.Equal("SWARM0003 Error two-node.swarm.yaml(31,10)-(31,15): expected a whole number for 'vni', not '4096x'", GeneratorHarness.Format(run.GeneratorDiagnostics));
        // The character span and the line span agree with the text.
        Assert.Equal("4096x", GeneratorHarness.ExampleYaml.Replace("vni: 4096", "vni: 4096x").Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        // No code for a topology with errors.
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("TwoNode", StringComparison.Ordinal));
    }

    [Fact]
    public void YamlUnknownKey_SuggestsTheNearest()
    {
        var run = RunYaml(Example("    replicas: 2", "    replicaz: 2"));
        Assert.Equal("SWARM0002 Error two-node.swarm.yaml(40,5)-(40,13): unknown key 'replicaz' in service 'web'; did you mean 'replicas'?",
            GeneratorHarness.Format(run.GeneratorDiagnostics));
    }

    [Fact]
    public void YamlWarning_KeepsWarningSeverity_AndTheCodeIsStillGenerated()
    {
        var run = RunYaml(Example("vni: 4096", "vni: 100"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0013", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal(1, d.WarningLevel);
        Assert.Equal(new LinePosition(30, 9), d.Location.GetLineSpan().StartLinePosition);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.TwoNode.swarm.g.cs");
    }

    [Fact]
    public void YamlSyntaxError_IsLocated()
    {
        var run = RunYaml("version: 1\nname: x\nnodes:\n  a: [unclosed\n");
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0001", d.Id);
        Assert.True(d.Location.GetLineSpan().StartLinePosition.Line >= 3, d.ToString());
    }

    private const string Header = """
        using SwarmDsl;
        namespace Consumer.App
        {

        """;

    private static (GeneratorHarness.Run Run, string Source) RunAttributes(string body)
    {
        var source = Header + body + "\n}\n";
        return (GeneratorHarness.RunGenerator(null, ("Topology.cs", source)), source);
    }

    /// <summary>The 0-based line/column span of the <paramref name="occurrence"/>-th <paramref name="text"/> in <paramref name="source"/>.</summary>
    private static LinePositionSpan SpanOf(string source, string text, int occurrence = 1)
    {
        int index = -1;
        for (int i = 0; i < occurrence; i++) index = source.IndexOf(text, index + 1, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{text}' not in source");
        var tree = Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source);
        return tree.GetLineSpan(new Microsoft.CodeAnalysis.Text.TextSpan(index, text.Length)).Span;
    }

    private const string Minimal = """
            [SwarmTopology("mini")]
            [Node("alpha", "10.1.0.2/24")]
            [OverlayNetwork("backend", "10.20.0.0/24"{0})]
            [Service("api", Networks = ["backend"])]
            {1}
            internal static partial class Mini;
        """;

    private static string Mini(string networkArgs = "", string extra = "") => Minimal.Replace("{0}", networkArgs).Replace("{1}", extra);

    [Fact]
    public void A_type_named_by_a_verbatim_keyword_gets_its_members()
    {
        // partial class @class, nested in a type whose parameter is @event: the generated declarations must say so too.
        var (run, _) = RunAttributes("internal static partial class Outer<@event>\n{\n"
            + Mini().Replace("internal static partial class Mini;", "internal static partial class @class;", StringComparison.Ordinal) + "\n}");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()));
        var generated = run.Output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal)).Select(t => t.ToString()).ToList();
        Assert.Contains(generated, t => t.Contains("partial class Outer<@event>", StringComparison.Ordinal) && t.Contains("partial class @class", StringComparison.Ordinal));
    }

    [Fact]
    public void AttributeError_IsReportedAtTheArgument_InTheSyntaxTree()
    {
        var (run, source) = RunAttributes(Mini().Replace("\"10.20.0.0/24\"", "\"10.20.0.0/33\""));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0003", d.Id);
        Assert.Equal("'10.20.0.0/33' is not an IPv4 subnet in CIDR form (e.g. 10.0.1.0/24)", d.GetMessage());
        // In the tree itself (not an external location): what #pragma warning disable needs.
        Assert.True(d.Location.IsInSource);
        Assert.Same(run.Output.SyntaxTrees.First(t => t.FilePath.EndsWith("Topology.cs", StringComparison.Ordinal)), d.Location.SourceTree);
        Assert.Equal(SpanOf(source, "\"10.20.0.0/33\""), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void AttributeWarning_IsSuppressibleWhereItStands()
    {
        var (run, source) = RunAttributes(Mini(", Vni = 100"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0013", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.True(d.Location.IsInSource);
        Assert.Equal(SpanOf(source, "100"), d.Location.GetLineSpan().Span);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.Mini.g.cs");
    }

    [Fact]
    public void A_key_value_argument_without_equals_gives_an_example_of_its_own_pairs()
    {
        // A tester's find: every such argument was shown a node's load-balancer address as the example.
        var (run, source) = RunAttributes(Mini().Replace("[Service(\"api\", Networks = [\"backend\"])]", "[Service(\"api\", Networks = [\"backend\"], Vips = [\"nope\"])]", StringComparison.Ordinal));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0003", d.Id);
        Assert.Equal(SpanOf(source, "\"nope\""), d.Location.GetLineSpan().Span);
        Assert.Contains("e.g. \"front=10.0.1.5\"", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownServiceReference_PointsAtTheName_AndSuggests()
    {
        var (run, source) = RunAttributes(Mini(extra: "[Publish(\"apj\", 8080, 80)]"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0007", d.Id);
        Assert.Equal("[Publish] names service 'apj', which no [Service] declares; did you mean 'api'?", d.GetMessage());
        Assert.Equal(SpanOf(source, "\"apj\""), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void KeyValueStrings_AreLocatedPartByPart()
    {
        var (run, source) = RunAttributes(Mini(", LoadBalancerAddresses = [\"alpah=10.20.0.9\"]"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0007", d.Id);
        Assert.Contains("unknown node 'alpah'; did you mean 'alpha'?", d.GetMessage(), StringComparison.Ordinal);
        Assert.Equal(SpanOf(source, "alpah"), d.Location.GetLineSpan().Span);

        (run, source) = RunAttributes(Mini(", LoadBalancerAddresses = [\"alpha=10.20.0.300\"]"));
        d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0003", d.Id);
        Assert.Equal(SpanOf(source, "10.20.0.300"), d.Location.GetLineSpan().Span);

        (run, source) = RunAttributes(Mini(", LoadBalancerAddresses = [\"alpha\"]"));
        d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0003", d.Id);
        Assert.Equal(SpanOf(source, "\"alpha\"", 2), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void DuplicateNames_AreDuplicateKeys_AtTheSecondName()
    {
        var (run, source) = RunAttributes(Mini(extra: "[Node(\"alpha\", \"10.1.0.3/24\")]"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0004", d.Id);
        Assert.Equal("node 'alpha' is declared twice", d.GetMessage());
        Assert.Equal(SpanOf(source, "\"alpha\"", 2), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void InvalidName_UsesTheLanguageRule()
    {
        var (run, source) = RunAttributes(Mini().Replace("\"alpha\"", "\"Alpha\""));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0006", d.Id);
        Assert.Equal(SpanOf(source, "\"Alpha\""), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void MissingNetworks_IsReportedAtTheServiceName()
    {
        var (run, source) = RunAttributes(Mini().Replace(", Networks = [\"backend\"]", ""));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0005", d.Id);
        Assert.Equal(SpanOf(source, "\"api\""), d.Location.GetLineSpan().Span);
    }

    [Fact]
    public void NonPartialType_IsSwarm1001()
    {
        var (run, source) = RunAttributes("""
                [SwarmTopology("mini")]
                internal static class Mini;
            """);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1001", d.Id);
        Assert.Equal(SpanOf(source, "Mini", 1), d.Location.GetLineSpan().Span);

        (run, _) = RunAttributes("""
                internal class Outer
                {
                    [SwarmTopology("mini")]
                    internal static partial class Mini;
                }
            """);
        d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1001", d.Id);
        Assert.Contains("nested in 'Outer'", d.GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void FileLocalType_IsSwarm1014_AndNothingIsGenerated()
    {
        // A tester's find: the generated members went on a new internal type of the same name in the generator's file,
        // and the file-local type itself had none (CS0117 at its use).
        var (run, source) = RunAttributes("""
                [SwarmTopology("mini")]
                [Node("gw", "10.1.0.10/24")]
                file static partial class Mini;
            """);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(("SWARM1014", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal(SpanOf(source, "Mini", 1), d.Location.GetLineSpan().Span);
        Assert.StartsWith("type 'Mini' is file-local", d.GetMessage(), StringComparison.Ordinal);
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("Mini", StringComparison.Ordinal));
    }

    [Fact]
    public void ElementAttributesWithoutSwarmTopology_AreSwarm1015_AtEachAttribute()
    {
        // A tester's find: [Node] on a type without [SwarmTopology] was silently ignored.
        var (run, source) = RunAttributes("""
                [Node("gw", "10.1.0.10/24")]
                [Service("api")]
                internal static partial class NoTopology;
            """);
        Assert.Equal(2, run.GeneratorDiagnostics.Length);
        Assert.All(run.GeneratorDiagnostics, d => Assert.Equal(("SWARM1015", DiagnosticSeverity.Warning), (d.Id, d.Severity)));
        var node = run.GeneratorDiagnostics.Single(d => d.GetMessage().StartsWith("[Node]", StringComparison.Ordinal));
        Assert.Equal("[Node] on 'NoTopology' does nothing: the type has no [SwarmTopology] attribute, so no topology reads it; add [SwarmTopology(\"name\")] or remove it", node.GetMessage());
        Assert.True(node.Location.IsInSource);
        Assert.Equal(SpanOf(source, "Node(\"gw\", \"10.1.0.10/24\")"), node.Location.GetLineSpan().Span);
        // With [SwarmTopology] they are the topology's, and nothing is said.
        (run, _) = RunAttributes(Mini());
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "SWARM1015");
    }

    [Fact]
    public void AttributesThatDoNotBind_LeaveTheCompilerToSpeak()
    {
        var (run, _) = RunAttributes("""
                [SwarmTopology("mini")]
                [Node("alpha")]
                internal static partial class Mini;
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Null(run.Result.Exception);
        Assert.Contains(run.Output.GetDiagnostics(), d => d.Id == "CS7036");
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("Mini", StringComparison.Ordinal));
    }

    [Fact]
    public void TwoFilesForOneClass_AreSwarm1002_OnTheSecond()
    {
        var yaml = GeneratorHarness.ExampleYaml;
        var run = GeneratorHarness.RunGenerator([("a/two-node.swarm.yaml", yaml), ("b/two-node.swarm.yaml", yaml)]);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1002", d.Id);
        Assert.Equal("/consumer/b/two-node.swarm.yaml", d.Location.GetLineSpan().Path);
        Assert.Single(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.TwoNode.swarm.g.cs");
        Assert.Empty(run.OutputProblems);
    }

    [Fact]
    public void YamlClassThatIsAlsoATopologyType_IsSwarm1002_OnTheYaml()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            ("TwoNode.cs", GeneratorHarness.ExampleAttributes.Replace("namespace SwarmDsl.Examples;", "namespace Consumer.App;").Replace("class TwoNodeDeclared", "class TwoNode")));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1002", d.Id);
        Assert.Contains("already a [SwarmTopology] type", d.GetMessage(), StringComparison.Ordinal);
        Assert.Equal("/consumer/two-node.swarm.yaml", d.Location.GetLineSpan().Path);
        Assert.Empty(run.OutputProblems);
    }

    [Fact]
    public void ClassAndNamespace_CanBeSetPerFile()
    {
        var options = GeneratorHarness.DefaultOptions().WithFile("/consumer/b/two-node.swarm.yaml", new System.Collections.Generic.Dictionary<string, string>
        {
            ["build_metadata.AdditionalFiles.SwarmDslClassName"] = "OtherCluster",
            ["build_metadata.AdditionalFiles.SwarmDslNamespace"] = "Consumer.Clusters",
        });
        var yaml = GeneratorHarness.ExampleYaml;
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.Compilation(("Empty.cs", "")),
            GeneratorHarness.Driver([("a/two-node.swarm.yaml", yaml), ("b/two-node.swarm.yaml", yaml)], options));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.Clusters.OtherCluster.swarm.g.cs");
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.TwoNode.swarm.g.cs");
        Assert.Empty(run.OutputProblems);
    }

    // ---- expect: (simulated by the generator, as swarmdsl check does) ----

    /// <summary>The example plus a raw rule on the worker that drops forwarded tcp/8080 (lines 67–72).</summary>
    private static string ExampleWithDrop => GeneratorHarness.ExampleYaml.Replace("\r\n", "\n") + """

        rules:
          - node: worker
            table: filter
            chain: FORWARD
            rule: -p tcp --dport 8080 -j DROP
            position: insert

        """;

    private const string DropWhy = "connection 1 of 2 was dropped by FilterDrop at worker/host filter/FORWARD rule 1 (-A FORWARD -p tcp -m tcp --dport 8080 -j DROP)";

    [Fact]
    public void FailedExpectation_InYaml_IsAnErrorAtTheExpectEntry_SayingWhy()
    {
        var run = RunYaml(ExampleWithDrop);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0020", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        // The second entry (- from: external / to: worker:8080/tcp), line 63 column 5; the message is swarmdsl check's,
        // naming the step (the FORWARD rule) and the declaration behind it (the raw rule at line 71).
        Assert.Equal("/consumer/two-node.swarm.yaml(63,5): error SWARM0020: expected external → worker:8080/tcp to reach web: "
            + DropWhy + " from two-node.swarm.yaml:71:11", d.ToString());
        Assert.StartsWith("- from: external", ExampleWithDrop.Substring(d.Location.SourceSpan.Start - 2), StringComparison.Ordinal);
        // The code is still generated (the build fails on the error, but the editor keeps its completions).
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.TwoNode.swarm.g.cs");
    }

    /// <summary>
    /// An endpoint the plan lacks (SWARM0031, found when the entries are simulated) is at the value, as swarmdsl check puts
    /// it: a tester saw the build put it at the entry.
    /// </summary>
    [Fact]
    public void An_endpoint_the_plan_lacks_is_SWARM0031_at_the_value_as_check_reports_it()
    {
        const string yaml = """
            version: 1
            name: pos
            nodes:
              a: { address: 10.0.0.1/24 }
            services:
              web: { networks: [ingress], ports: [{ published: 8080, target: 80 }] }
              api: { networks: [ingress], replicas: 0 }
            expect:
              - from: external:10.0.0.1
                to: a:8080
                reaches: web
              - from: web
                to: api:80
                blocked: true
            """;
        var run = RunYaml(yaml);
        var d = Assert.Single(run.GeneratorDiagnostics, x => x.Id == "SWARM0031");
        Assert.Equal("/consumer/two-node.swarm.yaml(9,11): error SWARM0031: from: external:10.0.0.1 cannot be a client: it is the address of node a", d.ToString());
        Assert.StartsWith("external:10.0.0.1", yaml.Substring(d.Location.SourceSpan.Start), StringComparison.Ordinal);
        // The CLI's, for the same file.
        var compiled = SwarmCompiler.CompileToPlan("/consumer/two-node.swarm.yaml", yaml);
        var cli = SwarmDsl.Runtime.Insight.ExpectationEvaluator.Evaluate(compiled.Topology!, compiled.Plan!).Single(x => x.Id == "SWARM0031");
        Assert.Equal((9, 11), (cli.Span.StartLine, cli.Span.StartColumn));
    }

    [Fact]
    public void FailedExpectation_WrittenAsAFlowMapping_SpansTheWholeEntry_ClosingBraceIncluded()
    {
        const string entry = "{ from: external, to: \"worker:8080/tcp\", reaches: web }";
        var yaml = ExampleWithDrop.Replace("  - from: external\n    to: worker:8080/tcp\n    reaches: web\n", "  - " + entry + "\n");
        Assert.Contains(entry, yaml);
        var d = Assert.Single(RunYaml(yaml).GeneratorDiagnostics);
        Assert.Equal("SWARM0020", d.Id);
        Assert.Equal(entry, yaml.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        var span = d.Location.GetLineSpan().Span;
        Assert.Equal((62, 4, 62, 4 + entry.Length), (span.Start.Line, span.Start.Character, span.End.Line, span.End.Character));
    }

    [Fact]
    public void HoldingExpectations_ProduceNoDiagnostic_InEitherForm()
    {
        Assert.Empty(RunYaml(GeneratorHarness.ExampleYaml).GeneratorDiagnostics);
        var run = GeneratorHarness.RunGenerator(null, ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes));
        Assert.Empty(run.GeneratorDiagnostics);
        var blocked = RunYaml(ExampleWithDrop.Replace("    reaches: web\n\nrules:", "    blocked: true\n\nrules:"));
        Assert.Empty(blocked.GeneratorDiagnostics);
    }

    [Fact]
    public void FailedExpectation_InAttributes_IsAnErrorAtTheExpectAttribute_SayingWhy()
    {
        var source = GeneratorHarness.ExampleAttributes.Replace("internal static partial class TwoNodeDeclared;",
            "[Rule(\"FORWARD\", \"-p tcp --dport 8080 -j DROP\", Node = \"worker\", Table = NetfilterTable.Filter, Position = RulePosition.Insert)]\n"
            + "internal static partial class TwoNodeDeclared;");
        var run = GeneratorHarness.RunGenerator(null, ("TwoNodeDeclared.cs", source));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM0020", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.True(d.Location.IsInSource);
        Assert.Equal(SpanOf(source, "Expect(\"external\", \"worker:8080/tcp\", Reaches = \"web\")"), d.Location.GetLineSpan().Span);
        Assert.StartsWith("expected external → worker:8080/tcp to reach web: " + DropWhy + " from TwoNodeDeclared.cs:", d.GetMessage(), StringComparison.Ordinal);
    }
}
