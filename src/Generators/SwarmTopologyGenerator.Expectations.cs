using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using SwarmDsl.Generators.Expectations;
using SwarmDsl.Generators.Model;

namespace SwarmDsl.Generators;

public sealed partial class SwarmTopologyGenerator
{
    /// <summary>
    /// <c>expect:</c> as three steps per front end after the compile step. The simulation (ExpectYaml, ExpectAttributes) loads the
    /// dataplane and opens connections, so its input compares as the topology without source locations
    /// (<see cref="ExpectationInput"/>): it runs when what decides its verdicts changes, never for an unrelated edit nor
    /// for one that only moves declarations. Placing the verdicts (at the entries, naming declarations where they are
    /// now) is the cheap step after it.
    /// <code>
    /// CompileYaml ─ PrepareExpectYaml ─┬─ (location-free input) ─ ExpectYaml ─ Collect ─┐
    ///                                  └──────────────────────────────────────────── LocateExpectYaml ─ diagnostics (in the YAML file)
    /// CompileAttributes ─ PrepareExpectAttributes ─ … ─ ExpectAttributes ─ … ─ LocateExpectAttributes ─ diagnostics, joined with AttributeTrees
    /// </code>
    /// </summary>
    private static void RegisterExpectations(IncrementalGeneratorInitializationContext context,
        IncrementalValuesProvider<TopologyResult> yamlResults, IncrementalValuesProvider<TopologyResult> attributeResults,
        IncrementalValueProvider<ImmutableArray<SyntaxTreeSite>> trees)
    {
        var yaml = Expectations(yamlResults, TrackingNames.PrepareExpectYaml, TrackingNames.ExpectYaml, TrackingNames.LocateExpectYaml);
        context.RegisterSourceOutput(yaml, static (spc, result) => Report(spc, result.Diagnostics, null));

        var attributes = Expectations(attributeResults, TrackingNames.PrepareExpectAttributes, TrackingNames.ExpectAttributes, TrackingNames.LocateExpectAttributes);
        context.RegisterSourceOutput(attributes.Combine(trees),
            static (spc, pair) => Report(spc, pair.Left.Diagnostics, pair.Right.FirstOrDefault(t => t.TypeName == pair.Left.Key)?.Trees));
    }

    private static IncrementalValuesProvider<(string Key, SwarmDsl.Collections.EquatableArray<DiagnosticInfo> Diagnostics)> Expectations(
        IncrementalValuesProvider<TopologyResult> results, string prepare, string simulate, string locate)
    {
        var jobs = results
            .Select(static (result, _) => Invariant(() => ExpectationCheck.Prepare(result)))
            .WithTrackingName(prepare);
        // The one input of the simulation: an edit that only moves declarations leaves it equal, so the next step stays Cached.
        var verdicts = jobs
            .Select(static (job, _) => job.Input)
            .Select(static (input, ct) => Invariant(() => ExpectationCheck.Evaluate(input, ct)))
            .WithTrackingName(simulate);
        // Joined by key through the collected verdicts: cheap, and a topology's unchanged diagnostics stay Unchanged.
        return jobs
            .Combine(verdicts.Collect())
            .Select(static (pair, _) => (pair.Left.Key, Diagnostics: ExpectationCheck.Locate(pair.Left, pair.Right)))
            .WithTrackingName(locate);
    }
}
