using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// Emitted scripts run on the real kernel: one namespace per node on an underlay fabric, an external client, each node's
/// scripts entered with <c>nsenter --net</c> and <c>SWARMDSL_NETNS_PREFIX=&lt;node namespace&gt;-</c>; everything is deleted on Dispose.
/// </summary>
public sealed class EmitLab : IDisposable
{
    private readonly List<Process> _listeners = new();
    private readonly List<EmittedTree> _oldTrees = new();

    /// <summary>A lab over files emitted into <paramref name="tree"/> (owned: deleted on Dispose).</summary>
    public EmitLab(DataplanePlan plan, EmittedTree tree)
    {
        Plan = plan;
        Tree = tree;
        StateDir = tree.PathOf("state");
        Scratch = new ScratchNamespaces();
        try
        {
            Fabric = new UnderlayFabric(Scratch);
            foreach (var h in plan.Hosts) NodeNs[h.Node] = Fabric.AddNode(h.Node, h.UnderlayInterface, h.UnderlayAddress.ToString(), plan.Underlay.Mtu);
            Client = Fabric.AddNode("client", "eth0", plan.Underlay.ExternalClient + "/" + plan.Underlay.Subnet.PrefixLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch
        {
            Scratch.Dispose();
            Tree.Dispose();
            throw;
        }
    }

    /// <summary>A lab over the files ProvisioningEmitter writes for <paramref name="plan"/>.</summary>
    public static EmitLab FromPlan(DataplanePlan plan) => new(plan, new EmittedTree(ProvisioningEmitter.Emit(plan)));

    public DataplanePlan Plan { get; private set; }
    public EmittedTree Tree { get; private set; }

    /// <summary>SWARMDSL_STATE_DIR of every script run (kept when the topology changes).</summary>
    public string StateDir { get; }

    /// <summary>A changed topology over the same namespaces: later runs use <paramref name="tree"/>'s scripts (owned).</summary>
    public void Switch(DataplanePlan plan, EmittedTree tree)
    {
        _oldTrees.Add(Tree);
        Plan = plan;
        Tree = tree;
    }
    public ScratchNamespaces Scratch { get; }
    public UnderlayFabric Fabric { get; }
    public Dictionary<string, string> NodeNs { get; } = new(StringComparer.Ordinal);
    public string Client { get; }

    public string Prefix(string node) => NodeNs[node] + "-";

    public ProcessResult Run(string node, string script)
        => UnderlayFabric.RunScript(NodeNs[node], Tree.PathOf(node + "/" + script), new Dictionary<string, string>
        {
            ["SWARMDSL_NETNS_PREFIX"] = Prefix(node),
            ["SWARMDSL_STATE_DIR"] = StateDir,
        });

    /// <summary>The namespaces apply made for <paramref name="node"/>.</summary>
    public IReadOnlyList<string> Created(string node) => Scratch.Existing().Where(n => n.StartsWith(Prefix(node), StringComparison.Ordinal)).ToList();

    /// <summary>
    /// Starts a TCP listener answering its name in a namespace (killed on Dispose), and returns once it listens: socat binds
    /// its port a while after it starts (far longer than a fixed pause on a busy machine), and a connection before that is
    /// refused.
    /// </summary>
    public void Listen(string ns, int port, string answer)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns, "socat", $"TCP-LISTEN:{port},fork,reuseaddr", "SYSTEM:printf " + answer })
            psi.ArgumentList.Add(a);
        var listener = Process.Start(psi)!;
        _listeners.Add(listener);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (ScratchNamespaces.Exec(ns, "ss", new[] { "-H", "-l", "-t", "-n", $"sport = :{port}" }).StdOut.Trim().Length == 0)
        {
            if (listener.HasExited)
                throw new InvalidOperationException($"socat listening on {ns}:{port} exited {listener.ExitCode}: {listener.StandardError.ReadToEnd()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"socat did not listen on {ns}:{port} within 60 s");
            System.Threading.Thread.Sleep(20);
        }
    }

    public void Dispose()
    {
        foreach (var p in _listeners)
        {
            try { p.Kill(entireProcessTree: true); p.WaitForExit(5000); } catch (InvalidOperationException) { }
            p.Dispose();
        }
        Scratch.Dispose();
        Tree.Dispose();
        foreach (var t in _oldTrees) t.Dispose();
    }
}

/// <summary>
/// The contract of the scripts, checked on the real kernel for any plan: apply builds what the plan says (namespaces,
/// devices, addresses, every iptables rule with its comment, nft tables), a second apply succeeds and changes nothing,
/// clients reach the published ports, a vanished task namespace is repaired by apply, teardown leaves nothing, and a
/// second teardown succeeds.
/// </summary>
public static class EmitScenario
{
    private static readonly System.Text.RegularExpressions.Regex Timers = new(@"\b\w+_timer\s+[\d.]+", System.Text.RegularExpressions.RegexOptions.Compiled);

    // Rule counters are traffic, not configuration: a packet that happens to cross the node between the two snapshots
    // changes them without changing what is provisioned (that re-apply keeps them is checked after traffic, exactly).
    private static readonly System.Text.RegularExpressions.Regex Counters = new(@"counter packets \d+ bytes \d+", System.Text.RegularExpressions.RegexOptions.Compiled);

    public static string Sh(string ns, params string[] args) => ScratchNamespaces.Exec(ns, args[0], args.Skip(1)).StdOut;

    // A bridge's operational state goes from UNKNOWN to UP when the kernel's link watch sees its ports, asynchronously (within
    // about a second): when the listing is taken decides which it shows, not what was built. A link set down still shows DOWN.
    private static readonly System.Text.RegularExpressions.Regex BridgeState = new(@"state (UNKNOWN|UP) ", System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>Everything apply controls in a node's namespace and the namespaces it made, as text.</summary>
    public static string Dataplane(EmitLab lab, string node)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var ns in new[] { lab.NodeNs[node] }.Concat(lab.Created(node)))
        {
            sb.Append("== ").Append(ns).Append('\n');
            void Add(string title, string file, params string[] args)
            {
                var r = ScratchNamespaces.Exec(ns, file, args);
                sb.Append("-- ").Append(title).Append('\n');
                foreach (var line in r.StdOut.Split('\n'))
                    if (!line.StartsWith('#')) sb.Append(BridgeState.Replace(Counters.Replace(Timers.Replace(line, ""), "counter"), "state UP|UNKNOWN ")).Append('\n');
            }
            Add("links", "ip", "-d", "link", "show");
            Add("addresses", "ip", "-4", "addr", "show");
            Add("routes", "ip", "route", "show");
            Add("neighbours", "ip", "neigh", "show", "nud", "permanent");
            Add("fdb", "bridge", "fdb", "show");
            Add("iptables", "iptables-save");
            Add("nft", "nft", "list", "ruleset");
            Add("forwarding", "sysctl", "net.ipv4.ip_forward");
        }
        return sb.ToString();
    }

    // A swarmdsl rule that counted at least one packet, in iptables-save -c form.
    private static readonly System.Text.RegularExpressions.Regex CountedMarkedRule = new(@"(?m)^\[[1-9]\d*:\d+\] -A .*swarmdsl:", System.Text.RegularExpressions.RegexOptions.Compiled);

    /// <summary>The netfilter state of a node's namespaces with counters: <c>iptables-save -c</c> and <c>nft list ruleset</c>.</summary>
    public static string Netfilter(EmitLab lab, string node)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var ns in new[] { lab.NodeNs[node] }.Concat(lab.Created(node)))
        {
            sb.Append("== ").Append(ns).Append('\n');
            foreach (var line in Sh(ns, "iptables-save", "-c").Split('\n'))
                if (!line.StartsWith('#')) sb.Append(line).Append('\n'); // the header and trailer carry the time
            sb.Append(Sh(ns, "nft", "list", "ruleset"));
        }
        return sb.ToString();
    }

    /// <summary>The kernel namespace of plan namespace <paramref name="ns"/> on <paramref name="host"/>.</summary>
    public static string KernelNs(EmitLab lab, HostPlan host, NamespacePlan ns)
        => ns.Kind == NamespaceKind.Host ? lab.NodeNs[host.Node] : lab.Prefix(host.Node) + ns.Name;

    /// <summary>Asserts that the kernel holds what the plan says.</summary>
    public static void AssertBuilt(EmitLab lab)
    {
        foreach (var host in lab.Plan.Hosts)
        {
            var expectedNs = host.Namespaces.Where(n => n.Kind != NamespaceKind.Host).Select(n => lab.Prefix(host.Node) + n.Name).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(expectedNs, lab.Created(host.Node));
            foreach (var ns in host.Namespaces)
            {
                var kns = KernelNs(lab, host, ns);
                foreach (var d in ns.Devices)
                {
                    var link = Sh(kns, "ip", "-d", "link", "show", "dev", d.Name);
                    Assert.True(link.Length > 0, $"{host.Node}/{ns.Name}: no device {d.Name}");
                    if (d.Kind != DeviceKind.Physical && d.Kind != DeviceKind.Loopback) Assert.Contains($" mtu {d.Mtu} ", link, StringComparison.Ordinal);
                    if (d.Mac is Net.MacAddress mac) Assert.Contains("link/ether " + mac, link, StringComparison.Ordinal);
                    if (d.Master is string master) Assert.Contains("master " + master, link, StringComparison.Ordinal);
                    if (d.Vxlan is { } vx) Assert.Contains($"vxlan id {vx.Vni} ", link, StringComparison.Ordinal);
                }
                var addrs = Sh(kns, "ip", "-4", "addr", "show");
                foreach (var a in ns.Addresses) Assert.Contains("inet " + a.Address + " ", addrs, StringComparison.Ordinal);
                if (ns.Tables.Any(t => t.Chains.Any(c => c.Rules.Count > 0)))
                {
                    var saved = Sh(kns, "iptables-save").Split('\n');
                    foreach (var table in ns.Tables)
                    {
                        var section = saved.SkipWhile(l => l != "*" + table.Name).TakeWhile(l => l != "COMMIT").ToList();
                        foreach (var chain in table.Chains)
                        {
                            var want = chain.Rules.Select(r => IptablesSyntax.Format(r, chain.Name, RuleComments.For(lab.Plan.Topology, r))).ToList();
                            var got = section.Where(l => l.StartsWith("-A " + chain.Name + " ", StringComparison.Ordinal)).ToList();
                            if (!want.SequenceEqual(got))
                                Assert.Fail($"{host.Node}/{ns.Name} {table.Name} {chain.Name}:\n{Snapshot.Diff(string.Join("\n", want), string.Join("\n", got))}");
                        }
                    }
                }
                if (lab.Plan.Backend == LoadBalancerBackend.Nftables && ns.NftLoadBalancers.Count > 0)
                    Assert.Contains("dnat to", Sh(kns, "nft", "list", "table", "ip", NftablesEmitter.Table), StringComparison.Ordinal);
            }
        }
    }

    /// <summary>Runs the whole contract; <paramref name="published"/> are (node address, port) pairs a client must reach a task through.</summary>
    public static void ApplyTwiceTrafficRepairTeardown(EmitLab lab, IReadOnlyList<(string Address, int Port)> published)
    {
        var nodes = lab.Plan.Hosts.Select(h => h.Node).ToList();
        var forwardingBefore = nodes.ToDictionary(n => n, n => Sh(lab.NodeNs[n], "sysctl", "-n", "net.ipv4.ip_forward").Trim());

        foreach (var node in nodes)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, $"apply {node}: {r.StdErr}\n{r.StdOut}");
            Assert.DoesNotContain("error", r.StdErr, StringComparison.Ordinal);
        }
        AssertBuilt(lab);

        // Second apply: succeeds and changes nothing.
        var before = nodes.ToDictionary(n => n, n => Dataplane(lab, n));
        foreach (var node in nodes)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, $"second apply {node}: {r.StdErr}");
            Assert.Contains("created 0 namespaces and devices, changed 0 rule sets", r.StdOut, StringComparison.Ordinal);
        }
        foreach (var node in nodes)
        {
            var after = Dataplane(lab, node);
            if (after != before[node]) Assert.Fail($"second apply changed node {node}:\n{Snapshot.Diff(before[node], after)}");
        }

        // Traffic from the external client through every published port; every task answers somewhere.
        var tasks = new List<string>();
        foreach (var h in lab.Plan.Hosts)
            foreach (var ns in h.Namespaces.Where(n => n.Kind == NamespaceKind.Task))
                foreach (var l in ns.Listeners.Where(l => l.Protocol == Net.IpProtocol.Tcp))
                {
                    lab.Listen(lab.Prefix(h.Node) + ns.Name, l.Port, ns.Name);
                    tasks.Add(ns.Name);
                }
        var answers = new List<string>();
        foreach (var (address, port) in published)
            for (int i = 0; i < 2 * Math.Max(1, tasks.Count); i++)
            {
                var r = ScratchNamespaces.Exec(lab.Client, "socat", new[] { "-T", "5", "-", $"TCP:{address}:{port},connect-timeout=5" }, stdin: "");
                answers.Add($"{address}:{port} -> {r.StdOut.Trim()}" + (r.ExitCode == 0 ? "" : $" (exit {r.ExitCode}: {r.StdErr.Trim()})"));
            }
        var summary = string.Join("\n", answers);
        Assert.True(answers.All(a => tasks.Any(t => a.EndsWith("-> " + t, StringComparison.Ordinal))), summary);
        foreach (var (address, port) in published)
            foreach (var t in tasks)
                Assert.True(answers.Contains($"{address}:{port} -> {t}"), $"{t} never answered through {address}:{port}:\n{summary}");

        // Re-apply after traffic: nothing is replaced, so every rule keeps its counters (iptables-save -c and the nftables
        // ruleset, iptables-nft's tables included, are byte for byte the same) and apply reports no change.
        var counted = nodes.ToDictionary(n => n, n => Netfilter(lab, n));
        Assert.True(counted.Values.Any(t => CountedMarkedRule.IsMatch(t)), "no swarmdsl rule counted the traffic:\n" + string.Join("\n", counted.Values));
        foreach (var node in nodes)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, $"apply after traffic {node}: {r.StdErr}");
            Assert.Contains("created 0 namespaces and devices, changed 0 rule sets", r.StdOut, StringComparison.Ordinal);
            var after = Netfilter(lab, node);
            if (after != counted[node]) Assert.Fail($"re-apply touched the rules of node {node}:\n{Snapshot.Diff(counted[node], after)}");
        }

        // Half-applied: a task namespace vanished; apply repairs it.
        var victimHost = lab.Plan.Hosts.First(h => h.Namespaces.Any(n => n.Kind == NamespaceKind.Task));
        var victim = victimHost.Namespaces.First(n => n.Kind == NamespaceKind.Task);
        HostLinux.Run("ip", "netns", "del", lab.Prefix(victimHost.Node) + victim.Name).EnsureSuccess("delete " + victim.Name);
        var repair = lab.Run(victimHost.Node, "apply.sh");
        Assert.True(repair.ExitCode == 0, repair.StdErr);
        AssertBuilt(lab);

        // Teardown: nothing apply made is left; a second teardown has nothing to do.
        foreach (var host in lab.Plan.Hosts)
        {
            var node = host.Node;
            var r = lab.Run(node, "teardown.sh");
            Assert.True(r.ExitCode == 0, $"teardown {node}: {r.StdErr}");
            Assert.Empty(lab.Created(node));
            var links = Sh(lab.NodeNs[node], "ip", "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(": ")[1].Split('@')[0]).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(new[] { host.UnderlayInterface, "lo" }.OrderBy(x => x, StringComparer.Ordinal), links);
            var rules = Sh(lab.NodeNs[node], "iptables-save");
            Assert.DoesNotContain("swarmdsl", rules, StringComparison.Ordinal);
            foreach (var (table, chain) in host.Namespaces.Where(n => n.Kind == NamespaceKind.Host).SelectMany(IptablesRestoreEmitter.OwnedChains))
                Assert.DoesNotContain(":" + chain + " ", rules, StringComparison.Ordinal);
            Assert.Equal(forwardingBefore[node], Sh(lab.NodeNs[node], "sysctl", "-n", "net.ipv4.ip_forward").Trim());
            var again = lab.Run(node, "teardown.sh");
            Assert.True(again.ExitCode == 0, again.StdErr);
            Assert.Contains("removed 0 ", again.StdOut, StringComparison.Ordinal);
        }
        var state = lab.StateDir;
        Assert.False(System.IO.Directory.Exists(state) && System.IO.Directory.EnumerateFileSystemEntries(state).Any(), "state left in " + state);
    }
}
