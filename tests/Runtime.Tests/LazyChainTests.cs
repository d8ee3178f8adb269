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
}
