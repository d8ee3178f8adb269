using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// Emits <c>CompiledNetfilter</c>: the netfilter control flow of a plan as C# (an <c>ICompiledNetfilter</c> of
/// SwarmDsl.Runtime). One method per (host, namespace, table, chain); each rule is an <c>if</c> over constants with its
/// iptables text and YAML location above it; jumps are calls, RETURN and the end of a chain return
/// <c>ChainResult.Continue</c>, a base chain's caller applies the policy. Targets and stateful matches (addrtype,
/// conntrack, statistic) call back into the interpreter through <c>NetfilterContext</c>, so their semantics and trace
/// steps are the interpreter's. A pure function of the plan; it uses no Roslyn types (tests link it directly).
/// </summary>
internal static class NetfilterEmitter
{
    /// <summary>
    /// <c>MethodImplOptions.AggressiveOptimization</c> (512, cast because netstandard2.0 does not name it), above every
    /// method a packet runs: jitted optimised on first use instead of tier 0 first. Tier-1 promotion waits for the
    /// background JIT, which a large pipeline's hundreds of big methods kept busy for longer than a benchmark run: the
    /// out-of-process `LargeTopology` ran tier-0 code at 6.3 µs a packet (1.2 µs with tiering off).
    /// </summary>
    internal const string Optimized = "[global::System.Runtime.CompilerServices.MethodImpl((global::System.Runtime.CompilerServices.MethodImplOptions)512)]";

    /// <summary>
    /// <c>MethodImplOptions.NoOptimization</c> above the lookups by name that attaching calls once per namespace: switches
    /// over every namespace of the compiled nodes, thousands of cases, whose tier-1 recompilation (called more than 30
    /// times) held up the background JIT for seconds while the hot methods waited. Speed is irrelevant there.
    /// </summary>
    /// <summary>The comment that says, once per generated class, what the two <c>MethodImpl</c> attributes are for.</summary>
    internal const string JitNote = "// [MethodImpl(512)] = AggressiveOptimization on what a packet runs (optimised at first call, not after tier 0); NoOptimization on the lookups by name attaching calls once per namespace (no tier-1 recompilation of their large switches).";

    internal const string Unoptimized = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.NoOptimization)]";

    private const string Rt = "global::SwarmDsl.Runtime.Netfilter.";

    /// <summary>The nested class source (no namespace, no usings), indented for the writer's current level.</summary>
    /// <param name="w">The writer.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="className">The class name.</param>
    /// <param name="publicType">Public (a library of its own) or internal (nested in a topology class).</param>
    /// <param name="attributeLine">An attribute line written after the class's docs (<c>[GeneratedCode]</c>), or null.</param>
    /// <param name="nodes">The nodes to compile (the others' tables stay interpreted), or null for every node.</param>
    public static void Write(SourceWriter w, DataplanePlan plan, string className, bool publicType, string? attributeLine = null, ISet<string>? nodes = null)
    {
        // Identical tables (the same rules in many namespaces: every host's DOCKER-INGRESS, every task of a service) share
        // one compiled class: the code is a function of the table alone, and a large topology repeats its tables per node.
        var distinct = new List<(string Node, string Ns, NetfilterTable Table, string Type)>();
        var byContent = new Dictionary<NetfilterTable, int>();
        var entries = new List<(string Key, int Class)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var host in plan.Hosts)
        {
            if (nodes is not null && !nodes.Contains(host.Node)) continue;
            foreach (var ns in host.Namespaces)
                foreach (var t in ns.Tables)
                {
                    if (!byContent.TryGetValue(t, out var index))
                    {
                        index = distinct.Count;
                        byContent[t] = index;
                        distinct.Add((host.Node, ns.Name, t, Unique(used, "T_" + Ident(host.Node) + "_" + Ident(ns.Name) + "_" + Ident(t.Name))));
                    }
                    entries.Add((host.Node + "/" + ns.Name + "/" + t.Name, index));
                }
        }
        var sharedBy = new int[distinct.Count];
        foreach (var e in entries) sharedBy[e.Class]++;

        w.WriteLine("/// <summary>");
        w.WriteLine("/// The plan's netfilter chains compiled to straight-line code: attach with <c>Cluster.AttachNetfilter(new " + className + "())</c>");
        w.WriteLine("/// on a simulation built from the same plan. Targets and stateful matches run the interpreter's code.");
        if (nodes is not null)
            w.WriteLine("/// Compiled for " + Xml(string.Join(", ", nodes.OrderBy(n => n, StringComparer.Ordinal))) + " only (SwarmDslPipelineNodes): every other node's tables stay interpreted.");
        w.WriteLine("/// </summary>");
        if (attributeLine is not null) w.WriteLine(attributeLine);
        using (w.Block((publicType ? "public" : "internal") + " sealed class " + className + " : " + Rt + "ICompiledNetfilter"))
        {
            w.WriteLine(JitNote);
            w.WriteLine("/// <summary>The fingerprint of the plan this code was generated from (<c>AttachNetfilter</c> refuses any other plan).</summary>");
            w.WriteLine("public const string Fingerprint = " + Lit(PlanFingerprint.Compute(plan)) + ";");
            w.WriteLine();
            w.WriteLine("/// <inheritdoc />");
            w.WriteLine("public string PlanFingerprint => Fingerprint;");
            w.WriteLine();
            w.WriteLine("/// <inheritdoc />");
            w.WriteLine(Unoptimized);
            using (w.Block("public " + Rt + "CompiledTableEntry? Table(string node, string namespaceName, string table)"))
            {
                using (w.Block("switch (node + \"/\" + namespaceName + \"/\" + table)"))
                {
                    foreach (var (key, index) in entries)
                        w.WriteLine("case " + Lit(key) + ": return " + distinct[index].Type + ".Run;");
                    w.WriteLine("default: return null;");
                }
            }
            for (int i = 0; i < distinct.Count; i++)
            {
                var (node, ns, table, type) = distinct[i];
                w.WriteLine();
                WriteTable(w, node, ns, table, type, sharedBy[i]);
            }
        }
    }

    private static void WriteTable(SourceWriter w, string node, string ns, NetfilterTable table, string type, int sharedBy)
    {
        var methods = new string[table.Chains.Count];
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        var methodNames = new HashSet<string>(StringComparer.Ordinal) { "Run" };
        for (int i = 0; i < methods.Length; i++)
        {
            methods[i] = Unique(methodNames, "C" + i.ToString(CultureInfo.InvariantCulture) + "_" + Ident(table.Chains[i].Name));
            byName[table.Chains[i].Name] = i;
        }
        // The interpreter's hook → base chain: the last built-in chain with the hook's name.
        var hooks = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < methods.Length; i++)
            if (table.Chains[i].BuiltIn && HookMember(table.Chains[i].Name) is { } hook) hooks[hook] = i;

        w.WriteLine("/// <summary>" + Xml(node + "/" + ns) + ": table <c>" + Xml(table.Name) + "</c>"
            + (sharedBy > 1 ? " (also serves " + (sharedBy - 1).ToString(CultureInfo.InvariantCulture) + (sharedBy == 2 ? " other namespace" : " other namespaces") + " with the very same rules)" : "") + ".</summary>");
        using (w.Block("private static class " + type))
        {
            w.WriteLine(Optimized);
            using (w.Block("internal static " + Rt + "ChainResult Run(" + Rt + "NetfilterContext ctx, " + Rt + "NetfilterHook hook)"))
            {
                foreach (var kv in hooks)
                {
                    using (w.Block("if (hook == " + Rt + "NetfilterHook." + kv.Key + ")"))
                    {
                        w.WriteLine("var v = " + methods[kv.Value] + "(ctx, 0);");
                        w.WriteLine("return v == " + Rt + "ChainResult.Continue ? ctx.Policy() : v;");
                    }
                }
                w.WriteLine("return " + Rt + "ChainResult.Accept;");
            }
            for (int i = 0; i < methods.Length; i++)
            {
                w.WriteLine();
                WriteChain(w, table.Chains[i], i, methods, byName);
            }
        }
    }

    /// <summary>
    /// At least this many consecutive rules keyed by one (protocol, port) become a dispatch on the packet's ports: Docker's
    /// per-published-port chains (DOCKER-INGRESS, ingress_sbox's mangle PREROUTING) hold one or two rules per port.
    /// </summary>
    internal const int MinKeyedRun = 8;

    /// <summary>One emitted rule: its plan index, the C# condition (empty: always) and body.</summary>
    private sealed class RuleCode
    {
        public RuleCode(int index, NetfilterRule rule, string condition, string body, RuleKey? key)
        {
            Index = index;
            Rule = rule;
            Condition = condition;
            Body = body;
            Key = key;
        }

        public int Index { get; }
        public NetfilterRule Rule { get; }
        public string Condition { get; }
        public string Body { get; }
        public RuleKey? Key { get; }
    }

    /// <summary>
    /// What a rule needs on one side of the packet: a single (protocol, port), or a single address (<c>-d 10.255.0.5/32</c>):
    /// the rule cannot match a packet that differs there. <see cref="Value"/> is <c>protocol &lt;&lt; 16 | port</c> or the address.
    /// </summary>
    private sealed record RuleKey(bool Address, bool Source, uint Value);

    private static void WriteChain(SourceWriter w, NetfilterChain chain, int index, string[] methods, Dictionary<string, int> byName)
    {
        string ci = index.ToString(CultureInfo.InvariantCulture);
        var code = new List<RuleCode>();
        bool reachable = true;
        for (int r = 0; r < chain.Rules.Count && reachable; r++)
        {
            var rule = chain.Rules[r];
            int jumpTo = -1;
            if (rule.Target is JumpTarget j && !byName.TryGetValue(j.Chain, out jumpTo)) continue; // the interpreter drops it too
            if (rule.Target is GotoTarget g && !byName.TryGetValue(g.Chain, out jumpTo)) continue;
            string ri = r.ToString(CultureInfo.InvariantCulture);
            string? body = rule.Target switch
            {
                AcceptTarget or DropTarget or RejectTarget or DnatTarget or SnatTarget or MasqueradeTarget or RedirectTarget
                    => "return ctx.Target(" + ci + ", " + ri + ");",
                MarkTarget or LogTarget or TraceTarget => "ctx.Target(" + ci + ", " + ri + ");",
                ReturnTarget => "ctx.Return(" + ci + ", " + ri + "); return " + Rt + "ChainResult.Continue;",
                JumpTarget => "if (!ctx.Jump(" + ci + ", " + ri + ", depth)) return " + Rt + "ChainResult.ChainLoop; var v = " + methods[jumpTo] + "(ctx, depth + 1); if (v != " + Rt + "ChainResult.Continue) return v;",
                GotoTarget => "ctx.Goto(" + ci + ", " + ri + "); return " + methods[jumpTo] + "(ctx, depth);",
                _ => null,
            };
            if (body is null) continue;
            var cond = Condition(rule, ci, ri);
            bool terminal = rule.Target is not (MarkTarget or LogTarget or TraceTarget or JumpTarget);
            code.Add(new RuleCode(r, rule, cond, body, KeyOf(rule)));
            if (cond.Length == 0 && terminal) reachable = false; // later rules are dead, as in the kernel
        }

        var lookups = new List<(string Name, List<RuleCode> Run)>();
        w.WriteLine("// chain " + Comment(chain.Name) + (chain.BuiltIn ? " (built-in, policy " + (chain.Policy == Verdict.Drop ? "DROP" : "ACCEPT") + ")" : ""));
        w.WriteLine(Optimized);
        using (w.Block("private static " + Rt + "ChainResult " + methods[index] + "(" + Rt + "NetfilterContext ctx, int depth)"))
        {
            for (int i = 0; i < code.Count;)
            {
                int end = i;
                while (end < code.Count && code[end].Key is { } key && key.Address == code[i].Key!.Address) end++;
                if (end - i >= MinKeyedRun)
                {
                    var run = code.GetRange(i, end - i);
                    var name = (run[0].Key!.Address ? "A" : "K") + ci + "_" + run[0].Index.ToString(CultureInfo.InvariantCulture);
                    lookups.Add((name, run));
                    if (run[0].Key!.Address) WriteAddressKeyedRun(w, chain, run, name);
                    else WriteKeyedRun(w, chain, run, name);
                    i = end;
                    continue;
                }
                WriteRule(w, chain, code[i]);
                i++;
            }
            if (reachable) w.WriteLine("return " + Rt + "ChainResult.Continue;");
        }
        foreach (var (name, run) in lookups) WriteKeyLookups(w, run, name);
    }

    private static void WriteRule(SourceWriter w, NetfilterChain chain, RuleCode rule)
    {
        w.WriteLine("// " + Comment(IptablesSyntax.Format(rule.Rule, chain.Name, null)));
        w.WriteLine("// " + Comment(rule.Rule.Span.ToShortString() + (rule.Rule.Origin.Length > 0 ? " (" + rule.Rule.Origin + ")" : "")));
        if (rule.Condition.Length == 0)
        {
            using (w.Block()) w.WriteLine(rule.Body);
        }
        else
        {
            using (w.Block("if (" + rule.Condition + ")")) w.WriteLine(rule.Body);
        }
    }

    /// <summary>
    /// A run of rules that each need one (protocol, port): the packet's ports select the few that can match (static lists in
    /// chain order, destination-port and source-port ones merged by rule number), and only those are tried, each with its
    /// whole condition. First match wins exactly as in the chain: a rule left out could not have matched, and its
    /// condition had no side effect before the port test (no stateful match precedes the key, see <see cref="KeyOf"/>).
    /// </summary>
    private static void WriteKeyedRun(SourceWriter w, NetfilterChain chain, List<RuleCode> run, string name)
    {
        w.WriteLine(string.Format(CultureInfo.InvariantCulture, "// Rules {0} to {1} of {2} ({3} rules), each for one (protocol, port): only the rules for this packet's ports are tried, in chain order.",
            run[0].Index + 1, run[run.Count - 1].Index + 1, Comment(chain.Name), run.Count));
        bool hasSource = run.Exists(r => r.Key!.Source), hasDestination = run.Exists(r => !r.Key!.Source);
        using (w.Block("if (ctx.HasPorts)"))
        {
            w.WriteLine("int proto = (int)(byte)ctx.Protocol << 16;");
            w.WriteLine("var byDestination = " + (hasDestination ? name + "_Destination(proto | ctx.DestinationPort)" : "global::System.Array.Empty<int>()") + ";");
            w.WriteLine("var bySource = " + (hasSource ? name + "_Source(proto | ctx.SourcePort)" : "global::System.Array.Empty<int>()") + ";");
            WriteMergedRules(w, chain, run);
        }
    }

    /// <summary>
    /// A run of rules that each need one exact address (a service VIP's <c>-d VIP/32 -j MARK</c> in ingress_sbox and the
    /// load-balancer namespaces, one rule per service): the packet's addresses select the rules that can match, as
    /// <see cref="WriteKeyedRun"/> does with ports.
    /// </summary>
    private static void WriteAddressKeyedRun(SourceWriter w, NetfilterChain chain, List<RuleCode> run, string name)
    {
        w.WriteLine(string.Format(CultureInfo.InvariantCulture, "// Rules {0} to {1} of {2} ({3} rules), each for one address: only the rules for this packet's addresses are tried, in chain order.",
            run[0].Index + 1, run[run.Count - 1].Index + 1, Comment(chain.Name), run.Count));
        bool hasSource = run.Exists(r => r.Key!.Source), hasDestination = run.Exists(r => !r.Key!.Source);
        using (w.Block())
        {
            w.WriteLine("var byDestination = " + (hasDestination ? name + "_Destination(ctx.Destination)" : "global::System.Array.Empty<int>()") + ";");
            w.WriteLine("var bySource = " + (hasSource ? name + "_Source(ctx.Source)" : "global::System.Array.Empty<int>()") + ";");
            WriteMergedRules(w, chain, run);
        }
    }

    /// <summary>The selected rules of a keyed run, destination- and source-keyed lists merged by rule number, each with its whole condition.</summary>
    private static void WriteMergedRules(SourceWriter w, NetfilterChain chain, List<RuleCode> run)
    {
        using (w.Block("for (int d = 0, s = 0; d < byDestination.Length || s < bySource.Length;)"))
        {
            w.WriteLine("int rule = s >= bySource.Length || (d < byDestination.Length && byDestination[d] < bySource[s]) ? byDestination[d++] : bySource[s++];");
            using (w.Block("switch (rule)"))
            {
                foreach (var r in run)
                {
                    w.WriteLine("case " + r.Index.ToString(CultureInfo.InvariantCulture) + ":");
                    using (w.Block())
                    {
                        WriteRule(w, chain, r);
                        w.WriteLine("break;");
                    }
                }
            }
        }
    }

    private static void WriteKeyLookups(SourceWriter w, List<RuleCode> run, string name)
    {
        foreach (bool source in new[] { false, true })
        {
            var groups = new SortedDictionary<uint, List<int>>();
            foreach (var r in run)
            {
                if (r.Key!.Source != source) continue;
                if (!groups.TryGetValue(r.Key.Value, out var list)) groups[r.Key.Value] = list = new List<int>();
                list.Add(r.Index);
            }
            if (groups.Count == 0) continue;
            bool address = run[0].Key!.Address;
            string side = source ? "Source" : "Destination";
            w.WriteLine();
            w.WriteLine("// The rules of " + name + " keyed by " + (address ? "the " + side.ToLowerInvariant() + " address" : "(protocol << 16 | " + side.ToLowerInvariant() + " port)") + ", in chain order.");
            w.WriteLine(Optimized);
            using (w.Block("private static int[] " + name + "_" + side + "(" + (address ? "uint" : "int") + " key)"))
            {
                using (w.Block("switch (key)"))
                {
                    foreach (var kv in groups)
                    {
                        string label = address ? new Ipv4Address(kv.Key).ToString() : ((IpProtocol)(byte)(kv.Key >> 16)).Name() + " " + (kv.Key & 0xFFFF).ToString(CultureInfo.InvariantCulture);
                        w.WriteLine("case " + (address ? Hex(kv.Key) : kv.Key.ToString(CultureInfo.InvariantCulture)) + ": return " + name + "_" + side + "_" + kv.Key.ToString(CultureInfo.InvariantCulture)
                            + "; // " + label);
                    }
                    w.WriteLine("default: return global::System.Array.Empty<int>();");
                }
            }
            foreach (var kv in groups)
            {
                var items = new StringBuilder();
                foreach (var i in kv.Value) items.Append(items.Length == 0 ? "" : ", ").Append(i.ToString(CultureInfo.InvariantCulture));
                w.WriteLine("private static readonly int[] " + name + "_" + side + "_" + kv.Key.ToString(CultureInfo.InvariantCulture) + " = { " + items + " };");
            }
        }
    }

    /// <summary>
    /// The (side, protocol, port) a rule needs: its first non-negated single-port match, provided every match before it is
    /// stateless (protocol, address, interface, port, multiport, mark, ipvs, icmp type). A stateful match (statistic counts
    /// evaluations) before it would be evaluated by the chain even for other ports, so such a rule is not keyed.
    /// </summary>
    /// <remarks>Without a single-port match, the first non-negated single address (<c>/32</c>) keys the rule, on the same terms.</remarks>
    private static RuleKey? KeyOf(NetfilterRule rule)
    {
        RuleKey? address = null;
        foreach (var match in rule.Matches)
        {
            switch (match)
            {
                case PortMatch pm when !pm.Negated && pm.From == pm.To:
                    return new RuleKey(false, pm.Direction == Direction.Source, ((uint)(byte)pm.Protocol << 16) | (uint)pm.From);
                case AddressMatch am when !am.Negated && am.Prefix.PrefixLength == 32:
                    address ??= new RuleKey(true, am.Direction == Direction.Source, am.Prefix.Network.Value);
                    continue;
                case ProtocolMatch or AddressMatch or InterfaceMatch or PortMatch or MultiportMatch or MarkMatch or IpvsMatch or IcmpTypeMatch:
                    continue;
                default:
                    return address;
            }
        }
        return address;
    }

    private static string Condition(NetfilterRule rule, string ci, string ri)
    {
        var parts = new List<string>();
        for (int m = 0; m < rule.Matches.Count; m++)
        {
            var match = rule.Matches[m];
            string e = match switch
            {
                ProtocolMatch p => "ctx.Protocol == " + Proto(p.Protocol),
                AddressMatch a => "(ctx." + (a.Direction == Direction.Source ? "Source" : "Destination") + " & " + Hex(a.Prefix.Mask) + ") == " + Hex(a.Prefix.Network.Value),
                InterfaceMatch i => Interface(i),
                PortMatch pm => "ctx.Protocol == " + Proto(pm.Protocol) + " && ctx.HasPorts && " + Range(pm.Direction == Direction.Source ? "ctx.SourcePort" : "ctx.DestinationPort", pm.From, pm.To),
                MultiportMatch mp => "ctx.HasPorts && (" + Ports(mp.Direction == Direction.Source ? "ctx.SourcePort" : "ctx.DestinationPort", mp.Ports) + ")",
                MarkMatch mk => "(ctx.Mark & " + Hex(mk.Mask) + ") == " + Hex(mk.Value),
                IpvsMatch => "ctx.IpvsProperty",
                IcmpTypeMatch it => "ctx.Protocol == " + Proto(IpProtocol.Icmp) + " && ctx.IcmpType == " + it.Type.ToString(CultureInfo.InvariantCulture),
                // addrtype, conntrack, statistic: state lives in the namespace and the connection; the interpreter answers.
                _ => "ctx.Match(" + ci + ", " + ri + ", " + m.ToString(CultureInfo.InvariantCulture) + ")",
            };
            parts.Add(match.Negated ? "!(" + e + ")" : "(" + e + ")");
        }
        return string.Join(" && ", parts);
    }

    private static string Interface(InterfaceMatch i)
    {
        string dev = i.Input ? "ctx.InInterface" : "ctx.OutInterface";
        return i.Interface.EndsWith("+", StringComparison.Ordinal)
            ? dev + ".StartsWith(" + Lit(i.Interface.Substring(0, i.Interface.Length - 1)) + ", global::System.StringComparison.Ordinal)"
            : dev + " == " + Lit(i.Interface);
    }

    private static string Range(string port, int from, int to) => from == to
        ? port + " == " + from.ToString(CultureInfo.InvariantCulture)
        : port + " >= " + from.ToString(CultureInfo.InvariantCulture) + " && " + port + " <= " + to.ToString(CultureInfo.InvariantCulture);

    private static string Ports(string port, EquatableArray<int> ports)
    {
        if (ports.Count == 0) return "false";
        var sb = new StringBuilder();
        for (int k = 0; k < ports.Count; k++)
            sb.Append(k == 0 ? "" : " || ").Append(port).Append(" == ").Append(ports[k].ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    private static string Proto(IpProtocol p) => "(global::SwarmDsl.Net.IpProtocol)" + ((byte)p).ToString(CultureInfo.InvariantCulture);

    internal static string Hex(uint v) => "0x" + v.ToString("X8", CultureInfo.InvariantCulture) + "u";

    private static string? HookMember(string chain) => chain switch
    {
        "PREROUTING" => "Prerouting",
        "INPUT" => "Input",
        "FORWARD" => "Forward",
        "OUTPUT" => "Output",
        "POSTROUTING" => "Postrouting",
        _ => null,
    };

    private static string Unique(HashSet<string> used, string name)
    {
        string candidate = name;
        for (int n = 2; !used.Add(candidate); n++) candidate = name + "_" + n.ToString(CultureInfo.InvariantCulture);
        return candidate;
    }

    /// <summary>A C# identifier fragment: letters and digits kept, everything else '_'.</summary>
    private static string Ident(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text) sb.Append(c < 128 && char.IsLetterOrDigit(c) ? c : '_');
        return sb.ToString();
    }

    /// <summary>A C# string literal with every non-printable or non-ASCII character escaped.</summary>
    internal static string Lit(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (c < 0x20 || c > 0x7E) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    // Every line break C# knows (U+2028 in a file name ended the comment), as every emitter writes comments.
    private static string Comment(string text) => SourceWriter.CommentText(text);

    internal static string Xml(string text) => SourceWriter.CommentText(text).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
