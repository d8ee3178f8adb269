using System;
using System.IO;
using System.Linq;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The analyzer loads inside the compiler: it may reference only what every compiler host provides (netstandard, Roslyn and
/// the System.* packages Roslyn itself depends on) plus YamlDotNet, which ships next to it (analyzers/dotnet/cs in the
/// package, GetDependencyTargetPaths for project references). The packet engine compiled in for <c>expect:</c> must not
/// bring anything else along (System.Text.Json, say, is not there on .NET Framework MSBuild).
/// </summary>
public class AnalyzerDependencyTests
{
    private static readonly string[] HostProvided =
    [
        "netstandard", "Microsoft.CodeAnalysis", "Microsoft.CodeAnalysis.CSharp", "System.Collections.Immutable", "System.Memory",
        "System.Buffers", "System.Runtime.CompilerServices.Unsafe", "System.Numerics.Vectors",
    ];

    private static readonly string[] Shipped = ["YamlDotNet"];

    [Fact]
    public void TheAnalyzer_ReferencesOnlyHostAssembliesAndWhatShipsWithIt()
    {
        var path = typeof(SwarmTopologyGenerator).Assembly.Location;
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var references = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.Contains("YamlDotNet", references);
        Assert.All(references, r => Assert.True(HostProvided.Contains(r) || Shipped.Contains(r), $"the analyzer references {r}, which the compiler does not load"));
        // The engine is inside (expect: needs it) and the JSON renderer is not.
        var types = md.TypeDefinitions.Select(h => md.GetString(md.GetTypeDefinition(h).Namespace) + "." + md.GetString(md.GetTypeDefinition(h).Name)).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("SwarmDsl.Runtime.Insight.ExpectationEvaluator", types);
        Assert.Contains("SwarmDsl.Runtime.Engine.Simulation", types);
        Assert.DoesNotContain("SwarmDsl.Runtime.Tracing.JsonTraceRenderer", types);
    }
}
