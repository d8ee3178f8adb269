using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Lowering;

/// <summary>
/// The iptables tables of one namespace while lowering builds them. Rules are added the way libnetwork adds them
/// (<c>-A</c> appends, <c>-I</c> inserts at the top), so the final order is what <c>iptables-save</c> would show.
/// </summary>
internal sealed class NetfilterBuilder
{
    // The order tables are listed in the plan (the plan's documented order).
    private static readonly string[] TableOrder = { "filter", "nat", "mangle", "raw" };

    // filter, nat, mangle, raw (TableOrder): four slots, not a dictionary per namespace (a large plan has tens of thousands).
    private readonly TableBuilder?[] _tables = new TableBuilder?[4];

    // Built-in chains of each table, made once (BuiltInChains hands out a fresh array each call for its callers).
    private static readonly string[][] BuiltIns = { BuiltInChains("filter")!, BuiltInChains("nat")!, BuiltInChains("mangle")!, BuiltInChains("raw")! };

    /// <summary>The built-in chains of a table in the kernel's hook order, or null for an unknown table.</summary>
    public static string[]? BuiltInChains(string table) => table switch
    {
        "filter" => new[] { "INPUT", "FORWARD", "OUTPUT" },
        "nat" => new[] { "PREROUTING", "INPUT", "OUTPUT", "POSTROUTING" },
        "mangle" => new[] { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" },
        "raw" => new[] { "PREROUTING", "OUTPUT" },
        _ => null,
    };

    /// <summary>Whether <paramref name="chain"/> is a built-in chain of any table.</summary>
    public static bool IsBuiltInAnywhere(string chain) => TableOrder.Any(t => Array.IndexOf(BuiltInChains(t)!, chain) >= 0);

    private static int Slot(string name) => name switch { "filter" => 0, "nat" => 1, "mangle" => 2, "raw" => 3, _ => -1 };

    /// <summary>The table, created with its built-in chains (policy ACCEPT) on first use.</summary>
    public TableBuilder Table(string name)
    {
        int slot = Slot(name);
        if (slot < 0) throw new ArgumentException("unknown table " + name, nameof(name));
        return _tables[slot] ??= new TableBuilder(TableOrder[slot], BuiltIns[slot]);
    }

    /// <summary>The table if it exists.</summary>
    public TableBuilder? Find(string name)
    {
        int slot = Slot(name);
        return slot < 0 ? null : _tables[slot];
    }

    /// <summary>The tables that were used, in the plan's order.</summary>
    public EquatableArray<NetfilterTable> Build(PlanInterner? interner = null)
    {
        int count = 0;
        foreach (var t in _tables) if (t is not null) count++;
        if (count == 0) return EquatableArray<NetfilterTable>.Own(Array.Empty<NetfilterTable>());
        var result = new NetfilterTable[count];
        int k = 0;
        foreach (var t in _tables) if (t is not null) result[k++] = t.Build(interner);
        return EquatableArray<NetfilterTable>.Own(result);
    }
}

/// <summary>One table: built-in chains first, then user chains in creation order.</summary>
internal sealed class TableBuilder
{
    private readonly List<ChainBuilder> _chains = new();

    public TableBuilder(string name, string[] builtIns)
    {
        Name = name;
        foreach (var c in builtIns) _chains.Add(new ChainBuilder(c, builtIn: true));
    }

    public string Name { get; }

    public IReadOnlyList<ChainBuilder> Chains => _chains;

    /// <summary>The chain, creating a user chain (<c>-N</c>) when it does not exist yet.</summary>
    public ChainBuilder Chain(string name)
    {
        var c = Find(name);
        if (c is null)
        {
            c = new ChainBuilder(name, builtIn: false);
            _chains.Add(c);
        }
        return c;
    }

    public ChainBuilder? Find(string name)
    {
        // A loop, not FirstOrDefault: this runs for every rule lowering adds, and the lambda's closure was ~50 MB on a large plan.
        foreach (var c in _chains)
            if (string.Equals(c.Name, name, StringComparison.Ordinal)) return c;
        return null;
    }

    public NetfilterTable Build(PlanInterner? interner = null)
    {
        var chains = new NetfilterChain[_chains.Count];
        for (int i = 0; i < chains.Length; i++) chains[i] = _chains[i].Build(interner);
        return new(Name, EquatableArray<NetfilterChain>.Own(chains));
    }
}

/// <summary>One chain's rules while they are being added.</summary>
internal sealed class ChainBuilder
{
    // The chain in order in _buffer[_start.._end): -I writes below _start (a later insert ends up above an earlier one), -A
    // at _end. A per-port chain gets thousands of inserts (List.Insert(0) made that quadratic). When the chain is as long as
    // its buffer (Reserve said how long it would be), Build hands the buffer to the plan instead of copying it.
    private NetfilterRule[] _buffer = Array.Empty<NetfilterRule>();
    private int _start, _end;
    // Set once Build has handed the buffer to the plan, which must never see it change.
    private bool _handedOver;
    private int _userInserted;

    public ChainBuilder(string name, bool builtIn)
    {
        Name = name;
        BuiltIn = builtIn;
    }

    public string Name { get; }

    public bool BuiltIn { get; }

    public int Count => _end - _start;

    /// <summary>The rule at <paramref name="index"/> in chain order.</summary>
    public NetfilterRule RuleAt(int index) => _buffer[_start + index];

    /// <summary>The rules so far, as a view of the builder's buffer: read it before the next change or <c>Build</c>, never keep it.</summary>
    public IReadOnlyList<NetfilterRule> Rules => new ArraySegment<NetfilterRule>(_buffer, _start, _end - _start);

    /// <summary>Makes room for <paramref name="inserts"/> more <c>-I</c> and <paramref name="appends"/> more <c>-A</c> rules.</summary>
    public ChainBuilder Reserve(int inserts, int appends)
    {
        if (_handedOver || _start < inserts || _buffer.Length - _end < appends)
            Move(Math.Max(inserts, _handedOver ? 0 : _start), Math.Max(appends, _handedOver ? 0 : _buffer.Length - _end));
        return this;
    }

    // A new buffer with `before` free slots below the rules and `after` above them.
    private void Move(int before, int after)
    {
        int count = _end - _start;
        var buffer = new NetfilterRule[before + count + after];
        Array.Copy(_buffer, _start, buffer, before, count);
        _buffer = buffer;
        _start = before;
        _end = before + count;
        _handedOver = false;
    }

    /// <summary><c>iptables -A</c>.</summary>
    public ChainBuilder Append(NetfilterRule rule)
    {
        if (_handedOver || _end == _buffer.Length) Move(_handedOver ? 0 : _start, Math.Max(4, _end - _start));
        _buffer[_end++] = rule;
        return this;
    }

    /// <summary><c>iptables -I</c> (position 1): a later insert ends up above an earlier one.</summary>
    public ChainBuilder Insert(NetfilterRule rule)
    {
        if (_handedOver || _start == 0) Move(Math.Max(4, _end - _start), _handedOver ? 0 : _buffer.Length - _end);
        _buffer[--_start] = rule;
        return this;
    }

    /// <summary>
    /// A user rule with <c>position: insert</c>: before every derived rule, but after the user rules inserted before it, so
    /// several inserted user rules keep their declaration order.
    /// </summary>
    public void InsertUserRule(NetfilterRule rule)
    {
        if (_handedOver || _end == _buffer.Length) Move(_handedOver ? 0 : _start, Math.Max(4, _end - _start));
        int at = _start + _userInserted++;
        Array.Copy(_buffer, at, _buffer, at + 1, _end - at);
        _buffer[at] = rule;
        _end++;
    }

    /// <summary>Whether the chain is the administrator's as much as ours (<see cref="NetfilterChain.Shared"/>).</summary>
    public bool Shared { get; private set; }

    /// <summary>Marks the chain as one the host's administrator also fills (<see cref="NetfilterChain.Shared"/>).</summary>
    public ChainBuilder SharedWithAdministrator()
    {
        Shared = true;
        return this;
    }

    // An empty built-in chain is the same in every table of every namespace (most task namespaces have several): one object each.
    private static readonly NetfilterChain[] EmptyBuiltIns =
        new[] { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" }
            .Select(n => new NetfilterChain(n, true, Verdict.Accept, EquatableArray<NetfilterRule>.Own(Array.Empty<NetfilterRule>()), false)).ToArray();

    private static NetfilterChain? EmptyBuiltIn(string name)
    {
        foreach (var c in EmptyBuiltIns)
            if (string.Equals(c.Name, name, StringComparison.Ordinal)) return c;
        return null;
    }

    /// <summary>The chain's rules in order: the buffer itself when the rules fill it, else an exact copy.</summary>
    public NetfilterChain Build(PlanInterner? interner = null)
    {
        NetfilterRule[] rules;
        int count = _end - _start;
        if (count == 0 && BuiltIn && !Shared && EmptyBuiltIn(Name) is { } empty) return empty;
        if (count == 0) rules = Array.Empty<NetfilterRule>();
        else if (count == _buffer.Length)
        {
            rules = _buffer;
            _handedOver = true;
        }
        else
        {
            rules = new NetfilterRule[count];
            Array.Copy(_buffer, _start, rules, 0, count);
        }
        var chain = new NetfilterChain(Name, BuiltIn, BuiltIn ? Verdict.Accept : null, EquatableArray<NetfilterRule>.Own(rules), Shared);
        return interner is null ? chain : interner.Chain(chain);
    }
}

/// <summary>Shorthands for building rules in the order iptables-save prints their matches.</summary>
internal static class Rule
{
    public static NetfilterRule Make(string origin, SourceSpan span, RuleTarget target, params RuleMatch[] matches)
        => new(EquatableArray<RuleMatch>.Own(matches), target, origin, span); // a params array is the call's own: no copy

    // Targets and matches without a value of their own, or with one of a few: the plan is immutable data compared by value,
    // so every rule can hold the same object (a large plan made hundreds of thousands of equal ones).
    public static readonly AcceptTarget Accept = new();
    public static readonly DropTarget Drop = new();
    public static readonly ReturnTarget Return = new();
    public static readonly MasqueradeTarget Masquerade = new();
    public static readonly IpvsMatch Ipvs = new();
    private static readonly ProtocolMatch TcpMatch = new(IpProtocol.Tcp), UdpMatch = new(IpProtocol.Udp), SctpMatch = new(IpProtocol.Sctp);
    private static readonly ConntrackMatch[] ConntrackMatches = new ConntrackMatch[128];

    /// <summary><c>-p PROTOCOL</c>.</summary>
    public static ProtocolMatch Protocol(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Tcp => TcpMatch,
        IpProtocol.Udp => UdpMatch,
        IpProtocol.Sctp => SctpMatch,
        _ => new ProtocolMatch(protocol),
    };

    /// <summary><c>-m conntrack --ctstate STATES</c>.</summary>
    public static ConntrackMatch Conntrack(CtState states)
    {
        int i = (int)states;
        if (i < 0 || i >= ConntrackMatches.Length) return new ConntrackMatch(states);
        // A benign race: two threads may each make one; both are equal.
        return System.Threading.Volatile.Read(ref ConntrackMatches[i]) ?? (ConntrackMatches[i] = new ConntrackMatch(states));
    }
}
