using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using CsCheck;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Tests.Plan;
using SwarmDsl.Text;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>
/// Holds <c>iptables -L</c> and <c>-S</c> to the real tool on random rules (every match and target type, negations,
/// interface wildcards): the rules are loaded into a scratch namespace and each listing compared with the view's.
/// </summary>
public class IptablesListAgreementTests
{
    private static readonly string[] Tables = { "filter", "nat", "mangle", "raw" };

    [NetnsFact("ip", "iptables", "iptables-restore")]
    public void Listings_match_iptables_for_random_rules()
    {
        using var scratch = new ScratchNamespaces();
        var netns = scratch.Create("ipl");
        IptablesRuleGen.Rule.Array[1, 120].Sample(rules => AssertAgree(netns, rules), iter: 6, threads: 1);
    }

    private static void AssertAgree(string netns, PlacedRule[] rules)
    {
        var ns = Namespace(rules);
        var plan = new DataplanePlan("t", "t.swarm.yaml", LoadBalancerBackend.Ipvs,
            new UnderlayPlan(Ipv4Cidr.Parse("10.0.0.0/24"), 1500, 4789, Ipv4Address.Parse("10.0.0.254")),
            EquatableArray.Create(new HostPlan("n", "n", Ipv4Cidr.Parse("10.0.0.1/24"), "eth0", EquatableArray.Create(ns), SourceSpan.None)));
        var host = plan.Hosts[0];
        foreach (var t in Tables) ScratchNamespaces.Exec(netns, "iptables", new[] { "-t", t, "-F" });
        foreach (var t in Tables) ScratchNamespaces.Exec(netns, "iptables", new[] { "-t", t, "-X" });
        var restore = IptablesView.Save(plan, ns, null, out _)!;
        ScratchNamespaces.Exec(netns, "iptables-restore", Array.Empty<string>(), restore).EnsureSuccess("iptables-restore\n" + restore);
        foreach (var table in Tables)
        {
            foreach (var args in new[] { new[] { "-L", "-n" }, new[] { "-L", "-n", "-v", "--line-numbers" }, new[] { "-L", "-n", "-v", "-x" }, new[] { "-S" } })
            {
                var command = new[] { "iptables", "-t", table }.Concat(args).ToArray();
                var real = ScratchNamespaces.Exec(netns, "iptables", command.Skip(1)).EnsureSuccess(string.Join(" ", command));
                var view = ShowCommandLine.Run(plan, host, ns, command, ShowOptions.Default);
                var want = Counters(real.StdOut);
                var got = Counters(view.Output);
                if (want != got) Assert.Fail($"{string.Join(" ", command)}\n{Snapshot.Diff(want, got)}\nrules:\n{restore}");
            }
        }
    }

    /// <summary>Counters count what the kernel itself sends; compare the rest.</summary>
    private static string Counters(string text) => string.Join("\n", text.Split('\n').Select(l =>
    {
        l = Regex.Replace(l, @"\(policy (\w+) \d+ packets, \d+ bytes\)", "(policy $1 * packets, * bytes)");
        return Regex.Replace(l, @"^(\d+\s+)?\s*\d+[KMGT]?\s+\d+[KMGT]?\s(?=\S)", "$1* * ");
    }));

    private static NamespacePlan Namespace(IReadOnlyList<PlacedRule> rules)
    {
        var tables = new List<NetfilterTable>();
        foreach (var table in Tables)
        {
            var chains = IptablesView.BuiltInChains(table)!
                .Select(c => new NetfilterChain(c, true, Verdict.Accept, rules.Where(r => r.Table == table && r.Chain == c).Select(r => r.Rule).ToEquatableArray()))
                .ToList();
            if (table is "filter" or "nat") chains.Add(new NetfilterChain(IptablesRuleGen.JumpChain, false, null, EquatableArray<NetfilterRule>.Empty));
            if (table == "filter") chains.Add(new NetfilterChain(IptablesRuleGen.GotoChain, false, null, EquatableArray<NetfilterRule>.Empty));
            tables.Add(new NetfilterTable(table, chains.ToEquatableArray()));
        }
        return new NamespacePlan("host", NamespaceKind.Host, "", EquatableArray<DevicePlan>.Empty, EquatableArray<AddressPlan>.Empty,
            EquatableArray<RoutePlan>.Empty, EquatableArray<NeighborPlan>.Empty, EquatableArray<FdbPlan>.Empty, tables.ToEquatableArray(),
            EquatableArray<IpvsServicePlan>.Empty, EquatableArray<NftLoadBalancerPlan>.Empty, EquatableArray<SysctlPlan>.Empty,
            EquatableArray<ListenerPlan>.Empty, SourceSpan.None);
    }
}
