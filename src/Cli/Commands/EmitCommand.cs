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
            NodeNames.Check(plan, wanted, "");

            var hosts = ProvisioningEmitter.Hosts(plan, wanted.Count == 0 ? null : wanted);
            IReadOnlyList<Written> files;
            // A 50-node topology takes seconds per few nodes: a counter on a terminal's stderr, nothing when it is redirected.
            var progress = new TerminalProgress(io.Error, TerminalProgress.IsTerminalError(io.Error), "emit", hosts.Count, hosts.Count == 1 ? "node" : "nodes");
            try
            {
                files = Write(dir, plan, hosts, progress.Step);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                progress.Clear();
                io.Error.WriteLine($"swarmdsl: error: cannot write to '{dir}': {ex.Message}");
                return Program.Failed;
            }
            finally
            {
                progress.Clear();
            }

            if (fmt == "json") io.Out.Write(Manifest(plan.Topology, backend == Plan.LoadBalancerBackend.Ipvs ? "ipvs" : "nftables", files));
            else io.Out.WriteLine($"wrote {files.Count} files for {hosts.Count} node{(hosts.Count == 1 ? "" : "s")} to {dir}");
            return Program.Ok;
        });
        return cmd;
    }

    /// <summary>The name of the folder files are written to before they are moved into the output folder.</summary>
    private const string StagingPrefix = ".swarmdsl-emit-";

    /// <summary>A file written: what the manifest says of it.</summary>
    private sealed record Written(string Path, int Bytes, bool Executable, string Sha256);

    /// <summary>
    /// Emits and writes each node's files (nodes on the machine's cores at once; each node's text is dropped once written:
    /// a 100-node topology is 675 MB of scripts, which held whole took 1.75 GB), then the Ansible files, and removes
    /// restore files a previous emit left in the node folders. The manifest lists them in <see cref="ProvisioningEmitter.Emit"/>'s order.
    /// Everything is written into a staging folder inside <paramref name="dir"/> first and moved into place only once all of
    /// it is there and nothing is in the way, so a full disk or a file where a node's folder goes leaves the output as it
    /// was (a folder this run created is removed again) instead of half written. <paramref name="nodeWritten"/> is called
    /// (from any thread) as each node's files are staged.
    /// </summary>
    private static IReadOnlyList<Written> Write(string dir, Plan.DataplanePlan plan, IReadOnlyList<Plan.HostPlan> hosts, Action nodeWritten)
    {
        bool created = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        // A run that was interrupted (Ctrl-C) left its staging folder: nothing of it was moved into place, so it goes.
        foreach (var stale in Directory.GetDirectories(dir, StagingPrefix + "*"))
            try { Directory.Delete(stale, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        var staging = Path.Combine(dir, StagingPrefix + Guid.NewGuid().ToString("N"));
        bool done = false;
        try
        {
            var perNode = new IReadOnlyList<Written>[hosts.Count];
            try
            {
                Parallel.For(0, hosts.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                    i =>
                    {
                        perNode[i] = WriteFiles(staging, ProvisioningEmitter.EmitNode(plan, hosts[i]));
                        nodeWritten();
                    });
            }
            catch (AggregateException e)
            {
                // The first failure, as a sequential run would have met one (a full disk, a folder that cannot be written).
                ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
            var all = new List<Written>();
            foreach (var node in perNode) all.AddRange(node);
            all.AddRange(WriteFiles(staging, ProvisioningEmitter.EmitAnsible(plan, hosts)));

            string Target(Written f) => Path.GetFullPath(Path.Combine(dir, f.Path.Replace('/', Path.DirectorySeparatorChar)));
            foreach (var f in all)
            {
                var target = Target(f);
                if (Directory.Exists(target)) throw new IOException($"'{target}' is a folder, where emit writes a file");
                for (var parent = Path.GetDirectoryName(target); parent is not null && parent.Length > Path.GetFullPath(dir).Length; parent = Path.GetDirectoryName(parent))
                    if (File.Exists(parent)) throw new IOException($"'{parent}' is a file, where emit makes a folder");
            }
            var folders = new HashSet<string>(StringComparer.Ordinal);
            var written = new HashSet<string>(StringComparer.Ordinal);
            // A file a previous emit wrote is set aside in the staging folder, not overwritten, so that a move failing half way
            // (a file made immutable, say) puts every file back as it was.
            var previous = Path.Combine(staging, ".previous");
            var moved = new List<(string Target, string? SetAside)>();
            try
            {
                int n = 0;
                foreach (var f in all)
                {
                    var target = Target(f);
                    var parent = Path.GetDirectoryName(target)!;
                    Directory.CreateDirectory(parent);
                    string? aside = null;
                    if (File.Exists(target))
                    {
                        Directory.CreateDirectory(previous);
                        aside = Path.Combine(previous, (n++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        File.Move(target, aside);
                    }
                    moved.Add((target, aside));
                    File.Move(Path.Combine(staging, f.Path.Replace('/', Path.DirectorySeparatorChar)), target);
                    if (f.Path.Contains('/')) folders.Add(parent);
                    written.Add(target);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                for (int i = moved.Count - 1; i >= 0; i--)
                {
                    var (target, aside) = moved[i];
                    try
                    {
                        if (written.Contains(target)) File.Delete(target);
                        if (aside is not null && File.Exists(aside)) File.Move(aside, target, overwrite: true);
                    }
                    catch (Exception undo) when (undo is IOException or UnauthorizedAccessException)
                    {
                        throw new IOException($"{ex.Message}; and '{target}' could not be put back as it was ({undo.Message})", ex);
                    }
                }
                throw;
            }
            foreach (var folder in folders)
                foreach (var pattern in new[] { "iptables-*.rules", "ipvs-*.rules", "nft-*.nft" })
                    foreach (var stale in Directory.GetFiles(folder, pattern))
                        if (!written.Contains(Path.GetFullPath(stale))) File.Delete(stale);
            done = true;
            return all;
        }
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (!done && created)
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Writes files under <paramref name="root"/> and marks scripts executable; what the manifest says of each.</summary>
    private static IReadOnlyList<Written> WriteFiles(string root, IReadOnlyList<EmittedFile> files)
    {
        var utf8 = new UTF8Encoding(false);
        var result = new List<Written>(files.Count);
        foreach (var f in files)
        {
            var path = Path.Combine(root, f.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var bytes = utf8.GetBytes(f.Content);
            File.WriteAllBytes(path, bytes);
            if (f.Executable && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            result.Add(new Written(f.Path, bytes.Length, f.Executable, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant()));
        }
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
