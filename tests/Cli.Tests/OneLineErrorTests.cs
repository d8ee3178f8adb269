using System;

namespace SwarmDsl.Tests;

/// <summary>
/// Every error of every verb (but lab, which needs root) is one line on stderr, <c>swarmdsl: error: ...</c> (spec/cli.md):
/// the parser's "Run 'swarmdsl --help' for usage.", show's list of commands and several parser errors at once were lines
/// of their own (found by an audit).
/// </summary>
public class OneLineErrorTests
{
    public static TheoryData<int, string[]> Mistakes => new()
    {
        { 2, Array.Empty<string>() },
        { 2, new[] { "frob" } },
        { 2, new[] { "--bogus" } },
        { 2, new[] { "check" } },
        { 2, new[] { "check", "--bogus", "EXAMPLE" } },
        { 1, new[] { "check", "/nonexistent.swarm.yaml" } },
        { 2, new[] { "model" } },
        { 2, new[] { "model", "EXAMPLE", "--bogus" } },
        { 2, new[] { "emit" } },
        { 2, new[] { "emit", "EXAMPLE" } },
        { 2, new[] { "emit", "EXAMPLE", "-o" } },
        { 2, new[] { "emit", "EXAMPLE", "-o", "/tmp/x", "--format", "x" } },
        { 2, new[] { "emit", "EXAMPLE", "-o", "/tmp/x", "--node", "nosuch" } },
        { 2, new[] { "trace", "EXAMPLE" } },
        { 2, new[] { "trace", "EXAMPLE", "--from", "external" } },
        { 2, new[] { "trace", "EXAMPLE", "--from", "external", "--to", "manager", "--count", "x" } },
        { 2, new[] { "trace", "EXAMPLE", "--from", "external", "--to", "manager", "--lb", "x" } },
        { 2, new[] { "trace", "EXAMPLE", "--from", "nowhere", "--to", "manager" } },
        { 2, new[] { "trace", "EXAMPLE", "--from", "external", "--to", "manager:8443/icmp" } },
        { 2, new[] { "show" } },
        { 2, new[] { "show", "EXAMPLE", "manager" } },
        { 2, new[] { "show", "EXAMPLE", "manager", "--" } },
        { 2, new[] { "show", "EXAMPLE", "manager", "--", "iptables", "-F" } },
        { 2, new[] { "show", "EXAMPLE", "manager", "--", "ip" } },
        { 2, new[] { "show", "EXAMPLE", "manager", "--", "ip", "-6", "addr" } },
        { 1, new[] { "show", "EXAMPLE", "manager", "--", "sysctl", "net.nosuch.key", "net.other.key" } },
        { 2, new[] { "show", "EXAMPLE", "manager", "--possible-cpus", "0", "--", "ip", "addr" } },
        { 2, new[] { "graph" } },
        { 2, new[] { "graph", "EXAMPLE", "--format", "x" } },
        { 2, new[] { "graph", "EXAMPLE", "--trace-from", "external" } },
        { 2, new[] { "reach" } },
        { 2, new[] { "reach", "EXAMPLE", "--from", "nosuch" } },
        { 2, new[] { "reach", "EXAMPLE", "--seed", "x" } },
        { 2, new[] { "diff" } },
        { 2, new[] { "diff", "EXAMPLE", "manager", "--live", "--bogus" } },
        { 2, new[] { "synth", "--bogus" } },
        { 2, new[] { "synth", "--preset", "x" } },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void Is_one_error_line(int expectedExit, string[] args)
    {
        var (exit, _, stderr) = CliRun.Run(Array.ConvertAll(args, a => a == "EXAMPLE" ? Paths.Example : a));
        Assert.Equal(expectedExit, exit);
        var line = Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("swarmdsl: error: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Several_parser_errors_share_the_line_that_names_the_verbs_help()
    {
        var (exit, _, stderr) = CliRun.Run("trace", Paths.Example);
        Assert.Equal(2, exit);
        Assert.Equal("swarmdsl: error: Option '--from' is required; Option '--to' is required; see 'swarmdsl trace --help'\n", stderr);
        Assert.Equal("swarmdsl: error: Unrecognized command or argument 'frob'; see 'swarmdsl --help'\n", CliRun.Run("frob").Err);
    }
}
