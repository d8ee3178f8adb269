using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Tests;
using Catalog = SwarmDsl.Diagnostics.DiagnosticDescriptors;

namespace SwarmDsl.Generators.Tests;

/// <summary>The generator's Roslyn descriptors, the shared catalogue and the release-tracking files agree.</summary>
public class CatalogueTests
{
    [Fact]
    public void EveryCatalogueId_HasADescriptor_WithItsSeverityAndTitle()
    {
        foreach (var entry in Catalog.All)
        {
            var d = SwarmDiagnosticDescriptors.Find(entry.Id);
            Assert.True(d is not null, $"{entry.Id} has no Roslyn descriptor: write it out in SwarmDiagnosticDescriptors and AnalyzerReleases.Unshipped.md");
            Assert.Equal(entry.Title, d!.Title.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var expected = entry.Severity switch
            {
                SwarmDsl.Diagnostics.Severity.Error => DiagnosticSeverity.Error,
                SwarmDsl.Diagnostics.Severity.Warning => DiagnosticSeverity.Warning,
                _ => DiagnosticSeverity.Info,
            };
            Assert.Equal(expected, d.DefaultSeverity);
            Assert.Equal(SwarmDiagnosticDescriptors.Category, d.Category);
        }
    }

    [Fact]
    public void GeneratorIds_DoNotClashWithTheCatalogue()
    {
        var catalogue = Catalog.All.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var own = SwarmDiagnosticDescriptors.All.Where(d => !catalogue.Contains(d.Id)).ToList();
        Assert.Equal(["SWARM1001", "SWARM1002", "SWARM1003", "SWARM1010", "SWARM1011", "SWARM1012", "SWARM1013", "SWARM1014", "SWARM1015"], own.Select(d => d.Id));
        Assert.Equal(SwarmDiagnosticDescriptors.All.Count, SwarmDiagnosticDescriptors.All.Select(d => d.Id).Distinct().Count());
    }

    [Fact]
    public void ReleaseFiles_ListEveryIdOnce_WithItsSeverity()
    {
        var dir = Path.Combine(Paths.Root, "src", "Generators");
        var rows = File.ReadAllLines(Path.Combine(dir, "AnalyzerReleases.Shipped.md"))
            .Concat(File.ReadAllLines(Path.Combine(dir, "AnalyzerReleases.Unshipped.md")))
            .Select(l => Regex.Match(l, @"^(SWARM\d{4})\s*\|\s*(\w+)\s*\|\s*(\w+)"))
            .Where(m => m.Success)
            .ToList();
        Assert.Equal(SwarmDiagnosticDescriptors.All.Select(d => d.Id).OrderBy(i => i, StringComparer.Ordinal),
            rows.Select(r => r.Groups[1].Value).OrderBy(i => i, StringComparer.Ordinal));
        foreach (var r in rows)
        {
            var d = SwarmDiagnosticDescriptors.Find(r.Groups[1].Value)!;
            Assert.Equal(d.Category, r.Groups[2].Value);
            Assert.Equal(d.DefaultSeverity.ToString(), r.Groups[3].Value);
        }
    }

    [Fact]
    public void UnknownId_StillReachesTheUser()
    {
        var info = new Model.DiagnosticInfo("SWARM0999", SwarmDsl.Diagnostics.Severity.Warning, "from a newer catalogue", null);
        var d = DiagnosticMapping.ToRoslyn(info, Location.None);
        Assert.Equal("SWARM0999", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("from a newer catalogue", d.GetMessage());
    }
}
