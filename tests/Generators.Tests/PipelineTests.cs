using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// A project that references SwarmDsl.Runtime gets the compiled pipeline: CompiledNetfilter, the plan fingerprint,
/// CreateSimulation and typed traffic endpoints. It compiles without a warning, runs, gives the interpreter's traces, and
/// refuses to attach to another plan. A project without the runtime gets none of it.
/// </summary>
public class PipelineTests
{
    private const string YamlHint = "Consumer.App.TwoNode.swarm.pipeline.g.cs";
    private const string AttributeHint = "SwarmDsl.Examples.TwoNodeDeclared.pipeline.g.cs";

    private const string Consumer = """
        using System.Linq;
        using SwarmDsl.Runtime.Engine;
        using SwarmDsl.Runtime.Tracing;
        namespace Consumer.App
        {
            /// <summary>Uses the compiled pipeline the way an application would.</summary>
            public static class PipelineProbe
            {
                /// <summary>Traces of every published port from outside, on each node, with replies: compiled, then interpreted.</summary>
                public static string Traces(uint seed)
                {
                    string Run(Simulation simulation)
                    {
                        var text = new System.Text.StringBuilder();
                        foreach (var node in TwoNode.Nodes.All)
                            foreach (var port in TwoNode.PublishedPorts.All)
                                text.Append(TextTraceRenderer.Render(simulation.Connect(TwoNode.Traffic.External, TwoNode.Traffic.Published(node, port), 2), "probe", includeReplies: true));
                        text.Append(TextTraceRenderer.Render(simulation.Connect(TwoNode.Traffic.Task(TwoNode.Tasks.Web1), TwoNode.Traffic.At(TwoNode.Traffic.Service(TwoNode.Services.Web), 80), 2), "probe", includeReplies: true));
                        return text.ToString();
                    }
                    return Run(TwoNode.CreateSimulation(seed)) + "\0" + Run(TwoNode.CreateInterpretedSimulation(seed));
                }

                /// <summary>The attribute form's pipeline on the YAML form's plan: the same plan, so it attaches.</summary>
                public static string Fingerprints()
                {
                    var simulation = SwarmDsl.Examples.TwoNodeDeclared.CreateSimulation(TwoNode.CompilePlan());
                    return TwoNode.PlanFingerprint + "|" + SwarmDsl.Examples.TwoNodeDeclared.PlanFingerprint + "|" + simulation.Cluster.PlanFingerprint;
                }

                /// <summary>A trace written with the declarations behind its steps, as swarmdsl trace writes it.</summary>
                public static string WithDeclarations()
                    => TextTraceRenderer.Render(TwoNode.CreateSimulation(0).Connect(TwoNode.Traffic.External, TwoNode.Traffic.Published(TwoNode.Nodes.Manager, TwoNode.PublishedPorts.All[0]), 1), "probe", includeReplies: false, TwoNode.DeclarationPaths);

                /// <summary>Attaching the compiled pipeline to another plan.</summary>
                public static string Refused()
                {
                    var other = SwarmDsl.SwarmCompiler.CompileToPlan("other.swarm.yaml", TwoNode.SourceText.Replace("replicas: 2", "replicas: 3")).Plan!;
                    try
                    {
                        TwoNode.CreateSimulation(other);
                        return "attached";
                    }
                    catch (System.InvalidOperationException e)
                    {
                        return e.Message;
                    }
                }
            }
        }
        """;

    private static GeneratorHarness.Run RunWithRuntime(params (string Path, string Text)[] sources)
        => GeneratorHarness.RunGenerator(GeneratorHarness.WithRuntime(GeneratorHarness.Compilation(sources)),
            GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)]));

    [Fact]
    public void WithoutRuntime_NoPipelineIsGenerated()
    {
        var run = GeneratorHarness.RunGenerator([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], ("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes));
        Assert.DoesNotContain(run.Result.GeneratedSources, s => s.HintName.Contains("pipeline", StringComparison.Ordinal));
    }

    [Fact]
    public void WithRuntime_BothForms_GetThePipeline_AndCompileWithoutAnyWarning()
    {
        var run = RunWithRuntime(("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes), ("Probe.cs", Consumer));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.True(run.Result.Exception is null, run.Result.Exception?.ToString());
        Assert.Equal(7, run.Result.GeneratedSources.Length);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == YamlHint);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == AttributeHint);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    [Fact]
    public void WithRuntime_CompilesWithCSharp8()
    {
        var options = GeneratorHarness.ParseOptions.WithLanguageVersion(LanguageVersion.CSharp8);
        var compilation = GeneratorHarness.WithRuntime(GeneratorHarness.Compilation([("Empty.cs", "namespace Consumer.App { }")], options));
        var run = GeneratorHarness.RunGenerator(compilation, GeneratorHarness.Driver([("two-node.swarm.yaml", GeneratorHarness.ExampleYaml)], parseOptions: options));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Contains(run.Result.GeneratedSources, s => s.HintName == YamlHint);
        Assert.Empty(GeneratorHarness.Format(run.OutputProblems));
    }

    [Fact]
    public void EveryCompiledRule_CarriesItsIptablesTextAndYamlLine()
    {
        var source = RunWithRuntime(("Empty.cs", "namespace Consumer.App { }")).Source(YamlHint);
        var lines = source.Split('\n').Select(l => l.Trim()).ToArray();
        int rules = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("if (", StringComparison.Ordinal) || !lines[i].Contains("ctx.", StringComparison.Ordinal) || lines[i].StartsWith("if (hook", StringComparison.Ordinal)) continue;
            if (lines[i].StartsWith("if (!ctx.Jump", StringComparison.Ordinal)) continue;
            rules++;
            Assert.StartsWith("// -A ", lines[i - 2], StringComparison.Ordinal);
            Assert.Matches(@"^// (two-node\.swarm\.yaml:\d+:\d+|derived|\S+)", lines[i - 1]);
        }
        Assert.True(rules > 20, rules + " compiled rules");
        Assert.Contains("two-node.swarm.yaml:", source, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryCompiledRouteAndFdbEntry_CarriesItsIpRouteOrBridgeFdbTextAndYamlLine()
    {
        var source = RunWithRuntime(("Empty.cs", "namespace Consumer.App { }")).Source(YamlHint);
        int start = source.IndexOf("sealed class CompiledForwarding", StringComparison.Ordinal);
        Assert.True(start > 0, "no CompiledForwarding in the pipeline source");
        var lines = source.Substring(start).Split('\n').Select(l => l.Trim()).ToArray();
        var route = new System.Text.RegularExpressions.Regex(@"^(if \(\(d & 0x[0-9A-F]{8}u\) == 0x[0-9A-F]{8}u\) return \d+;|if \(d == 0x[0-9A-F]{8}u\) return \d+;|case 0x[0-9A-F]{8}u: return \d+;|return \d+;)$");
        var fdb = new System.Text.RegularExpressions.Regex(@"^case 0x[0-9A-F]{12}UL: (port = \d+; local = (true|false)|vtep = 0x[0-9A-F]{8}u); break;$");
        int routes = 0, entries = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            bool isRoute = route.IsMatch(lines[i]), isFdb = fdb.IsMatch(lines[i]);
            if (!isRoute && !isFdb) continue;
            if (isRoute) routes++; else entries++;
            Assert.Matches(@"^// two-node\.swarm\.yaml:\d+:\d+$", lines[i - 1]);
            Assert.Matches(isRoute
                ? @"^// (default|\d+\.\d+\.\d+\.\d+(/\d+)?)( via \S+)? dev \S+( proto kernel)?( scope link)?( src \S+)?$"
                : @"^// ([0-9a-f]{2}:){5}[0-9a-f]{2} dev \S+ (master \S+ (permanent|static)|dst \S+ self permanent)$", lines[i - 2]);
        }
        // The example: 3 distinct route lists (6 routes), 4 bridges (14 permanent entries), 2 VXLAN devices (4 remote VTEPs).
        Assert.True(routes >= 6 && entries >= 18, routes + " compiled routes, " + entries + " compiled FDB entries");
    }

    [Fact]
    public void CompiledPipeline_Runs_MatchesTheInterpreter_AndRefusesAnotherPlan()
    {
        var run = RunWithRuntime(("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes), ("Probe.cs", Consumer));
        using var image = new MemoryStream();
        var emit = run.Output.Emit(image);
        Assert.True(emit.Success, GeneratorHarness.Format(emit.Diagnostics));

        var context = new RuntimeLoadContext();
        try
        {
            image.Position = 0;
            var probe = context.LoadFromStream(image).GetType("Consumer.App.PipelineProbe", throwOnError: true)!;
            object? Call(string name, params object[] args) => probe.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, args);

            foreach (uint seed in new uint[] { 0, 1, 7, 12345 })
            {
                var both = ((string)Call("Traces", seed)!).Split('\0');
                Assert.Contains("DELIVERED", both[0].ToUpperInvariant(), StringComparison.Ordinal);
                Assert.Equal(both[1], both[0]);
            }
            var fingerprints = ((string)Call("Fingerprints")!).Split('|');
            Assert.Matches("^two-node/[0-9a-f]{16}$", fingerprints[0]);
            Assert.All(fingerprints, f => Assert.Equal(fingerprints[0], f));
            // The generated class names each step's declaration, as the command line does (found by a tester: it could not).
            Assert.Contains("@two-node.swarm.yaml:44:9 (services.web.ports[0])", (string)Call("WithDeclarations")!, StringComparison.Ordinal);
            var refused = (string)Call("Refused")!;
            Assert.Contains("generated for plan " + fingerprints[0], refused, StringComparison.Ordinal);
            Assert.Contains("this cluster runs plan two-node/", refused, StringComparison.Ordinal);
        }
        finally
        {
            context.Unload();
        }
    }

    [Fact]
    public void PipelineSource_IsDeterministic()
    {
        string Generate() => RunWithRuntime(("TwoNodeDeclared.cs", GeneratorHarness.ExampleAttributes)).Source(YamlHint);
        Assert.Equal(Generate(), Generate());
    }

    /// <summary>Loads the consumer with SwarmDsl.Runtime and SwarmDsl.Dsl from their build folder (YamlDotNet from the test's own).</summary>
    private sealed class RuntimeLoadContext() : AssemblyLoadContext("pipeline", isCollectible: true)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            var path = Path.Combine(GeneratorHarness.RuntimeDirectory, name.Name + ".dll");
            return name.Name is "SwarmDsl.Runtime" or "SwarmDsl.Dsl" && File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
