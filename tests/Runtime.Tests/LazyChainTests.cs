using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Text;

namespace SwarmDsl.Tests;

/// <summary>
/// A table's chains are compiled when a packet first enters them; what they compile to (rule numbers, resolved jumps,
/// statistic slots numbered over the whole table in plan order, the dispatch) must not depend on that order.
/// </summary>
public class LazyChainTests
{
    private static NetfilterRule R(RuleTarget target, params RuleMatch[] matches) => new(EquatableArray.Create(matches), target, "test", SourceSpan.None);

    private static NetfilterTable Table()
    {
        var nth = new StatisticMatch(false, 0, 3, 0);
        var random = new StatisticMatch(true, 0.25, 0, 0);
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        // Enough port-keyed rules in one chain for a dispatch; statistic matches in three chains; a jump to an undeclared
        // chain (left out, as iptables-restore would refuse it and the plan never has it).
        var ports = Enumerable.Range(1, 20).Select(p => R(new AcceptTarget(), tcp, new PortMatch(IpProtocol.Tcp, Direction.Destination, p, p))).ToList();
        ports.Insert(5, R(new DropTarget(), nth));
        return new NetfilterTable("filter", EquatableArray.Create(
            new NetfilterChain("INPUT", true, Verdict.Accept, EquatableArray.Create(R(new JumpTarget("A")), R(new AcceptTarget(), random), R(new JumpTarget("B")))),
            new NetfilterChain("FORWARD", true, Verdict.Drop, EquatableArray.Create(R(new JumpTarget("missing")), R(new DropTarget(), nth, random))),
            new NetfilterChain("A", false, null, EquatableArray.Create(ports.ToArray())),
            new NetfilterChain("B", false, null, EquatableArray.Create(R(new ReturnTarget(), random), R(new JumpTarget("A"))))));
    }

    private static string Describe(CompiledTable t) => string.Join("\n", t.Chains.Select(c => c.Name + ": " + string.Join(" | ", c.Rules.Select(r =>
        r.Number + " " + r.Target.Kind + " " + r.Target.Chain + " [" + string.Join(",", r.Matches.Select(m => m.Kind + ":" + m.Slot)) + "]"))
        + (c.Dispatch is null ? "" : " (dispatch)")));

    [Fact]
    public void Chains_compiled_in_any_order_are_those_compiled_all_at_once()
    {
        var table = Table();
        CompiledTable.CompileEveryChain = true;
        string eager;
        try { eager = Describe(CompiledTable.Compile(table)); }
        finally { CompiledTable.CompileEveryChain = false; }
        Assert.Contains("(dispatch)", eager);
        Assert.Contains("Statistic:4", eager); // five statistic matches, slots 0..4
        foreach (var order in new[] { new[] { 3, 2, 1, 0 }, new[] { 2, 0, 3, 1 }, new[] { 1, 3, 0, 2 } })
        {
            var lazy = CompiledTable.Compile(table, new Dictionary<NetfilterRule, CompiledMatch[]>());
            Assert.Equal(5, lazy.StatisticSlots);
            Assert.All(lazy.Chains, c => Assert.False(c.IsCompiled));
            foreach (var i in order)
            {
                _ = lazy.Chains[i].Dispatch;
                Assert.True(lazy.Chains[i].IsCompiled);
                Assert.Equal(order.TakeWhile(k => k != i).Count() + 1, lazy.Chains.Count(c => c.IsCompiled));
            }
            Assert.Equal(eager, Describe(lazy));
        }
    }

    [Fact]
    public void Tables_holding_the_same_rules_share_compiled_chains_only_where_their_jumps_resolve_alike()
    {
        // One cluster compiles a rule list once (every node's DOCKER-INGRESS is the same), but a chain's jumps are resolved
        // to indices in its own table, and a statistic match's slot is numbered within its table.
        var tcp = new ProtocolMatch(IpProtocol.Tcp);
        var input = EquatableArray.Create(R(new JumpTarget("B"), tcp), R(new AcceptTarget()));
        var b = EquatableArray.Create(R(new DropTarget(), new PortMatch(IpProtocol.Tcp, Direction.Destination, 22, 22)));
        var c = EquatableArray.Create(R(new ReturnTarget()));
        NetfilterTable Of(params (string Name, EquatableArray<NetfilterRule> Rules)[] chains) =>
            new("filter", EquatableArray.Create(chains.Select(x => new NetfilterChain(x.Name, x.Name == "INPUT", x.Name == "INPUT" ? Verdict.Accept : null, x.Rules)).ToArray()));
        var bodies = new Dictionary<EquatableArray<NetfilterRule>, List<CompiledChainBody>>(SameRules.Instance);
        var first = CompiledTable.Compile(Of(("INPUT", input), ("B", b), ("C", c)), new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        var reordered = CompiledTable.Compile(Of(("INPUT", input), ("C", c), ("B", b)), new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        var again = CompiledTable.Compile(Of(("INPUT", input), ("B", b), ("C", c)), new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        foreach (var t in new[] { first, reordered, again }) Assert.Equal(t.Chains.ToList().FindIndex(x => x.Name == "B"), t.Chain("INPUT")!.Rules[0].Target.Chain);
        Assert.Same(first.Chain("INPUT")!.Rules, again.Chain("INPUT")!.Rules);
        Assert.NotSame(first.Chain("INPUT")!.Rules, reordered.Chain("INPUT")!.Rules);
        Assert.Same(first.Chain("B")!.Rules, reordered.Chain("B")!.Rules);
        Assert.Same(first.Chain("C")!.Rules, again.Chain("C")!.Rules);

        // Two chains holding the same rules under other names do not share: a rule's text names its chain.
        var twins = CompiledTable.Compile(Of(("INPUT", input), ("B", b), ("C", c), ("D", c)), new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        Assert.NotSame(twins.Chain("C")!.Rules, twins.Chain("D")!.Rules);
        Assert.Equal("-A D -j RETURN", twins.Chain("D")!.Rules[0].Text("D"));
        Assert.Equal("-A C -j RETURN", twins.Chain("C")!.Rules[0].Text("C"));

        var statistic = Table();
        var one = CompiledTable.Compile(statistic, new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        var two = CompiledTable.Compile(statistic, new Dictionary<NetfilterRule, CompiledMatch[]>(), bodies);
        for (int i = 0; i < one.Chains.Length; i++) Assert.NotSame(one.Chains[i].Rules, two.Chains[i].Rules);
        Assert.Equal(Describe(one), Describe(two));
    }
}
