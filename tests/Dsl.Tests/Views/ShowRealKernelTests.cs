using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>
/// Holds every view to the real tool: a host of a plan is built in scratch namespaces by the emitted apply.sh (<see cref="AppliedHost"/>) and each
/// command's real output is compared with the view's. Only what the kernel draws at random or counts at run time is
/// normalised: the MAC of a bridge without ports, the pre-existing underlay NIC (a veth here, a real NIC on a host), the
/// bridge's garbage-collection timer, interface counters, the hash order of neighbour and FDB tables, and IPv6 multicast
/// FDB entries (IPv6 is not modelled).
/// </summary>
public class ShowRealKernelTests
{
    // brctl (bridge-utils) and netstat (net-tools) are older tools a minimal host may lack: their views are compared when present.
    private static readonly bool HasBrctl = HostLinux.HasTool("brctl");
    private static readonly bool HasNetstat = HostLinux.HasTool("netstat");

    // This kernel has no IPVS, so the emitted scripts run with the nftables backend (IPVS views are snapshot-tested only).
    [NetnsFact("ip", "bridge", "iptables", "iptables-save", "iptables-restore", "sysctl", "nft", "nsenter")]
    public void Views_match_the_real_tools_for_the_hand_made_plan() => CompareHost(HandMadePlans.Lab() with { Backend = LoadBalancerBackend.Nftables }, "lab");

    [NetnsFact("ip", "bridge", "iptables", "iptables-save", "iptables-restore", "sysctl", "nft", "nsenter")]
    public void Views_match_the_real_tools_for_the_example_manager() => CompareHost(ExamplePlans.Nftables(), "manager");

    [NetnsFact("ip", "bridge", "iptables", "iptables-save", "iptables-restore", "sysctl", "nft", "nsenter")]
    public void Views_match_the_real_tools_for_the_example_worker() => CompareHost(ExamplePlans.Nftables(), "worker");

    /// <summary>
    /// The kernel sets a bridge's operational state asynchronously (linkwatch, up to about a second after its first port
    /// came up), while the views describe the settled state: wait until every bridge with ports reports UP (at most 5 s),
    /// so the comparison does not depend on how fast the machine applied the plan.
    /// </summary>
    private static void WaitForBridgeStates(AppliedHost realizer, HostPlan host, LinkTable links)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        foreach (var ns in host.Namespaces)
            foreach (var bridge in ns.Devices.Where(d => d.Kind == DeviceKind.Bridge && links.Ports(ns.Name, d.Name).Count > 0))
                while (!ScratchNamespaces.Exec(realizer.Netns(ns.Name), "ip", new[] { "-o", "link", "show", "dev", bridge.Name }).StdOut.Contains(" state UP ", StringComparison.Ordinal)
                    && DateTime.UtcNow < deadline)
                    System.Threading.Thread.Sleep(50);
    }

    private static void CompareHost(DataplanePlan source, string node)
    {
        using var scratch = new ScratchNamespaces();
        var realizer = new AppliedHost(scratch, source, node);
        realizer.Apply();
        var plan = realizer.Plan;
        var host = realizer.Host;
        var options = realizer.Options;
        var links = LinkTable.Build(plan, host);
        var failures = new List<string>();
        WaitForBridgeStates(realizer, host, links);

        foreach (var ns in host.Namespaces)
        {
            var netns = realizer.Netns(ns.Name);
            var normalize = Normalizer(netns, links, ns, scratch.Prefix);
            void Check(string[] command, bool sortLines = false)
            {
                var view = ShowCommandLine.Run(plan, host, ns, command, options);
                var real = ScratchNamespaces.Exec(netns, command[0], command.Skip(1));
                var want = normalize(real.StdOut, command);
                var got = normalize(view.Output, command);
                if (sortLines)
                {
                    want = SortLines(want);
                    got = SortLines(got);
                }
                if (view.ExitCode != real.ExitCode || want != got)
                    failures.Add($"{ns.Name}: {string.Join(" ", command)} (exit view {view.ExitCode}, real {real.ExitCode} {real.StdErr.Trim()})\n{Snapshot.Diff(want, got)}");
            }

            Check(new[] { "ip", "addr" });
            Check(new[] { "ip", "-4", "addr", "show" });
            Check(new[] { "ip", "link" });
            Check(new[] { "ip", "route" });
            Check(new[] { "ip", "neigh" }, sortLines: true);
            Check(new[] { "bridge", "fdb", "show" }, sortLines: true);
            if (HasBrctl) Check(new[] { "brctl", "show" });
            foreach (var link in links.Links(ns.Name))
            {
                Check(new[] { "ip", "addr", "show", "dev", link.Name });
                Check(new[] { "ip", "route", "show", "dev", link.Name });
                Check(new[] { "ip", "neigh", "show", "dev", link.Name }, sortLines: true);
                if (link.Device.Kind != DeviceKind.Physical) Check(new[] { "ip", "-d", "link", "show", link.Name });
                if (HasBrctl && link.Device.Kind == DeviceKind.Bridge) Check(new[] { "brctl", "showmacs", link.Name });
                Check(new[] { "bridge", "fdb", "show", "dev", link.Name }, sortLines: true);
            }
            foreach (var table in new[] { "filter", "nat", "mangle", "raw" })
            {
                Check(new[] { "iptables", "-t", table, "-L", "-n" });
                Check(new[] { "iptables", "-t", table, "-L", "-n", "-v", "--line-numbers" });
                Check(new[] { "iptables", "-t", table, "-nvxL" });
                Check(new[] { "iptables", "-t", table, "-S" });
            }
            Check(new[] { "iptables-save" });
            if (HasNetstat) Check(new[] { "netstat", "-i" });
            foreach (var s in ns.Sysctls)
                if (realizer.SetSysctls.Contains((ns.Name, s.Key))) Check(new[] { "sysctl", s.Key });
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string SortLines(string text) =>
        string.Join("\n", text.Split('\n').Where(l => l.Length > 0).OrderBy(l => l, StringComparer.Ordinal)) + "\n";

    private static Func<string, string[], string> Normalizer(string netns, LinkTable links, NamespacePlan ns, string prefix)
    {
        var physical = links.Links(ns.Name).Where(l => l.Device.Kind == DeviceKind.Physical).Select(l => l.Name).ToList();
        // A bridge without ports and without a MAC of its own keeps the random MAC the kernel drew: map it to ours.
        var macMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var br in links.Links(ns.Name).Where(l => l.Device.Kind == DeviceKind.Bridge && l.Device.Mac is null && links.Ports(ns.Name, l.Name).Count == 0))
        {
            var real = HostLinux.Run("ip", "-n", netns, "link", "show", "dev", br.Name).StdOut;
            var m = Regex.Match(real, "link/ether ([0-9a-f:]{17})");
            if (m.Success) macMap[m.Groups[1].Value] = br.Mac.ToString();
        }
        return (text, command) =>
        {
            foreach (var kv in macMap)
            {
                text = text.Replace(kv.Key, kv.Value);
                text = text.Replace(kv.Key.Replace(":", ""), kv.Value.Replace(":", ""));
            }
            var lines = text.Split('\n').ToList();
            for (int i = 0; i < lines.Count; i++)
            {
                var line = lines[i];
                foreach (var dev in physical)
                {
                    // The pre-existing underlay NIC: the host's own (qdisc, peer) here a veth into the underlay namespace.
                    if (Regex.IsMatch(line, @"^\d+: " + Regex.Escape(dev) + @"(@\S+)?: "))
                    {
                        line = Regex.Replace(line, @"^(\d+: " + Regex.Escape(dev) + @")@\S+:", "$1:");
                        line = Regex.Replace(line, @" qdisc \S+", " qdisc *");
                        line = Regex.Replace(line, @" link-netns " + Regex.Escape(prefix) + @"-ul\b", "");
                        if (i + 1 < lines.Count) lines[i + 1] = Regex.Replace(lines[i + 1], @" link-netns " + Regex.Escape(prefix) + @"-ul\b", "");
                    }
                }
                line = Regex.Replace(line, @"(gc_timer|forward_delay_timer) +\d+\.\d+", "$1 *");
                // Packet counters: traffic the kernel sends by itself (IGMP reports) counts too.
                if (command[0] == "iptables" && command.Any(c => c.Contains('v')))
                {
                    line = Regex.Replace(line, @"\(policy (\w+) \d+ packets, \d+ bytes\)", "(policy $1 * packets, * bytes)");
                    line = Regex.Replace(line, @"^(\d+\s+)?\s*\d+[KMGT]?\s+\d+[KMGT]?\s", "$1* * ");
                }
                if (command[0] == "iptables-save") line = Regex.Replace(line, @"\[\d+:\d+\]$", "[*:*]");
                if (command[0] == "netstat" && !line.StartsWith("Iface", StringComparison.Ordinal) && !line.StartsWith("Kernel", StringComparison.Ordinal))
                    line = Regex.Replace(line, @"^(\S+\s+\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+", "$1 counters");
                if (command[0] == "iptables-save" && line.StartsWith("#", StringComparison.Ordinal)) line = "";
                lines[i] = line;
            }
            var result = string.Join("\n", lines.Where(l => !(command[0] == "iptables-save" && l.Length == 0)));
            if (command[0] == "bridge")
                result = string.Join("\n", result.Split('\n').Where(l => !l.StartsWith("33:33:", StringComparison.Ordinal)));
            return result;
        };
    }
}
