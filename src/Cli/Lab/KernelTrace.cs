using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using SwarmDsl.Net;

namespace SwarmDsl.Cli.Lab;

/// <summary>A connection (or packet) whose netfilter path the kernel traces: the client's source port identifies it everywhere.</summary>
/// <param name="Index">Its number in the verify run.</param>
/// <param name="Protocol">tcp or udp.</param>
/// <param name="SourcePort">The client's source port (kept by every NAT on the way, so it marks the packets in every namespace).</param>
internal sealed record TracedFlow(int Index, IpProtocol Protocol, int SourcePort);

/// <summary>One event of <c>nft monitor trace</c> that says what a chain did with a traced packet.</summary>
/// <param name="Netns">The namespace it happened in.</param>
/// <param name="Flow">The traced flow the packet belongs to.</param>
/// <param name="Reply">Whether the packet travelled from server to client.</param>
/// <param name="Table">The nftables table (iptables-nft names them after the iptables tables).</param>
/// <param name="Chain">The chain.</param>
/// <param name="Position">The rule's position in its chain (1-based), 0 for the chain policy.</param>
/// <param name="Verdict">accept, drop, continue, return, jump X, goto X; for the policy accept or drop.</param>
/// <param name="Text">The line as nft printed it.</param>
internal sealed record KernelTraceEvent(string Netns, int Flow, bool Reply, string Table, string Chain, int Position, string Verdict, string Text)
{
    /// <summary>The comparable form, <c>nat PREROUTING #1 jump DOCKER-INGRESS</c> or <c>filter FORWARD policy accept</c>.</summary>
    public string Token => Position == 0 ? Table + " " + Chain + " policy " + Verdict : Table + " " + Chain + " #" + Position.ToString(CultureInfo.InvariantCulture) + " " + Verdict;
}

/// <summary>
/// The rules of one namespace's nftables ruleset as <c>nft -a list ruleset</c> prints them: which chains are base chains,
/// how many rules each has, and the position of every rule handle, so a trace event (which names the handle) becomes
/// "rule #N of the chain", the way the plan and the simulation number rules.
/// </summary>
internal sealed class NftRuleIndex
{
    private static readonly Regex TableLine = new(@"^table (\S+) (\S+) \{", RegexOptions.CultureInvariant);
    private static readonly Regex ChainLine = new(@"^chain (\S+) \{", RegexOptions.CultureInvariant);
    private static readonly Regex Handle = new(@"# handle (\d+)\s*$", RegexOptions.CultureInvariant);

    private readonly Dictionary<(string Table, string Chain, int Handle), int> _positions = new();
    private readonly Dictionary<(string Table, string Chain), (bool Base, int Rules)> _chains = new();

    /// <summary>Parses <c>nft -a list ruleset</c> output (family ip only).</summary>
    public static NftRuleIndex Parse(string listing)
    {
        var index = new NftRuleIndex();
        string? table = null, chain = null;
        bool isBase = false;
        int rules = 0, depth = 0;
        foreach (var raw in listing.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("#", StringComparison.Ordinal)) continue;
            Match m;
            if (depth == 0 && (m = TableLine.Match(line)).Success)
            {
                table = m.Groups[1].Value == "ip" ? m.Groups[2].Value : null;
                depth = 1;
                continue;
            }
            if (depth == 1 && (m = ChainLine.Match(line)).Success)
            {
                chain = m.Groups[1].Value;
                isBase = false;
                rules = 0;
                depth = 2;
                continue;
            }
            if (depth == 1 && line.EndsWith("{", StringComparison.Ordinal) || depth == 1 && Handle.IsMatch(line) && line.Contains('{'))
            {
                depth = line.EndsWith("}", StringComparison.Ordinal) ? 1 : 3; // a named set, map or flowtable: not rules
                continue;
            }
            if (line == "}")
            {
                if (depth == 2 && table is not null && chain is not null) index._chains[(table, chain)] = (isBase, rules);
                depth = Math.Max(0, depth - 1);
                if (depth <= 1) chain = null;
                continue;
            }
            if (depth != 2 || table is null || chain is null) continue;
            if (line.StartsWith("type ", StringComparison.Ordinal) && line.Contains(" hook ")) { isBase = true; continue; }
            if ((m = Handle.Match(line)).Success)
            {
                rules++;
                index._positions[(table, chain, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))] = rules;
            }
        }
        return index;
    }

    /// <summary>The position of rule <paramref name="handle"/> in its chain, or 0 when unknown.</summary>
    public int Position(string table, string chain, int handle) => _positions.TryGetValue((table, chain, handle), out var p) ? p : 0;

    /// <summary>How many rules a chain has (-1 when the chain is unknown).</summary>
    public int RuleCount(string table, string chain) => _chains.TryGetValue((table, chain), out var c) ? c.Rules : -1;
}

/// <summary>
/// Kernel-side tracing for <c>verify</c>: a table <c>ip swarmdsl_lab</c> in each traced namespace whose prerouting and
/// output chains (priority -350, before raw, conntrack and everything else) set <c>meta nftrace</c> on the packets of the
/// sampled flows — inner packets by the client's source port (TCP: only SYN and SYN-ACK, the packets the simulation
/// models), VXLAN packets by the inner ports at their offset behind the outer UDP header, ICMP errors by the port they
/// quote — and one <c>nft -a monitor</c> per namespace. The table is removed afterwards.
/// </summary>
internal sealed class KernelTrace : IDisposable
{
    /// <summary>The lab's own tracing table (its events are not part of the comparison).</summary>
    public const string Table = "swarmdsl_lab";

    private static readonly Regex EventLine = new(@"^trace id (\S+) ip (\S+) (\S+) (rule|policy|packet:|verdict)\s?(.*)$", RegexOptions.CultureInvariant);
    private static readonly Regex RuleTail = new(@"# handle (\d+) \(verdict ([^)]*)\)\s*$", RegexOptions.CultureInvariant);
    private static readonly Regex Ports = new(@"\b(tcp|udp) sport (\d+) \1 dport (\d+)\b", RegexOptions.CultureInvariant);
    private static readonly Regex TraceRule = new(@"comment ""flow (\d+) (request|reply)( icmp)?""", RegexOptions.CultureInvariant);

    private readonly List<(string Netns, Process Process, StringBuilder Output)> _monitors = new();
    private readonly List<string> _tables = new();
    private IReadOnlyList<TracedFlow> _flows = Array.Empty<TracedFlow>();
    private readonly Dictionary<string, NftRuleIndex> _rules = new(StringComparer.Ordinal);

    /// <summary>Problems met while setting tracing up or tearing it down (the comparison reports them).</summary>
    public List<string> Problems { get; } = new();

    /// <summary>The raw monitor output per namespace (saved beside the journal for a human to read).</summary>
    public Dictionary<string, string> RawOutput { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Starts one monitor per namespace of <paramref name="listings"/>, where the tracing table (<see cref="Script"/>) is
    /// already installed; each listing is that namespace's <c>nft -a list ruleset</c>, which numbers the rules.
    /// </summary>
    public void StartMonitors(IReadOnlyDictionary<string, string> listings, IReadOnlyList<TracedFlow> flows)
    {
        _flows = flows;
        foreach (var (ns, listing) in listings.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            _tables.Add(ns);
            _rules[ns] = NftRuleIndex.Parse(listing);
            var psi = new ProcessStartInfo("nsenter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            // All events, not only traces: a ruleset change is how we learn that the monitor has subscribed (below).
            foreach (var a in new[] { "--net=" + HostCommand.NetnsPath(ns), "--", "nft", "-a", "monitor" }) psi.ArgumentList.Add(a);
            var p = Process.Start(psi);
            if (p is null) { Problems.Add("cannot start nft monitor trace in " + ns); continue; }
            var output = new StringBuilder();
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Append(e.Data).Append('\n'); };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            _monitors.Add((ns, p, output));
        }
        // A barrier: add a chain in every namespace and wait until its monitor reports it, so no monitor misses the
        // traffic that follows however slowly it started. A monitor not yet subscribed misses the event, so each round
        // adds a new chain where the monitor has not reported one yet.
        var ready = new HashSet<string>(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (int round = 1; ready.Count < _monitors.Count && DateTime.UtcNow < deadline; round++)
        {
            var waiting = _monitors.Where(m => !ready.Contains(m.Netns) && !m.Process.HasExited).ToList();
            if (waiting.Count == 0) break;
            var chain = ReadyChain + round.ToString(CultureInfo.InvariantCulture);
            System.Threading.Tasks.Parallel.ForEach(waiting, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 4 },
                m => HostCommand.InNetns(m.Netns, "nft", "add", "chain", "ip", Table, chain));
            var roundEnd = DateTime.UtcNow.AddMilliseconds(500 + 100 * round);
            while (DateTime.UtcNow < roundEnd && waiting.Any(m => !ready.Contains(m.Netns)))
            {
                foreach (var m in waiting)
                    lock (m.Output)
                        if (m.Output.ToString().Contains("add chain ip " + Table + " " + ReadyChain, StringComparison.Ordinal)) ready.Add(m.Netns);
                System.Threading.Thread.Sleep(20);
            }
        }
        foreach (var m in _monitors.Where(m => !ready.Contains(m.Netns))) Problems.Add("nft monitor in " + m.Netns + " did not start");
    }

    private const string ReadyChain = "ready";
    private const string DoneChain = "done";

    /// <summary>The nft script of the tracing table.</summary>
    internal static string Script(IReadOnlyList<TracedFlow> flows, int dataPathPort)
    {
        var rules = new StringBuilder();
        var vx = dataPathPort.ToString(CultureInfo.InvariantCulture);
        foreach (var f in flows)
        {
            var port = f.SourcePort.ToString(CultureInfo.InvariantCulture);
            var n = f.Index.ToString(CultureInfo.InvariantCulture);
            bool tcp = f.Protocol == IpProtocol.Tcp;
            var proto = tcp ? "tcp" : "udp";
            var syn = tcp ? " tcp flags & syn == syn" : "";
            // A reply is the SYN-ACK, or the RST of a port nobody listens on (the simulation walks that too). That RST
            // answers the SYN, which carried no ACK, so it is RST|ACK with sequence number 0 (tcp_v4_send_reset); a RST at
            // the connection's teardown (the server's socket already gone when the client's FIN or ACK arrives: RST without
            // ACK, sequence = the acknowledged one) is not part of the exchange and is not traced.
            var replies = tcp ? new[] { " tcp flags & (syn | ack) == syn | ack", " tcp flags & (rst | ack) == rst | ack tcp sequence 0" } : new[] { "" };
            // Behind the outer UDP header: 8 UDP + 8 VXLAN + 14 Ethernet bytes, then the inner IPv4 header (20 bytes, protocol
            // at byte 9), then the inner ports; the TCP flags are byte 13 of the inner TCP header.
            var inner = " udp dport " + vx + " @th,312,8 " + (tcp ? "6" : "17");
            var innerSyn = tcp ? " @th,504,8 & 0x2 == 0x2" : "";
            // The same two replies inside VXLAN: flags byte 13 and sequence number (bytes 4-7) of the inner TCP header.
            var innerReplies = tcp ? new[] { " @th,504,8 & 0x12 == 0x12", " @th,504,8 & 0x14 == 0x14 @th,432,32 0" } : new[] { "" };
            // The request and its answer are traced once per rule, so once per namespace they enter: a SYN nothing answers
            // is sent again after a second, inside the probe's wait, and its copy (and a REJECT's reset of it) would add a
            // walk the simulated exchange does not have. verify's probes come from the external client, whose packets do not
            // enter a namespace twice through the same rule (crossing into a namespace resets the trace flag, and the VXLAN
            // carrier has rules of its own); a hairpin (a task calling its own service's published port) would, and its
            // second pass would go untraced.
            const string once = " limit rate 1/hour burst 1 packets";
            rules.Append("\t\t").Append(proto).Append(" sport ").Append(port).Append(syn).Append(once).Append(" meta nftrace set 1 comment \"flow ").Append(n).Append(" request\"\n");
            foreach (var r in replies)
                rules.Append("\t\t").Append(proto).Append(" dport ").Append(port).Append(r).Append(once).Append(" meta nftrace set 1 comment \"flow ").Append(n).Append(" reply\"\n");
            rules.Append("\t\t").Append(inner).Append(" @th,400,16 ").Append(port).Append(innerSyn).Append(once).Append(" meta nftrace set 1 comment \"flow ").Append(n).Append(" request\"\n");
            foreach (var r in innerReplies)
                rules.Append("\t\t").Append(inner).Append(" @th,416,16 ").Append(port).Append(r).Append(once).Append(" meta nftrace set 1 comment \"flow ").Append(n).Append(" reply\"\n");
            // An ICMP error about a packet of the flow travels back like a reply; it quotes that packet (ports 28 bytes
            // behind the ICMP header: 8 ICMP + 20 IPv4), with the client's port as the quoted source port.
            rules.Append("\t\ticmp type { destination-unreachable, time-exceeded } @th,224,16 ").Append(port)
                .Append(" meta nftrace set 1 comment \"flow ").Append(n).Append(" reply icmp\"\n");
        }
        var sb = new StringBuilder();
        sb.Append("table ip ").Append(Table).Append('\n').Append("delete table ip ").Append(Table).Append('\n');
        sb.Append("table ip ").Append(Table).Append(" {\n");
        foreach (var (chain, hook) in new[] { ("pre", "prerouting"), ("out", "output") })
            sb.Append("\tchain ").Append(chain).Append(" {\n\t\ttype filter hook ").Append(hook).Append(" priority -350; policy accept;\n").Append(rules).Append("\t}\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>Stops the monitors, removes the tracing tables, and returns every event of the traced flows, per namespace in order.</summary>
    public IReadOnlyList<KernelTraceEvent> Stop()
    {
        // The same barrier at the end: once a monitor reports a chain added now, it has read every trace event the
        // kernel sent before.
        System.Threading.Tasks.Parallel.ForEach(_monitors, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = 4 },
            m => HostCommand.InNetns(m.Netns, "nft", "add", "chain", "ip", Table, DoneChain));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        foreach (var (_, p, output) in _monitors)
            while (!p.HasExited && DateTime.UtcNow < deadline)
            {
                lock (output) if (output.ToString().Contains("add chain ip " + Table + " " + DoneChain, StringComparison.Ordinal)) break;
                System.Threading.Thread.Sleep(20);
            }
        foreach (var (ns, p, output) in _monitors)
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            p.WaitForExit();
            lock (output) RawOutput[ns] = output.ToString();
            p.Dispose();
        }
        foreach (var ns in _tables)
        {
            var r = HostCommand.InNetns(ns, "nft", "delete", "table", "ip", Table);
            if (!r.Ok) Problems.Add("cannot remove the trace table in " + ns + ": " + r.LastLine());
        }
        _tables.Clear();
        var events = new List<KernelTraceEvent>();
        foreach (var (ns, _, _) in _monitors) events.AddRange(Parse(ns, RawOutput[ns], _rules[ns], _flows));
        _monitors.Clear();
        return events;
    }

    /// <summary>
    /// Reads one namespace's monitor output. An event of the tracing table's own rule says which flow and direction the
    /// packet with that trace id belongs to; so does the "packet:" line of an inner packet (by its ports); the events after
    /// it with the same id are attributed to it (ids are reused for later packets, so the attribution is renewed each time).
    /// </summary>
    internal static IEnumerable<KernelTraceEvent> Parse(string netns, string output, NftRuleIndex rules, IReadOnlyList<TracedFlow> flows)
    {
        var byPort = flows.ToDictionary(f => f.SourcePort, f => f.Index);
        var owner = new Dictionary<string, (int Flow, bool Reply)>(StringComparer.Ordinal);
        (int Flow, bool Reply)? lastIcmp = null;
        foreach (var line in output.Split('\n'))
        {
            var m = EventLine.Match(line.TrimEnd());
            if (!m.Success) continue;
            var id = m.Groups[1].Value;
            var table = m.Groups[2].Value;
            var chain = m.Groups[3].Value;
            var kind = m.Groups[4].Value;
            var rest = m.Groups[5].Value;
            if (table == Table)
            {
                if (kind == "rule" && TraceRule.Match(rest) is { Success: true } t)
                {
                    owner[id] = (int.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture), t.Groups[2].Value == "reply");
                    if (t.Groups[3].Success) lastIcmp = owner[id];
                }
                continue;
            }
            if (kind == "packet:")
            {
                // An inner packet names its ports: that attributes it even when its trace id changed on the way (a frame
                // bridged through br_netfilter is evaluated again under a new id, with its nftrace flag still set).
                var ports = Ports.Match(rest);
                if (ports.Success)
                {
                    int sport = int.Parse(ports.Groups[2].Value, CultureInfo.InvariantCulture);
                    int dport = int.Parse(ports.Groups[3].Value, CultureInfo.InvariantCulture);
                    if (byPort.TryGetValue(sport, out var f1)) owner[id] = (f1, false);
                    else if (byPort.TryGetValue(dport, out var f2)) owner[id] = (f2, true);
                }
                // An ICMP error names no ports nft prints: a new id for one is the error the tracing rule marked last
                // (in a quiet lab only the flows' own errors are traced).
                else if (!owner.ContainsKey(id) && rest.Contains("icmp type", StringComparison.Ordinal) && lastIcmp is { } icmp)
                    owner[id] = icmp;
                continue;
            }
            if (!owner.TryGetValue(id, out var flow)) continue;
            if (kind == "rule")
            {
                var tail = RuleTail.Match(rest);
                if (!tail.Success) continue;
                var handle = int.Parse(tail.Groups[1].Value, CultureInfo.InvariantCulture);
                yield return new KernelTraceEvent(netns, flow.Flow, flow.Reply, table, chain, rules.Position(table, chain, handle), NormalizeVerdict(tail.Groups[2].Value), line.Trim());
            }
            else if (kind == "policy")
            {
                var verdict = rest.Split(' ')[0];
                // The simulation, like iptables -L, says nothing about a built-in chain without rules that accepts.
                if (verdict == "accept" && rules.RuleCount(table, chain) == 0) continue;
                yield return new KernelTraceEvent(netns, flow.Flow, flow.Reply, table, chain, 0, verdict, line.Trim());
            }
        }
    }

    private static string NormalizeVerdict(string v)
    {
        v = v.Trim();
        return v.StartsWith("jump ", StringComparison.Ordinal) || v.StartsWith("goto ", StringComparison.Ordinal) ? v : v.Split(' ')[0];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (_, p, _) in _monitors)
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.Dispose();
        }
        _monitors.Clear();
        foreach (var ns in _tables) HostCommand.InNetns(ns, "nft", "delete", "table", "ip", Table);
        _tables.Clear();
    }
}
