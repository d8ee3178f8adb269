using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using SwarmDsl.Generators.Expectations;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Tests;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The expectation simulation's key (the location-free topology) has no source location left in it, is equal for a
/// topology whose declarations only moved (and then so is the plan, but for its spans), and the simulation's verdicts,
/// once restored, read exactly as the evaluator's messages on the real model.
/// </summary>
public class LocationFreeTests
{
    private static readonly string KitchenSink = File.ReadAllText(Path.Combine(Paths.Root, "tests", "Generators.Tests", "Inputs", "kitchen-sink.swarm.yaml"));

    /// <summary>The example plus a raw rule on the worker that drops forwarded tcp/8080: its second expectation fails.</summary>
    private static string ExampleWithDrop => GeneratorHarness.ExampleYaml.Replace("\r\n", "\n")
        + "\nrules:\n  - node: worker\n    table: filter\n    chain: FORWARD\n    rule: -p tcp --dport 8080 -j DROP\n    position: insert\n";

    private static PlanCompilationResult Compile(string file, string yaml)
    {
        var result = SwarmCompiler.CompileToPlan(file, yaml);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        return result;
    }

    public static TheoryData<string> Topologies => new() { "example", "kitchen-sink", "example-with-drop" };

    private static string Yaml(string name) => name switch
    {
        "example" => GeneratorHarness.ExampleYaml,
        "kitchen-sink" => KitchenSink,
        _ => ExampleWithDrop,
    };

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Every_span_of_the_topology_becomes_a_placeholder_and_the_plan_has_no_other(string name)
    {
        var compiled = Compile(name + ".swarm.yaml", Yaml(name));
        var (topology, spans) = LocationFree.Erase(compiled.Topology!);
        var found = new List<SourceSpan>();
        Walk(topology, found, new HashSet<object>(ReferenceEqualityComparer.Instance));
        // The walk sees the spans (of nodes, tasks, endpoints, ...), and none of them is a real place.
        Assert.True(found.Count > 20, $"only {found.Count} spans found");
        Assert.All(found.Where(s => s.IsKnown), s => Assert.Equal(LocationFree.Marker, s.File));
        // One placeholder per distinct real span, each naming a real place in the file.
        Assert.Equal(found.Where(s => s.IsKnown).Distinct().Count(), spans.Count);
        Assert.All(spans, s => Assert.True(s.IsKnown && s.File == name + ".swarm.yaml", s.ToString()));
        // The plan's spans are the topology's (so every declaration a simulation message names has a placeholder).
        var inPlan = new List<SourceSpan>();
        Walk(compiled.Plan, inPlan, new HashSet<object>(ReferenceEqualityComparer.Instance));
        Assert.True(inPlan.Count > 100, $"only {inPlan.Count} spans found in the plan");
        Assert.All(inPlan.Where(s => s.IsKnown).Distinct(), s => Assert.Contains(s, spans));
    }

    [Theory]
    [MemberData(nameof(Topologies))]
    public void Moving_every_declaration_leaves_the_erased_topology_equal_and_the_plan_equal_but_for_its_spans(string name)
    {
        var yaml = Yaml(name);
        var before = Compile("t.swarm.yaml", yaml);
        var after = Compile("t.swarm.yaml", "# one line more\n" + yaml);
        Assert.NotEqual(before.Topology, after.Topology);
        var (t1, spans1) = LocationFree.Erase(before.Topology!);
        var (t2, spans2) = LocationFree.Erase(after.Topology!);
        Assert.Equal(t1, t2);
        Assert.Equal(spans1.Select(s => s with { StartLine = s.StartLine + 1, EndLine = s.EndLine + 1 }), spans2);
        // What makes the topology alone a sufficient key: the plan lowered from it is the same plan, each span moved as the
        // topology's placeholder of it says.
        var moved = Enumerable.Range(0, spans1.Count).ToDictionary(i => spans1[i], i => spans2[i]);
        Assert.Null(DifferenceButForSpans(before.Plan, after.Plan, moved, "plan"));
        Assert.NotNull(DifferenceButForSpans(before.Plan, after.Plan, spans1.ToDictionary(s => s, s => s), "plan"));
    }

    [Fact]
    public void A_changed_topology_is_not_equal_once_erased()
    {
        var yaml = ExampleWithDrop;
        var (t1, _) = LocationFree.Erase(Compile("t.swarm.yaml", yaml).Topology!);
        var (t2, _) = LocationFree.Erase(Compile("t.swarm.yaml", yaml.Replace("--dport 8080 -j DROP", "--dport 8081 -j DROP")).Topology!);
        Assert.NotEqual(t1, t2);
        var (t3, _) = LocationFree.Erase(Compile("t.swarm.yaml", yaml.Replace("reaches: web", "blocked: true")).Topology!);
        Assert.NotEqual(t1, t3);
    }

    [Fact]
    public void The_simulation_with_placeholders_reports_what_it_reports_with_places_once_restored()
    {
        var compiled = Compile("two-node.swarm.yaml", ExampleWithDrop);
        var real = ExpectationEvaluator.Evaluate(compiled.Topology!, compiled.Plan!);
        var failure = Assert.Single(real);
        Assert.EndsWith(" from two-node.swarm.yaml:71:11", failure.Message, StringComparison.Ordinal);

        var (locationFree, spans) = LocationFree.Erase(compiled.Topology!);
        var verdicts = ExpectationCheck.Evaluate(new ExpectationInput("k", locationFree, compiled.Topology!, compiled.Plan!, spans), default)!;
        var verdict = Assert.Single(verdicts.Verdicts);
        // The verdict names no place, only placeholders; restored, it is the message of the real model.
        Assert.DoesNotContain("two-node.swarm.yaml", verdict.Message, StringComparison.Ordinal);
        Assert.Equal(failure.Message, LocationFree.Restore(verdict.Message, spans));
        Assert.Equal(failure.Span, spans[LocationFree.IndexOf(verdict.Span)]);
    }

    [Fact]
    public void Restore_replaces_whole_placeholders_only()
    {
        var spans = SwarmDsl.Collections.EquatableArray.Create(new SourceSpan("a/x.yaml", 3, 4, 3, 9), new SourceSpan("y.cs", 10, 2, 10, 5));
        string P(int index) => LocationFree.Placeholder(index).ToShortString();
        Assert.Equal("from x.yaml:3:4 and y.cs:10:2.", LocationFree.Restore("from " + P(0) + " and " + P(1) + ".", spans));
        Assert.Equal("y.cs:10:2", LocationFree.Restore(P(1), spans));
        Assert.Equal("no place here", LocationFree.Restore("no place here", spans));
        // Not a placeholder's short form (another column, an index out of range): left as written.
        var other = LocationFree.Marker + ":1:12 " + LocationFree.Marker + ":9:1";
        Assert.Equal(other, LocationFree.Restore(other, spans));
    }

    /// <summary>
    /// The path of the first difference between two model graphs where each known span of <paramref name="a"/> must be
    /// <paramref name="moved"/>'s image of it in <paramref name="b"/>; null when there is none.
    /// </summary>
    private static string? DifferenceButForSpans(object? a, object? b, Dictionary<SourceSpan, SourceSpan> moved, string path)
        => ModelGraph.FirstDifference(a, b, path, (sa, sb, at) =>
            !sa.IsKnown ? (sa == sb ? null : $"{at}: {sa} vs {sb}")
            : moved.TryGetValue(sa, out var expected) && expected == sb ? null : $"{at}: {sa} became {sb}");

    /// <summary>Every <see cref="SourceSpan"/> reachable from <paramref name="node"/> through fields and items.</summary>
    private static void Walk(object? node, List<SourceSpan> found, HashSet<object> seen)
    {
        if (node is null) return;
        if (node is SourceSpan span)
        {
            found.Add(span);
            return;
        }
        var type = node.GetType();
        if (type.IsPrimitive || type.IsEnum || node is string) return;
        if (!type.IsValueType && !seen.Add(node)) return;
        if (node is IEnumerable items)
        {
            foreach (var item in items) Walk(item, found, seen);
            return;
        }
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                Walk(field.GetValue(node), found, seen);
    }
}
