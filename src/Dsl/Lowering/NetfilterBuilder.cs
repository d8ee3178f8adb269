using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
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

    private readonly Dictionary<string, TableBuilder> _tables = new(StringComparer.Ordinal);

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

    /// <summary>The table, created with its built-in chains (policy ACCEPT) on first use.</summary>
    public TableBuilder Table(string name)
    {
        if (!_tables.TryGetValue(name, out var t))
        {
            t = new TableBuilder(name, BuiltInChains(name) ?? throw new ArgumentException("unknown table " + name, nameof(name)));
            _tables[name] = t;
        }
        return t;
    }

    /// <summary>The table if it exists.</summary>
    public TableBuilder? Find(string name) => _tables.TryGetValue(name, out var t) ? t : null;

    /// <summary>The tables that were used, in the plan's order.</summary>
    public EquatableArray<NetfilterTable> Build()
        => TableOrder.Where(_tables.ContainsKey).Select(n => _tables[n].Build()).ToEquatableArray();
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

    public IEnumerable<ChainBuilder> Chains => _chains;

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

    public NetfilterTable Build() => new(Name, _chains.Select(c => c.Build()).ToEquatableArray());
}

/// <summary>One chain's rules while they are being added.</summary>
internal sealed class ChainBuilder
{
    private List<NetfilterRule> _rules = new();
    // Rules inserted at the top since the last flush, in insertion order (so the chain holds them reversed): a per-port
    // chain gets thousands of inserts, and List.Insert(0) made that quadratic.
    private List<NetfilterRule> _inserted = new();
    private int _userInserted;

    public ChainBuilder(string name, bool builtIn)
    {
        Name = name;
        BuiltIn = builtIn;
    }

    public string Name { get; }

    public bool BuiltIn { get; }

    public IReadOnlyList<NetfilterRule> Rules => Flushed();

    /// <summary><c>iptables -A</c>.</summary>
    public ChainBuilder Append(NetfilterRule rule)
    {
        _rules.Add(rule);
        return this;
    }

    // The chain in order: the top inserts (newest first), then the rest.
    private List<NetfilterRule> Flushed()
    {
        if (_inserted.Count == 0) return _rules;
        _inserted.Reverse();
        _inserted.AddRange(_rules);
        _rules = _inserted;
        _inserted = new List<NetfilterRule>();
        return _rules;
    }

    /// <summary><c>iptables -I</c> (position 1): a later insert ends up above an earlier one.</summary>
    public ChainBuilder Insert(NetfilterRule rule)
    {
        _inserted.Add(rule);
        return this;
    }

    /// <summary>
    /// A user rule with <c>position: insert</c>: before every derived rule, but after the user rules inserted before it, so
    /// several inserted user rules keep their declaration order.
    /// </summary>
    public void InsertUserRule(NetfilterRule rule) => Flushed().Insert(_userInserted++, rule);

    /// <summary>Whether the chain is the administrator's as much as ours (<see cref="NetfilterChain.Shared"/>).</summary>
    public bool Shared { get; private set; }

    /// <summary>Marks the chain as one the host's administrator also fills (<see cref="NetfilterChain.Shared"/>).</summary>
    public ChainBuilder SharedWithAdministrator()
    {
        Shared = true;
        return this;
    }

    public NetfilterChain Build() => new(Name, BuiltIn, BuiltIn ? Verdict.Accept : null, Flushed().ToEquatableArray(), Shared);
}

/// <summary>Shorthands for building rules in the order iptables-save prints their matches.</summary>
internal static class Rule
{
    public static NetfilterRule Make(string origin, SourceSpan span, RuleTarget target, params RuleMatch[] matches)
        => new(EquatableArray<RuleMatch>.Own(matches), target, origin, span); // a params array is the call's own: no copy
}
