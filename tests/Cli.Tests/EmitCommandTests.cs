using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using SwarmDsl.Cli;
using SwarmDsl.Emit;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Tests.Emit;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl emit</c> on the example: the files, their text, shellcheck, nft -c, and the scripts on the real kernel.</summary>
public class EmitCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var exit = Program.Run(args, o, e);
        return (exit, o.ToString(), e.ToString());
    }

    private static EmittedTree Emit(params string[] extra)
    {
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-cli-emit-" + Guid.NewGuid().ToString("N"));
        var tree = new EmittedTree(dir);
        var (exit, _, err) = Run(new[] { "emit", Paths.Example, "-o", dir }.Concat(extra).ToArray());
        if (exit != 0)
        {
            tree.Dispose();
            Assert.Fail("emit failed: " + err);
        }
        return tree;
    }

    private static readonly string[] Manager =
    {
        "manager/apply.sh", "manager/teardown.sh", "manager/iptables-host.rules", "manager/iptables-ingress_sbox.rules",
        "manager/iptables-web.1.rules",
    };

    [Fact]
    public void Emit_writes_each_nodes_folder_and_the_ansible_files()
    {
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-cli-emit-" + Guid.NewGuid().ToString("N"));
        using var tree = new EmittedTree(dir);
        var (exit, stdout, stderr) = Run("emit", Paths.Example, "-o", dir, "--lb", "nftables");
        Assert.True(exit == 0, stderr);
        Assert.Equal("wrote 14 files for 2 nodes to " + dir + "\n", stdout.Replace("\r\n", "\n"));
        var files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/')).OrderBy(f => f, StringComparer.Ordinal);
        Assert.Equal(new[]
        {
            "inventory.ini",
            "manager/apply.sh", "manager/iptables-host.rules", "manager/iptables-ingress_sbox.rules", "manager/iptables-web.1.rules",
            "manager/nft-ingress_sbox.nft", "manager/teardown.sh",
            "site.yml",
            "worker/apply.sh", "worker/iptables-host.rules", "worker/iptables-ingress_sbox.rules", "worker/iptables-web.2.rules",
            "worker/nft-ingress_sbox.nft", "worker/teardown.sh",
        }, files);
        if (!OperatingSystem.IsWindows())
            Assert.True((File.GetUnixFileMode(tree.PathOf("manager/apply.sh")) & UnixFileMode.UserExecute) != 0);

        // Emitting again with IPVS replaces the nft files by ipvsadm-restore files.
        Assert.Equal(0, Run("emit", Paths.Example, "-o", dir, "--lb", "ipvs").Exit);
        Assert.True(File.Exists(tree.PathOf("manager/ipvs-ingress_sbox.rules")));
        Assert.False(File.Exists(tree.PathOf("manager/nft-ingress_sbox.nft")));
    }

    [Fact]
    public void Snapshot_of_the_example_nftables()
    {
        using var tree = Emit("--lb", "nftables");
        foreach (var f in Manager.Append("manager/nft-ingress_sbox.nft").Append("worker/apply.sh").Append("inventory.ini").Append("site.yml"))
            Snapshot.Verify(File.ReadAllText(tree.PathOf(f)), "nftables." + f.Replace('/', '.'));
    }

    [Fact]
    public void Snapshot_of_the_example_ipvs()
    {
        using var tree = Emit();
        foreach (var f in Manager.Append("manager/ipvs-ingress_sbox.rules"))
            Snapshot.Verify(File.ReadAllText(tree.PathOf(f)), "ipvs." + f.Replace('/', '.'));
    }

    [Fact]
    public void Node_and_json_manifest()
    {
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-cli-emit-" + Guid.NewGuid().ToString("N"));
        using var tree = new EmittedTree(dir);
        var (exit, stdout, stderr) = Run("emit", Paths.Example, "-o", dir, "--node", "worker", "--format", "json", "--lb", "nftables");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("two-node", doc.RootElement.GetProperty("topology").GetString());
        Assert.Equal("nftables", doc.RootElement.GetProperty("lb").GetString());
        var paths = doc.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToList();
        Assert.Contains("worker/apply.sh", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("manager/", StringComparison.Ordinal));
        Assert.False(Directory.Exists(tree.PathOf("manager")));
        foreach (var f in doc.RootElement.GetProperty("files").EnumerateArray())
            Assert.Equal(new FileInfo(tree.PathOf(f.GetProperty("path").GetString()!)).Length, f.GetProperty("bytes").GetInt64());
    }

    /// <summary>
    /// The command emits nodes on several cores and writes each as it is ready; what it writes, and the manifest's order,
    /// must be exactly <see cref="ProvisioningEmitter.Emit"/>'s (a synthetic 8-node topology, so that nodes overlap).
    /// </summary>
    [Fact]
    public void Nodes_written_as_they_are_emitted_are_the_emitters_files_in_its_order()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-cli-emit-");
        using var tree = new EmittedTree(Path.Combine(dir.FullName, "out"));
        var file = Path.Combine(dir.FullName, "eight.swarm.yaml");
        var yaml = SwarmDsl.Synthetic.SyntheticTopology.Generate(SwarmDsl.Synthetic.SyntheticTopologyOptions.Small with
        {
            Name = "eight", Nodes = 8, Overlays = 3, Services = 12, Tasks = 24, PublishedPorts = 6,
        });
        File.WriteAllText(file, yaml);
        try
        {
            var (exit, stdout, stderr) = Run("emit", file, "-o", tree.Root, "--format", "json");
            Assert.True(exit == 0, stderr);
            var compiled = SwarmDsl.SwarmCompiler.Compile(file, yaml);
            var plan = SwarmDsl.SwarmCompiler.Lower(compiled).Plan!;
            var expected = ProvisioningEmitter.Emit(plan);
            using var doc = JsonDocument.Parse(stdout);
            var listed = doc.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToList();
            Assert.Equal(expected.Select(f => f.Path), listed);
            foreach (var f in expected) Assert.Equal(f.Content, File.ReadAllText(tree.PathOf(f.Path)));
            var onDisk = Directory.GetFiles(tree.Root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(tree.Root, f).Replace('\\', '/'));
            Assert.Equal(expected.Select(f => f.Path).OrderBy(p => p, StringComparer.Ordinal), onDisk.OrderBy(p => p, StringComparer.Ordinal));
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A topology whose expect: entries do not hold is not provisioned (a failed expectation is an error of the topology,
    /// as it fails check and the generator's build): nothing is written; --no-expect writes it anyway (found by a tester).
    /// </summary>
    [Fact]
    public void A_failed_expectation_writes_nothing_unless_no_expect()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-cli-emit-");
        try
        {
            var file = Path.Combine(dir.FullName, "drop.swarm.yaml");
            File.WriteAllText(file, ExpectCheckTests.DroppingYaml());
            var output = Path.Combine(dir.FullName, "out");
            var (exit, stdout, stderr) = Run("emit", file, "-o", output);
            Assert.Equal(1, exit);
            Assert.Equal("", stdout);
            Assert.Contains("(63,5): error SWARM0020: expected external → worker:8080/tcp to reach web", stderr, StringComparison.Ordinal);
            Assert.EndsWith("swarmdsl: error: nothing written: the topology's expect: entries do not hold (--no-expect writes it anyway)\n", stderr.Replace("\r\n", "\n"), StringComparison.Ordinal);
            Assert.False(Directory.Exists(output));
            var forced = Run("emit", file, "-o", output, "--no-expect");
            Assert.Equal(0, forced.Exit);
            Assert.True(File.Exists(Path.Combine(output, "worker", "apply.sh")));
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A write that fails part-way (here a file where the worker's folder goes) leaves the output folder as it was: files
    /// are staged and moved into place only when all are written (a tester found the manager's folder written and the
    /// Ansible files missing).
    /// </summary>
    [Fact]
    public void A_write_that_fails_part_way_leaves_the_output_as_it_was()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-cli-emit-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "worker"), "not a folder");
            var (exit, stdout, stderr) = Run("emit", Paths.Example, "-o", dir.FullName);
            Assert.Equal(1, exit);
            Assert.Equal("", stdout);
            Assert.StartsWith($"swarmdsl: error: cannot write to '{dir.FullName}': ", stderr, StringComparison.Ordinal);
            Assert.Equal(new[] { "worker" }, Directory.GetFileSystemEntries(dir.FullName).Select(Path.GetFileName));

            // The staging folder an interrupted run left is removed by the next run.
            File.Delete(Path.Combine(dir.FullName, "worker"));
            Directory.CreateDirectory(Path.Combine(dir.FullName, ".swarmdsl-emit-0123", "manager"));
            Assert.Equal(0, Run("emit", Paths.Example, "-o", dir.FullName).Exit);
            Assert.DoesNotContain(Directory.GetDirectories(dir.FullName), d => Path.GetFileName(d).StartsWith(".swarmdsl-emit-", StringComparison.Ordinal));
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A move that fails half way (an immutable file of the previous emit) puts every file back as it was: what the new run
    /// had moved goes, what it had set aside returns (a tester found a/ replaced and b/ old).
    /// </summary>
    [NetnsFact("chattr")]
    public void A_move_that_fails_half_way_puts_the_previous_output_back()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-cli-emit-");
        var locked = Path.Combine(dir.FullName, "worker", "apply.sh");
        try
        {
            Assert.Equal(0, Run("emit", Paths.Example, "-o", dir.FullName).Exit);
            var before = Directory.GetFiles(dir.FullName, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (f, File.ReadAllText(f))).ToList();
            if (HostLinux.Run("chattr", "+i", locked).ExitCode != 0) return; // a file system without the immutable flag
            var (exit, _, stderr) = Run("emit", Paths.Example, "-o", dir.FullName, "--lb", "nftables");
            Assert.Equal(1, exit);
            Assert.StartsWith("swarmdsl: error: cannot write to ", stderr, StringComparison.Ordinal);
            var after = Directory.GetFiles(dir.FullName, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (f, File.ReadAllText(f))).ToList();
            Assert.Equal(before, after);
            Assert.DoesNotContain(Directory.GetDirectories(dir.FullName), d => Path.GetFileName(d).StartsWith(".swarmdsl-emit-", StringComparison.Ordinal));
        }
        finally
        {
            HostLinux.Run("chattr", "-i", locked);
            try { dir.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData(2, "emit", "EXAMPLE")]                                  // no -o
    [InlineData(2, "emit", "EXAMPLE", "-o", "OUT", "--lb", "xdp")]
    [InlineData(2, "emit", "EXAMPLE", "-o", "OUT", "--format", "zip")]
    [InlineData(2, "emit", "EXAMPLE", "-o", "OUT", "--node", "nosuch")]
    [InlineData(1, "emit", "missing.swarm.yaml", "-o", "OUT")]
    public void Errors_are_one_line_with_the_right_exit_code(int expected, params string[] args)
    {
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-cli-emit-" + Guid.NewGuid().ToString("N"));
        using var tree = new EmittedTree(dir);
        var (exit, _, stderr) = Run(args.Select(a => a == "EXAMPLE" ? Paths.Example : a == "OUT" ? dir : a).ToArray());
        Assert.Equal(expected, exit);
        Assert.StartsWith("swarmdsl: error: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [NetnsFact("shellcheck")]
    public void Every_emitted_script_is_shellcheck_clean()
    {
        foreach (var lb in new[] { "ipvs", "nftables" })
        {
            using var tree = Emit("--lb", lb);
            var scripts = Directory.GetFiles(tree.Root, "*.sh", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal).ToArray();
            Assert.Equal(4, scripts.Length);
            var r = HostLinux.Run("shellcheck", new[] { "--shell=bash", "--severity=style" }.Concat(scripts));
            Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        }
    }

    /// <summary>
    /// Node names valid in the DSL that read as arithmetic on a variable the scripts assign (<c>kind</c>, <c>a</c>, <c>ns</c>,
    /// <c>i</c>, <c>line</c>, ...): written bare after <c>NODE=</c> they made shellcheck report SC2100 (found by a tester).
    /// </summary>
    [NetnsFact("shellcheck")]
    public void Scripts_of_nodes_named_like_arithmetic_are_shellcheck_clean()
    {
        string[] names =
        {
            "kind-worker", "a-1", "ns-1", "i-1", "line-2", "dev-1", "key-1", "out-1", "f-1", "x-1", "state-1", "re_link-1",
        };
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-cli-emit-" + Guid.NewGuid().ToString("N"));
        using var tree = new EmittedTree(dir);
        Directory.CreateDirectory(dir);
        var yaml = Path.Combine(dir, "names.swarm.yaml");
        File.WriteAllText(yaml, "version: 1\nname: names\nnodes:\n"
            + string.Concat(names.Select((n, i) => $"  {n}: {{ address: 10.30.0.{i + 1}/24 }}\n")));
        var output = Path.Combine(dir, "out");
        var (exit, _, stderr) = Run("emit", yaml, "-o", output);
        Assert.True(exit == 0, stderr);
        var scripts = Directory.GetFiles(output, "*.sh", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal).ToArray();
        Assert.Equal(2 * names.Length, scripts.Length);
        var r = HostLinux.Run("shellcheck", new[] { "--shell=bash", "--severity=style" }.Concat(scripts));
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
    }

    [NetnsFact("nft")]
    public void Nft_files_pass_nft_check()
    {
        using var tree = Emit("--lb", "nftables");
        var files = Directory.GetFiles(tree.Root, "*.nft", SearchOption.AllDirectories);
        Assert.Equal(2, files.Length);
        foreach (var file in files)
        {
            var r = HostLinux.Run("nft", "-c", "-f", file);
            Assert.True(r.ExitCode == 0, file + ": " + r.StdErr);
        }
    }

    [NetnsFact("ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "socat")]
    public void Example_scripts_on_real_namespaces()
    {
        var compiled = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example), new LoweringOptions(LoadBalancerBackend.Nftables));
        Assert.NotNull(compiled.Plan);
        using var lab = new EmitLab(compiled.Plan!, Emit("--lb", "nftables"));
        var published = compiled.Plan!.Hosts.Select(h => (h.UnderlayAddress.Address.ToString(), 8080)).ToList();
        EmitScenario.ApplyTwiceTrafficRepairTeardown(lab, published);
    }
}
