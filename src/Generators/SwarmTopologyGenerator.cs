using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Model;
using SwarmDsl.Generators.Parsing;

namespace SwarmDsl.Generators;

/// <summary>
/// The SwarmDsl source generator. Two front ends feed one compiler: <c>*.swarm.yaml</c> additional files, and <c>partial</c>
/// types marked <c>[SwarmTopology]</c>. Each topology becomes typed handles and text constants in a class of its own.
/// </summary>
/// <remarks>
/// Pipeline (each step named in <see cref="TrackingNames"/>; every model is value-equatable and free of Roslyn objects):
/// <code>
/// AdditionalTexts(*.swarm.yaml) ─ ReadYaml ─ CompileYaml ─┬─ diagnostics (external locations in the YAML file)
///                                   │                     └─ EmitYaml ─ AddSource (one file per topology)
///                                   └─ DuplicateClasses ─ SWARM1002, and filters EmitYaml
/// FAWMN([SwarmTopology]) ─ ReadAttributes ─┬─ CompileAttributes ─┬─ diagnostics, joined with AttributeTrees (pragma-suppressible)
///                                          │                     └─ EmitAttributes ─ AddSource
///                                          └─ (type names) ─ DuplicateClasses
/// </code>
/// Diagnostics have their own output nodes, so a changed message never re-emits source and vice versa. Nothing throws
/// out of the generator: an unexpected exception becomes SWARM1003 at the topology it concerns.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed partial class SwarmTopologyGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        context.RegisterPostInitializationOutput(static ctx =>
        {
            ctx.AddEmbeddedAttributeDefinition();
            ctx.AddSource(AttributeSource.HintName, SourceText.From(AttributeSource.Text, Encoding.UTF8));
            ctx.AddSource(HandleSource.HintName, SourceText.From(HandleSource.Text, Encoding.UTF8));
        });

        // What the emit steps need from the project: two MSBuild properties and whether SwarmDsl.Runtime is referenced.
        // A bool is selected from the compilation first, so edits that keep it leave this step Unchanged.
        var settings = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => EmitSettingsReader.Read(options.GlobalOptions))
            .Combine(context.CompilationProvider.Select(static (compilation, _) => EmitSettingsReader.ReferencesRuntime(compilation)))
            .Select(static (pair, _) => pair.Left with { RuntimeReferenced = pair.Right })
            .WithTrackingName(TrackingNames.EmitSettings);

        context.RegisterSourceOutput(settings.Select(static (s, _) => s.Problems), static (spc, problems) =>
        {
            foreach (var message in problems)
                spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(new DiagnosticInfo(SwarmDiagnosticDescriptors.InvalidSetting.Id, SwarmDsl.Diagnostics.Severity.Warning, message, null), Location.None));
        });

        // ---- YAML ----
        var yamlSources = context.AdditionalTextsProvider
            .Where(static file => YamlInput.IsTopologyFile(file.Path))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, ct) => Invariant(() => YamlInput.Read(pair.Left, pair.Right, ct)))
            .WithTrackingName(TrackingNames.ReadYaml);
        var yamlResults = yamlSources
            .Select(static (source, ct) => Invariant(() => YamlTopologyCompiler.Compile(source, ct)))
            .WithTrackingName(TrackingNames.CompileYaml);
        var attributeInputs = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeSource.TopologyAttributeMetadataName,
                static (node, _) => AttributeReader.IsCandidate(node),
                static (ctx, ct) => AttributeReader.Read(ctx, ct))
            .WithTrackingName(TrackingNames.ReadAttributes);

        // A class two topologies would both fill: paths and names only, so editing a file's content never changes it.
        var duplicates = yamlSources
            .Select(static (source, _) => (source.Path, source.Target.FullName))
            .Collect()
            .Combine(attributeInputs.Select(static (input, _) => input.Target.FullName).Collect())
            .Select(static (claims, _) => DuplicateClasses(claims.Left, claims.Right))
            .WithTrackingName(TrackingNames.DuplicateClasses);

        // A class the project already declares in a shape the generated 'static partial class' cannot join (a record, a
        // sealed class): C# would report CS0101 inside the generated file. Looked up in the compilation, so it re-runs on
        // every edit; its output (usually empty) keeps what follows cached.
        var userTypes = yamlSources
            .Select(static (source, _) => (source.Path, source.Target.FullName))
            .Collect()
            .Combine(context.CompilationProvider)
            .Select(static (pair, ct) => UserTypeClashes(pair.Left, pair.Right, ct))
            .WithTrackingName(TrackingNames.UserTypeClashes);
        var refused = duplicates.Combine(userTypes).Select(static (pair, _) => pair.Left.Concat(pair.Right).ToEquatableArray());

        context.RegisterSourceOutput(yamlResults.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) => Report(spc, diagnostics, null));
        context.RegisterSourceOutput(refused, static (spc, found) => Report(spc, found.Select(d => d.Diagnostic).ToEquatableArray(), null));
        var yamlEmitted = yamlResults
            .Combine(refused)
            .Combine(settings)
            .Select(static (pair, ct) => pair.Left.Left.Spec is { } spec && !pair.Left.Right.Any(d => d.Path == pair.Left.Left.Key) ? EmitGuarded(spec, pair.Right, ct) : null)
            .WithTrackingName(TrackingNames.EmitYaml);

        // ---- C# attributes ----
        var attributeResults = attributeInputs
            .Select(static (input, ct) => Invariant(() => AttributeBinder.Compile(input, ct)))
            .WithTrackingName(TrackingNames.CompileAttributes);
        var trees = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeSource.TopologyAttributeMetadataName,
                static (node, _) => AttributeReader.IsCandidate(node),
                static (ctx, _) => AttributeReader.ReadTrees(ctx))
            .WithTrackingName(TrackingNames.AttributeTrees)
            .Collect();

        context.RegisterSourceOutput(attributeResults.Select(static (r, _) => (r.Key, r.Diagnostics)).Combine(trees),
            static (spc, pair) => Report(spc, pair.Left.Diagnostics, pair.Right.FirstOrDefault(t => t.TypeName == pair.Left.Key)?.Trees));
        var attributeEmitted = attributeResults
            .Combine(settings)
            .Select(static (pair, ct) => pair.Left.Spec is { } spec ? EmitGuarded(spec, pair.Right, ct) : null)
            .WithTrackingName(TrackingNames.EmitAttributes);
        // Added together: two types' hint names can coincide once case is ignored (Lab, LAB) or characters are replaced
        // (Bär, Bör), and Roslyn then throws (CS8785) and drops every generated file; only the whole set shows it.
        context.RegisterSourceOutput(yamlEmitted.Collect().Combine(attributeEmitted.Collect()),
            static (spc, all) => AddSources(spc, all.Left.AddRange(all.Right)));

        RegisterExpectations(context, yamlResults, attributeResults, trees);

        // An element attribute on a type without [SwarmTopology] is read by nothing: said at the attribute.
        foreach (var kind in AttributeReader.Kinds)
        {
            if (kind == "SwarmTopology") continue;
            var orphans = context.SyntaxProvider
                .ForAttributeWithMetadataName("SwarmDsl." + kind + "Attribute",
                    static (node, _) => AttributeReader.IsCandidate(node),
                    // The tree travels with the findings (compared by reference: unchanged when the file is), so the warning
                    // is in the source, where #pragma and the editor see it.
                    static (ctx, _) => (Found: OrphanElements(ctx), Tree: ctx.TargetNode.SyntaxTree))
                .WithTrackingName(TrackingNames.OrphanElements);
            context.RegisterSourceOutput(orphans, static (spc, orphan) =>
            {
                foreach (var d in orphan.Found) spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(d, DiagnosticMapping.ToLocation(d.Location, new[] { orphan.Tree })));
            });
        }
    }

    private static EquatableArray<DiagnosticInfo> OrphanElements(GeneratorAttributeSyntaxContext ctx)
    {
        if (ctx.TargetSymbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == AttributeSource.TopologyAttributeMetadataName))
            return EquatableArray<DiagnosticInfo>.Empty;
        var result = new List<DiagnosticInfo>();
        foreach (var a in ctx.Attributes)
        {
            var name = a.AttributeClass?.Name ?? "";
            if (name.EndsWith("Attribute", StringComparison.Ordinal)) name = name.Substring(0, name.Length - "Attribute".Length);
            var at = a.ApplicationSyntaxReference?.GetSyntax() is { } syntax ? LocationInfo.Of(syntax) : null;
            result.Add(new DiagnosticInfo(SwarmDiagnosticDescriptors.OrphanElement.Id, SwarmDsl.Diagnostics.Severity.Warning,
                $"[{name}] on '{ctx.TargetSymbol.Name}' does nothing: the type has no [SwarmTopology] attribute, so no topology reads it; add [SwarmTopology(\"name\")] or remove it", at));
        }
        return result.ToEquatableArray();
    }

    private static EquatableArray<DuplicateClass> UserTypeClashes(ImmutableArray<(string Path, string FullName)> claims, Compilation compilation, CancellationToken ct)
    {
        var result = new List<DuplicateClass>();
        foreach (var (path, fullName) in claims.OrderBy(c => c.Path, StringComparer.Ordinal))
        {
            ct.ThrowIfCancellationRequested();
            if (compilation.Assembly.GetTypeByMetadataName(fullName.Replace("@", "")) is not { } type) continue;
            // A [SwarmTopology] type of that name is SWARM1002 already (DuplicateClasses).
            if (type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == AttributeSource.TopologyAttributeMetadataName)) continue;
            // The generated part is 'internal static partial class': a public part would conflict too (CS0262).
            bool joins = type.TypeKind == TypeKind.Class && type.IsStatic && type.DeclaredAccessibility == Accessibility.Internal && type.DeclaringSyntaxReferences.All(r =>
                r.GetSyntax(ct) is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax d && d.Modifiers.Any(m => m.IsKind(Microsoft.CodeAnalysis.CSharp.SyntaxKind.PartialKeyword)));
            if (joins) continue; // the user's own static partial part of the topology class
            var where = type.Locations.FirstOrDefault(l => l.IsInSource)?.SourceTree?.FilePath;
            var message = string.Format(CultureInfo.InvariantCulture,
                "'{0}' would generate class '{1}', which the project already declares{2} as a type the generated static partial class cannot join: rename the file or the type, or set SwarmDslClassName on the file",
                Identifiers.FileName(path), fullName, where is null ? "" : " in '" + Identifiers.FileName(where) + "'");
            result.Add(new DuplicateClass(path, new DiagnosticInfo(SwarmDiagnosticDescriptors.DuplicateClass.Id, SwarmDsl.Diagnostics.Severity.Error, message,
                new LocationInfo(path, default, default))));
        }
        return result.ToEquatableArray();
    }

    /// <summary>A YAML file whose class an earlier file (by ordinal path) or a <c>[SwarmTopology]</c> type already fills.</summary>
    internal sealed record DuplicateClass(string Path, DiagnosticInfo Diagnostic);

    private static EquatableArray<DuplicateClass> DuplicateClasses(ImmutableArray<(string Path, string FullName)> claims, ImmutableArray<string> attributeTypes)
    {
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<DuplicateClass>();
        foreach (var (path, fullName) in claims.OrderBy(c => c.Path, StringComparer.Ordinal))
        {
            string? message = null;
            var id = SwarmDiagnosticDescriptors.DuplicateClass.Id;
            var simpleName = fullName.Substring(fullName.LastIndexOf('.') + 1);
            if (Identifiers.ReservedClassName(simpleName.StartsWith("@", StringComparison.Ordinal) ? simpleName.Substring(1) : simpleName,
                    "rename the file, or set SwarmDslClassName on it") is { } reserved)
            {
                message = $"'{Identifiers.FileName(path)}': " + reserved;
                id = SwarmDiagnosticDescriptors.ReservedClassName.Id;
            }
            else if (attributeTypes.Contains(fullName))
                message = string.Format(CultureInfo.InvariantCulture,
                    "'{0}' would generate class '{1}', which is already a [SwarmTopology] type: rename the file or the type, or set SwarmDslClassName on the file",
                    Identifiers.FileName(path), fullName);
            else if (owner.TryGetValue(fullName, out var first))
            {
                // Two files of one name in different folders: their names alone would not say which two.
                bool sameName = string.Equals(Identifiers.FileName(path), Identifiers.FileName(first), StringComparison.OrdinalIgnoreCase);
                message = string.Format(CultureInfo.InvariantCulture,
                    "'{0}' would generate class '{1}', which '{2}' already generates: rename one file or set SwarmDslClassName on it",
                    sameName ? path : Identifiers.FileName(path), fullName, sameName ? first : Identifiers.FileName(first));
            }
            else owner[fullName] = path;
            if (message is not null)
                result.Add(new DuplicateClass(path, new DiagnosticInfo(id, SwarmDsl.Diagnostics.Severity.Error, message,
                    new LocationInfo(path, default, default))));
        }
        return result.ToEquatableArray();
    }

    /// <summary>
    /// The emitted source, or the failure as a diagnostic carried to the output node; <paramref name="Note"/> is the
    /// information that text constants were left out of a large topology; <paramref name="Pipeline"/> the compiled
    /// pipeline, when the project references SwarmDsl.Runtime.
    /// </summary>
    internal sealed record EmitResult(GeneratedSource? Source, DiagnosticInfo? Failure, DiagnosticInfo? Note = null, GeneratedSource? Pipeline = null, string TypeName = "");

    internal static EmitResult EmitGuarded(TopologySpec spec, EmitSettings settings, CancellationToken cancellationToken = default)
    {
        try
        {
            DiagnosticInfo? note = null;
            var source = Invariant(() => TopologyEmitter.Emit(spec, settings, out note, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            // With the Runtime referenced the simulation's entry points are always there; compiled when the pipeline is.
            var pipeline = !settings.RuntimeReferenced ? null
                : PipelineEmitter.ShouldEmit(spec, settings) ? Invariant(() => PipelineEmitter.Emit(spec, cancellationToken))
                : Invariant(() => PipelineEmitter.EmitEntryPoints(spec, cancellationToken));
            // SWARM1011 (pipeline nodes the topology lacks) is the compile step's, reported at the YAML file.
            return new EmitResult(source, null, note, pipeline, spec.Target.FullName);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new EmitResult(null, DiagnosticMapping.InternalError(ex, "writing the code of " + spec.Target.FullName, null));
        }
    }

    private static void AddSources(SourceProductionContext spc, ImmutableArray<EmitResult?> all)
    {
        // Hint names are compared ignoring case (the generator's own two files included); in a fixed order, the first keeps
        // its name and a later one equal to it gets its type's hash, so each name stays the same from build to build.
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { AttributeSource.HintName, HandleSource.HintName };
        foreach (var emitted in all.Where(e => e is not null).OrderBy(e => e!.Source?.HintName ?? "", StringComparer.Ordinal).ThenBy(e => e!.TypeName, StringComparer.Ordinal))
        {
            try
            {
                if (emitted!.Source is { } source) spc.AddSource(Unique(taken, source.HintName, emitted.TypeName), SourceText.From(source.Text, Encoding.UTF8));
                if (emitted.Pipeline is { } pipeline) spc.AddSource(Unique(taken, pipeline.HintName, emitted.TypeName), SourceText.From(pipeline.Text, Encoding.UTF8));
                if (emitted.Failure is { } failure) spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(failure, Location.None));
                if (emitted.Note is { } note) spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(note, Location.None));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(DiagnosticMapping.InternalError(ex, "adding generated source", null), Location.None));
            }
        }
    }

    /// <summary><paramref name="hint"/>, or, when a name equal to it ignoring case is taken, it with the FNV-1a hash of <paramref name="typeName"/> before <c>.g.cs</c>.</summary>
    internal static string Unique(HashSet<string> taken, string hint, string typeName)
    {
        if (taken.Add(hint)) return hint;
        uint h = 2166136261;
        foreach (var ch in typeName) { h ^= ch; h *= 16777619; }
        var stem = hint.EndsWith(".g.cs", StringComparison.Ordinal) ? hint.Substring(0, hint.Length - ".g.cs".Length) : hint;
        for (int n = 0; ; n++)
        {
            var candidate = stem + "." + (h + (uint)n).ToString("x8", CultureInfo.InvariantCulture) + ".g.cs";
            if (taken.Add(candidate)) return candidate;
        }
    }

    private static void Report(SourceProductionContext spc, EquatableArray<DiagnosticInfo> diagnostics, EquatableArray<SyntaxTree>? trees)
    {
        foreach (var info in diagnostics)
        {
            try
            {
                spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(info, DiagnosticMapping.ToLocation(info.Location, trees)));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A location Roslyn refuses must not cost the user the diagnostic itself.
                spc.ReportDiagnostic(DiagnosticMapping.ToRoslyn(info, Location.None));
                _ = ex;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> under the invariant culture, as System.Text.Json's generator does: the compiler formats
    /// numbers into messages and dumps, and a host culture must never change generated text.
    /// </summary>
    private static T Invariant<T>(Func<T> work)
    {
#pragma warning disable RS1035 // The culture is restored below; generated text must not depend on the build machine's locale.
        var previous = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            return work();
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
#pragma warning restore RS1035
    }
}
