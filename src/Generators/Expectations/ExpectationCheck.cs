using System;
using System.Collections.Generic;
using System.Threading;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Model;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Expectations;

/// <summary>
/// What evaluating a topology's <c>expect:</c> entries needs: the analyzed model, its plan and where each entry is written.
/// Pure data (value-equatable), so the evaluation step is skipped while none of it changes.
/// </summary>
/// <param name="Key">The YAML path or the type's full name (the diagnostics' owner).</param>
/// <param name="Topology">The analyzed topology.</param>
/// <param name="Plan">Its plan (IPVS backend, as <c>swarmdsl check</c> lowers it).</param>
/// <param name="Locations">Where each expectation is written, in the order of <see cref="Topology.Expectations"/>.</param>
internal sealed record ExpectationInput(string Key, Topology Topology, DataplanePlan Plan, EquatableArray<LocationInfo> Locations);

/// <summary>
/// Evaluates <c>expect:</c> in the generator with the same <see cref="ExpectationEvaluator"/> as <c>swarmdsl check</c>: same
/// SWARM0020 ID, same message (the failed connection, the step and the declaration that dropped or misrouted it), located
/// at the <c>expect:</c> entry or the <c>[Expect]</c> attribute. Never throws but for cancellation.
/// </summary>
internal static class ExpectationCheck
{
    /// <summary>The input of the evaluation step: null when the topology did not compile or expects nothing.</summary>
    public static ExpectationInput? Input(TopologyResult result)
        => result.Spec is { } spec && spec.Topology.Expectations.Count > 0 && result.ExpectationLocations.Count == spec.Topology.Expectations.Count
            ? new ExpectationInput(result.Key, spec.Topology, spec.Plan, result.ExpectationLocations)
            : null;

    /// <summary>One error per expectation that does not hold (empty when all hold); SWARM1003 if the evaluation itself fails.</summary>
    public static EquatableArray<DiagnosticInfo> Evaluate(ExpectationInput? input, CancellationToken cancellationToken)
    {
        if (input is null) return EquatableArray<DiagnosticInfo>.Empty;
        try
        {
            var where = new Dictionary<SourceSpan, LocationInfo>();
            for (int i = 0; i < input.Topology.Expectations.Count; i++)
            {
                var x = input.Topology.Expectations[i];
                where[x.Span] = input.Locations[i];
                // A from:/to: that names nothing the plan has (SWARM0031) is reported at its entry here.
                foreach (var side in new[] { x.FromSpan, x.ToSpan })
                    if (side.IsKnown && !where.ContainsKey(side)) where[side] = input.Locations[i];
            }
            var failures = ExpectationEvaluator.Evaluate(input.Topology, input.Plan, seed: 0, cancellationToken);
            var result = new DiagnosticInfo[failures.Count];
            for (int i = 0; i < failures.Count; i++)
            {
                var d = failures[i];
                result[i] = new DiagnosticInfo(d.Id, d.Severity, d.Message, where.TryGetValue(d.Span, out var at) ? at : input.Locations[0]);
            }
            return EquatableArray<DiagnosticInfo>.Own(result);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            return EquatableArray.Create(DiagnosticMapping.InternalError(ex, "evaluating the expectations of " + input.Topology.Name, input.Locations[0]));
        }
    }
}
