using System;
using System.IO;
using System.Threading.Tasks;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary>The progress counter of long work: on a terminal only (spec/cli.md), redrawn in place, erased at the end.</summary>
public sealed class TerminalProgressTests
{
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
}
