using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl reach FILE [--json] [--lb ipvs|nftables] [--seed S]</c>: which sources (external, every node, every
/// service) reach which services on which protocols and port ranges, computed over port atoms of the compiled plan.
/// </summary>
internal static class ReachCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file (*.swarm.yaml)" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var lb = new Option<string>("--lb") { Description = "load balancer backend: ipvs (Docker's) or nftables", DefaultValueFactory = _ => "ipvs" };
        var seed = new Option<uint>("--seed") { Description = "seed for ephemeral ports, flow hashes and random matches", DefaultValueFactory = _ => 0u };
        lb.AcceptOnlyFromAmong("ipvs", "nftables");
        var cmd = new Command("reach", "Which sources reach which services on which protocols and ports (and why the rest is blocked).") { file, json, lb, seed };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var backend = parse.GetValue(lb) == "nftables" ? LoadBalancerBackend.Nftables : LoadBalancerBackend.Ipvs;
            var loaded = TopologyLoader.Load(path, io);
            if (loaded is null) return Program.Failed;
            var lowered = SwarmCompiler.Lower(loaded, new LoweringOptions(backend));
            foreach (var d in lowered.Diagnostics) io.Error.WriteLine(d.ToString());
            if (lowered.Plan is null || loaded.Topology is null) return Program.Failed;
            var rows = ReachAnalysis.Analyze(loaded.Topology, lowered.Plan, parse.GetValue(seed));
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
