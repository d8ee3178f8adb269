using System;
using System.Linq;
using System.Text;
using CsCheck;
using Microsoft.CodeAnalysis;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Tests.Support;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The generator never throws (a thrown generator is CS8785 and silently produces nothing): garbage YAML and garbage
/// attributes give SWARM diagnostics or compiler errors, never an exception and never SWARM1003 (our own bug report).
/// </summary>
public class RobustnessTests
{
    private static void AssertSurvives(GeneratorHarness.Run run, string input)
    {
        Assert.True(run.Result.Exception is null, $"generator threw on:\n{input}\n{run.Result.Exception}");
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "CS8785");
        var internalErrors = run.GeneratorDiagnostics.Where(d => d.Id == "SWARM1003").ToList();
        Assert.True(internalErrors.Count == 0, $"internal error on:\n{input}\n{string.Join("\n", internalErrors)}");
        // Everything reported is a SWARM diagnostic.
        Assert.All(run.GeneratorDiagnostics, d => Assert.StartsWith("SWARM", d.Id, StringComparison.Ordinal));
    }

    private static readonly string[] Fragments =
    [
        "version: 1\n", "name: x\n", "nodes:\n", "  a:\n", "    address: 10.0.0.1/24\n", "networks:\n", "  n:\n", "    driver: overlay\n",
        "    subnet: 10.9.0.0/24\n", "services:\n", "  s:\n", "    networks: [n]\n", "    ports:\n", "      - {published: 80, target: 8080}\n",
        "    tasks:\n", "      - node: a\n", "        address: 10.9.0.99\n", "    replicas: 70000\n", "    vni: -1\n", "    vip: {n: 1.2.3.4}\n",
        "&anchor ", "*anchor\n", "*missing\n", "- \n", "[", "]", "{", "}", ":", "\t", "\"", "'", "#", "---\n", "...\n", "\u0000", "\uFEFF",
        "~\n", "? complex\n", "!!binary |\n", "   \n", "\n\n", "expect:\n  - from: external\n    to: a:80/tcp\n", "rules:\n  - chain: X\n",
        "tuning:\n  sysctls:\n    a.b: \"x y\"\n",
    ];

    [Fact]
    public void GarbageYaml_NeverThrows()
    {
        var gen = Gen.OneOf(
            Gen.String[Gen.Char, 0, 300],
            Gen.Int[0, Fragments.Length - 1].Array[1, 40].Select(ix => string.Concat(ix.Select(i => Fragments[i]))),
            Gen.Int[0, GeneratorHarness.ExampleYaml.Length].Select(Gen.Char).Select((cut, ch) =>
                GeneratorHarness.ExampleYaml.Substring(0, cut) + ch + GeneratorHarness.ExampleYaml.Substring(Math.Min(cut + 1, GeneratorHarness.ExampleYaml.Length)))
            );
        gen.Sample(yaml => AssertSurvives(GeneratorHarness.RunGenerator([("fuzz.swarm.yaml", yaml)]), yaml), iter: 150, threads: 1);
    }

    [Fact]
    public void PathologicalYaml_NeverThrows()
    {
        var deep = new StringBuilder("version: 1\nname: deep\nnodes: ");
        for (int i = 0; i < 5000; i++) deep.Append('[');
        var aliases = new StringBuilder("version: 1\nname: billion\na: &a [x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++) aliases.Append($"b{i}: &b{i} [*{(i == 1 ? "a" : "b" + (i - 1))}, *{(i == 1 ? "a" : "b" + (i - 1))}]\n");
        foreach (var yaml in new[] { deep.ToString(), aliases.ToString(), "", "\uFEFF", new string('x', 200_000), "version: 1\nname: \"\\u0000\"\n" })
            AssertSurvives(GeneratorHarness.RunGenerator([("p.swarm.yaml", yaml)]), yaml.Length > 200 ? yaml.Substring(0, 200) : yaml);
    }

    [Fact]
    public void EmitterFailure_BecomesSwarm1003_NotAnException()
    {
        // A model no analyzer would produce (an address on an undeclared network) makes the emitter fail; the generator
        // turns that into its internal-error diagnostic instead of throwing (which would be CS8785 and no output at all).
        var compiled = SwarmCompiler.CompileToPlan("/consumer/two-node.swarm.yaml", GeneratorHarness.ExampleYaml);
        var topology = compiled.Topology!;
        var broken = topology with { Endpoints = topology.Endpoints.Select(e => e with { Network = "nowhere" }).ToArray().ToEquatableArray() };
        var spec = new Model.TopologySpec(new Model.TargetType("Consumer.App", SwarmDsl.Collections.EquatableArray.Create(new Model.TypeDeclaration("class", "Broken")), true),
            Model.TopologyOrigin.Yaml, "two-node.swarm.yaml", broken, compiled.Plan!);
        var result = SwarmTopologyGenerator.EmitGuarded(spec, Model.EmitSettings.Default);
        Assert.Null(result.Source);
        Assert.Equal("SWARM1003", result.Failure!.Id);
        Assert.Contains("System.Collections.Generic.KeyNotFoundException", result.Failure.Message, StringComparison.Ordinal);
        Assert.Contains("Consumer.App.Broken", result.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Emitting_stops_when_cancelled()
    {
        // A tester's find: the emit step took no token, so a 30-node topology's code (9 s) ran on long after an edit
        // cancelled it. A cancelled emit throws OperationCanceledException (Roslyn's signal), never SWARM1003.
        var compiled = SwarmCompiler.CompileToPlan("/consumer/two-node.swarm.yaml", GeneratorHarness.ExampleYaml);
        var spec = new Model.TopologySpec(new Model.TargetType("Consumer.App", SwarmDsl.Collections.EquatableArray.Create(new Model.TypeDeclaration("class", "TwoNode")), true),
            Model.TopologyOrigin.Yaml, "two-node.swarm.yaml", compiled.Topology!, compiled.Plan!);
        Assert.NotNull(SwarmTopologyGenerator.EmitGuarded(spec, Model.EmitSettings.Default).Source);
        using var cancelled = new System.Threading.CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => SwarmTopologyGenerator.EmitGuarded(spec, Model.EmitSettings.Default, cancelled.Token));
        // The writer itself checks, every few thousand lines, for what writes long without a pause.
        var writer = new Emitting.SourceWriter(cancelled.Token);
        Assert.ThrowsAny<OperationCanceledException>(() => writer.WriteLine(string.Join("\n", Enumerable.Repeat("x", 5000))));
    }

    private static readonly string[] ArgumentShapes =
    [
        "null", "\"\"", "\"x\"", "\"Manager\"", "\"a=b\"", "\"=\"", "\"10.0.0.0/8\"", "\"300.1.1.1\"", "0", "-1", "int.MaxValue", "65536",
        "true", "(NodeRole)9", "(Scheduler)(-3)", "new string[] { null!, \"a\" }", "[]", "[\"a\", \"a\"]", "new[] { \"x=1\", \"x=2\" }",
        "1.5", "'c'", "typeof(int)", "nameof(Mini)", "\"web\"", "\"alpha\"", "@\"a\"\"b\"",
    ];

    private static readonly string[] AttributeShapes =
    [
        "Node({0}, {1})", "Node(\"alpha\", {0}, Hostname = {1})", "Node(\"alpha\", \"10.1.0.2/24\", Role = {0}, Labels = {1})",
        "OverlayNetwork({0}, {1})", "OverlayNetwork(\"n\", \"10.9.0.0/24\", Vni = {0}, LoadBalancerAddresses = {1})",
        "BridgeNetwork({0}, {1}, Icc = {0})", "Service({0}, Networks = {1})", "Service(\"web\", Vip = {0}, Vips = {1}, Scheduler = {0})",
        "Publish({0}, {1}, 80)", "Task({0}, {1})", "Task(\"web\", \"alpha\", {0}, Weight = {1})", "Sysctl({0}, {1})",
        "Sysctl(\"a.b\", {0}, Node = {1})", "Rule({0}, {1}, Table = {0})", "Expect({0}, {1}, Reaches = {0}, Blocked = true)",
        "Underlay(Mtu = {0}, Subnet = {1})", "SwarmTopology({0})",
    ];

    [Fact]
    public void GarbageAttributes_NeverThrow()
    {
        var arg = Gen.Int[0, ArgumentShapes.Length - 1].Select(i => ArgumentShapes[i]);
        var attribute = Gen.Select(Gen.Int[0, AttributeShapes.Length - 1], arg, arg,
            (i, a, b) => "[" + string.Format(System.Globalization.CultureInfo.InvariantCulture, AttributeShapes[i], a, b) + "]");
        var gen = attribute.Array[0, 8].Select(attrs => $$"""
            using SwarmDsl;
            namespace Consumer.App
            {
                [SwarmTopology("mini")]
                [Node("alpha", "10.1.0.2/24")]
                [OverlayNetwork("backend", "10.20.0.0/24")]
                [Service("web", Networks = ["backend"])]
                {{string.Join("\n    ", attrs)}}
                internal static partial class Mini;
            }
            """);
        gen.Sample(source => AssertSurvives(GeneratorHarness.RunGenerator(null, ("Mini.cs", source)), source), iter: 120, threads: 1);
    }
}
