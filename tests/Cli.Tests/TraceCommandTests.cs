using System;
using System.IO;
using System.Linq;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl trace</c>: exit codes and the summary line.</summary>
public sealed class TraceCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-trace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>Two nodes where m drops every echo reply it receives: its pings to w never come back.</summary>
    private string NoReplyTopology()
    {
        var file = Path.Combine(_dir, "noreply.swarm.yaml");
        File.WriteAllText(file, """
            version: 1
            name: noreply
            nodes:
              m: { address: 10.1.1.10/24, role: manager }
              w: { address: 10.1.1.11/24 }
            rules:
              - { node: m, chain: INPUT, rule: "-p icmp --icmp-type echo-reply -j DROP" }
            """);
        return file;
    }

    [Fact]
    public void With_reply_a_lost_answer_is_a_failed_connection()
    {
        var file = NoReplyTopology();
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
    public void Json_shows_replies_and_counts_lost_ones_only_with_reply_as_text_does()
    {
        var file = NoReplyTopology();
        // Without --reply the answer is not asked about: no reply in the JSON, nothing lost, exit 0 (as the text).
        var (exit, stdout, stderr) = Run("trace", file, "--from", "m", "--to", "w", "--json");
        Assert.Equal((0, ""), (exit, stderr));
        using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
        {
            var connection = doc.RootElement.GetProperty("connections")[0];
            Assert.Equal(new[] { "number", "request" }, connection.EnumerateObject().Select(p => p.Name));
            Assert.False(doc.RootElement.GetProperty("summary").TryGetProperty("repliesLost", out _));
        }
        // With --reply the lost answer is there, counted, and fails the run with the text's exit code.
        var text = Run("trace", file, "--from", "m", "--to", "w", "--reply");
        (exit, stdout, stderr) = Run("trace", file, "--from", "m", "--to", "w", "--reply", "--json");
        Assert.Equal((text.Exit, ""), (exit, stderr));
        Assert.Equal(3, exit);
        using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
        {
            var reply = doc.RootElement.GetProperty("connections")[0].GetProperty("reply");
            Assert.Equal("Dropped", reply.GetProperty("disposition").GetProperty("kind").GetString());
            var summary = doc.RootElement.GetProperty("summary");
            Assert.Equal((1, 1), (summary.GetProperty("delivered").GetInt32(), summary.GetProperty("repliesLost").GetInt32()));
        }
        // A reply that comes back is no failure, with or without JSON.
        (exit, stdout, _) = Run("trace", file, "--from", "w", "--to", "m", "--reply", "--json");
        Assert.Equal(0, exit);
        using (var doc = System.Text.Json.JsonDocument.Parse(stdout))
            Assert.Equal(0, doc.RootElement.GetProperty("summary").GetProperty("repliesLost").GetInt32());
    }

    [Fact]
    public void Json_with_and_without_reply_differ_on_the_example()
    {
        var plain = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--json");
        var replies = Run("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--json", "--reply");
        Assert.Equal((0, 0), (plain.Exit, replies.Exit));
        Assert.DoesNotContain("\"reply\"", plain.Out, StringComparison.Ordinal);
        Assert.Contains("\"reply\": {", replies.Out, StringComparison.Ordinal);
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

    [Theory]
    [InlineData("manager:8443/icmp", "--to manager:8443/icmp: icmp has no port: write manager:8443/tcp (or /udp, /sctp), or leave the port out for an ICMP echo to a node or an address")]
    [InlineData("10.7.191.9:80/icmp", "--to 10.7.191.9:80/icmp: icmp has no port")]
    [InlineData("web.1:80/icmp", "--to web.1:80/icmp: icmp has no port")]
    [InlineData("manager:8080/xyz", "--to manager:8080/xyz: 'xyz' is not a protocol: a port goes with tcp, udp or sctp (as in manager:8080/tcp)")]
    [InlineData("manager:8080/TCP", "'TCP' is not a protocol")]
    [InlineData("manager:8080/", "'' is not a protocol")]
    public void A_port_goes_with_tcp_udp_or_sctp_only(string to, string message)
    {
        // An ICMP echo has no port: manager:8443/icmp was traced as a ping that exited 0, whatever listened on 8443.
        foreach (var verb in new[] { "trace", "graph" })
        {
            var (exit, stdout, stderr) = verb == "trace"
                ? Run("trace", Paths.Example, "--from", "external", "--to", to)
                : Run("graph", Paths.Example, "--trace-from", "external", "--trace-to", to);
            Assert.Equal((2, ""), (exit, stdout));
            Assert.Contains(verb == "trace" ? message : message.Replace("--to ", "--trace-to ", StringComparison.Ordinal), stderr, StringComparison.Ordinal);
            Assert.StartsWith("swarmdsl: error: ", stderr, StringComparison.Ordinal);
            Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        }
        var show = Run("show", Paths.Example, "manager", "--from", "external", "--to", to, "--", "conntrack", "-L");
        Assert.Equal((2, ""), (show.Exit, show.Out));
        Assert.Contains(message, show.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("manager", "icmp 10.7.191.254 → 10.7.191.10 echo-request")]
    [InlineData("10.7.191.9", "icmp 10.7.191.254 → 10.7.191.9 echo-request")]
    [InlineData("manager:8080/tcp", "tcp 10.7.191.254:")]
    [InlineData("manager:8080/udp", "udp 10.7.191.254:")]
    [InlineData("manager:8080/sctp", "sctp 10.7.191.254:")]
    [InlineData("manager:8080", "tcp 10.7.191.254:")]
    public void A_node_or_address_alone_is_an_echo_and_a_port_takes_tcp_udp_or_sctp(string to, string request)
    {
        var (exit, stdout, stderr) = Run("trace", Paths.Example, "--from", "external", "--to", to);
        Assert.True(exit is 0 or 3, stderr);
        Assert.Equal("", stderr);
        Assert.Contains("request  " + request, stdout, StringComparison.Ordinal);
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
