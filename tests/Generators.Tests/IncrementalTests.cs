using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The pipeline is cache-friendly: unrelated edits leave every step Cached or Unchanged, editing one topology redoes only
/// that topology, and no step output holds a symbol, a syntax node, a compilation or a Roslyn location.
/// </summary>
public class IncrementalTests
{
    private static readonly string[] StepNames = typeof(TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToArray();

    private static string OtherYaml => GeneratorHarness.ExampleYaml.Replace("name: two-node", "name: other-cluster");

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) Start()
    {
        var compilation = GeneratorHarness.Compilation(
            ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes),
            ("Unrelated.cs", "namespace Consumer.App { internal static class Unrelated { internal static int Value => 1; } }"));
        var driver = GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml), ("other.swarm.yaml", OtherYaml)]);
        driver = driver.RunGenerators(compilation);
        return (driver, compilation);
    }

    private static GeneratorRunResult Result(GeneratorDriver driver) => driver.GetRunResult().Results.Single();

    private static IEnumerable<(string Step, object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string step)
        => result.TrackedSteps.TryGetValue(step, out var steps)
            ? steps.SelectMany(s => s.Outputs.Select(o => (step, o.Value, o.Reason)))
            : [];

    private static string Describe(IEnumerable<(string Step, object Value, IncrementalStepRunReason Reason)> outputs)
        => string.Join("\n", outputs.Select(o => $"{o.Step}: {o.Reason} {o.Value}"));

    [Fact]
    public void EveryTrackingName_IsAStepOfTheRun()
    {
        var result = Result(Start().Driver);
        foreach (var name in StepNames) Assert.True(result.TrackedSteps.ContainsKey(name), $"no step named {name}");
    }

    [Fact]
    public void SecondRun_OnTheSameCompilation_IsAllCached()
    {
        var (driver, compilation) = Start();
        var result = Result(driver.RunGenerators(compilation.Clone()));
        var outputs = StepNames.SelectMany(n => Outputs(result, n)).ToList();
        Assert.All(outputs, o => Assert.True(o.Reason == IncrementalStepRunReason.Cached || o.Reason == IncrementalStepRunReason.Unchanged, Describe([o])));
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void UnrelatedCSharpEdit_LeavesEveryStepCachedOrUnchanged()
    {
        var (driver, compilation) = Start();
        var old = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith("Unrelated.cs", StringComparison.Ordinal));
        var edited = compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            "namespace Consumer.App { internal static class Unrelated { internal static int Value => 2; } }")))
            .AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Consumer.App { internal sealed class Added { } }", GeneratorHarness.ParseOptions, GeneratorHarness.ProjectDir + "Added.cs"));
        var result = Result(driver.RunGenerators(edited));

        var outputs = StepNames.SelectMany(n => Outputs(result, n)).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, Describe([o])));
        // Nothing was re-added or re-reported.
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void UnrelatedCSharpEdit_WithTheRuntimeReferenced_LeavesEveryStepCachedOrUnchanged()
    {
        // The compiled pipeline depends on a bool selected from the compilation: an edit keeps it, so nothing re-runs.
        var compilation = GeneratorHarness.WithRuntime(GeneratorHarness.Compilation(
            ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes),
            ("Unrelated.cs", "namespace Consumer.App { internal static class Unrelated { internal static int Value => 1; } }")));
        var driver = GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]).RunGenerators(compilation);
        Assert.Contains(Result(driver).GeneratedSources, s => s.HintName.EndsWith(".pipeline.g.cs", StringComparison.Ordinal));
        var old = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith("Unrelated.cs", StringComparison.Ordinal));
        var edited = compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            "namespace Consumer.App { internal static class Unrelated { internal static int Value => 2; } }")));
        var result = Result(driver.RunGenerators(edited));
        var outputs = StepNames.SelectMany(n => Outputs(result, n)).ToList();
        Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, Describe([o])));
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));

        // Adding the reference is what changes the output: the emit steps run again and the pipeline appears.
        var (plainDriver, plain) = Start();
        var withRuntime = Result(plainDriver.RunGenerators(GeneratorHarness.WithRuntime(plain)));
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(withRuntime, TrackingNames.EmitSettings)).Reason);
        Assert.All(Outputs(withRuntime, TrackingNames.EmitYaml), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
        Assert.Equal(2, withRuntime.GeneratedSources.Count(s => s.HintName.EndsWith(".swarm.pipeline.g.cs", StringComparison.Ordinal)));
    }

    [Fact]
    public void EditingOneYaml_RegeneratesOnlyThatTopology()
    {
        var (driver, compilation) = Start();
        // Replace by path: the driver matches additional texts by identity, so swap the instance it holds.
        var held = FindAdditionalText(driver, "other.swarm.yaml");
        var edited = new InMemoryAdditionalText(held.Path, OtherYaml.Replace("replicas: 2", "replicas: 3"));
        var result = Result(driver.ReplaceAdditionalText(held, edited).RunGenerators(compilation));

        string KeyOf(object value) => value switch
        {
            Model.YamlSource s => s.Path,
            Model.TopologyResult r => r.Key,
            SwarmTopologyGenerator.EmitResult e => e.Source?.HintName ?? "",
            _ => "",
        };
        foreach (var step in new[] { TrackingNames.ReadYaml, TrackingNames.CompileYaml, TrackingNames.EmitYaml })
        {
            var outputs = Outputs(result, step).ToList();
            Assert.Equal(2, outputs.Count);
            foreach (var o in outputs)
            {
                bool isOther = KeyOf(o.Value).Contains("other", StringComparison.OrdinalIgnoreCase) || KeyOf(o.Value).Contains("Other", StringComparison.Ordinal);
                var expected = isOther ? IncrementalStepRunReason.Modified : IncrementalStepRunReason.Cached;
                Assert.True(o.Reason == expected, $"{step}: {KeyOf(o.Value)} was {o.Reason}, expected {expected}");
            }
        }
        // The class index depends on paths and names only: unchanged by a content edit.
        Assert.All(Outputs(result, TrackingNames.DuplicateClasses), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        // The attribute topology is untouched.
        foreach (var step in new[] { TrackingNames.ReadAttributes, TrackingNames.CompileAttributes, TrackingNames.EmitAttributes })
            Assert.All(Outputs(result, step), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, Describe([o])));
    }

    [Fact]
    public void EditingTheAttributes_RegeneratesOnlyThatTopology()
    {
        var (driver, compilation) = Start();
        var old = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith("TwoNodeDeclared.cs", StringComparison.Ordinal));
        var edited = compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            GeneratorHarness.ExampleAttributes.Replace("Replicas = 2", "Replicas = 3"))));
        var result = Result(driver.RunGenerators(edited));
        foreach (var step in new[] { TrackingNames.ReadAttributes, TrackingNames.CompileAttributes, TrackingNames.EmitAttributes })
            Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(result, step)).Reason);
        foreach (var step in new[] { TrackingNames.ReadYaml, TrackingNames.CompileYaml, TrackingNames.EmitYaml })
            Assert.All(Outputs(result, step), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Expectations_AreSimulatedOnlyWhenTheirTopologyChanges()
    {
        var (driver, compilation) = Start();
        static string KeyOf(object value) => ((Expectations.ExpectationVerdicts)value).Key;
        static int Failures(object value) => ((Expectations.ExpectationVerdicts)value).Verdicts.Count;

        // An unrelated C# edit: the simulation step does not run at all (Cached, not merely Unchanged).
        var old = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith("Unrelated.cs", StringComparison.Ordinal));
        var unrelated = compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            "namespace Consumer.App { internal static class Unrelated { internal static int Value => 3; } }")));
        var result = Result(driver.RunGenerators(unrelated));
        Assert.Equal(2, Outputs(result, TrackingNames.ExpectYaml).Count());
        Assert.Single(Outputs(result, TrackingNames.ExpectAttributes));
        foreach (var step in new[] { TrackingNames.ExpectYaml, TrackingNames.ExpectAttributes })
            Assert.All(Outputs(result, step), o => Assert.True(o.Reason == IncrementalStepRunReason.Cached, Describe([o])));

        // Breaking one YAML's expectation: only that topology is simulated again, and now it fails.
        var held = FindAdditionalText(driver, "other.swarm.yaml");
        var broken = new InMemoryAdditionalText(held.Path, OtherYaml.Replace("\r\n", "\n")
            + "\nrules:\n  - node: worker\n    chain: FORWARD\n    rule: -p tcp --dport 8080 -j DROP\n    position: insert\n");
        result = Result(driver.ReplaceAdditionalText(held, broken).RunGenerators(compilation));
        foreach (var o in Outputs(result, TrackingNames.ExpectYaml))
        {
            bool isOther = KeyOf(o.Value).EndsWith("other.swarm.yaml", StringComparison.Ordinal);
            Assert.True(o.Reason == (isOther ? IncrementalStepRunReason.Modified : IncrementalStepRunReason.Cached), Describe([o]));
            Assert.Equal(isOther ? 1 : 0, Failures(o.Value));
        }
        Assert.All(Outputs(result, TrackingNames.ExpectAttributes), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    /// <summary>The example plus a raw rule on the worker that drops forwarded tcp/8080: its second expectation fails.</summary>
    private static string YamlWithDrop => GeneratorHarness.ExampleYaml.Replace("\r\n", "\n")
        + "\nrules:\n  - node: worker\n    table: filter\n    chain: FORWARD\n    rule: -p tcp --dport 8080 -j DROP\n    position: insert\n";

    /// <summary>The attribute example with the same rule: its second <c>[Expect]</c> fails.</summary>
    private static string AttributesWithDrop => GeneratorHarness.ExampleAttributes.Replace("internal static partial class TwoNodeDeclared;",
        "[Rule(\"FORWARD\", \"-p tcp --dport 8080 -j DROP\", Node = \"worker\", Table = NetfilterTable.Filter, Position = RulePosition.Insert)]\n"
        + "internal static partial class TwoNodeDeclared;");

    private static Diagnostic FailedExpectation(GeneratorDriver driver) => Assert.Single(driver.GetRunResult().Diagnostics, d => d.Id == "SWARM0020");

    /// <summary>The line and column of the declaration a SWARM0020 message names (<c>… from FILE:LINE:COL</c>), and the message before it.</summary>
    private static (string Why, int Line, int Column) NamedDeclaration(Diagnostic d, string file)
    {
        var m = System.Text.RegularExpressions.Regex.Match(d.GetMessage(), "^(.*) from " + System.Text.RegularExpressions.Regex.Escape(file) + ":(\\d+):(\\d+)$");
        Assert.True(m.Success, d.GetMessage());
        return (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void MovingTheAttributes_DoesNotSimulateAgain_AndTheFailureMovesWithThem()
    {
        var compilation = GeneratorHarness.Compilation(("TwoNodeDeclared.cs", AttributesWithDrop));
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        var before = FailedExpectation(driver);
        var (why, line, column) = NamedDeclaration(before, "TwoNodeDeclared.cs");

        // A comment line above [SwarmTopology]: every declaration moves one line down, and nothing else changes.
        var moved = AttributesWithDrop.Replace("[SwarmTopology(", "// one line more\n[SwarmTopology(");
        var old = compilation.SyntaxTrees.Single();
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(moved))));
        var result = Result(driver);

        // The model moved (its spans are the attributes'), so it was compiled again; the simulation did not run at all
        // (Cached: its location-free input was Unchanged), and only placing its verdict did.
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(result, TrackingNames.CompileAttributes)).Reason);
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(result, TrackingNames.PrepareExpectAttributes)).Reason);
        var simulation = Assert.Single(Outputs(result, TrackingNames.ExpectAttributes));
        Assert.True(simulation.Reason == IncrementalStepRunReason.Cached, Describe([simulation]));
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(result, TrackingNames.LocateExpectAttributes)).Reason);

        // The error is at the moved [Expect] attribute, and names the raw rule where it is now.
        var after = FailedExpectation(driver);
        Assert.True(after.Location.IsInSource);
        var expect = moved.IndexOf("Expect(\"external\", \"worker:8080/tcp\", Reaches = \"web\")", StringComparison.Ordinal);
        Assert.Equal(expect, after.Location.SourceSpan.Start);
        Assert.Equal(before.Location.GetLineSpan().StartLinePosition.Line + 1, after.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal((why, line + 1, column), NamedDeclaration(after, "TwoNodeDeclared.cs"));
    }

    [Fact]
    public void MovingYamlDeclarations_DoesNotSimulateAgain_AndTheFailureMovesWithThem()
    {
        var compilation = GeneratorHarness.Compilation(("Empty.cs", ""));
        var driver = GeneratorHarness.Driver([("two-node.swarm.yaml", YamlWithDrop), ("other.swarm.yaml", OtherYaml)]).RunGenerators(compilation);
        var before = FailedExpectation(driver);
        Assert.StartsWith("/consumer/two-node.swarm.yaml(63,5): error SWARM0020: ", before.ToString(), StringComparison.Ordinal);
        var (why, line, column) = NamedDeclaration(before, "two-node.swarm.yaml");
        Assert.Equal((71, 11), (line, column));

        var held = FindAdditionalText(driver, "two-node.swarm.yaml");
        driver = driver.ReplaceAdditionalText(held, new InMemoryAdditionalText(held.Path, "# one line more\n" + YamlWithDrop)).RunGenerators(compilation);
        var result = Result(driver);

        static string KeyOf(object value) => value switch
        {
            Model.TopologyResult r => r.Key,
            Expectations.ExpectationJob j => j.Key,
            ValueTuple<string, SwarmDsl.Collections.EquatableArray<Model.DiagnosticInfo>> located => located.Item1,
            _ => "",
        };
        foreach (var step in new[] { TrackingNames.CompileYaml, TrackingNames.PrepareExpectYaml, TrackingNames.LocateExpectYaml })
            foreach (var o in Outputs(result, step))
            {
                // The moved file's model and places change; the other file's do not.
                var expected = KeyOf(o.Value).EndsWith("two-node.swarm.yaml", StringComparison.Ordinal) ? IncrementalStepRunReason.Modified : IncrementalStepRunReason.Cached;
                Assert.True(o.Reason == expected || expected == IncrementalStepRunReason.Cached && o.Reason == IncrementalStepRunReason.Unchanged, Describe([o]));
            }
        // Neither topology is simulated again.
        Assert.Equal(2, Outputs(result, TrackingNames.ExpectYaml).Count());
        Assert.All(Outputs(result, TrackingNames.ExpectYaml), o => Assert.True(o.Reason == IncrementalStepRunReason.Cached, Describe([o])));

        // The error is at the moved entry, and names the raw rule where it is now.
        var after = FailedExpectation(driver);
        Assert.StartsWith("/consumer/two-node.swarm.yaml(64,5): error SWARM0020: ", after.ToString(), StringComparison.Ordinal);
        Assert.Equal((why, 72, 11), NamedDeclaration(after, "two-node.swarm.yaml"));
    }

    [Fact]
    public void EditingWhatAnExpectationDependsOn_StillSimulatesAgain()
    {
        // The attribute twin of Expectations_AreSimulatedOnlyWhenTheirTopologyChanges: a change of the model, not of its places.
        var compilation = GeneratorHarness.Compilation(("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes));
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        Assert.DoesNotContain(driver.GetRunResult().Diagnostics, d => d.Id == "SWARM0020");
        var old = compilation.SyntaxTrees.Single();
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, old.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(AttributesWithDrop))));
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(Outputs(Result(driver), TrackingNames.ExpectAttributes)).Reason);
        Assert.StartsWith("expected external → worker:8080/tcp to reach web: connection 1 of 2 was dropped by FilterDrop",
            FailedExpectation(driver).GetMessage(), StringComparison.Ordinal);
    }

    [Fact]
    public void NoStepOutput_HoldsCompilationObjects()
    {
        var (driver, compilation) = Start();
        // A run with diagnostics too, so diagnostic data is walked as well.
        var broken = GeneratorHarness.Driver([("bad.swarm.yaml", "version: 1\nname: bad\nnodes:\n  a: {address: nope}\n")])
            .RunGenerators(GeneratorHarness.Compilation(("Bad.cs", "using SwarmDsl; [SwarmTopology(\"b\")] [Node(\"Q\", \"x\")] partial class Bad;")));
        int trees = 0;
        foreach (var result in new[] { Result(driver), Result(broken) })
        {
            // Our steps only: Roslyn's own FAWMN steps hold the compilation by design.
            foreach (var (name, steps) in result.TrackedSteps.Where(s => StepNames.Contains(s.Key)))
            {
                // AttributeTrees carries the trees of topology types, OrphanElements the tree of an element attribute's type (both
                // for pragma-suppressible diagnostics); nothing else may.
                bool treesAllowed = name is TrackingNames.AttributeTrees or TrackingNames.OrphanElements;
                foreach (var step in steps)
                    foreach (var (value, _) in step.Outputs)
                        Walk(value, name, new HashSet<object>(ReferenceEqualityComparer.Instance), treesAllowed, ref trees);
            }
        }
        // The walk reaches inside the models: it found the trees AttributeTrees is there to hold.
        Assert.True(trees >= 2, $"walked into {trees} trees");
    }

    private static void Walk(object? node, string path, HashSet<object> seen, bool treesAllowed, ref int trees)
    {
        if (node is null) return;
        var type = node.GetType();
        if (type.IsPrimitive || type.IsEnum || node is string || node is decimal) return;
        Assert.False(node is Compilation or ISymbol or SyntaxNode or SemanticModel or Location or Diagnostic or AttributeData,
            $"{path} holds a {type.FullName}");
        if (node is SyntaxTree)
        {
            Assert.True(treesAllowed, $"{path} holds a syntax tree");
            trees++;
            return;
        }
        if (!type.IsValueType && !seen.Add(node)) return;
        if (node is IEnumerable items)
        {
            int i = 0;
            foreach (var item in items) Walk(item, $"{path}[{i++}]", seen, treesAllowed, ref trees);
            return;
        }
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                Walk(field.GetValue(node), $"{path}.{field.Name}", seen, treesAllowed, ref trees);
    }

    private static AdditionalText FindAdditionalText(GeneratorDriver driver, string name)
    {
        // The driver's state is not public; the step inputs are: ReadYaml's input chain starts at the additional text.
        var result = Result(driver);
        foreach (var step in result.TrackedSteps[TrackingNames.ReadYaml])
            foreach (var text in Sources(step))
                if (text.Path.EndsWith(name, StringComparison.Ordinal)) return text;
        throw new InvalidOperationException("additional text not found: " + name);
    }

    private static IEnumerable<AdditionalText> Sources(IncrementalGeneratorRunStep step)
    {
        foreach (var (input, _) in step.Inputs)
        {
            foreach (var (value, _) in input.Outputs)
            {
                if (value is AdditionalText t) yield return t;
                else if (value is ValueTuple<AdditionalText, Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider> pair) yield return pair.Item1;
            }
            foreach (var t in Sources(input)) yield return t;
        }
    }
}
