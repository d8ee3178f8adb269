using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Tests.Support;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// Above the size limit (or with <c>SwarmDslFullHandles=false</c>) addresses, namespaces, tasks and load balancers are data
/// tables: the objects they make must be the full form's, value for value, and the typed members must stay.
/// </summary>
public class CompactHandlesTests
{
    private static readonly string Synthetic = SyntheticTopology.Generate(SyntheticTopologyOptions.Small with
    {
        Name = "mixed", Nodes = 4, Overlays = 2, Services = 9, Tasks = 20, PublishedPorts = 6, HostModePercent = 30, UdpPercent = 40,
    });

    public static TheoryData<string> Shapes => new() { "example", "synthetic" };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void CompactForm_MakesTheSameObjectsAsTheFullForm(string shape)
    {
        var (file, yaml, cls) = shape == "example"
            ? ("two-node.swarm.yaml", GeneratorHarness.ExampleYaml, "TwoNode")
            : ("mixed.swarm.yaml", Synthetic, "Mixed");
        var full = Describe(file, yaml, cls, "true", out var fullSource);
        var compact = Describe(file, yaml, cls, "false", out var compactSource);
        Assert.Contains("private static class Table", compactSource, StringComparison.Ordinal);
        Assert.DoesNotContain("private static class Table", fullSource, StringComparison.Ordinal);
        // (On the example the tables' helpers outweigh what a few dozen items save.)
        if (shape != "example") Assert.True(compactSource.Length < fullSource.Length, "the compact form is smaller");
        // Same lists (every value of every item), same named namespaces and tasks; addresses and load balancers only in All.
        Assert.Equal(full["Addresses.All"], compact["Addresses.All"]);
        Assert.Equal(full["LoadBalancers.All"], compact["LoadBalancers.All"]);
        Assert.Equal(full["Namespaces.All"], compact["Namespaces.All"]);
        Assert.Equal(full["Tasks.All"], compact["Tasks.All"]);
        Assert.Equal(Members(full, "Namespaces."), Members(compact, "Namespaces."));
        Assert.Equal(Members(full, "Tasks."), Members(compact, "Tasks."));
        Assert.Empty(Members(compact, "Addresses."));
        Assert.Empty(Members(compact, "LoadBalancers."));
        Assert.NotEmpty(Members(full, "Tasks."));
    }

    [Fact]
    public void CompactForm_CompilesWithoutWarnings_AsCSharp8()
    {
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.Compilation(new[] { ("Empty.cs", "namespace Consumer.App { }") },
            new CSharpParseOptions(LanguageVersion.CSharp8, DocumentationMode.Diagnose)),
            GeneratorHarness.Driver([("mixed.swarm.yaml", Synthetic)], Options("false"), new CSharpParseOptions(LanguageVersion.CSharp8, DocumentationMode.Diagnose)));
        Assert.Empty(GeneratorHarness.Format(run.GeneratorDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning)));
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    [Fact]
    public void ByDefault_OnlyPlansAboveTheLimitGetTheCompactForm()
    {
        Assert.True(PlanSize.Elements(SwarmCompiler.CompileToPlan("two-node.swarm.yaml", GeneratorHarness.ExampleYaml).Plan!) <= PlanSize.AutoEmbedLimit);
        var small = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]);
        Assert.DoesNotContain("private static class Table", small.Source("Consumer.App.TwoNode.swarm.g.cs"), StringComparison.Ordinal);

        var big = SyntheticTopology.Generate(SyntheticTopologyOptions.Small with { Name = "big", Nodes = 12, Services = 60, Tasks = 240, PublishedPorts = 20, Expectations = 0 });
        Assert.True(PlanSize.Elements(SwarmCompiler.CompileToPlan("big.swarm.yaml", big).Plan!) > PlanSize.AutoEmbedLimit, "the synthetic topology is above the limit");
        var run = GeneratorHarness.RunGenerator([("big.swarm.yaml", big)]);
        var source = run.Source("Consumer.App.Big.swarm.g.cs");
        Assert.Contains("private static class Table", source, StringComparison.Ordinal);
        var note = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("SWARM1010", note.Id);
        Assert.Contains("(SwarmDslFullHandles", note.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    private static TestOptionsProvider Options(string fullHandles) => new(new Dictionary<string, string>
    {
        ["build_property.RootNamespace"] = GeneratorHarness.RootNamespace,
        ["build_property.SwarmDslFullHandles"] = fullHandles,
    });

    private static string[] Members(Dictionary<string, string> described, string prefix)
        => described.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && !kv.Key.EndsWith(".All", StringComparison.Ordinal))
            .Select(kv => kv.Key + " = " + kv.Value).OrderBy(s => s, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Compiles the generated class, loads it, and describes every static member of the four groups: each item's public
    /// properties, recursively (references to nodes, networks and services by their own description).
    /// </summary>
    private static Dictionary<string, string> Describe(string file, string yaml, string cls, string fullHandles, out string source)
    {
        var run = GeneratorHarness.RunGenerator(GeneratorHarness.Compilation(("Empty.cs", "namespace Consumer.App { }")),
            GeneratorHarness.Driver([(file, yaml)], Options(fullHandles)));
        source = run.Source("Consumer.App." + cls + ".swarm.g.cs");
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
        using var image = new MemoryStream();
        var emit = run.Output.Emit(image);
        Assert.True(emit.Success, GeneratorHarness.Format(emit.Diagnostics));
        var context = new AssemblyLoadContext("compact-" + fullHandles, isCollectible: true);
        try
        {
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var group in new[] { "Addresses", "Namespaces", "Tasks", "LoadBalancers" })
            {
                var type = assembly.GetType("Consumer.App." + cls + "+" + group, throwOnError: true)!;
                foreach (var m in type.GetMembers(BindingFlags.Public | BindingFlags.Static))
                {
                    object? value = m switch
                    {
                        FieldInfo f => f.GetValue(null),
                        PropertyInfo p => p.GetValue(null),
                        _ => null,
                    };
                    if (value is null) continue;
                    result[group + "." + m.Name] = Text(value, 0);
                    // A member returns the same object every time (the compact form's are properties over one table).
                    if (m is PropertyInfo again) Assert.Same(value, again.GetValue(null));
                }
            }
            return result;
        }
        finally
        {
            context.Unload();
        }
    }

    private static string Text(object? value, int depth)
    {
        switch (value)
        {
            case null: return "null";
            case string s: return "\"" + s + "\"";
            case IEnumerable list:
                var items = new List<string>();
                foreach (var item in list) items.Add(Text(item, depth));
                return "[" + string.Join(", ", items) + "]";
        }
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum || depth > 3) return Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        var sb = new StringBuilder(type.Name).Append(" {");
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (p.GetIndexParameters().Length > 0) continue;
            sb.Append(' ').Append(p.Name).Append('=').Append(Text(p.GetValue(value), depth + 1));
        }
        return sb.Append(" }").ToString();
    }
}
