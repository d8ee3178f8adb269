using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.State;
using SwarmDsl.Semantics;
using SwarmDsl.Views;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl show FILE NODE [NAMESPACE] -- COMMAND...</c>: answers a read-only Linux command (<c>ip addr</c>,
/// <c>iptables -L -n</c>, ...) from the compiled plan, in the tool's own output format. The tool's exit code and streams are
/// passed through; a command <c>show</c> does not answer exits 2 with one line naming those it does (their forms are in
/// <c>show --help</c>, and follow the line with <c>--verbose</c>). A <c>sysctl KEY</c> the topology does not set exits 1 with
/// one <c>swarmdsl: error:</c> line: the plan cannot tell such a key from one the kernel lacks, so it is not sysctl's own
/// "cannot stat" error.
/// With <c>--from SRC --to DST [--count N] [--seed S]</c> the connections are first run through the packet simulation
/// (handshake and replies, as <c>trace</c> runs them), and counters and connection tables (<c>conntrack -L</c>,
/// <c>ipvsadm -L -n --stats</c>, <c>ipvsadm -L -n -c</c>, <c>netstat -i</c>) answer from the state they left.
/// </summary>
internal static class ShowCommand
{
    public static Command Create(CliIo io)
    {
        var args = new Argument<string[]>("ARGS")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "FILE NODE [NAMESPACE] -- COMMAND... (NAMESPACE defaults to host)",
        };
        var lb = new Option<string>("--lb") { Description = "load balancing backend the plan uses: ipvs (default) or nftables" };
        var prefix = new Option<string>("--netns-prefix") { Description = "SWARMDSL_NETNS_PREFIX the scripts were applied with (namespace names in link-netns)" };
        var hostNetns = new Option<string>("--host-netns") { Description = "name of the node's host namespace when it is a named namespace (the lab)" };
        // It stands for the kernel's num_possible_cpus(), which a veth turns into its queue count, capped at 4096 (veth.c,
        // the limit rtnl_create_link enforces): a machine has at least one CPU, and more than 4096 would show the same.
        var cpus = new Option<int?>("--possible-cpus") { Description = "the target host's possible CPUs, 1 to 4096 (veth queue counts in ip -d link)" }.Within(1, 4096);
        var from = new Option<string>("--from") { Description = "first send traffic from SRC (as trace --from: external, external:IP, NODE, SERVICE, TASK, NODE/NAMESPACE or IP); needs --to" };
        var to = new Option<string>("--to") { Description = "... to DST (as trace --to, e.g. manager:8080/tcp); the command then shows the counters and connections it left" };
        var count = new Option<int>("--count") { Description = "connections to open from --from to --to before answering", DefaultValueFactory = _ => 1 };
        var seed = new Option<uint>("--seed") { Description = "simulation seed (ephemeral ports, flow hashes), as for trace", DefaultValueFactory = _ => 0u };
        var after = new Option<double>("--after") { Description = "seconds to let pass after the traffic before answering: timeouts count down, and conntrack entries, IPVS connections and learned FDB entries whose time ran out are gone", DefaultValueFactory = _ => 0 };
        var cmd = new Command("show", "Answer a read-only Linux command (ip, bridge, brctl, iptables, iptables-save, ipvsadm, sysctl, netstat, conntrack) from the compiled plan, in that command's own output format. "
            + "With --from/--to [--count N], first simulate those connections (with replies), so conntrack -L, ipvsadm -L -n --stats / -c and netstat -i show the state they left; "
            + "e.g. show FILE manager ingress_sbox --from external --to manager:8080/tcp --count 2 -- ipvsadm -L -n --stats. "
            + ShowResult.Supported + ". A sysctl KEY the topology does not set is an error (exit 1): its value is the kernel's default or the host's, which show does not know.")
        {
            args, lb, prefix, hostNetns, cpus, from, to, count, seed, after,
        };
        cmd.SetAction(parse =>
        {
            // Everything after "--" is the command; the parser keeps the "--" token, so split on it.
            var tokens = parse.Tokens;
            var dash = -1;
            for (int i = 0; i < tokens.Count; i++)
                if (tokens[i].Type == TokenType.DoubleDash) { dash = i; break; }
            if (dash < 0) throw new CliUsageException("show needs '-- COMMAND...' after FILE NODE [NAMESPACE], e.g. show FILE manager -- ip addr (show --help lists the commands)");
            var command = tokens.Skip(dash + 1).Select(t => t.Value).ToList();
            // ARGS holds the positional words before "--" followed by the command (option values are not in it).
            var all = parse.GetValue(args) ?? Array.Empty<string>();
            var before = all.Take(Math.Max(0, all.Length - command.Count)).ToList();
            if (before.Count is < 2 or > 3) throw new CliUsageException("show takes FILE NODE [NAMESPACE] before '--'");
            if (command.Count == 0) throw new CliUsageException("show needs a command after '--': " + ShowResult.SupportedCommands + " (show --help lists their forms)");

            var backend = ParseBackend(parse.GetValue(lb));
            var plan = PlanLoader.Load(before[0], TopologyLoader.Lowering(backend), io, out var topology);
            if (plan is null || topology is null) return Program.Failed;
            var host = plan.Hosts.FirstOrDefault(h => h.Node == before[1])
                ?? throw new CliUsageException($"no node '{before[1]}' in {plan.Topology} (nodes: {string.Join(", ", plan.Hosts.Select(h => h.Node))})");
            var nsName = before.Count == 3 ? before[2] : "host";
            var ns = host.Namespaces.FirstOrDefault(n => n.Name == nsName)
                ?? throw new CliUsageException($"no namespace '{nsName}' on {host.Node} (namespaces: {string.Join(", ", host.Namespaces.Select(n => n.Name))})");
            var state = RunTraffic(plan, topology, parse.GetValue(from), parse.GetValue(to), parse.GetValue(count), parse.GetValue(seed), parse.GetValue(after));
            var options = new ShowOptions
            {
                NetnsPrefix = parse.GetValue(prefix) ?? "",
                HostNetnsName = parse.GetValue(hostNetns),
                PossibleCpus = parse.GetValue(cpus) ?? 1,
                State = state,
            };
            var result = ShowCommandLine.Run(plan, host, ns, command, options);
            io.Out.Write(result.Output);
            io.Error.Write(result.Error);
            // The forms of every command answered are a long line: detail, which --verbose may add (spec/cli.md).
            if (result.ExitCode == 2 && parse.GetValue<bool>("--verbose")) io.Error.WriteLine(ShowResult.Supported);
            return result.ExitCode;
        });
        return cmd;
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections <paramref name="from"/> → <paramref name="to"/> in a fresh simulation of
    /// the plan, lets <paramref name="afterSeconds"/> pass, and returns its state; null (a freshly applied host) when no
    /// traffic was asked for.
    /// </summary>
    internal static IDataplaneState? RunTraffic(DataplanePlan plan, Topology topology, string? from, string? to, int count, uint seed, double afterSeconds = 0)
    {
        if (afterSeconds < 0 || double.IsNaN(afterSeconds) || afterSeconds > 365.0 * 24 * 3600)
            throw new CliUsageException("--after takes seconds from 0 to one year, not " + afterSeconds.ToString(CultureInfo.InvariantCulture));
        if (from is null && to is null)
        {
            if (afterSeconds > 0) throw new CliUsageException("--after needs --from and --to: time only matters for the state traffic leaves");
            return null;
        }
        if (from is null || to is null) throw new CliUsageException("--from and --to go together: both name the traffic to simulate before answering");
        if (count < 1 || count > TraceCommand.MaxCount)
            throw new CliUsageException($"--count must be from 1 to {TraceCommand.MaxCount.ToString(CultureInfo.InvariantCulture)}, not {count.ToString(CultureInfo.InvariantCulture)}");
        var sim = new Simulation(plan, seed);
        var flow = FlowEndpoints.Resolve(sim, topology, from, to);
        sim.Connect(flow, count); // traced as `trace` runs them, so ports and sequence numbers match its output
        if (afterSeconds > 0) sim.Advance(TimeSpan.FromSeconds(afterSeconds));
        return new SimulatedDataplaneState(sim);
    }

    internal static LoadBalancerBackend ParseBackend(string? value) => value switch
    {
        null or "ipvs" => LoadBalancerBackend.Ipvs,
        "nftables" => LoadBalancerBackend.Nftables,
        _ => throw new CliUsageException($"--lb must be ipvs or nftables, not '{value}'"),
    };
}

/// <summary>Compiles a topology file down to its dataplane plan, printing diagnostics on stderr.</summary>
internal static class PlanLoader
{
    /// <summary>The plan, or null (after printing why) when the file cannot be read or has errors.</summary>
    public static DataplanePlan? Load(string file, LoweringOptions options, CliIo io) => Load(file, options, io, out _);

    /// <summary>The plan and the topology it was lowered from, or null (after printing why) when the file cannot be read or has errors.</summary>
    public static DataplanePlan? Load(string file, LoweringOptions options, CliIo io, out Topology? topology)
    {
        topology = null;
        var loaded = TopologyLoader.Load(file, io);
        if (loaded is null) return null;
        var result = SwarmCompiler.Lower(loaded, options);
        foreach (var d in result.Diagnostics)
            if (d.IsError) io.Error.WriteLine(d.ToString());
        topology = loaded.Topology;
        return result.Plan;
    }
}
