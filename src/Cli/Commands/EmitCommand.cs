using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using SwarmDsl.Emit;
using SwarmDsl.Lowering;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Cli.Commands;

/// <summary>
/// <c>swarmdsl emit FILE -o DIR [--node N] [--lb ipvs|nftables] [--format tree|json]</c>: writes each node's
/// <c>apply.sh</c>, <c>teardown.sh</c> and restore files under <c>DIR/&lt;node&gt;/</c>, and Ansible <c>inventory.ini</c> +
/// <c>site.yml</c> at <c>DIR/</c>. <c>--format json</c> also prints a manifest of the files written (path, size, sha256).
/// </summary>
internal static class EmitCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file" };
        var output = new Option<string>("--output", "-o") { Description = "output folder (created if missing)", Required = true };
        var nodes = new Option<string[]>("--node") { Description = "emit only this node (repeatable)", AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.ZeroOrMore };
        var lb = new Option<string>("--lb") { Description = "load balancing backend: ipvs (as Docker, default) or nftables (kernels without IPVS)" };
        var format = new Option<string>("--format") { Description = "tree (default: write the files, print a summary) or json (also print a JSON manifest of the files)" };
        var noExpect = new Option<bool>("--no-expect") { Description = "write the files even if the topology's expect: entries are not simulated or do not hold" };
        var cmd = new Command("emit", "Write provisioning scripts per node (apply.sh, teardown.sh, iptables-restore / ipvsadm-restore / nft files) and an Ansible inventory and playbook.")
        {
            file, output, nodes, lb, format, noExpect,
        };
        cmd.SetAction(parse =>
        {
            var backend = ShowCommand.ParseBackend(parse.GetValue(lb));
            var fmt = parse.GetValue(format) ?? "tree";
            if (fmt is not ("tree" or "json")) throw new CliUsageException($"--format must be tree or json, not '{fmt}'");
            var dir = parse.GetValue(output)!;
            if (dir.Length == 0) throw new CliUsageException("-o needs a folder");

            var loaded = TopologyLoader.Load(parse.GetValue(file)!, io);
            if (loaded is null) return Program.Failed;
            var lowered = SwarmCompiler.Lower(loaded, TopologyLoader.Lowering(backend));
            foreach (var d in lowered.Diagnostics)
                if (d.IsError) io.Error.WriteLine(d.ToString());
            if (lowered.Plan is not { } plan) return Program.Failed;
            // A failed expectation is an error of the topology (spec/dsl.md): provisioning it is refused as building it is.
            if (!parse.GetValue(noExpect) && loaded.Topology is { Expectations.Count: > 0 } topology)
            {
                var failures = ExpectationEvaluator.Evaluate(topology, plan);
                foreach (var d in failures) io.Error.WriteLine(d.ToString());
                if (failures.Any(d => d.IsError))
                {
                    io.Error.WriteLine("swarmdsl: error: nothing written: the topology's expect: entries do not hold (--no-expect writes it anyway)");
                    return Program.Failed;
                }
            }
            var wanted = (parse.GetValue(nodes) ?? Array.Empty<string>()).ToList();
            foreach (var n in wanted)
                if (!plan.Hosts.Any(h => h.Node == n))
                    throw new CliUsageException($"no node '{n}' in {plan.Topology} (nodes: {string.Join(", ", plan.Hosts.Select(h => h.Node))})");

            var hosts = ProvisioningEmitter.Hosts(plan, wanted.Count == 0 ? null : wanted);
            IReadOnlyList<Written> files;
            try
            {
                files = Write(dir, plan, hosts);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                io.Error.WriteLine($"swarmdsl: error: cannot write to '{dir}': {ex.Message}");
                return Program.Failed;
            }

            if (fmt == "json") io.Out.Write(Manifest(plan.Topology, backend == Plan.LoadBalancerBackend.Ipvs ? "ipvs" : "nftables", files));
            else io.Out.WriteLine($"wrote {files.Count} files for {hosts.Count} node{(hosts.Count == 1 ? "" : "s")} to {dir}");
            return Program.Ok;
        });
        return cmd;
    }

    /// <summary>A file written: what the manifest says of it.</summary>
    private sealed record Written(string Path, int Bytes, bool Executable, string Sha256);

    /// <summary>
    /// Emits and writes each node's files (nodes on the machine's cores at once; each node's text is dropped once written:
    /// a 100-node topology is 675 MB of scripts, which held whole took 1.75 GB), then the Ansible files, and removes
    /// restore files a previous emit left in the node folders. The manifest lists them in <see cref="ProvisioningEmitter.Emit"/>'s order.
    /// </summary>
    private static IReadOnlyList<Written> Write(string dir, Plan.DataplanePlan plan, IReadOnlyList<Plan.HostPlan> hosts)
    {
        var perNode = new IReadOnlyList<Written>[hosts.Count];
        try
        {
            Parallel.For(0, hosts.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                i => perNode[i] = WriteNode(dir, ProvisioningEmitter.EmitNode(plan, hosts[i]), removeStale: true));
        }
        catch (AggregateException e)
        {
            // The first failure, as a sequential run would have met one (a full disk, a folder that cannot be written).
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        var all = new List<Written>();
        foreach (var node in perNode) all.AddRange(node);
        all.AddRange(WriteNode(dir, ProvisioningEmitter.EmitAnsible(plan, hosts), removeStale: false));
        return all;
    }

    /// <summary>Writes files, marks scripts executable; with <paramref name="removeStale"/>, removes restore files of their folder no longer emitted.</summary>
    private static IReadOnlyList<Written> WriteNode(string dir, IReadOnlyList<EmittedFile> files, bool removeStale)
    {
        var utf8 = new UTF8Encoding(false);
        var written = new HashSet<string>(StringComparer.Ordinal);
        var folders = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<Written>(files.Count);
        foreach (var f in files)
        {
            var path = Path.GetFullPath(Path.Combine(dir, f.Path.Replace('/', Path.DirectorySeparatorChar)));
            var parent = Path.GetDirectoryName(path)!;
            Directory.CreateDirectory(parent);
            folders.Add(parent);
            var bytes = utf8.GetBytes(f.Content);
            File.WriteAllBytes(path, bytes);
            if (f.Executable && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            written.Add(path);
            result.Add(new Written(f.Path, bytes.Length, f.Executable, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant()));
        }
        if (removeStale)
            foreach (var folder in folders)
                foreach (var pattern in new[] { "iptables-*.rules", "ipvs-*.rules", "nft-*.nft" })
                    foreach (var stale in Directory.GetFiles(folder, pattern))
                        if (!written.Contains(Path.GetFullPath(stale))) File.Delete(stale);
        return result;
    }

    private static string Manifest(string topology, string backend, IEnumerable<Written> files)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("topology", topology);
            json.WriteString("lb", backend);
            json.WriteStartArray("files");
            foreach (var f in files)
            {
                json.WriteStartObject();
                json.WriteString("path", f.Path);
                json.WriteNumber("bytes", f.Bytes);
                json.WriteBoolean("executable", f.Executable);
                json.WriteString("sha256", f.Sha256);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
