using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

internal sealed partial class PacketWalker
{
    private enum NfVerdict : byte { Accept, Drop, Reject, ChainLoop }

    /// <summary>Gotos one traversal of a table may take before it counts as a loop (far above any loop-free table's).</summary>
    private const int MaxGotos = 1 << 16;

    private readonly int[] _stackChain;
    private readonly int[] _stackRule;

    private static string HookName(NetfilterHook hook) => hook switch
    {
        NetfilterHook.Prerouting => "PREROUTING",
        NetfilterHook.Input => "INPUT",
        NetfilterHook.Forward => "FORWARD",
        NetfilterHook.Output => "OUTPUT",
        _ => "POSTROUTING",
    };

    /// <summary>Runs one table's base chain for a hook; false when the packet died (the outcome is set).</summary>
    private bool RunTable(NamespaceRuntime ns, CompiledTable? table, NetfilterHook hook, int tableSlot)
    {
        if (table is null) return true;
        // No base chain for this hook: nothing to evaluate, interpreted or compiled (the generated Run accepts too, without
        // the cost of entering it).
        if (table.HookChain(hook) < 0) return true;
        CompiledRule? rule;
        var v = table.Entry is { } entry ? EvaluateCompiled(ns, table, entry, hook, tableSlot, out rule) : Evaluate(ns, table, hook, tableSlot, out rule);
        switch (v)
        {
            case NfVerdict.Accept: return true;
            case NfVerdict.ChainLoop:
                Drop(DropCause.ChainLoop, rule?.Source.Span ?? SourceSpan.None, "chain jumps nested deeper than " + MaxChainDepth.ToString(CultureInfo.InvariantCulture));
                return false;
            case NfVerdict.Reject:
                var h = _p.Headers;
                var reply = rule is not null && rule.Target.TcpReset && h.Protocol == IpProtocol.Tcp ? ReplyKind.TcpReset : ReplyKind.PortUnreachable;
                // The rule's number is in its own chain, which may be one jumped to (DOCKER-USER), not the hook's base chain.
                Drop(DropCause.Rejected, rule?.Source.Span ?? SourceSpan.None, rule is null
                    ? "rejected by " + table.Name + " " + HookName(hook)
                    : "rejected by " + table.Name + " rule " + rule.Number.ToString(CultureInfo.InvariantCulture) + " (" + rule.Source.Origin + ")", reply);
                return false;
            default:
                Drop(DropCause.FilterDrop, rule?.Source.Span ?? SourceSpan.None, rule is null
                    ? table.Name + " " + HookName(hook) + " policy DROP"
                    : "dropped by " + table.Name + " rule " + rule.Number.ToString(CultureInfo.InvariantCulture) + " (" + rule.Source.Origin + ")");
                return false;
        }
    }

    /// <summary>ipt_do_table: rules in order, jump/goto/return with a stack, the built-in chain's policy at the end.</summary>
    private NfVerdict Evaluate(NamespaceRuntime ns, CompiledTable table, NetfilterHook hook, int tableSlot, out CompiledRule? decisive)
    {
        decisive = null;
        int baseChain = table.HookChain(hook);
        if (baseChain < 0) return NfVerdict.Accept;
        int chain = baseChain, rule = 0, depth = 0, gotos = 0;
        if (Record != null) RecordChain(table.Chains[baseChain].Plan!);
        while (true)
        {
            var c = table.Chains[chain];
            if (c.Dispatch is { } dispatch && rule < c.Rules.Length) rule = dispatch.Next(rule, _p.Headers);
            if (rule >= c.Rules.Length)
            {
                if (depth == 0) return Policy(table, table.Chains[baseChain], hook);
                depth--;
                chain = _stackChain[depth];
                rule = _stackRule[depth];
                continue;
            }
            var r = c.Rules[rule++];
            if (!Matches(ns, r, tableSlot)) continue;
            CountRule(c, r);
            ref readonly var t = ref r.Target;
            switch (t.Kind)
            {
                case TargetKind.Return:
                    TraceRule(hook, table, c, r, "RETURN");
                    if (depth == 0) return Policy(table, table.Chains[baseChain], hook);
                    depth--;
                    chain = _stackChain[depth];
                    rule = _stackRule[depth];
                    continue;
                case TargetKind.Jump:
                    if (_trace != null) TraceRule(hook, table, c, r, "JUMP " + table.Chains[t.Chain].Name);
                    if (depth == MaxChainDepth) { decisive = r; return NfVerdict.ChainLoop; }
                    _stackChain[depth] = chain;
                    _stackRule[depth] = rule;
                    depth++;
                    chain = t.Chain;
                    rule = 0;
                    if (Record != null) RecordChain(table.Chains[chain].Plan!);
                    continue;
                case TargetKind.Goto:
                    if (_trace != null) TraceRule(hook, table, c, r, "GOTO " + table.Chains[t.Chain].Name);
                    // A goto keeps the stack, so depth cannot bound it: a chain that goes to itself would never end. The
                    // kernel refuses such a table (ELOOP), as lowering does; a plan built otherwise gets a ChainLoop drop.
                    if (++gotos > MaxGotos) { decisive = r; return NfVerdict.ChainLoop; }
                    chain = t.Chain;
                    rule = 0;
                    if (Record != null) RecordChain(table.Chains[chain].Plan!);
                    continue;
            }
            switch (ApplyTarget(ns, table, c, r, hook))
            {
                case ChainResult.Continue: continue;
                case ChainResult.Accept: return NfVerdict.Accept;
                case ChainResult.Reject: decisive = r; return NfVerdict.Reject;
                default: decisive = r; return NfVerdict.Drop;
            }
        }
    }

    /// <summary>
    /// A matched rule's target, for the interpreter and for compiled chains alike: ACCEPT, DROP and REJECT end the table,
    /// MARK, LOG and TRACE continue, a NAT target binds the connection's first packet (nf_nat_setup_info) and accepts —
    /// or drops when it cannot bind. Control flow (RETURN, jumps, gotos) is the caller's.
    /// </summary>
    private ChainResult ApplyTarget(NamespaceRuntime ns, CompiledTable table, CompiledChain c, CompiledRule r, NetfilterHook hook)
    {
        ref readonly var t = ref r.Target;
        switch (t.Kind)
        {
            case TargetKind.Accept:
                TraceRule(hook, table, c, r, "ACCEPT");
                return ChainResult.Accept;
            case TargetKind.Drop:
                TraceRule(hook, table, c, r, "DROP");
                return ChainResult.Drop;
            case TargetKind.Reject:
                TraceRule(hook, table, c, r, "REJECT");
                return ChainResult.Reject;
            case TargetKind.Mark:
                _p.Mark = (_p.Mark & ~t.Mask) ^ t.Value;
                if (_trace != null) TraceRule(hook, table, c, r, "MARK set " + RuleText.Hex(_p.Mark));
                return ChainResult.Continue;
            case TargetKind.Log:
            case TargetKind.Trace:
                TraceRule(hook, table, c, r, t.Kind == TargetKind.Log ? "LOG" : "TRACE");
                return ChainResult.Continue;
            case TargetKind.Dnat:
            case TargetKind.Snat:
            case TargetKind.Masquerade:
            case TargetKind.Redirect:
                // Only reached in the nat table, for a connection's first packet.
                if (_trace != null) TraceRule(hook, table, c, r, t.Kind.ToString().ToUpperInvariant());
                return SetupNat(ns, hook, r) ? ChainResult.Accept : ChainResult.Drop;
            default:
                throw new System.InvalidOperationException("control flow is not a target: " + t.Kind);
        }
    }

    /// <summary>ipt_do_table's ADD_COUNTER(e-&gt;counters, skb-&gt;len, 1) for a rule that matched, before its target.</summary>
    private void CountRule(CompiledChain chain, CompiledRule rule)
    {
        // The first count since a reset notes the rule, so a reset after traffic zeroes what counted, not whole tables.
        if (chain.Count(rule, _p.Headers.TotalLength)) _c.CountedRules.Add((chain, rule.Position));
    }

    private NfVerdict Policy(CompiledTable table, CompiledChain builtIn, NetfilterHook hook)
    {
        // The policy is the base chain's last (unconditional) entry: it counts like a rule (nft_update_chain_stats for nf_tables).
        if (builtIn.PolicyPackets++ == 0) _c.CountedPolicies.Add(builtIn);
        builtIn.PolicyBytes += _p.Headers.TotalLength;
        bool drop = builtIn.Policy == Verdict.Drop;
        if (_trace != null && (drop || builtIn.Rules.Length > 0))
            _trace.Add(new NetfilterStep(HookName(hook), table.Name, builtIn.Name, 0, "-P " + builtIn.Name + (drop ? " DROP" : " ACCEPT"), drop ? "DROP (policy)" : "ACCEPT (policy)", SourceSpan.None));
        if (drop && Record != null) Record.Discard = new NetfilterStep(HookName(hook), table.Name, builtIn.Name, 0, "-P " + builtIn.Name + " DROP", "DROP (policy)", SourceSpan.None);
        return drop ? NfVerdict.Drop : NfVerdict.Accept;
    }

    private void TraceRule(NetfilterHook hook, CompiledTable table, CompiledChain chain, CompiledRule rule, string verdict)
    {
        if (_trace != null) _trace.Add(new NetfilterStep(HookName(hook), table.Name, chain.Name, rule.Number, rule.Text(chain.Name), verdict, rule.Source.Span));
        // Only ApplyTarget's DROP and REJECT discard (a trace's explanation looks for the same verdicts).
        if (Record != null && (verdict == "DROP" || verdict == "REJECT"))
            Record.Discard = new NetfilterStep(HookName(hook), table.Name, chain.Name, rule.Number, rule.Text(chain.Name), verdict, rule.Source.Span);
    }

    private bool Matches(NamespaceRuntime ns, CompiledRule rule, int tableSlot)
    {
        var ms = rule.Matches;
        for (int i = 0; i < ms.Length; i++)
        {
            if (MatchOne(ns, ms[i], tableSlot) == ms[i].Negated) return false;
        }
        return true;
    }

    private bool MatchOne(NamespaceRuntime ns, in CompiledMatch m, int tableSlot)
    {
        ref var h = ref _p.Headers;
        switch (m.Kind)
        {
            case MatchKind.Protocol: return h.Protocol == m.Protocol;
            case MatchKind.Address: return ((m.Source ? h.Source.Value : h.Destination.Value) & m.Mask) == m.Value;
            case MatchKind.Interface:
            {
                int dev = m.Input ? _inDev : _outDev;
                string name = dev >= 0 ? ns.Devices[dev].Name : "";
                return m.InterfacePrefix ? name.StartsWith(m.Interface!, System.StringComparison.Ordinal) : name == m.Interface;
            }
            case MatchKind.Port:
            {
                if (h.Protocol != m.Protocol || !h.HasPorts) return false;
                int port = m.Source ? h.SourcePort : h.DestinationPort;
                return port >= m.From && port <= m.To;
            }
            case MatchKind.Multiport:
            {
                if (!h.HasPorts) return false;
                int port = m.Source ? h.SourcePort : h.DestinationPort;
                foreach (var p in m.Ports!) if (p == port) return true;
                return false;
            }
            case MatchKind.AddrType: return AddressTypeOf(ns, m.Source ? h.Source : h.Destination) == m.AddrType;
            case MatchKind.Conntrack: return (CurrentStates() & m.States) != 0;
            case MatchKind.Mark: return (_p.Mark & m.Mask) == m.Value;
            case MatchKind.Ipvs: return _p.IpvsProperty;
            case MatchKind.IcmpType: return h.Protocol == IpProtocol.Icmp && h.IcmpType == m.From;
            case MatchKind.Statistic:
            {
                if (m.Every == 0) return (NextRandom() & 0x7FFFFFFFu) < m.Probability31;
                // xt_statistic nth: count starts at every-1 so the first packet yields 0; match when it equals --packet.
                var state = ns.StatisticState[tableSlot];
                uint every = (uint)(m.Every - 1);
                uint oval = state[m.Slot] == 0 ? every + 1 : state[m.Slot] - 1; // slot stores value+1, 0 = uninitialised
                if (oval == every + 1) oval = every;
                uint nval = oval == every ? 0 : oval + 1;
                state[m.Slot] = nval + 1;
                return nval == (uint)m.Packet;
            }
        }
        return false;
    }

    private uint NextRandom()
    {
        uint x = _rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _rng = x;
        return x;
    }

    /// <summary>inet_addr_type as xt_addrtype sees it within the namespace.</summary>
    internal static AddressType AddressTypeOf(NamespaceRuntime ns, Ipv4Address a)
    {
        if ((a.Value >> 28) == 0xE) return AddressType.Multicast;
        if (a.Value == 0xFFFFFFFFu || a.Value == 0) return AddressType.Broadcast;
        if (ns.IsLocal(a)) return AddressType.Local;
        foreach (var d in ns.Devices)
            foreach (var c in d.Addresses)
                if (c.PrefixLength < 31 && c.Broadcast == a) return AddressType.Broadcast;
        return AddressType.Unicast;
    }

    private CtState CurrentStates()
    {
        CtState s = _ctInfo switch
        {
            CtInfo.New => CtState.New,
            CtInfo.Established or CtInfo.EstablishedReply => CtState.Established,
            CtInfo.Related or CtInfo.RelatedReply => CtState.Related,
            CtInfo.Untracked => CtState.Untracked,
            _ => CtState.Invalid,
        };
        if (_ct >= 0)
        {
            var st = _c[_ns].Conntrack[_ct].Status;
            if ((st & CtStatus.DstNat) != 0) s |= CtState.Dnat;
            if ((st & CtStatus.SrcNat) != 0) s |= CtState.Snat;
        }
        return s;
    }

    // ───────────────────────────── conntrack ─────────────────────────────

    /// <summary>nf_conntrack_in: find or create the connection, classify the packet, follow TCP state.</summary>
    private void ConntrackIn(NamespaceRuntime ns)
    {
        ref var h = ref _p.Headers;
        var table = ns.Conntrack;
        if (h.IsIcmpError)
        {
            // icmp_error_message: the embedded packet names the connection; the error is RELATED to it.
            var inner = ConnTuple.OfEmbedded(h.Embedded).Invert();
            if (table.TryLookup(inner, _c.NowMilliseconds, out var idx, out var dir))
            {
                _ct = idx;
                _ctDir = dir;
                _ctInfo = dir == CtDirection.Original ? CtInfo.Related : CtInfo.RelatedReply;
                if (_trace != null) _trace.Add(new ConntrackStep(dir == CtDirection.Original ? "related" : "related (reply direction)", table[idx].Original.ToString(), NatText(table[idx])));
            }
            else
            {
                _ctInfo = CtInfo.None;
                if (_trace != null) _trace.Add(new ConntrackStep("invalid (no connection for the embedded packet)", ConnTuple.OfEmbedded(h.Embedded).ToString(), ""));
            }
            return;
        }
        if (h.Protocol == IpProtocol.Icmp && !h.IsIcmpEcho)
        {
            _ctInfo = CtInfo.None;
            return;
        }
        var tuple = ConnTuple.Of(h);
        int len = h.TotalLength;
        long now = _c.NowMilliseconds;
        if (table.TryLookup(tuple, now, out var index, out var direction))
        {
            ref var e = ref table[index];
            if (h.Protocol == IpProtocol.Tcp && direction == CtDirection.Original && (h.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn
                && e.TcpState is CtTcpState.TimeWait or CtTcpState.Close)
            {
                // tcp_packet: a new SYN on a closed connection kills it (nf_ct_kill) and is seen again as new (NF_REPEAT).
                table.Destroy(index);
            }
            else
            {
                _ct = index;
                _ctDir = direction;
                if (direction == CtDirection.Reply)
                {
                    e.Status |= CtStatus.SeenReply;
                    _ctInfo = CtInfo.EstablishedReply;
                    e.ReplyPackets++;
                    e.ReplyBytes += len;
                }
                else
                {
                    _ctInfo = (e.Status & CtStatus.SeenReply) != 0 ? CtInfo.Established : CtInfo.New;
                    e.OriginalPackets++;
                    e.OriginalBytes += len;
                }
                Track(ref e, direction, h, now);
                if (_trace != null)
                    _trace.Add(new ConntrackStep(direction == CtDirection.Reply ? "established (reply direction)" : _ctInfo == CtInfo.New ? "new (not yet answered)" : "established",
                        e.Original.ToString(), NatText(e)));
                return;
            }
        }
        var state = CtTcpState.None;
        if (h.Protocol == IpProtocol.Tcp && !TcpConntrack.TryNext(CtTcpState.None, CtDirection.Original, h.Flags, out state))
        {
            // tcp_new: only a SYN (or, picking up a connection midstream, an ACK) starts one; anything else is INVALID.
            _ctInfo = CtInfo.None;
            if (_trace != null) _trace.Add(new ConntrackStep("invalid (no connection, and this segment cannot start one)", tuple.ToString(), ""));
            return;
        }
        var sctpState = CtSctpState.None;
        if (h.Protocol == IpProtocol.Sctp && !SctpConntrack.TryNew(h.Chunk, h.Seq, out sctpState))
        {
            // sctp_new: an INIT (verification tag 0) starts an association; a DATA chunk out of the blue is INVALID.
            _ctInfo = CtInfo.None;
            if (_trace != null) _trace.Add(new ConntrackStep("invalid (no association, and a " + SctpChunks.Name(h.Chunk) + " chunk cannot start one)", tuple.ToString(), ""));
            return;
        }
        index = table.Create(tuple);
        _ct = index;
        _ctDir = CtDirection.Original;
        _ctInfo = CtInfo.New;
        ref var ne = ref table[index];
        ne.OriginalPackets = 1;
        ne.OriginalBytes = len;
        ne.TcpState = state;
        ne.SctpState = sctpState;
        ne.StreamAt = now + TcpConntrack.UdpStreamAfterMilliseconds;
        ne.ExpiresAt = now + 1000L * (tuple.Protocol == IpProtocol.Sctp ? SctpConntrack.TimeoutSeconds(sctpState) : TcpConntrack.TimeoutSeconds(tuple.Protocol, state, udpStream: false));
        if (_trace != null) _trace.Add(new ConntrackStep("new", tuple.ToString(), ""));
    }

    /// <summary>
    /// The protocol's packet handler: TCP follows tcp_conntracks (ASSURED once a SYN_RECV or ESTABLISHED connection stays
    /// ESTABLISHED), a replied UDP flow turns ASSURED and gets the stream timeout once older than two seconds; every
    /// accepted packet refreshes the timeout (nf_ct_refresh_acct). Invalid or ignored TCP segments change nothing.
    /// </summary>
    private static void Track(ref ConntrackEntry e, CtDirection dir, in PacketHeaders h, long now)
    {
        bool stream = false;
        switch (e.Original.Protocol)
        {
            case IpProtocol.Sctp:
                // nf_conntrack_sctp_packet: ASSURED on reaching ESTABLISHED; the timeout is the new state's.
                if (!SctpConntrack.TryNext(e.SctpState, dir, h.Chunk, out var association)) return;
                if (association == CtSctpState.Established && e.SctpState != CtSctpState.Established) e.Status |= CtStatus.Assured;
                e.SctpState = association;
                e.ExpiresAt = now + 1000L * SctpConntrack.TimeoutSeconds(association);
                return;
            case IpProtocol.Tcp:
                if (!TcpConntrack.TryNext(e.TcpState, dir, h.Flags, out var next)) return;
                if (next == CtTcpState.Established && e.TcpState is CtTcpState.SynRecv or CtTcpState.Established) e.Status |= CtStatus.Assured;
                e.TcpState = next;
                break;
            case IpProtocol.Udp:
                if ((e.Status & CtStatus.SeenReply) != 0 && now > e.StreamAt)
                {
                    stream = true;
                    e.Status |= CtStatus.Assured;
                }
                break;
        }
        e.ExpiresAt = now + 1000L * TcpConntrack.TimeoutSeconds(e.Original.Protocol, e.TcpState, stream);
    }

    private static string NatText(in ConntrackEntry e)
    {
        var inverted = e.Original.Invert();
        string s = "";
        if ((e.Status & CtStatus.DstNat) != 0 || e.Reply.Source != inverted.Source || e.Reply.SourcePort != inverted.SourcePort)
            s = "dnat to " + Endpoint(e.Original.Protocol, e.Reply.Source, e.Reply.SourcePort);
        if ((e.Status & CtStatus.SrcNat) != 0)
            s += (s.Length > 0 ? ", " : "") + "snat to " + Endpoint(e.Original.Protocol, e.Reply.Destination, e.Reply.DestinationPort);
        return s;
    }

    private static string Endpoint(IpProtocol p, Ipv4Address a, int port) => p == IpProtocol.Icmp ? a.ToString() : a + ":" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>nf_conntrack_confirm at the last hook; false when the tuple clashes.</summary>
    private bool Confirm()
    {
        if (_ct < 0) return true;
        var table = _c[_ns].Conntrack;
        if (table[_ct].Confirmed) return true;
        // __nf_conntrack_confirm: only the original direction confirms; an answer carrying a dropped packet's unconfirmed
        // connection (nf_ct_attach, reply direction) leaves it unconfirmed, and it dies with that answer.
        if (_ctDir != CtDirection.Original) return true;
        if (table.Confirm(_ct)) return true;
        Drop(DropCause.ConntrackClash, SourceSpan.None, "conntrack: " + table[_ct].Original + " clashes with an existing connection");
        return false;
    }

    // ───────────────────────────── NAT ─────────────────────────────

    /// <summary>
    /// nf_nat_inet_fn at a nat hook: for a connection's first packet whose manip type is not yet decided, the nat table
    /// (and the nftables balancer) decides; then nf_nat_packet rewrites the packet from the connection's tuples.
    /// </summary>
    private bool NatHook(NamespaceRuntime ns, NetfilterHook hook)
    {
        if (_ct < 0 || _ctInfo == CtInfo.Untracked) return true;
        bool src = hook == NetfilterHook.Postrouting || hook == NetfilterHook.Input;
        if (_ctInfo == CtInfo.Related || _ctInfo == CtInfo.RelatedReply)
        {
            // nf_nat_ipv4_fn: a related ICMP error gets nf_nat_icmp_reply_translation; anything else related (REJECT's RST,
            // which nf_send_reset attached to the connection) is rewritten from the tuples like any packet (nf_nat_packet).
            if (_p.Headers.IsIcmpError) IcmpReplyTranslation(ns, src);
            else ApplyNat(ns, src);
            return true;
        }
        var table = ns.Conntrack;
        var done = src ? CtStatus.SrcNatDone : CtStatus.DstNatDone;
        if (_ctInfo == CtInfo.New && (table[_ct].Status & done) == 0)
        {
            if (ns.Nat is not null && !RunTable(ns, ns.Nat, hook, 2)) return false;
            if ((table[_ct].Status & done) == 0 && ns.NftBalancers.Length > 0)
            {
                if (hook == NetfilterHook.Prerouting) NftDestinationNat(ns);
                else if (hook == NetfilterHook.Postrouting) NftSourceNat(ns);
                if (_next == Next.Done && _outcome.Kind == DispositionKind.Dropped) return false;
            }
            table[_ct].Status |= done; // a null binding when nothing above bound one
            return true; // SetupNat already rewrote the packet
        }
        ApplyNat(ns, src);
        return true;
    }

    /// <summary>nf_nat_setup_info for a DNAT/SNAT/MASQUERADE/REDIRECT rule, then the first packet's rewrite.</summary>
    private bool SetupNat(NamespaceRuntime ns, NetfilterHook hook, CompiledRule rule)
    {
        if (_ct < 0) return true;
        ref readonly var t = ref rule.Target;
        bool src = t.Kind == TargetKind.Snat || t.Kind == TargetKind.Masquerade;
        Ipv4Address address;
        int port = t.Port;
        switch (t.Kind)
        {
            case TargetKind.Redirect:
                // nf_nat_redirect_ipv4: the primary address of the incoming interface; 127.0.0.1 for local output.
                if (hook == NetfilterHook.Output) address = Localhost;
                else if (_inDev >= 0 && ns.Devices[_inDev].Addresses.Length > 0) address = ns.Devices[_inDev].Addresses[0].Address;
                else return false;
                break;
            case TargetKind.Masquerade:
                // nf_nat_masquerade_ipv4: inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE).
                if (_outDev < 0) return false;
                address = MasqueradeAddress(ns.Devices[_outDev], _nexthop);
                if (address == Ipv4Address.Any) return false;
                break;
            default:
                address = t.Address;
                break;
        }
        return Bind(ns, src, address, port, t.Kind.ToString().ToUpperInvariant(), NatOrigin.NatRule, rule.Source.Span);
    }

    private static Ipv4Address MasqueradeAddress(DeviceRuntime outDev, Ipv4Address nexthop)
    {
        foreach (var a in outDev.Addresses) if (a.PrefixLength < 32 && a.Contains(nexthop)) return a.Address;
        return outDev.Addresses.Length > 0 ? outDev.Addresses[0].Address : Ipv4Address.Any;
    }

    /// <summary>Computes the new tuple (unique source port for SNAT), alters the reply tuple, rewrites the packet.</summary>
    private bool Bind(NamespaceRuntime ns, bool src, Ipv4Address address, int port, string kind, NatOrigin origin, SourceSpan span)
    {
        var table = ns.Conntrack;
        ref var e = ref table[_ct];
        if (e.Confirmed) return true; // only a connection's first packet, before confirmation, can get a binding
        var curr = e.Reply.Invert();
        ConnTuple nw;
        bool hasPorts = curr.Protocol == IpProtocol.Tcp || curr.Protocol == IpProtocol.Udp || curr.Protocol == IpProtocol.Sctp;
        if (!src)
        {
            nw = curr.WithDestination(address, port >= 0 && hasPorts ? (ushort)port : curr.DestinationPort);
        }
        else
        {
            nw = curr.WithSource(address, port >= 0 && hasPorts ? (ushort)port : curr.SourcePort);
            if (port < 0 && (hasPorts || curr.Protocol == IpProtocol.Icmp) && table.IsTaken(nw.Invert(), _ct))
                nw = UniqueSourcePort(table, nw);
        }
        var before = _p.Headers;
        if (!nw.Equals(curr))
        {
            e.Status |= src ? CtStatus.SrcNat : CtStatus.DstNat;
            table.AlterReply(_ct, nw.Invert());
        }
        e.Status |= src ? CtStatus.SrcNatDone : CtStatus.DstNatDone;
        ApplyNat(ns, src, quiet: true);
        if (_trace != null)
        {
            var b = HeaderSnapshot.Of(before, 0);
            var a = HeaderSnapshot.Of(_p.Headers, 0);
            _trace.Add(src ? new NatStep(kind, origin, NatManip.Source, b.SourceEndpoint, a.SourceEndpoint, span) : new NatStep(kind, origin, NatManip.Destination, b.DestinationEndpoint, a.DestinationEndpoint, span));
        }
        return true;
    }

    /// <summary>
    /// nf_nat_l4proto_unique_tuple without a port range: stay in the port's class (1–511, 600–1023, 1024–65535) and take
    /// the next free port after the original. (The kernel starts at a random offset; we start right after the port so
    /// the choice is deterministic.)
    /// </summary>
    private ConnTuple UniqueSourcePort(ConntrackTable table, ConnTuple nw)
    {
        int orig = nw.SourcePort;
        int min, range;
        if (orig < 1024)
        {
            if (orig < 512) { min = 1; range = 511; }
            else { min = 600; range = 1023 - 600 + 1; }
        }
        else { min = 1024; range = 65535 - 1024 + 1; }
        for (int i = 1; i <= range; i++)
        {
            int candidate = min + ((orig - min + i) % range + range) % range;
            var t = nw.WithSource(nw.Source, (ushort)candidate);
            if (!table.IsTaken(t.Invert(), _ct)) return t;
        }
        return nw;
    }

    /// <summary>nf_nat_packet: rewrite the side this hook manipulates when the connection's status says so for this direction.</summary>
    private void ApplyNat(NamespaceRuntime ns, bool src, bool quiet = false)
    {
        ref var e = ref ns.Conntrack[_ct];
        var bit = src ? CtStatus.SrcNat : CtStatus.DstNat;
        if (_ctDir == CtDirection.Reply) bit = src ? CtStatus.DstNat : CtStatus.SrcNat;
        if ((e.Status & bit) == 0) return;
        var target = e.Tuple(_ctDir == CtDirection.Original ? CtDirection.Reply : CtDirection.Original).Invert();
        ref var h = ref _p.Headers;
        var before = _trace != null && !quiet ? HeaderSnapshot.Of(h, 0) : null;
        if (src)
        {
            h.Source = target.Source;
            if (h.HasPorts) h.SourcePort = target.SourcePort;
            else if (h.IsIcmpEcho) h.SourcePort = h.DestinationPort = target.SourcePort;
        }
        else
        {
            h.Destination = target.Destination;
            if (h.HasPorts) h.DestinationPort = target.DestinationPort;
            else if (h.IsIcmpEcho) h.SourcePort = h.DestinationPort = target.SourcePort;
        }
        if (before != null)
        {
            var after = HeaderSnapshot.Of(h, 0);
            string kind = _ctDir == CtDirection.Reply ? (src ? "un-DNAT (conntrack)" : "un-SNAT (conntrack)") : (src ? "SNAT (conntrack)" : "DNAT (conntrack)");
            _trace!.Add(src ? new NatStep(kind, NatOrigin.Conntrack, NatManip.Source, before.SourceEndpoint, after.SourceEndpoint, SourceSpan.None) : new NatStep(kind, NatOrigin.Conntrack, NatManip.Destination, before.DestinationEndpoint, after.DestinationEndpoint, SourceSpan.None));
        }
    }

    /// <summary>
    /// nf_nat_icmp_reply_translation: an ICMP error RELATED to a NATed connection. The packet it quotes travelled the other
    /// way, so the quoted header gets the inverse manipulation from the other direction's tuple (nf_nat_ipv4_manip_pkt on the
    /// inner header with <c>!manip</c>: addresses and ports, or the echo id), and the outer header is made to look like a
    /// reply to the quoted packet (the inverted tuple, this hook's manipulation). Checksums (outer ICMP, quoted IPv4 header)
    /// follow from the rewritten fields when the frame is written.
    /// </summary>
    private void IcmpReplyTranslation(NamespaceRuntime ns, bool src)
    {
        ref var e = ref ns.Conntrack[_ct];
        var dir = _ctInfo == CtInfo.RelatedReply ? CtDirection.Reply : CtDirection.Original;
        var bit = src ? CtStatus.SrcNat : CtStatus.DstNat;
        if (dir == CtDirection.Reply) bit = src ? CtStatus.DstNat : CtStatus.SrcNat;
        if ((e.Status & bit) == 0) return;
        var other = e.Tuple(dir == CtDirection.Original ? CtDirection.Reply : CtDirection.Original);
        ref var h = ref _p.Headers;
        ref var q = ref h.Embedded;
        string before = _trace != null ? IcmpErrorText(h, src) : "";
        bool quotedPorts = q.Protocol == IpProtocol.Tcp || q.Protocol == IpProtocol.Udp || q.Protocol == IpProtocol.Sctp;
        if (src)
        {
            // The outer source is rewritten, so the quoted packet's destination.
            q.Destination = other.Destination;
            if (quotedPorts) q.DestinationPort = other.DestinationPort;
        }
        else
        {
            q.Source = other.Source;
            if (quotedPorts) q.SourcePort = other.SourcePort;
        }
        if (q.Protocol == IpProtocol.Icmp) q.SourcePort = other.SourcePort; // icmp_manip_pkt: the echo id, either way
        var target = other.Invert();
        if (src) h.Source = target.Source;
        else h.Destination = target.Destination;
        if (_trace != null)
            _trace.Add(new NatStep(src ? "ICMP error un-DNAT (nf_nat_icmp_reply_translation)" : "ICMP error un-SNAT (nf_nat_icmp_reply_translation)", NatOrigin.IcmpError, src ? NatManip.Source : NatManip.Destination,
                before, IcmpErrorText(h, src), SourceSpan.None));
    }

    /// <summary>The rewritten side of an ICMP error and of the packet it quotes: <c>172.18.0.2 (quoted dst 172.18.0.2:8080)</c>.</summary>
    private static string IcmpErrorText(in PacketHeaders h, bool src)
    {
        ref readonly var q = ref h.Embedded;
        bool ports = q.Protocol == IpProtocol.Tcp || q.Protocol == IpProtocol.Udp || q.Protocol == IpProtocol.Sctp;
        return src
            ? h.Source + " (quoted dst " + (ports ? q.Destination + ":" + q.DestinationPort.ToString(CultureInfo.InvariantCulture) : q.Destination.ToString()) + ")"
            : h.Destination + " (quoted src " + (ports ? q.Source + ":" + q.SourcePort.ToString(CultureInfo.InvariantCulture) : q.Source.ToString()) + ")";
    }
}
