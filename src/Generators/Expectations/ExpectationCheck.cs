using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using SwarmDsl.Collections;
using SwarmDsl.Diagnostics;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Model;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Expectations;

/// <summary>
/// What the simulation of a topology's <c>expect:</c> entries runs on, compared by what decides its verdicts: the topology
/// without source locations (<see cref="LocationFree"/>). The simulation is skipped while that stays equal, also when
/// declarations only move.
/// </summary>
/// <remarks>
/// Equality leaves out <see cref="Topology"/>, <see cref="Plan"/> and <see cref="Spans"/> on purpose: they are the same
/// model with its places, and the plan is lowered from the topology (fixed options, spans carried as labels), so equal
/// location-free topologies give the same verdicts. Keying on a location-free copy of the plan as well would cost more
/// than the simulation on a large topology, whose walks build only the few namespaces they cross.
/// </remarks>
internal sealed class ExpectationInput : IEquatable<ExpectationInput>
{
    /// <summary>Creates the input of one topology.</summary>
    public ExpectationInput(string key, Topology locationFreeTopology, Topology topology, DataplanePlan plan, EquatableArray<SourceSpan> spans)
    {
        Key = key;
        LocationFreeTopology = locationFreeTopology;
        Topology = topology;
        Plan = plan;
        Spans = spans;
    }

    /// <summary>The YAML path or the type's full name (the diagnostics' owner).</summary>
    public string Key { get; }

    /// <summary>The analyzed topology, every span a placeholder: with <see cref="Key"/>, what equality compares.</summary>
    public Topology LocationFreeTopology { get; }

    /// <summary>The analyzed topology the simulation runs on.</summary>
    public Topology Topology { get; }

    /// <summary>Its plan (IPVS backend, as <c>swarmdsl check</c> lowers it).</summary>
    public DataplanePlan Plan { get; }

    /// <summary>The real span behind each placeholder of <see cref="LocationFreeTopology"/>, by index.</summary>
    public EquatableArray<SourceSpan> Spans { get; }

    /// <inheritdoc/>
    public bool Equals(ExpectationInput? other)
        => other is not null && (ReferenceEquals(this, other)
            || string.Equals(Key, other.Key, StringComparison.Ordinal) && LocationFreeTopology.Equals(other.LocationFreeTopology));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ExpectationInput);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Key);
}

/// <summary>One topology's expectations to check, and what places their verdicts back in the source.</summary>
/// <param name="Key">The YAML path or the type's full name.</param>
/// <param name="Input">What the simulation reads; null when the topology did not compile or expects nothing.</param>
/// <param name="Spans">The real span behind each placeholder of the location-free topology, by index.</param>
/// <param name="Locations">Where each expectation is written, in the order of <see cref="Topology.Expectations"/>.</param>
internal sealed record ExpectationJob(string Key, ExpectationInput? Input, EquatableArray<SourceSpan> Spans, EquatableArray<LocationInfo> Locations);

/// <summary>A diagnostic of the simulation in location-free terms: its message and place may hold placeholders.</summary>
/// <param name="Id">The diagnostic ID.</param>
/// <param name="Severity">Its severity.</param>
/// <param name="Message">The message; declarations named in it are placeholders until <see cref="LocationFree.Restore"/>.</param>
/// <param name="Span">Where the evaluator reported it, as a placeholder (the entry, its <c>from:</c> or <c>to:</c>, a sysctl).</param>
internal sealed record ExpectationVerdict(string Id, Severity Severity, string Message, SourceSpan Span);

/// <summary>The simulation's verdicts on one topology (empty when every expectation holds).</summary>
/// <param name="Key">The YAML path or the type's full name (joins them with their <see cref="ExpectationJob"/>).</param>
/// <param name="Verdicts">The diagnostics, in the evaluator's order.</param>
internal sealed record ExpectationVerdicts(string Key, EquatableArray<ExpectationVerdict> Verdicts);

/// <summary>
/// Evaluates <c>expect:</c> in the generator with the same <see cref="ExpectationEvaluator"/> as <c>swarmdsl check</c>: same
/// SWARM0020 ID, same message (the failed connection, the step and the declaration that dropped or misrouted it), located
/// at the <c>expect:</c> entry or the <c>[Expect]</c> attribute. Three steps: <see cref="Prepare"/> erases locations,
/// <see cref="Evaluate"/> simulates (the expensive one, keyed on the location-free topology), <see cref="Locate"/> puts
/// the verdicts back where the entries are written now. Never throws but for cancellation.
/// </summary>
internal static class ExpectationCheck
{
    /// <summary>The job of one compiled topology: its input is null when it did not compile or expects nothing.</summary>
    public static ExpectationJob Prepare(TopologyResult result)
    {
        if (result.Spec is not { } spec || spec.Topology.Expectations.Count == 0 || result.ExpectationLocations.Count != 3 * spec.Topology.Expectations.Count)
            return new ExpectationJob(result.Key, null, default, default);
        var (locationFree, spans) = LocationFree.Erase(spec.Topology);
        return new ExpectationJob(result.Key, new ExpectationInput(result.Key, locationFree, spec.Topology, spec.Plan, spans), spans, result.ExpectationLocations);
    }

    /// <summary>
    /// The verdicts on <paramref name="input"/> (null without one), every span and every declaration a message names as its
    /// placeholder; SWARM1003 at the first entry if the evaluation itself fails.
    /// </summary>
    public static ExpectationVerdicts? Evaluate(ExpectationInput? input, CancellationToken cancellationToken)
    {
        if (input is null) return null;
        try
        {
            var index = new Dictionary<SourceSpan, int>();
            for (int i = 0; i < input.Spans.Count; i++) index[input.Spans[i]] = i;
            SourceSpan Erase(SourceSpan span) => index.TryGetValue(span, out var k) ? LocationFree.Placeholder(k) : span;

            var failures = ExpectationEvaluator.Evaluate(input.Topology, input.Plan, seed: 0, cancellationToken, span => Erase(span).ToShortString());
            var result = new ExpectationVerdict[failures.Count];
            for (int i = 0; i < failures.Count; i++)
                result[i] = new ExpectationVerdict(failures[i].Id, failures[i].Severity, failures[i].Message, Erase(failures[i].Span));
            return new ExpectationVerdicts(input.Key, EquatableArray<ExpectationVerdict>.Own(result));
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            var error = DiagnosticMapping.InternalError(ex, "evaluating the expectations of " + input.Topology.Name, null);
            return new ExpectationVerdicts(input.Key, EquatableArray.Create(
                new ExpectationVerdict(error.Id, error.Severity, error.Message, input.LocationFreeTopology.Expectations[0].Span)));
        }
    }

    /// <summary>
    /// The diagnostics of <paramref name="job"/>: its topology's verdicts among <paramref name="all"/>, each at the entry it
    /// concerns (the first entry for anything else, such as a sysctl the simulation does not model), with the declarations
    /// its message names written where they are now.
    /// </summary>
    public static EquatableArray<DiagnosticInfo> Locate(ExpectationJob job, ImmutableArray<ExpectationVerdicts?> all)
    {
        if (job.Input is not { } input) return EquatableArray<DiagnosticInfo>.Empty;
        ExpectationVerdicts? verdicts = null;
        foreach (var v in all)
            if (v is not null && string.Equals(v.Key, job.Key, StringComparison.Ordinal)) verdicts = v;
        if (verdicts is null || verdicts.Verdicts.Count == 0) return EquatableArray<DiagnosticInfo>.Empty;

        // Job.Locations holds three places per entry: the entry, its from: and its to:.
        var entry = new Dictionary<SourceSpan, int>();
        for (int i = 0; i < input.LocationFreeTopology.Expectations.Count; i++)
        {
            var x = input.LocationFreeTopology.Expectations[i];
            entry[x.Span] = 3 * i;
            // A from:/to: that names nothing the plan has (SWARM0031) is reported at the value, as swarmdsl check does.
            if (x.FromSpan.IsKnown && !entry.ContainsKey(x.FromSpan)) entry[x.FromSpan] = 3 * i + 1;
            if (x.ToSpan.IsKnown && !entry.ContainsKey(x.ToSpan)) entry[x.ToSpan] = 3 * i + 2;
        }
        var result = new DiagnosticInfo[verdicts.Verdicts.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var v = verdicts.Verdicts[i];
            var at = job.Locations[entry.TryGetValue(v.Span, out var index) ? index : 0];
            result[i] = new DiagnosticInfo(v.Id, v.Severity, LocationFree.Restore(v.Message, job.Spans), at);
        }
        return EquatableArray<DiagnosticInfo>.Own(result);
    }
}
