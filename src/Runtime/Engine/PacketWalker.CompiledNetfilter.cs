using SwarmDsl.Runtime.Netfilter;

namespace SwarmDsl.Runtime.Engine;

/// <summary>
/// The interpreter's side of <see cref="ICompiledNetfilter"/>: compiled code decides which rule matches and where control
/// goes; every match with state and every target runs here, with the same trace steps as <see cref="Evaluate"/>.
/// </summary>
internal sealed partial class PacketWalker
{
    private NetfilterContext? _nfContext;
    private NamespaceRuntime? _nfNs;
    private CompiledTable? _nfTable;
    private NetfilterHook _nfHook;
    private int _nfSlot;
    private CompiledRule? _nfDecisive;

    private NfVerdict EvaluateCompiled(NamespaceRuntime ns, CompiledTable table, CompiledTableEntry entry, NetfilterHook hook, int tableSlot, out CompiledRule? decisive)
    {
        _nfContext ??= new NetfilterContext(this);
        _nfNs = ns;
        _nfTable = table;
        _nfHook = hook;
        _nfSlot = tableSlot;
        _nfDecisive = null;
        // Compiled control flow does not say which chains it entered: count them all (more class starts, never fewer).
        if (Record != null) foreach (var c in table.Chains) RecordChain(c.Plan!);
        var result = entry(_nfContext, hook);
        decisive = _nfDecisive;
        _nfNs = null;
        _nfTable = null;
        return result switch
        {
            ChainResult.Continue or ChainResult.Accept => NfVerdict.Accept,
            ChainResult.Reject => NfVerdict.Reject,
            ChainResult.ChainLoop => NfVerdict.ChainLoop,
            _ => NfVerdict.Drop,
        };
    }

    internal string NetfilterInterface(bool input)
    {
        int dev = input ? _inDev : _outDev;
        return dev >= 0 ? _nfNs!.Devices[dev].Name : "";
    }

    private CompiledRule RuleAt(int chain, int rule) =>
        _nfTable!.Chains[chain].ByPlanIndex[rule] ?? throw new System.InvalidOperationException("compiled netfilter names a rule the interpreter dropped: chain " + chain + " rule " + rule);

    internal bool CompiledNetfilterMatch(int chain, int rule, int match) => MatchOne(_nfNs!, RuleAt(chain, rule).Matches[match], _nfSlot);

    /// <summary>A RETURN rule matched: counted, traced.</summary>
    internal void CompiledNetfilterReturn(int chain, int rule)
    {
        var r = RuleAt(chain, rule);
        CountRule(_nfTable!.Chains[chain], r);
        TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], r, "RETURN");
    }

    internal bool CompiledNetfilterJump(int chain, int rule, int depth)
    {
        var r = RuleAt(chain, rule);
        CountRule(_nfTable!.Chains[chain], r);
        if (_trace != null) TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], r, "JUMP " + _nfTable.Chains[r.Target.Chain].Name);
        if (depth == MaxChainDepth) { _nfDecisive = r; return false; }
        return true;
    }

    internal void CompiledNetfilterGoto(int chain, int rule)
    {
        var r = RuleAt(chain, rule);
        CountRule(_nfTable!.Chains[chain], r);
        if (_trace != null) TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], r, "GOTO " + _nfTable.Chains[r.Target.Chain].Name);
    }

    internal ChainResult CompiledNetfilterPolicy()
    {
        var table = _nfTable!;
        return Policy(table, table.Chains[table.HookChain(_nfHook)], _nfHook) == NfVerdict.Drop ? ChainResult.Drop : ChainResult.Accept;
    }

    /// <summary>One rule's target: <see cref="ApplyTarget"/>, shared with <see cref="Evaluate"/>.</summary>
    internal ChainResult CompiledNetfilterTarget(int chain, int rule)
    {
        var table = _nfTable!;
        var r = RuleAt(chain, rule);
        CountRule(table.Chains[chain], r);
        var result = ApplyTarget(_nfNs!, table, table.Chains[chain], r, _nfHook);
        if (result is ChainResult.Drop or ChainResult.Reject) _nfDecisive = r;
        return result;
    }
}
