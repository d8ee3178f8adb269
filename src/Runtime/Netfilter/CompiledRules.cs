using System;
using System.Collections.Generic;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Runtime.Netfilter;

/// <summary>The five netfilter hooks of IPv4.</summary>
public enum NetfilterHook
{
    /// <summary>NF_INET_PRE_ROUTING.</summary>
    Prerouting,
    /// <summary>NF_INET_LOCAL_IN.</summary>
    Input,
    /// <summary>NF_INET_FORWARD.</summary>
    Forward,
    /// <summary>NF_INET_LOCAL_OUT.</summary>
    Output,
    /// <summary>NF_INET_POST_ROUTING.</summary>
    Postrouting,
}

internal enum MatchKind : byte { Protocol, Address, Interface, Port, Multiport, AddrType, Conntrack, Mark, Ipvs, IcmpType, Statistic }

internal enum TargetKind : byte { Accept, Drop, Reject, Return, Jump, Goto, Dnat, Snat, Masquerade, Redirect, Mark, Log, Trace }

/// <summary>A rule match flattened into a struct so evaluation is a switch over plain fields.</summary>
internal struct CompiledMatch
{
    public MatchKind Kind;
    public bool Negated;
    public bool Source;         // direction: source side
    public IpProtocol Protocol;
    public uint Value, Mask;    // address/mask, mark value/mask
    public int From, To;        // port range, icmp type
    public string? Interface;   // without trailing '+'
    public bool InterfacePrefix;
    public bool Input;
    public int[]? Ports;
    public AddressType AddrType;
    public CtState States;
    public uint Probability31;  // statistic random: probability as the kernel's 31-bit fixed point
    public int Every, Packet, Slot;
}

internal struct CompiledTarget
{
    public TargetKind Kind;
    public int Chain;           // jump/goto target chain index
    public Ipv4Address Address;
    public int Port;            // -1: not given
    public uint Value, Mask;
    public bool TcpReset;
}

/// <summary>
/// A compiled rule: immutable, so one serves every namespace whose chain holds the same plan rules (its counters are the
/// chain's, <see cref="CompiledChain.Packets"/>).
/// </summary>
internal sealed class CompiledRule
{
    public CompiledRule(NetfilterRule source, int number, int position, CompiledMatch[] matches, CompiledTarget target)
    {
        Source = source;
        Number = number;
        Position = position;
        Matches = matches;
        Target = target;
    }

    public NetfilterRule Source { get; }
    public int Number { get; }

    /// <summary>The rule's index in its chain's compiled rules (where its counters are).</summary>
    public int Position { get; }

    public CompiledMatch[] Matches { get; }
    public CompiledTarget Target;
    private string? _text;

    public string Text(string chain) => _text ??= RuleText.Format(chain, Source);
}

/// <summary>
/// What compiling a chain's rules gives, shared by every namespace (of one cluster) whose chain of that name holds the same
/// plan rules and whose table resolves their jumps to the same chain indices: lowering gives every node the same
/// DOCKER-INGRESS, every ingress sandbox the same marking chain and every task the same DNS rules, and compiling them per
/// namespace was most of what a first walk into a node allocated.
/// </summary>
internal sealed class CompiledChainBody
{
    public CompiledChainBody(string chain, CompiledRule[] rules, CompiledRule?[] byPlanIndex, (string Chain, int Index)[] jumps)
    {
        Chain = chain;
        Rules = rules;
        ByPlanIndex = byPlanIndex;
        Jumps = jumps;
        Dispatch = RuleDispatch.Build(rules);
    }

    /// <summary>The chain's name: a rule's text names its chain (<see cref="CompiledRule.Text"/> keeps it), so only chains of this name share the body.</summary>
    public string Chain { get; }

    public CompiledRule[] Rules { get; }
    public CompiledRule?[] ByPlanIndex { get; }
    public RuleDispatch? Dispatch { get; }

    /// <summary>The jump and goto targets the rules were resolved against: another table sharing the body must resolve them alike.</summary>
    public (string Chain, int Index)[] Jumps { get; }

    /// <summary>Whether a chain named <paramref name="chain"/> in a table whose chains are <paramref name="byName"/> can share the body.</summary>
    public bool Serves(string chain, Dictionary<string, int> byName)
    {
        if (chain != Chain) return false;
        foreach (var (target, index) in Jumps)
            if ((byName.TryGetValue(target, out var mine) ? mine : -1) != index) return false;
        return true;
    }
}

/// <summary>Plan rule lists holding the same rules in the same order (mostly the same objects: compared by reference first).</summary>
internal sealed class SameRules : IEqualityComparer<EquatableArray<NetfilterRule>>
{
    public static readonly SameRules Instance = new();

    public bool Equals(EquatableArray<NetfilterRule> x, EquatableArray<NetfilterRule> y)
    {
        if (x.Count != y.Count) return false;
        for (int i = 0; i < x.Count; i++) if (!ReferenceEquals(x[i], y[i]) && !x[i].Equals(y[i])) return false;
        return true;
    }

    // A few rules' values: enough to tell most lists apart without hashing every rule of a 3,000-rule chain.
    public int GetHashCode(EquatableArray<NetfilterRule> rules) =>
        rules.Count == 0 ? 0 : unchecked(rules.Count * 31 + rules[0].GetHashCode() * 17 + rules[rules.Count / 2].GetHashCode());
}

internal sealed class CompiledChain
{
    public CompiledChain(string name, bool builtIn, Verdict? policy, NetfilterChain? plan = null)
    {
        Plan = plan;
        Name = name;
        BuiltIn = builtIn;
        Policy = policy;
    }

    public string Name { get; }

    /// <summary>The plan's chain this was compiled from (what analyses key port classes by).</summary>
    public NetfilterChain? Plan { get; }

    public bool BuiltIn { get; }
    public Verdict? Policy { get; }

    private CompiledChainBody? _body;
    // Set while the rules wait to be compiled (CompiledTable.Compile): a chain no packet enters is never compiled. A host of
    // a large plan has thousands of DOCKER-INGRESS rules that service-to-service traffic (VXLAN through the host) never
    // meets, and compiling them was most of a one-service question's time.
    private Action<CompiledChain>? _compile;

    public CompiledRule[] Rules => Body.Rules;

    private CompiledChainBody Body { get { if (_compile is not null) Compile(); return _body!; } }

    /// <summary>A built-in chain's policy counters: packets and bytes that reached its end (or RETURNed from it).</summary>
    public long PolicyPackets, PolicyBytes;

    /// <summary>
    /// Packets and bytes (IPv4 total length, skb-&gt;len) that matched each rule, by <see cref="CompiledRule.Position"/>:
    /// ipt_do_table counts before the target runs. This namespace's own, allocated at the first count.
    /// </summary>
    private long[]? _packets, _bytes;

    /// <summary>The packets that matched <paramref name="rule"/>.</summary>
    public long Packets(CompiledRule rule) => _packets is null ? 0 : _packets[rule.Position];

    /// <summary>The bytes that matched <paramref name="rule"/>.</summary>
    public long Bytes(CompiledRule rule) => _bytes is null ? 0 : _bytes[rule.Position];

    /// <summary>Counts a packet of <paramref name="length"/> bytes for <paramref name="rule"/>; true when it is the rule's first since a reset.</summary>
    public bool Count(CompiledRule rule, int length)
    {
        if (_packets is null)
        {
            _packets = new long[Rules.Length];
            _bytes = new long[_packets.Length];
        }
        _bytes![rule.Position] += length;
        return _packets[rule.Position]++ == 0;
    }

    /// <summary>Zeroes one rule's counters.</summary>
    public void ClearCounters(int position)
    {
        if (_packets is null) return;
        _packets[position] = 0;
        _bytes![position] = 0;
    }

    /// <summary>Zeroes every rule's counters and the policy's.</summary>
    public void ClearCounters()
    {
        PolicyPackets = PolicyBytes = 0;
        if (_packets is null) return;
        Array.Clear(_packets, 0, _packets.Length);
        Array.Clear(_bytes!, 0, _bytes!.Length);
    }

    /// <summary>The compiled rules by their index in the plan's chain (null where a rule's target could not be resolved).</summary>
    public CompiledRule?[] ByPlanIndex => Body.ByPlanIndex;

    /// <summary>For a long chain, which rules a packet's ports and addresses can match at all (null: walk every rule).</summary>
    public RuleDispatch? Dispatch => Body.Dispatch;

    /// <summary>Whether the rules are compiled: a chain no packet entered never is.</summary>
    public bool IsCompiled => _compile is null;

    internal void CompileLater(Action<CompiledChain> compile) => _compile = compile;

    internal void SetBody(CompiledChainBody body) => _body = body;

    private void Compile()
    {
        var compile = _compile!;
        _compile = null;
        compile(this);
    }
}

/// <summary>
/// Keyed dispatch for the interpreter (what the generated chains do with a switch): a long chain of <c>-p tcp --dport N</c>
/// rules — a host's DOCKER-INGRESS with a rule per published port — or of <c>-d VIP/32</c> rules — a sandbox's mangle
/// chain with a MARK per service it can reach — costs dictionary lookups, not a walk over every rule. A rule is keyed by
/// its first single-port match (protocol, side, port) or exact-address match (side, address), unless a statistic match
/// comes before it: a packet that fails that match skips the rule, which is exactly what evaluating it would do (the
/// matches before it have no side effects; a statistic match's counter and random draws must still run). Rules without
/// such a match are tried for every packet, in order.
/// </summary>
internal sealed class RuleDispatch
{
    /// <summary>Below this many rules the walk is as cheap as the lookups.</summary>
    public const int MinRules = 16;

    private const long AddressKey = 1L << 40;

    private readonly int[] _any;
    // The keyed rules, grouped by key and ascending within a group; a key's group is (start, count) in _keyedRules.
    private readonly int[] _keyedRules;
    private readonly Dictionary<long, (int Start, int Count)> _keyed;
    private readonly int _count;
    private readonly bool _ports, _addresses;

    private RuleDispatch(int[] any, int[] keyedRules, Dictionary<long, (int Start, int Count)> keyed, int count, bool ports, bool addresses)
    {
        _any = any;
        _keyedRules = keyedRules;
        _keyed = keyed;
        _count = count;
        _ports = ports;
        _addresses = addresses;
    }

    /// <summary>The dispatch of a chain's rules, or null when too few are keyed for it to pay.</summary>
    public static RuleDispatch? Build(CompiledRule[] rules)
    {
        if (rules.Length < MinRules) return null;
        // One pass for each rule's key, one to size the groups, one to fill them: a chain of 2,000 keyed rules (a host's
        // DOCKER-INGRESS on a large plan) costs three arrays and a dictionary, not a list per key.
        var keyOf = new long[rules.Length];
        int anyCount = 0;
        bool ports = false, addresses = false;
        var counts = new Dictionary<long, int>();
        for (int i = 0; i < rules.Length; i++)
        {
            long key = -1;
            foreach (var m in rules[i].Matches)
            {
                if (m.Kind == MatchKind.Statistic) break;
                if (m.Negated) continue;
                if (m.Kind == MatchKind.Port && m.From == m.To) { key = PortKey(m.Protocol, m.Source, m.From); ports = true; break; }
                if (m.Kind == MatchKind.Address && m.Mask == uint.MaxValue) { key = AddressKeyOf(m.Source, m.Value); addresses = true; break; }
            }
            keyOf[i] = key;
            if (key < 0) anyCount++;
            else counts[key] = counts.TryGetValue(key, out var c) ? c + 1 : 1;
        }
        if (anyCount * 2 > rules.Length) return null;
        var keyed = new Dictionary<long, (int Start, int Count)>(counts.Count);
        int next = 0;
        foreach (var kv in counts)
        {
            keyed[kv.Key] = (next, 0);
            next += kv.Value;
        }
        var any = new int[anyCount];
        var keyedRules = new int[rules.Length - anyCount];
        anyCount = 0;
        for (int i = 0; i < rules.Length; i++)
        {
            if (keyOf[i] < 0) { any[anyCount++] = i; continue; }
            var (start, filled) = keyed[keyOf[i]];
            keyedRules[start + filled] = i;
            keyed[keyOf[i]] = (start, filled + 1);
        }
        return new RuleDispatch(any, keyedRules, keyed, rules.Length, ports, addresses);
    }

    private static long PortKey(IpProtocol protocol, bool source, int port) => ((long)protocol << 18) | (source ? 1L << 17 : 0) | (long)port;

    private static long AddressKeyOf(bool source, uint address) => AddressKey | (source ? 1L << 32 : 0) | address;

    /// <summary>The first rule at or after <paramref name="from"/> that a packet with these headers can match (or the rule count).</summary>
    public int Next(int from, in Packets.PacketHeaders h)
    {
        int next = First(_any, 0, _any.Length, from);
        if (_ports && h.HasPorts)
        {
            next = Group(PortKey(h.Protocol, false, h.DestinationPort), from, next);
            next = Group(PortKey(h.Protocol, true, h.SourcePort), from, next);
        }
        if (_addresses)
        {
            next = Group(AddressKeyOf(false, h.Destination.Value), from, next);
            next = Group(AddressKeyOf(true, h.Source.Value), from, next);
        }
        return next;
    }

    private int Group(long key, int from, int next) =>
        _keyed.TryGetValue(key, out var g) ? Math.Min(next, First(_keyedRules, g.Start, g.Count, from)) : next;

    private int First(int[] rules, int start, int count, int from)
    {
        int k = Array.BinarySearch(rules, start, count, from);
        if (k < 0) k = ~k;
        return k < start + count ? rules[k] : _count;
    }
}

/// <summary>One table of one namespace, chains as arrays with jump targets resolved to indices.</summary>
internal sealed class CompiledTable
{
    private readonly int[] _hookChain = { -1, -1, -1, -1, -1 };

    public CompiledTable(string name, CompiledChain[] chains)
    {
        Name = name;
        Chains = chains;
    }

    public string Name { get; }
    public CompiledChain[] Chains { get; }
    public int StatisticSlots { get; set; }

    /// <summary>Compiled control flow for this table (<see cref="ICompiledNetfilter"/>); null: the interpreter runs it.</summary>
    public CompiledTableEntry? Entry { get; set; }

    public int HookChain(NetfilterHook hook) => _hookChain[(int)hook];

    /// <summary>The chain named <paramref name="name"/>, or null.</summary>
    public CompiledChain? Chain(string name)
    {
        foreach (var c in Chains) if (c.Name == name) return c;
        return null;
    }

    public void SetHookChain(NetfilterHook hook, int chain) => _hookChain[(int)hook] = chain;

    /// <summary>Compiles a plan table; unknown jump targets become rules that never match (the plan is validated upstream).</summary>
    /// <summary>Compile every chain when its table is loaded, as before chains waited for a packet (benchmarks compare).</summary>
    internal static bool CompileEveryChain;

    public static CompiledTable Compile(NetfilterTable table, Dictionary<NetfilterRule, CompiledMatch[]>? shared = null,
        Dictionary<EquatableArray<NetfilterRule>, List<CompiledChainBody>>? bodies = null)
    {
        var chains = new CompiledChain[table.Chains.Count];
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < chains.Length; i++)
        {
            var c = table.Chains[i];
            chains[i] = new CompiledChain(c.Name, c.BuiltIn, c.Policy, c);
            byName[c.Name] = i;
        }
        var compiled = new CompiledTable(table.Name, chains);
        // Statistic matches number their slots in plan order over the whole table; each chain's first slot is counted now,
        // so its rules can be compiled when a packet first enters it, in any order, with the numbers they always had.
        int slots = 0;
        for (int i = 0; i < chains.Length; i++)
        {
            var src = table.Chains[i];
            int first = slots;
            foreach (var rule in src.Rules)
                foreach (var m in rule.Matches)
                    if (m is StatisticMatch) slots++;
            chains[i].CompileLater(chain => CompileRules(chain, src, first, byName, shared, bodies));
            if (CompileEveryChain) _ = chains[i].Rules;
            if (src.BuiltIn && TryHook(src.Name, out var hook)) compiled.SetHookChain(hook, i);
        }
        compiled.StatisticSlots = slots;
        return compiled;
    }

    private static void CompileRules(CompiledChain chain, NetfilterChain src, int slots, Dictionary<string, int> byName, Dictionary<NetfilterRule, CompiledMatch[]>? shared,
        Dictionary<EquatableArray<NetfilterRule>, List<CompiledChainBody>>? bodies)
    {
        List<CompiledChainBody>? known = null;
        if (bodies is not null && bodies.TryGetValue(src.Rules, out known))
            foreach (var body in known)
                if (body.Serves(src.Name, byName)) { chain.SetBody(body); return; }
        var rules = new List<CompiledRule>(src.Rules.Count);
        var byPlan = new CompiledRule?[src.Rules.Count];
        var jumps = new List<(string, int)>();
        int firstSlot = slots;
        for (int r = 0; r < src.Rules.Count; r++)
        {
            var rule = src.Rules[r];
            if (shared is null || !shared.TryGetValue(rule, out var ms))
            {
                int before = slots;
                ms = new CompiledMatch[rule.Matches.Count];
                for (int m = 0; m < ms.Length; m++) ms[m] = CompileMatch(rule.Matches[m], ref slots);
                // Immutable once compiled, so shareable, unless a statistic match took a slot of this table.
                if (shared is not null && slots == before) shared[rule] = ms;
            }
            else
                foreach (var m in rule.Matches)
                    if (m is StatisticMatch) slots++;
            var target = CompileTarget(rule.Target, byName, out bool resolvable);
            if (rule.Target is JumpTarget j) jumps.Add((j.Chain, resolvable ? target.Chain : -1));
            else if (rule.Target is GotoTarget g) jumps.Add((g.Chain, resolvable ? target.Chain : -1));
            if (!resolvable) continue;
            rules.Add(byPlan[r] = new CompiledRule(rule, r + 1, rules.Count, ms, target));
        }
        var compiled = new CompiledChainBody(src.Name, rules.ToArray(), byPlan, jumps.ToArray());
        chain.SetBody(compiled);
        // A statistic match's slot is numbered within its table: such a chain is its namespace's own.
        if (bodies is null || slots != firstSlot) return;
        if (known is null) bodies[src.Rules] = known = new List<CompiledChainBody>(1);
        known.Add(compiled);
    }

    private static bool TryHook(string chain, out NetfilterHook hook)
    {
        switch (chain)
        {
            case "PREROUTING": hook = NetfilterHook.Prerouting; return true;
            case "INPUT": hook = NetfilterHook.Input; return true;
            case "FORWARD": hook = NetfilterHook.Forward; return true;
            case "OUTPUT": hook = NetfilterHook.Output; return true;
            case "POSTROUTING": hook = NetfilterHook.Postrouting; return true;
            default: hook = default; return false;
        }
    }

    private static CompiledMatch CompileMatch(RuleMatch m, ref int slots)
    {
        var c = new CompiledMatch { Negated = m.Negated };
        switch (m)
        {
            case ProtocolMatch p: c.Kind = MatchKind.Protocol; c.Protocol = p.Protocol; break;
            case AddressMatch a: c.Kind = MatchKind.Address; c.Source = a.Direction == Direction.Source; c.Mask = a.Prefix.Mask; c.Value = a.Prefix.Network.Value; break;
            case InterfaceMatch i:
                c.Kind = MatchKind.Interface;
                c.Input = i.Input;
                c.InterfacePrefix = i.Interface.EndsWith("+", StringComparison.Ordinal);
                c.Interface = c.InterfacePrefix ? i.Interface.Substring(0, i.Interface.Length - 1) : i.Interface;
                break;
            case PortMatch pm: c.Kind = MatchKind.Port; c.Protocol = pm.Protocol; c.Source = pm.Direction == Direction.Source; c.From = pm.From; c.To = pm.To; break;
            case MultiportMatch mp:
                c.Kind = MatchKind.Multiport;
                c.Source = mp.Direction == Direction.Source;
                c.Ports = new int[mp.Ports.Count];
                for (int k = 0; k < c.Ports.Length; k++) c.Ports[k] = mp.Ports[k];
                break;
            case AddrTypeMatch at: c.Kind = MatchKind.AddrType; c.Source = at.Direction == Direction.Source; c.AddrType = at.Type; break;
            case ConntrackMatch ct: c.Kind = MatchKind.Conntrack; c.States = ct.States; break;
            case MarkMatch mk: c.Kind = MatchKind.Mark; c.Value = mk.Value; c.Mask = mk.Mask; break;
            case IpvsMatch: c.Kind = MatchKind.Ipvs; break;
            case IcmpTypeMatch it: c.Kind = MatchKind.IcmpType; c.From = it.Type; break;
            case StatisticMatch st:
                c.Kind = MatchKind.Statistic;
                c.Every = st.Random ? 0 : Math.Max(1, st.Every);
                c.Packet = st.Packet;
                // xt_statistic stores the probability as a 31-bit fixed-point value (libxt_statistic.c).
                c.Probability31 = st.Random ? (uint)Math.Round(Math.Max(0, Math.Min(1, st.Probability)) * 0x80000000u) : 0;
                c.Slot = slots++;
                break;
        }
        return c;
    }

    private static CompiledTarget CompileTarget(RuleTarget t, Dictionary<string, int> chains, out bool resolvable)
    {
        resolvable = true;
        var c = new CompiledTarget { Port = -1 };
        switch (t)
        {
            case AcceptTarget: c.Kind = TargetKind.Accept; break;
            case DropTarget: c.Kind = TargetKind.Drop; break;
            case RejectTarget r: c.Kind = TargetKind.Reject; c.TcpReset = r.TcpReset; break;
            case ReturnTarget: c.Kind = TargetKind.Return; break;
            case JumpTarget j: c.Kind = TargetKind.Jump; resolvable = chains.TryGetValue(j.Chain, out c.Chain); break;
            case GotoTarget g: c.Kind = TargetKind.Goto; resolvable = chains.TryGetValue(g.Chain, out c.Chain); break;
            case DnatTarget d: c.Kind = TargetKind.Dnat; c.Address = d.Address; c.Port = d.Port ?? -1; break;
            case SnatTarget s: c.Kind = TargetKind.Snat; c.Address = s.Address; c.Port = s.Port ?? -1; break;
            case MasqueradeTarget: c.Kind = TargetKind.Masquerade; break;
            case RedirectTarget r: c.Kind = TargetKind.Redirect; c.Port = r.Port; break;
            case MarkTarget m: c.Kind = TargetKind.Mark; c.Value = m.Value; c.Mask = m.Mask; break;
            case LogTarget: c.Kind = TargetKind.Log; break;
            case TraceTarget: c.Kind = TargetKind.Trace; break;
            default: resolvable = false; break;
        }
        return c;
    }
}
