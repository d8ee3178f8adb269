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
        Assert.Contains("show answers: ip", err);
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
