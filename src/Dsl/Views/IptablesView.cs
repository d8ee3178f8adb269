using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>Which parts of <c>iptables -L</c> to print.</summary>
/// <param name="Verbose"><c>-v</c>: counters and interface columns.</param>
/// <param name="LineNumbers"><c>--line-numbers</c>.</param>
/// <param name="Exact"><c>-x</c>: exact counters instead of K/M/G units.</param>
public sealed record IptablesListFormat(bool Verbose, bool LineNumbers, bool Exact);

/// <summary>
/// The netfilter tables of one namespace as iptables 1.8.9 (nf_tables backend) prints them: <c>iptables -L -n</c>,
/// <c>iptables -S</c> and <c>iptables-save</c>. Like iptables-nft, every table lists all of its built-in chains (a missing one
/// shows as ACCEPT with no rules) and user chains sorted by name; <c>iptables-save</c> prints only the tables that exist, in
/// the backend's fixed order (mangle, security, raw, filter, nat).
/// </summary>
public static class IptablesView
{
    /// <summary>The tables iptables knows, in iptables-nft's order.</summary>
    public static IReadOnlyList<string> TableOrder { get; } = new[] { "mangle", "security", "raw", "filter", "nat" };

    /// <summary>The built-in chains of a table, in hook order; null for an unknown table.</summary>
    public static IReadOnlyList<string>? BuiltInChains(string table) => table switch
    {
        "filter" => new[] { "INPUT", "FORWARD", "OUTPUT" },
        "nat" => new[] { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" },
        "mangle" => new[] { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" },
        "raw" => new[] { "PREROUTING", "OUTPUT" },
        "security" => new[] { "INPUT", "FORWARD", "OUTPUT" },
        _ => null,
    };

    /// <summary>The comment the emitted rules carry (the emitter's marker, span and origin).</summary>
    public static string Comment(DataplanePlan plan, NetfilterRule rule) => Emit.RuleComments.For(plan.Topology, rule);

    /// <summary>A chain as iptables lists it: the plan's, or an empty ACCEPT built-in.</summary>
    internal sealed record ChainView(string Name, bool BuiltIn, Verdict Policy, IReadOnlyList<NetfilterRule> Rules);

    /// <summary>The chains of <paramref name="table"/> in listing order (built-ins in hook order, then user chains by name).</summary>
    internal static List<ChainView> Chains(NamespacePlan ns, string table)
    {
        var planTable = ns.Tables.FirstOrDefault(t => t.Name == table);
        var result = new List<ChainView>();
        foreach (var name in BuiltInChains(table) ?? Array.Empty<string>())
        {
            var c = planTable?.Chains.FirstOrDefault(x => x.Name == name);
            result.Add(new ChainView(name, true, c?.Policy ?? Verdict.Accept, c is null ? Array.Empty<NetfilterRule>() : c.Rules.ToList()));
        }
        if (planTable is not null)
            foreach (var c in planTable.Chains.Where(c => !c.BuiltIn).OrderBy(c => c.Name, StringComparer.Ordinal))
                result.Add(new ChainView(c.Name, false, Verdict.Accept, c.Rules.ToList()));
        return result;
    }

    /// <summary>
    /// The chains a listing command shows: all of <paramref name="table"/>, or only <paramref name="chain"/>. Returns null with
    /// <paramref name="error"/> set to iptables' own message when the table or chain does not exist.
    /// </summary>
    private static List<ChainView>? SelectChains(NamespacePlan ns, string table, string? chain, out string? error)
    {
        error = null;
        if (BuiltInChains(table) is null)
        {
            error = $"iptables v1.8.9 (nf_tables): table '{table}' does not exist";
            return null;
        }
        var chains = Chains(ns, table);
        if (chain is null) return chains;
        chains = chains.Where(c => c.Name == chain).ToList();
        if (chains.Count > 0) return chains;
        error = "iptables: No chain/target/match by that name.";
        return null;
    }

    /// <summary>
    /// <c>iptables [-t TABLE] -L [CHAIN] -n [-v] [--line-numbers] [-x]</c>. Returns null with <paramref name="error"/> set when
    /// the table or chain does not exist.
    /// </summary>
    public static string? List(DataplanePlan plan, HostPlan host, NamespacePlan ns, string table, string? chain, IptablesListFormat format,
        ShowOptions options, out string? error)
    {
        var chains = SelectChains(ns, table, chain, out error);
        if (chains is null) return null;
        var all = Chains(ns, table);
        var sb = new StringBuilder();
        bool first = true;
        foreach (var c in chains)
        {
            if (!first) sb.Append('\n');
            first = false;
            sb.Append("Chain ").Append(c.Name);
            if (c.BuiltIn)
            {
                sb.Append(" (policy ").Append(c.Policy == Verdict.Accept ? "ACCEPT" : "DROP");
                if (format.Verbose)
                {
                    var pc = options.State?.RuleCounters(host.Node, ns.Name, table, c.Name, -1) ?? default;
                    sb.Append(' ').Append(Number(pc.Packets, format, table: false)).Append("packets, ")
                      .Append(Number(pc.Bytes, format, table: false)).Append("bytes");
                }
                sb.Append(")\n");
            }
            else
            {
                var refs = all.Sum(x => x.Rules.Count(r => r.Target is JumpTarget j && j.Chain == c.Name || r.Target is GotoTarget g && g.Chain == c.Name));
                sb.Append(" (").Append(refs.ToString(CultureInfo.InvariantCulture)).Append(" references)\n");
            }
            AppendColumnHeader(sb, format);
            for (int i = 0; i < c.Rules.Count; i++)
            {
                var counters = format.Verbose ? options.State?.RuleCounters(host.Node, ns.Name, table, c.Name, i) ?? default : default;
                AppendRule(sb, plan, c.Rules[i], i + 1, counters, format);
            }
        }
        return sb.ToString();
    }

    private static void AppendColumnHeader(StringBuilder sb, IptablesListFormat format)
    {
        if (format.LineNumbers) sb.Append("num  ");
        if (format.Verbose) sb.Append(format.Exact ? "    pkts      bytes " : " pkts bytes ");
        sb.Append("target     prot opt ");
        if (format.Verbose) sb.Append("in     out     ");
        sb.Append("source               destination         \n");
    }

    /// <summary>xtables_print_num: right-aligned in a column, or with K/M/G/T units above 99999 unless exact.</summary>
    private static string Number(ulong n, IptablesListFormat format, bool table = true, int exactWidth = 8)
    {
        string text;
        if (format.Exact) text = n.ToString(CultureInfo.InvariantCulture);
        else if (n > 99999)
        {
            var units = new[] { "K", "M", "G", "T" };
            var u = 0;
            n = (n + 500) / 1000;
            while (n > 9999 && u < units.Length - 1)
            {
                n = (n + 500) / 1000;
                u++;
            }
            var s = n.ToString(CultureInfo.InvariantCulture);
            return (table ? s.PadLeft(4) : s) + units[u] + " ";
        }
        else text = n.ToString(CultureInfo.InvariantCulture);
        if (!table) return text + " ";
        return text.PadLeft(format.Exact ? exactWidth : 5) + " ";
    }

    private static void AppendRule(StringBuilder sb, DataplanePlan plan, NetfilterRule rule, int number, PacketCounters counters, IptablesListFormat format)
    {
        var m = rule.Matches;
        if (format.LineNumbers) sb.Append(number.ToString(CultureInfo.InvariantCulture).PadRight(4)).Append(' ');
        if (format.Verbose)
        {
            sb.Append(Number(counters.Packets, format, exactWidth: 8));
            sb.Append(Number(counters.Bytes, format, exactWidth: 8));
        }
        sb.Append(TargetName(rule.Target).PadRight(9)).Append(' ');
        var proto = m.OfType<ProtocolMatch>().FirstOrDefault();
        sb.Append(proto is { Negated: true } ? '!' : ' ');
        sb.Append((proto is null ? "0" : ((byte)proto.Protocol).ToString(CultureInfo.InvariantCulture)).PadRight(5));
        sb.Append("-- ");
        if (format.Verbose)
        {
            var input = m.OfType<InterfaceMatch>().FirstOrDefault(i => i.Input);
            var output = m.OfType<InterfaceMatch>().FirstOrDefault(i => !i.Input);
            sb.Append(' ').Append(Iface(input).PadRight(6)).Append(' ');
            sb.Append(Iface(output).PadRight(6)).Append(' ');
        }
        AppendAddress(sb, m.OfType<AddressMatch>().FirstOrDefault(a => a.Direction == Direction.Source));
        AppendAddress(sb, m.OfType<AddressMatch>().FirstOrDefault(a => a.Direction == Direction.Destination));
        if (rule.Target is GotoTarget) sb.Append("[goto] ");
        AppendMatches(sb, m);
        sb.Append(" /* ").Append(Comment(plan, rule)).Append(" */");
        AppendTargetInfo(sb, rule.Target);
        sb.Append('\n');
    }

    private static string Iface(InterfaceMatch? i) => i is null ? "*" : (i.Negated ? "!" : "") + i.Interface;

    private static void AppendAddress(StringBuilder sb, AddressMatch? a)
    {
        sb.Append(a is { Negated: true } ? '!' : ' ');
        string text;
        if (a is null) text = "0.0.0.0/0";
        else
        {
            var subnet = a.Prefix.Subnet;
            text = subnet.PrefixLength == 32 ? subnet.Address.ToString() : subnet.ToString();
        }
        sb.Append(text.PadRight(19)).Append(' ');
    }

    private static void AppendMatches(StringBuilder sb, IReadOnlyList<RuleMatch> matches)
    {
        // The nf_tables backend folds every tcp/udp port test of one protocol into the first match of that protocol, as iptables-save does.
        var folded = new HashSet<IpProtocol>();
        for (int i = 0; i < matches.Count; i++)
        {
            switch (matches[i])
            {
                case PortMatch port when port.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp):
                    // sctp stays an xtables match: each one prints on its own, where it stands.
                    sb.Append(' ').Append(port.Protocol.Name());
                    AppendPorts(sb, port);
                    break;
                case PortMatch port:
                    if (!folded.Add(port.Protocol)) break;
                    sb.Append(' ').Append(port.Protocol.Name());
                    foreach (var dir in new[] { Direction.Source, Direction.Destination })
                        for (int j = i; j < matches.Count; j++)
                            if (matches[j] is PortMatch other && other.Protocol == port.Protocol && other.Direction == dir)
                                AppendPorts(sb, other);
                    break;
                case MultiportMatch mp:
                    sb.Append(" multiport ").Append(mp.Direction == Direction.Source ? "sports " : "dports ");
                    if (mp.Negated) sb.Append(" !");
                    sb.Append(string.Join(",", mp.Ports.Select(p => p.ToString(CultureInfo.InvariantCulture))));
                    break;
                case AddrTypeMatch at:
                    sb.Append(" ADDRTYPE match ").Append(at.Direction == Direction.Source ? "src-type " : "dst-type ")
                      .Append(at.Negated ? "!" : "").Append(IptablesSyntax.AddressTypeName(at.Type));
                    break;
                case ConntrackMatch ct:
                    sb.Append(ct.Negated ? " ! ctstate " : " ctstate ").Append(IptablesSyntax.FormatCtStates(ct.States));
                    break;
                case MarkMatch mark:
                    sb.Append(" mark match").Append(mark.Negated ? " !" : "").Append(' ').Append(Mark(mark.Value, mark.Mask));
                    break;
                case IpvsMatch ipvs:
                    sb.Append(ipvs.Negated ? " ! ipvs" : " ipvs");
                    break;
                case IcmpTypeMatch icmp:
                    sb.Append(" icmp").Append(icmp.Negated ? " !" : "").Append("type ").Append(icmp.Type.ToString(CultureInfo.InvariantCulture));
                    break;
                case StatisticMatch st:
                    // libxt_statistic prints the inversion after the mode: "mode nth ! every 3".
                    sb.Append(" statistic");
                    if (st.Random)
                    {
                        sb.Append(" mode random").Append(st.Negated ? " !" : "").Append(" probability ").Append(IptablesSyntax.FormatProbability(IptablesSyntax.ProbabilityToKernel(st.Probability)));
                    }
                    else
                    {
                        sb.Append(" mode nth").Append(st.Negated ? " !" : "").Append(" every ").Append(st.Every.ToString(CultureInfo.InvariantCulture));
                        if (st.Packet != 0) sb.Append(" packet ").Append(st.Packet.ToString(CultureInfo.InvariantCulture));
                    }
                    break;
            }
        }
    }

    private static void AppendPorts(StringBuilder sb, PortMatch p)
    {
        if (p.From == 0 && p.To == 65535 && !p.Negated) return;
        var name = p.Direction == Direction.Source ? "spt" : "dpt";
        var inv = p.Negated ? "!" : "";
        if (p.From == p.To) sb.Append(' ').Append(name).Append(':').Append(inv).Append(p.From.ToString(CultureInfo.InvariantCulture));
        else sb.Append(' ').Append(name).Append("s:").Append(inv).Append(p.From.ToString(CultureInfo.InvariantCulture))
               .Append(':').Append(p.To.ToString(CultureInfo.InvariantCulture));
    }

    private static void AppendTargetInfo(StringBuilder sb, RuleTarget target)
    {
        switch (target)
        {
            case RejectTarget r:
                sb.Append(" reject-with ").Append(r.TcpReset ? "tcp-reset" : "icmp-port-unreachable");
                break;
            case DnatTarget d:
                sb.Append(" to:").Append(d.Address.ToString());
                if (d.Port is { } dp) sb.Append(':').Append(dp.ToString(CultureInfo.InvariantCulture));
                break;
            case SnatTarget s:
                sb.Append(" to:").Append(s.Address.ToString());
                if (s.Port is { } sp) sb.Append(':').Append(sp.ToString(CultureInfo.InvariantCulture));
                break;
            case RedirectTarget rd:
                sb.Append(" redir ports ").Append(rd.Port.ToString(CultureInfo.InvariantCulture));
                break;
            case MarkTarget mk:
                // libxt_MARK rev 2 describes --set-xmark by its effect.
                if (mk.Value == 0) sb.Append(" MARK and 0x").Append((~mk.Mask).ToString("x", CultureInfo.InvariantCulture));
                else if (mk.Value == mk.Mask) sb.Append(" MARK or 0x").Append(mk.Value.ToString("x", CultureInfo.InvariantCulture));
                else if (mk.Mask == 0) sb.Append(" MARK xor 0x").Append(mk.Value.ToString("x", CultureInfo.InvariantCulture));
                else if (mk.Mask == uint.MaxValue) sb.Append(" MARK set 0x").Append(mk.Value.ToString("x", CultureInfo.InvariantCulture));
                else sb.Append(" MARK xset ").Append(Mark(mk.Value, mk.Mask));
                break;
            case LogTarget log:
                sb.Append(" LOG flags 0 level 4");
                if (log.Prefix.Length > 0) sb.Append(" prefix \"").Append(log.Prefix).Append('"');
                break;
        }
    }

    /// <summary>The target column: the chain for jumps and gotos, else the target's name.</summary>
    internal static string TargetName(RuleTarget target) => target switch
    {
        AcceptTarget => "ACCEPT",
        DropTarget => "DROP",
        RejectTarget => "REJECT",
        ReturnTarget => "RETURN",
        JumpTarget j => j.Chain,
        GotoTarget g => g.Chain,
        DnatTarget => "DNAT",
        SnatTarget => "SNAT",
        MasqueradeTarget => "MASQUERADE",
        RedirectTarget => "REDIRECT",
        MarkTarget => "MARK",
        LogTarget => "LOG",
        TraceTarget => "TRACE",
        _ => target.GetType().Name,
    };

    private static string Mark(uint value, uint mask) => mask == uint.MaxValue
        ? "0x" + value.ToString("x", CultureInfo.InvariantCulture)
        : "0x" + value.ToString("x", CultureInfo.InvariantCulture) + "/0x" + mask.ToString("x", CultureInfo.InvariantCulture);

    /// <summary><c>iptables [-t TABLE] -S [CHAIN]</c>: policies, chain declarations and rules as iptables-save writes them.</summary>
    public static string? ListRules(DataplanePlan plan, NamespacePlan ns, string table, string? chain, out string? error)
    {
        var chains = SelectChains(ns, table, chain, out error);
        if (chains is null) return null;
        var sb = new StringBuilder();
        foreach (var c in chains)
        {
            if (c.BuiltIn) sb.Append("-P ").Append(c.Name).Append(' ').Append(c.Policy == Verdict.Accept ? "ACCEPT" : "DROP").Append('\n');
            else sb.Append("-N ").Append(c.Name).Append('\n');
        }
        foreach (var c in chains)
            foreach (var r in c.Rules)
                sb.Append(IptablesSyntax.Format(r, c.Name, Comment(plan, r))).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// <c>iptables-save [-t TABLE]</c>. The real tool stamps its header and footer comments with the time; ours name the
    /// source instead, so the output is reproducible (and still valid <c>iptables-restore</c> input).
    /// </summary>
    public static string? Save(DataplanePlan plan, NamespacePlan ns, string? table, out string? error)
        => Save(plan, null, ns, table, counters: false, ShowOptions.Default, out error);

    /// <summary>
    /// <c>iptables-save [-c] [-t TABLE]</c>: chain lines carry the policy counters <c>[packets:bytes]</c> (zero for user
    /// chains, as iptables-nft prints them); with <paramref name="counters"/> every rule is prefixed with its own. Counters
    /// come from <see cref="ShowOptions.State"/> (zero without one, as right after <c>iptables-restore</c>).
    /// </summary>
    public static string? Save(DataplanePlan plan, HostPlan? host, NamespacePlan ns, string? table, bool counters, ShowOptions options, out string? error)
    {
        error = null;
        if (table is not null && BuiltInChains(table) is null)
        {
            error = $"iptables-save v1.8.9 (nf_tables): table '{table}' does not exist";
            return null;
        }
        var sb = new StringBuilder();
        foreach (var name in TableOrder)
        {
            if (table is not null && name != table) continue;
            if (!ns.Tables.Any(t => t.Name == name)) continue;
            sb.Append("# Generated by swarmdsl show from ").Append(System.IO.Path.GetFileName(plan.SourceFile)).Append(" (iptables-save v1.8.9 (nf_tables) format)\n");
            sb.Append('*').Append(name).Append('\n');
            var chains = Chains(ns, name);
            foreach (var c in chains)
            {
                var pc = c.BuiltIn && host is not null ? options.State?.RuleCounters(host.Node, ns.Name, name, c.Name, -1) ?? default : default;
                sb.Append(':').Append(c.Name).Append(' ').Append(c.BuiltIn ? (c.Policy == Verdict.Accept ? "ACCEPT" : "DROP") : "-").Append(' ');
                AppendCounters(sb, pc).Append('\n');
            }
            foreach (var c in chains)
                for (int i = 0; i < c.Rules.Count; i++)
                {
                    if (counters)
                        AppendCounters(sb, host is not null ? options.State?.RuleCounters(host.Node, ns.Name, name, c.Name, i) ?? default : default).Append(' ');
                    sb.Append(IptablesSyntax.Format(c.Rules[i], c.Name, Comment(plan, c.Rules[i]))).Append('\n');
                }
            sb.Append("COMMIT\n");
            sb.Append("# Completed\n");
        }
        return sb.ToString();
    }

    private static StringBuilder AppendCounters(StringBuilder sb, PacketCounters c) =>
        sb.Append('[').Append(c.Packets.ToString(CultureInfo.InvariantCulture)).Append(':').Append(c.Bytes.ToString(CultureInfo.InvariantCulture)).Append(']');
}
