using System;
using System.IO;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl trace</c>: exit codes and the summary line.</summary>
public sealed class TraceCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void With_reply_a_lost_answer_is_a_failed_connection()
    {
        var file = Path.Combine(_dir, "noreply.swarm.yaml");
        File.WriteAllText(file, """
            version: 1
            name: noreply
            nodes:
              m: { address: 10.1.1.10/24, role: manager }
              w: { address: 10.1.1.11/24 }
            rules:
              # m drops every echo reply it receives: its pings to w never come back.
              - { node: m, chain: INPUT, rule: "-p icmp --icmp-type echo-reply -j DROP" }
            """);
        var (exit, stdout, stderr) = Run("trace", file, "--from", "m", "--to", "w", "--reply");
        Assert.Equal((3, ""), (exit, stderr));
        Assert.Contains("1 connection: 1 delivered (w/host ×1); 1 reply lost (FilterDrop ×1)", stdout, StringComparison.Ordinal);
        // Without --reply only the request is asked about, and it arrived.
        (exit, stdout, _) = Run("trace", file, "--from", "m", "--to", "w");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("lost", stdout, StringComparison.Ordinal);
        // An answer that comes back is no failure.
        (exit, stdout, _) = Run("trace", file, "--from", "w", "--to", "m", "--reply");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("lost", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_written_connection_by_connection_is_the_text_of_all_connections_at_once()
    {
        // The command streams text (nothing kept); the renderer of a whole list must print the same.
        var (exit, stdout, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--reply", "--count", "4");
        Assert.Equal((0, ""), (exit, stderr));
        var compiled = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example));
        var sim = new SwarmDsl.Runtime.Engine.Simulation(compiled.Plan!);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        Assert.Equal(SwarmDsl.Runtime.Tracing.TextTraceRenderer.Render(sim.Connect(flow, 4), flow.Description, includeReplies: true,
            compiled.Compilation.DeclarationPaths), stdout);
    }

    [Fact]
    public void More_connections_than_the_client_has_ephemeral_ports_is_a_usage_error()
    {
        // The connections stay open: the 28,233rd would reuse a port a live one holds (found past 28,232 by a tester).
        var (exit, stdout, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--count", "28233");
        Assert.Equal((2, ""), (exit, stdout));
        Assert.Contains("--count must be from 1 to 28232 (the client's ephemeral ports", stderr, StringComparison.Ordinal);
    }
}
