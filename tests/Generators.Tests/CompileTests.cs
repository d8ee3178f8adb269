using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>The generated code compiles cleanly (nullable on, XML docs checked, no warning at all) and runs.</summary>
public class CompileTests
{
    private const string Consumer = """
        using SwarmDsl;
        namespace Consumer.App
        {
            /// <summary>Uses the generated API the way an application would.</summary>
            public static class Probe
            {
                /// <summary>Facts read through the typed handles.</summary>
                public static string Describe()
                {
                    SwarmTask task = TwoNode.Tasks.Web2;
                    SwarmAddress first = task.Sandbox.Addresses[0];
                    return string.Join("|", TwoNode.Nodes.All.Count, TwoNode.Services.Web.Vips[0].Address, task.Node.Name,
                        first.Address, first.Network == TwoNode.Networks.Ingress, TwoNode.LoadBalancers.All[0].FwMark,
                        TwoNode.PublishedPorts.Web8080Tcp, TwoNode.Sysctls.All.Count, TwoNode.Expectations.All[1]);
                }

                /// <summary>The generated dump.</summary>
                public static string Dump() => TwoNode.ModelDump;

                /// <summary>The YAML text.</summary>
                public static string Source() => TwoNode.SourceText;

                /// <summary>The plan dump.</summary>
                public static string Plan() => TwoNode.PlanDump;

                /// <summary>Every provisioning file, path and content.</summary>
                public static string Files()
                    => string.Concat(System.Linq.Enumerable.Select(TwoNode.Provisioning.Files, f => f.Path + (f.Executable ? " +x" : "") + "\n" + f.Content + "\0"));

                /// <summary>One script through its typed member.</summary>
                public static string ManagerApply() => TwoNode.Provisioning.Manager.ApplySh;

                /// <summary>The attribute form's dump.</summary>
                public static string DeclaredDump() => SwarmDsl.Examples.TwoNodeDeclared.ModelDump;
            }
        }
        """;

    [Fact]
    public void BothForms_CompileWithoutAnyWarning()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes), ("Probe.cs", Consumer));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.True(run.Result.Exception is null, run.Result.Exception?.ToString());
        // Microsoft.CodeAnalysis.EmbeddedAttribute, the attributes, the handle types and one class per form.
        Assert.Equal(5, run.Result.GeneratedSources.Length);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    [Fact]
    public void A_node_with_many_labels_keeps_them_in_order()
    {
        // Above ManyLabels they are generated as keys and values in turn (a node of 100,000 labels was a 9 MB line).
        var many = string.Concat(Enumerable.Range(0, Emitting.TopologyEmitter.ManyLabels + 4).Select(i => $"      k{i}: \"v{i},\\\"x\"\n"));
        var yaml = GeneratorHarness.ExampleYaml.Replace("    interface: eth0              # default eth0\n", "    interface: eth0              # default eth0\n    labels:\n" + many, StringComparison.Ordinal)
            .Replace("    address: 10.7.191.9/24\n", "    address: 10.7.191.9/24\n    labels: { zone: a, rack: \"r1\" }\n", StringComparison.Ordinal);
        const string probe = """
            namespace Consumer.App
            {
                /// <summary>Reads the labels back.</summary>
                public static class LabelProbe
                {
                    private static string Of(SwarmDsl.SwarmNode n) => string.Join(";", System.Linq.Enumerable.Select(n.Labels, l => l.Key + "=" + l.Value));
                    /// <summary>The manager's.</summary>
                    public static string Manager() => Of(TwoNode.Nodes.Manager);
                    /// <summary>The worker's.</summary>
                    public static string Worker() => Of(TwoNode.Nodes.Worker);
                }
            }
            """;
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", yaml)], ("LabelProbe.cs", probe));
        Assert.Empty(run.GeneratorDiagnostics);
        var generated = run.Result.GeneratedSources.Single(s => s.HintName.EndsWith("TwoNode.swarm.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("new string[] { \"k0\", ", generated, StringComparison.Ordinal);
        WithProbe(run, "Consumer.App.LabelProbe", Call =>
        {
            Assert.Equal(string.Join(";", Enumerable.Range(0, Emitting.TopologyEmitter.ManyLabels + 4).Select(i => $"k{i}=v{i},\"x")), Call("Manager"));
            Assert.Equal("zone=a;rack=r1", Call("Worker"));
        });
    }

    /// <summary>Emits the run's compilation, loads it apart, and hands <paramref name="check"/> a caller of the probe type's static string methods.</summary>
    private static void WithProbe(GeneratorHarness.Run run, string probeType, Action<Func<string, string>> check)
    {
        using var image = new MemoryStream();
        var emit = run.Output.Emit(image);
        Assert.True(emit.Success, GeneratorHarness.Format(emit.Diagnostics));
        var context = new AssemblyLoadContext("generated", isCollectible: true);
        try
        {
            image.Position = 0;
            var probe = context.LoadFromStream(image).GetType(probeType, throwOnError: true)!;
            check(name => (string)probe.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null)!);
        }
        finally
        {
            context.Unload();
        }
    }

    [Fact]
    public void YamlForm_CompilesWithCSharp8()
    {
        // The generated code and the post-initialization sources use nothing newer than C# 8 (#nullable).
        var options = GeneratorHarness.ParseOptions.WithLanguageVersion(LanguageVersion.CSharp8);
        var compilation = GeneratorHarness.Compilation([("Empty.cs", "namespace Consumer.App { }")], options);
        var run = GeneratorHarness.RunGenerator(compilation, GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], parseOptions: options));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    [Fact]
    public void GeneratedCode_Runs_AndAgreesWithTheCompiler()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes), ("Probe.cs", Consumer));
        WithProbe(run, "Consumer.App.Probe", Call =>
        {

            Assert.Equal("2|10.255.0.4|worker|10.255.0.6/16|True|256|8080->80/tcp|2|external -> worker:8080/tcp reaches web", Call("Describe"));
            // The embedded dump is exactly what the compiler renders for the file.
            var compiled = SwarmCompiler.Compile(GeneratorHarness.ProjectDir + "two-node.swarm.yaml", GeneratorHarness.ExampleYaml);
            Assert.Equal(Semantics.TopologyDump.Render(compiled.Topology!), Call("Dump"));
            Assert.Contains("@TwoNodeDeclared.cs:", Call("DeclaredDump"));
            Assert.Equal(GeneratorHarness.ExampleYaml.Replace("\r\n", "\n"), Call("Source"));
            // So are the plan dump and every provisioning file, byte for byte.
            var lowered = SwarmCompiler.Lower(compiled);
            Assert.Equal(Plan.PlanDump.Render(lowered.Plan!), Call("Plan"));
            var files = Emit.ProvisioningEmitter.Emit(lowered.Plan!);
            Assert.Equal(string.Concat(files.Select(f => f.Path + (f.Executable ? " +x" : "") + "\n" + f.Content + "\0")), Call("Files"));
            Assert.Equal(files.Single(f => f.Path == "manager/apply.sh").Content, Call("ManagerApply"));
            Assert.StartsWith("#!", Call("ManagerApply"), StringComparison.Ordinal);
        });
    }

    [Fact]
    public void GeneratedText_IsDeterministic()
    {
        string Generate() => string.Join("\n", GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)],
            ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes)).Sources.Select(s => s.HintName + "\n" + s.SourceText));
        var first = Generate();
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            // A culture with a non-ASCII minus sign and comma decimals (as fi-FI has) must change nothing.
            var odd = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
            odd.NumberFormat.NegativeSign = "\u2212";
            odd.NumberFormat.NumberDecimalSeparator = ",";
            odd.NumberFormat.NumberGroupSeparator = "\u00a0";
            System.Globalization.CultureInfo.CurrentCulture = odd;
            Assert.Equal(first, Generate());
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
        }
    }
}
