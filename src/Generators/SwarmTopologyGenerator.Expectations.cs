using System.Linq;
using Microsoft.CodeAnalysis;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Expectations;
using SwarmDsl.Generators.Model;
using SwarmDsl.Generators.Parsing;

namespace SwarmDsl.Generators;

public sealed partial class SwarmTopologyGenerator
{
    /// <summary>
    /// <c>expect:</c> as a step of its own per front end, after the compile step: it simulates packets, so it must run only
    /// when the model, the plan or an expectation's place changes, never for an unrelated edit (its input is pure data).
    /// <code>
    /// CompileYaml ─ ExpectYaml ─ diagnostics (in the YAML file)
    /// CompileAttributes ─ ExpectAttributes ─ diagnostics, joined with AttributeTrees (at the [Expect] attribute)
    /// </code>
    /// </summary>
    private static void RegisterExpectations(IncrementalGeneratorInitializationContext context,
        IncrementalValuesProvider<TopologyResult> yamlResults, IncrementalValuesProvider<TopologyResult> attributeResults,
        IncrementalValueProvider<System.Collections.Immutable.ImmutableArray<SyntaxTreeSite>> trees)
    {
        var yaml = yamlResults
            .Select(static (result, _) => (result.Key, Input: ExpectationCheck.Input(result)))
            .Select(static (pair, ct) => (pair.Key, Diagnostics: Invariant(() => ExpectationCheck.Evaluate(pair.Input, ct))))
            .WithTrackingName(TrackingNames.ExpectYaml);
        context.RegisterSourceOutput(yaml, static (spc, result) => Report(spc, result.Diagnostics, null));

        var attributes = attributeResults
            .Select(static (result, _) => (result.Key, Input: ExpectationCheck.Input(result)))
            .Select(static (pair, ct) => (pair.Key, Diagnostics: Invariant(() => ExpectationCheck.Evaluate(pair.Input, ct))))
            .WithTrackingName(TrackingNames.ExpectAttributes);
        context.RegisterSourceOutput(attributes.Combine(trees),
            static (spc, pair) => Report(spc, pair.Left.Diagnostics, pair.Right.FirstOrDefault(t => t.TypeName == pair.Left.Key)?.Trees));
    }
}
