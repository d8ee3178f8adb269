using System;
using System.Linq;
using CsCheck;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Plan;

public class IptablesSyntaxTests
{
    private static NetfilterRule R(RuleTarget target, params RuleMatch[] matches)
        => new(EquatableArray.Create(matches), target, "test", SourceSpan.None);

    private static Ipv4Cidr C(string s) => Ipv4Cidr.Parse(s);

    // The iptables-save lines of reference/swarm-dataplane.md §2.3–§2.5, rebuilt from plan values.
    public static TheoryData<string, NetfilterRule, string> DockerRules => new()
    {
        { "DOCKER-INGRESS", R(new DnatTarget(Ipv4Address.Parse("172.18.0.2"), 8080), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
          "-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:8080" },
        { "DOCKER-INGRESS", R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Source, 8080, 8080), new ConntrackMatch(CtState.Established | CtState.Related)),
          "-A DOCKER-INGRESS -p tcp -m tcp --sport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" },
        { "PREROUTING", R(new JumpTarget("DOCKER-INGRESS"), new AddrTypeMatch(Direction.Destination, AddressType.Local)),
          "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER-INGRESS" },
        { "POSTROUTING", R(new MasqueradeTarget(), new AddrTypeMatch(Direction.Source, AddressType.Local), new InterfaceMatch(false, "docker_gwbridge")),
          "-A POSTROUTING -o docker_gwbridge -m addrtype --src-type LOCAL -j MASQUERADE" },
        { "POSTROUTING", R(new MasqueradeTarget(), new AddressMatch(Direction.Source, C("172.18.0.0/16")), new InterfaceMatch(false, "docker_gwbridge", true)),
          "-A POSTROUTING -s 172.18.0.0/16 ! -o docker_gwbridge -j MASQUERADE" },
        { "PREROUTING", R(new MarkTarget(0x100, 0xffffffff), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080)),
          "-A PREROUTING -p tcp -m tcp --dport 8080 -j MARK --set-xmark 0x100/0xffffffff" },
        { "INPUT", R(new MarkTarget(0x100, 0xffffffff), new AddressMatch(Direction.Destination, C("10.0.0.5/32"))),
          "-A INPUT -d 10.0.0.5/32 -j MARK --set-xmark 0x100/0xffffffff" },
        { "POSTROUTING", R(new SnatTarget(Ipv4Address.Parse("10.0.0.2"), null), new IpvsMatch(), new AddressMatch(Direction.Destination, C("10.0.0.0/24"))),
          "-A POSTROUTING -d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source 10.0.0.2" },
        { "PREROUTING", R(new RedirectTarget(8000), new AddressMatch(Direction.Destination, C("10.255.0.7/32")), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 80, 80)),
          "-A PREROUTING -d 10.255.0.7/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8000" },
        { "INPUT", R(new AcceptTarget(), new AddressMatch(Direction.Destination, C("10.255.0.7/32")), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8000, 8000), new ConntrackMatch(CtState.New | CtState.Established)),
          "-A INPUT -d 10.255.0.7/32 -p tcp -m tcp --dport 8000 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT" },
        { "INPUT", R(new DropTarget(), new AddressMatch(Direction.Destination, C("10.255.0.7/32")), new ProtocolMatch(IpProtocol.Udp)),
          "-A INPUT -d 10.255.0.7/32 -p udp -j DROP" },
        { "OUTPUT", R(new DnatTarget(Ipv4Address.Parse("127.0.0.1"), null), new AddressMatch(Direction.Destination, C("10.255.0.5/32")), new ProtocolMatch(IpProtocol.Icmp), new IcmpTypeMatch(8)),
          "-A OUTPUT -d 10.255.0.5/32 -p icmp -m icmp --icmp-type 8 -j DNAT --to-destination 127.0.0.1" },
        { "DOCKER", R(new DropTarget(), new InterfaceMatch(true, "docker_gwbridge", true), new InterfaceMatch(false, "docker_gwbridge")),
          "-A DOCKER ! -i docker_gwbridge -o docker_gwbridge -j DROP" },
        { "OUTPUT", R(new JumpTarget("DOCKER"), new AddrTypeMatch(Direction.Destination, AddressType.Local), new AddressMatch(Direction.Destination, C("127.0.0.0/8"), true)),
          "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER" },
    };

    [Theory]
    [MemberData(nameof(DockerRules))]
    public void Format_prints_Dockers_rules_as_iptables_save_does(string chain, NetfilterRule rule, string expected)
        => Assert.Equal(expected, IptablesSyntax.Format(rule, chain, null));

    [Fact]
    public void Format_puts_the_comment_after_the_matches_and_quotes_it()
    {
        var rule = R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 8080, 8080));
        Assert.Equal("-A DOCKER-INGRESS -p tcp -m tcp --dport 8080 -m comment --comment \"swarmdsl:two-node:two-node.swarm.yaml:44:9 services.web.ports[0]\" -j ACCEPT",
            IptablesSyntax.Format(rule, "DOCKER-INGRESS", "swarmdsl:two-node:two-node.swarm.yaml:44:9 services.web.ports[0]"));
    }

    [Fact]
    public void Format_folds_tcp_ports_into_one_module_source_first()
    {
        var rule = R(new AcceptTarget(), new ProtocolMatch(IpProtocol.Tcp), new PortMatch(IpProtocol.Tcp, Direction.Destination, 90, 90),
            new MarkMatch(1, uint.MaxValue), new PortMatch(IpProtocol.Tcp, Direction.Source, 80, 80, true));
        Assert.Equal("-A X -p tcp -m tcp ! --sport 80 --dport 90 -m mark --mark 0x1 -j ACCEPT", IptablesSyntax.Format(rule, "X", null));
    }

    [Theory]
    [InlineData("c1", "c1")]
    [InlineData("a-b_C9", "a-b_C9")]
    [InlineData("", "\"\"")]
    [InlineData("a b", "\"a b\"")]
    [InlineData("a.b", "\"a.b\"")]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("a'b\\c", "\"a\\'b\\\\c\"")]
    [InlineData("a$b", "\"a$b\"")]
    public void Quote_matches_xtables_save_string(string value, string expected) => Assert.Equal(expected, IptablesSyntax.Quote(value));

    [Theory]
    [InlineData(0.5, "0.50000000000")]
    [InlineData(0.33333333, "0.33333333023")]
    [InlineData(0.1, "0.10000000009")]
    [InlineData(1.0, "1.00000000000")]
    [InlineData(0.0, "0.00000000000")]
    [InlineData(1.0 / 4096, "0.00024414062")] // an exact tie at the 12th digit: glibc rounds to even
    public void Probability_prints_like_libxt_statistic(double p, string expected)
        => Assert.Equal(expected, IptablesSyntax.FormatProbability(IptablesSyntax.ProbabilityToKernel(p)));

    [Theory]
    [InlineData("-p tcp --dport 22 -j ACCEPT", "-p tcp -m tcp --dport 22 -j ACCEPT")]
    [InlineData("-s 10.0.0.0/8 -j DROP", "-s 10.0.0.0/8 -j DROP")]
    [InlineData("-s 10.1.2.3 -j DROP", "-s 10.1.2.3/32 -j DROP")]
    [InlineData("-s 10.1.2.3/255.255.0.0 -j DROP", "-s 10.1.0.0/16 -j DROP")]
    [InlineData("-i eth0 -m conntrack --ctstate NEW -j LOG --log-prefix x", "-i eth0 -m conntrack --ctstate NEW -j LOG --log-prefix x")]
    [InlineData("-p tcp --destination-port 1000:2000 -j DROP", "-p tcp -m tcp --dport 1000:2000 -j DROP")]
    [InlineData("-p udp --sport :53 -j DROP", "-p udp -m udp --sport 0:53 -j DROP")]
    [InlineData("--protocol tcp -m tcp ! --dport 22 --jump REJECT --reject-with tcp-reset", "-p tcp -m tcp ! --dport 22 -j REJECT --reject-with tcp-reset")]
    [InlineData("-j MARK --set-mark 0x100", "-j MARK --set-xmark 0x100/0xffffffff")]
    [InlineData("-j MARK --set-mark 256/0xff", "-j MARK --set-xmark 0x100/0x1ff")]
    [InlineData("-j MARK --or-mark 4", "-j MARK --set-xmark 0x4/0x4")]
    [InlineData("-j MARK --and-mark 0xff", "-j MARK --set-xmark 0x0/0xffffff00")]
    [InlineData("-p tcp --dport 8081 -j DNAT --to 172.18.0.2:80", "-p tcp -m tcp --dport 8081 -j DNAT --to-destination 172.18.0.2:80")]
    [InlineData("-o eth0 -j SNAT --to 10.0.0.2", "-o eth0 -j SNAT --to-source 10.0.0.2")]
    [InlineData("-p tcp -j REDIRECT --to-port 8000", "-p tcp -j REDIRECT --to-ports 8000")]
    [InlineData("-m state --state ESTABLISHED,RELATED -j ACCEPT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")]
    [InlineData("-p icmp --icmp-type echo-request -j ACCEPT", "-p icmp -m icmp --icmp-type 8 -j ACCEPT")]
    [InlineData("-p tcp -m multiport --dports 80,443 -j ACCEPT", "-p tcp -m multiport --dports 80,443 -j ACCEPT")]
    [InlineData("-m addrtype --src-type LOCAL --dst-type LOCAL -j RETURN", "-m addrtype --src-type LOCAL -m addrtype --dst-type LOCAL -j RETURN")]
    [InlineData("-m statistic --mode random --probability 0.5 -j DROP", "-m statistic --mode random --probability 0.50000000000 -j DROP")]
    [InlineData("-m statistic --mode nth ! --every 3 --packet 1 -j DROP", "-m statistic --mode nth ! --every 3 --packet 1 -j DROP")]
    [InlineData("-m mark ! --mark 0x100/0xff00 -g MY-CHAIN", "-m mark ! --mark 0x100/0xff00 -g MY-CHAIN")]
    [InlineData("-d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source 10.0.0.2", "-d 10.0.0.0/24 -m ipvs --ipvs -j SNAT --to-source 10.0.0.2")]
    [InlineData("-j LOG --log-prefix \"swarm: \"", "-j LOG --log-prefix \"swarm: \"")]
    [InlineData("-j LOG --log-prefix 'drop '", "-j LOG --log-prefix \"drop \"")]
    [InlineData("-p all -s 0.0.0.0/0 -i + -j ACCEPT", "-j ACCEPT")]
    [InlineData("-p tcp -m tcp -j ACCEPT", "-p tcp -m tcp -j ACCEPT")]
    [InlineData("-j TRACE", "-j TRACE")]
    public void TryParse_accepts_what_people_write(string text, string expectedBody)
    {
        Assert.True(IptablesSyntax.TryParse(text, out var matches, out var target, out var error), error);
        Assert.Equal(expectedBody, IptablesSyntax.FormatBody(matches, target!));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("-p tcp --dport 22", "no target")]
    [InlineData("-A INPUT -p tcp -j ACCEPT", "chain comes from")]
    [InlineData("-t nat -j ACCEPT", "command")]
    [InlineData("--dport 22 -j ACCEPT", "-p tcp")]
    [InlineData("-p tcp --dport ssh -j ACCEPT", "not a port")]
    [InlineData("-p tcp --dport 70000 -j ACCEPT", "not a port")]
    [InlineData("-p tcp --dport 22 --dport 23 -j ACCEPT", "twice")]
    [InlineData("-s example.com -j DROP", "not an IPv4")]
    [InlineData("-s 10.0.0.1,10.0.0.2 -j DROP", "not an IPv4")]
    [InlineData("-m recent --name x -j DROP", "unsupported match module 'recent'")]
    [InlineData("-m comment --comment hi -j DROP", "comment")]
    [InlineData("-j CONNMARK --set-mark 1", "unsupported target CONNMARK")]
    [InlineData("-j ACCEPT --foo", "unsupported option '--foo'")]
    [InlineData("-j LOG --log-prefix \"a\\\"b\"", "log-prefix")]
    [InlineData("-j LOG --log-prefix 012345678901234567890123456789", "longer than 29")]
    [InlineData("-j DNAT --to-destination 1.2.3.4:80", "needs -p tcp")]
    [InlineData("-j DNAT --to-destination 1.2.3.4-1.2.3.9", "not IP or IP:PORT")]
    [InlineData("-j REJECT --reject-with tcp-reset", "needs -p tcp")]
    [InlineData("-j REJECT --reject-with icmp-host-prohibited", "not supported")]
    [InlineData("-i eth0/x -j DROP", "not an interface name")]
    [InlineData("-i averyveryverylongname -j DROP", "not an interface name")]
    [InlineData("-j ACCEPT; rm -rf /", "not part of iptables syntax")]
    [InlineData("-j ACCEPT\n-j DROP", "control character")]
    [InlineData("-j LOG --log-prefix \"x", "unterminated")]
    [InlineData("-p tcp ! --dport 0:65535 -j DROP", "matches no packet")]
    [InlineData("-m statistic --mode nth --every 3 -j DROP", "needs --packet")]
    [InlineData("-m statistic --mode nth --every 3 --packet 3 -j DROP", "--packet")]
    [InlineData("-m statistic --mode random --probability 2 -j DROP", "between 0 and 1")]
    [InlineData("-m statistic --mode random --probability NaN -j DROP", "between 0 and 1")]
    [InlineData("-m statistic --mode random --probability Infinity -j DROP", "between 0 and 1")]
    [InlineData("-p tcp -m multiport --dports 1:5 -j DROP", "ranges")]
    [InlineData("-p tcp -m multiport --ports 5 -j DROP", "--ports")]
    [InlineData("-p icmp --icmp-type 3/1 -j DROP", "not supported")]
    [InlineData("-m mark --mark 010 -j DROP", "not VALUE")]
    [InlineData("-j ACCEPT -j DROP", "two targets")]
    [InlineData("-j INPUT", "built-in chain")]
    [InlineData("-j A_CHAIN_NAME_LONGER_THAN_28_CHARS", "not a chain name")]
    [InlineData("-m conntrack -j ACCEPT", "needs --ctstate")]
    [InlineData("-m conntrack --ctstate FOO -j ACCEPT", "not a state")]
    [InlineData("-s ! 10.0.0.1 -j DROP", "needs a value")]
    [InlineData("--ctstate NEW -j ACCEPT", "belongs to -m conntrack")]
    [InlineData("-p gre -j ACCEPT", "unsupported protocol")]
    [InlineData("-f -j DROP", "fragment")]
    public void TryParse_rejects_with_a_clear_message(string text, string fragment)
    {
        Assert.False(IptablesSyntax.TryParse(text, out var matches, out var target, out var error));
        Assert.Contains(fragment, error, StringComparison.Ordinal);
        Assert.True(matches.IsEmpty);
        Assert.Null(target);
    }

    [Fact]
    public void Format_parse_Format_is_stable()
    {
        IptablesRuleGen.Rule.Sample(placed =>
        {
            var body = IptablesSyntax.FormatBody(placed.Rule.Matches, placed.Rule.Target);
            Assert.True(IptablesSyntax.TryParse(body, out var matches, out var target, out var error), body + " => " + error);
            Assert.Equal(body, IptablesSyntax.FormatBody(matches, target!));
        }, iter: 20_000);
    }

    private static readonly string[] Vocabulary =
    {
        "!", "-p", "tcp", "udp", "sctp", "icmp", "all", "-s", "-d", "10.0.0.1", "10.0.0.0/8", "-i", "-o", "eth0", "eth+", "-m",
        "--dport", "--sport", "22", "1:5", ":7", "8:", "--dports", "--sports", "1,2,3", "multiport", "conntrack", "--ctstate",
        "NEW,ESTABLISHED", "mark", "--mark", "0x100/0xff", "addrtype", "--src-type", "--dst-type", "LOCAL", "statistic",
        "--mode", "random", "nth", "--probability", "0.5", "--every", "3", "--packet", "1", "ipvs", "--ipvs", "--icmp-type",
        "any", "8", "-j", "-g", "ACCEPT", "DROP", "REJECT", "--reject-with", "tcp-reset", "DNAT", "SNAT", "--to", "1.2.3.4:80",
        "MASQUERADE", "REDIRECT", "--to-ports", "MARK", "--set-mark", "--set-xmark", "LOG", "--log-prefix", "\"a b\"", "TRACE",
        "CHAIN", "'", "\"", "\\", "-A", "--", "-",
    };

    [Fact]
    public void TryParse_never_throws_and_what_it_accepts_formats_stably()
    {
        var soup = Gen.OneOf(Gen.OneOfConst(Vocabulary), Gen.String).Array[0, 14].Select(ts => string.Join(" ", ts));
        soup.Sample(text =>
        {
            if (!IptablesSyntax.TryParse(text, out var m, out var t, out var error))
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
                return;
            }
            var body = IptablesSyntax.FormatBody(m, t!);
            Assert.True(IptablesSyntax.TryParse(body, out var m2, out var t2, out var e2), body + " => " + e2);
            Assert.Equal(body, IptablesSyntax.FormatBody(m2, t2!));
        }, iter: 50_000);
    }
}
