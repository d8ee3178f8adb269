using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// <c>swarmdsl lab up</c>: builds the topology on this machine. An underlay fabric (bridge <c>br0</c> in namespace
/// <c>&lt;P&gt;fabric</c>), one namespace per node carrying the node's underlay interface and address, an external client
/// namespace on the same segment; then each node's emitted <c>apply.sh</c> entered with <c>nsenter --net</c> and
/// <c>SWARMDSL_NETNS_PREFIX=&lt;P&gt;&lt;node&gt;-</c>; then a responder (<c>swarmdsl lab serve</c>) in every task namespace on
/// every target port. Each step is written to the journal before it runs, so <c>down</c> can undo any prefix of it.
/// </summary>
internal sealed class LabUp
{
    /// <summary>Tests set it to N to make <c>up</c> stop after N steps, as if interrupted.</summary>
    public const string StopAfterVariable = "SWARMDSL_LAB_STOP_AFTER";

    private readonly LabContext _lab;
    private readonly CliIo _io;
    private readonly LabJournal _journal;
    private readonly LabProgress _progress;
    private readonly int _stopAfter;

    private LabUp(LabContext lab, CliIo io, LabJournal journal)
    {
        _lab = lab;
        _io = io;
        _journal = journal;
        _progress = new LabProgress(io, 0);
        _stopAfter = int.TryParse(Environment.GetEnvironmentVariable(StopAfterVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;
    }

    private DataplanePlan Plan => _lab.Plan;
    private LabNames Names => _lab.Names;

    /// <summary>The tools the lab and the emitted scripts need.</summary>
    public static IReadOnlyList<string> Tools(LoadBalancerBackend backend)
    {
        var tools = new List<string> { "ip", "bridge", "nsenter", "setsid", "sh", "bash", "awk", "sysctl", "iptables-save", "iptables-restore", "stat", "kill" };
        tools.Add(backend == LoadBalancerBackend.Ipvs ? "ipvsadm" : "nft");
        if (backend == LoadBalancerBackend.Ipvs) tools.Add("ipvsadm-restore");
        return tools;
    }

    /// <summary>Runs <c>up</c>; the exit code.</summary>
    public static int Run(LabContext lab, CliIo io)
    {
        var names = lab.Names;
        if (MachineWideSysctl(lab.Plan) is { } refusal)
        {
            io.Error.WriteLine("swarmdsl: error: " + refusal);
            return Program.Failed;
        }
        // Prefixes that extend each other make names that could be either lab's ("p-" + node "n1-x" and "p-n1-" + "x").
        if (Overlapping(names.Prefix, LabDown.OtherLabs(names)) is { } other)
        {
            io.Error.WriteLine($"swarmdsl: error: lab prefix '{names.Prefix}' and the prefix of lab '{other}' (state in {Path.Combine(LabNames.StateRoot, other)}) begin one with the other, so their namespace names could be confused; choose a prefix that neither begins with nor is the beginning of '{other}'");
            return Program.Failed;
        }
        var existing = HostCommand.ListNetns().Where(n => names.Owns(n, lab.Plan.Hosts.Select(h => h.Node))).ToList();
        var old = LabJournal.Open(names);
        if (existing.Count > 0 || (old.Exists && old.Namespaces.Count > 0 && LabProcesses.InNamespaces(old.Namespaces).Count > 0))
        {
            io.Error.WriteLine($"swarmdsl: error: lab '{names.Prefix}' is already up ({existing.Count} namespace(s) such as {existing.FirstOrDefault() ?? names.Fabric}); run 'swarmdsl lab down {lab.File} --prefix {names.Prefix}' first");
            return Program.Failed;
        }
        if (Directory.Exists(names.StateDir)) Directory.Delete(names.StateDir, recursive: true); // a stale state directory from a finished down
        var journal = LabJournal.Create(names);
        // Who is building: a down that runs while this up is still at work (another terminal, a test) stops it first.
        journal.Add("owner", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), LabProcesses.StartTicks(Environment.ProcessId).ToString(CultureInfo.InvariantCulture));
        var up = new LabUp(lab, io, journal);
        return up.Build();
    }

    /// <summary>The first of <paramref name="others"/> that begins with <paramref name="prefix"/> or is its beginning, if any.</summary>
    internal static string? Overlapping(string prefix, IEnumerable<string> others) =>
        others.FirstOrDefault(o => o != prefix && (o.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(o, StringComparison.Ordinal)));

    /// <summary>
    /// Why the lab cannot build the plan on this machine: a sysctl outside <c>net.*</c> (kernel., vm., fs., ...) belongs to
    /// the whole machine, not to a network namespace, so apply.sh entered with <c>nsenter --net</c> would change this
    /// machine itself (a tester's <c>kernel.printk_ratelimit_burst</c> stayed changed after <c>lab down</c>). On a real
    /// node it is the node's own setting, so only the lab refuses it.
    /// </summary>
    internal static string? MachineWideSysctl(DataplanePlan plan)
    {
        foreach (var h in plan.Hosts)
            foreach (var ns in h.Namespaces)
                foreach (var s in ns.Sysctls)
                    if (!s.Key.StartsWith("net.", StringComparison.Ordinal))
                        return $"{s.Span.ToShortString()}: the lab cannot set {s.Key} on node {h.Node}: a lab node is a network namespace of this machine, " +
                            "and only net.* sysctls belong to a network namespace; this one would change the whole machine. Leave it out of the topology the lab builds (emit keeps it for real nodes)";
        return null;
    }

    private int Build()
    {
        var steps = new List<(string What, Func<string?> Do)>();
        steps.Add(("write the provisioning files to " + _journal.EmitDir, WriteFiles));
        steps.Add(("underlay fabric " + Names.Fabric + " (bridge br0)", MakeFabric));
        int port = 0;
        foreach (var h in Plan.Hosts)
        {
            var host = h;
            var p = "u" + (port++).ToString(CultureInfo.InvariantCulture);
            steps.Add(($"node {host.Node}: namespace {Names.Node(host.Node)}, {host.UnderlayInterface} {host.UnderlayAddress}", () => MakeNode(host, p)));
        }
        steps.Add(($"external client: namespace {Names.Client}, eth0 {ClientAddress}", MakeClient));
        // The nodes are independent (each script works in its own namespaces): apply them all at once.
        steps.Add(($"apply.sh on {Plan.Hosts.Count.ToString(CultureInfo.InvariantCulture)} node(s) at once", ApplyAll));
        // The responder answers TCP and UDP; a task listening only on SCTP ports gets none (verify probes TCP and UDP).
        var tasks = Plan.Hosts.SelectMany(h => h.Namespaces.Where(n => n.Kind == NamespaceKind.Task
            && n.Listeners.Any(l => l.Protocol is Net.IpProtocol.Tcp or Net.IpProtocol.Udp)).Select(n => (h, n))).ToList();
        if (tasks.Count > 0)
            steps.Add(($"responders in {tasks.Count} task namespace(s)", () => StartResponders(tasks)));
        _progress.Total = steps.Count;

        using var interrupt = LabInterrupt.Watch(m => _io.Error.WriteLine("swarmdsl: lab up " + m));
        var backend = Plan.Backend == LoadBalancerBackend.Ipvs ? "ipvs" : "nftables";
        _io.Out.WriteLine(LabContext.KernelHasIpvs
            ? $"lab {Names.Prefix}: load balancing with {backend}"
            : $"lab {Names.Prefix}: this kernel has no IPVS (/proc/net/ip_vs is missing): load balancing with the nftables backend (--lb nftables)");
        foreach (var (what, work) in steps)
        {
            if (_progress.Done >= _stopAfter)
            {
                _io.Error.WriteLine($"swarmdsl: error: lab up stopped after {_stopAfter.ToString(CultureInfo.InvariantCulture)} step(s) as {StopAfterVariable} asked; 'swarmdsl lab down {_lab.File} --prefix {Names.Prefix}' removes what was made");
                return Program.Failed;
            }
            if (interrupt.Requested)
            {
                _io.Error.WriteLine($"swarmdsl: lab up interrupted: the lab is half built; 'swarmdsl lab down {_lab.File} --prefix {Names.Prefix}' removes it");
                return interrupt.ExitCode;
            }
            _progress.Step(what);
            var error = work();
            if (error is not null && interrupt.Requested)
            {
                _io.Error.WriteLine($"swarmdsl: lab up interrupted: the lab is half built; 'swarmdsl lab down {_lab.File} --prefix {Names.Prefix}' removes it");
                return interrupt.ExitCode;
            }
            if (error is not null)
            {
                _io.Error.WriteLine($"swarmdsl: error: lab up: {what}: {error}");
                _io.Error.WriteLine($"swarmdsl: the lab is half built; 'swarmdsl lab down {_lab.File} --prefix {Names.Prefix}' removes it");
                return Program.Failed;
            }
        }
        _journal.Add("complete");
        var made = HostCommand.ListNetns().Count(n => Names.Owns(n, Plan.Hosts.Select(h => h.Node)));
        _io.Out.WriteLine($"lab {Names.Prefix} is up: {Plan.Topology}, {Plan.Hosts.Count} node(s), {made} namespace(s), {_journal.Responders.Count} responder(s); state in {_journal.Dir}");
        return Program.Ok;
    }

    private string ClientAddress => Plan.Underlay.ExternalClient + "/" + Plan.Underlay.Subnet.PrefixLength.ToString(CultureInfo.InvariantCulture);

    private string? WriteFiles()
    {
        _journal.Add("topology", _lab.File);
        _journal.Add("backend", Plan.Backend == LoadBalancerBackend.Ipvs ? "ipvs" : "nftables");
        foreach (var h in Plan.Hosts) _journal.Add("node", h.Node);
        foreach (var f in ProvisioningEmitter.Emit(Plan))
        {
            var path = Path.Combine(_journal.EmitDir, f.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, f.Content);
            if (f.Executable && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }
        Directory.CreateDirectory(_journal.ScriptStateDir);
        Directory.CreateDirectory(_journal.ResponderDir);
        return null;
    }

    private string? AddNetns(string name)
    {
        _journal.Add("netns", name);
        var r = HostCommand.Run("ip", "netns", "add", name);
        if (!r.Ok) return "ip netns add " + name + ": " + r.LastLine();
        return Ip(name, "link", "set", "lo", "up");
    }

    private static string? Ip(string netns, params string[] args)
    {
        var r = HostCommand.Run("ip", new[] { "-n", netns }.Concat(args));
        return r.Ok ? null : "ip -n " + netns + " " + string.Join(" ", args) + ": " + r.LastLine();
    }

    private string? MakeFabric()
        => AddNetns(Names.Fabric)
           ?? Ip(Names.Fabric, "link", "add", "br0", "type", "bridge")
           ?? Ip(Names.Fabric, "link", "set", "br0", "up");

    /// <summary>A namespace on the fabric: veth <paramref name="port"/> on br0, its peer <paramref name="iface"/> inside with <paramref name="cidr"/>.</summary>
    private string? Attach(string netns, string port, string iface, string cidr, int mtu)
    {
        var m = mtu.ToString(CultureInfo.InvariantCulture);
        return Ip(Names.Fabric, "link", "add", port, "mtu", m, "type", "veth", "peer", "name", iface, "mtu", m, "netns", netns)
            ?? Ip(Names.Fabric, "link", "set", port, "master", "br0", "up")
            ?? Ip(netns, "link", "set", iface, "up")
            ?? Ip(netns, "address", "add", cidr, "dev", iface);
    }

    private string? MakeNode(HostPlan host, string port)
    {
        var mtu = host.Namespaces.FirstOrDefault(n => n.Kind == NamespaceKind.Host)?.Devices.FirstOrDefault(d => d.Name == host.UnderlayInterface)?.Mtu ?? Plan.Underlay.Mtu;
        return AddNetns(Names.Node(host.Node)) ?? Attach(Names.Node(host.Node), port, host.UnderlayInterface, host.UnderlayAddress.ToString(), mtu);
    }

    private string? MakeClient() => AddNetns(Names.Client) ?? Attach(Names.Client, "uc", "eth0", ClientAddress, Plan.Underlay.Mtu);

    private string? ApplyAll()
    {
        // Recorded before the scripts run: they may stop half way, and down must still find what they made.
        foreach (var h in Plan.Hosts)
            foreach (var ns in h.Namespaces.Where(n => n.Kind != NamespaceKind.Host)) _journal.Add("netns", Names.Namespace(h.Node, ns.Name));
        var errors = new string?[Plan.Hosts.Count];
        System.Threading.Tasks.Parallel.For(0, Plan.Hosts.Count, i => errors[i] = Apply(Plan.Hosts[i]));
        var failed = Plan.Hosts.Select((h, i) => (h, errors[i])).Where(x => x.Item2 is not null).Select(x => "node " + x.h.Node + ": " + x.Item2).ToList();
        return failed.Count == 0 ? null : string.Join("; ", failed);
    }

    private string? Apply(HostPlan host)
    {
        var script = Path.Combine(_journal.EmitDir, host.Node, "apply.sh");
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["SWARMDSL_NETNS_PREFIX"] = Names.NodeNetnsPrefix(host.Node),
            ["SWARMDSL_STATE_DIR"] = _journal.ScriptStateDir,
        };
        var r = HostCommand.InNetns(Names.Node(host.Node), "bash", new[] { script }, env: env, timeoutMs: 300_000);
        File.WriteAllText(Path.Combine(_journal.Dir, "apply-" + host.Node + ".log"), r.StdOut + r.StdErr);
        if (!r.Ok) return "apply.sh failed (exit " + r.ExitCode.ToString(CultureInfo.InvariantCulture) + "): " + r.LastLine();
        lock (_progress)
            foreach (var line in r.StdErr.Split('\n').Where(l => l.Contains("warning", StringComparison.Ordinal)))
                _progress.Note(line.Trim());
        return null;
    }

    private string? StartResponders(List<(HostPlan Host, NamespacePlan Ns)> tasks)
    {
        var self = LabContext.SelfCommand();
        var started = new List<(string Task, string Netns, string PidFile, string Log, Process Process)>();
        foreach (var (host, ns) in tasks)
        {
            var task = ns.Listeners[0].Owner.Length > 0 ? ns.Listeners[0].Owner : ns.Name;
            var netns = Names.Namespace(host.Node, ns.Name);
            var pidFile = Path.Combine(_journal.ResponderDir, ns.Name + "@" + host.Node + ".pid");
            var log = Path.Combine(_journal.ResponderDir, ns.Name + "@" + host.Node + ".log");
            var args = new List<string>
            {
                "-c", "log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1", "sh", log,
                "setsid", "nsenter", "--net=" + HostCommand.NetnsPath(netns), "--",
            };
            args.AddRange(self);
            args.AddRange(new[] { "lab", "serve", "--name", task, "--pid-file", pidFile });
            foreach (var l in ns.Listeners.Where(l => l.Protocol is Net.IpProtocol.Tcp).Select(l => l.Port).Distinct().OrderBy(p => p))
                args.AddRange(new[] { "--tcp", l.ToString(CultureInfo.InvariantCulture) });
            foreach (var l in ns.Listeners.Where(l => l.Protocol is Net.IpProtocol.Udp).Select(l => l.Port).Distinct().OrderBy(p => p))
                args.AddRange(new[] { "--udp", l.ToString(CultureInfo.InvariantCulture) });
            var psi = new ProcessStartInfo("sh") { UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            var p = Process.Start(psi);
            if (p is null) return "cannot start the responder of " + task;
            started.Add((task, netns, pidFile, log, p));
        }
        string? error = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        foreach (var (task, netns, pidFile, log, p) in started)
        {
            while (error is null && !File.Exists(pidFile))
            {
                if (p.HasExited)
                    error = $"the responder of {task} exited ({p.ExitCode.ToString(CultureInfo.InvariantCulture)}): {Tail(log)}";
                else if (DateTime.UtcNow > deadline)
                    error = $"the responder of {task} did not start listening within 60 s: {Tail(log)}";
                else Thread.Sleep(50);
            }
            if (error is not null) break;
            var pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
            _journal.Add("responder", task, netns, pid.ToString(CultureInfo.InvariantCulture), LabProcesses.StartTicks(pid).ToString(CultureInfo.InvariantCulture));
        }
        foreach (var s in started) s.Process.Dispose();
        return error;
    }

    private static string Tail(string log)
    {
        try
        {
            var lines = File.Exists(log) ? File.ReadAllLines(log).Where(l => l.Trim().Length > 0).ToList() : new List<string>();
            return lines.Count == 0 ? "(no output)" : lines[^1].Trim();
        }
        catch (IOException)
        {
            return "(no output)";
        }
    }
}
