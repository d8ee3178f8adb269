using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Diagnostics;

namespace SwarmDsl.Tests.Docs;

/// <summary>
/// docs/diagnostics.md documents the whole catalogue and nothing else, agrees with it on titles, severities and fixes, and its
/// examples really produce the messages it shows.
/// </summary>
public class DiagnosticsDocTests
{
    private static readonly string DocPath = Path.Combine(Paths.Root, "docs", "diagnostics.md");

    public sealed record Section(string Id, string Title, string Body);

    private static readonly Regex Heading = new(@"^## (SWARM\d{4}): (.+)$", RegexOptions.Multiline | RegexOptions.CultureInvariant);
    private static readonly Regex AnyId = new(@"SWARM\d{4}", RegexOptions.CultureInvariant);

    private static List<Section> Sections()
    {
        var text = File.ReadAllText(DocPath).Replace("\r\n", "\n");
        var matches = Heading.Matches(text);
        var result = new List<Section>();
        for (int i = 0; i < matches.Count; i++)
        {
            int start = matches[i].Index + matches[i].Length;
            int end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            result.Add(new Section(matches[i].Groups[1].Value, matches[i].Groups[2].Value.Trim(), text[start..end]));
        }
        return result;
    }

    private static string? Block(string body, string language)
    {
        var m = Regex.Match(body, "```" + language + "\n(.*?)```", RegexOptions.Singleline | RegexOptions.CultureInvariant);
        return m.Success ? m.Groups[1].Value : null;
    }

    [Fact]
    public void Every_catalogue_id_has_exactly_one_section_and_no_section_is_undocumented()
    {
        var documented = Sections().Select(s => s.Id).ToList();
        var catalogue = DiagnosticDescriptors.All.Select(d => d.Id).ToList();
        Assert.Equal(documented.Distinct().Count(), documented.Count);
        Assert.True(!catalogue.Except(documented).Any(), "undocumented: " + string.Join(", ", catalogue.Except(documented)));
        Assert.True(!documented.Except(catalogue).Any(), "documented but not in the catalogue: " + string.Join(", ", documented.Except(catalogue)));
        Assert.Equal(catalogue.Order(StringComparer.Ordinal), documented);
    }

    [Fact]
    public void No_id_outside_the_catalogue_is_mentioned_anywhere()
    {
        var text = File.ReadAllText(DocPath);
        var known = DiagnosticDescriptors.All.Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var unknown = AnyId.Matches(text).Select(m => m.Value).Where(id => !known.Contains(id)).Distinct().ToList();
        Assert.Empty(unknown);
    }

    [Fact]
    public void Titles_severities_and_fixes_agree_with_the_catalogue()
    {
        foreach (var s in Sections())
        {
            var d = DiagnosticDescriptors.All.Single(x => x.Id == s.Id);
            Assert.Equal(d.Title, s.Title);
            Assert.Contains($"**Severity:** {d.Severity.ToString().ToLowerInvariant()}\n", s.Body, StringComparison.Ordinal);
            Assert.Contains($"**Fix:** {d.Fix}", s.Body, StringComparison.Ordinal);
        }
    }

    public static IEnumerable<object[]> Examples => Sections().Select(s => new object[] { s.Id });

    [Theory]
    [MemberData(nameof(Examples))]
    public void The_example_produces_the_documented_message(string id)
    {
        var s = Sections().Single(x => x.Id == id);
        var yaml = Block(s.Body, "yaml");
        Assert.True(yaml is not null, $"{id} has no yaml example");
        var printed = Block(s.Body, "text");
        if (id == DiagnosticDescriptors.ExpectationFailed.Id || id == DiagnosticDescriptors.SysctlNotSimulated.Id)
        {
            // Reported by the packet simulation (tests/Cli.Tests checks those messages): the front end alone has nothing to say.
            Assert.Contains("Reported by the packet simulation", s.Body, StringComparison.Ordinal);
            Assert.DoesNotContain(SwarmCompiler.Compile("demo.swarm.yaml", yaml!).Diagnostics, d => d.Id == id);
            return;
        }
        Assert.True(printed is not null, $"{id} shows no message");
        // Lowering reports SWARM0044 (it knows each host's devices); the front end the rest.
        var diagnostics = id == DiagnosticDescriptors.SysctlDeviceMissing.Id
            ? SwarmCompiler.CompileToPlan("demo.swarm.yaml", yaml!).Diagnostics
            : SwarmCompiler.Compile("demo.swarm.yaml", yaml!).Diagnostics;
        var expected = printed!.TrimEnd('\n').Split('\n');
        Assert.Equal(expected, diagnostics.Select(d => d.ToString()).ToArray());
        Assert.All(diagnostics, d => Assert.Equal(id, d.Id));
    }
}
