using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl show ... --from SRC --to DST --count N -- COMMAND</c>: state-dependent commands after simulated traffic.</summary>
public class ShowStateTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    /// <summary>Two connections from the external client to the published port 8080 on the manager, then the command.</summary>
    private static (int Exit, string Out, string Err) After2(string node, string ns, params string[] command) =>
        Run(new[] { "show", Paths.Example, node, ns, "--from", "external", "--to", "manager:8080/tcp", "--count", "2", "--" }.Concat(command).ToArray());

    [Fact]
    public void Ipvsadm_stats_split_two_connections_over_the_real_servers()
    {
        var (exit, output, err) = After2("manager", "ingress_sbox", "ipvsadm", "-L", "-n", "--stats");
        Assert.Equal(0, exit);
        Assert.Equal("", err);
        Assert.Matches(@"\nFWM  256 +2 +4 +2 ", output);
        Assert.Equal(2, Regex.Matches(output, @"\n  -> 10\.255\.0\.\d+:0 +1 +2 +1 ").Count);
        Snapshot.Verify(output);
    }

    [Fact]
    public void Ipvsadm_connections_list_both()
    {
        var (exit, output, _) = After2("manager", "ingress_sbox", "ipvsadm", "-L", "-n", "-c");
        Assert.Equal(0, exit);
        // ESTABLISHED expires 15 min after the last packet (ip_vs_proto_tcp.c), a few simulated milliseconds ago: 14:59 left.
        Assert.Equal(2, Regex.Matches(output, @"^TCP 14:59  ESTABLISHED [\d.]+:\d+ +[\d.]+:8080 +10\.255\.0\.\d+:8080$", RegexOptions.Multiline).Count);
        Snapshot.Verify(output);
    }

    [Fact]
    public void Ipvsadm_list_counts_active_connections()
    {
        var (exit, output, _) = After2("manager", "ingress_sbox", "ipvsadm", "-L", "-n");
        Assert.Equal(0, exit);
        Assert.Equal(2, Regex.Matches(output, @"\n  -> 10\.255\.0\.\d+:0 +Masq +1 +1 +0 ").Count);
    }

    [Fact]
    public void Conntrack_on_the_host_lists_the_dnat_flows()
    {
        var (exit, output, err) = After2("manager", "host", "conntrack", "-L");
        Assert.Equal(0, exit);
        var tcp = output.Split('\n').Where(l => l.StartsWith("tcp ", System.StringComparison.Ordinal)).ToList();
        Assert.Equal(2, tcp.Count);
        // 5 days (tcp_timeouts[ESTABLISHED]) less the milliseconds since the last packet, in whole seconds.
        // conntrack-tools: original tuple to the node's address, reply from the ingress sandbox (DOCKER-INGRESS DNAT).
        Assert.All(tcp, l => Assert.Matches(
            @"^tcp      6 431999 ESTABLISHED src=(\S+) dst=10\.7\.191\.\d+ sport=(\d+) dport=8080 src=172\.18\.0\.\d+ dst=\1 sport=8080 dport=\2 \[ASSURED\] mark=0 use=1$", l));
        Assert.Matches(@"^conntrack v1\.4\.7 \(conntrack-tools\): \d+ flow entries have been shown\.\n$", err);
        Snapshot.Verify(output + "--- stderr\n" + err);
    }

    [Fact]
    public void Conntrack_in_the_sandbox_lists_the_ipvs_flows()
    {
        var (exit, output, _) = After2("manager", "ingress_sbox", "conntrack", "-L", "-p", "tcp");
        Assert.Equal(0, exit);
        Assert.Equal(2, output.Split('\n').Count(l => Regex.IsMatch(l, @"dport=8080 src=10\.255\.0\.\d+ dst=10\.255\.0\.\d+ sport=8080 ")));
        Snapshot.Verify(output);
    }

    [Fact]
    public void Netstat_counts_the_crossed_devices_only()
    {
        var (exit, sbox, _) = After2("manager", "ingress_sbox", "netstat", "-i");
        Assert.Equal(0, exit);
        Assert.Matches(@"\neth0 +1450 +[1-9]\d* +0 +0 +0 +[1-9]\d* ", sbox);
        Assert.Matches(@"\nlo +65536 +0 +0 +0 +0 +0 ", sbox);
        var (_, host, _) = After2("manager", "host", "netstat", "-i");
        var (_, worker, _) = After2("worker", "host", "netstat", "-i");
        Snapshot.Verify("== manager ingress_sbox\n" + sbox + "== manager host\n" + host + "== worker host\n" + worker);
        // Without traffic every counter is zero.
        var (_, fresh, _) = Run("show", Paths.Example, "manager", "ingress_sbox", "--", "netstat", "-i");
        Assert.DoesNotMatch(@"\n\S+ +\d+ +[1-9]", fresh);
    }

    [Fact]
    public void From_without_to_is_a_usage_error()
    {
        var (exit, _, err) = Run("show", Paths.Example, "manager", "--from", "external", "--", "conntrack", "-L");
        Assert.Equal(2, exit);
        Assert.Contains("--from and --to go together", err);
        var (exit2, _, err2) = Run("show", Paths.Example, "manager", "--from", "external", "--to", "nosuch:80/tcp", "--", "conntrack", "-L");
        Assert.Equal(2, exit2);
        Assert.Contains("nosuch", err2);
    }

    [Fact]
    public void Help_documents_the_traffic_options()
    {
        var (_, output, _) = Run("show", "--help");
        Assert.Contains("--from", output);
        Assert.Contains("--count", output);
        Assert.Contains("conntrack -L", output);
    }

    [Fact]
    public void After_lets_time_pass_so_timeouts_count_down_and_ipvs_connections_expire()
    {
        // --after 600: ESTABLISHED conntrack entries (5 days) show 600 s less; IPVS ESTABLISHED (15 min) has 5 min left;
        // after 900 s the IPVS connections are gone (ip_vs_proto_tcp.c) while conntrack keeps its entries.
        var args = new[] { "show", Paths.Example, "manager", "ingress_sbox", "--from", "external", "--to", "manager:8080/tcp", "--count", "2" };
        var (exit, output, _) = Run(args.Concat(new[] { "--after", "600", "--", "ipvsadm", "-L", "-n", "-c" }).ToArray());
        Assert.Equal(0, exit);
        Assert.Equal(2, Regex.Matches(output, @"^TCP 04:59  ESTABLISHED ", RegexOptions.Multiline).Count);
        (exit, output, _) = Run(args.Concat(new[] { "--after", "600", "--", "conntrack", "-L" }).ToArray());
        Assert.Equal(2, Regex.Matches(output, @"^tcp      6 431399 ESTABLISHED ", RegexOptions.Multiline).Count);
        (exit, output, _) = Run(args.Concat(new[] { "--after", "900", "--", "ipvsadm", "-L", "-n", "-c" }).ToArray());
        Assert.Equal(0, exit);
        Assert.DoesNotMatch(@"\nTCP ", output);
        var (code, _, err) = Run("show", Paths.Example, "manager", "--after", "5", "--", "conntrack", "-L");
        Assert.Equal(2, code);
        Assert.Contains("--after needs --from and --to", err);
    }
}
