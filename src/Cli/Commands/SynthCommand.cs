using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl synth [--preset small|large|huge] [--nodes N] … [-o FILE]</c> writes a synthetic, valid topology of
/// any size for scale tests and benchmarks (see <see cref="SyntheticTopology"/>). Options override the preset's values.
/// </summary>
internal static class SynthCommand
{
    public static Command Create(CliIo io)
    {
        var preset = new Option<string>("--preset") { Description = "starting shape: small (default), large (50 nodes, 500 services, 5,000 tasks, 1,000 ports) or huge (100 nodes, 1,000 services)" };
        var name = new Option<string?>("--name") { Description = "the topology name" };
        // Unsigned like every other verb's --seed: the generator reads the seed as 32 unsigned bits anyway.
        var seed = new Option<uint?>("--seed") { Description = "the seed, 0 to 4294967295 (same options and seed: same text)" };
        var nodes = new Option<int?>("--nodes") { Description = "hosts" };
        var overlays = new Option<int?>("--overlays") { Description = "overlay networks besides ingress" };
        var services = new Option<int?>("--services") { Description = "replicated services" };
        var tasks = new Option<int?>("--tasks") { Description = "replicas of all replicated services together" };
        var globals = new Option<int?>("--global-services") { Description = "global services (one task per node each)" };
        var ports = new Option<int?>("--ports") { Description = "published ports" };
        var hostMode = new Option<int?>("--host-mode-percent") { Description = "percentage of published ports in host mode" };
        var udp = new Option<int?>("--udp-percent") { Description = "percentage of published ports that are UDP" };
        var weighted = new Option<int?>("--weighted-percent") { Description = "percentage of services with pinned, weighted tasks" };
        var placement = new Option<int?>("--placement-percent") { Description = "percentage of services restricted by placement.nodes" };
        var schedulers = new Option<string?>("--schedulers") { Description = "comma-separated schedulers services draw from (rr,wrr,lc,wlc,sh,dh; default all)" };
        var expectations = new Option<int?>("--expectations") { Description = "expect entries" };
        var rules = new Option<int?>("--rules") { Description = "raw rules in DOCKER-USER" };
        var output = new Option<string?>("--output", "-o") { Description = "write to this file instead of standard output" };
        var cmd = new Command("synth", "Write a synthetic topology of any size (for scale tests and benchmarks).")
        {
            preset, name, seed, nodes, overlays, services, tasks, globals, ports, hostMode, udp, weighted, placement, schedulers, expectations, rules, output,
        };
        cmd.SetAction(parse =>
        {
            var presetName = parse.GetValue(preset) ?? "small";
            var o = SyntheticTopologyOptions.Preset(presetName)
                ?? throw new CliUsageException($"--preset must be one of {string.Join(", ", SyntheticTopologyOptions.PresetNames)}, not '{presetName}'");
            o = o with
            {
                Name = parse.GetValue(name) ?? o.Name,
                Seed = parse.GetValue(seed) is { } s ? unchecked((int)s) : o.Seed,
                Nodes = parse.GetValue(nodes) ?? o.Nodes,
                Overlays = parse.GetValue(overlays) ?? o.Overlays,
                Services = parse.GetValue(services) ?? o.Services,
                Tasks = parse.GetValue(tasks) ?? o.Tasks,
                GlobalServices = parse.GetValue(globals) ?? o.GlobalServices,
                PublishedPorts = parse.GetValue(ports) ?? o.PublishedPorts,
                HostModePercent = parse.GetValue(hostMode) ?? o.HostModePercent,
                UdpPercent = parse.GetValue(udp) ?? o.UdpPercent,
                WeightedPercent = parse.GetValue(weighted) ?? o.WeightedPercent,
                PlacementPercent = parse.GetValue(placement) ?? o.PlacementPercent,
                Schedulers = parse.GetValue(schedulers) is { } list ? ParseSchedulers(list) : o.Schedulers,
                Expectations = parse.GetValue(expectations) ?? o.Expectations,
                UserRules = parse.GetValue(rules) ?? o.UserRules,
            };
            if (o.Problem() is { } problem) throw new CliUsageException(problem);
            var path = parse.GetValue(output);
            // As for emit: an empty -o is a mistake (an unset variable), not a request for standard output.
            if (path is { Length: 0 }) throw new CliUsageException("-o needs a file name (leave -o out to write to standard output)");
            if (path is not null && AtomicFile.Problem("-o", path) is { } pathProblem) throw new CliUsageException(pathProblem);
            var text = SyntheticTopology.Generate(o, out var made);
            // Expectations go only to ingress-published TCP ports; the text stays valid, but the count asked for is not met.
            if (made < o.Expectations)
                io.Error.WriteLine($"swarmdsl: note: --expectations {o.Expectations}: made {made}, one per published TCP port in ingress mode (the topology has no more); raise --ports for more");
            if (path is null)
            {
                io.Out.Write(text);
                return Program.Ok;
            }
            if (!AtomicFile.TryWrite(path, fs => { var bytes = new System.Text.UTF8Encoding(false).GetBytes(text); fs.Write(bytes, 0, bytes.Length); }, io))
                return Program.Failed;
            return Program.Ok;
        });
        return cmd;
    }

    private static Scheduler[] ParseSchedulers(string list)
        => list.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim() switch
        {
            "rr" => Scheduler.Rr,
            "wrr" => Scheduler.Wrr,
            "lc" => Scheduler.Lc,
            "wlc" => Scheduler.Wlc,
            "sh" => Scheduler.Sh,
            "dh" => Scheduler.Dh,
            var other => throw new CliUsageException($"--schedulers: unknown scheduler '{other}': use rr, wrr, lc, wlc, sh or dh"),
        }).ToArray();
}
