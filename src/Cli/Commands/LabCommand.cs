using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using SwarmDsl.Cli.Lab;
using SwarmDsl.Plan;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl lab up|verify|down FILE [--prefix P]</c>: build the topology in network namespaces on this machine, send real
/// traffic through it and compare with the simulation, and remove it again. Exit 0 agree / 4 disagree / 1 failed / 2 usage.
/// </summary>
internal static class LabCommand
{
    /// <summary>Exit code of <c>verify</c> when the kernel and the simulation disagree.</summary>
    public const int Disagree = 4;

    /// <summary>Connections per published port when <c>--count</c> is not given.</summary>
    public const int DefaultConnections = 4;

    public static Command Create(CliIo io)
    {
        var cmd = new Command("lab", "Build the topology in network namespaces on this Linux machine, verify it with real traffic against the simulation, and remove it.");
        cmd.Subcommands.Add(Up(io));
        cmd.Subcommands.Add(Verify(io));
        cmd.Subcommands.Add(Down(io));
        cmd.Subcommands.Add(Serve(io));
        return cmd;
    }

    private static Argument<string> FileArgument() => new("FILE") { Description = "topology file (*.swarm.yaml)" };

    private static Option<string> PrefixOption() => new("--prefix")
    {
        Description = "prefix of every namespace and of the state directory /run/swarmdsl-lab/<P>",
        DefaultValueFactory = _ => LabNames.DefaultPrefix,
    };

    private static LabNames Names(string prefix)
    {
        if (!LabNames.IsValidPrefix(prefix, out var error)) throw new CliUsageException(error);
        return new LabNames(prefix);
    }

    /// <summary>Stops with one clear line unless this is Linux, root, and every tool is there.</summary>
    private static bool Preflight(IEnumerable<string> tools, CliIo io)
    {
        if (!OperatingSystem.IsLinux()) { io.Error.WriteLine("swarmdsl: error: the lab needs Linux (network namespaces)"); return false; }
        if (!Environment.IsPrivilegedProcess) { io.Error.WriteLine("swarmdsl: error: the lab needs root (it creates network namespaces)"); return false; }
        var missing = tools.Where(t => !HostCommand.HasTool(t)).ToList();
        if (missing.Count > 0) { io.Error.WriteLine("swarmdsl: error: the lab needs these tools: " + string.Join(", ", missing)); return false; }
        return true;
    }

    private static Command Up(CliIo io)
    {
        var file = FileArgument();
        var prefix = PrefixOption();
        var lb = new Option<string>("--lb") { Description = "load balancer backend: auto (ipvs when the kernel has it, else nftables), ipvs or nftables", DefaultValueFactory = _ => "auto" };
        lb.AcceptOnlyFromAmong("auto", "ipvs", "nftables");
        var cmd = new Command("up", "Build the topology: underlay fabric, node namespaces, external client, each node's apply.sh, and a responder in every task.") { file, prefix, lb };
        cmd.SetAction(parse =>
        {
            var names = Names(parse.GetValue(prefix)!);
            var backend = parse.GetValue(lb) switch
            {
                "ipvs" => LoadBalancerBackend.Ipvs,
                "nftables" => LoadBalancerBackend.Nftables,
                _ => LabContext.KernelHasIpvs ? LoadBalancerBackend.Ipvs : LoadBalancerBackend.Nftables,
            };
            if (backend == LoadBalancerBackend.Ipvs && !LabContext.KernelHasIpvs)
            {
                io.Error.WriteLine("swarmdsl: error: --lb ipvs, but this kernel has no IPVS (/proc/net/ip_vs is missing); use --lb nftables");
                return Program.Failed;
            }
            if (!Preflight(LabUp.Tools(backend), io)) return Program.Failed;
            var lab = LabContext.Load(parse.GetValue(file)!, backend, names, io);
            return lab is null ? Program.Failed : LabUp.Run(lab, io);
        });
        return cmd;
    }

    private static Command Verify(CliIo io)
    {
        var file = FileArgument();
        var prefix = PrefixOption();
        var count = new Option<int>("--count") { Description = "connections per published port and protocol", DefaultValueFactory = _ => DefaultConnections };
        var noTrace = new Option<bool>("--no-trace") { Description = "skip the nft monitor trace comparison of sampled packets" };
        var cmd = new Command("verify", "Send real connections from the external client to every published port and compare what answered, the netfilter path of sampled packets, and an over-MTU packet with the simulation.")
        {
            file, prefix, count, noTrace,
        };
        cmd.SetAction(parse =>
        {
            var names = Names(parse.GetValue(prefix)!);
            int n = parse.GetValue(count);
            if (n < 1 || n > 1000) throw new CliUsageException($"--count must be from 1 to 1000, not {n.ToString(CultureInfo.InvariantCulture)}");
            var journal = LabJournal.Open(names);
            if (!journal.Complete)
            {
                io.Error.WriteLine($"swarmdsl: error: lab '{names.Prefix}' is not up (no complete journal in {journal.Dir}); run 'swarmdsl lab up' first");
                return Program.Failed;
            }
            var backend = journal.Backend == "ipvs" ? LoadBalancerBackend.Ipvs : LoadBalancerBackend.Nftables;
            var tools = new List<string> { "ip", "nsenter", "conntrack" };
            tools.Add(backend == LoadBalancerBackend.Ipvs ? "ipvsadm-restore" : "nft");
            if (!parse.GetValue(noTrace)) tools.Add("nft");
            if (!Preflight(tools.Distinct(StringComparer.Ordinal), io) || !OperatingSystem.IsLinux()) return Program.Failed;
            var lab = LabContext.Load(parse.GetValue(file)!, backend, names, io);
            if (lab is null) return Program.Failed;
            return new LabVerify(lab, journal, io, n, !parse.GetValue(noTrace)).Run();
        });
        return cmd;
    }

    private static Command Down(CliIo io)
    {
        var file = FileArgument();
        var prefix = PrefixOption();
        var cmd = new Command("down", "Remove every namespace, process and link of the lab prefix (also after a failed or interrupted up), and nothing else.") { file, prefix };
        cmd.SetAction(parse =>
        {
            var names = Names(parse.GetValue(prefix)!);
            if (!Preflight(new[] { "ip", "kill", "stat" }, io)) return Program.Failed;
            // The file names the nodes (so their namespaces are found by name); when it no longer compiles, the journal has them.
            var nodes = new List<string>();
            var loaded = TopologyLoader.Load(parse.GetValue(file)!, new CliIo(System.IO.TextWriter.Null, System.IO.TextWriter.Null));
            if (loaded?.Topology is { } topology) nodes.AddRange(topology.Nodes.Select(n => n.Name));
            else if (!LabJournal.Open(names).Exists)
                io.Error.WriteLine($"swarmdsl: warning: {parse.GetValue(file)} does not compile and lab '{names.Prefix}' has no journal, so its node names are unknown: only {names.Fabric} and {names.Client} can be found");
            return LabDown.Run(names, nodes, io);
        });
        return cmd;
    }

    private static Command Serve(CliIo io)
    {
        var name = new Option<string>("--name") { Description = "the task name to answer with", Required = true };
        var tcp = new Option<int[]>("--tcp") { Description = "TCP port to listen on", AllowMultipleArgumentsPerToken = false };
        var udp = new Option<int[]>("--udp") { Description = "UDP port to listen on", AllowMultipleArgumentsPerToken = false };
        var pidFile = new Option<string?>("--pid-file") { Description = "written once every port is bound" };
        var cmd = new Command("serve", "A lab task's application: answers every TCP connection and UDP datagram with the task name.")
        {
            name, tcp, udp, pidFile,
        };
        cmd.Hidden = true;
        cmd.SetAction(parse =>
        {
            var t = parse.GetValue(tcp) ?? Array.Empty<int>();
            var u = parse.GetValue(udp) ?? Array.Empty<int>();
            if (t.Concat(u).Any(p => p < 1 || p > 65535)) throw new CliUsageException("ports must be from 1 to 65535");
            if (t.Length + u.Length == 0) throw new CliUsageException("lab serve needs at least one --tcp or --udp port");
            return LabResponder.Serve(parse.GetValue(name)!, t, u, parse.GetValue(pidFile), io);
        });
        return cmd;
    }
}
