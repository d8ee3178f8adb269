using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using SwarmDsl.Emit;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// <c>swarmdsl lab verify</c>: real traffic from the external client against the simulation of the same plan.
/// <list type="number">
/// <item>For every published port on every node: N connections (TCP: connect and read the task's name; UDP: a datagram and
/// its answer), in a fixed order; the sequence of answers is compared with what the simulation predicts for the same
/// connections in the same order (the load balancers' state is reset to the plan's first, so both start alike).</item>
/// <item>The first connection of each port is traced in the kernel (<c>nft monitor trace</c>, see <see cref="KernelTrace"/>)
/// and its netfilter path — table, chain, rule number and verdict, per namespace, request (SYN or datagram) and reply
/// (SYN-ACK or answer) — is compared with the simulated netfilter steps.</item>
/// <item>One packet of the underlay MTU with DF set to the first published port, which the overlay (MTU − 50) cannot carry:
/// what came back (frag-needed and its MTU, an answer, nothing) against the simulation's disposition, and its path.</item>
/// </list>
/// Exit 0 when everything agrees, 4 when anything differs (the first difference is named), 1 when verify cannot run.
/// </summary>
internal sealed class LabVerify
{

    private readonly LabContext _lab;
    private readonly LabJournal _journal;
    private readonly CliIo _io;
    private readonly int _count;
    private readonly bool _trace;
    private readonly List<Check> _checks = new();
    private readonly StringBuilder _report = new();

    /// <summary>One comparison: what the kernel did and what the simulation says.</summary>
    private sealed record Check(string Subject, string Kernel, string Simulated)
    {
        public bool Agree => Kernel == Simulated;
    }

    /// <summary>A published port on one node, probed from the external client.</summary>
    private sealed record Probe(int Index, HostPlan Host, ServiceModel Service, PortModel Port, Flow Flow, int SampledPort)
    {
        public string Name => Host.Node + ":" + Port.Published.ToString(CultureInfo.InvariantCulture) + "/" + Port.Protocol.Name();
    }

    public LabVerify(LabContext lab, LabJournal journal, CliIo io, int count, bool trace)
    {
        _lab = lab;
        _journal = journal;
        _io = io;
        _count = count;
        _trace = trace;
    }

    private DataplanePlan Plan => _lab.Plan;
    private LabNames Names => _lab.Names;

    public int Run()
    {
        if (CheckUnchanged() is string changed) { _io.Error.WriteLine("swarmdsl: error: " + changed); return Program.Failed; }
        foreach (var r in _journal.Responders)
            if (LabProcesses.StartTicks(r.Pid) != r.StartTicks)
            {
                _io.Error.WriteLine($"swarmdsl: error: the responder of {r.Task} (pid {r.Pid.ToString(CultureInfo.InvariantCulture)}) is not running; run 'lab down' and 'lab up' again");
                return Program.Failed;
            }
        var progress = new LabProgress(_io, 4);

        var sim = new Simulation(Plan);
        var probes = MakeProbes(sim, out var skipped);
        if (probes.Count == 0)
        {
            _io.Error.WriteLine("swarmdsl: error: " + Plan.Topology + " publishes no TCP or UDP port: there is nothing for the external client to reach");
            return Program.Failed;
        }

        var mtuProbe = probes[0];
        int mtuPort = mtuProbe.SampledPort + probes.Count;
        var flows = probes.Select(p => new TracedFlow(p.Index, p.Port.Protocol, p.SampledPort)).ToList();
        flows.Add(new TracedFlow(probes.Count, mtuProbe.Port.Protocol, mtuPort));
        var prepared = TracedNamespaces().ToList();
        progress.Step(_trace
            ? $"reset conntrack and the load balancers, add the trace table in {prepared.Count.ToString(CultureInfo.InvariantCulture)} namespaces"
            : "reset conntrack and the load balancers (tracing off)");
        using var kernelTrace = new KernelTrace();
        using var interrupt = LabInterrupt.Watch(m => _io.Error.WriteLine("swarmdsl: lab verify " + m));
        // Interrupted between steps: the monitors (Dispose, at return) and every trace table Prepare added go, on this thread.
        int Interrupted()
        {
            kernelTrace.Dispose();
            if (_trace)
                foreach (var ns in prepared) HostCommand.InNetns(ns, "nft", "delete", "table", "ip", KernelTrace.Table);
            _io.Error.WriteLine("swarmdsl: lab verify interrupted: the nft monitors and trace tables it started are removed; nothing was compared");
            return interrupt.ExitCode;
        }
        if (!Prepare(prepared, _trace ? KernelTrace.Script(flows, Plan.Underlay.DataPathPort) : null, out var listings, out var prepareError))
        {
            if (interrupt.Requested) return Interrupted();
            _io.Error.WriteLine("swarmdsl: error: " + prepareError);
            return Program.Failed;
        }
        if (interrupt.Requested) return Interrupted();
        if (_trace)
        {
            progress.Step("start nft monitor trace in " + listings.Count.ToString(CultureInfo.InvariantCulture) + " namespaces");
            kernelTrace.StartMonitors(listings, flows);
            if (interrupt.Requested) return Interrupted();
            if (kernelTrace.Problems.Count > 0)
            {
                foreach (var p in kernelTrace.Problems) _io.Error.WriteLine("swarmdsl: error: " + p);
                return Program.Failed;
            }
        }
        else progress.Step("no nft monitor (--no-trace)");
        if (interrupt.Requested) return Interrupted();

        // The kernel: every connection from the client namespace, in order.
        progress.Step($"{probes.Count.ToString(CultureInfo.InvariantCulture)} published port(s) × {_count.ToString(CultureInfo.InvariantCulture)} connection(s) from {Names.Client}, then one over-MTU packet");
        var probe = new ClientProbe(Plan.Underlay.ExternalClient);
        var (kernelAnswers, kernelMtu) = ClientProbe.InNamespace(Names.Client, () =>
        {
            var answers = new List<List<ClientObservation>>();
            foreach (var p in probes)
            {
                var list = new List<ClientObservation>();
                for (int i = 0; i < _count; i++)
                {
                    int sourcePort = i == 0 ? p.SampledPort : 0;
                    if (i == 0) ForgetTunnelFlows();
                    list.Add(p.Port.Protocol == IpProtocol.Tcp
                        ? probe.Tcp(p.Flow.Destination, p.Flow.DestinationPort, sourcePort)
                        : probe.Udp(p.Flow.Destination, p.Flow.DestinationPort, sourcePort));
                }
                answers.Add(list);
            }
            ForgetTunnelFlows();
            var mtu = probe.OversizedPacket(mtuProbe.Port.Protocol, mtuProbe.Flow.Destination, mtuProbe.Flow.DestinationPort, mtuPort, Plan.Underlay.Mtu);
            return (answers, mtu);
        });
        var kernelEvents = _trace ? kernelTrace.Stop() : Array.Empty<KernelTraceEvent>();
        if (_trace) SaveRawTraces(kernelTrace);

        // The simulation: the same connections in the same order.
        var simAnswers = new List<List<string>>();
        var simSampled = new List<ConnectionTrace>();
        foreach (var p in probes)
        {
            var list = new List<string>();
            for (int i = 0; i < _count; i++)
            {
                if (i == 0) sim.ForgetTunnelFlows(Plan.Underlay.DataPathPort);
                var t = sim.Connect(p.Flow, 1)[0];
                if (i == 0) simSampled.Add(t);
                list.Add(Outcome(t));
            }
            simAnswers.Add(list);
        }
        sim.ForgetTunnelFlows(Plan.Underlay.DataPathPort);
        var mtuTrace = sim.Send(sim.Cluster.ExternalClient(Plan.Underlay.ExternalClient).Index, OversizedPacket(mtuProbe, mtuPort));

        if (interrupt.Requested) return Interrupted();
        progress.Step("compare with the simulation");
        Header(probes, skipped);
        CompareAnswers(probes, kernelAnswers, simAnswers);
        if (_trace)
        {
            _report.Append('\n').Append("netfilter path of connection 1 of each port (→ request, ← reply; kernel: nft monitor trace | simulation):\n");
            for (int i = 0; i < probes.Count; i++)
                ComparePath(probes[i].Name + " connection 1", i, simSampled[i].Request, simSampled[i].Reply, kernelEvents, requestOnly: false);
        }
        CompareMtu(mtuProbe, mtuPort, kernelMtu, mtuTrace, kernelEvents, probes.Count);
        return Finish();
    }

    // ───────────────────────────── setup ─────────────────────────────

    /// <summary>The emitted files on disk must be what the file compiles to now: verify compares the kernel with this plan.</summary>
    private string? CheckUnchanged()
    {
        foreach (var f in ProvisioningEmitter.Emit(Plan))
        {
            var path = Path.Combine(_journal.EmitDir, f.Path);
            if (!File.Exists(path) || File.ReadAllText(path) != f.Content)
                // Another file than the one the lab was built from: say so, rather than that this one "has changed".
                return _journal.Topology is { } built && !string.Equals(built, _lab.File, StringComparison.Ordinal)
                    ? $"lab '{Names.Prefix}' was built from {built}, not {_lab.File} ({f.Path} differs); verify it with that file, or run 'swarmdsl lab down {built} --prefix {Names.Prefix}' and build it again from this one"
                    : $"{_lab.File} has changed since 'lab up' ({f.Path} differs from what was applied); run 'swarmdsl lab down' and 'swarmdsl lab up' again";
        }
        return null;
    }

    private List<Probe> MakeProbes(Simulation sim, out List<string> skipped)
    {
        var probes = new List<Probe>();
        skipped = new List<string>();
        // Source ports of the traced connections: below the ephemeral range (32768-60999), so a VXLAN packet's outer source
        // port (from that range) never looks like one of them; random per run, so TIME_WAIT of an earlier run is no obstacle.
        int basePort = 10000 + RandomNumberGenerator.GetInt32(0, 20000);
        foreach (var host in Plan.Hosts)
            foreach (var (service, port) in _lab.PublishedPorts())
            {
                var name = host.Node + ":" + port.Published.ToString(CultureInfo.InvariantCulture) + "/" + port.Protocol.Name();
                if (port.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp)) { skipped.Add(name + " (" + port.Protocol.Name() + ": the lab's client speaks TCP and UDP only)"); continue; }
                if (!sim.TryResolve("external", name, out var flow, out var error)) { skipped.Add(name + " (" + error + ")"); continue; }
                probes.Add(new Probe(probes.Count, host, service, port, flow, basePort + probes.Count));
            }
        return probes;
    }

    /// <summary>
    /// The namespaces with netfilter state (iptables tables, nftables balancers): they are reset and traced. The others
    /// (overlay namespaces with br0 and vxlan0) have no chains for a packet to cross and no conntrack to flush.
    /// </summary>
    private IEnumerable<string> TracedNamespaces() => Plan.Hosts.SelectMany(h => h.Namespaces
        .Where(n => n.Kind == NamespaceKind.Host || n.Tables.Count > 0 || n.NftLoadBalancers.Count > 0 || n.Ipvs.Count > 0)
        .Select(n => Names.Namespace(h.Node, n.Name)));

    /// <summary>
    /// One shell per namespace, several at once: flush conntrack and load the load balancers again (connection entries
    /// and balancer counters of earlier traffic would make the kernel answer differently from a fresh simulation: a new nft
    /// table starts its <c>numgen</c> counters at the first slot, a new IPVS service its scheduler afresh); then, when
    /// tracing, add the tracing table and list the ruleset with handles.
    /// </summary>
    private bool Prepare(IReadOnlyList<string> netns, string? traceScript, out Dictionary<string, string> listings, out string error)
    {
        const string Shell = """
            conntrack -F >/dev/null 2>&1
            if [ -n "$1" ]; then nft -f "$1" || exit 3; fi
            if [ -n "$2" ]; then { ipvsadm -C && ipvsadm-restore < "$2"; } || exit 4; fi
            if [ "$3" = 1 ]; then nft -f - || exit 5; nft -a list ruleset 2>/dev/null; fi
            exit 0
            """;
        var files = new Dictionary<string, (string Nft, string Ipvs)>(StringComparer.Ordinal);
        foreach (var h in Plan.Hosts)
            foreach (var ns in h.Namespaces)
            {
                var nft = Plan.Backend == LoadBalancerBackend.Nftables && ns.NftLoadBalancers.Count > 0 ? Path.Combine(_journal.EmitDir, h.Node, NftablesEmitter.FileName(ns.Name)) : "";
                var ipvs = Plan.Backend == LoadBalancerBackend.Ipvs && ns.Ipvs.Count > 0 ? Path.Combine(_journal.EmitDir, h.Node, IpvsRestoreEmitter.FileName(ns.Name)) : "";
                files[Names.Namespace(h.Node, ns.Name)] = (nft, ipvs);
            }
        var results = new CommandResult[netns.Count];
        System.Threading.Tasks.Parallel.For(0, netns.Count, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var (nft, ipvs) = files[netns[i]];
            results[i] = HostCommand.InNetns(netns[i], "sh", new[] { "-c", Shell, "sh", nft, ipvs, traceScript is null ? "0" : "1" }, stdin: traceScript ?? "");
        });
        listings = new Dictionary<string, string>(StringComparer.Ordinal);
        error = "";
        for (int i = 0; i < netns.Count; i++)
        {
            var r = results[i];
            if (!r.Ok)
            {
                var what = r.ExitCode switch { 3 => "reload the nftables load balancers", 4 => "reload IPVS", 5 => "add the trace table", _ => "prepare" };
                error = $"cannot {what} in {netns[i]}: {r.LastLine()}";
                return false;
            }
            if (traceScript is not null) listings[netns[i]] = r.StdOut;
        }
        HostCommand.Run("ip", "-n", Names.Client, "route", "flush", "cache");
        return true;
    }

    /// <summary>
    /// Before each traced exchange, in every node namespace: forget the VXLAN outer flows (<c>conntrack -D -p udp
    /// --orig-port-dst</c> the data path port), as the simulation does (<see cref="Simulation.ForgetTunnelFlows"/>). The
    /// outer UDP source port is the kernel's flow hash (<c>udp_flow_src_port</c>, random boot-time key), so a traced
    /// packet's outer 5-tuple could be one an earlier, untraced flow already left in conntrack; that datagram is then not
    /// the first of its tuple and skips the nat chains the simulation (with its own port hash) shows it crossing.
    /// Runs on the client's thread: nsenter enters each namespace by its path.
    /// </summary>
    private void ForgetTunnelFlows()
    {
        var port = Plan.Underlay.DataPathPort.ToString(CultureInfo.InvariantCulture);
        foreach (var h in Plan.Hosts)
            HostCommand.InNetns(Names.Node(h.Node), "conntrack", "-D", "-p", "udp", "--orig-port-dst", port); // exit 1: none
    }

    private void SaveRawTraces(KernelTrace trace)
    {
        Directory.CreateDirectory(_journal.TraceDir);
        foreach (var kv in trace.RawOutput) File.WriteAllText(Path.Combine(_journal.TraceDir, kv.Key + ".txt"), kv.Value);
    }

    // ───────────────────────────── the simulation's side ─────────────────────────────

    /// <summary>What the client would see of a simulated connection, in the words <see cref="ClientProbe"/> uses.</summary>
    internal static string Outcome(ConnectionTrace t)
    {
        var request = t.Request.Disposition;
        var reply = t.Reply?.Disposition;
        bool backToClient = reply is { Kind: DispositionKind.Delivered } && reply.Owner == "external client";
        if (request.Kind == DispositionKind.Delivered && backToClient) return request.Owner;
        if (backToClient)
        {
            var f = reply!.Final;
            if (f.Protocol == IpProtocol.Tcp && f.Flags.Contains("RST", StringComparison.Ordinal)) return "refused";
            if (f.Protocol == IpProtocol.Icmp) return f.IcmpType == 3 && f.IcmpCode == 3 ? "refused" : "unreachable";
        }
        return "no answer";
    }

    /// <summary>The simulated twin of <see cref="ClientProbe.OversizedPacket"/>.</summary>
    private Packet OversizedPacket(Probe probe, int sourcePort)
    {
        bool tcp = probe.Port.Protocol == IpProtocol.Tcp;
        var h = new PacketHeaders
        {
            Source = Plan.Underlay.ExternalClient,
            Destination = probe.Flow.Destination,
            Protocol = probe.Port.Protocol,
            Ttl = 64,
            DontFragment = true,
            Id = 1,
            SourcePort = (ushort)sourcePort,
            DestinationPort = (ushort)probe.Flow.DestinationPort,
            Flags = tcp ? TcpFlags.Syn : TcpFlags.None,
            Seq = tcp ? 0x5eed0001u : 0,
        };
        h.PayloadLength = Plan.Underlay.Mtu - h.TotalLength;
        return new Packet { Headers = h };
    }

    /// <summary>What the client would see of the simulated over-MTU packet: what came back to its namespace, if anything.</summary>
    private static string MtuOutcome(ConnectionTrace t)
    {
        var request = t.Request.Disposition;
        var reply = t.Reply?.Disposition;
        // The raw packet has no socket behind it: an answer counts once it is back in the client's namespace.
        if (reply is null || !reply.Where.StartsWith("external/", StringComparison.Ordinal)
            || !(reply.Kind == DispositionKind.Delivered || reply.Cause == DropCause.NoListener))
            return "no answer";
        var f = reply.Final;
        switch (f.Protocol)
        {
            case IpProtocol.Icmp when f.IcmpType == 3 && f.IcmpCode == 4:
                return f.IcmpMtu > 0 ? "frag-needed (mtu " + f.IcmpMtu.ToString(CultureInfo.InvariantCulture) + ")" : "frag-needed";
            case IpProtocol.Icmp when f.IcmpType == 3 && f.IcmpCode == 3:
                return "port-unreachable";
            case IpProtocol.Icmp:
                return "icmp type " + f.IcmpType.ToString(CultureInfo.InvariantCulture) + " code " + f.IcmpCode.ToString(CultureInfo.InvariantCulture);
            case IpProtocol.Tcp:
                return f.Flags.Contains("RST", StringComparison.Ordinal) ? "reset" : f.Flags.Contains("SYN", StringComparison.Ordinal) ? "reached" : "no answer";
            default:
                return "reached " + request.Owner;
        }
    }

    // ───────────────────────────── comparison ─────────────────────────────

    private void Header(List<Probe> probes, List<string> skipped)
    {
        var backend = Plan.Backend == LoadBalancerBackend.Ipvs ? "ipvs" : "nftables";
        _report.Append("lab verify: ").Append(Plan.Topology).Append(" (prefix ").Append(Names.Prefix).Append("), load balancing with ").Append(backend);
        if (!LabContext.KernelHasIpvs) _report.Append(" (this kernel has no IPVS)");
        _report.Append('\n');
        _report.Append(probes.Count.ToString(CultureInfo.InvariantCulture)).Append(" published port(s) × ").Append(_count.ToString(CultureInfo.InvariantCulture))
            .Append(" connection(s) from the external client ").Append(Plan.Underlay.ExternalClient).Append('\n');
        foreach (var s in skipped) _report.Append("  skipped: ").Append(s).Append('\n');
    }

    private void CompareAnswers(List<Probe> probes, List<List<ClientObservation>> kernel, List<List<string>> simulated)
    {
        _report.Append('\n').Append("answers, connection 1..").Append(_count.ToString(CultureInfo.InvariantCulture)).Append(" (kernel | simulation):\n");
        var rows = new List<(string Name, string Kernel, string Sim, bool Agree)>();
        for (int i = 0; i < probes.Count; i++)
        {
            for (int c = 0; c < _count; c++)
                _checks.Add(new Check($"{probes[i].Name} connection {(c + 1).ToString(CultureInfo.InvariantCulture)}", kernel[i][c].Outcome, simulated[i][c]));
            var k = string.Join(" ", kernel[i].Select(o => Word(o.Outcome)));
            var s = string.Join(" ", simulated[i].Select(Word));
            rows.Add((probes[i].Name, k, s, kernel[i].Select(o => o.Outcome).SequenceEqual(simulated[i])));
        }
        int nameWidth = rows.Max(r => r.Name.Length);
        int kernelWidth = rows.Max(r => r.Kernel.Length);
        foreach (var r in rows)
            _report.Append("  ").Append(r.Name.PadRight(nameWidth)).Append("  ").Append(r.Kernel.PadRight(kernelWidth)).Append(" | ").Append(r.Sim)
                .Append(r.Agree ? "   agree" : "   DIFFER").Append('\n');
    }

    private static string Word(string outcome) => outcome.Replace(' ', '_');

    /// <summary>The simulated netfilter path of one packet, per lab namespace, in the kernel trace's terms.</summary>
    private IEnumerable<(string Netns, string Label, bool Reply, string Token)> SimulatedPath(PacketTrace trace, bool reply)
    {
        foreach (var hop in trace.Hops)
        {
            if (hop.NamespaceKind == "client") continue;
            var netns = Names.Namespace(hop.Node, hop.Namespace);
            foreach (var step in hop.Steps)
            {
                string? token = step switch
                {
                    NetfilterStep n => n.RuleNumber == 0
                        ? n.Table + " " + n.Chain + " policy " + (n.Verdict.StartsWith("DROP", StringComparison.Ordinal) ? "drop" : "accept")
                        : n.Table + " " + n.Chain + " #" + n.RuleNumber.ToString(CultureInfo.InvariantCulture) + " " + SimVerdict(n.Verdict),
                    IpvsStep { Balancer: LoadBalancerBackend.Nftables } => NftablesEmitter.Table + " prerouting accept",
                    NatStep { Origin: NatOrigin.NftablesBalancer, Manip: NatManip.Source } => NftablesEmitter.Table + " postrouting accept",
                    _ => null,
                };
                if (token is not null) yield return (netns, hop.Node + "/" + hop.Namespace, reply, token);
            }
        }
    }

    /// <summary>A simulated rule verdict in nft's words: targets that end the chain accept (NAT) or drop (REJECT); MARK and LOG continue.</summary>
    private static string SimVerdict(string verdict)
    {
        if (verdict.StartsWith("JUMP ", StringComparison.Ordinal)) return "jump " + verdict.Substring(5);
        if (verdict.StartsWith("GOTO ", StringComparison.Ordinal)) return "goto " + verdict.Substring(5);
        var word = verdict.Split(' ')[0];
        return word switch
        {
            "ACCEPT" or "DNAT" or "SNAT" or "MASQUERADE" or "REDIRECT" => "accept",
            "DROP" or "REJECT" => "drop",
            "RETURN" => "return",
            "MARK" or "LOG" or "TRACE" => "continue",
            _ => word.ToLowerInvariant(),
        };
    }

    /// <summary>The kernel's event in the comparable form; null for what the simulation does not model as a chain (the nft balancer's policy).</summary>
    private static string? KernelToken(KernelTraceEvent e)
    {
        if (e.Table == NftablesEmitter.Table) return e.Position == 0 ? null : e.Table + " " + e.Chain + " " + e.Verdict;
        return e.Token;
    }

    private void ComparePath(string subject, int flow, PacketTrace request, PacketTrace? reply, IReadOnlyList<KernelTraceEvent> events, bool requestOnly)
    {
        var sim = SimulatedPath(request, false).ToList();
        // Where the simulated request met a REJECT: the only place its answer can be sent from inside a rule.
        var rejecting = new HashSet<string>(request.Hops.Where(h => h.NamespaceKind != "client" && h.Steps.Any(x => x is NetfilterStep n && n.Verdict.StartsWith("REJECT", StringComparison.Ordinal)))
            .Select(h => Names.Namespace(h.Node, h.Namespace)), StringComparer.Ordinal);
        if (reply is not null && !requestOnly) sim.AddRange(SimulatedPath(reply, true));
        var kernel = events.Where(e => e.Flow == flow && !(requestOnly && e.Reply))
            .Select(e => (e.Netns, e.Reply, Token: KernelToken(e))).Where(e => e.Token is not null).ToList();

        // Namespaces in the order the simulated packet visits them, then any the kernel saw and the simulation did not.
        var order = sim.Select(s => s.Netns).Concat(kernel.Select(k => k.Netns)).Distinct(StringComparer.Ordinal).ToList();
        var labels = sim.GroupBy(s => s.Netns).ToDictionary(g => g.Key, g => g.First().Label, StringComparer.Ordinal);
        _report.Append("  ").Append(subject).Append('\n');
        if (sim.Count == 0 && kernel.Count == 0) _report.Append("    (no netfilter rule on the way, in the kernel or the simulation)\n");
        foreach (var ns in order)
        {
            var k = kernel.Where(e => e.Netns == ns).Select(e => (e.Reply ? "← " : "→ ") + e.Token).ToList();
            var s = sim.Where(e => e.Netns == ns).Select(e => (e.Reply ? "← " : "→ ") + e.Token).ToList();
            // A REJECT's answer is sent from inside the rule that rejects: the kernel traces it (its OUTPUT chain) before the
            // verdict of the rejecting rule, the simulation after. Each direction in its own order is what is compared.
            bool interleaved = rejecting.Contains(ns) && SameByDirection(k, s);
            if (interleaved) k = s;
            _checks.Add(new Check($"{subject}: netfilter path in {ns}", string.Join("; ", k), string.Join("; ", s)));
            _report.Append("    ").Append(labels.TryGetValue(ns, out var label) ? label + " (" + ns + ")" : ns).Append('\n');
            if (interleaved) _report.Append("      (the kernel traced the answer inside the rule that sent it; each direction is in the same order)\n");
            int width = Math.Max(12, k.Concat(s).Select(x => x.Length).DefaultIfEmpty(0).Max());
            for (int i = 0; i < Math.Max(k.Count, s.Count); i++)
            {
                var left = i < k.Count ? k[i] : "-";
                var right = i < s.Count ? s[i] : "-";
                _report.Append(left == right ? "      " : "    * ").Append(left.PadRight(width)).Append(" | ").Append(right).Append('\n');
            }
        }
    }

    /// <summary>Whether two paths differ only in how their requests (→) and replies (←) interleave.</summary>
    internal static bool SameByDirection(IReadOnlyList<string> kernel, IReadOnlyList<string> simulated)
    {
        if (kernel.Count != simulated.Count || kernel.SequenceEqual(simulated, StringComparer.Ordinal)) return false;
        foreach (var arrow in new[] { "→ ", "← " })
            if (!kernel.Where(t => t.StartsWith(arrow, StringComparison.Ordinal)).SequenceEqual(simulated.Where(t => t.StartsWith(arrow, StringComparison.Ordinal)), StringComparer.Ordinal))
                return false;
        return true;
    }

    private void CompareMtu(Probe probe, int sourcePort, ClientObservation kernel, ConnectionTrace simulatedExchange, IReadOnlyList<KernelTraceEvent> events, int flow)
    {
        var simulated = simulatedExchange.Request;
        var simOutcome = MtuOutcome(simulatedExchange);
        var what = probe.Port.Protocol == IpProtocol.Tcp ? "a TCP SYN carrying data" : "a UDP datagram";
        _report.Append('\n').Append("over-MTU packet: ").Append(what).Append(" of ").Append(Plan.Underlay.Mtu.ToString(CultureInfo.InvariantCulture))
            .Append(" bytes with DF from port ").Append(sourcePort.ToString(CultureInfo.InvariantCulture)).Append(" to ").Append(probe.Name).Append('\n');
        _report.Append("  kernel:     ").Append(kernel.Outcome).Append(kernel.Detail.Length > 0 ? " (" + kernel.Detail + ")" : "").Append('\n');
        _report.Append("  simulation: ").Append(simOutcome).Append(" (").Append(simulated.Disposition.Detail).Append(" in ").Append(simulated.Disposition.Where)
            .Append(simulatedExchange.Reply is { } back ? "; back: " + back.Disposition.Final.Summary() + " " + back.Disposition.Kind.ToString().ToLowerInvariant() + " in " + back.Disposition.Where : "; nothing comes back").Append(")\n");
        _report.Append(kernel.Outcome == simOutcome ? "  agree\n" : "  DIFFER\n");
        _checks.Add(new Check("over-MTU packet to " + probe.Name, kernel.Outcome, simOutcome));
        // The error's source as the client sees it: NAT on the way back rewrites it (and the packet it quotes, which the
        // client's path MTU discovery keys on) for an error RELATED to a translated connection.
        if (kernel.IcmpSource is not null || simulatedExchange.Reply?.Disposition.Final is { Protocol: IpProtocol.Icmp })
        {
            var simSource = simulatedExchange.Reply?.Disposition.Final is { Protocol: IpProtocol.Icmp } f ? f.Source.ToString() : "(none)";
            var kernelSource = kernel.IcmpSource?.ToString() ?? "(none)";
            _report.Append("  ICMP error source: kernel ").Append(kernelSource).Append(" | simulation ").Append(simSource)
                .Append(kernelSource == simSource ? "   agree\n" : "   DIFFER\n");
            _checks.Add(new Check("over-MTU packet to " + probe.Name + ": ICMP error source", kernelSource, simSource));
        }
        if (_trace) ComparePath("over-MTU packet to " + probe.Name, flow, simulated, simulatedExchange.Reply, events, requestOnly: false);
    }

    private int Finish()
    {
        var first = _checks.FirstOrDefault(c => !c.Agree);
        _report.Append('\n');
        if (first is null)
            _report.Append("verify: the kernel and the simulation agree (").Append(_checks.Count.ToString(CultureInfo.InvariantCulture)).Append(" checks)\n");
        else
        {
            _report.Append("differences:\n");
            foreach (var c in _checks.Where(c => !c.Agree))
                _report.Append("  - ").Append(c.Subject).Append(": kernel '").Append(c.Kernel).Append("', simulation '").Append(c.Simulated).Append("'\n");
            _report.Append("verify: ").Append(_checks.Count(c => !c.Agree).ToString(CultureInfo.InvariantCulture)).Append(" of ")
                .Append(_checks.Count.ToString(CultureInfo.InvariantCulture)).Append(" checks differ; first difference: ").Append(first.Subject)
                .Append(": kernel '").Append(first.Kernel).Append("', simulation '").Append(first.Simulated).Append("'\n");
        }
        _io.Out.Write(_report.ToString());
        return first is null ? Program.Ok : Commands.LabCommand.Disagree;
    }
}
