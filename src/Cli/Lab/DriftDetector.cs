using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using SwarmDsl.Emit;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Cli.Lab;

/// <summary>One difference between the plan and a live namespace.</summary>
/// <param name="Namespace">The plan namespace (<c>host</c>, <c>ingress_sbox</c>, ...).</param>
/// <param name="Netns">Where it lives on this machine (empty: this process's own namespace).</param>
/// <param name="Change"><c>missing</c> (in the plan, not live), <c>extra</c> (live, not in the plan), <c>changed</c>, or <c>note</c> (not drift).</param>
/// <param name="Subject">What: <c>link br0</c>, <c>route 10.0.0.0/24 dev br0</c>, <c>iptables nat DOCKER-INGRESS</c>, ...</param>
/// <param name="Detail">The rule, or <c>plan X, live Y</c>.</param>
internal sealed record Drift(string Namespace, string Netns, string Change, string Subject, string Detail)
{
    /// <summary>The <see cref="Change"/> of a remark that is not drift (shown, not counted).</summary>
    public const string Note = "note";

    /// <summary>Whether this is drift (not a note).</summary>
    public bool IsDrift => Change != Note;
}

/// <summary>Where a node's namespaces are on this machine.</summary>
/// <param name="HostNetns">The named namespace standing for the host (the lab), or null for this process's own namespace.</param>
/// <param name="NetnsPrefix">The <c>SWARMDSL_NETNS_PREFIX</c> the node's scripts ran with.</param>
/// <param name="OwnsHost">Whether everything in the host namespace is the topology's (a lab node); on a real host other
/// software has links, routes and chains there, which are not drift.</param>
internal sealed record NodeLocation(string? HostNetns, string NetnsPrefix, bool OwnsHost)
{
    /// <summary>The namespace of plan namespace <paramref name="planNamespace"/> (null: this process's own).</summary>
    public string? Netns(string planNamespace) => planNamespace == "host" ? HostNetns : NetnsPrefix + planNamespace;
}

/// <summary>
/// Drift detection (<c>swarmdsl diff --live</c>): each namespace of a node's plan against what the kernel has now — links
/// (kind, MTU, master, MAC, up, VXLAN parameters), IPv4 addresses, main-table routes, permanent neighbours, permanent
/// remote FDB entries, iptables (against the plan's own <c>iptables-save</c> view, rule by rule and in order), the nftables
/// load balancers (against the emitted file loaded into a throw-away namespace, so nft itself renders the expectation),
/// IPVS (<c>ipvsadm -S -n</c>, where the kernel has it) and sysctls.
/// </summary>
internal static class DriftDetector
{
    /// <summary>Compares every namespace of <paramref name="host"/>; <paramref name="error"/> is set when the node cannot be read.</summary>
    public static List<Drift> Compare(DataplanePlan plan, HostPlan host, NodeLocation where, out string error)
    {
        var drifts = new List<Drift>();
        error = "";
        foreach (var ns in host.Namespaces)
        {
            var netns = where.Netns(ns.Name);
            var label = netns ?? "";
            if (netns is not null && !System.IO.File.Exists(HostCommand.NetnsPath(netns)))
            {
                drifts.Add(new Drift(ns.Name, label, "missing", "namespace " + ns.Name, "no /run/netns/" + netns));
                continue;
            }
            var live = LiveNamespace.Read(netns, ns.Sysctls.Select(s => s.Key), out var readError);
            if (live is null)
            {
                error = "cannot read namespace " + (netns ?? "(this one)") + ": " + readError;
                return drifts;
            }
            bool owned = ns.Kind != NamespaceKind.Host || where.OwnsHost;
            var add = new Action<string, string, string>((change, subject, detail) => drifts.Add(new Drift(ns.Name, label, change, subject, detail)));
            Links(ns, live, owned, add);
            Addresses(ns, live, owned, add);
            Routes(ns, live, owned, add);
            Neighbors(ns, live, owned, add);
            Fdb(ns, live, add);
            Iptables(plan, host, ns, live, owned, add);
            Nftables(plan, host, ns, live, add, ref error);
            Ipvs(plan, ns, live, add);
            Sysctls(ns, live, add);
            if (error.Length > 0) return drifts;
        }
        // Namespaces with the node's prefix that the plan does not have (only knowable when there is a prefix).
        if (where.NetnsPrefix.Length > 0)
        {
            var known = new HashSet<string>(host.Namespaces.Select(n => where.Netns(n.Name)).OfType<string>(), StringComparer.Ordinal);
            foreach (var n in HostCommand.ListNetns().Where(n => n.StartsWith(where.NetnsPrefix, StringComparison.Ordinal) && !known.Contains(n)))
                drifts.Add(new Drift(n.Substring(where.NetnsPrefix.Length), n, "extra", "namespace " + n.Substring(where.NetnsPrefix.Length), "not in the plan"));
        }
        return drifts;
    }

    private static readonly Dictionary<DeviceKind, string> Kinds = new()
    {
        [DeviceKind.Bridge] = "bridge",
        [DeviceKind.Veth] = "veth",
        [DeviceKind.Vxlan] = "vxlan",
        [DeviceKind.Loopback] = "loopback",
    };

    private static void Links(NamespacePlan ns, LiveNamespace live, bool owned, Action<string, string, string> add)
    {
        var byName = live.Links.GroupBy(l => l.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var d in ns.Devices)
        {
            var subject = "link " + d.Name;
            if (!byName.TryGetValue(d.Name, out var l)) { add("missing", subject, d.Kind.ToString().ToLowerInvariant()); continue; }
            if (d.Kind == DeviceKind.Physical) continue; // the host's own interface: only that it is there
            void Changed(string what, string planned, string actual)
            {
                if (planned != actual) add("changed", subject, what + ": plan " + planned + ", live " + actual);
            }
            Changed("kind", Kinds[d.Kind], l.Kind.Length == 0 ? "(none)" : l.Kind);
            if (d.Kind != DeviceKind.Loopback) Changed("mtu", LiveNamespace.I(d.Mtu), LiveNamespace.I(l.Mtu));
            Changed("master", d.Master ?? "(none)", l.Master ?? "(none)");
            if (d.Mac is MacAddress mac) Changed("address", mac.ToString(), l.Mac.ToLowerInvariant());
            Changed("state", "up", l.Up ? "up" : "down");
            if (d.Vxlan is { } vx)
            {
                Changed("vxlan id", LiveNamespace.I(vx.Vni), l.VxlanId is int id ? LiveNamespace.I(id) : "?");
                Changed("vxlan dstport", LiveNamespace.I(vx.DstPort), l.VxlanPort is int p ? LiveNamespace.I(p) : "?");
                Changed("vxlan learning", Flag(vx.Learning), Flag(l.Learning));
                Changed("vxlan proxy", Flag(vx.Proxy), Flag(l.Proxy));
                Changed("vxlan l2miss", Flag(vx.L2Miss), Flag(l.L2Miss));
                Changed("vxlan l3miss", Flag(vx.L3Miss), Flag(l.L3Miss));
            }
        }
        if (!owned) return;
        var planned = new HashSet<string>(ns.Devices.Select(d => d.Name), StringComparer.Ordinal);
        foreach (var l in live.Links.Where(l => !planned.Contains(l.Name)))
            add("extra", "link " + l.Name, l.Kind.Length == 0 ? "not in the plan" : l.Kind + ", not in the plan");
    }

    private static string Flag(bool? b) => b is null ? "?" : b.Value ? "on" : "off";

    /// <summary>Devices the plan creates (so anything on them is the topology's, even in a host's own namespace).</summary>
    private static HashSet<string> Created(NamespacePlan ns)
        => new(ns.Devices.Where(d => d.Kind is not (DeviceKind.Physical or DeviceKind.Loopback)).Select(d => d.Name), StringComparer.Ordinal);

    private static void Addresses(NamespacePlan ns, LiveNamespace live, bool owned, Action<string, string, string> add)
    {
        var expected = ns.Addresses.Select(a => (a.Device, a.Address)).ToList();
        // Every namespace's lo carries 127.0.0.1/8 by itself.
        if (ns.Devices.Any(d => d.Kind == DeviceKind.Loopback) && !expected.Any(e => e.Device == "lo"))
            expected.Add(("lo", new Ipv4Cidr(Ipv4Address.FromBytes(127, 0, 0, 1), 8)));
        var created = Created(ns);
        foreach (var e in expected.Where(e => !live.Addresses.Contains(e)))
            add("missing", "address " + e.Address + " dev " + e.Device, "");
        foreach (var a in live.Addresses.Where(a => !expected.Contains(a) && (owned || created.Contains(a.Device))))
            add("extra", "address " + a.Address + " dev " + a.Device, "not in the plan");
    }

    private static string RouteText(Ipv4Cidr dst, Ipv4Address? gw, string dev)
        => (dst.PrefixLength == 0 ? "default" : dst.Subnet.ToString()) + (gw is Ipv4Address g ? " via " + g : "") + " dev " + dev;

    private static void Routes(NamespacePlan ns, LiveNamespace live, bool owned, Action<string, string, string> add)
    {
        var expected = ns.Routes.Select(r => RouteText(r.Destination, r.Gateway, r.Device)).ToList();
        var actual = live.Routes.Select(r => (Text: RouteText(r.Destination, r.Gateway, r.Device), r.Device)).ToList();
        var created = Created(ns);
        foreach (var e in expected.Where(e => !actual.Any(a => a.Text == e))) add("missing", "route " + e, "");
        foreach (var a in actual.Where(a => !expected.Contains(a.Text) && (owned || created.Contains(a.Device)))) add("extra", "route " + a.Text, "not in the plan");
    }

    private static void Neighbors(NamespacePlan ns, LiveNamespace live, bool owned, Action<string, string, string> add)
    {
        var created = Created(ns);
        foreach (var n in ns.Neighbors)
        {
            var l = live.Neighbors.FirstOrDefault(x => x.Device == n.Device && x.Address == n.Address);
            var subject = "neighbour " + n.Address + " dev " + n.Device;
            if (l is null) add("missing", subject, "lladdr " + n.Mac);
            else if (l.Mac != n.Mac.ToString()) add("changed", subject, "lladdr: plan " + n.Mac + ", live " + l.Mac);
        }
        foreach (var l in live.Neighbors.Where(l => (owned || created.Contains(l.Device)) && !ns.Neighbors.Any(n => n.Device == l.Device && n.Address == l.Address)))
            add("extra", "neighbour " + l.Address + " dev " + l.Device, "lladdr " + l.Mac + " permanent, not in the plan");
    }

    private static void Fdb(NamespacePlan ns, LiveNamespace live, Action<string, string, string> add)
    {
        foreach (var f in ns.Fdb)
        {
            var mac = f.Mac.ToString();
            var l = live.Fdb.FirstOrDefault(x => x.Device == f.Device && x.Mac == mac);
            var subject = "fdb " + mac + " dev " + f.Device;
            var dst = f.RemoteVtep?.ToString();
            if (l is null) add("missing", subject, dst is null ? "" : "dst " + dst);
            else if (l.Destination != dst) add("changed", subject, "dst: plan " + (dst ?? "(none)") + ", live " + (l.Destination ?? "(none)"));
        }
        // Remote entries (with a destination) on the plan's VXLAN devices that the plan does not have.
        var vxlans = new HashSet<string>(ns.Devices.Where(d => d.Kind == DeviceKind.Vxlan).Select(d => d.Name), StringComparer.Ordinal);
        foreach (var l in live.Fdb.Where(l => l.Destination is not null && vxlans.Contains(l.Device)
                     && !ns.Fdb.Any(f => f.Device == l.Device && f.Mac.ToString() == l.Mac)))
            add("extra", "fdb " + l.Mac + " dev " + l.Device, "dst " + l.Destination + ", not in the plan");
    }

    /// <summary>iptables-save text as tables → chain policies and rule lines in order.</summary>
    internal static Dictionary<string, (Dictionary<string, string> Chains, List<(string Chain, string Rule)> Rules)> ParseIptablesSave(string text)
    {
        var tables = new Dictionary<string, (Dictionary<string, string>, List<(string, string)>)>(StringComparer.Ordinal);
        (Dictionary<string, string> Chains, List<(string, string)> Rules)? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line[0] == '*')
            {
                current = (new Dictionary<string, string>(StringComparer.Ordinal), new List<(string, string)>());
                tables[line.Substring(1)] = current.Value;
            }
            else if (current is null || line == "COMMIT") continue;
            else if (line[0] == ':')
            {
                var parts = line.Substring(1).Split(' ');
                current.Value.Chains[parts[0]] = parts.Length > 1 ? parts[1] : "-";
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var chain = line.Substring(3).Split(' ')[0];
                current.Value.Rules.Add((chain, line));
            }
        }
        return tables;
    }

    private static void Iptables(DataplanePlan plan, HostPlan host, NamespacePlan ns, LiveNamespace live, bool owned, Action<string, string, string> add)
    {
        // The chains and policies as iptables-save lists them come from the plan's own iptables-save view; the rules are
        // formatted the same way but with the comment the emitted scripts give them (the view writes a shorter one).
        var view = ShowCommandLine.Run(plan, host, ns, new[] { "iptables-save" }, ShowOptions.Default);
        var expected = ParseIptablesSave(view.ExitCode == 0 ? view.Output : "");
        foreach (var table in ns.Tables)
            if (expected.TryGetValue(table.Name, out var t))
            {
                t.Rules.Clear();
                foreach (var c in table.Chains)
                    foreach (var r in c.Rules)
                        t.Rules.Add((c.Name, IptablesSyntax.Format(r, c.Name, RuleComments.For(plan.Topology, r))));
            }
        var actual = ParseIptablesSave(live.IptablesSave);
        foreach (var (table, (chains, rules)) in expected)
        {
            if (!actual.TryGetValue(table, out var a))
            {
                if (rules.Count > 0 || chains.Values.Any(p => p == "DROP")) add("missing", "iptables table " + table, rules.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " rule(s)");
                continue;
            }
            foreach (var (chain, policy) in chains)
            {
                if (!a.Chains.TryGetValue(chain, out var livePolicy)) { add("missing", "iptables " + table + " chain " + chain, ""); continue; }
                if (livePolicy != policy) add("changed", "iptables " + table + " chain " + chain, "policy: plan " + policy + ", live " + livePolicy);
            }
            foreach (var chain in chains.Keys)
            {
                var want = rules.Where(r => r.Chain == chain).Select(r => r.Rule).ToList();
                var have = a.Rules.Where(r => r.Chain == chain).Select(r => r.Rule).ToList();
                foreach (var r in want.Where(r => !have.Contains(r))) add("missing", "iptables " + table + " " + chain, r);
                foreach (var r in have.Where(r => !want.Contains(r))) add("extra", "iptables " + table + " " + chain, r);
                var common = want.Where(have.Contains).ToList();
                if (!common.SequenceEqual(have.Where(want.Contains)))
                    add("changed", "iptables " + table + " " + chain, "rule order differs from the plan");
            }
            if (owned)
                foreach (var chain in a.Chains.Keys.Where(c => !chains.ContainsKey(c)))
                    add("extra", "iptables " + table + " chain " + chain, a.Rules.Count(r => r.Chain == chain).ToString(System.Globalization.CultureInfo.InvariantCulture) + " rule(s), not in the plan");
        }
        if (owned)
            foreach (var (table, a) in actual.Where(t => !expected.ContainsKey(t.Key) && t.Value.Rules.Count > 0))
                add("extra", "iptables table " + table, a.Rules.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " rule(s), not in the plan");
    }

    /// <summary>The chains and rules (without handles) of <c>nft -j list table</c> output, as comparable lines.</summary>
    internal static List<(string Chain, string Comment, string Text)> NftRules(string json)
    {
        var rules = new List<(string, string, string)>();
        if (json.Trim().Length == 0) return rules;
        using var doc = JsonDocument.Parse(json);
        if (!doc.RootElement.TryGetProperty("nftables", out var items) || items.ValueKind != JsonValueKind.Array) return rules;
        foreach (var item in items.EnumerateArray())
        {
            if (item.TryGetProperty("chain", out var c))
                rules.Add((c.GetProperty("name").GetString() ?? "", "", "chain " + Canonical(c, skip: "handle")));
            else if (item.TryGetProperty("rule", out var r))
                rules.Add((r.GetProperty("chain").GetString() ?? "", r.TryGetProperty("comment", out var cm) ? cm.GetString() ?? "" : "",
                    r.TryGetProperty("expr", out var expr) ? expr.GetRawText() : ""));
        }
        return rules;
    }

    private static string Canonical(JsonElement e, string skip)
        => string.Join(",", e.EnumerateObject().Where(p => p.Name != skip).OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Name + "=" + p.Value.GetRawText()));

    private static void Nftables(DataplanePlan plan, HostPlan host, NamespacePlan ns, LiveNamespace live, Action<string, string, string> add, ref string error)
    {
        bool planned = plan.Backend == LoadBalancerBackend.Nftables && ns.NftLoadBalancers.Count > 0;
        bool present = live.NftJson.Length > 0;
        if (!planned && !present) return;
        if (!planned) { add("extra", "nft table ip " + NftablesEmitter.Table, "not in the plan"); return; }
        if (!present) { add("missing", "nft table ip " + NftablesEmitter.Table, ns.NftLoadBalancers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " load balancer(s)"); return; }
        // nft renders the expectation itself: the emitted file, loaded into a namespace that exists only for this command.
        var r = HostCommand.Run("unshare", new[] { "--net", "sh", "-c", "nft -f - && nft -j list table ip " + NftablesEmitter.Table }, stdin: NftablesEmitter.Emit(plan, host, ns));
        if (!r.Ok) { error = "cannot render the planned nftables table (unshare --net nft -f): " + r.LastLine(); return; }
        List<(string Chain, string Comment, string Text)> want, have;
        try
        {
            want = NftRules(r.StdOut);
            have = NftRules(live.NftJson);
        }
        catch (JsonException ex)
        {
            error = "cannot read nft -j output: " + ex.Message;
            return;
        }
        static string Name((string Chain, string Comment, string Text) x) => x.Comment.Length > 0 ? x.Chain + " rule \"" + x.Comment + "\"" : x.Chain + " " + (x.Text.StartsWith("chain ", StringComparison.Ordinal) ? "(chain)" : "rule");
        foreach (var w in want.Where(w => !have.Contains(w))) add("missing", "nft " + NftablesEmitter.Table + " " + Name(w), w.Text);
        foreach (var h in have.Where(h => !want.Contains(h))) add("extra", "nft " + NftablesEmitter.Table + " " + Name(h), h.Text);
        if (want.Count == have.Count && want.All(have.Contains) && !want.SequenceEqual(have))
            add("changed", "nft " + NftablesEmitter.Table, "rule order differs from the plan");
    }

    private static void Ipvs(DataplanePlan plan, NamespacePlan ns, LiveNamespace live, Action<string, string, string> add)
    {
        if (live.Ipvs is null && (plan.Backend != LoadBalancerBackend.Ipvs || ns.Ipvs.Count == 0)) return;
        if (live.Ipvs is null) { add("missing", "ipvs", "the kernel has no IPVS here (/proc/net/ip_vs), the plan has " + ns.Ipvs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " service(s)"); return; }
        var want = plan.Backend == LoadBalancerBackend.Ipvs
            ? IpvsRestoreEmitter.Emit(ns).Split('\n').Where(l => l.Length > 0 && l != "-C").ToList()
            : new List<string>();
        var have = live.Ipvs.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        foreach (var w in want.Where(w => !have.Contains(w))) add("missing", "ipvs", w);
        foreach (var h in have.Where(h => !want.Contains(h))) add("extra", "ipvs", h);
    }

    internal static void Sysctls(NamespacePlan ns, LiveNamespace live, Action<string, string, string> add)
    {
        foreach (var s in ns.Sysctls)
        {
            if (!live.Sysctls.TryGetValue(s.Key, out var value) || value is null)
            {
                if (s.Required) add("missing", "sysctl " + s.Key, "the key does not exist here");
                continue;
            }
            static string Norm(string v) => string.Join(" ", v.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries));
            if (Norm(value) == Norm(s.Value)) continue;
            // A raise-only key (Docker's neighbour thresholds) above the plan's value is what apply leaves: not drift.
            if (s.RaiseOnly && long.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var now)
                && long.TryParse(s.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var wanted) && now >= wanted) continue;
            // A setting only the initial namespace may change (apply.sh skips it with a warning when it is optional) is a
            // fact of where the node runs, not drift.
            if (!s.Required && live.ReadOnlySysctls.Contains(s.Key))
                add(Drift.Note, "sysctl " + s.Key, "plan " + s.Value + ", live " + value.Trim() + " (read-only in this namespace; apply.sh skips it)");
            else add("changed", "sysctl " + s.Key, "plan " + s.Value + ", live " + value.Trim());
        }
    }
}
