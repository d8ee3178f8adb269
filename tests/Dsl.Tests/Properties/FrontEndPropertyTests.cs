using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using SwarmDsl.Semantics;
using SwarmDsl.Syntax;

namespace SwarmDsl.Tests.Properties;

/// <summary>
/// Mutates valid topologies in every way a user (or an attacker) could and proves the front end never throws and always ends in
/// either a topology or at least one located error; and that compiling is deterministic.
/// </summary>
public class FrontEndPropertyTests
{
    private const string File = "m.swarm.yaml";
    private const long Iterations = 1000;

    private static readonly string[] Sources =
    {
        System.IO.File.ReadAllText(Paths.Example),
        System.IO.File.ReadAllText(TestInput.ThreeNodePath),
    };

    // ---- generators ------------------------------------------------------------------------------------------------

    private static readonly string[] InterestingScalars =
    {
        "", "0", "-1", "1", "4096", "65535", "65536", "2147483647", "2147483648", "-2147483649", "9223372036854775808",
        "99999999999999999999999999", "1e309", "-0", "+7", "0x10", "0o17", "1_000", ".inf", "-.nan", "3.5",
        "true", "false", "yes", "no", "null", "~", "True",
        "10.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "255.255.255.255/32", "10.255.0.4", "10.255.0.5", "10.255.0.0/16", "172.18.0.0/16",
        "10.7.191.10/24", "1.2.3", "01.2.3.4", "256.1.1.1", "10.0.0.1/33",
        "manager", "worker", "web", "ingress", "docker_gwbridge", "overlay", "bridge", "host", "udp", "sctp", "icmp", "dnsrr",
        "global", "replicated", "wrr", "external", "manager:8080/tcp", "web.1", "manager/ingress_sbox",
        "Ωmega", "名前", "emoji 🎉", "a\tb", "a\nb", "$(reboot)", "`id`", "'; rm -rf / #", "a b", "-", "*", "&", "!", "%", "@", "|", ">",
        "[", "{", "}", "#", ":", "- x", "? x", new string('x', 300), "\u0000", "\u202e", "\ud800", "\ufeff", "\r",
    };

    private static readonly Gen<string> Scalar = Gen.Frequency(
        (6, Gen.OneOfConst(InterestingScalars)),
        (2, Gen.String[0, 20]),
        (1, Gen.Long.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        (1, Gen.Char['a', 'z'].Array[1, 8].Select(a => new string(a))));

    /// <summary>A structural mutation: Kind picks what, Target and Arg pick where (modulo the tree's size).</summary>
    public sealed record TreeOp(int Kind, int Target, int Arg, string Text, bool Plain);

    /// <summary>A mutation of the rendered text.</summary>
    public sealed record TextOp(int Kind, int Position, string Text);

    private static readonly Gen<TreeOp> GenTreeOp = Gen.Select(Gen.Int[0, 10], Gen.Int[0, 100000], Gen.Int[0, 100000], Scalar, Gen.Bool,
        (k, t, a, s, p) => new TreeOp(k, t, a, s, p));

    private static readonly Gen<TextOp> GenTextOp = Gen.Select(Gen.Int[0, 8], Gen.Int[0, 100000], Gen.Frequency(
        (3, Scalar),
        (1, Gen.Byte.Array[1, 12].Select(b => Encoding.Latin1.GetString(b))),
        (1, Gen.Char.Array[1, 12].Select(c => new string(c)))),
        (k, p, s) => new TextOp(k, p, s));

    private static readonly Gen<(int Source, TreeOp[] Tree, TextOp[] Text)> GenMutation =
        Gen.Select(Gen.Int[0, Sources.Length - 1], GenTreeOp.Array[0, 4], GenTextOp.Array[0, 2]);

    // ---- mutations ---------------------------------------------------------------------------------------------------

    private static string Apply((int Source, TreeOp[] Tree, TextOp[] Text) m)
    {
        var root = YNode.FromYaml(Sources[m.Source]);
        foreach (var op in m.Tree) ApplyTree(root, op);
        var text = root.Render();
        foreach (var op in m.Text) text = ApplyText(text, op);
        return text;
    }

    private static void ApplyTree(YNode root, TreeOp op)
    {
        var nodes = root.Walk().ToList();
        var (node, _) = nodes[op.Target % nodes.Count];
        var maps = nodes.Select(n => n.Node).OfType<YMap>().Where(x => x.Entries.Count > 0).ToList();
        var scalars = nodes.Select(n => n.Node).OfType<YScalar>().ToList();
        var lists = nodes.Select(n => n.Node).OfType<YList>().ToList();
        switch (op.Kind)
        {
            case 0 when maps.Count > 0: // delete a key
            {
                var map = maps[op.Target % maps.Count];
                map.Entries.RemoveAt(op.Arg % map.Entries.Count);
                break;
            }
            case 1 when maps.Count > 0: // duplicate a key
            {
                var map = maps[op.Target % maps.Count];
                var e = map.Entries[op.Arg % map.Entries.Count];
                map.Entries.Insert(op.Arg % (map.Entries.Count + 1), ((YScalar)e.Key.Clone(), e.Value.Clone()));
                break;
            }
            case 2 when node != root: // retype a value
            {
                YNode replacement = node switch
                {
                    YScalar s => op.Arg % 2 == 0 ? new YList(new List<YNode> { s }) : new YMap(new() { (new YScalar("x", true), s) }),
                    YMap mp => op.Arg % 2 == 0 ? new YScalar(op.Text, op.Plain) : new YList(mp.Entries.Select(x => x.Value).ToList()),
                    YList l => op.Arg % 2 == 0 ? new YScalar(op.Text, op.Plain) : new YMap(l.Items.Select((x, i) => (new YScalar("k" + i, true), x)).ToList()),
                    _ => new YScalar(op.Text, op.Plain),
                };
                root.Replace(node, replacement);
                break;
            }
            case 3 when scalars.Count > 0: // a random scalar where a scalar was
                root.Replace(scalars[op.Target % scalars.Count], new YScalar(op.Text, op.Plain));
                break;
            case 4 when maps.Count > 0: // rename a key (misspelling or junk)
            {
                var map = maps[op.Target % maps.Count];
                int i = op.Arg % map.Entries.Count;
                var key = map.Entries[i].Key.Value;
                var renamed = op.Plain && key.Length > 1 ? key.Remove(op.Arg % key.Length, 1) : op.Text;
                map.Entries[i] = (new YScalar(renamed, true), map.Entries[i].Value);
                break;
            }
            case 5 when maps.Count > 0: // add a key
            {
                var map = maps[op.Target % maps.Count];
                map.Entries.Insert(op.Arg % (map.Entries.Count + 1), (new YScalar(op.Plain ? op.Text : "extra", true), new YScalar(op.Text, !op.Plain)));
                break;
            }
            case 6 when node != root: // deep nesting
            {
                YNode deep = new YScalar(op.Text, op.Plain);
                for (int i = 0; i < op.Arg % 120; i++)
                    deep = i % 2 == 0 ? new YList(new List<YNode> { deep }) : new YMap(new() { (new YScalar("n", true), deep) });
                root.Replace(node, deep);
                break;
            }
            case 7 when nodes.Count > 2: // anchor one node, alias it somewhere else (possibly before the anchor, or itself)
            {
                var (target, _) = nodes[op.Arg % nodes.Count];
                if (target == root) break;
                target.Anchor = "a" + (op.Target % 3);
                var (place, _) = nodes[(op.Target / 3) % nodes.Count];
                if (place != root) root.Replace(place, new YAlias("a" + (op.Arg % 4)));
                break;
            }
            case 8 when lists.Count > 0: // empty or grow a list
            {
                var list = lists[op.Target % lists.Count];
                if (op.Arg % 2 == 0) list.Items.Clear();
                else if (list.Items.Count > 0) for (int i = 0; i < op.Arg % 5; i++) list.Items.Add(list.Items[0].Clone());
                break;
            }
            case 9 when maps.Count > 0: // reorder a mapping
            {
                var map = maps[op.Target % maps.Count];
                if (map.Entries.Count > 1)
                {
                    var e = map.Entries[0];
                    map.Entries.RemoveAt(0);
                    map.Entries.Insert(op.Arg % (map.Entries.Count + 1), e);
                }
                break;
            }
            default: // a huge or odd number somewhere
                if (scalars.Count > 0)
                    root.Replace(scalars[op.Target % scalars.Count], new YScalar(op.Arg % 2 == 0 ? "99999999999999999999" : "-" + op.Arg.ToString(System.Globalization.CultureInfo.InvariantCulture), true));
                break;
        }
    }

    private static string ApplyText(string text, TextOp op)
    {
        int pos = text.Length == 0 ? 0 : op.Position % (text.Length + 1);
        var lines = text.Split('\n').ToList();
        int line = op.Position % lines.Count;
        switch (op.Kind)
        {
            case 0: return text.Substring(0, pos); // truncation
            case 1: return text.Insert(pos, op.Text); // random text or bytes
            case 2: lines[line] = "\t" + lines[line]; return string.Join("\n", lines); // a tab in the indentation
            case 3: lines.RemoveAt(line); return string.Join("\n", lines);
            case 4: lines.Insert(line, lines[line]); return string.Join("\n", lines);
            case 5: return pos < text.Length ? text.Remove(pos, 1).Insert(pos, op.Text.Length > 0 ? op.Text.Substring(0, 1) : "") : text;
            case 6: return "\ufeff" + text;
            case 7: return text.Insert(pos, new string('[', op.Position % 200) + new string('{', op.Position % 7));
            default: return text.Replace("\n", "\r\n");
        }
    }

    // ---- the properties ------------------------------------------------------------------------------------------------

    /// <summary>Compiles and checks every promise of the front end; returns the result for further checks.</summary>
    private static CompilationResult AssertWellBehaved(string yaml)
    {
        CompilationResult result;
        try
        {
            result = SwarmCompiler.Compile(File, yaml);
        }
        catch (Exception ex)
        {
            throw new Xunit.Sdk.XunitException($"the compiler threw {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}");
        }
        int lineCount = LineCount(yaml);
        foreach (var d in result.Diagnostics)
        {
            if (d.Span.File != File || d.Span.StartLine < 1 || d.Span.StartColumn < 1 || d.Span.StartLine > lineCount + 1)
                throw new Xunit.Sdk.XunitException($"badly located diagnostic ({lineCount} lines): {d}");
            if (d.Message.Length == 0 || d.Message.Any(c => c is '\n' or '\r') || d.Message.Any(char.IsControl))
                throw new Xunit.Sdk.XunitException($"a message must be one printable line: {d}");
        }
        if (result.Topology is null)
        {
            if (!result.Diagnostics.Any(d => d.IsError)) throw new Xunit.Sdk.XunitException("no topology and no error");
        }
        else
        {
            if (result.HasErrors) throw new Xunit.Sdk.XunitException("a topology despite errors");
            _ = TopologyDump.Render(result.Topology);
        }
        return result;
    }

    /// <summary>Lines as YAML (and YamlDotNet) count them: \n, \r\n, a lone \r, NEL, LS and PS each end a line.</summary>
    private static int LineCount(string text)
    {
        int lines = 1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') continue;
            if (c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029') lines++;
        }
        return lines;
    }

    private static string Describe(string yaml) => "---- input ----\n" + yaml + "\n---- end ----";

    [Fact]
    public void Mutated_topologies_never_throw_and_always_end_in_a_topology_or_a_located_error()
    {
        GenMutation.Select(Apply).Sample(yaml => { AssertWellBehaved(yaml); }, iter: Iterations, threads: 1, print: Describe);
    }

    [Fact]
    public void Mutated_topologies_compile_deterministically()
    {
        GenMutation.Select(Apply).Sample(yaml =>
        {
            var a = AssertWellBehaved(yaml);
            var b = SwarmCompiler.Compile(File, yaml);
            Assert.Equal(a.Diagnostics, b.Diagnostics);
            Assert.Equal(a.Topology is null, b.Topology is null);
            if (a.Topology is not null)
            {
                Assert.Equal(a.Topology, b.Topology);
                Assert.Equal(TopologyDump.Render(a.Topology), TopologyDump.Render(b.Topology!));
            }
        }, iter: 300, threads: 1, print: Describe);
    }

    [Fact]
    public void Random_text_never_throws()
    {
        Gen.String[0, 400].Sample(text => { AssertWellBehaved(text); }, iter: Iterations, threads: 1, print: Describe);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        Gen.Byte.Array[0, 400].Select(b => Encoding.UTF8.GetString(b)).Sample(text => { AssertWellBehaved(text); }, iter: Iterations, threads: 1, print: Describe);
    }

    [Fact]
    public void Truncating_the_example_anywhere_never_throws()
    {
        // Exhaustive rather than random: every prefix of the example.
        var example = Sources[0];
        for (int i = 0; i <= example.Length; i++) AssertWellBehaved(example.Substring(0, i));
    }

    [Fact]
    public void Some_mutations_still_compile_and_some_fail()
    {
        // Guards the generator itself: if every mutation failed to parse, the properties above would prove little.
        var pcg = new PCG(1, 20260101);
        var results = Enumerable.Range(0, 300).Select(_ => GenMutation.Select(Apply).Generate(pcg, null, out Size _)).Select(y => SwarmCompiler.Compile(File, y)).ToList();
        Assert.Contains(results, r => r.Topology is not null);
        Assert.Contains(results, r => r.HasErrors && r.Diagnostics.Any(d => d.Id != "SWARM0001"));
        Assert.Contains(results, r => r.Diagnostics.Any(d => d.Id == "SWARM0001"));
    }

    // ---- hostile inputs --------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(100_000)]
    [InlineData(65)]
    public void Deep_flow_nesting_is_refused_without_exhausting_the_stack(int depth)
    {
        var r = AssertWellBehaved("version: 1\nname: t\nnodes: " + new string('[', depth) + new string(']', depth) + "\n");
        Assert.Contains(r.Diagnostics, d => d.Id == "SWARM0001" && d.Message.Contains("nesting deeper than 64", StringComparison.Ordinal));
    }

    [Fact]
    public void Deep_block_nesting_is_refused()
    {
        var sb = new StringBuilder("version: 1\nname: t\n");
        for (int i = 0; i < 500; i++) sb.Append(new string(' ', 2 * i)).Append("k:\n");
        var r = AssertWellBehaved(sb.ToString());
        Assert.Contains(r.Diagnostics, d => d.Id == "SWARM0001");
    }

    [Fact]
    public void Alias_bombs_stay_bounded()
    {
        // The "billion laughs": nine levels of ten aliases each. The tree shares nodes, and the binder never expands aliases
        // recursively, so this stays small and fast.
        var sb = new StringBuilder("x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 9; i++)
            sb.Append($"x{i}: &a{i} [").Append(string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))).Append("]\n");
        sb.Append("version: 1\nname: t\nnodes: { a: { address: 10.0.0.1/24 } }\nservices:\n  web:\n    networks: *a8\n");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = AssertWellBehaved(sb.ToString());
        watch.Stop();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        Assert.True(r.Diagnostics.Count < 100, $"{r.Diagnostics.Count} diagnostics");
    }

    [Fact]
    public void Anchors_and_aliases_of_valid_parts_work()
    {
        var yaml = System.IO.File.ReadAllText(Paths.Example)
            .Replace("    networks: [ingress]", "    networks: &nets [ingress]")
            .Replace("tuning:", "services2: *nets\ntuning:");
        var r = AssertWellBehaved(yaml);
        Assert.Contains(r.Diagnostics, d => d.Id == "SWARM0002" && d.Message.Contains("services2", StringComparison.Ordinal));
        var ok = AssertWellBehaved("version: 1\nname: t\nnodes:\n  a: &n { address: 10.0.0.1/24 }\nnetworks:\n  x: { driver: overlay, subnet: &s 10.1.0.0/24 }\nservices:\n  web: { networks: [x] }\n");
        Assert.NotNull(ok.Topology);
    }

    [Fact]
    public void A_thousand_services_compile_in_reasonable_time()
    {
        var sb = new StringBuilder("version: 1\nname: big\nnodes:\n");
        for (int i = 0; i < 10; i++) sb.Append($"  n{i}: {{ address: 10.7.0.{i + 1}/16 }}\n");
        sb.Append("networks:\n  app: { driver: overlay, subnet: 10.10.0.0/16 }\nservices:\n");
        for (int i = 0; i < 1000; i++) sb.Append($"  s{i}: {{ networks: [app], replicas: 2 }}\n");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = AssertWellBehaved(sb.ToString());
        watch.Stop();
        Assert.NotNull(r.Topology);
        Assert.Equal(2000, r.Topology!.Tasks.Count);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    // ---- determinism under reordering ---------------------------------------------------------------------------------

    /// <summary>Keys of these mappings are properties of one element: their order carries no meaning.</summary>
    private static bool IsElementBody(YMap map, YNode root)
    {
        if (map == root) return true;
        var known = LanguageKeys.ByElement.Values.SelectMany(k => k).ToHashSet(StringComparer.Ordinal);
        return map.Entries.Count > 0 && map.Entries.All(e => known.Contains(e.Key.Value));
    }

    private static readonly Regex Location = new(@" @\S+", RegexOptions.CultureInvariant);

    /// <summary>The dump without source locations (which move when keys move).</summary>
    private static string DerivedValues(Topology t) => Location.Replace(TopologyDump.Render(t), "");

    [Fact]
    public void Reordering_keys_inside_an_element_gives_the_same_derived_values()
    {
        Gen.Select(Gen.Int[0, Sources.Length - 1], Gen.Int.Array[1, 40]).Sample((source, shuffles) =>
        {
            var expected = SwarmCompiler.Compile(File, Sources[source]);
            Assert.NotNull(expected.Topology);
            var root = YNode.FromYaml(Sources[source]);
            var bodies = root.Walk().Select(n => n.Node).OfType<YMap>().Where(m => IsElementBody(m, root)).ToList();
            for (int i = 0; i < bodies.Count; i++)
            {
                var entries = bodies[i].Entries;
                // A Fisher–Yates shuffle driven by the generated numbers.
                for (int j = entries.Count - 1; j > 0; j--)
                {
                    int k = (int)((uint)shuffles[(i + j) % shuffles.Length] % (uint)(j + 1));
                    (entries[j], entries[k]) = (entries[k], entries[j]);
                }
            }
            var yaml = root.Render();
            var actual = SwarmCompiler.Compile(File, yaml);
            Assert.True(actual.Topology is not null, TestInput.Describe(actual) + "\n" + yaml);
            Assert.Equal(DerivedValues(expected.Topology!), DerivedValues(actual.Topology!));
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void The_renderer_round_trips_the_sources()
    {
        // The reordering property is only meaningful if rendering alone changes nothing.
        foreach (var source in Sources)
        {
            var direct = SwarmCompiler.Compile(File, source);
            var rendered = SwarmCompiler.Compile(File, YNode.FromYaml(source).Render());
            Assert.Empty(rendered.Diagnostics);
            Assert.Equal(DerivedValues(direct.Topology!), DerivedValues(rendered.Topology!));
        }
    }

    [Fact]
    public void Moving_tuning_above_nodes_keeps_the_sysctl_order()
    {
        var three = System.IO.File.ReadAllText(TestInput.ThreeNodePath);
        var root = (YMap)YNode.FromYaml(three);
        var tuning = root.Entries.Single(e => e.Key.Value == "tuning");
        root.Entries.Remove(tuning);
        root.Entries.Insert(0, tuning);
        var a = SwarmCompiler.Compile(File, three).Topology!;
        var b = SwarmCompiler.Compile(File, root.Render()).Topology!;
        Assert.Equal(a.Sysctls.Select(s => (s.Node, s.Key, s.Value)), b.Sysctls.Select(s => (s.Node, s.Key, s.Value)));
        Assert.Null(a.Sysctls[0].Node); // cluster-wide first, so a node's own value is applied last
    }
}
