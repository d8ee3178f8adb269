using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using SwarmDsl.Collections;
using SwarmDsl.Diagnostics;
using SwarmDsl.Generators.Model;
using SwarmDsl.Generators.Parsing;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Semantics;
using SwarmDsl.Syntax;
using SwarmDsl.Text;
using SwarmDsl.Tests;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The YAML form and the attribute form of one topology give the same analyzed model.
/// <para>
/// How source locations are normalised: two <see cref="Topology"/> values are compared field by field, recursively, and
/// every <see cref="SourceSpan"/> (where a value was declared: a YAML line or an attribute argument) is left out, as is
/// <see cref="Topology.File"/>. Everything else — names, addresses, VNIs, fwmarks, MACs, order — must be equal. Because the
/// comparison walks the record graph, a field added to the model later is compared too without touching this test.
/// The model dumps are also compared with their <c>@file:line:col</c> suffixes removed.
/// </para>
/// </summary>
public class FormEquivalenceTests
{
    private static string Input(string name) => File.ReadAllText(Path.Combine(Paths.Root, "tests", "Generators.Tests", "Inputs", name));

    private static (Topology Yaml, Topology Attributes) BothForms(string yamlFile, string yaml, string csFile, string cs)
    {
        var run = GeneratorHarness.RunGenerator([(yamlFile, yaml)], (csFile, cs));
        Assert.Empty(GeneratorHarness.Format(run.GeneratorDiagnostics));
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
        Topology From(string step) => run.Result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => (TopologyResult)o.Value).Single().Spec!.Topology;
        return (From(TrackingNames.CompileYaml), From(TrackingNames.CompileAttributes));
    }

    [Fact]
    public void Example_BothFormsGiveTheSameModel()
    {
        var (yaml, attributes) = BothForms("two-node.swarm.yaml", GeneratorHarness.ExampleYaml, "TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes);
        AssertSameModel(yaml, attributes);
        // And the locations are each form's own: YAML lines, attribute arguments.
        Assert.Equal("two-node.swarm.yaml:9:3", yaml.Nodes[0].Span.ToShortString());
        Assert.StartsWith("TwoNodeDeclared.cs:", attributes.Nodes[0].Span.ToShortString(), StringComparison.Ordinal);
    }

    [Fact]
    public void KitchenSink_BothFormsGiveTheSameModel()
    {
        var (yaml, attributes) = BothForms("kitchen-sink.swarm.yaml", Input("kitchen-sink.swarm.yaml"), "KitchenSink.cs", Input("KitchenSink.cs"));
        AssertSameModel(yaml, attributes);
        // The topology really exercises what it claims to.
        Assert.Equal(3, yaml.Networks.Count);
        Assert.Contains(yaml.Services, s => s.Mode == ServiceMode.Global && s.EndpointMode == EndpointMode.Dnsrr);
        Assert.Single(yaml.Rules);
        Assert.Equal(2, yaml.Sysctls.Count);
        Assert.Contains(yaml.Nodes[0].Labels, l => l.Key == "rack" && l.Value == "r1");
    }

    /// <summary>
    /// Both forms emit the same provisioning files but for the declaration locations, which name each form's own file
    /// (spec/cli.md: every rule comment names the line that caused it; an attribute topology's line is in its .cs file).
    /// </summary>
    [Theory]
    [InlineData("two-node.swarm.yaml", "TwoNodeDeclared.cs")]
    [InlineData("kitchen-sink.swarm.yaml", "KitchenSink.cs")]
    public void BothFormsEmitTheSameFilesButForLocations(string yamlFile, string csFile)
    {
        var (yaml, attributes) = yamlFile == "two-node.swarm.yaml"
            ? BothForms(yamlFile, GeneratorHarness.ExampleYaml, csFile, GeneratorHarness.ExampleAttributes)
            : BothForms(yamlFile, Input(yamlFile), csFile, Input(csFile));
        static IReadOnlyList<(string Path, string Text)> Files(Topology t)
        {
            var bag = new DiagnosticBag();
            var plan = SwarmDsl.Lowering.SwarmLowering.Lower(t, new SwarmDsl.Lowering.LoweringOptions(SwarmDsl.Plan.LoadBalancerBackend.Ipvs), bag);
            Assert.DoesNotContain(bag.Items, d => d.IsError);
            return SwarmDsl.Emit.ProvisioningEmitter.Emit(plan).Select(f => (f.Path, Regex.Replace(f.Content, @"[A-Za-z0-9_.-]+\.(swarm\.yaml|cs)(:\d+:\d+)?", "SOURCE"))).ToList();
        }
        var fromYaml = Files(yaml);
        var fromAttributes = Files(attributes);
        Assert.Equal(fromYaml.Select(f => f.Path), fromAttributes.Select(f => f.Path));
        for (int i = 0; i < fromYaml.Count; i++) Assert.Equal(fromYaml[i].Text, fromAttributes[i].Text);
        // The locations are there to remove: each form's own.
        Assert.Contains(fromYaml, f => f.Text.Contains("swarmdsl:", StringComparison.Ordinal) && f.Text.Contains("SOURCE", StringComparison.Ordinal));
    }

    [Fact]
    public void KitchenSink_UsesEveryKeyOfTheLanguage()
    {
        var bag = new DiagnosticBag();
        var root = YamlSyntaxReader.Read("kitchen-sink.swarm.yaml", Input("kitchen-sink.swarm.yaml"), bag);
        Assert.Empty(bag.Items);
        var used = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        CollectKeys(root!, "topology", used);
        foreach (var (element, keys) in LanguageKeys.ByElement)
            Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), used.TryGetValue(element, out var u) ? u : []);
    }

    [Fact]
    public void AttributeForm_CanWriteEveryKeyOfTheLanguage()
    {
        Assert.Equal(LanguageKeys.ByElement.Keys.OrderBy(k => k, StringComparer.Ordinal), AttributeBinder.KeysByElement.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (element, keys) in LanguageKeys.ByElement)
            Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), AttributeBinder.KeysByElement[element].OrderBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public void Comparison_DetectsADifference()
    {
        // The comparison must be able to fail: one derived value apart is a difference.
        var (yaml, attributes) = BothForms("two-node.swarm.yaml", GeneratorHarness.ExampleYaml,
            "TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes.Replace("Vni = 4096", "Vni = 4097"));
        Assert.NotNull(FirstDifference(yaml, attributes, "topology"));
        Assert.Null(FirstDifference(yaml, yaml with { Nodes = yaml.Nodes.Select(n => n with { Span = SourceSpan.None }).ToArray().ToEquatableArray() }, "topology"));
    }

    private static void AssertSameModel(Topology yaml, Topology attributes)
    {
        Assert.Null(FirstDifference(yaml, attributes, "topology"));
        static string WithoutPlaces(string dump) => Regex.Replace(dump, @" @\S+", "");
        Assert.Equal(WithoutPlaces(TopologyDump.Render(yaml)), WithoutPlaces(TopologyDump.Render(attributes)));
    }

    /// <summary>The path of the first difference between two model graphs, ignoring source spans; null when equal.</summary>
    private static string? FirstDifference(object? a, object? b, string path)
        => ModelGraph.FirstDifference(a, b, path, static (_, _, _) => null,
            static (t, field) => t == typeof(Topology) && field.Name.Contains(nameof(Topology.File), StringComparison.Ordinal));

    private static void CollectKeys(YamlNode node, string element, Dictionary<string, SortedSet<string>> used)
    {
        if (node is not YamlMapping m) return;
        if (!used.TryGetValue(element, out var set)) used[element] = set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in m.Entries)
        {
            var key = e.Key.Value;
            set.Add(key);
            switch (element, key)
            {
                case ("topology", "underlay"): CollectKeys(e.Value, "underlay", used); break;
                case ("topology", "nodes"): Each(e.Value, "node"); break;
                case ("topology", "networks"): Each(e.Value, "network"); break;
                case ("topology", "services"): Each(e.Value, "service"); break;
                case ("topology", "tuning"): CollectKeys(e.Value, "tuning", used); break;
                case ("topology", "rules"): Items(e.Value, "rule"); break;
                case ("topology", "expect"): Items(e.Value, "expect"); break;
                case ("service", "ports"): Items(e.Value, "port"); break;
                case ("service", "tasks"): Items(e.Value, "task"); break;
                case ("service", "loadBalancing"): CollectKeys(e.Value, "loadBalancing", used); break;
                case ("service", "placement"): CollectKeys(e.Value, "placement", used); break;
            }
        }

        void Each(YamlNode value, string child)
        {
            if (value is YamlMapping named) foreach (var e in named.Entries) CollectKeys(e.Value, child, used);
        }

        void Items(YamlNode value, string child)
        {
            if (value is YamlSequence seq) foreach (var item in seq.Items) CollectKeys(item, child, used);
        }
    }
}
