using System.IO;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Semantics;
using SwarmDsl.Syntax;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Syntax;

/// <summary>The span → declaration path index a compilation derives from its YAML (what trace steps name).</summary>
public sealed class DeclarationPathsTests
{
    private static CompilationResult Example() => SwarmCompiler.Compile(Paths.Example, File.ReadAllText(Paths.Example));

    [Fact]
    public void The_example_names_its_declarations_as_rule_comments_do()
    {
        var c = Example();
        var paths = c.DeclarationPaths;
        var t = c.Topology!;
        Assert.Equal("nodes.manager", paths.PathOf(t.Nodes.Single(n => n.Name == "manager").Span));
        Assert.Equal("networks.ingress", paths.PathOf(t.Networks.Single(n => n.Name == "ingress").Span));
        Assert.Equal("networks.docker_gwbridge", paths.PathOf(t.Networks.Single(n => n.Name == "docker_gwbridge").Span));
        var web = t.Services.Single();
        Assert.Equal("services.web", paths.PathOf(web.Span));
        Assert.Equal("services.web.ports[0]", paths.PathOf(web.Ports[0].Span));
        Assert.Equal("services.web.tasks[1]", paths.PathOf(t.Tasks.Single(x => x.Name == "web.2").Span));
        // A whole mapping written as a key's value is the key's declaration, not its first key's.
        Assert.Equal("underlay", paths.PathOf(t.Underlay.Span));
        // Keys that are not plain names are quoted, so the path reads one way.
        Assert.Equal("tuning.sysctls[\"net.core.rmem_max\"]", paths.PathOf(t.Sysctls.First().Span));
        Assert.Equal("expect[1]", paths.PathOf(t.Expectations[1].Span));
    }

    [Fact]
    public void A_place_is_named_by_its_start_when_the_span_is_not_a_node_of_the_tree()
    {
        var c = Example();
        // Line 9 column 3 is the key 'manager' and the start of the mapping 'nodes' holds: the key names it.
        Assert.Equal("nodes.manager", c.DeclarationPaths.PathOf(SourceSpan.At(Paths.Example, 9, 3)));
        // A list item starts where its mapping's first key does: the item (the whole declaration) names the place.
        var port = c.Topology!.Services.Single().Ports[0].Span;
        Assert.Equal("services.web.ports[0]", c.DeclarationPaths.PathOf(SourceSpan.At(Paths.Example, port.StartLine, port.StartColumn)));
    }

    [Fact]
    public void Spans_of_other_files_of_nowhere_and_of_no_yaml_have_no_path()
    {
        var c = Example();
        Assert.Null(c.DeclarationPaths.PathOf(SourceSpan.None));
        Assert.Null(c.DeclarationPaths.PathOf(SourceSpan.At("other.swarm.yaml", 9, 3)));
        Assert.Null(c.DeclarationPaths.PathOf(SourceSpan.At(Paths.Example, 7, 1))); // an empty line
        // The C# attribute form binds a declaration without YAML: its spans point into C# and name no path.
        var analyzed = SwarmCompiler.Analyze(c.Declaration!, new DiagnosticBag());
        Assert.Same(DeclarationPaths.Empty, analyzed.DeclarationPaths);
        Assert.Null(analyzed.DeclarationPaths.PathOf(c.Topology!.Nodes[0].Span));
        // A file that could not be read has no tree either.
        Assert.Null(SwarmCompiler.Compile("bad.swarm.yaml", "nodes: [").DeclarationPaths.PathOf(SourceSpan.At("bad.swarm.yaml", 1, 1)));
    }

    [Fact]
    public void Raw_rules_are_indexed_inside_their_rules_entries()
    {
        const string yaml = """
            version: 1
            name: r
            nodes:
              m: { address: 10.1.1.10/24 }
            rules:
              - { chain: INPUT, rule: "-p icmp -j ACCEPT" }
              - chain: INPUT
                rule: "-p udp -j ACCEPT"
            """;
        var c = SwarmCompiler.Compile("r.swarm.yaml", yaml);
        // A raw rule is located at its text (where iptables' complaint would point), inside the entry rule comments name.
        Assert.Equal(new[] { "rules[0].rule", "rules[1].rule" }, c.Topology!.Rules.Select(r => c.DeclarationPaths.PathOf(r.Span)));
    }
}
