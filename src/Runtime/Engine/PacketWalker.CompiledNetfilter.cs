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

    internal void CompiledNetfilterTrace(int chain, int rule, string verdict) =>
        TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], RuleAt(chain, rule), verdict);

    internal bool CompiledNetfilterJump(int chain, int rule, int depth)
    {
        var r = RuleAt(chain, rule);
        if (_trace != null) TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], r, "JUMP " + _nfTable.Chains[r.Target.Chain].Name);
        if (depth == MaxChainDepth) { _nfDecisive = r; return false; }
        return true;
    }

    internal void CompiledNetfilterGoto(int chain, int rule)
    {
        var r = RuleAt(chain, rule);
        if (_trace != null) TraceRule(_nfHook, _nfTable!, _nfTable!.Chains[chain], r, "GOTO " + _nfTable.Chains[r.Target.Chain].Name);
    }

    internal ChainResult CompiledNetfilterPolicy()
    {
        var table = _nfTable!;
        return Policy(table, table.Chains[table.HookChain(_nfHook)], _nfHook) == NfVerdict.Drop ? ChainResult.Drop : ChainResult.Accept;
    }

    /// <summary>One rule's target, as the matching case of <see cref="Evaluate"/> runs it.</summary>
    internal ChainResult CompiledNetfilterTarget(int chain, int rule)
    {
        var table = _nfTable!;
        var c = table.Chains[chain];
        var r = RuleAt(chain, rule);
        ref readonly var t = ref r.Target;
        switch (t.Kind)
        {
            case TargetKind.Accept:
                TraceRule(_nfHook, table, c, r, "ACCEPT");
                return ChainResult.Accept;
            case TargetKind.Drop:
                TraceRule(_nfHook, table, c, r, "DROP");
                _nfDecisive = r;
                return ChainResult.Drop;
            case TargetKind.Reject:
                TraceRule(_nfHook, table, c, r, "REJECT");
                _nfDecisive = r;
                return ChainResult.Reject;
            case TargetKind.Mark:
                _p.Mark = (_p.Mark & ~t.Mask) ^ t.Value;
                if (_trace != null) TraceRule(_nfHook, table, c, r, "MARK set " + RuleText.Hex(_p.Mark));
                return ChainResult.Continue;
            case TargetKind.Log:
            case TargetKind.Trace:
                TraceRule(_nfHook, table, c, r, t.Kind == TargetKind.Log ? "LOG" : "TRACE");
                return ChainResult.Continue;
            case TargetKind.Dnat:
            case TargetKind.Snat:
            case TargetKind.Masquerade:
            case TargetKind.Redirect:
                if (_trace != null) TraceRule(_nfHook, table, c, r, t.Kind.ToString().ToUpperInvariant());
                if (!SetupNat(_nfNs!, _nfHook, r)) { _nfDecisive = r; return ChainResult.Drop; }
                return ChainResult.Accept;
            default:
                // RETURN, jumps and gotos are control flow: the compiled code handles them with Return/Jump/Goto.
                throw new System.InvalidOperationException("compiled netfilter ran a control-flow target as a target: " + t.Kind);
        }
    }
}
