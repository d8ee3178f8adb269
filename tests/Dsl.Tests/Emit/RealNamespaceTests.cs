using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
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
    private static readonly string[] Tools = { "ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "socat" };

    /// <summary>A scripted run of one plan on a fabric.</summary>
    public sealed class Lab : IDisposable
    {
        private readonly List<Process> _listeners = new();

        public Lab(DataplanePlan plan)
        {
            Plan = plan;
            Tree = new EmittedTree(ProvisioningEmitter.Emit(plan));
            Scratch = new ScratchNamespaces();
            Fabric = new UnderlayFabric(Scratch);
            foreach (var h in plan.Hosts) NodeNs[h.Node] = Fabric.AddNode(h.Node, h.UnderlayInterface, h.UnderlayAddress.ToString(), plan.Underlay.Mtu);
            Client = Fabric.AddNode("client", "eth0", plan.Underlay.ExternalClient + "/" + plan.Underlay.Subnet.PrefixLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        public DataplanePlan Plan { get; }
        public EmittedTree Tree { get; }
        public ScratchNamespaces Scratch { get; }
        public UnderlayFabric Fabric { get; }
        public Dictionary<string, string> NodeNs { get; } = new(StringComparer.Ordinal);
        public string Client { get; }

        public string Prefix(string node) => NodeNs[node] + "-";

        public ProcessResult Run(string node, string script)
            => UnderlayFabric.RunScript(NodeNs[node], Tree.PathOf(node + "/" + script), new Dictionary<string, string>
            {
                ["SWARMDSL_NETNS_PREFIX"] = Prefix(node),
                ["SWARMDSL_STATE_DIR"] = Tree.PathOf("state"),
            });

        /// <summary>The namespaces apply made for <paramref name="node"/>.</summary>
        public IReadOnlyList<string> Created(string node) => Scratch.Existing().Where(n => n.StartsWith(Prefix(node), StringComparison.Ordinal)).ToList();

        /// <summary>Starts a TCP listener answering its name in a namespace (killed on Dispose).</summary>
        public void Listen(string ns, int port, string answer)
        {
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "netns", "exec", ns, "socat", $"TCP-LISTEN:{port},fork,reuseaddr", "SYSTEM:printf " + answer })
                psi.ArgumentList.Add(a);
            _listeners.Add(Process.Start(psi)!);
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
        }
    }

    private static readonly Regex Timers = new(@"\b\w+_timer\s+[\d.]+", RegexOptions.Compiled);

    /// <summary>Everything apply controls in a node namespace and the namespaces it made, as text.</summary>
    private static string Dataplane(Lab lab, string node)
    {
        var sb = new StringBuilder();
        foreach (var ns in new[] { lab.NodeNs[node] }.Concat(lab.Created(node)))
        {
            sb.Append("== ").Append(ns).Append('\n');
            void Add(string title, string file, params string[] args)
            {
                var r = ScratchNamespaces.Exec(ns, file, args);
                sb.Append("-- ").Append(title).Append('\n');
                foreach (var line in r.StdOut.Split('\n'))
                    if (!line.StartsWith('#')) sb.Append(Timers.Replace(line, "")).Append('\n');
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

    private static string Sh(string ns, params string[] args) => ScratchNamespaces.Exec(ns, args[0], args.Skip(1)).StdOut;

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "socat")]
    public void Apply_twice_then_teardown_on_real_namespaces()
    {
        using var lab = new Lab(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        var forwardingBefore = Sh(lab.NodeNs["manager"], "sysctl", "-n", "net.ipv4.ip_forward").Trim();

        // First apply.
        foreach (var node in lab.NodeNs.Keys)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, $"apply {node}: {r.StdErr}\n{r.StdOut}");
            Assert.DoesNotContain("error", r.StdErr, StringComparison.Ordinal);
        }
        var m = lab.NodeNs["manager"];
        var p = lab.Prefix("manager");
        Assert.Equal(new[] { p + "1-ingress", p + "ingress_sbox", p + "web.1" }, lab.Created("manager"));
        var vxlan = Sh(p + "1-ingress", "ip", "-d", "link", "show", "vxlan0");
        Assert.Contains("vxlan id 4096", vxlan, StringComparison.Ordinal);
        Assert.Contains("dstport 4789", vxlan, StringComparison.Ordinal);
        Assert.Contains("proxy l2miss l3miss", vxlan, StringComparison.Ordinal);
        Assert.Contains("master br0", vxlan, StringComparison.Ordinal);
        Assert.Contains("link/ether 02:42:0a:ff:00:02", Sh(p + "ingress_sbox", "ip", "link", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("inet 10.255.0.4/32", Sh(p + "ingress_sbox", "ip", "addr", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("02:42:0a:ff:00:06 dst 10.7.191.9", Sh(p + "1-ingress", "bridge", "fdb", "show", "dev", "vxlan0"), StringComparison.Ordinal);
        Assert.Contains("master docker_gwbridge", Sh(m, "ip", "link", "show", "veth157550a"), StringComparison.Ordinal);
        var hostRules = Sh(m, "iptables-save");
        Assert.Contains("-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -m comment --comment \"swarmdsl:two-node:two-node.swarm.yaml:44:9 services.web.ports[0]\" -j DNAT --to-destination 172.18.0.2:8080", hostRules, StringComparison.Ordinal);
        Assert.Contains("numgen inc mod 2", Sh(p + "ingress_sbox", "nft", "list", "table", "ip", "swarmdsl"), StringComparison.Ordinal);
        Assert.Equal("1", Sh(m, "sysctl", "-n", "net.ipv4.ip_forward").Trim());

        // Second apply: succeeds and changes nothing.
        var before = lab.NodeNs.Keys.ToDictionary(n => n, n => Dataplane(lab, n));
        foreach (var node in lab.NodeNs.Keys)
        {
            var r = lab.Run(node, "apply.sh");
            Assert.True(r.ExitCode == 0, $"second apply {node}: {r.StdErr}");
            Assert.Contains("created 0 ", r.StdOut, StringComparison.Ordinal);
        }
        foreach (var node in lab.NodeNs.Keys)
        {
            var after = Dataplane(lab, node);
            if (after != before[node]) Assert.Fail($"second apply changed node {node}:\n{Snapshot.Diff(before[node], after)}");
        }

        // Traffic: an external client reaches the service through either node's published port, and both tasks answer.
        foreach (var h in lab.Plan.Hosts)
            foreach (var ns in h.Namespaces.Where(n => n.Kind == NamespaceKind.Task))
                lab.Listen(lab.Prefix(h.Node) + ns.Name, 80, ns.Name);
        System.Threading.Thread.Sleep(300);
        var answers = new List<string>();
        foreach (var target in new[] { "10.7.191.10", "10.7.191.9" })
            for (int i = 0; i < 4; i++)
            {
                var r = ScratchNamespaces.Exec(lab.Client, "socat", new[] { "-T", "5", "-", $"TCP:{target}:8080,connect-timeout=5" }, stdin: "");
                answers.Add(target + " -> " + r.StdOut.Trim() + (r.ExitCode == 0 ? "" : " (exit " + r.ExitCode + ": " + r.StdErr.Trim() + ")"));
            }
        var summary = string.Join("\n", answers);
        Assert.All(answers, a => Assert.Matches(@"-> web\.[12]$", a));
        Assert.Contains(answers, a => a.StartsWith("10.7.191.10 -> web.1", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.StartsWith("10.7.191.10 -> web.2", StringComparison.Ordinal));
        _ = summary;

        // Half-applied: a task namespace vanished (its veths with it); apply repairs it.
        HostLinux.Run("ip", "netns", "del", p + "web.1").EnsureSuccess("delete web.1");
        var repair = lab.Run("manager", "apply.sh");
        Assert.True(repair.ExitCode == 0, repair.StdErr);
        Assert.Contains("inet 10.255.0.5/16", Sh(p + "web.1", "ip", "addr", "show", "eth0"), StringComparison.Ordinal);
        Assert.Contains("master docker_gwbridge", Sh(m, "ip", "link", "show", "veth2698d47"), StringComparison.Ordinal);

        // Teardown: everything apply made is gone; a second teardown has nothing to do.
        foreach (var node in lab.NodeNs.Keys)
        {
            var r = lab.Run(node, "teardown.sh");
            Assert.True(r.ExitCode == 0, $"teardown {node}: {r.StdErr}");
            Assert.Empty(lab.Created(node));
            var links = Sh(lab.NodeNs[node], "ip", "-o", "link", "show");
            Assert.Equal(new[] { "eth0", "lo" }, links.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(": ")[1].Split('@')[0]).OrderBy(x => x, StringComparer.Ordinal));
            var rules = Sh(lab.NodeNs[node], "iptables-save");
            Assert.DoesNotContain("swarmdsl", rules, StringComparison.Ordinal);
            Assert.DoesNotContain(":DOCKER", rules, StringComparison.Ordinal);
            var again = lab.Run(node, "teardown.sh");
            Assert.True(again.ExitCode == 0, again.StdErr);
            Assert.Contains("removed 0 ", again.StdOut, StringComparison.Ordinal);
        }
        Assert.Equal(forwardingBefore, Sh(m, "sysctl", "-n", "net.ipv4.ip_forward").Trim());
        Assert.False(System.IO.Directory.Exists(lab.Tree.PathOf("state")) && System.IO.Directory.EnumerateFiles(lab.Tree.PathOf("state")).Any());
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk")]
    public void Apply_stops_when_the_underlay_lacks_its_address()
    {
        using var lab = new Lab(HandPlans.TwoNode(LoadBalancerBackend.Nftables));
        HostLinux.Run("ip", "-n", lab.NodeNs["worker"], "addr", "flush", "dev", "eth0").EnsureSuccess("flush");
        var r = lab.Run("worker", "apply.sh");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("underlay interface eth0 does not carry 10.7.191.9/24", r.StdErr, StringComparison.Ordinal);
        Assert.Empty(lab.Created("worker"));
        var teardown = lab.Run("worker", "teardown.sh");
        Assert.True(teardown.ExitCode == 0, teardown.StdErr);
    }
}
