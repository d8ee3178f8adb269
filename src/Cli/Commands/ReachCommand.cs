using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl reach FILE [--json] [--lb ipvs|nftables] [--seed S] [--from NAME] [--to NAME]</c>: which sources (external,
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
        lb.AcceptOnlyFromAmong("ipvs", "nftables");
        var cmd = new Command("reach", "Which sources reach which services on which protocols and ports (and why the rest is blocked).") { file, json, lb, seed, from, to };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var backend = parse.GetValue(lb) == "nftables" ? LoadBalancerBackend.Nftables : LoadBalancerBackend.Ipvs;
            var loaded = TopologyLoader.Load(path, io);
            if (loaded is null) return Program.Failed;
            var lowered = SwarmCompiler.Lower(loaded, new LoweringOptions(backend));
            foreach (var d in lowered.Diagnostics) io.Error.WriteLine(d.ToString());
            if (lowered.Plan is null || loaded.Topology is null) return Program.Failed;
            var source = parse.GetValue(from);
            var destination = parse.GetValue(to);
            var pairs = ReachAnalysis.Pairs(loaded.Topology);
            // A name no pair has is a typo (or a dnsrr service, which has no VIP to reach): say so rather than print nothing.
            if (source is not null && !pairs.Any(p => p.Source == source))
                throw new CliUsageException($"--from '{source}' is not a source of this topology (external, a node or a service with a VIP network)");
            if (destination is not null && !pairs.Any(p => p.Destination == destination))
                throw new CliUsageException($"--to '{destination}' is not a destination of this topology (a node, or a service in VIP mode)");
            Func<ReachAnalysis.Pair, bool>? include = source is null && destination is null ? null
                : p => (source is null || p.Source == source) && (destination is null || p.Destination == destination);
            var rows = ReachAnalysis.Analyze(loaded.Topology, lowered.Plan, parse.GetValue(seed), include, Environment.ProcessorCount);
            io.Out.Write(parse.GetValue(json) ? RenderJson(rows, Path.GetFileName(path)) : RenderTable(rows));
            return Program.Ok;
        });
        return cmd;
    }

    private static string Ports(ReachRow r) =>
        r.Protocol == "icmp" ? "-"
        : r.FromPort == r.ToPort ? r.FromPort.ToString(CultureInfo.InvariantCulture)
        : r.FromPort.ToString(CultureInfo.InvariantCulture) + "-" + r.ToPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>An aligned table: source, destination, protocol, ports, result (with the cause of anything not reached).</summary>
    internal static string RenderTable(IReadOnlyList<ReachRow> rows)
    {
        var cells = new List<string[]> { new[] { "SOURCE", "DESTINATION", "PROTO", "PORTS", "RESULT" } };
        foreach (var r in rows)
            cells.Add(new[] { r.Source, r.Destination + " (" + r.Address + ")", r.Protocol, Ports(r), r.Cause is null ? r.Result : r.Result + ": " + r.Cause });
        var width = new int[4];
        foreach (var c in cells) for (int i = 0; i < 4; i++) width[i] = Math.Max(width[i], c[i].Length);
        var sb = new StringBuilder();
        foreach (var c in cells)
        {
            for (int i = 0; i < 4; i++) sb.Append(c[i].PadRight(width[i])).Append("  ");
            sb.Append(c[4]).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Stable JSON: { file, rows: [ { source, destination, address, protocol, fromPort, toPort, result, service, cause } ] }.</summary>
    internal static string RenderJson(IReadOnlyList<ReachRow> rows, string file)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("file", file);
            w.WriteStartArray("rows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteString("source", r.Source);
                w.WriteString("destination", r.Destination);
                w.WriteString("address", r.Address.ToString());
                w.WriteString("protocol", r.Protocol);
                w.WriteNumber("fromPort", r.FromPort);
                w.WriteNumber("toPort", r.ToPort);
                w.WriteString("result", r.Result);
                if (r.Service is null) w.WriteNull("service"); else w.WriteString("service", r.Service);
                if (r.Cause is null) w.WriteNull("cause"); else w.WriteString("cause", r.Cause);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n") + "\n";
    }
}
