using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl check</c> (spec/cli.md): exit codes 0 / 1 / 2, MSBuild-format diagnostics, one clean line for any I/O problem.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The MSBuild canonical diagnostic form IDEs and CI parse.</summary>
    private static readonly Regex Canonical = new(@"^(?<file>.+)\((?<line>[1-9][0-9]*),(?<col>[1-9][0-9]*)\): (?<sev>error|warning) (?<id>SWARM[0-9]{4}): (?<msg>\S.*)$", RegexOptions.CultureInvariant);

    private static void AssertNoStackTrace(string text)
    {
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
    }

    private const string Broken = """
        version: 1
        name: broken
        nodes:
          a: { address: 10.0.0.1/24, role: boss }
        servcies: {}

        """;

    [Fact]
    public void The_example_checks_clean_with_exit_0()
    {
        var (exit, stdout, stderr) = Run("check", Paths.Example);
        Assert.Equal(0, exit);
        Assert.Equal("1 file checked: 0 errors, 0 warnings\n", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void A_broken_file_gives_exit_1_and_canonical_diagnostics()
    {
        var file = Write("broken.swarm.yaml", Broken);
        var (exit, stdout, stderr) = Run("check", file);
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        var lines = Lines(stdout);
        Assert.Equal(new[]
        {
            $"{file}(4,36): error SWARM0003: 'boss' is not a valid role: use manager or worker",
            $"{file}(5,1): error SWARM0002: unknown key 'servcies' in the top level; did you mean 'services'?",
            "1 file checked: 2 errors, 0 warnings",
        }, lines);
        Assert.All(lines[..^1], l => Assert.Matches(Canonical, l));
    }

    [Fact]
    public void Warnings_alone_exit_0()
    {
        var file = Write("warn.swarm.yaml", File.ReadAllText(Paths.Example).Replace("vni: 4096", "vni: 300"));
        var (exit, stdout, _) = Run("check", file);
        Assert.Equal(0, exit);
        var m = Canonical.Match(Lines(stdout)[0]);
        Assert.True(m.Success, stdout);
        Assert.Equal(("warning", "SWARM0013", file), (m.Groups["sev"].Value, m.Groups["id"].Value, m.Groups["file"].Value));
        Assert.EndsWith("1 file checked: 0 errors, 1 warning\n", stdout, StringComparison.Ordinal);
    }

    /// <summary>After "--" a file name may start with '-', as with every other verb (a tester found check refusing it).</summary>
    [Fact]
    public void A_file_named_with_a_dash_is_checked_after_a_double_dash()
    {
        // Relative to the working directory (not changed: tests run in parallel), so the argument itself starts with '-'.
        var name = "-dash-" + Guid.NewGuid().ToString("N") + ".swarm.yaml";
        File.WriteAllText(name, File.ReadAllText(Paths.Example));
        try
        {
            var (exit, stdout, stderr) = Run("check", "--", name);
            Assert.Equal((0, ""), (exit, stderr));
            Assert.Equal("1 file checked: 0 errors, 0 warnings\n", stdout);
            Assert.Equal(2, Run("check", name).Exit);
        }
        finally
        {
            File.Delete(name);
        }
    }

    [Theory]
    [InlineData(new string[0], "no command given")]
    [InlineData(new[] { "check" }, "Required argument missing for command: 'check'")]
    [InlineData(new[] { "check", "--bogus", "x.swarm.yaml" }, "unknown option '--bogus'")]
    [InlineData(new[] { "check", "-q", "x.swarm.yaml" }, "unknown option '-q'")]
    [InlineData(new[] { "frobnicate" }, "Unrecognized command or argument 'frobnicate'")]
    public void Usage_errors_exit_2_with_one_clear_line(string[] args, string message)
    {
        var (exit, stdout, stderr) = Run(args);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(Lines(stderr));
        Assert.StartsWith("swarmdsl: error: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_starting_with_a_dash_is_reachable_with_a_path()
    {
        Write("-odd.swarm.yaml", File.ReadAllText(Paths.Example));
        var (exit, _, stderr) = Run("check", Path.Combine(_dir, "-odd.swarm.yaml"));
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void Help_exits_0()
    {
        var (exit, stdout, _) = Run("check", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("check <FILE>... [options]", stdout, StringComparison.Ordinal);
    }

    /// <summary><c>synth --help</c> lists its options, and the verb is in the root's list (it printed nothing: the verb was hidden; a tester).</summary>
    [Fact]
    public void Synth_has_help_and_is_listed()
    {
        var (exit, stdout, _) = Run("synth", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--preset", stdout, StringComparison.Ordinal);
        Assert.Contains("--services", stdout, StringComparison.Ordinal);
        Assert.Contains("  synth ", Run("--help").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_one_clean_line()
    {
        var missing = Path.Combine(_dir, "nope.swarm.yaml");
        var (exit, stdout, stderr) = Run("check", missing);
        Assert.Equal(1, exit);
        Assert.Equal($"swarmdsl: error: cannot read '{missing}': no such file\n", stderr);
        Assert.Equal("0 files checked: 0 errors, 0 warnings; 1 file could not be read\n", stdout);
    }

    [Fact]
    public void A_directory_is_one_clean_line()
    {
        var (exit, _, stderr) = Run("check", _dir);
        Assert.Equal(1, exit);
        Assert.Equal($"swarmdsl: error: '{_dir}' is a directory, not a topology file\n", stderr);
    }

    /// <summary>The first byte that is not UTF-8 is a located SWARM0001 (line 2, after "# café " on it: column 8, counted in characters).</summary>
    [Fact]
    public void Non_utf8_bytes_are_one_located_error()
    {
        var path = Path.Combine(_dir, "latin1.swarm.yaml");
        var bytes = System.Text.Encoding.UTF8.GetBytes("version: 1\n# café ").Concat(new byte[] { 0xE9, 0xFF, 0xFE, (byte)'\n' }).ToArray();
        File.WriteAllBytes(path, bytes);
        var (exit, stdout, stderr) = Run("check", path);
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        Assert.Equal($"{path}(2,8): error SWARM0001: malformed YAML: byte 0xe9 is not UTF-8 (a topology file is UTF-8 text; convert it, e.g. with iconv -t UTF-8)\n1 file checked: 1 error, 0 warnings\n", stdout);
    }

    /// <summary>A BOM is no column and a lone CR ends a line, as for the YAML reader's own diagnostics (a tester found both off).</summary>
    [Theory]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'n', (byte)'a', (byte)'m', (byte)'e', (byte)':', (byte)' ', 0xFF, (byte)'\n' }, 1, 7)]
    [InlineData(new byte[] { (byte)'a', (byte)':', (byte)' ', (byte)'1', (byte)'\r', (byte)'b', (byte)':', (byte)' ', 0xFF, (byte)'\r' }, 2, 4)]
    public void Non_utf8_positions_count_a_bom_and_cr_line_ends_as_yaml_does(byte[] bytes, int line, int column)
    {
        var path = Path.Combine(_dir, "pos.swarm.yaml");
        File.WriteAllBytes(path, bytes);
        var (_, stdout, _) = Run("check", path);
        Assert.StartsWith($"{path}({line},{column}): error SWARM0001: malformed YAML: byte 0xff is not UTF-8", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_file_name_is_one_clean_line()
    {
        var (exit, _, stderr) = Run("check", "");
        Assert.Equal(1, exit);
        Assert.Equal("swarmdsl: error: the topology file name is empty\n", stderr);
    }

    [Fact]
    public void A_utf8_bom_is_accepted()
    {
        var path = Path.Combine(_dir, "bom.swarm.yaml");
        File.WriteAllBytes(path, new byte[] { 0xEF, 0xBB, 0xBF }.Concat(File.ReadAllBytes(Paths.Example)).ToArray());
        Assert.Equal(0, Run("check", path).Exit);
    }

    [Fact]
    public void An_empty_file_is_one_located_error()
    {
        var path = Write("empty.swarm.yaml", "");
        var (exit, stdout, stderr) = Run("check", path);
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        Assert.Equal(new[]
        {
            $"{path}(1,1): error SWARM0005: the file is empty: a topology needs at least 'version: 1' and 'name'",
            "1 file checked: 1 error, 0 warnings",
        }, Lines(stdout));
    }

    [Fact]
    public void A_file_over_the_size_limit_is_one_clean_line()
    {
        var path = Path.Combine(_dir, "huge.swarm.yaml");
        using (var f = File.Create(path)) f.SetLength(65L * 1024 * 1024); // sparse: no disk is used
        var (exit, _, stderr) = Run("check", path);
        Assert.Equal(1, exit);
        Assert.Equal($"swarmdsl: error: '{path}' is larger than 64 MiB\n", stderr);
    }

    [Fact]
    public void Several_files_are_all_checked_and_the_worst_result_wins()
    {
        var broken = Write("broken.swarm.yaml", Broken);
        var missing = Path.Combine(_dir, "missing.swarm.yaml");
        var (exit, stdout, stderr) = Run("check", Paths.Example, broken, missing, Paths.Example);
        Assert.Equal(1, exit);
        Assert.Equal($"swarmdsl: error: cannot read '{missing}': no such file\n", stderr);
        var lines = Lines(stdout);
        Assert.Equal(2, lines.Count(l => l.StartsWith(broken + "(", StringComparison.Ordinal)));
        Assert.Equal("3 files checked: 2 errors, 0 warnings; 1 file could not be read", lines[^1]);
    }

    [Fact]
    public void Several_clean_files_exit_0()
    {
        var copy = Write("copy.swarm.yaml", File.ReadAllText(Paths.Example));
        var (exit, stdout, _) = Run("check", Paths.Example, copy);
        Assert.Equal(0, exit);
        Assert.Equal("2 files checked: 0 errors, 0 warnings\n", stdout);
    }

    [Fact]
    public void Verbose_is_accepted_by_check()
    {
        Assert.Equal(0, Run("check", "--verbose", Paths.Example).Exit);
    }

    /// <summary>The real program, as a user runs it: no input makes it print a stack trace or an unhandled exception.</summary>
    [Fact]
    public async System.Threading.Tasks.Task The_real_process_never_prints_a_stack_trace()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "swarmdsl.dll");
        Assert.True(File.Exists(dll), dll);
        var broken = Write("broken.swarm.yaml", Broken);
        var binary = Path.Combine(_dir, "binary.swarm.yaml");
        File.WriteAllBytes(binary, new byte[] { 0xFF, 0x00, 0xC3, 0x28, 0x80 });
        var empty = Write("empty.swarm.yaml", "");
        var deep = Write("deep.swarm.yaml", "a: " + new string('[', 100_000));
        var cases = new (string[] Args, int Exit)[]
        {
            (new[] { "check", Paths.Example }, 0),
            (new[] { "check", broken, Path.Combine(_dir, "missing.yaml"), _dir, binary, empty, deep }, 1),
            (new[] { "check" }, 2),
            (new[] { "check", "--nope", Paths.Example }, 2),
            (Array.Empty<string>(), 2),
        };
        foreach (var (args, expectedExit) in cases)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment[SwarmDsl.Cli.JitProfile.Variable] = "0"; // a test writes nothing into the user's cache
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var stderrTask = p.StandardError.ReadToEndAsync();
            using var timeout = new System.Threading.CancellationTokenSource(TimeSpan.FromSeconds(120));
            await p.WaitForExitAsync(timeout.Token);
            var stdout = await stdoutTask;
            var stderr = await stderrTask;
            var output = stdout + stderr;
            Assert.True(expectedExit == p.ExitCode, $"swarmdsl {string.Join(" ", args)} exited {p.ExitCode}:\n{output}");
            AssertNoStackTrace(output);
            Assert.All(Lines(stderr), l => Assert.StartsWith("swarmdsl: error: ", l, StringComparison.Ordinal));
            Assert.All(Lines(stdout).Where(l => l.Contains("SWARM", StringComparison.Ordinal)), l => Assert.Matches(Canonical, l));
        }
    }
}
