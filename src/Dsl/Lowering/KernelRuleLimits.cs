using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Plan;

namespace SwarmDsl.Lowering;

/// <summary>
/// What iptables (1.8, nf_tables backend) and the kernel refuse when a table is loaded, for the rules lowering lets users
/// write. Each fact is checked against the kernel's own tables, not a model of them:
/// <list type="bullet">
/// <item>A target's table and hooks are its <c>xt_target</c> registration: REJECT (<c>ipt_REJECT.c</c> reject_tg_reg:
/// table filter; INPUT, FORWARD, OUTPUT), SNAT/DNAT (<c>xt_nat.c</c> xt_nat_target_reg: table nat; SNAT POSTROUTING and
/// INPUT, DNAT PREROUTING and OUTPUT), MASQUERADE (<c>xt_MASQUERADE.c</c>: nat POSTROUTING), REDIRECT (<c>xt_REDIRECT.c</c>:
/// nat PREROUTING and OUTPUT). MARK and LOG have neither; iptables-nft turns TRACE into <c>meta nftrace</c>, so the raw-only
/// table of xt_TRACE does not apply.</item>
/// <item>The table is checked when the rule is added (<c>xt_check_target</c>, reached from <c>nft_target_init</c>), so a
/// REJECT in a mangle chain is refused even if nothing jumps there. The hooks are checked against every built-in chain
/// that reaches the rule through jumps and gotos: <c>nft_target_validate</c> runs for each base chain while
/// <c>nft_chain_validate</c> follows jumps (legacy x_tables does the same with <c>mark_source_chains</c>, whose hook mask
/// <c>check_target</c> compares). A chain that no built-in chain reaches is not checked.</item>
/// <item>DROP in the nat table is refused by iptables itself (<c>do_parse</c>: "The "nat" table is not intended for
/// filtering, the use of DROP is therefore inhibited"), in any chain of the table.</item>
/// <item><c>-o</c> in PREROUTING or INPUT and <c>-i</c> in OUTPUT or POSTROUTING are refused by iptables by chain name
/// (<c>do_parse</c>: "Can't use -o with INPUT"); in a user chain they are accepted (and never match there).</item>
/// <item>nf_tables validates jumps to a depth of <see cref="JumpStackSize"/> (<c>NFT_JUMP_STACK_SIZE</c> 16 in
/// <c>nf_tables.h</c>; <c>nft_chain_validate</c> returns EMLINK when it enters a chain at level 16, a base chain being
/// level 0; gotos count like jumps): a chain may sit at most 15 jumps below a built-in chain, and iptables-restore reports
/// "RULE_APPEND failed (Too many links)" for the rule that jumps one further. Legacy x_tables has no such limit (its jump
/// stack is sized by the number of chains), but iptables on Docker hosts is the nf_tables backend.</item>
/// </list>
/// </summary>
internal static class KernelRuleLimits
{
    /// <summary><c>NFT_JUMP_STACK_SIZE</c>: the level, counted from a base chain (0), that no chain may reach.</summary>
    public const int JumpStackSize = 16;

    private static readonly string[] Hooks = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" };

    private static int HookBit(string builtInChain) => 1 << Array.IndexOf(Hooks, builtInChain);

    private static string TargetName(RuleTarget t) => t switch
    {
        DnatTarget => "DNAT",
        SnatTarget => "SNAT",
        MasqueradeTarget => "MASQUERADE",
        RedirectTarget => "REDIRECT",
        RejectTarget => "REJECT",
        DropTarget => "DROP",
        _ => t.GetType().Name,
    };

    // The xt_target's .table and .hooks (as chain names), or null when the target has neither.
    private static (string Table, string[] Hooks)? Registration(RuleTarget t) => t switch
    {
        RejectTarget => ("filter", new[] { "INPUT", "FORWARD", "OUTPUT" }),
        SnatTarget => ("nat", new[] { "INPUT", "POSTROUTING" }),
        DnatTarget or RedirectTarget => ("nat", new[] { "PREROUTING", "OUTPUT" }),
        MasqueradeTarget => ("nat", new[] { "POSTROUTING" }),
        _ => null,
    };

    private static string Where(string[] hooks, string conjunction = "and")
        => hooks.Length == 1 ? hooks[0] : string.Join(", ", hooks, 0, hooks.Length - 1) + " " + conjunction + " " + hooks[hooks.Length - 1];

    /// <summary>Why a rule with <paramref name="target"/> cannot be in <paramref name="table"/> at all, or null.</summary>
    public static string? TableProblem(string table, RuleTarget target)
    {
        if (target is DropTarget && table == "nat")
            return "iptables refuses DROP in the nat table (\"The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited\"): drop in table filter (chain DOCKER-USER, INPUT or FORWARD) or in mangle or raw instead";
        if (Registration(target) is not { } reg || reg.Table == table) return null;
        return reg.Table == "nat"
            ? $"target {TargetName(target)} only works in the nat table; set table: nat"
            : $"the kernel refuses {TargetName(target)} outside the filter table (iptables-restore: RULE_APPEND failed (Invalid argument)): set table: filter and use chain {Where(reg.Hooks, "or")} (or a chain of yours they jump to), or use DROP here";
    }

    /// <summary>Why iptables refuses an interface match in a built-in chain of that name, or null.</summary>
    public static string? InterfaceProblem(string chain, IEnumerable<RuleMatch> matches)
    {
        foreach (var m in matches)
        {
            if (m is not InterfaceMatch i) continue;
            if (!i.Input && chain is "PREROUTING" or "INPUT")
                return $"iptables refuses -o in {chain} (\"Can't use -o with {chain}\"): a packet there has no output interface yet; match it in FORWARD, OUTPUT or POSTROUTING";
            if (i.Input && chain is "OUTPUT" or "POSTROUTING")
                return $"iptables refuses -i in {chain} (\"Can't use -i with {chain}\"): a locally sent packet has no input interface; match it in PREROUTING, INPUT or FORWARD";
        }
        return null;
    }

    /// <summary>One chain of a table as the analysis sees it (lowering's builders and the finished plan both fit).</summary>
    public readonly struct ChainView
    {
        /// <summary>A chain.</summary>
        public ChainView(string name, bool builtIn, IReadOnlyList<NetfilterRule> rules) { Name = name; BuiltIn = builtIn; Rules = rules; }
        /// <summary>The chain's name.</summary>
        public string Name { get; }
        /// <summary>Whether it is a built-in chain (a hook's base chain).</summary>
        public bool BuiltIn { get; }
        /// <summary>Its rules.</summary>
        public IReadOnlyList<NetfilterRule> Rules { get; }
    }

    // The hooks (of those reaching a chain, as bits of Hooks) where a target registered for regHooks is refused. Its own
    // method: a lambda here made the compiler allocate a closure for every rule of a judged table (14 MB on huge).
    private static List<string> Refused(int reaching, string[] regHooks)
    {
        var refused = new List<string>();
        for (int i = 0; i < Hooks.Length; i++)
            if ((reaching & (1 << i)) != 0 && Array.IndexOf(regHooks, Hooks[i]) < 0) refused.Add(Hooks[i]);
        return refused;
    }

    private static string? JumpTo(NetfilterRule r) => r.Target switch { JumpTarget j => j.Chain, GotoTarget g => g.Chain, _ => null };

    /// <summary>
    /// The rules of one table (those <paramref name="judged"/> says to look at) that the kernel refuses because of where
    /// they sit: a target in a chain that a built-in chain of a hook the target does not allow reaches, or a jump that
    /// takes a chain to level <see cref="JumpStackSize"/>. Loops are lowering's other check and only bound this one.
    /// </summary>
    public static List<(NetfilterRule Rule, string Chain, string Problem)> PlacementProblems(string table, IReadOnlyList<ChainView> chains, Func<NetfilterRule, bool> judged)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < chains.Count; i++) index[chains[i].Name] = i;

        // Which hooks reach each chain: a monotone fixpoint over jumps and gotos (ends even if the chains loop).
        var hooks = new int[chains.Count];
        var work = new Stack<int>();
        for (int i = 0; i < chains.Count; i++)
            if (chains[i].BuiltIn) { hooks[i] = HookBit(chains[i].Name); work.Push(i); }
        while (work.Count > 0)
        {
            int c = work.Pop();
            var rules = chains[c].Rules;
            for (int k = 0; k < rules.Count; k++)
                if (JumpTo(rules[k]) is { } to && index.TryGetValue(to, out var t) && (hooks[t] | hooks[c]) != hooks[t])
                {
                    hooks[t] |= hooks[c];
                    work.Push(t);
                }
        }

        // The levels each chain is entered at (bit l: l jumps below a built-in chain), capped at JumpStackSize.
        var levels = new int[chains.Count];
        var frontier = new List<int>();
        for (int i = 0; i < chains.Count; i++) if (chains[i].BuiltIn) { levels[i] = 1; frontier.Add(i); }
        for (int level = 1; level <= JumpStackSize && frontier.Count > 0; level++)
        {
            var next = new List<int>();
            foreach (var c in frontier)
                for (int k = 0, n = chains[c].Rules.Count; k < n; k++)
                    if (JumpTo(chains[c].Rules[k]) is { } to && index.TryGetValue(to, out var t) && (levels[t] & (1 << level)) == 0)
                    {
                        levels[t] |= 1 << level;
                        next.Add(t);
                    }
            frontier = next;
        }

        // How many levels a chain adds below itself through rules that are not judged (a judged jump into such chains is
        // the rule to blame when they overflow); memoised, and bounded so a loop cannot recurse forever.
        var below = new int[chains.Count];
        for (int i = 0; i < below.Length; i++) below[i] = -1;
        int Below(int c, int budget)
        {
            if (below[c] >= 0) return below[c];
            if (budget == 0) return JumpStackSize;
            int most = 0;
            var rules = chains[c].Rules;
            for (int k = 0; k < rules.Count; k++)
                if (!judged(rules[k]) && JumpTo(rules[k]) is { } to && index.TryGetValue(to, out var t))
                    most = Math.Max(most, 1 + Below(t, budget - 1));
            return below[c] = Math.Min(most, JumpStackSize);
        }

        var problems = new List<(NetfilterRule, string, string)>();
        for (int c = 0; c < chains.Count; c++)
        {
            var chain = chains[c];
            var rules = chain.Rules;
            for (int k = 0; k < rules.Count; k++)
            {
                var r = rules[k];
                if (!judged(r)) continue;
                if (Registration(r.Target) is { } reg && reg.Table == table)
                {
                    var refused = Refused(hooks[c], reg.Hooks);
                    if (refused.Count > 0)
                    {
                        var name = TargetName(r.Target);
                        var place = chain.BuiltIn ? $"{table} {chain.Name}" : $"chain {chain.Name}, which {table} {Where(refused.ToArray())} reach{(refused.Count == 1 ? "es" : "")}";
                        var fix = chain.BuiltIn ? $"put it in chain {Where(reg.Hooks, "or")}" : $"jump to {chain.Name} only from {Where(reg.Hooks, "or")}";
                        problems.Add((r, chain.Name, $"the kernel refuses {name} in {place}: {name} works only in {table} {Where(reg.Hooks)} (iptables-restore: RULE_APPEND failed (Invalid argument)); {fix}"));
                        continue;
                    }
                }
                if (JumpTo(r) is { } to && index.TryGetValue(to, out var target))
                {
                    int deepest = -1;
                    for (int l = JumpStackSize - 1; l >= 0 && deepest < 0; l--) if ((levels[c] & (1 << l)) != 0) deepest = l;
                    if (deepest >= 0 && deepest + 1 + Below(target, JumpStackSize) >= JumpStackSize)
                        problems.Add((r, chain.Name, $"jumps from chain {chain.Name}, {deepest} jumps below a built-in chain, to chain {to}, which would sit {JumpStackSize} or more jumps below it: iptables (nf_tables) allows at most {JumpStackSize - 1} nested chains (iptables-restore: RULE_APPEND failed (Too many links)); flatten the chains (one chain can hold many rules)"));
                }
            }
        }
        return problems;
    }
}
