using System;
using System.Linq;
using System.Threading;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Model;
using Catalog = SwarmDsl.Diagnostics.DiagnosticDescriptors;

namespace SwarmDsl.Generators.Parsing;

/// <summary>Compiles one <c>*.swarm.yaml</c> file with the shared front door (<see cref="SwarmCompiler.Compile"/>).</summary>
internal static class YamlTopologyCompiler
{
    /// <summary>The analyzed topology and its plan (null on errors) and every diagnostic, located in the YAML file. Never throws but for cancellation.</summary>
    public static TopologyResult Compile(YamlSource source, CancellationToken cancellationToken)
    {
        try
        {
            if (source.Text is null)
            {
                var unreadable = new DiagnosticInfo(Catalog.YamlSyntax.Id, Catalog.YamlSyntax.Severity, "the topology file could not be read",
                    new LocationInfo(source.Path, default, default));
                return new TopologyResult(source.Path, null, EquatableArray.Create(unreadable));
            }
            // All the way to the dataplane plan: lowering has diagnostics of its own (raw rules), and the plan feeds the output.
            var result = SwarmCompiler.CompileToPlan(source.Path, source.Text, cancellationToken: cancellationToken);
            var diagnostics = DiagnosticMapping.FromYaml(result.Diagnostics, source.Path, source.Text);
            if (source.SettingProblems.Count > 0) diagnostics = source.SettingProblems.Concat(diagnostics).ToEquatableArray();
            var spec = result.Topology is { } topology && result.Plan is { } plan && !result.HasErrors
                ? new TopologySpec(source.Target, TopologyOrigin.Yaml, Identifiers.FileName(source.Path), topology, plan, source.Text, source.PipelineNodes)
                : null;
            // A node the file's SwarmDslPipelineNodes names but the topology lacks: reported at the file it is set on.
            if (spec is not null && PipelineEmitter.UnknownNodes(spec) is { } unknown)
                diagnostics = diagnostics.Concat(new[] { unknown with { Location = new LocationInfo(source.Path, default, default) } }).ToEquatableArray();
            return new TopologyResult(source.Path, spec, diagnostics,
                spec is null ? default : DiagnosticMapping.LocateAll(spec.Topology.Expectations.SelectMany(x => new[] { x.Span, x.FromSpan, x.ToSpan }), source.Path, source.Text));
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            var failure = DiagnosticMapping.InternalError(ex, "compiling " + Identifiers.FileName(source.Path), new LocationInfo(source.Path, default, default));
            return new TopologyResult(source.Path, null, EquatableArray.Create(failure));
        }
    }
}
