using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>How <see cref="ShowCommandLine"/> reads command lines, and what it refuses.</summary>
public class ShowCommandLineTests
{
    private static readonly DataplanePlan Plan = HandMadePlans.Lab();
    private static HostPlan Host => Plan.Hosts[0];

    private static ShowResult Run(string ns, params string[] command) =>
        ShowCommandLine.Run(Plan, Host, Host.Namespaces.Single(n => n.Name == ns), command, ShowOptions.Default);

    [Theory]
    [InlineData("ip", "a")]
    [InlineData("ip", "addr")]
    [InlineData("ip", "address", "show")]
    [InlineData("ip", "a", "s")]
    public void Ip_objects_and_verbs_match_by_prefix(params string[] command)
    {
        Assert.Equal(Run("app", "ip", "addr").Output, Run("app", command).Output);
        Assert.Contains("inet 192.168.50.2/24 brd 192.168.50.255 scope global eth0", Run("app", command).Output);
    }

    [Fact]
    public void Dev_filter_shows_one_device_and_ip_route_drops_the_dev_word()
    {
        var one = Run("app", "ip", "address", "show", "dev", "eth1").Output;
        Assert.Matches(@"^\d+: eth1@if\d+: ", one);
        Assert.DoesNotContain("eth0", one);
        Assert.Equal(Run("app", "ip", "a", "s", "eth1").Output, one);
        Assert.Equal("default via 192.168.50.1 \n192.168.50.0/24 proto kernel scope link src 192.168.50.2 \n",
            Run("app", "ip", "r", "show", "dev", "eth0").Output);
    }

    [Fact]
    public void Missing_devices_fail_like_the_tools()
    {
        var r = Run("app", "ip", "addr", "show", "dev", "nope");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("Device \"nope\" does not exist.\n", r.Error);
        Assert.Equal(1, Run("host", "iptables", "-L", "NOPE", "-n").ExitCode);
        Assert.Equal(1, Run("host", "iptables", "-t", "bogus", "-L", "-n").ExitCode);
        Assert.Equal(1, Run("host", "brctl", "showmacs", "eth0").ExitCode);
    }

    [Theory]
    [InlineData("tcpdump", "-i", "eth0")]
    [InlineData("ip", "-6", "addr")]
    [InlineData("ip", "xfrm", "state")]
    [InlineData("iptables", "-A", "INPUT", "-j", "DROP")]
    [InlineData("iptables", "-L")]
    [InlineData("ipvsadm", "-A", "-f", "1")]
    [InlineData("sysctl", "-w", "net.ipv4.ip_forward=0")]
    [InlineData("netstat", "-tlnp")]
    public void Unsupported_commands_exit_2_listing_what_is_supported(params string[] command)
    {
        var r = Run("host", command);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Output);
        // One line: the commands by name (their forms are in show --help).
        Assert.EndsWith("; show answers " + ShowResult.SupportedCommands + " (show --help lists their forms)\n", r.Error, System.StringComparison.Ordinal);
        Assert.StartsWith("swarmdsl: error: ", r.Error, System.StringComparison.Ordinal);
        Assert.Single(r.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Iptables_reads_bundled_options_and_the_chain()
    {
        var spelled = Run("host", "iptables", "-t", "filter", "-L", "LAB-FILTER", "-n", "-v");
        Assert.Equal(0, spelled.ExitCode);
        Assert.StartsWith("Chain LAB-FILTER (1 references)\n", spelled.Output);
        Assert.Equal(spelled.Output, Run("host", "iptables", "-nvL", "LAB-FILTER").Output);
        Assert.Equal(spelled.Output, Run("host", "iptables", "-tfilter", "-vnL", "LAB-FILTER").Output);
        Assert.Equal("-N LAB-USER\n-A LAB-USER -m comment --comment \"swarmdsl:lab:(derived) lab.user\" -j RETURN\n", Run("host", "iptables", "-S", "LAB-USER").Output);
    }

    [Fact]
    public void User_chains_are_listed_by_name_after_the_built_ins()
    {
        var chains = Run("host", "iptables", "-L", "-n").Output.Split('\n').Where(l => l.StartsWith("Chain ")).ToList();
        Assert.Equal(new[] { "Chain INPUT (policy ACCEPT)", "Chain FORWARD (policy DROP)", "Chain OUTPUT (policy ACCEPT)",
            "Chain LAB-FILTER (1 references)", "Chain LAB-USER (1 references)" }, chains);
    }

    [Fact]
    public void Sysctl_answers_what_the_plan_sets_and_says_when_it_does_not()
    {
        Assert.Equal("net.ipv4.ip_forward = 1\n", Run("app", "sysctl", "net.ipv4.ip_forward").Output);
        Assert.Equal("1\n", Run("app", "sysctl", "-n", "net/ipv4/ip_forward").Output);
        var missing = Run("app", "sysctl", "net.ipv4.tcp_syncookies");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("swarmdsl: error: sysctl net.ipv4.tcp_syncookies is not set by this topology in app, so show does not know its value (the kernel's default or the host's)\n", missing.Error);
        // Keys it sets are answered; those it does not are one error line together, and the exit is 1.
        var mixed = Run("app", "sysctl", "net.nosuch.key", "net.ipv4.ip_forward", "net/other/key");
        Assert.Equal((1, "net.ipv4.ip_forward = 1\n"), (mixed.ExitCode, mixed.Output));
        Assert.Equal("swarmdsl: error: sysctl net.nosuch.key, net/other/key are not set by this topology in app, so show does not know their values (the kernel's default or the host's)\n", mixed.Error);
    }

    [Fact]
    public void Ipvsadm_sorts_services_and_real_servers()
    {
        var text = Run("app", "ipvsadm", "-L", "-n").Output;
        Assert.Equal(
            "IP Virtual Server version 1.2.1 (size=4096)\n" +
            "Prot LocalAddress:Port Scheduler Flags\n" +
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
            "TCP  10.254.0.9:80 rr\n" +
            "  -> 10.254.0.11:80               Route   2      0          0         \n" +
            "  -> 10.254.0.12:80               Masq    1      0          0         \n" +
            "FWM  256 sh\n" +
            "FWM  257 wlc\n" +
            "  -> 10.254.0.5:0                 Masq    1      0          0         \n", text);
        Assert.Equal("IPVS connection entries\npro expire state       source             virtual            destination\n", Run("app", "ipvsadm", "-L", "-n", "-c").Output);
    }

    [Fact]
    public void Runtime_state_feeds_counters_and_connections()
    {
        var state = new FakeState();
        var options = new ShowOptions { State = state };
        var ns = Host.Namespaces.Single(n => n.Name == "app");
        var stats = ShowCommandLine.Run(Plan, Host, ns, new[] { "ipvsadm", "-L", "-n", "--stats" }, options).Output;
        Assert.Contains("TCP  10.254.0.9:80                       7      123       99   150000  123456K\n", stats);
        Assert.Contains("   12345M", ShowCommandLine.Run(Plan, Host, ns, new[] { "ipvsadm", "-L", "-n", "--stats" }, new ShowOptions { State = new FakeState(12_345_678_901) }).Output);
        var conns = ShowCommandLine.Run(Plan, Host, ns, new[] { "ipvsadm", "-L", "-n", "-c" }, options).Output;
        Assert.EndsWith("TCP 14:58  ESTABLISHED 10.7.191.254:40000 10.254.0.9:80      10.254.0.11:80\n", conns);
        var host = Host.Namespaces.Single(n => n.Name == "host");
        var filter = ShowCommandLine.Run(Plan, Host, host, new[] { "iptables", "-L", "FORWARD", "-n", "-v" }, options).Output;
        Assert.StartsWith("Chain FORWARD (policy DROP 1234K packets, 1500K bytes)\n", filter);
        Assert.Contains("\n  500 1000K LAB-USER", filter);
        var netstat = ShowCommandLine.Run(Plan, Host, ns, new[] { "netstat", "-i" }, options).Output;
        Assert.Contains("eth0             1500       10      0      0 0            20      0      0      0 BMRU\n", netstat);
    }

    [Fact]
    public void Conntrack_lists_state_entries_and_counts_on_stderr()
    {
        var empty = Run("app", "conntrack", "-L");
        Assert.Equal(0, empty.ExitCode);
        Assert.Equal("", empty.Output);
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n", empty.Error);
        var ns = Host.Namespaces.Single(n => n.Name == "app");
        var full = ShowCommandLine.Run(Plan, Host, ns, new[] { "conntrack", "-L" }, new ShowOptions { State = new FakeState() });
        // The UDP line is what conntrack printed for a datagram to a closed port on this kernel.
        Assert.Equal(
            "udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=52321 dport=9 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9 dport=52321 mark=0 use=1\n" +
            "tcp      6 431999 ESTABLISHED src=10.7.191.254 dst=10.7.191.10 sport=39500 dport=8080 src=172.18.0.2 dst=10.7.191.254 sport=8080 dport=39500 [ASSURED] mark=256 use=1\n",
            full.Output);
        Assert.Equal("conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n", full.Error);
        var tcp = ShowCommandLine.Run(Plan, Host, ns, new[] { "conntrack", "-L", "-p", "tcp" }, new ShowOptions { State = new FakeState() });
        Assert.StartsWith("tcp ", tcp.Output);
        Assert.Contains("1 flow entries", tcp.Error);
    }

    private sealed class FakeState : IDataplaneState
    {
        private readonly ulong _bytes;
        public FakeState(ulong bytes = 123456789) => _bytes = bytes;

        public PacketCounters? RuleCounters(string node, string ns, string table, string chain, int ruleIndex) =>
            chain == "FORWARD" ? ruleIndex < 0 ? new PacketCounters(1_234_000, 1_500_000) : new PacketCounters(500, 1_000_000) : null;

        public InterfaceCounters? Interface(string node, string ns, string device) =>
            device == "eth0" ? new InterfaceCounters(10, 0, 0, 0, 20, 0, 0, 0) : null;

        public IpvsStatistics? IpvsService(string node, string ns, int? fwMark, Ipv4Address vip, int? port) =>
            port == 80 ? new IpvsStatistics(7, 123, 99, 150000, _bytes) : null;

        public IpvsDestinationState? IpvsDestination(string node, string ns, int? fwMark, Ipv4Address vip, int? port, Ipv4Address destination) => null;

        public IReadOnlyList<ConntrackEntry> ConntrackEntries(string node, string ns) => new[]
        {
            new ConntrackEntry(IpProtocol.Udp, 29, null, new ConntrackTuple(Ipv4Address.Parse("127.0.0.1"), Ipv4Address.Parse("127.0.0.1"), 52321, 9),
                new ConntrackTuple(Ipv4Address.Parse("127.0.0.1"), Ipv4Address.Parse("127.0.0.1"), 9, 52321), false, true, 0),
            new ConntrackEntry(IpProtocol.Tcp, 431999, "ESTABLISHED", new ConntrackTuple(Ipv4Address.Parse("10.7.191.254"), Ipv4Address.Parse("10.7.191.10"), 39500, 8080),
                new ConntrackTuple(Ipv4Address.Parse("172.18.0.2"), Ipv4Address.Parse("10.7.191.254"), 8080, 39500), true, false, 256),
        };

        public IReadOnlyList<IpvsConnection> IpvsConnections(string node, string ns) => new[]
        {
            new IpvsConnection(IpProtocol.Tcp, 898, "ESTABLISHED", Ipv4Address.Parse("10.7.191.254"), 40000, Ipv4Address.Parse("10.254.0.9"), 80,
                Ipv4Address.Parse("10.254.0.11"), 80),
        };
    }
}
