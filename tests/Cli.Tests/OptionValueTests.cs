using System;
using System.IO;

namespace SwarmDsl.Tests;

/// <summary>
/// Values the command line refuses are usage errors in the tool's own words (exit 2, one line, no .NET type names), and
/// values it cannot honour in full are said, not silently changed (all found by a black-box tester).
/// </summary>
public class OptionValueTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    private static void UsageError(string[] args, string line)
    {
        var (exit, stdout, stderr) = Run(args);
        Assert.Equal((2, ""), (exit, stdout));
        Assert.Equal(line + "; see 'swarmdsl " + args[0] + " --help'\n", stderr);
    }

    public static TheoryData<string[], string> Refused => new()
    {
        { new[] { "synth", "--seed", "99999999999999999999" }, "swarmdsl: error: --seed must be a whole number from 0 to 4294967295, not '99999999999999999999'" },
        { new[] { "synth", "--nodes", "many" }, "swarmdsl: error: --nodes must be a whole number, not 'many'" },
        { new[] { "trace", "EXAMPLE", "--from", "external", "--to", "manager:8080/tcp", "--count", "1.5" }, "swarmdsl: error: --count must be a whole number, not '1.5'" },
        { new[] { "show", "EXAMPLE", "manager", "--after", "soon", "--", "ip", "addr" }, "swarmdsl: error: --after must be a number, not 'soon'" },
        { new[] { "show", "EXAMPLE", "manager", "--possible-cpus", "0-3", "--", "ip", "-d", "link", "show" }, "swarmdsl: error: --possible-cpus must be a whole number from 1 to 4096, not '0-3'" },
        { new[] { "show", "EXAMPLE", "manager", "--possible-cpus", "0", "--", "ip", "-d", "link", "show" }, "swarmdsl: error: --possible-cpus must be a whole number from 1 to 4096, not '0'" },
        { new[] { "show", "EXAMPLE", "manager", "--possible-cpus", "-1", "--", "ip", "-d", "link", "show" }, "swarmdsl: error: --possible-cpus must be a whole number from 1 to 4096, not '-1'" },
        { new[] { "show", "EXAMPLE", "manager", "--possible-cpus", "999999999", "--", "ip", "-d", "link", "show" }, "swarmdsl: error: --possible-cpus must be a whole number from 1 to 4096, not '999999999'" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_number_the_option_cannot_take_is_a_usage_error_in_our_words(string[] args, string line)
        => UsageError(Array.ConvertAll(args, a => a == "EXAMPLE" ? Paths.Example : a), line);

    [Fact]
    public void Possible_cpus_in_range_sets_the_veth_queues()
    {
        var (exit, stdout, stderr) = Run("show", Paths.Example, "manager", "--possible-cpus", "4096", "--", "ip", "-d", "link", "show", "veth157550a");
        Assert.Equal((0, ""), (exit, stderr));
        Assert.Contains("numtxqueues 4096 numrxqueues 4096", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Synth_to_an_empty_output_path_is_a_usage_error_as_for_emit()
    {
        var (exit, stdout, stderr) = Run("synth", "-o", "");
        Assert.Equal((2, ""), (exit, stdout));
        Assert.Equal("swarmdsl: error: -o needs a file name (leave -o out to write to standard output)\n", stderr);
    }

    [Fact]
    public void Synth_says_when_it_makes_fewer_expectations_than_asked()
    {
        var (exit, stdout, stderr) = Run("synth", "--expectations", "200");
        Assert.Equal(0, exit);
        var made = stdout.Split("\n  - { from: external, ").Length - 1;
        Assert.True(made is > 0 and < 200, stdout);
        Assert.Equal($"swarmdsl: note: --expectations 200: made {made}, one per published TCP port in ingress mode (the topology has no more); raise --ports for more\n", stderr);
    }

    [Fact]
    public void Synth_is_quiet_when_it_makes_the_expectations_asked()
    {
        var (exit, _, stderr) = Run("synth");
        Assert.Equal((0, ""), (exit, stderr));
    }
    [Fact]
    public void An_output_file_that_is_empty_or_a_directory_is_a_usage_error()
    {
        // A tester's find: --pcap "" leaked .NET's "The value cannot be an empty string. (Parameter 'path')" with exit 1.
        var dir = Directory.CreateTempSubdirectory("swarmdsl-out-").FullName;
        try
        {
            foreach (var (args, line) in new[]
            {
                (new[] { "trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", "" }, "swarmdsl: error: --pcap needs a file name\n"),
                (new[] { "trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", dir }, $"swarmdsl: error: --pcap '{dir}' is a directory: name a file to write\n"),
                (new[] { "synth", "-o", dir }, $"swarmdsl: error: -o '{dir}' is a directory: name a file to write\n"),
            })
            {
                var (exit, stdout, stderr) = Run(args);
                Assert.Equal((2, "", line), (exit, stdout, stderr));
            }
            Assert.Empty(Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_capture_is_written_whole_or_not_at_all()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-out-").FullName;
        try
        {
            var pcap = Path.Combine(dir, "a.pcapng");
            var (exit, _, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", pcap);
            Assert.Equal((0, ""), (exit, stderr));
            Assert.Equal(new[] { pcap }, Directory.GetFiles(dir)); // the temporary file it was written through is gone
            Assert.True(new FileInfo(pcap).Length > 0);
            // A folder that does not exist: an error in our words, nothing written anywhere.
            var missing = Path.Combine(dir, "no-such-folder", "b.pcapng");
            (exit, _, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", missing);
            Assert.Equal(1, exit);
            Assert.StartsWith($"swarmdsl: error: cannot write '{missing}': ", stderr, StringComparison.Ordinal);
            Assert.Equal(new[] { pcap }, Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
    [Fact]
    public async System.Threading.Tasks.Task A_capture_goes_through_a_fifo_and_a_symbolic_link_without_replacing_them()
    {
        // A reviewer's find: writing beside the target and renaming over it replaced a FIFO (its reader got nothing) and a
        // symbolic link, and failed on --pcap >(tshark -r -) (/dev/fd/63).
        if (OperatingSystem.IsWindows()) return;
        var dir = Directory.CreateTempSubdirectory("swarmdsl-out-").FullName;
        try
        {
            var fifo = Path.Combine(dir, "fifo");
            HostLinux.Run("mkfifo", fifo).EnsureSuccess("mkfifo");
            var reader = System.Threading.Tasks.Task.Run(() =>
            {
                using var f = new FileStream(fifo, FileMode.Open, FileAccess.Read);
                using var ms = new MemoryStream();
                f.CopyTo(ms);
                return ms.Length;
            });
            var (exit, _, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", fifo);
            Assert.Equal((0, ""), (exit, stderr));
            Assert.True(await reader.WaitAsync(TimeSpan.FromSeconds(30)) > 0);
            Assert.Equal("fifo\n", HostLinux.Run("stat", "-c", "%F", fifo).StdOut);

            var real = Path.Combine(dir, "real.pcapng");
            File.WriteAllText(real, "old");
            File.SetUnixFileMode(real, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            var link = Path.Combine(dir, "link.pcapng");
            File.CreateSymbolicLink(link, real);
            (exit, _, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--pcap", link);
            Assert.Equal((0, ""), (exit, stderr));
            Assert.Equal(real, new FileInfo(link).LinkTarget);
            Assert.True(new FileInfo(real).Length > 3);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(real));
            Assert.DoesNotContain(Directory.GetFiles(dir), f => f.EndsWith(".tmp", StringComparison.Ordinal));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
