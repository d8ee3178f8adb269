using System;
using System.Buffers;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl reach FILE [--json] [--lb ipvs|nftables] [--seed S] [--from NAME] [--to NAME] [--group] [--every-backend]</c>: which sources (external,
/// every node, every service) reach which services on which protocols and port ranges, computed over port atoms of the
/// compiled plan; <c>--from</c>/<c>--to</c> keep one source or destination.
/// </summary>
internal static class ReachCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file (*.swarm.yaml)" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var lb = new Option<string>("--lb") { Description = "load balancer backend: ipvs (Docker's) or nftables", DefaultValueFactory = _ => "ipvs" };
        var seed = new Option<uint>("--seed") { Description = "seed for ephemeral ports, flow hashes and random matches", DefaultValueFactory = _ => 0u };
        var from = new Option<string?>("--from") { Description = "only this source: external, a node or a service" };
        var to = new Option<string?>("--to") { Description = "only this destination: a node or a service" };
        var everyBackend = new Option<bool>("--every-backend") { Description = "probe a class a load balancer could give to several backends on each of them (slower; says which backends differ)" };
        var group = new Option<bool>("--group") { Description = "one entry per destination and set of sources with the same rows (printed at the end)" };
        lb.AcceptOnlyFromAmong("ipvs", "nftables");
        var cmd = new Command("reach", "Which sources reach which services on which protocols and ports (and why the rest is blocked).") { file, json, lb, seed, from, to, group, everyBackend };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var backend = parse.GetValue(lb) == "nftables" ? LoadBalancerBackend.Nftables : LoadBalancerBackend.Ipvs;
            var loaded = TopologyLoader.Load(path, io);
            if (loaded is null) return Program.Failed;
            if (loaded.Topology is null)
            {
                // Errors in the topology: say them (lowering, which prints them otherwise, never runs).
                foreach (var d in loaded.Diagnostics) io.Error.WriteLine(d.ToString());
                return Program.Failed;
            }
            var source = parse.GetValue(from);
            var destination = parse.GetValue(to);
            // Only the pairs asked about are listed: the whole list of a 1,000-service topology is 730,000 pairs.
            var kept = ReachAnalysis.Pairs(loaded.Topology, source, destination);
            if (kept.Count == 0)
            {
                // A name no pair has is a typo (or a dnsrr service, which has no VIP to reach): say which, rather than print nothing.
                if (source is not null && ReachAnalysis.Pairs(loaded.Topology, source, null).Count == 0)
                    throw new CliUsageException($"--from '{source}' is not a source of this topology (external, a node, or a service with tasks on a network, other than the ingress network, with a VIP service)");
                if (destination is not null && ReachAnalysis.Pairs(loaded.Topology, null, destination).Count == 0)
                    throw new CliUsageException(loaded.Topology.Services.FirstOrDefault(x => x.Name == destination && x.EndpointMode == SwarmDsl.Semantics.EndpointMode.Vip) is not { } vipService
                        ? $"--to '{destination}' is not a destination of this topology (a node, or a service in VIP mode, with tasks, on a network other than the ingress network)"
                        : !loaded.Topology.HasTasks(vipService.Name)
                        ? $"--to '{destination}': the service has no task (replicas 0, or no node it may run on), so no node balances its VIP or answers its name (Docker programs both with its first task): nothing is probed toward it"
                        : $"--to '{destination}': no service with tasks shares a network with it (the ingress network does not count), so nothing is probed toward its VIP");
                if (source is null && destination is null)
                    throw new CliUsageException("the topology has nothing to probe: it has no nodes");
                throw new CliUsageException($"no pair goes from '{source}' to '{destination}': external and nodes are probed toward nodes' addresses, services toward the VIPs of services they share a network with (the ingress network does not count)");
            }
            // A question lowers only the services its probes can meet (the rows are the same, see ReachAnalysis.Slice).
            var slice = ReachAnalysis.Slice(loaded.Topology, source, destination);
            var lowered = SwarmCompiler.Lower(loaded, slice, TopologyLoader.Lowering(backend));
            foreach (var d in lowered.Diagnostics) io.Error.WriteLine(d.ToString());
            if (lowered.Plan is null) return Program.Failed;
            if (lowered.Plan.Underlay.ExternalClient == SwarmDsl.Net.Ipv4Address.Any && (source is null || source == "external"))
            {
                // No free underlay address for the outside client (SWARM0022, printed above): its rows would be a client at 0.0.0.0.
                var why = $"the underlay subnet {lowered.Plan.Underlay.Subnet} has no address left for the external client (SWARM0022)";
                if (source == "external") throw new CliUsageException("--from external: " + why);
                io.Error.WriteLine("swarmdsl: note: external is not probed: " + why);
            }
            if (!parse.GetValue(everyBackend) && ReachAnalysis.BackendsMayDiffer(loaded.Topology))
            {
                var uneven = ReachAnalysis.ServicesWithUnevenBackends(slice);
                io.Error.WriteLine(uneven.Count == 0
                    ? "swarmdsl: note: raw rules or per-node sysctls can make a service's backends answer differently; a row says what the backend its balancer picked did (--every-backend probes each)"
                    : "swarmdsl: note: probed on each backend: " + UnevenNames(uneven) + " (a raw rule is in one of their tasks); raw rules elsewhere or per-node sysctls can still make other services' backends answer differently, and their rows say what the backend the balancer picked did (--every-backend probes each)");
            }
            // Rows are written as pairs finish, never held: a 100-node table has tens of millions of them. The process's own
            // stdout gets a buffer of its own (Console.Out flushes every write).
            var console = ReferenceEquals(io.Out, Console.Out);
            using var buffered = console ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { NewLine = "\n" } : null;
            var output = buffered ?? io.Out;
            IReachSink sink = parse.GetValue(group) ? new GroupSink(output, ReachAnalysis.Sources(loaded.Topology), parse.GetValue(json) ? Path.GetFileName(path) : null)
                : parse.GetValue(json) ? new JsonSink(output, Path.GetFileName(path))
                : new TableSink(output, kept, loaded.Topology);
            // Rows printed on the terminal show progress themselves: the counter is for a table going to a file or a pipe.
            var progress = new TerminalProgress(io.Error, TerminalProgress.IsTerminalError(io.Error) && Console.IsOutputRedirected, "reach", kept.Count, "pairs");
            ReachAnalysis.Analyze(slice, lowered.Plan, source, destination, (pair, rows) => { sink.Write(pair, rows); progress.Step(); },
                parse.GetValue(seed), Environment.ProcessorCount, parse.GetValue(everyBackend));
            sink.End();
            progress.Clear();
            output.Flush();
            return Program.Ok;
        });
        return cmd;
    }

    private static string Ports(ReachRow r) =>
        r.Protocol == "icmp" ? "-"
        : r.FromPort == r.ToPort ? r.FromPort.ToString(CultureInfo.InvariantCulture)
        : r.FromPort.ToString(CultureInfo.InvariantCulture) + "-" + r.ToPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>Where rows go as they are computed.</summary>
    private interface IReachSink
    {
        void Write(ReachAnalysis.Pair pair, IReadOnlyList<ReachRow> rows);

        void End();
    }

    /// <summary>
    /// An aligned table: source, destination, protocol, ports, result (with the cause of anything not reached). The widths
    /// come from the pairs before any row exists: every source's name, every destination's name with its longest address,
    /// and the widest port range (65535-65535).
    /// </summary>
    private sealed class TableSink : IReachSink
    {
        private readonly TextWriter _out;
        private readonly int[] _width;
        // A pair's lines, written with one call: a large table has tens of millions of rows, and building each line's
        // columns as strings cost twice what copying them here does.
        private char[] _buffer = new char[1 << 16];
        private int _length;
        // The source and destination columns, padded, as the last row had them: a pair's rows share them.
        private string? _source, _destination;
        private Ipv4Address _address;
        private string _sourceColumn = "", _destinationColumn = "";

        public TableSink(TextWriter output, IReadOnlyList<ReachAnalysis.Pair> pairs, SwarmDsl.Semantics.Topology topology)
        {
            _out = output;
            _width = new[] { "SOURCE".Length, "DESTINATION".Length, "PROTO".Length, "65535-65535".Length };
            var addressWidth = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var p in pairs)
            {
                _width[0] = Math.Max(_width[0], p.Source.Length);
                if (!addressWidth.TryGetValue(p.Destination, out int a))
                {
                    a = 0;
                    foreach (var address in ReachAnalysis.Addresses(topology, p.Destination)) a = Math.Max(a, address.ToString().Length);
                    addressWidth[p.Destination] = a;
                }
                _width[1] = Math.Max(_width[1], p.Destination.Length + " ()".Length + a);
            }
            Column("SOURCE", _width[0]);
            Column("DESTINATION", _width[1]);
            Column("PROTO", _width[2]);
            Column("PORTS", _width[3]);
            Append("RESULT");
            Append('\n');
        }

        public void Write(ReachAnalysis.Pair pair, IReadOnlyList<ReachRow> rows)
        {
            foreach (var r in rows)
            {
                if (!string.Equals(r.Source, _source, StringComparison.Ordinal))
                {
                    _source = r.Source;
                    _sourceColumn = Padded(r.Source, _width[0]);
                }
                if (!string.Equals(r.Destination, _destination, StringComparison.Ordinal) || r.Address != _address)
                {
                    _destination = r.Destination;
                    _address = r.Address;
                    _destinationColumn = Padded(r.Destination + " (" + r.Address + ")", _width[1]);
                }
                Append(_sourceColumn);
                Append(_destinationColumn);
                Column(r.Protocol, _width[2]);
                int start = _length;
                Reserve(2 * 11 + 1);
                if (r.Protocol == "icmp") Append('-');
                else
                {
                    Number(r.FromPort);
                    if (r.FromPort != r.ToPort) { Append('-'); Number(r.ToPort); }
                }
                Spaces(Math.Max(0, _width[3] - (_length - start)) + 2);
                Append(r.Result);
                if (r.Cause is not null) { Append(": "); Append(r.Cause); }
                Append('\n');
            }
            Flush();
        }

        public void End() => Flush();

        private void Flush()
        {
            _out.Write(_buffer, 0, _length);
            _length = 0;
        }

        private static string Padded(string text, int width) => text + new string(' ', Math.Max(0, width - text.Length) + 2);

        private void Column(string text, int width)
        {
            Append(text);
            Spaces(Math.Max(0, width - text.Length) + 2);
        }

        private void Reserve(int n)
        {
            if (_length + n > _buffer.Length) Array.Resize(ref _buffer, Math.Max(2 * _buffer.Length, _length + n));
        }

        private void Append(string text)
        {
            Reserve(text.Length);
            text.CopyTo(0, _buffer, _length, text.Length);
            _length += text.Length;
        }

        private void Append(char c)
        {
            Reserve(1);
            _buffer[_length++] = c;
        }

        private void Spaces(int n)
        {
            Reserve(n);
            _buffer.AsSpan(_length, n).Fill(' ');
            _length += n;
        }

        private void Number(int n)
        {
            n.TryFormat(_buffer.AsSpan(_length), out int written, default, CultureInfo.InvariantCulture);
            _length += written;
        }
    }

    /// <summary>
    /// Stable JSON: { file, rows: [ { source, destination, address, protocol, fromPort, toPort, result, service, cause,
    /// (backends: [ { result, service, cause, tasks } ]) } ] }.
    /// </summary>
    private sealed class JsonSink : IReachSink
    {
        private readonly TextWriter _out;
        private readonly ArrayBufferWriter<byte> _buffer = new(1 << 16);
        private readonly Utf8JsonWriter _w;

        public JsonSink(TextWriter output, string file)
        {
            _out = output;
            _w = new Utf8JsonWriter(_buffer, JsonOptions);
            _w.WriteStartObject();
            _w.WriteString("file", file);
            _w.WriteStartArray("rows");
        }

        public void Write(ReachAnalysis.Pair pair, IReadOnlyList<ReachRow> rows)
        {
            foreach (var r in rows)
            {
                _w.WriteStartObject();
                _w.WriteString("source", r.Source);
                _w.WriteString("destination", r.Destination);
                _w.WriteString("address", r.Address.ToString());
                WriteOutcome(_w, r);
                _w.WriteEndObject();
            }
            Drain(_w, _buffer, _out);
        }

        public void End()
        {
            _w.WriteEndArray();
            _w.WriteEndObject();
            Drain(_w, _buffer, _out);
            _out.Write('\n');
            _w.Dispose();
        }
    }

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        Indented = true, NewLine = "\n", Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A row's protocol, ports and outcome, the fields of a row in both JSON forms.</summary>
    private static void WriteOutcome(Utf8JsonWriter w, ReachRow r)
    {
        w.WriteString("protocol", r.Protocol);
        w.WriteNumber("fromPort", r.FromPort);
        w.WriteNumber("toPort", r.ToPort);
        w.WriteString("result", r.Result);
        if (r.Service is null) w.WriteNull("service"); else w.WriteString("service", r.Service);
        if (r.Cause is null) w.WriteNull("cause"); else w.WriteString("cause", r.Cause);
        if (r.Backends.IsEmpty) return;
        // --every-backend, backends that did not all end the same way: each way and its tasks.
        w.WriteStartArray("backends");
        foreach (var b in r.Backends)
        {
            w.WriteStartObject();
            w.WriteString("result", b.Result);
            if (b.Service is null) w.WriteNull("service"); else w.WriteString("service", b.Service);
            if (b.Cause is null) w.WriteNull("cause"); else w.WriteString("cause", b.Cause);
            w.WriteStartArray("tasks");
            foreach (var t in b.Tasks) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>What the writer holds, out: it flushes whole tokens, so the bytes never end inside a character.</summary>
    private static void Drain(Utf8JsonWriter w, ArrayBufferWriter<byte> buffer, TextWriter output)
    {
        w.Flush();
        if (output is StreamWriter { BaseStream: { } stream } writer && writer.Encoding is UTF8Encoding)
        {
            // The process's own output: the bytes as they are, not decoded into a string and encoded again (a large table's
            // JSON is gigabytes).
            writer.Flush();
            stream.Write(buffer.WrittenSpan);
        }
        else output.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        buffer.ResetWrittenCount();
    }

    /// <summary>
    /// <c>--group</c>: the table folded by destination (<see cref="ReachGrouping"/>), written when every pair is in. A group
    /// is a line naming the destination and its sources (a run of three or more sources that follow each other in the
    /// table's order as <c>first .. last</c>), then its rows; or, with <c>--json</c>, <c>{ file, groups: [ { destination,
    /// address, sources: [..], rows: [ { protocol, fromPort, toPort, result, service, cause } ] } ] }</c>.
    /// </summary>
    private sealed class GroupSink : IReachSink
    {
        private readonly TextWriter _out;
        private readonly string? _jsonFile;
        private readonly ReachGrouping _grouping = new();
        private readonly Dictionary<string, int> _sourceOrder = new(StringComparer.Ordinal);
        private readonly List<string> _sources = new();

        public GroupSink(TextWriter output, IReadOnlyList<string> sources, string? jsonFile)
        {
            _out = output;
            _jsonFile = jsonFile;
            foreach (var source in sources)
                if (!_sourceOrder.ContainsKey(source))
                {
                    _sourceOrder[source] = _sources.Count;
                    _sources.Add(source);
                }
        }

        public void Write(ReachAnalysis.Pair pair, IReadOnlyList<ReachRow> rows) => _grouping.Add(pair, rows);

        public void End()
        {
            if (_jsonFile is not null) { WriteJson(_jsonFile); return; }
            var sb = new StringBuilder();
            bool first = true;
            foreach (var g in _grouping.Groups())
            {
                if (!first) sb.Append('\n');
                first = false;
                sb.Append(g.Destination).Append(" (").Append(g.Address).Append(") from ").Append(Sources(g.Sources));
                if (g.Sources.Count > 1) sb.Append(" (").Append(g.Sources.Count.ToString(CultureInfo.InvariantCulture)).Append(" sources)");
                sb.Append('\n');
                foreach (var r in g.Rows)
                {
                    var ports = Ports(r);
                    sb.Append("  ").Append(r.Protocol).Append(' ', "PROTO".Length - r.Protocol.Length + 2)
                        .Append(ports).Append(' ', Math.Max(0, "65535-65535".Length - ports.Length) + 2)
                        .Append(r.Cause is null ? r.Result : r.Result + ": " + r.Cause).Append('\n');
                }
                // Written group by group: the folded table is still large for a large topology.
                _out.Write(sb);
                sb.Clear();
            }
        }

        /// <summary>The sources, runs of three or more consecutive ones (in the table's order of sources) as "first .. last".</summary>
        private string Sources(IReadOnlyList<string> sources)
        {
            var parts = new List<string>();
            int i = 0;
            while (i < sources.Count)
            {
                int j = i;
                while (j + 1 < sources.Count && _sourceOrder[sources[j + 1]] == _sourceOrder[sources[j]] + 1) j++;
                if (j - i >= 2) parts.Add(sources[i] + " .. " + sources[j]);
                else for (int k = i; k <= j; k++) parts.Add(sources[k]);
                i = j + 1;
            }
            return string.Join(", ", parts);
        }

        private void WriteJson(string file)
        {
            var buffer = new ArrayBufferWriter<byte>(1 << 16);
            using var w = new Utf8JsonWriter(buffer, JsonOptions);
            w.WriteStartObject();
            w.WriteString("file", file);
            w.WriteStartArray("groups");
            foreach (var g in _grouping.Groups())
            {
                w.WriteStartObject();
                w.WriteString("destination", g.Destination);
                w.WriteString("address", g.Address.ToString());
                w.WriteStartArray("sources");
                foreach (var source in g.Sources) w.WriteStringValue(source);
                w.WriteEndArray();
                w.WriteStartArray("rows");
                foreach (var r in g.Rows)
                {
                    w.WriteStartObject();
                    WriteOutcome(w, r);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
                Drain(w, buffer, _out);
            }
            w.WriteEndArray();
            w.WriteEndObject();
            Drain(w, buffer, _out);
            _out.Write('\n');
        }
    }

    // The first few services by name, and how many more.
    private static string UnevenNames(System.Collections.Generic.IReadOnlyCollection<string> services) =>
        services.Count <= 5 ? string.Join(", ", services) : string.Join(", ", services.Take(4)) + " and " + (services.Count - 4).ToString(System.Globalization.CultureInfo.InvariantCulture) + " more";
}
