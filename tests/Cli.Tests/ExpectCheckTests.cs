using System;
using System.IO;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl check</c> evaluates <c>expect:</c>: SWARM0020 at the entry, exit 1; <c>--no-expect</c> skips it.</summary>
public sealed class ExpectCheckTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-expect-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>The example with a raw rule on the worker that drops what its second expectation sends (entry at line 63).</summary>
    internal static string DroppingYaml() => File.ReadAllText(Paths.Example).Replace("\r\n", "\n") + """

        rules:
          - node: worker
            table: filter
            chain: FORWARD
            rule: -p tcp --dport 8080 -j DROP
            position: insert

        """;

    private string Dropping()
    {
        var path = Path.Combine(_dir, "drop.swarm.yaml");
        File.WriteAllText(path, DroppingYaml());
        return path;
    }

    [Fact]
    public void A_failed_expectation_is_SWARM0020_at_the_entry_with_the_rule_that_dropped_it()
    {
        var file = Dropping();
        var (exit, stdout, stderr) = Run("check", file);
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        Assert.Equal(
            $"{file}(63,5): error SWARM0020: expected external → worker:8080/tcp to reach web: connection 1 of 2 was dropped by FilterDrop at worker/host "
            + "filter/FORWARD rule 1 (-A FORWARD -p tcp -m tcp --dport 8080 -j DROP) from drop.swarm.yaml:71:11\n1 file checked: 1 error, 0 warnings\n", stdout);
    }

    /// <summary>
    /// An entry whose endpoint names nothing the plan has (a namespace a node does not hold) is SWARM0031 at that value,
    /// whether it expects a block or a service: a "blocked" entry used to hold of it vacuously (found by a tester).
    /// </summary>
    [Fact]
    public void An_endpoint_the_plan_does_not_have_is_SWARM0031_at_its_value_even_when_blocked_is_expected()
    {
        var path = Path.Combine(_dir, "nons.swarm.yaml");
        File.WriteAllText(path, File.ReadAllText(Paths.Example).Replace("\r\n", "\n") + """
              - from: external
                to: manager/nons
                blocked: true
              - from: worker/nons
                to: manager:8080/tcp
                reaches: web

            """);
        var (exit, stdout, stderr) = Run("check", path);
        Assert.Equal(1, exit);
        Assert.Equal("", stderr);
        Assert.Equal($"{path}(67,9): error SWARM0031: to: node manager has no namespace nons\n"
            + $"{path}(69,11): error SWARM0031: from: node worker has no namespace nons\n1 file checked: 2 errors, 0 warnings\n", stdout);
    }

    [Fact]
    public void No_expect_skips_the_simulation()
    {
        var (exit, stdout, _) = Run("check", "--no-expect", Dropping());
        Assert.Equal(0, exit);
        Assert.Equal("1 file checked: 0 errors, 0 warnings\n", stdout);
    }

    [Fact]
    public void A_sysctl_the_simulation_does_not_model_is_SWARM0043_at_the_sysctl_when_expectations_are_checked()
    {
        var path = Path.Combine(_dir, "sysctl.swarm.yaml");
        File.WriteAllText(path, """
            version: 1
            name: demo
            nodes:
              manager: { address: 10.7.1.10/24, role: manager }
              worker:
                address: 10.7.1.11/24
                sysctls:
                  net.ipv4.icmp_echo_ignore_all: 1
                  net.core.rmem_max: 26214400
                  net.ipv4.ip_forward: 1
            expect:
              - { from: external, to: worker, blocked: true }
            """);
        var (exit, stdout, stderr) = Run("check", path);
        // icmp_echo_ignore_all would change the answer; a buffer size would not, and ip_forward is modelled.
        Assert.Contains("sysctl.swarm.yaml(8,7): warning SWARM0043: sysctl net.ipv4.icmp_echo_ignore_all = 1 is provisioned by emit, but the packet simulation does not model it", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("rmem_max", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ip_forward", stdout + stderr, StringComparison.Ordinal);
        // Without expectations nothing is simulated, so nothing is said.
        File.WriteAllText(path, File.ReadAllText(path).Replace("expect:\n  - { from: external, to: worker, blocked: true }", ""));
        (exit, stdout, stderr) = Run("check", path);
        Assert.Equal(0, exit);
        Assert.DoesNotContain("SWARM0043", stdout + stderr, StringComparison.Ordinal);
    }
    [Fact]
    public void Warnings_of_the_expectations_alone_leave_check_clean()
    {
        // spec/cli.md: check exits 0 for "clean or warnings only"; a SWARM0043 once made it exit 1 (a tester's find).
        var path = Path.Combine(_dir, "warned.swarm.yaml");
        File.WriteAllText(path, """
            version: 1
            name: w43
            nodes:
              n1: { address: 10.50.0.1/24 }
              n2:
                address: 10.50.0.2/24
                sysctls:
                  net.ipv4.conf.all.rp_filter: 1
            networks:
              net: { driver: overlay, subnet: 10.60.0.0/24 }
            services:
              web:
                replicas: 2
                networks: [net]
                ports: [{ published: 80, target: 80 }]
            expect:
              - { from: external, to: "n1:80/tcp", reaches: web }
            """);
        var (exit, stdout, _) = Run("check", path);
        Assert.Contains("warning SWARM0043: sysctl net.ipv4.conf.all.rp_filter = 1", stdout, StringComparison.Ordinal);
        Assert.EndsWith("1 file checked: 0 errors, 1 warning\n", stdout, StringComparison.Ordinal);
        Assert.Equal(0, exit);
    }
}
