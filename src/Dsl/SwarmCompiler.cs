using System;
using System.Collections.Generic;
using System.Threading;
using SwarmDsl.Diagnostics;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Syntax;

namespace SwarmDsl;

/// <summary>What compiling one topology produced.</summary>
public sealed class CompilationResult
{
    private readonly Lazy<DeclarationPaths> _paths;

    internal CompilationResult(string file, TopologyDeclaration? declaration, Topology? topology, IReadOnlyList<Diagnostic> diagnostics, YamlNode? syntax = null)
    {
        File = file;
        Declaration = declaration;
        Topology = topology;
        Diagnostics = diagnostics;
        // Built on first use: only the commands that print spans need it, and a large topology's index is not free.
        _paths = new Lazy<DeclarationPaths>(() => DeclarationPaths.From(file, syntax));
    }

    /// <summary>The input file.</summary>
    public string File { get; }

    /// <summary>The declaration as written (null when the YAML could not be read).</summary>
    public TopologyDeclaration? Declaration { get; }

    /// <summary>The analyzed topology, or null when there were errors.</summary>
    public Topology? Topology { get; }

    /// <summary>Every diagnostic, sorted by location.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>
    /// The declaration path (<c>services.web.ports[0]</c>) of every place of the YAML file, so that a span of the model, the
    /// plan or a trace can say what it came from. <see cref="DeclarationPaths.Empty"/> when there is no YAML (C# attributes).
    /// </summary>
    public DeclarationPaths DeclarationPaths => _paths.Value;

    /// <summary>Whether any diagnostic is an error.</summary>
    public bool HasErrors
    {
        get { foreach (var d in Diagnostics) if (d.IsError) return true; return false; }
    }
}

/// <summary>What compiling one topology down to its dataplane plan produced.</summary>
public sealed class PlanCompilationResult
{
    internal PlanCompilationResult(CompilationResult compilation, DataplanePlan? plan, IReadOnlyList<Diagnostic> diagnostics)
    {
        Compilation = compilation;
        Plan = plan;
        Diagnostics = diagnostics;
    }

    /// <summary>The front end's result (declaration and analyzed topology).</summary>
    public CompilationResult Compilation { get; }

    /// <summary>The analyzed topology, or null when there were errors before lowering.</summary>
    public Topology? Topology => Compilation.Topology;

    /// <summary>The dataplane plan, or null when any stage reported an error.</summary>
    public DataplanePlan? Plan { get; }

    /// <summary>Every diagnostic of every stage, sorted by location.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>Whether any diagnostic is an error.</summary>
    public bool HasErrors
    {
        get { foreach (var d in Diagnostics) if (d.IsError) return true; return false; }
    }
}

/// <summary>
/// The front door of the compiler, shared by the <c>swarmdsl</c> command line and the source generator:
/// YAML text → syntax → declaration → analyzed topology, with located diagnostics and no exceptions for bad input.
/// </summary>
public static class SwarmCompiler
{
    /// <summary>
    /// A compilation that stopped before parsing, with the one diagnostic that says why (a file whose bytes are not UTF-8
    /// text, found by the caller that read them): callers report it as they report any other error of the file.
    /// </summary>
    public static CompilationResult Unreadable(string file, Diagnostic diagnostic)
    {
        if (file is null) throw new ArgumentNullException(nameof(file));
        if (diagnostic is null) throw new ArgumentNullException(nameof(diagnostic));
        return new CompilationResult(file, null, null, new[] { diagnostic });
    }

    /// <summary>Compiles YAML <paramref name="text"/> read from <paramref name="file"/>.</summary>
    public static CompilationResult Compile(string file, string text, CancellationToken cancellationToken = default)
    {
        var diagnostics = new DiagnosticBag();
        var root = YamlSyntaxReader.Read(file, text, diagnostics, cancellationToken);
        if (root is null && diagnostics.HasErrors)
            return new CompilationResult(file, null, null, diagnostics.Sorted());
        var declaration = YamlBinder.Bind(file, root, diagnostics);
        return AnalyzeCore(declaration, diagnostics, root);
    }

    /// <summary>
    /// Compiles YAML <paramref name="text"/> read from <paramref name="file"/> all the way to its dataplane plan
    /// (<paramref name="options"/> null: IPVS, as Docker does). The plan is null when any stage reported an error.
    /// </summary>
    public static PlanCompilationResult CompileToPlan(string file, string text, LoweringOptions? options = null, CancellationToken cancellationToken = default)
        => Lower(Compile(file, text, cancellationToken), options);

    /// <summary>Lowers an already compiled topology to its dataplane plan (null plan when there are errors).</summary>
    public static PlanCompilationResult Lower(CompilationResult compilation, LoweringOptions? options = null)
    {
        if (compilation is null) throw new ArgumentNullException(nameof(compilation));
        if (compilation.Topology is null || compilation.HasErrors)
            return new PlanCompilationResult(compilation, null, compilation.Diagnostics);
        return Lower(compilation, compilation.Topology, options);
    }

    /// <summary>
    /// Lowers <paramref name="part"/>, a part of a compiled topology (a reach question's slice: its addresses were assigned
    /// over the whole), to its plan, reporting the compilation's diagnostics with lowering's.
    /// </summary>
    public static PlanCompilationResult Lower(CompilationResult compilation, Topology part, LoweringOptions? options = null)
    {
        if (compilation is null) throw new ArgumentNullException(nameof(compilation));
        if (part is null) throw new ArgumentNullException(nameof(part));
        if (compilation.HasErrors) return new PlanCompilationResult(compilation, null, compilation.Diagnostics);
        var diagnostics = new DiagnosticBag();
        diagnostics.AddRange(compilation.Diagnostics);
        var plan = SwarmLowering.Lower(part, options ?? LoweringOptions.Default, diagnostics);
        return new PlanCompilationResult(compilation, diagnostics.HasErrors ? null : plan, diagnostics.Sorted());
    }

    /// <summary>Analyzes a declaration built by any front end (YAML or C# attributes).</summary>
    public static CompilationResult Analyze(TopologyDeclaration declaration, DiagnosticBag diagnostics) => AnalyzeCore(declaration, diagnostics, null);

    private static CompilationResult AnalyzeCore(TopologyDeclaration declaration, DiagnosticBag diagnostics, YamlNode? syntax)
    {
        Topology? topology = null;
        if (!diagnostics.HasErrors)
            topology = TopologyAnalyzer.Analyze(declaration, diagnostics);
        return new CompilationResult(declaration.File, declaration, diagnostics.HasErrors ? null : topology, diagnostics.Sorted(), syntax);
    }
}
