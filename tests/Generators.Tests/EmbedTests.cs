using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The provisioning files and the dumps are embedded by default only while the plan is small; the MSBuild properties
/// SwarmDslEmbedProvisioning and SwarmDslEmbedDumps force them in or out. Skipping by size is reported (SWARM1010, info).
/// </summary>
public class EmbedTests
{
    private const string Hint = "Consumer.App.TwoNode.swarm.g.cs";

    // Six nodes publishing 1,000 ports: a DNAT, two ACCEPTs and a MARK per port per node, a REDIRECT per port per task.
    private static readonly Lazy<string> Wide = new(() => SyntheticTopology.Generate(new SyntheticTopologyOptions
    {
        Name = "wide", Nodes = 6, Overlays = 1, Services = 20, Tasks = 20, PublishedPorts = 1000, Expectations = 0,
    }));

    private static GeneratorHarness.Run Run(string file, string yaml, params (string Key, string Value)[] properties)
        => Run(file, yaml, false, null, properties);

    private static GeneratorHarness.Run Run(string file, string yaml, bool runtime, string? pipelineNodes, params (string Key, string Value)[] properties)
        => Run(file, yaml, runtime, pipelineNodes, "namespace Consumer.App { }", properties);

    private static GeneratorHarness.Run Run(string file, string yaml, bool runtime, string? pipelineNodes, string code, params (string Key, string Value)[] properties)
    {
        var global = new Dictionary<string, string> { ["build_property.RootNamespace"] = GeneratorHarness.RootNamespace };
        foreach (var (k, v) in properties) global["build_property." + k] = v;
        var options = new TestOptionsProvider(global);
        if (pipelineNodes is not null)
            options.WithFile(GeneratorHarness.ProjectDir + file, new Dictionary<string, string> { ["build_metadata.AdditionalFiles.SwarmDslPipelineNodes"] = pipelineNodes });
        var compilation = GeneratorHarness.Compilation(("Code.cs", code));
        return GeneratorHarness.RunGenerator(runtime ? GeneratorHarness.WithRuntime(compilation) : compilation, GeneratorHarness.Driver([(file, yaml)], options));
    }

    /// <summary>
    /// A setting the generator does not accept is SWARM1012 naming the default it uses: a mode that is not true, false or
    /// auto; a class name that is not an identifier; a namespace that is not one (its class now goes in the root namespace,
    /// not the global one). All were read past in silence (found by a tester).
    /// </summary>
    [Fact]
    public void Settings_the_generator_does_not_accept_are_SWARM1012_and_the_default_is_used()
    {
        var global = new Dictionary<string, string>
        {
            ["build_property.RootNamespace"] = GeneratorHarness.RootNamespace,
            ["build_property.SwarmDslEmbedProvisioning"] = "maybe",
            ["build_property.SwarmDslFullHandles"] = "auto",
        };
        var options = new TestOptionsProvider(global).WithFile(GeneratorHarness.ProjectDir + "two-node.swarm.yaml", new Dictionary<string, string>
        {
            ["build_metadata.AdditionalFiles.SwarmDslClassName"] = "123 bad",
            ["build_metadata.AdditionalFiles.SwarmDslNamespace"] = "My..Ns",
        });
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.Compilation(("Empty.cs", "namespace Consumer.App { }")),
            GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], options));
        var messages = run.GeneratorDiagnostics.Where(d => d.Id == "SWARM1012").Select(d => (d.Severity, d.GetMessage())).OrderBy(m => m.Item2, StringComparer.Ordinal).ToList();
        Assert.Equal(new[]
        {
            (DiagnosticSeverity.Warning, "'two-node.swarm.yaml': SwarmDslClassName '123 bad' is not a C# identifier: the class is named 'TwoNode'"),
            (DiagnosticSeverity.Warning, "'two-node.swarm.yaml': SwarmDslNamespace 'My..Ns' is not a C# namespace: the class goes in '" + GeneratorHarness.RootNamespace + "'"),
            (DiagnosticSeverity.Warning, "SwarmDslEmbedProvisioning is 'maybe', which is not true, false or auto: auto is used"),
        }, messages);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == GeneratorHarness.RootNamespace + ".TwoNode.swarm.g.cs");
    }

    [Theory]
    [InlineData("class")]
    [InlineData("@class")]
    public void A_keyword_as_the_class_name_is_written_verbatim(string name)
    {
        var global = new Dictionary<string, string> { ["build_property.RootNamespace"] = GeneratorHarness.RootNamespace };
        var options = new TestOptionsProvider(global).WithFile(GeneratorHarness.ProjectDir + "two-node.swarm.yaml", new Dictionary<string, string>
        {
            ["build_metadata.AdditionalFiles.SwarmDslClassName"] = name,
        });
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.Compilation(("Use.cs", "namespace Consumer.App { static class Use { static object M() => @class.Tasks.Web1; } }")),
            GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], options));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()));
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == GeneratorHarness.RootNamespace + "._class.swarm.g.cs");
    }

    [Fact]
    public void AboveTheLimit_ThePipelineIsLeftOut_UnlessTheFileListsNodes()
    {
        const string hint = "Consumer.App.Wide.swarm.pipeline.g.cs";
        var skipped = Run("wide.swarm.yaml", Wide.Value, runtime: true, pipelineNodes: null, ("SwarmDslEmbedProvisioning", "false"), ("SwarmDslEmbedDumps", "false"));
        Assert.DoesNotContain(skipped.Result.GeneratedSources, s => s.HintName == hint);
        var note = Assert.Single(skipped.GeneratorDiagnostics);
        Assert.Equal("SWARM1010", note.Id);
        Assert.Contains("the compiled pipeline (SwarmDslCompilePipeline", note.GetMessage(), StringComparison.Ordinal);

        // Listing nodes compiles theirs only; every other node's tables stay interpreted (Table returns null for them).
        var plan = SwarmCompiler.CompileToPlan("wide.swarm.yaml", Wide.Value).Plan!;
        string first = plan.Hosts[0].Node, second = plan.Hosts[1].Node;
        var some = Run("wide.swarm.yaml", Wide.Value, runtime: true, pipelineNodes: " " + second + ";" + first + ";", ("SwarmDslEmbedProvisioning", "false"), ("SwarmDslEmbedDumps", "false"),
            ("SwarmDslFullHandles", "false"));
        Assert.Empty(some.GeneratorDiagnostics);
        var source = some.Source(hint);
        Assert.Contains("case \"" + first + "/host/filter\":", source, StringComparison.Ordinal);
        Assert.Contains("case \"" + second + "/host/filter\":", source, StringComparison.Ordinal);
        Assert.DoesNotContain("case \"" + plan.Hosts[2].Node + "/", source, StringComparison.Ordinal);
        Assert.Contains("Compiled for " + first + ", " + second + " only (SwarmDslPipelineNodes)", source, StringComparison.Ordinal);
        // The forwarding lookups too: the listed nodes' route tables and FDBs, no other node's.
        Assert.Contains("case \"" + first + "/host\": return Routes", source, StringComparison.Ordinal);
        Assert.Contains("case \"" + second + "/host\": return Routes", source, StringComparison.Ordinal);
        Assert.Contains("case \"" + first + "/host/docker_gwbridge\": return BridgeFdb", source, StringComparison.Ordinal);
        Assert.Contains("Compiled for " + first + ", " + second + " only (SwarmDslPipelineNodes): every other node keeps the Runtime's tables", source, StringComparison.Ordinal);
        Assert.Empty(GeneratorHarness.Format(some.OutputProblems));

        // A node the topology does not have is a warning (a typo would otherwise leave that node interpreted, silently).
        var typo = Run("wide.swarm.yaml", Wide.Value, runtime: true, pipelineNodes: first + ",node-999", ("SwarmDslEmbedProvisioning", "false"), ("SwarmDslEmbedDumps", "false"),
            ("SwarmDslFullHandles", "false"));
        var warning = Assert.Single(typo.GeneratorDiagnostics);
        Assert.Equal(("SWARM1011", DiagnosticSeverity.Warning), (warning.Id, warning.Severity));
        Assert.Contains("names node 'node-999', which the topology does not have", warning.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("case \"" + first + "/host/filter\":", typo.Source(hint), StringComparison.Ordinal);

        // true compiles it whatever the size; false never, and silently.
        var never = Run("two-node.swarm.yaml", GeneratorHarness.ExampleYaml, runtime: true, pipelineNodes: null, ("SwarmDslCompilePipeline", "false"));
        Assert.Empty(never.GeneratorDiagnostics);
        Assert.DoesNotContain(never.Result.GeneratedSources, s => s.HintName.EndsWith(".pipeline.g.cs", StringComparison.Ordinal));
        // Without the compiled pipeline the simulation's entry points stay, interpreted: code using them compiles whether or
        // not a topology is above the limit (a tester's find: they went with the pipeline, CS0117 in the user's code).
        const string use = """
            namespace Consumer.App
            {
                static class Use
                {
                    static int M()
                    {
                        var a = TwoNode.CreateSimulation(1);
                        var b = TwoNode.CreateInterpretedSimulation(1);
                        var c = TwoNode.CreateSimulation(TwoNode.CompilePlan(), 1);
                        return a.Connect(TwoNode.Traffic.External, TwoNode.Traffic.At("manager", 8080)).Count + b.GetHashCode() + c.GetHashCode()
                            + TwoNode.DeclarationPaths.GetHashCode();
                    }
                }
            }
            """;
        var interpreted = Run("two-node.swarm.yaml", GeneratorHarness.ExampleYaml, runtime: true, pipelineNodes: null, use, ("SwarmDslCompilePipeline", "false"));
        Assert.Empty(interpreted.GeneratorDiagnostics);
        Assert.Empty(GeneratorHarness.Format(interpreted.OutputProblems));
        var entry = interpreted.Source("Consumer.App.TwoNode.swarm.runtime.g.cs");
        Assert.DoesNotContain("Compiled", entry, StringComparison.Ordinal);
        Assert.Contains(skipped.Result.GeneratedSources, s => s.HintName == "Consumer.App.Wide.swarm.runtime.g.cs");
    }

    [Fact]
    public void Example_IsBelowTheLimit_AndEmbedsEverythingByDefault()
    {
        var plan = SwarmCompiler.CompileToPlan("two-node.swarm.yaml", GeneratorHarness.ExampleYaml).Plan!;
        Assert.InRange(PlanSize.Elements(plan), 1, PlanSize.AutoEmbedLimit);
        var run = Run("two-node.swarm.yaml", GeneratorHarness.ExampleYaml);
        Assert.Empty(run.GeneratorDiagnostics);
        var source = run.Source(Hint);
        Assert.Contains("internal static class Provisioning", source, StringComparison.Ordinal);
        Assert.Contains("internal const string ModelDump =", source, StringComparison.Ordinal);
        Assert.Contains("internal const string PlanDump =", source, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("false", "false")]
    [InlineData("False", "true")]
    [InlineData("true", "FALSE")]
    public void Properties_ForceEachGroupInOrOut_Silently(string provisioning, string dumps)
    {
        var run = Run("two-node.swarm.yaml", GeneratorHarness.ExampleYaml, ("SwarmDslEmbedProvisioning", provisioning), ("SwarmDslEmbedDumps", dumps));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
        var source = run.Source(Hint);
        bool p = bool.Parse(provisioning), d = bool.Parse(dumps);
        Assert.Equal(p, source.Contains("internal static class Provisioning", StringComparison.Ordinal));
        Assert.Equal(!p, source.Contains("// Provisioning (the files swarmdsl emit writes): not embedded.", StringComparison.Ordinal));
        Assert.Equal(d, source.Contains("internal const string PlanDump =", StringComparison.Ordinal));
        Assert.Equal(d, source.Contains("internal const string ModelDump =", StringComparison.Ordinal));
        // The YAML text stays: it is what a program compiles to simulate the topology.
        Assert.Contains("internal const string SourceText =", source, StringComparison.Ordinal);
    }

    [Fact]
    public void AboveTheLimit_Auto_LeavesTheTextOut_AndSaysSo()
    {
        var plan = SwarmCompiler.CompileToPlan("wide.swarm.yaml", Wide.Value).Plan!;
        int elements = PlanSize.Elements(plan);
        Assert.True(elements > PlanSize.AutoEmbedLimit, elements + " elements");

        var run = Run("wide.swarm.yaml", Wide.Value, ("SwarmDslEmbedDumps", "auto"));
        var note = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1010", note.Id);
        Assert.Equal(DiagnosticSeverity.Info, note.Severity);
        Assert.Contains(elements.ToString(System.Globalization.CultureInfo.InvariantCulture) + " dataplane elements", note.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("SwarmDslEmbedProvisioning", note.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("SwarmDslEmbedDumps", note.GetMessage(), StringComparison.Ordinal);
        Assert.Contains("SwarmDslFullHandles", note.GetMessage(), StringComparison.Ordinal);
        var source = run.Source("Consumer.App.Wide.swarm.g.cs");
        Assert.DoesNotContain("class Provisioning", source, StringComparison.Ordinal);
        Assert.DoesNotContain("PlanDump =", source, StringComparison.Ordinal);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));

        // An explicit choice is not reported; true embeds whatever the size.
        var forced = Run("wide.swarm.yaml", Wide.Value, ("SwarmDslEmbedProvisioning", "true"), ("SwarmDslEmbedDumps", "false"), ("SwarmDslFullHandles", "true"));
        Assert.Empty(forced.GeneratorDiagnostics);
        Assert.Contains("internal static class Provisioning", forced.Source("Consumer.App.Wide.swarm.g.cs"), StringComparison.Ordinal);
    }
}
