using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using CsCheck;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Plan;

/// <summary>
/// Holds <see cref="IptablesSyntax.Format"/> to the real tool: rules are loaded with iptables-restore into a scratch network
/// namespace and read back with iptables-save; the text must come back unchanged.
/// </summary>
public class IptablesSaveAgreementTests
{
    private static readonly string[] Tables = { "raw", "mangle", "nat", "filter" };

    private static NetfilterRule R(RuleTarget target, params RuleMatch[] matches)
        => new(EquatableArray.Create(matches), target, "corpus", SourceSpan.None);

    private static Ipv4Address A(string s) => Ipv4Address.Parse(s);

    /// <summary>Every match and target type, the Docker rules, negations, quoting and the nf_tables folding cases.</summary>
    private static IEnumerable<PlacedRule> Corpus()
    {
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        PortMatch Dport(int p, bool neg = false) => new(IpProtocol.Tcp, Direction.Destination, p, p, neg);
        PortMatch Sport(int p, bool neg = false) => new(IpProtocol.Tcp, Direction.Source, p, p, neg);
        PlacedRule F(string chain, NetfilterRule r, string? comment = null) => new("filter", chain, r, comment);
        PlacedRule N(string chain, NetfilterRule r, string? comment = null) => new("nat", chain, r, comment);
        PlacedRule M(string chain, NetfilterRule r, string? comment = null) => new("mangle", chain, r, comment);

        yield return F("FORWARD", R(new AcceptTarget(), tcp, Dport(8080)), "swarmdsl:two-node:two-node.swarm.yaml:44:9 services.web.ports[0]");
        yield return F("FORWARD", R(new AcceptTarget(), tcp, Sport(8080), new ConntrackMatch(CtState.Established | CtState.Related)));
        yield return F("FORWARD", R(new AcceptTarget(), new ConntrackMatch((CtState)127)));
        yield return F("FORWARD", R(new AcceptTarget(), new ConntrackMatch(CtState.New, true)));
        yield return F("FORWARD", R(new DropTarget(), new AddressMatch(Direction.Source, Ipv4Cidr.Parse("10.0.0.1/32"), true),
            new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.9.8.7/8")), new InterfaceMatch(true, "eth+", true),
            new InterfaceMatch(false, "veth0"), new ProtocolMatch(IpProtocol.Udp, true)));
        yield return F("FORWARD", R(new DropTarget(), new ProtocolMatch(IpProtocol.Udp), new PortMatch(IpProtocol.Udp, Direction.Destination, 1000, 2000)));
        yield return F("FORWARD", R(new DropTarget(), new ProtocolMatch(IpProtocol.Udp), new PortMatch(IpProtocol.Udp, Direction.Destination, 0, 65535)));
        yield return F("FORWARD", R(new DropTarget(), new ProtocolMatch(IpProtocol.Sctp), new PortMatch(IpProtocol.Sctp, Direction.Destination, 99, 99),
            new PortMatch(IpProtocol.Sctp, Direction.Source, 7, 9, true)));
        yield return F("FORWARD", R(new DropTarget(), tcp, Dport(90), new MarkMatch(1, uint.MaxValue), Sport(80, true)));
        yield return F("FORWARD", R(new DropTarget(), tcp, new MultiportMatch(Direction.Destination, EquatableArray.Create(1, 2, 3)),
            new MultiportMatch(Direction.Source, EquatableArray.Create(65535), true)));
        yield return F("FORWARD", R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(8)));
        yield return F("FORWARD", R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(0, true)));
        yield return F("FORWARD", R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(255)));
        yield return F("FORWARD", R(new RejectTarget(true), tcp));
        yield return F("FORWARD", R(new RejectTarget()));
        yield return F("FORWARD", R(new ReturnTarget(), new MarkMatch(0x100, 0xff00, true)));
        yield return F("FORWARD", R(new JumpTarget(IptablesRuleGen.JumpChain), new StatisticMatch(true, 0.33333333, 0, 0)));
        yield return F("FORWARD", R(new JumpTarget(IptablesRuleGen.JumpChain), new StatisticMatch(true, 1.0 / 4096, 0, 0, true)));
        yield return F("FORWARD", R(new GotoTarget(IptablesRuleGen.GotoChain), new StatisticMatch(false, 0, 3, 1, true)));
        yield return F("FORWARD", R(new LogTarget("x y "), new AddrTypeMatch(Direction.Destination, AddressType.Local)));
        yield return F("FORWARD", R(new LogTarget("pfx"), new AddrTypeMatch(Direction.Source, AddressType.Unicast, true)));
        yield return F("FORWARD", R(new LogTarget("")), "a\"b'c\\d $x `y` é");
        yield return F("FORWARD", R(new AcceptTarget()), "");
        yield return F("FORWARD", R(new AcceptTarget()), new string('x', IptablesSyntax.MaxCommentBytes));
        yield return N("PREROUTING", R(new JumpTarget(IptablesRuleGen.JumpChain), new AddrTypeMatch(Direction.Destination, AddressType.Local)));
        yield return N("PREROUTING", R(new DnatTarget(A("172.18.0.2"), 8080), tcp, Dport(8080)));
        yield return N("PREROUTING", R(new DnatTarget(A("172.18.0.2"), null)));
        yield return N("PREROUTING", R(new RedirectTarget(8000), new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.255.0.7/32")), tcp, Dport(80)));
        yield return N("OUTPUT", R(new DnatTarget(A("127.0.0.1"), null), new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.255.0.5/32")),
            new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(8)));
        yield return N("POSTROUTING", R(new MasqueradeTarget(), new AddrTypeMatch(Direction.Source, AddressType.Local), new InterfaceMatch(false, "docker_gwbridge")));
        yield return N("POSTROUTING", R(new SnatTarget(A("10.0.0.2"), null), new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.0.0.0/24"))));
        yield return N("POSTROUTING", R(new SnatTarget(A("10.0.0.2"), 53), new ProtocolMatch(IpProtocol.Udp)));
        yield return M("PREROUTING", R(new MarkTarget(0x100, 0xffffffff), tcp, Dport(8080)));
        yield return M("INPUT", R(new MarkTarget(0x100, 0xffffffff), new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.0.0.5/32"))));
        yield return M("INPUT", R(new MarkTarget(0, 0xffffff00)));
        yield return new PlacedRule("raw", "PREROUTING", R(new TraceTarget(), new ProtocolMatch(IpProtocol.Udp)), null);
    }

    [NetnsFact("ip", "iptables-restore", "iptables-save")]
    public void Format_is_what_iptables_save_prints_for_the_corpus()
    {
        using var scratch = new ScratchNamespaces();
        var ns = scratch.Create("ipt");
        AssertRoundTrip(ns, Corpus().ToList());
    }

    [NetnsFact("ip", "iptables-restore", "iptables-save")]
    public void Format_is_what_iptables_save_prints_for_random_rules()
    {
        using var scratch = new ScratchNamespaces();
        var ns = scratch.Create("iptgen");
        // Each sample is one restore of a few hundred rules; on a mismatch CsCheck shrinks to a small failing set.
        IptablesRuleGen.CommentedRule.Array[1, 250].Sample(rules => AssertRoundTrip(ns, rules), iter: 8, threads: 1);
    }

    private static void AssertRoundTrip(string ns, IReadOnlyList<PlacedRule> rules)
    {
        var input = new StringBuilder();
        var expected = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var table in Tables)
        {
            input.Append('*').Append(table).Append('\n');
            if (table == "filter")
                input.Append(':').Append(IptablesRuleGen.JumpChain).Append(" - [0:0]\n:").Append(IptablesRuleGen.GotoChain).Append(" - [0:0]\n");
            if (table == "nat") input.Append(':').Append(IptablesRuleGen.JumpChain).Append(" - [0:0]\n");
            var lines = rules.Where(r => r.Table == table).Select(r => IptablesSyntax.Format(r.Rule, r.Chain, r.Comment)).ToList();
            foreach (var l in lines) input.Append(l).Append('\n');
            input.Append("COMMIT\n");
            expected[table] = lines;
        }
        var restore = ScratchNamespaces.Exec(ns, "iptables-restore", Array.Empty<string>(), input.ToString());
        Assert.True(restore.ExitCode == 0, "iptables-restore rejected the formatted rules:\n" + restore.StdErr + "\n" + input);
        foreach (var table in Tables)
        {
            var save = ScratchNamespaces.Exec(ns, "iptables-save", new[] { "-t", table }).EnsureSuccess("iptables-save");
            var actual = save.StdOut.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
            // iptables-save lists chain by chain (built-ins first); compare per chain, in rule order.
            foreach (var chain in expected[table].Select(l => l.Split(' ')[1]).Distinct())
            {
                var want = expected[table].Where(l => l.Split(' ')[1] == chain).ToList();
                var got = actual.Where(l => l.Split(' ')[1] == chain).ToList();
                if (!want.SequenceEqual(got))
                    Assert.Fail($"table {table} chain {chain}:\n{Snapshot.Diff(string.Join("\n", want), string.Join("\n", got))}");
            }
        }
    }
}
