using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl trace FILE --from SRC --to DST [--count N] [--reply] [--json] [--pcap FILE] [--lb ipvs|nftables] [--seed S]</c>:
/// simulate N connections over the compiled dataplane and print every packet's life. Exit 0 when every request was
/// delivered (or left the modelled network), 3 when one was dropped or looped, or, with <c>--reply</c>, its reply was.
/// </summary>
internal static class TraceCommand
{
    /// <summary>Exit code: a traced packet was dropped (or looped).</summary>
    public const int Dropped = 3;

    /// <summary>
    /// The largest --count accepted: the client's ephemeral ports (32768–60999, Linux's default ip_local_port_range). The
    /// connections stay open, so one more would reuse a port a live connection holds (a kernel refuses the connect()).
    /// </summary>
    public const int MaxCount = SwarmDsl.Runtime.Packets.VxlanCodec.LocalPortRangeMax - SwarmDsl.Runtime.Packets.VxlanCodec.LocalPortRangeMin + 1;

    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file (*.swarm.yaml)" };
        var from = new Option<string>("--from") { Description = "source: external, external:IP, NODE, SERVICE, TASK, NODE/NAMESPACE or IP", Required = true };
        var to = new Option<string>("--to") { Description = "destination: external[:IP], NODE[:PORT/PROTO], SERVICE, TASK, NODE/NAMESPACE or IP[:PORT]", Required = true };
        var count = new Option<int>("--count") { Description = "new connections to simulate", DefaultValueFactory = _ => 1 };
        var reply = new Option<bool>("--reply") { Description = "also trace the answer back to the client" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of text" };
        var pcap = new Option<string?>("--pcap") { Description = "write every frame at every device it crosses to this pcapng file" };
        var lb = new Option<string>("--lb") { Description = "load balancer backend: ipvs (Docker's) or nftables", DefaultValueFactory = _ => "ipvs" };
        var seed = new Option<uint>("--seed") { Description = "seed for ephemeral ports, flow hashes and random matches", DefaultValueFactory = _ => 0u };
        lb.AcceptOnlyFromAmong("ipvs", "nftables");
        var cmd = new Command("trace", "Simulate connections and print each packet's life through namespaces, netfilter, conntrack, IPVS, bridges and VXLAN.")
        {
            file, from, to, count, reply, json, pcap, lb, seed,
        };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            int n = parse.GetValue(count);
            if (n < 1 || n > MaxCount) throw new CliUsageException($"--count must be from 1 to {MaxCount.ToString(CultureInfo.InvariantCulture)} (the client's ephemeral ports, and the connections stay open), not {n.ToString(CultureInfo.InvariantCulture)}");
            var backend = parse.GetValue(lb) == "nftables" ? LoadBalancerBackend.Nftables : LoadBalancerBackend.Ipvs;
            var loaded = TopologyLoader.Load(path, io);
            if (loaded is null) return Program.Failed;
            var lowered = SwarmCompiler.Lower(loaded, TopologyLoader.Lowering(backend));
            foreach (var d in lowered.Diagnostics) io.Error.WriteLine(d.ToString());
            if (lowered.Plan is null || loaded.Topology is null) return Program.Failed;

            var pcapPath = parse.GetValue(pcap);
            // A path that cannot be a file is a mistake in the command, said before anything runs.
            if (pcapPath is not null && AtomicFile.Problem("--pcap", pcapPath) is { } problem) throw new CliUsageException(problem);
            var sim = new Simulation(lowered.Plan, parse.GetValue(seed));
            var flow = FlowEndpoints.Resolve(sim, loaded.Topology, parse.GetValue(from)!, parse.GetValue(to)!);
            // Steps name the declaration they come from (services.web.ports[0]) beside its place in the file.
            var paths = loaded.DeclarationPaths;
            bool withReplies = parse.GetValue(reply);
            bool failed = false;
            void Count(ConnectionTrace t)
            {
                var k = t.Request.Disposition.Kind;
                if (k == DispositionKind.Dropped || k == DispositionKind.Looped) failed = true;
                // With --reply the answer is part of what was asked: a connection whose reply is lost did not work.
                if (withReplies && TraceSummary.IsReplyLost(t)) failed = true;
            }
            if (!parse.GetValue(json) && pcapPath is null)
            {
                // Text is written connection by connection and nothing is kept: --count 28232 holds one trace at a time.
                var summary = new TraceSummary();
                foreach (var t in sim.ConnectEach(flow, n))
                {
                    io.Out.Write(TextTraceRenderer.Render(t, flow.Description, withReplies, paths));
                    summary.Add(t);
                    Count(t);
                }
                io.Out.Write(summary.Line(withReplies));
                return failed ? Dropped : Program.Ok;
            }
            var traces = sim.Connect(flow, n, captureFrames: pcapPath is not null);
            if (pcapPath is not null && !WritePcap(pcapPath, traces, withReplies, io)) return Program.Failed;
            if (parse.GetValue(json))
                io.Out.Write(JsonTraceRenderer.Render(traces, Path.GetFileName(path), parse.GetValue(from)!, parse.GetValue(to)!, parse.GetValue(seed), parse.GetValue(lb)!, withReplies, paths));
            else
                io.Out.Write(TextTraceRenderer.Render(traces, flow.Description, withReplies, paths));
            foreach (var t in traces) Count(t);
            if (failed) return Dropped;
            return Program.Ok;
        });
        return cmd;
    }

    private static bool WritePcap(string path, IReadOnlyList<ConnectionTrace> traces, bool withReplies, CliIo io)
    {
        var list = new List<(string, PacketTrace)>();
        foreach (var t in traces)
        {
            var label = "connection " + t.Number.ToString(CultureInfo.InvariantCulture);
            list.Add((label + " request", t.Request));
            if (withReplies && t.Reply is not null) list.Add((label + " reply", t.Reply));
        }
        return AtomicFile.TryWrite(path, fs => PcapngWriter.Write(fs, list), io);
    }
}
