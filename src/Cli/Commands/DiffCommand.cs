using System;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Cli.Lab;
using SwarmDsl.Plan;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl diff FILE NODE --live [--netns NS] [--prefix P] [--netns-prefix X] [--lb ipvs|nftables]</c>: drift detection.
/// Reads the node's live state (links, addresses, routes, neighbours, FDB, iptables, nftables, IPVS, sysctls) and lists
/// what is missing, extra or changed against the plan, per namespace. Exit 0 no drift, 4 drift, 1 cannot read, 2 usage.
/// </summary>
internal static class DiffCommand
{
    /// <summary>Exit code when the live node differs from the plan.</summary>
    public const int Drifted = 4;

    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file (*.swarm.yaml)" };
        var node = new Argument<string>("NODE") { Description = "the node to compare" };
        var live = new Option<bool>("--live") { Description = "compare with the live kernel state of this machine (required: the only comparison diff makes today)" };
        var netns = new Option<string?>("--netns") { Description = "the named network namespace standing for the node's host (default: this process's own namespace)" };
        var prefix = new Option<string?>("--prefix") { Description = "a lab prefix: the node is <P><node>, its namespaces <P><node>-<name>" };
        var netnsPrefix = new Option<string?>("--netns-prefix") { Description = "the SWARMDSL_NETNS_PREFIX the node's scripts ran with (default empty)" };
        var lb = new Option<string?>("--lb") { Description = "the load balancer backend the node was built with: ipvs or nftables (default: the lab's, else ipvs when this kernel has IPVS, else nftables)" };
        lb.AcceptOnlyFromAmong("ipvs", "nftables");
        var cmd = new Command("diff", "Drift detection: compare a node's live namespaces (links, addresses, routes, neighbours, FDB, iptables, nftables, IPVS, sysctls) with the plan.")
        {
            file, node, live, netns, prefix, netnsPrefix, lb,
        };
        cmd.SetAction(parse =>
        {
            if (!parse.GetValue(live)) throw new CliUsageException("diff compares a node with this machine's live state: add --live");
            var p = parse.GetValue(prefix);
            var ns = parse.GetValue(netns);
            var np = parse.GetValue(netnsPrefix);
            if (p is not null && (ns is not null || np is not null)) throw new CliUsageException("--prefix names the lab's namespaces; it does not go with --netns or --netns-prefix");
            if (p is not null && !LabNames.IsValidPrefix(p, out var prefixError)) throw new CliUsageException(prefixError);
            if (ns is not null && !LabNames.IsValidPrefix(ns, out _)) throw new CliUsageException("--netns must be a namespace name (letters, digits, '_', '.', '-')");
            if (np is not null && np.Length > 0 && !LabNames.IsValidPrefix(np, out _)) throw new CliUsageException("--netns-prefix may hold only letters, digits, '_', '.' and '-'");
            if (!OperatingSystem.IsLinux()) { io.Error.WriteLine("swarmdsl: error: diff --live reads Linux network namespaces"); return Program.Failed; }
            if (!Environment.IsPrivilegedProcess) { io.Error.WriteLine("swarmdsl: error: diff --live needs root (it reads netfilter state and enters namespaces)"); return Program.Failed; }
            var missing = new[] { "ip", "nsenter", "sh" }.Where(t => !HostCommand.HasTool(t)).ToList();
            if (missing.Count > 0) { io.Error.WriteLine("swarmdsl: error: diff --live needs these tools: " + string.Join(", ", missing)); return Program.Failed; }

            var backendText = parse.GetValue(lb);
            if (backendText is null && p is not null) backendText = LabJournal.Open(new LabNames(p)).Backend;
            var backend = backendText switch
            {
                "ipvs" => LoadBalancerBackend.Ipvs,
                "nftables" => LoadBalancerBackend.Nftables,
                _ => LabContext.KernelHasIpvs ? LoadBalancerBackend.Ipvs : LoadBalancerBackend.Nftables,
            };
            var plan = PlanLoader.Load(parse.GetValue(file)!, TopologyLoader.Lowering(backend), io);
            if (plan is null) return Program.Failed;
            var nodeName = parse.GetValue(node)!;
            var host = plan.Hosts.FirstOrDefault(h => h.Node == nodeName)
                ?? throw new CliUsageException($"no node '{nodeName}' in {plan.Topology} (nodes: {string.Join(", ", plan.Hosts.Select(h => h.Node))})");

            NodeLocation where;
            if (p is not null)
            {
                var names = new LabNames(p);
                where = new NodeLocation(names.Node(host.Node), names.NodeNetnsPrefix(host.Node), OwnsHost: true);
                if (!System.IO.File.Exists(HostCommand.NetnsPath(names.Node(host.Node))))
                {
                    io.Error.WriteLine($"swarmdsl: error: lab '{p}' has no namespace {names.Node(host.Node)}: is the lab up?");
                    return Program.Failed;
                }
            }
            else where = new NodeLocation(ns, np ?? "", OwnsHost: false);

            var drifts = DriftDetector.Compare(plan, host, where, out var error);
            if (error.Length > 0) { io.Error.WriteLine("swarmdsl: error: " + error); return Program.Failed; }
            io.Out.Write(Render(plan, host, where, backend, drifts));
            return drifts.Any(d => d.IsDrift) ? Drifted : Program.Ok;
        });
        return cmd;
    }

    private static string Render(DataplanePlan plan, HostPlan host, NodeLocation where, LoadBalancerBackend backend, System.Collections.Generic.List<Drift> drifts)
    {
        var sb = new StringBuilder();
        sb.Append("diff ").Append(plan.Topology).Append(' ').Append(host.Node).Append(" against the live node (host namespace ")
            .Append(where.HostNetns ?? "of this process").Append(", load balancing with ").Append(backend == LoadBalancerBackend.Ipvs ? "ipvs" : "nftables").Append(")\n");
        var order = host.Namespaces.Select(n => n.Name).Concat(drifts.Select(d => d.Namespace)).Distinct(StringComparer.Ordinal).ToList();
        foreach (var ns in order)
        {
            var mine = drifts.Where(d => d.Namespace == ns).ToList();
            var netns = where.Netns(ns);
            sb.Append("namespace ").Append(ns).Append(netns is null ? "" : " (" + netns + ")");
            if (mine.Count == 0) { sb.Append(": no drift\n"); continue; }
            sb.Append(mine.Any(d => d.IsDrift) ? ":\n" : ": no drift\n");
            foreach (var d in mine)
                sb.Append("  ").Append(d.Change.PadRight(8)).Append(' ').Append(d.Subject).Append(d.Detail.Length > 0 ? ": " + d.Detail : "").Append('\n');
        }
        var real = drifts.Where(d => d.IsDrift).ToList();
        sb.Append(real.Count == 0
            ? "no drift: " + host.Node + " matches the plan\n"
            : "drift: " + real.Count.ToString(CultureInfo.InvariantCulture) + " difference(s) in " + real.Select(d => d.Namespace).Distinct(StringComparer.Ordinal).Count().ToString(CultureInfo.InvariantCulture) + " namespace(s)\n");
        return sb.ToString();
    }
}
