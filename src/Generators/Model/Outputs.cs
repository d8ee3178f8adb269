using SwarmDsl.Collections;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Generators.Model;

/// <summary>Which front end a topology came from.</summary>
internal enum TopologyOrigin
{
    /// <summary>A <c>*.swarm.yaml</c> file.</summary>
    Yaml,
    /// <summary>A <c>[SwarmTopology]</c> type.</summary>
    Attributes,
}

/// <summary>What the emitter needs for one topology: where to put the code and the analyzed model. Pure data.</summary>
/// <param name="Target">The type that receives the members.</param>
/// <param name="Origin">The front end.</param>
/// <param name="SourceName">The file name (no directories) the topology was read from, for comments.</param>
/// <param name="Topology">The analyzed topology.</param>
/// <param name="Plan">Its dataplane plan (IPVS backend, as Docker does it).</param>
/// <param name="SourceText">The YAML text (YAML form only), so a program can hand it to the compiler or the runtime.</param>
/// <param name="PipelineNodes">The nodes the compiled pipeline covers, sorted and ';'-joined; empty: every node.</param>
internal sealed record TopologySpec(TargetType Target, TopologyOrigin Origin, string SourceName, Topology Topology, DataplanePlan Plan, string? SourceText = null,
    string PipelineNodes = "");

/// <summary>The result of compiling one topology: the spec to emit (null on errors) and the diagnostics.</summary>
/// <param name="Key">The YAML path or the type's full name.</param>
/// <param name="Spec">The spec, or null when the topology has errors.</param>
/// <param name="Diagnostics">Every diagnostic, in the compiler's order.</param>
/// <param name="ExpectationLocations">
/// Where each of the spec's <c>expect:</c> entries is written, three per entry in the order of
/// <see cref="Topology.Expectations"/>: the entry (the YAML entry or the <c>[Expect]</c> attribute), its <c>from:</c> and
/// its <c>to:</c>; empty without a spec. Failed expectations are reported at the entry, an endpoint the plan lacks
/// (SWARM0031) at the value, as <c>swarmdsl check</c> reports them.
/// </param>
internal sealed record TopologyResult(string Key, TopologySpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics,
    EquatableArray<LocationInfo> ExpectationLocations = default);

/// <summary>One generated source file.</summary>
/// <param name="HintName">The unique hint name.</param>
/// <param name="Text">The C# text.</param>
internal sealed record GeneratedSource(string HintName, string Text);
