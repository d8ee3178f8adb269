using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary>The progress counter of long work: on a terminal only (spec/cli.md), redrawn in place, erased at the end.</summary>
public sealed class TerminalProgressTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-progress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void On_a_terminal_the_line_is_redrawn_a_few_times_a_second_and_erased()
    {
        var terminal = new StringWriter();
        long now = 0;
        var progress = new TerminalProgress(terminal, enabled: true, "emit", 50, "nodes", () => now);
        progress.Step();             // the first is drawn at once
        now = 100; progress.Step();  // too soon
        now = 260; progress.Step();  // 260 ms after the last drawing
        now = 300; progress.Step();
        progress.Clear();
        Assert.Equal("\remit: 1/50 nodes\remit: 3/50 nodes\r\u001b[K", terminal.ToString());
    }

    [Fact]
    public void Redirected_it_writes_nothing()
    {
        var redirected = new StringWriter();
        var progress = new TerminalProgress(redirected, enabled: false, "reach", 4950, "pairs", () => 0);
        for (int i = 0; i < 10; i++) progress.Step();
        progress.Clear();
        Assert.Equal("", redirected.ToString());
        Assert.False(TerminalProgress.IsTerminalError(redirected)); // a writer handed in is never the terminal
    }

    [Fact]
    public void Steps_from_several_threads_are_each_counted()
    {
        var terminal = new StringWriter();
        long now = 0;
        // Every step is drawn (the clock moves a second a call), so the last drawing is the count of all steps.
        var progress = new TerminalProgress(terminal, enabled: true, "emit", 1000, "nodes", () => now += 1000);
        Parallel.For(0, 1000, _ => progress.Step());
        Assert.EndsWith("\remit: 1,000/1,000 nodes", terminal.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Emit_redirected_prints_only_its_summary()
    {
        var (exit, stdout, stderr) = CliRun.Run("emit", Paths.Example, "-o", Path.Combine(_dir, "out"));
        Assert.Equal((0, ""), (exit, stderr));
        Assert.Matches(@"^wrote \d+ files for 2 nodes to \S+\n$", stdout);
    }

    /// <summary>The real program on a pseudo-terminal (util-linux script): the counter shows there, and not in a file.</summary>
    [ToolFact("script")]
    public void Emit_on_a_terminal_counts_nodes_on_stderr_and_not_when_stderr_is_a_file()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "swarmdsl.dll");
        string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var emit = "dotnet " + Quote(dll) + " emit " + Quote(Paths.Example) + " -o " + Quote(Path.Combine(_dir, "out"));
        var onTerminal = Script(emit);
        Assert.Contains("\remit: 1/2 nodes", onTerminal, StringComparison.Ordinal);
        // Erased before the summary is printed on the same terminal.
        Assert.Matches("\r\u001b\\[K(\r)?wrote \\d+ files for 2 nodes", onTerminal);
        var log = Path.Combine(_dir, "stderr.txt");
        var redirected = Script(emit + " 2>" + Quote(log));
        Assert.Contains("files for 2 nodes", redirected, StringComparison.Ordinal);
        Assert.DoesNotContain("emit: ", redirected, StringComparison.Ordinal);
        Assert.Equal("", File.ReadAllText(log));
    }

    private static string Script(string command)
    {
        var psi = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment[JitProfile.Variable] = "0"; // a test writes nothing into the user's cache
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)), "script did not finish");
        Assert.True(p.ExitCode == 0, $"{command} exited {p.ExitCode}: {output.Result}{error.Result}");
        return output.Result;
    }
}
