using System.Globalization;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Runtime.Netfilter;

/// <summary>
/// Prints a plan rule as <c>iptables-save</c> writes it (<c>-A CHAIN -p tcp -m tcp --dport 8080 -j DNAT ...</c>), for
/// traces. The ownership comment is left out: the trace shows the rule's YAML span beside it.
/// </summary>
internal static class RuleText
{
    public static string Format(string chain, NetfilterRule rule)
    {
        var sb = new StringBuilder("-A ").Append(chain);
        IpProtocol? lastPortModule = null;
        foreach (var m in rule.Matches)
        {
            var neg = m.Negated ? " !" : "";
            switch (m)
            {
                case ProtocolMatch p: sb.Append(neg).Append(" -p ").Append(p.Protocol.Name()); break;
                case AddressMatch a: sb.Append(neg).Append(a.Direction == Direction.Source ? " -s " : " -d ").Append(a.Prefix.Subnet); break;
                case InterfaceMatch i: sb.Append(neg).Append(i.Input ? " -i " : " -o ").Append(i.Interface); break;
                case PortMatch pm:
                    if (lastPortModule != pm.Protocol) sb.Append(" -m ").Append(pm.Protocol.Name());
                    sb.Append(neg).Append(pm.Direction == Direction.Source ? " --sport " : " --dport ").Append(I(pm.From));
                    if (pm.To != pm.From) sb.Append(':').Append(I(pm.To));
                    break;
                case MultiportMatch mp:
                    sb.Append(" -m multiport").Append(neg).Append(mp.Direction == Direction.Source ? " --sports " : " --dports ");
                    for (int k = 0; k < mp.Ports.Count; k++) { if (k > 0) sb.Append(','); sb.Append(I(mp.Ports[k])); }
                    break;
                case AddrTypeMatch at:
                    sb.Append(" -m addrtype").Append(neg).Append(at.Direction == Direction.Source ? " --src-type " : " --dst-type ").Append(at.Type.ToString().ToUpperInvariant());
                    break;
                case ConntrackMatch c: sb.Append(" -m conntrack").Append(neg).Append(" --ctstate ").Append(States(c.States)); break;
                case MarkMatch mk:
                    sb.Append(" -m mark").Append(neg).Append(" --mark ").Append(Hex(mk.Value));
                    if (mk.Mask != uint.MaxValue) sb.Append('/').Append(Hex(mk.Mask));
                    break;
                case IpvsMatch: sb.Append(" -m ipvs").Append(neg).Append(" --ipvs"); break;
                case IcmpTypeMatch it: sb.Append(" -m icmp").Append(neg).Append(" --icmp-type ").Append(I(it.Type)); break;
                case StatisticMatch st:
                    sb.Append(" -m statistic");
                    if (st.Random) sb.Append(" --mode random").Append(neg).Append(" --probability ").Append(st.Probability.ToString("0.00000000000", CultureInfo.InvariantCulture));
                    else sb.Append(" --mode nth").Append(neg).Append(" --every ").Append(I(st.Every)).Append(" --packet ").Append(I(st.Packet));
                    break;
            }
            lastPortModule = m is PortMatch pp ? pp.Protocol : null;
        }
        sb.Append(Target(rule.Target));
        return sb.ToString();
    }

    public static string Target(RuleTarget t) => t switch
    {
        AcceptTarget => " -j ACCEPT",
        DropTarget => " -j DROP",
        RejectTarget r => r.TcpReset ? " -j REJECT --reject-with tcp-reset" : " -j REJECT --reject-with icmp-port-unreachable",
        ReturnTarget => " -j RETURN",
        JumpTarget j => " -j " + j.Chain,
        GotoTarget g => " -g " + g.Chain,
        DnatTarget d => " -j DNAT --to-destination " + d.Address + (d.Port is int p ? ":" + I(p) : ""),
        SnatTarget s => " -j SNAT --to-source " + s.Address + (s.Port is int p2 ? ":" + I(p2) : ""),
        MasqueradeTarget => " -j MASQUERADE",
        RedirectTarget r => " -j REDIRECT --to-ports " + I(r.Port),
        MarkTarget m => " -j MARK --set-xmark " + Hex(m.Value) + "/" + Hex(m.Mask),
        LogTarget l => " -j LOG --log-prefix \"" + l.Prefix + "\"",
        TraceTarget => " -j TRACE",
        _ => " -j ?",
    };

    /// <summary>ctstate names in libxt_conntrack's print order.</summary>
    public static string States(CtState s)
    {
        var sb = new StringBuilder();
        void Add(CtState f, string n) { if ((s & f) != 0) { if (sb.Length > 0) sb.Append(','); sb.Append(n); } }
        Add(CtState.Invalid, "INVALID");
        Add(CtState.New, "NEW");
        Add(CtState.Related, "RELATED");
        Add(CtState.Established, "ESTABLISHED");
        Add(CtState.Untracked, "UNTRACKED");
        Add(CtState.Snat, "SNAT");
        Add(CtState.Dnat, "DNAT");
        return sb.ToString();
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    public static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);
}
