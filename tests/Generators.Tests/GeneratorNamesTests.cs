using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The names the generator gives and takes: the topology class, its namespace, the files it reads, and the text of doc
/// comments. Found by a black-box tester of the generator (session 18).
/// </summary>
public class GeneratorNamesTests
{
    private static GeneratorHarness.Run Run(IEnumerable<(string Path, string Text)> yaml, Dictionary<string, string>? properties = null,
        bool runtime = false, params (string Path, string Text)[] sources)
    {
        var global = new Dictionary<string, string> { ["build_property.RootNamespace"] = GeneratorHarness.RootNamespace };
        foreach (var (k, v) in properties ?? new()) global[k] = v;
        var compilation = GeneratorHarness.Compilation(sources.Length == 0 ? new[] { ("Empty.cs", "namespace Consumer.App { }") } : sources);
        return GeneratorHarness.RunGenerator(runtime ? GeneratorHarness.WithRuntime(compilation) : compilation,
            GeneratorHarness.Driver(yaml, new TestOptionsProvider(global)));
    }

    [Fact]
    public void Every_member_the_generator_declares_in_a_topology_class_is_a_reserved_name()
    {
        // Every setting on, with the runtime referenced (the compiled pipeline and its entry points).
        var run = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], new()
        {
            ["build_property.SwarmDslEmbedProvisioning"] = "true",
            ["build_property.SwarmDslEmbedDumps"] = "true",
            ["build_property.SwarmDslCompilePipeline"] = "true",
            ["build_property.SwarmDslFullHandles"] = "true",
        }, runtime: true);
        Assert.Empty(run.OutputProblems);
        var type = run.Output.GetTypeByMetadataName("Consumer.App.TwoNode")!;
        var names = type.GetMembers().Where(m => !m.IsImplicitlyDeclared && m.CanBeReferencedByName).Select(m => m.Name).Distinct().ToList();
        Assert.Contains("CompiledNetfilter", names);
        Assert.Contains("PlanDump", names);
        Assert.All(names, n => Assert.True(Identifiers.TopLevelMembers.Contains(n), n + " is declared in the topology class but not in Identifiers.TopLevelMembers"));
    }

    /// <summary>
    /// Types whose hint names coincide ignoring case (Lab, LAB), once characters are replaced (Bär, Bör), or with the
    /// generator's own files (SwarmDsl.Handles) each get their file: a tester's find, where Roslyn threw (CS8785) and every
    /// topology's generated code was lost.
    /// </summary>
    [Fact]
    public void Types_whose_file_names_would_coincide_each_get_their_own_file()
    {
        const string topologies = """
            using SwarmDsl;
            namespace Consumer.App.Umlaut
            {
                [SwarmTopology("baer")] [Node("gw", "10.1.0.10/24")] internal static partial class Bär;
                [SwarmTopology("boer")] [Node("gw", "10.1.0.10/24")] internal static partial class Bör;
                [SwarmTopology("lab1")] [Node("gw", "10.1.0.10/24")] internal static partial class Lab;
                [SwarmTopology("lab2")] [Node("gw", "10.1.0.10/24")] internal static partial class LAB;
            }
            namespace SwarmDsl
            {
                [SwarmTopology("handles")] [Node("gw", "10.1.0.10/24")] internal static partial class Handles;
            }
            """;
        var run = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], sources: ("Topologies.cs", topologies));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Null(run.Result.Exception);
        var hints = run.Result.GeneratedSources.Select(g => g.HintName).ToList();
        Assert.Equal(hints.Count, hints.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.True(hints.Count == 9, string.Join(", ", hints)); // the generator's own three (EmbeddedAttribute, Attributes, Handles), the YAML topology's, five attribute topologies'
        Assert.Contains("Consumer.App.TwoNode.swarm.g.cs", hints);
        foreach (var name in new[] { "Consumer.App.Umlaut.Bär", "Consumer.App.Umlaut.Bör", "Consumer.App.Umlaut.Lab", "Consumer.App.Umlaut.LAB", "SwarmDsl.Handles" })
            Assert.NotNull(run.Output.GetTypeByMetadataName(name)?.GetMembers("TopologyName").SingleOrDefault());
        Assert.Empty(run.OutputProblems);
        // The same names from run to run.
        var again = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], sources: ("Topologies.cs", topologies));
        Assert.Equal(hints, again.Result.GeneratedSources.Select(g => g.HintName).ToList());
    }

    /// <summary>
    /// A YAML file whose class is already a type of the project that a static partial class cannot join (a record) is
    /// SWARM1002 at the file, and nothing is generated for it; the project's own static partial part of the class is fine.
    /// A tester's find: CS0101 inside the generated file.
    /// </summary>
    [Fact]
    public void A_yaml_class_the_project_declares_otherwise_is_SWARM1002_at_the_file()
    {
        var run = Run([("shop.swarm.yaml", GeneratorHarness.ExampleYaml.Replace("name: two-node", "name: shop", StringComparison.Ordinal))],
            sources: ("Shop.cs", "namespace Consumer.App { internal sealed record Shop(string Name); }"));
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(("SWARM1002", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal("'shop.swarm.yaml' would generate class 'Consumer.App.Shop', which the project already declares in 'Shop.cs' as a type the generated static partial class cannot join: rename the file or the type, or set SwarmDslClassName on the file", d.GetMessage());
        Assert.EndsWith("shop.swarm.yaml", d.Location.GetLineSpan().Path, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Result.GeneratedSources, g => g.HintName.Contains("Shop", StringComparison.Ordinal));
        Assert.Empty(run.OutputProblems);

        var open = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            sources: ("Open.cs", "namespace Consumer.App { public static partial class TwoNode { } }"));
        Assert.Equal("SWARM1002", Assert.Single(open.GeneratorDiagnostics).Id); // public: the generated internal part would conflict (CS0262)

        var extended = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            sources: ("Extra.cs", "namespace Consumer.App { internal static partial class TwoNode { internal static int Extra => Nodes.All.Count; } }"));
        Assert.Empty(extended.GeneratorDiagnostics);
        Assert.Empty(extended.OutputProblems);
    }

    [Fact]
    public void A_file_name_in_another_script_keeps_its_letters_in_the_class_name()
    {
        var run = Run([("ünï-lab.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.NotNull(run.Output.GetTypeByMetadataName("Consumer.App.ÜnïLab"));
        Assert.Empty(run.OutputProblems);
    }

    /// <summary>A file name with a line separator (U+2028) stays inside the comments that quote it, in every generated file.</summary>
    [Fact]
    public void A_line_separator_in_a_file_name_does_not_end_a_comment()
    {
        var run = Run([("e\u2028x.swarm.yaml", GeneratorHarness.ExampleYaml)], new() { ["build_property.SwarmDslCompilePipeline"] = "true" }, runtime: true);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains(run.Result.GeneratedSources, g => g.HintName.EndsWith(".pipeline.g.cs", StringComparison.Ordinal));
        Assert.Empty(run.OutputProblems);
    }

    [Fact]
    public void A_yaml_file_whose_class_would_be_named_like_a_member_is_SWARM1013_at_the_file_and_nothing_is_emitted()
    {
        var run = Run([("nodes.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(("SWARM1013", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal("'nodes.swarm.yaml': the topology class 'Nodes' would hold the generated member 'Nodes', which C# forbids (CS0542): rename the file, or set SwarmDslClassName on it", d.GetMessage());
        Assert.EndsWith("nodes.swarm.yaml", d.Location.GetLineSpan().Path, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("Nodes", StringComparison.Ordinal));
        Assert.Empty(run.OutputProblems);
    }

    [Fact]
    public void A_topology_type_named_like_a_member_is_SWARM1013_at_the_type()
    {
        var source = GeneratorHarness.ExampleAttributes.Replace("class TwoNodeDeclared", "class Services");
        var run = Run([], null, false, ("Services.cs", source));
        var d = Assert.Single(run.GeneratorDiagnostics, x => x.Id == "SWARM1013");
        Assert.Equal("Services", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Empty(run.OutputProblems);
    }

    [Fact]
    public void Two_files_of_one_name_are_told_apart_by_their_paths()
    {
        var run = Run([("a/two-node.swarm.yaml", GeneratorHarness.ExampleYaml), ("b/two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("'/consumer/b/two-node.swarm.yaml' would generate class 'Consumer.App.TwoNode', which '/consumer/a/two-node.swarm.yaml' already generates: rename one file or set SwarmDslClassName on it", d.GetMessage());
    }

    [Fact]
    public void A_swarm_yml_file_is_a_topology_too()
    {
        var run = Run([("two-node.swarm.yml", GeneratorHarness.ExampleYaml), ("other.yml", GeneratorHarness.ExampleYaml)]);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == "Consumer.App.TwoNode.swarm.g.cs");
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("Other", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("my-app", "my_app")]
    [InlineData("1st.class", "_1st._class")]
    [InlineData("Acme.Net Tools", "Acme.Net_Tools")]
    public void A_root_namespace_that_is_no_namespace_is_made_one_as_the_templates_do(string root, string expected)
    {
        var run = Run([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], new() { ["build_property.RootNamespace"] = root });
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputProblems);
        Assert.NotNull(run.Output.GetTypeByMetadataName(expected + ".TwoNode"));
    }

    [Fact]
    public void Characters_xml_cannot_hold_do_not_break_a_documentation_build()
    {
        // U+FFFF in a value (YAML itself refuses a lone surrogate) that reaches doc comments: CS1570 in generated code before.
        var yaml = GeneratorHarness.ExampleYaml.Replace("image: nginx:alpine", "image: \"x \\u0000 \\uFFFF <&>\"");
        Assert.Contains("\\uFFFF", yaml, StringComparison.Ordinal);
        var run = Run([("two-node.swarm.yaml", yaml)]);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputProblems);
        Assert.Contains("x   \uFFFD &lt;&amp;&gt;", run.Source("Consumer.App.TwoNode.swarm.g.cs"), StringComparison.Ordinal);
    }
}
