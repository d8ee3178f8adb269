using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// The emitted scripts on the real kernel: node namespaces on an underlay fabric, each node's apply.sh entered with
/// <c>nsenter --net</c> and <c>SWARMDSL_NETNS_PREFIX</c>, then a second apply (no change), traffic through the routing
/// mesh, repair of a half-applied node, and teardown (nothing left).
/// </summary>
public class RealNamespaceTests
{
    private static string Sh(string ns, params string[] args) => EmitScenario.Sh(ns, args);

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "socat")]
    public void Hand_plan_apply_twice_traffic_repair_teardown()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        EmitScenario.ApplyTwiceTrafficRepairTeardown(lab, new[] { ("10.7.191.10", 8080), ("10.7.191.9", 8080) });
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_builds_the_vxlan_and_sandbox_as_docker_does()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var r = lab.Run("manager", "apply.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var p = lab.Prefix("manager");
        var vxlan = Sh(p + "1-ingress", "ip", "-d", "link", "show", "vxlan0");
        Assert.Contains("vxlan id 4096 ", vxlan, StringComparison.Ordinal);
        Assert.Contains("dstport 4789", vxlan, StringComparison.Ordinal);
        Assert.Contains("proxy l2miss l3miss", vxlan, StringComparison.Ordinal);
        Assert.Contains("ttl auto", vxlan, StringComparison.Ordinal);
        Assert.Contains("link-netns " + lab.NodeNs["manager"], vxlan, StringComparison.Ordinal); // its socket stayed in the host namespace
        // As in Docker's captures: the vxlan device came from another namespace, so its entries show link-netnsid.
        Assert.Matches("02:42:0a:ff:00:06 dst 10.7.191.9 link-netnsid \\d+ self permanent", Sh(p + "1-ingress", "bridge", "fdb", "show", "dev", "vxlan0"));
        Assert.Contains("10.255.0.6 lladdr 02:42:0a:ff:00:06 PERMANENT", Sh(p + "1-ingress", "ip", "neigh", "show", "dev", "vxlan0"), StringComparison.Ordinal);
        Assert.Contains("inet 10.255.0.4/32", Sh(p + "ingress_sbox", "ip", "addr", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("default via 172.18.0.1 dev eth1", Sh(p + "ingress_sbox", "ip", "route"), StringComparison.Ordinal);
        Assert.Contains("numgen inc mod 2", Sh(p + "ingress_sbox", "nft", "list", "table", "ip", "swarmdsl"), StringComparison.Ordinal);
        Assert.Equal("1", Sh(lab.NodeNs["manager"], "sysctl", "-n", "net.ipv4.ip_forward").Trim());
    }

    private static DataplanePlan Example(string text)
    {
        var compiled = SwarmCompiler.CompileToPlan(Paths.Example, text, new SwarmDsl.Lowering.LoweringOptions(LoadBalancerBackend.Nftables));
        Assert.True(compiled.Plan is not null, string.Join("\n", compiled.Diagnostics));
        return compiled.Plan!;
    }

    /// <summary>Every rule carrying this topology's comment in a namespace of the lab is one the current plan asks for.</summary>
    private static void AssertNoStaleRules(EmitLab lab)
    {
        foreach (var host in lab.Plan.Hosts)
            foreach (var ns in host.Namespaces)
            {
                var want = ns.Tables.Sum(t => t.Chains.Sum(c => c.Rules.Count));
                var marked = Sh(EmitScenario.KernelNs(lab, host, ns), "iptables-save").Split('\n')
                    .Count(l => l.Contains(RuleComments.Marker(lab.Plan.Topology), StringComparison.Ordinal));
                Assert.True(want == marked, $"{host.Node}/{ns.Name}: {marked} marked rules, the plan has {want}");
                if (ns.NftLoadBalancers.Count > 0)
                {
                    var file = NftablesEmitter.Emit(lab.Plan, host, ns);
                    var block = file[file.IndexOf("table ip swarmdsl {", StringComparison.Ordinal)..].TrimEnd('\n');
                    Assert.Equal(block, Sh(EmitScenario.KernelNs(lab, host, ns), "nft", "list", "table", "ip", "swarmdsl").TrimEnd('\n'));
                }
            }
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_changed_topology_converges_on_reapply_and_only_what_differs_is_replaced()
    {
        var text = File.ReadAllText(Paths.Example);
        // Before: the example plus an operator rule in a chain the new topology no longer uses.
        var before = Example(text + "\nrules:\n  - { node: manager, table: filter, chain: INPUT, rule: \"-p tcp --dport 9999 -j ACCEPT\" }\n");
        // After: the published port moved (owned chains, built-in chains of the sandbox and the tasks change).
        var after = Example(text.Replace("published: 8080", "published: 8081", StringComparison.Ordinal).Replace(":8080/tcp", ":8081/tcp", StringComparison.Ordinal));
        using var lab = EmitLab.FromPlan(before);
        foreach (var node in new[] { "manager", "worker" }) Assert.True(lab.Run(node, "apply.sh").ExitCode == 0);
        EmitScenario.AssertBuilt(lab);
        Assert.Contains("--dport 9999", Sh(lab.NodeNs["manager"], "iptables-save"), StringComparison.Ordinal);

        // Chains the change does not touch keep their rules (and counters): the host's filter FORWARD jumps, for one.
        var m = lab.NodeNs["manager"];
        string ForwardJumps() => string.Join("\n", Sh(m, "nft", "-a", "list", "chain", "ip", "filter", "FORWARD").Split('\n').Where(l => l.Contains("jump", StringComparison.Ordinal)));
        var jumps = ForwardJumps();
        Assert.NotEmpty(jumps);

        lab.Switch(after, new EmittedTree(ProvisioningEmitter.Emit(after)));
        foreach (var node in new[] { "manager", "worker" })
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
            Assert.Contains("created 0 ", r.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("changed 0 ", r.StdOut, StringComparison.Ordinal);
        }
        EmitScenario.AssertBuilt(lab);
        AssertNoStaleRules(lab);
        Assert.DoesNotContain("--dport 9999", Sh(m, "iptables-save"), StringComparison.Ordinal);
        Assert.DoesNotContain("8080", Sh(lab.Prefix("manager") + "ingress_sbox", "iptables-save"), StringComparison.Ordinal);
        Assert.Equal(jumps, ForwardJumps()); // same rule handles: not deleted and re-added

        foreach (var node in new[] { "manager", "worker" })
        {
            var r = lab.Run(node, "apply.sh");
            Assert.Contains("created 0 namespaces and devices, changed 0 rule sets", r.StdOut, StringComparison.Ordinal);
        }
        foreach (var node in new[] { "manager", "worker" })
        {
            Assert.True(lab.Run(node, "teardown.sh").ExitCode == 0);
            Assert.Empty(lab.Created(node));
            Assert.DoesNotContain("swarmdsl", Sh(lab.NodeNs[node], "iptables-save"), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Re-applying a changed topology gives the node exactly what a first apply of the new topology gives: namespaces of a
    /// removed service and network go (with their devices), a task that left a network loses its leg there, a task whose address moved gets its new address and MAC
    /// (derived from it) and loses the old one, the overlay's neighbours and FDB entries for the old address go, and a host
    /// sysctl the new topology no longer sets is put back. Before, all of these stayed ("run the old teardown first").
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_reapplied_changed_topology_is_what_a_first_apply_of_it_builds()
    {
        var text = File.ReadAllText(Paths.Example);
        var before = Example(text
            .Replace("    networks: [ingress]\n", "    networks: [ingress, backend]\n", StringComparison.Ordinal)
            .Replace("address: 10.255.0.5 }", "address: 10.255.0.15 }", StringComparison.Ordinal)
            .Replace("address: 10.255.0.6, weight: 1 }", "address: 10.255.0.16, weight: 1 }", StringComparison.Ordinal)
            .Replace("    net.core.wmem_max: 26214400\n", "    net.core.wmem_max: 26214400\n    net.ipv4.tcp_keepalive_time: 600\n", StringComparison.Ordinal)
            .Replace("\nservices:\n", "\n  backend:\n    driver: overlay\n    subnet: 10.20.0.0/24\n\nservices:\n  api:\n    replicas: 2\n    networks: [backend]\n", StringComparison.Ordinal));
        Assert.Contains(before.Hosts.SelectMany(h => h.Namespaces), n => n.Name == "api.1");
        AssertReapplyConverges(before, Example(text), lab =>
        {
            var m = lab.NodeNs["manager"];
            Assert.Equal("600", Sh(m, "sysctl", "-n", "net.ipv4.tcp_keepalive_time").Trim());
            // Back to what a new network namespace starts with.
            return () => Assert.Equal("7200", Sh(m, "sysctl", "-n", "net.ipv4.tcp_keepalive_time").Trim());
        });
    }

    /// <summary>
    /// A topology without the ingress network has no DOCKER-INGRESS chains: re-applied over one that had, the chains
    /// (emptied of our rules, with our jumps to them deleted) go too. Before, they stayed, empty.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_chain_the_changed_topology_no_longer_has_goes_on_reapply()
    {
        var text = File.ReadAllText(Paths.Example);
        // The example's nodes and docker_gwbridge, and its service with no ingress network and no published port.
        var ingress = text.IndexOf("  ingress:\n", StringComparison.Ordinal);
        Assert.True(ingress > 0);
        var after = Example(text[..ingress] + "\nservices:\n  web:\n    replicas: 2\n    networks: []\n");
        Assert.DoesNotContain(after.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.Tables).SelectMany(t => t.Chains), c => c.Name == "DOCKER-INGRESS");
        AssertReapplyConverges(Example(text), after, lab =>
        {
            Assert.Contains(":DOCKER-INGRESS - ", Sh(lab.NodeNs["manager"], "iptables-save"), StringComparison.Ordinal);
            return () => Assert.DoesNotContain("DOCKER-INGRESS", Sh(lab.NodeNs["manager"], "iptables-save"), StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// A service whose networks are listed in another order gets each task leg made again where both ends are still there
    /// but plugged into the other overlay: before, eth0 kept its peer in the first overlay and took the second one's
    /// address and MAC (a tester's case, never repaired by later applies).
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Reordered_networks_rewire_the_task_legs_on_reapply()
    {
        var text = File.ReadAllText(Paths.Example);
        string With(string order) => text.Replace("\nservices:\n", "\n  back1:\n    driver: overlay\n    subnet: 10.21.0.0/24\n  back2:\n    driver: overlay\n"
            + "    subnet: 10.22.0.0/24\n\nservices:\n  api:\n    replicas: 2\n    networks: [" + order + "]\n", StringComparison.Ordinal);
        AssertReapplyConverges(Example(With("back1, back2")), Example(With("back2, back1")), _ => () => { });
    }

    /// <summary>
    /// A docker_gwbridge whose subnet changed loses its old address (and the route that went with it) on re-apply; before,
    /// it kept both addresses (a tester's case).
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_host_bridge_whose_subnet_changed_loses_its_old_address_on_reapply()
    {
        var text = File.ReadAllText(Paths.Example);
        var before = text.Replace("subnet: 172.18.0.0/16", "subnet: 172.19.0.0/16", StringComparison.Ordinal)
            .Replace("gateway: 172.18.0.1", "gateway: 172.19.0.1", StringComparison.Ordinal);
        Assert.NotEqual(text, before);
        AssertReapplyConverges(Example(before), Example(text), lab =>
        {
            Assert.Contains("172.19.0.1/16", Sh(lab.NodeNs["manager"], "ip", "-4", "addr", "show", "dev", "docker_gwbridge"), StringComparison.Ordinal);
            return () => Assert.DoesNotContain("172.19.0.1/16", Sh(lab.NodeNs["manager"], "ip", "-4", "addr", "show", "dev", "docker_gwbridge"), StringComparison.Ordinal);
        });
    }

    // Applies `before` on every node, checks what `applied` asserts, re-applies `after` and requires every node to equal a
    // first apply of `after` in a lab of its own (then what `applied` returned holds), a third apply to change nothing,
    // and teardown to leave no namespace.
    private static void AssertReapplyConverges(DataplanePlan before, DataplanePlan after, Func<EmitLab, Action> applied)
    {
        var nodes = after.Hosts.Select(h => h.Node).ToList();
        var fresh = new Dictionary<string, string>(StringComparer.Ordinal);
        var macs = new HashSet<string>(StringComparer.Ordinal);
        using (var reference = EmitLab.FromPlan(after))
        {
            foreach (var node in nodes)
            {
                var r = reference.Run(node, "apply.sh");
                Assert.True(r.ExitCode == 0, r.StdErr);
            }
            macs.UnionWith(BuiltState.RandomMacs(reference));
            foreach (var node in nodes) fresh[node] = BuiltState.Normalized(reference, node);
        }

        using var lab = EmitLab.FromPlan(before);
        foreach (var node in nodes)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
        }
        var afterwards = applied(lab);
        lab.Switch(after, new EmittedTree(ProvisioningEmitter.Emit(after)));
        foreach (var node in nodes)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
            Assert.DoesNotContain("removed 0 leftovers", r.StdOut, StringComparison.Ordinal);
        }
        macs.UnionWith(BuiltState.RandomMacs(lab));
        foreach (var node in nodes)
        {
            var want = BuiltState.Canonical(fresh[node], macs);
            var got = BuiltState.Canonical(BuiltState.Normalized(lab, node), macs);
            if (want != got) Assert.Fail($"re-applied node {node} differs from a first apply of the new topology:\n{Snapshot.Diff(want, got)}");
        }
        afterwards();
        foreach (var node in nodes)
            Assert.Contains("created 0 namespaces and devices, changed 0 rule sets, removed 0 leftovers", lab.Run(node, "apply.sh").StdOut, StringComparison.Ordinal);
        foreach (var node in nodes)
        {
            Assert.True(lab.Run(node, "teardown.sh").ExitCode == 0);
            Assert.Empty(lab.Created(node));
        }
    }

    /// <summary>
    /// The teardown of a changed topology, run without re-applying it first, also removes what the earlier version's apply
    /// made (the journal lists it): before, the namespaces of a removed service stayed.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_of_a_changed_topology_removes_what_the_earlier_version_made()
    {
        var text = File.ReadAllText(Paths.Example);
        var before = Example(text.Replace("\nservices:\n", "\n  backend:\n    driver: overlay\n    subnet: 10.20.0.0/24\n\nservices:\n  api:\n    replicas: 2\n    networks: [backend]\n", StringComparison.Ordinal));
        var after = Example(text);
        using var lab = EmitLab.FromPlan(before);
        foreach (var node in new[] { "manager", "worker" }) Assert.True(lab.Run(node, "apply.sh").ExitCode == 0);
        Assert.Contains(lab.Created("manager"), n => n.EndsWith("api.1", StringComparison.Ordinal) || n.EndsWith("api.2", StringComparison.Ordinal));
        lab.Switch(after, new EmittedTree(ProvisioningEmitter.Emit(after)));
        foreach (var node in new[] { "manager", "worker" })
        {
            var r = lab.Run(node, "teardown.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
            Assert.Empty(lab.Created(node));
            var links = Sh(lab.NodeNs[node], "ip", "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(": ")[1].Split('@')[0]).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(new[] { "eth0", "lo" }, links);
        }
    }

    /// <summary>
    /// An overlay whose VNI changed (a tester removed another network, which renumbered the derived VNIs) gets its VXLAN
    /// device made again on re-apply: before, the old device was kept with the old VNI and apply said "done".
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_changed_vni_makes_the_vxlan_device_again_on_reapply()
    {
        var text = File.ReadAllText(Paths.Example);
        Assert.Contains("vni: 4096", text, StringComparison.Ordinal);
        var before = Example(text);
        var after = Example(text.Replace("vni: 4096", "vni: 4200", StringComparison.Ordinal));
        using var lab = EmitLab.FromPlan(before);
        foreach (var node in new[] { "manager", "worker" }) Assert.True(lab.Run(node, "apply.sh").ExitCode == 0);
        lab.Switch(after, new EmittedTree(ProvisioningEmitter.Emit(after)));
        foreach (var node in new[] { "manager", "worker" })
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
            Assert.DoesNotContain("created 0 ", r.StdOut, StringComparison.Ordinal);
        }
        EmitScenario.AssertBuilt(lab);
        foreach (var node in new[] { "manager", "worker" })
            Assert.Contains("created 0 namespaces and devices", lab.Run(node, "apply.sh").StdOut, StringComparison.Ordinal);
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_stops_when_the_underlay_lacks_its_address()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        HostLinux.Run("ip", "-n", lab.NodeNs["worker"], "addr", "flush", "dev", "eth0").EnsureSuccess("flush");
        var r = lab.Run("worker", "apply.sh");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("underlay interface eth0 does not carry 10.7.191.9/24", r.StdErr, StringComparison.Ordinal);
        Assert.Empty(lab.Created("worker"));
        var teardown = lab.Run("worker", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
    }

    /// <summary>
    /// The state directory goes with teardown only when apply made it: one the administrator made beforehand stays (found
    /// by a tester, session 18: an empty one was removed).
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_removes_the_state_directory_only_when_apply_made_it()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        System.IO.Directory.CreateDirectory(lab.StateDir);
        Assert.True(lab.Run("worker", "apply.sh").ExitCode == 0);
        Assert.True(lab.Run("worker", "teardown.sh").ExitCode == 0);
        Assert.True(System.IO.Directory.Exists(lab.StateDir), "teardown removed a state directory it did not make");
        Assert.Empty(System.IO.Directory.EnumerateFileSystemEntries(lab.StateDir));
        System.IO.Directory.Delete(lab.StateDir);
        Assert.True(lab.Run("worker", "apply.sh").ExitCode == 0);
        Assert.True(lab.Run("worker", "teardown.sh").ExitCode == 0);
        Assert.False(System.IO.Directory.Exists(lab.StateDir), "teardown left the state directory apply made");
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_keeps_foreign_rules_and_teardown_leaves_them()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        // An administrator's own rules in the same built-in chains.
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-A", "FORWARD", "-s", "192.0.2.1", "-j", "DROP").EnsureSuccess("foreign filter rule");
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE").EnsureSuccess("foreign nat rule");
        for (int i = 0; i < 2; i++) Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        var saved = Sh(m, "iptables-save");
        Assert.Contains("-A FORWARD -s 192.0.2.1/32 -j DROP", saved, StringComparison.Ordinal);
        Assert.Single(saved.Split('\n'), l => l.StartsWith("-A FORWARD", StringComparison.Ordinal) && l.EndsWith("-j DOCKER-USER", StringComparison.Ordinal));
        Assert.True(lab.Run("manager", "teardown.sh").ExitCode == 0);
        var left = Sh(m, "iptables-save").Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();
        Assert.Equal(new[] { "-A FORWARD -s 192.0.2.1/32 -j DROP", "-A POSTROUTING -o eth0 -j MASQUERADE" }, left);
    }
    /// <summary>
    /// iptables-nft makes the ip tables and base chains a rules file names when they are missing, and keeps them when the
    /// rules go: teardown deletes those apply's rules made, now empty, and keeps the ones that were there before (an empty
    /// base chain of the administrator's, a table of their own) and any made chain that holds a rule added since. The host's
    /// nft ruleset after teardown is the one before apply (found by a tester: empty nat and filter chains stayed).
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_deletes_the_empty_tables_and_base_chains_iptables_nft_made_and_keeps_the_ones_it_found()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        var w = lab.NodeNs["worker"];
        if (!Sh(m, "iptables", "-V").Contains("nf_tables", StringComparison.Ordinal)) return; // iptables-legacy keeps every table anyway
        // The manager's administrator has an nat table with one empty base chain, and a table of their own.
        HostLinux.Run("ip", "netns", "exec", m, "nft", "add table ip nat").EnsureSuccess("nat table");
        HostLinux.Run("ip", "netns", "exec", m, "nft", "add chain ip nat POSTROUTING { type nat hook postrouting priority srcnat; policy accept; }").EnsureSuccess("their chain");
        HostLinux.Run("ip", "netns", "exec", m, "nft", "add table ip theirs").EnsureSuccess("their table");
        HostLinux.Run("ip", "netns", "exec", m, "nft", "add chain ip theirs input { type filter hook input priority 0; policy accept; }").EnsureSuccess("their input");
        string Ruleset(string ns) => Sh(ns, "nft", "list", "ruleset");
        var before = Ruleset(m);
        var workerBefore = Ruleset(w);
        for (int i = 0; i < 2; i++)
        {
            var applied = lab.Run("manager", "apply.sh");
            Assert.True(applied.ExitCode == 0, applied.StdErr);
        }
        var workerApplied = lab.Run("worker", "apply.sh");
        Assert.True(workerApplied.ExitCode == 0, workerApplied.StdErr);
        Assert.Contains("chain PREROUTING", Ruleset(m), StringComparison.Ordinal);
        // On the worker, after apply: a rule of someone else's in a base chain apply's rules made (its first match a
        // comment, which nft lists indented by one more space), one in a chain apply did not make, and a table of
        // someone else's with an empty base chain.
        void Worker(params string[] args) => HostLinux.Run("ip", new[] { "netns", "exec", w }.Concat(args).ToArray()).EnsureSuccess(string.Join(" ", args));
        Worker("iptables", "-A", "FORWARD", "-m", "comment", "--comment", "admin: keep", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP");
        Worker("iptables", "-A", "INPUT", "-s", "192.0.2.7", "-j", "DROP");
        Worker("nft", "add table ip later");
        Worker("nft", "add chain ip later pre { type filter hook prerouting priority -300; policy accept; }");
        var r = lab.Run("manager", "teardown.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Equal(before, Ruleset(m));
        r = lab.Run("worker", "teardown.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var workerAfter = Ruleset(w);
        Assert.NotEqual(workerBefore, workerAfter);
        Assert.Contains("ct state invalid", workerAfter, StringComparison.Ordinal);
        Assert.Contains("admin: keep", Sh(w, "iptables-save"), StringComparison.Ordinal);
        Assert.Contains("chain FORWARD", workerAfter, StringComparison.Ordinal);
        Assert.Contains("chain INPUT", workerAfter, StringComparison.Ordinal);
        Assert.Contains("192.0.2.7", workerAfter, StringComparison.Ordinal);
        Assert.Contains("table ip later", workerAfter, StringComparison.Ordinal);
        Assert.Contains("chain pre", workerAfter, StringComparison.Ordinal);
        // What apply made for the nat rules alone is all gone.
        Assert.DoesNotContain("table ip nat", workerAfter, StringComparison.Ordinal);
    }

    /// <summary>
    /// A Docker host's own chains (filter and nat DOCKER holding docker0's rules, nat DOCKER-INGRESS holding a published
    /// port's DNAT and its RETURN, an empty filter DOCKER-INGRESS and DOCKER-USER) keep their rules through apply and
    /// re-apply, get ours at their top (without our closing RETURN, which would hide theirs), and outlive teardown exactly
    /// as they were; a chain an earlier version of the topology made goes with the teardown of a later one. Found by two
    /// reviewers: apply flushed those chains (docker0's port mappings gone), teardown deleted them, the earlier version's
    /// chain stayed, and a found chain got our RETURN above its own rules. <paramref name="olderJournal"/>: the host's
    /// state is an older apply's, which noted no "iptmine" (it took every such chain for its own).
    /// </summary>
    [NetnsTheory("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    [InlineData(false)]
    [InlineData(true)]
    public void A_docker_hosts_own_chains_keep_their_rules_and_outlive_teardown(bool olderJournal)
    {
        var text = File.ReadAllText(Paths.Example);
        var earlier = Example(text + "\nrules:\n  - { node: manager, chain: INPUT, rule: \"-j SWTEST\" }\n  - { node: manager, chain: SWTEST, rule: \"-s 192.0.2.9 -j DROP\" }\n");
        using var lab = EmitLab.FromPlan(earlier);
        var m = lab.NodeNs["manager"];
        void Ipt(params string[] args) => HostLinux.Run("ip", new[] { "netns", "exec", m, "iptables" }.Concat(args).ToArray()).EnsureSuccess(string.Join(" ", args));
        Ipt("-N", "DOCKER");
        Ipt("-A", "DOCKER", "-d", "172.17.0.2/32", "!", "-i", "docker0", "-o", "docker0", "-p", "tcp", "--dport", "80", "-j", "ACCEPT");
        Ipt("-t", "nat", "-N", "DOCKER");
        Ipt("-t", "nat", "-A", "DOCKER", "-i", "docker0", "-j", "RETURN");
        Ipt("-t", "nat", "-N", "DOCKER-INGRESS");
        Ipt("-t", "nat", "-A", "DOCKER-INGRESS", "-p", "tcp", "--dport", "9000", "-j", "DNAT", "--to-destination", "172.18.0.2:9000");
        Ipt("-t", "nat", "-A", "DOCKER-INGRESS", "-j", "RETURN");
        Ipt("-N", "DOCKER-INGRESS");
        Ipt("-N", "DOCKER-USER");
        if (olderJournal)
        {
            Directory.CreateDirectory(lab.StateDir);
            File.WriteAllText(Path.Combine(lab.StateDir, lab.Prefix("manager") + "two-node.manager.state"), "ipt\t-\tmade\n");
        }
        // iptables-save without counters and its dated comments.
        string Save() => string.Join("\n", Sh(m, "iptables-save").Split('\n')
            .Where(l => !l.StartsWith('#')).Select(l => l.StartsWith(':') ? l.Split(' ')[0] + " " + l.Split(' ')[1] : l));
        var before = Save();
        const string dockerRule = "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT";
        for (int i = 0; i < 2; i++)
        {
            var r = lab.Run("manager", "apply.sh");
            Assert.True(r.ExitCode == 0, r.StdErr);
        }
        var applied = Save();
        Assert.Contains(dockerRule, applied, StringComparison.Ordinal);
        Assert.Contains("-A DOCKER -i docker0 -j RETURN", applied, StringComparison.Ordinal);
        Assert.Contains("-A SWTEST -s 192.0.2.9/32", applied, StringComparison.Ordinal);
        // Ours first in the filter DOCKER chain, docker0's after them.
        var docker = applied.Split("*filter")[1].Split("COMMIT")[0].Split('\n').Where(l => l.StartsWith("-A DOCKER ", StringComparison.Ordinal)).ToList();
        Assert.True(docker.Count > 1 && docker[^1] == dockerRule, string.Join("\n", docker));
        // In nat DOCKER-INGRESS: our DNATs, then Docker's DNAT and RETURN, and no RETURN of ours above them.
        var ingress = applied.Split("*nat")[1].Split("COMMIT")[0].Split('\n').Where(l => l.StartsWith("-A DOCKER-INGRESS ", StringComparison.Ordinal)).ToList();
        Assert.True(ingress.Count > 2 && ingress[^2].Contains("--dport 9000 -j DNAT", StringComparison.Ordinal) && ingress[^1] == "-A DOCKER-INGRESS -j RETURN", string.Join("\n", ingress));
        Assert.All(ingress.SkipLast(2), l => Assert.Contains("swarmdsl:", l, StringComparison.Ordinal));
        Assert.DoesNotContain(ingress, l => l.Contains("swarmdsl:", StringComparison.Ordinal) && l.EndsWith("-j RETURN", StringComparison.Ordinal));
        var again = lab.Run("manager", "apply.sh");
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Equal(applied, Save());

        // The later version has no SWTEST; its teardown removes the chain the earlier one made, and nothing of Docker's.
        var later = Example(text);
        lab.Switch(later, new EmittedTree(ProvisioningEmitter.Emit(later)));
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Equal(before, Save());
    }

    /// <summary>
    /// A host sysctl whose write does not take (net.core.rmem_max is read-only outside the first network namespace, and
    /// sysctl exits 0 there) is warned about and not journaled, so teardown does not write back a value apply never
    /// changed. Found by a reviewer: the journal kept it and teardown printed sysctl's own "Invalid argument".
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_sysctl_apply_could_not_change_is_not_put_back_by_teardown()
    {
        var text = File.ReadAllText(Paths.Example).Replace("    interface: eth0              # default eth0\n",
            "    interface: eth0              # default eth0\n    sysctls:\n      net.core.rmem_max: 26214400\n", StringComparison.Ordinal);
        using var lab = EmitLab.FromPlan(Example(text));
        var m = lab.NodeNs["manager"];
        var was = Sh(m, "sysctl", "-n", "net.core.rmem_max").Trim();
        Assert.NotEqual("26214400", was);
        var applied = lab.Run("manager", "apply.sh");
        Assert.True(applied.ExitCode == 0, applied.StdErr);
        Assert.Contains("warning: cannot set sysctl net.core.rmem_max=26214400 in namespace host; skipped", applied.StdErr, StringComparison.Ordinal);
        var state = string.Concat(Directory.GetFiles(lab.StateDir, "*.state").Select(File.ReadAllText));
        Assert.DoesNotContain("net.core.rmem_max", state, StringComparison.Ordinal);
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Equal("", teardown.StdErr);
        Assert.Equal(was, Sh(m, "sysctl", "-n", "net.core.rmem_max").Trim());
    }

    /// <summary>
    /// One apply or teardown of a node at a time: while another holds the node's lock, apply stops before changing anything
    /// and says why; the last teardown removes the lock with the state. A reviewer's note: two runs interleaved their
    /// changes and journal writes.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "flock")]
    public void A_second_run_on_a_node_stops_while_another_holds_its_lock()
    {
        using var lab = EmitLab.FromPlan(Example(File.ReadAllText(Paths.Example)));
        Directory.CreateDirectory(lab.StateDir);
        var lockFile = Path.Combine(lab.StateDir, lab.Prefix("manager") + "two-node.manager.state.lock");
        var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("flock", new[] { "-o", lockFile, "sleep", "60" }))!;
        try
        {
            for (int i = 0; i < 50 && !File.Exists(lockFile); i++) System.Threading.Thread.Sleep(100);
            System.Threading.Thread.Sleep(200);
            var blocked = lab.Run("manager", "apply.sh");
            Assert.NotEqual(0, blocked.ExitCode);
            Assert.Contains("another apply or teardown of node manager is running", blocked.StdErr, StringComparison.Ordinal);
            Assert.Empty(lab.Created("manager"));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
        var applied = lab.Run("manager", "apply.sh");
        Assert.True(applied.ExitCode == 0, applied.StdErr);
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.False(File.Exists(lockFile));
    }

    /// <summary>
    /// apply finds the files beside it when CDPATH is exported (cd then prints the directory, and HERE held it twice, so
    /// every file was "missing"). Found by a reviewer.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_runs_with_cdpath_exported()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        // Run by a relative path from the tree's root, as `bash manager/apply.sh`: cd consults CDPATH only for such a name.
        var r = HostLinux.Run("nsenter", new[] { "--net=/run/netns/" + lab.NodeNs["manager"], "--", "bash", "-c", "cd \"$1\" && bash manager/apply.sh", "_", lab.Tree.Root },
            env: new Dictionary<string, string>
            {
                ["SWARMDSL_NETNS_PREFIX"] = lab.Prefix("manager"),
                ["SWARMDSL_STATE_DIR"] = lab.StateDir,
                ["CDPATH"] = ".",
            }, timeoutMs: 300_000);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.True(lab.Run("manager", "teardown.sh").ExitCode == 0);
    }

    /// <summary>
    /// A docker_gwbridge that was on the host before the first apply (a Docker host's own) is reused by apply and left by
    /// teardown as it was found (address, MTU, down); one apply made is removed (the other tests' teardowns). Found by a
    /// tester: teardown deleted it; then it kept apply's address, MTU and up state.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void A_host_bridge_that_was_there_before_apply_outlives_teardown()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        HostLinux.Run("ip", "-n", m, "link", "add", "docker_gwbridge", "mtu", "1400", "type", "bridge").EnsureSuccess("pre-existing bridge");
        HostLinux.Run("ip", "-n", m, "address", "add", "192.0.2.1/24", "dev", "docker_gwbridge").EnsureSuccess("its address");
        string State() => Sh(m, "ip", "-o", "-4", "addr", "show", "dev", "docker_gwbridge").Split('\n')
            .Where(l => l.Length > 0).Select(l => l.Split(" inet ")[1].Split(' ')[0]).Aggregate("", (a, b) => a + b + " ")
            + Sh(m, "ip", "-o", "link", "show", "dev", "docker_gwbridge").Split(" qdisc")[0].Split(": ", 2)[1];
        var found = State();
        Assert.Equal("192.0.2.1/24 docker_gwbridge: <BROADCAST,MULTICAST> mtu 1400", found);
        for (int i = 0; i < 2; i++) Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        Assert.NotEqual(found, State());
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Empty(lab.Created("manager"));
        // As the first apply found it: its own address only, its MTU, and down.
        Assert.Equal(found, State());
    }

    /// <summary>
    /// DOCKER-USER is the administrator's chain (Docker never flushes it): a rule put there survives a second apply, and a
    /// foreign jump to one of our chains no longer makes teardown fail as a whole (it removed nothing and left every
    /// namespace); the chain it cannot delete stays, with a warning. Both found by a tester.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Docker_user_keeps_the_administrators_rules_and_a_foreign_jump_does_not_stop_teardown()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-I", "DOCKER-USER", "-s", "198.51.100.7", "-j", "DROP").EnsureSuccess("admin rule");
        var again = lab.Run("manager", "apply.sh");
        Assert.True(again.ExitCode == 0, again.StdErr);
        Assert.Contains("-A DOCKER-USER -s 198.51.100.7/32 -j DROP", Sh(m, "iptables-save"), StringComparison.Ordinal);

        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-A", "INPUT", "-j", "DOCKER-INGRESS").EnsureSuccess("foreign jump");
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Contains("chain filter/DOCKER-INGRESS kept", teardown.StdErr, StringComparison.Ordinal);
        Assert.Empty(lab.Created("manager"));
        var left = Sh(m, "iptables-save");
        Assert.DoesNotContain("swarmdsl:", left, StringComparison.Ordinal);
        Assert.Contains("-A DOCKER-USER -s 198.51.100.7/32 -j DROP", left, StringComparison.Ordinal);
        Assert.DoesNotContain(":DOCKER-FORWARD", left, StringComparison.Ordinal);
    }

    /// <summary>
    /// Teardown on a host apply never ran on (no state) removes nothing it did not make: a Docker host's own docker_gwbridge
    /// and its DOCKER-INGRESS chains (filter and nat, with their rules and the jumps to them) stay exactly as they were.
    /// Found by an audit: teardown flushed and deleted the chains and deleted the bridge.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_without_apply_leaves_a_docker_hosts_bridge_and_chains()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        HostLinux.Run("ip", "-n", m, "link", "add", "docker_gwbridge", "type", "bridge").EnsureSuccess("docker's bridge");
        HostLinux.Run("ip", "-n", m, "address", "add", "172.18.0.1/16", "dev", "docker_gwbridge").EnsureSuccess("its address");
        var docker = string.Join("\n",
            "*filter", ":DOCKER-INGRESS - [0:0]", "-A FORWARD -j DOCKER-INGRESS", "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j ACCEPT",
            "-A DOCKER-INGRESS -j RETURN", "COMMIT",
            "*nat", ":DOCKER-INGRESS - [0:0]", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS",
            "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080", "-A DOCKER-INGRESS -j RETURN", "COMMIT", "");
        HostLinux.Run("ip", new[] { "netns", "exec", m, "iptables-restore", "--noflush" }, docker).EnsureSuccess("docker's chains");
        string Rules() => string.Join("\n", Sh(m, "iptables-save").Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal) || l.StartsWith(":", StringComparison.Ordinal)).Select(l => l.Split(" [")[0]));
        string Bridge() => Sh(m, "ip", "-o", "-4", "addr", "show", "dev", "docker_gwbridge").Split(" inet ")[1].Split(' ')[0];
        var rules = Rules();
        Assert.Contains("-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080", rules, StringComparison.Ordinal);

        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Equal(rules, Rules());
        Assert.Equal("172.18.0.1/16", Bridge());
    }

    /// <summary>
    /// A rule the administrator adds to one of our chains after apply outlives teardown: our rules go, the chain stays
    /// (with a warning) holding only theirs. Before, teardown flushed every chain it owns.
    /// </summary>
    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_keeps_a_foreign_rule_in_an_owned_chain()
    {
        using var lab = EmitLab.FromPlan(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var m = lab.NodeNs["manager"];
        Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-t", "nat", "-I", "DOCKER-INGRESS", "-s", "198.51.100.7", "-j", "RETURN").EnsureSuccess("admin rule");
        var teardown = lab.Run("manager", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
        Assert.Contains("chain nat/DOCKER-INGRESS kept", teardown.StdErr, StringComparison.Ordinal);
        Assert.Empty(lab.Created("manager"));
        var left = Sh(m, "iptables-save");
        Assert.DoesNotContain("swarmdsl:", left, StringComparison.Ordinal);
        Assert.Equal(new[] { "-A DOCKER-INGRESS -s 198.51.100.7/32 -j RETURN" }, left.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)));
    }
}

public class DropPolicyTests
{
    /// <summary>The hand plan with the host's filter FORWARD policy set to DROP (as Docker 28 does when it enables forwarding).</summary>
    private static DataplanePlan WithForwardDrop()
    {
        var plan = HandPlans.TwoNode(LoadBalancerBackend.Nftables);
        HostPlan Fix(HostPlan h) => h with
        {
            Namespaces = h.Namespaces.Select(ns => ns.Kind != NamespaceKind.Host ? ns : ns with
            {
                Tables = ns.Tables.Select(t => t.Name != "filter" ? t : t with
                {
                    Chains = t.Chains.Select(c => c.Name == "FORWARD" ? c with { Policy = Verdict.Drop } : c).ToEquatableArray(),
                }).ToEquatableArray(),
            }).ToEquatableArray(),
        };
        return plan with { Hosts = plan.Hosts.Select(Fix).ToEquatableArray() };
    }

    [Fact]
    public void A_drop_policy_is_written_and_remembered()
    {
        var files = ProvisioningEmitter.Emit(WithForwardDrop());
        Assert.Contains(":FORWARD DROP [0:0]", files.Single(f => f.Path == "manager/iptables-host.rules").Content, StringComparison.Ordinal);
        Assert.Contains("remember_policy filter FORWARD\n", files.Single(f => f.Path == "manager/apply.sh").Content, StringComparison.Ordinal);
        // A namespace the scripts create never gets an ACCEPT line: policies are only tightened.
        Assert.DoesNotContain(" ACCEPT [0:0]", files.Single(f => f.Path == "manager/iptables-web.1.rules").Content, StringComparison.Ordinal);
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Teardown_puts_the_previous_policy_back()
    {
        using var lab = EmitLab.FromPlan(WithForwardDrop());
        var m = lab.NodeNs["manager"];
        HostLinux.Run("ip", "netns", "exec", m, "iptables", "-P", "FORWARD", "ACCEPT").EnsureSuccess("policy");
        for (int i = 0; i < 2; i++) Assert.True(lab.Run("manager", "apply.sh").ExitCode == 0);
        Assert.Contains(":FORWARD DROP", EmitScenario.Sh(m, "iptables-save", "-t", "filter"), StringComparison.Ordinal);
        var r = lab.Run("manager", "teardown.sh");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains(":FORWARD ACCEPT", EmitScenario.Sh(m, "iptables-save", "-t", "filter"), StringComparison.Ordinal);
    }
}
