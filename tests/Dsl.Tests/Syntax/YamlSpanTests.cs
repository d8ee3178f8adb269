using System;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Syntax;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Syntax;

/// <summary>
/// Where the syntax tree says a collection ends: a flow mapping or sequence after its closing bracket (a diagnostic's span
/// covers what is written), a block one where YamlDotNet ends it (the next token), unchanged.
/// </summary>
public sealed class YamlSpanTests
{
    private const string File = "t.swarm.yaml";

    private static YamlMapping Read(string text)
    {
        var diagnostics = new DiagnosticBag();
        var root = YamlSyntaxReader.Read(File, text, diagnostics);
        Assert.Empty(diagnostics.Items);
        return Assert.IsType<YamlMapping>(root);
    }

    /// <summary>Start and end as <c>line:column-line:column</c> (<see cref="SourceSpan.ToString"/> shows only the start).</summary>
    private static string Where(SourceSpan span) => $"{span.StartLine}:{span.StartColumn}-{span.EndLine}:{span.EndColumn}";

    private static YamlNode Value(YamlMapping m, string key) => m.Find(key)!.Value;

    /// <summary>The text <paramref name="span"/> covers (1-based, end exclusive; lines split at LF only, as the inputs here are).</summary>
    private static string Covered(string text, SourceSpan span)
    {
        var lines = text.Split('\n');
        int Offset(int line, int column) => lines.Take(line - 1).Sum(l => l.Length + 1) + column - 1;
        int start = Offset(span.StartLine, span.StartColumn), end = Offset(span.EndLine, span.EndColumn);
        return text.Substring(start, end - start);
    }

    [Fact]
    public void A_flow_mapping_in_a_list_ends_after_its_closing_brace()
    {
        const string text = "expect:\n  - { from: web, to: \"db:5432/tcp\", reaches: db }\n";
        var item = Assert.Single(Assert.IsType<YamlSequence>(Value(Read(text), "expect")).Items);
        Assert.Equal("2:5-2:50", Where(item.Span));
        Assert.Equal("{ from: web, to: \"db:5432/tcp\", reaches: db }", Covered(text, item.Span));
    }

    [Fact]
    public void A_flow_sequence_ends_after_its_closing_bracket()
    {
        const string text = "services:\n  web:\n    networks: [front, back]\n";
        var web = Assert.IsType<YamlMapping>(Value(Assert.IsType<YamlMapping>(Value(Read(text), "services")), "web"));
        var networks = Value(web, "networks");
        Assert.Equal("[front, back]", Covered(text, networks.Span));
        Assert.Equal("3:15-3:28", Where(networks.Span));
    }

    [Fact]
    public void Nested_empty_anchored_and_multi_line_flow_collections_end_after_their_brackets()
    {
        const string text = "a: [ [1], {k: v} ]\nb: {}\nc: []\nd: &x { k: v }   # comment\ne: {\n  k: v\n  }\nf: [\"q\" , 'r' ]\n";
        var root = Read(text);
        var a = Assert.IsType<YamlSequence>(Value(root, "a"));
        Assert.Equal("[ [1], {k: v} ]", Covered(text, a.Span));
        Assert.Equal("[1]", Covered(text, a.Items[0].Span));
        Assert.Equal("{k: v}", Covered(text, a.Items[1].Span));
        Assert.Equal("{}", Covered(text, Value(root, "b").Span));
        Assert.Equal("[]", Covered(text, Value(root, "c").Span));
        // An anchored node starts at its anchor (YamlDotNet's start), and still ends at its brace, not after the comment.
        Assert.Equal("&x { k: v }", Covered(text, Value(root, "d").Span));
        Assert.Equal("5:4-7:4", Where(Value(root, "e").Span));
        Assert.Equal("[\"q\" , 'r' ]", Covered(text, Value(root, "f").Span));
    }

    [Fact]
    public void Spans_count_columns_after_crlf_line_breaks_too()
    {
        var root = Read("a: {k: v}\r\nb: [1, 2]\r\n");
        Assert.Equal("1:4-1:10", Where(Value(root, "a").Span));
        Assert.Equal("2:4-2:10", Where(Value(root, "b").Span));
    }

    [Fact]
    public void Block_collections_keep_the_end_YamlDotNet_gives_them()
    {
        // A block collection ends where the next token starts (the next key, or the end of the stream).
        const string text = "e:\n  - 1\n  - 2\nf:\n  k: v\n";
        var root = Read(text);
        Assert.Equal("2:3-4:1", Where(Value(root, "e").Span));
        Assert.Equal("5:3-6:1", Where(Value(root, "f").Span));
        Assert.Equal("1:1-6:1", Where(root.Span));
    }

    [Fact]
    public void An_implicit_pair_in_a_flow_sequence_does_not_take_the_sequences_bracket()
    {
        // `[x: 1]` is a sequence of one single-pair mapping, ended by the sequence's ']' or ',', which is not its own
        // (only ends are checked: YamlDotNet gives such a pair no start of its own).
        const string text = "a: [x: 1]\nb: [x: 1, y]\n";
        var root = Read(text);
        var a = Assert.IsType<YamlSequence>(Value(root, "a"));
        Assert.Equal("[x: 1]", Covered(text, a.Span));
        Assert.EndsWith("-1:9", Where(a.Items[0].Span), StringComparison.Ordinal);
        var b = Assert.IsType<YamlSequence>(Value(root, "b"));
        Assert.Equal("[x: 1, y]", Covered(text, b.Span));
        Assert.EndsWith("-2:10", Where(b.Items[0].Span), StringComparison.Ordinal);
    }

    [Fact]
    public void A_compiled_expect_entry_written_in_flow_style_spans_its_braces()
    {
        // The span SWARM0020 is reported at: the whole entry as written.
        const string text = """
            version: 1
            name: t
            nodes:
              a: { address: 10.0.0.1/24 }
            networks:
              front: { driver: overlay, subnet: 10.1.0.0/24 }
            services:
              web: { networks: [front], expose: [80] }
              db: { networks: [front], expose: [5432] }
            expect:
              - { from: web, to: "db:5432/tcp", reaches: db }

            """;
        var result = SwarmCompiler.Compile(File, text);
        Assert.DoesNotContain(result.Diagnostics, d => d.IsError);
        var entry = Assert.Single(result.Topology!.Expectations);
        Assert.Equal("{ from: web, to: \"db:5432/tcp\", reaches: db }", Covered(text, entry.Span));
    }
}
