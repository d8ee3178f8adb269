using System.IO;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl show</c> end to end.</summary>
public class ShowCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void Answers_ip_addr_in_a_namespace()
    {
        var (exit, output, err) = Run("show", Paths.Example, "manager", "ingress_sbox", "--", "ip", "addr", "show", "eth0");
        Assert.Equal(0, exit);
        Assert.Equal("", err);
        Assert.Matches(@"^\d+: eth0@if\d+: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000\n", output);
        Assert.Contains("    inet 10.255.0.2/16 brd 10.255.255.255 scope global eth0\n", output);
        Assert.Contains("    inet 10.255.0.4/32 scope global eth0\n", output);
    }

    [Fact]
    public void Namespace_defaults_to_host_and_options_name_the_lab_namespaces()
    {
        var (exit, output, _) = Run("show", Paths.Example, "worker", "--netns-prefix", "lab-", "--", "ip", "link", "show", "veth970a2bd");
        Assert.Equal(0, exit);
        Assert.Contains(" link-netns lab-ingress_sbox\n", output);
    }

    [Fact]
    public void Nftables_backend_has_no_ipvs_services()
    {
        var (exit, output, _) = Run("show", Paths.Example, "manager", "ingress_sbox", "--lb", "nftables", "--", "ipvsadm", "-L", "-n");
        Assert.Equal(0, exit);
        Assert.DoesNotContain("FWM", output);
        Assert.Contains("FWM  256 wrr", Run("show", Paths.Example, "manager", "ingress_sbox", "--", "ipvsadm", "-Ln").Out);
    }

    [Fact]
    public void Unsupported_command_exits_2_with_the_supported_list()
    {
        var (exit, output, err) = Run("show", Paths.Example, "manager", "--", "tcpdump", "-n");
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal("swarmdsl: error: 'tcpdump' is not a command show answers; show answers ip, bridge, brctl, iptables, iptables-save, ipvsadm, conntrack, netstat, sysctl (show --help lists their forms)\n", err);
    }

    [Fact]
    public void The_forms_show_answers_are_in_its_help_and_follow_the_error_with_verbose()
    {
        // Found by an audit: the forms were a second, 330-character line of every such error.
        var (exit, output, err) = Run("show", Paths.Example, "manager", "--verbose", "--", "iptables", "-F");
        Assert.Equal((2, ""), (exit, output));
        Assert.Equal(new[] { "swarmdsl: error: iptables option '-F' is not supported (show is read-only); show answers ip, bridge, brctl, iptables, iptables-save, ipvsadm, conntrack, netstat, sysctl (show --help lists their forms)",
            SwarmDsl.Views.ShowResult.Supported }, err.TrimEnd('\n').Split('\n'));
        var help = Run("show", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("iptables [-t TABLE] -L [CHAIN] -n", help.Out.Replace("\n", " ", System.StringComparison.Ordinal).Replace("  ", " ", System.StringComparison.Ordinal), System.StringComparison.Ordinal);
        Assert.Contains("sysctl KEY the topology does not set is an error", help.Out.Replace("\n", " ", System.StringComparison.Ordinal), System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_sysctl_the_topology_does_not_set_is_one_error_line_and_exit_1()
    {
        var (exit, output, err) = Run("show", Paths.Example, "manager", "--", "sysctl", "net.nosuch.key");
        Assert.Equal((1, ""), (exit, output));
        Assert.Equal("swarmdsl: error: sysctl net.nosuch.key is not set by this topology in host, so show does not know its value (the kernel's default or the host's)\n", err);
    }

    [Fact]
    public void The_tool_exit_code_and_error_pass_through()
    {
        var (exit, _, err) = Run("show", Paths.Example, "manager", "--", "ip", "addr", "show", "dev", "nope");
        Assert.Equal(1, exit);
        Assert.Equal("Device \"nope\" does not exist.\n", err);
    }

    [Theory]
    [InlineData("show", "EXAMPLE", "nosuchnode", "--", "ip", "addr")]
    [InlineData("show", "EXAMPLE", "manager", "nosuchns", "--", "ip", "addr")]
    [InlineData("show", "EXAMPLE", "manager", "ip", "addr")]
    [InlineData("show", "EXAMPLE", "manager", "--")]
    [InlineData("show", "EXAMPLE", "manager", "--lb", "bogus", "--", "ip", "addr")]
    public void Command_line_mistakes_exit_2_with_one_line(params string[] args)
    {
        var (exit, _, err) = Run(System.Array.ConvertAll(args, a => a == "EXAMPLE" ? Paths.Example : a));
        Assert.Equal(2, exit);
        Assert.StartsWith("swarmdsl: error: ", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void Missing_file_fails_with_one_line()
    {
        var (exit, _, err) = Run("show", "/nonexistent/x.swarm.yaml", "manager", "--", "ip", "addr");
        Assert.Equal(1, exit);
        Assert.StartsWith("swarmdsl: error: cannot read", err);
    }
}
