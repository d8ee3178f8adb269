using System.Linq;
using CsCheck;
using SwarmDsl.Lowering;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Lowering;

/// <summary>The small pieces lowering is built from: names, nftables slot order, the raw-rule parser.</summary>
public class LoweringPartsTests
{
    [Theory]
    [InlineData("", 0x811c9dc5u)]
    [InlineData("a", 0xe40c292cu)]
    [InlineData("foobar", 0xbf9cf968u)]
    public void Fnv1a_matches_the_reference_vectors(string text, uint hash) => Assert.Equal(hash, InterfaceNames.Fnv1a(text));

    [Fact]
    public void Host_veth_is_veth_and_seven_hex_of_the_hash()
    {
        Assert.Equal("veth" + (InterfaceNames.Fnv1a("manager/ingress_sbox/eth1") & 0xFFFFFFF).ToString("x7"), InterfaceNames.HostVeth("manager", "ingress_sbox", "eth1"));
        Assert.NotEqual(InterfaceNames.HostVeth("manager", "ingress_sbox", "eth1"), InterfaceNames.HostVeth("worker", "ingress_sbox", "eth1"));
    }

    [Fact]
    public void Bridge_names_are_shortened_deterministically_to_fifteen_characters()
    {
        Assert.Equal("br-mgmt", InterfaceNames.Bridge("mgmt"));
        Assert.Equal("br-twelve_chars", InterfaceNames.Bridge("twelve_chars"));
        var longName = InterfaceNames.Bridge("a-very-long-bridge-network-name");
        Assert.Equal(15, longName.Length);
        Assert.StartsWith("br-a-ve-", longName);
        Assert.Equal(longName, InterfaceNames.Bridge("a-very-long-bridge-network-name"));
        Assert.NotEqual(longName, InterfaceNames.Bridge("a-very-long-bridge-network-namf"));
        Assert.Equal("docker_gwbridge", SwarmLowering.BridgeDevice("docker_gwbridge"));
        Gen.String[Gen.Char['a', 'z'], 1, 32].Sample(n => InterfaceNames.Bridge(n).Length <= InterfaceNames.MaxLength);
    }

    [Theory]
    [InlineData(Scheduler.Wrr, new[] { 3, 1 }, new[] { 0, 0, 0, 1 })]
    [InlineData(Scheduler.Wrr, new[] { 4, 2 }, new[] { 0, 0, 1 })]
    [InlineData(Scheduler.Wrr, new[] { 2, 2, 1 }, new[] { 0, 1, 0, 1, 2 })]
    [InlineData(Scheduler.Wlc, new[] { 1, 0, 2 }, new[] { 2, 0, 2 })]
    [InlineData(Scheduler.Rr, new[] { 5, 1, 0 }, new[] { 0, 1 })]
    [InlineData(Scheduler.Lc, new[] { 2, 2 }, new[] { 0, 1 })]
    [InlineData(Scheduler.Sh, new[] { 3, 1 }, new[] { 0, 1 })]
    [InlineData(Scheduler.Dh, new[] { 0, 0 }, new int[0])]
    public void Nft_slots_replay_the_ipvs_scheduler(Scheduler scheduler, int[] weights, int[] order)
        => Assert.Equal(order, NftSlots.Order(scheduler, weights));

    [Fact]
    public void Wrr_slots_give_each_destination_its_share()
    {
        Gen.Int[0, 20].Array[1, 6].Sample(weights =>
        {
            var order = NftSlots.Order(Scheduler.Wrr, weights);
            var live = weights.Where(w => w > 0).ToArray();
            if (live.Length == 0) return order.Count == 0;
            int gcd = live.Aggregate((a, b) => { while (b != 0) (a, b) = (b, a % b); return a; });
            return Enumerable.Range(0, weights.Length).All(i => order.Count(x => x == i) == weights[i] / gcd);
        });
    }

    [Fact]
    public void Picks_follow_the_scheduler()
    {
        Assert.Equal(NftPick.SourceHash, NftSlots.PickFor(Scheduler.Sh));
        Assert.Equal(NftPick.DestinationHash, NftSlots.PickFor(Scheduler.Dh));
        Assert.All(new[] { Scheduler.Rr, Scheduler.Wrr, Scheduler.Lc, Scheduler.Wlc }, s => Assert.Equal(NftPick.NumgenIncrement, NftSlots.PickFor(s)));
    }

    [Fact]
    public void Rule_text_parses_the_supported_subset()
    {
        Assert.True(RuleText.TryParse("! -s 10.0.0.0/8 -i eth0 -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW,RELATED -j REJECT --reject-with tcp-reset",
            out var m, out var t, out var e), e);
        Assert.Equal(new RuleMatch[]
        {
            new AddressMatch(Direction.Source, Ipv4Cidr.Parse("10.0.0.0/8"), true), new InterfaceMatch(true, "eth0"), new ProtocolMatch(IpProtocol.Tcp),
            new MultiportMatch(Direction.Destination, Collections.EquatableArray.Create(80, 443)), new ConntrackMatch(CtState.New | CtState.Related),
        }, m);
        Assert.Equal(new RejectTarget(true), t);

        Assert.True(RuleText.TryParse("-d 10.0.0.5 -p udp -m udp ! --sport 1000:2000 -j DNAT --to-destination 10.0.0.6:53", out m, out t, out e), e);
        Assert.Equal(new AddressMatch(Direction.Destination, Ipv4Cidr.Parse("10.0.0.5/32")), m[0]);
        Assert.Equal(new PortMatch(IpProtocol.Udp, Direction.Source, 1000, 2000, true), m[2]);
        Assert.Equal(new DnatTarget(Ipv4Address.Parse("10.0.0.6"), 53), t);

        Assert.True(RuleText.TryParse("-m mark --mark 0x100/0xff00 -m statistic --mode nth --every 3 --packet 1 -g MY-CHAIN", out m, out t, out e), e);
        Assert.Equal(new RuleMatch[] { new MarkMatch(0x100, 0xff00), new StatisticMatch(false, 0, 3, 1) }, m);
        Assert.Equal(new GotoTarget("MY-CHAIN"), t);

        Assert.True(RuleText.TryParse("-p icmp --icmp-type echo-request -j LOG --log-prefix \"icmp in\"", out m, out t, out e), e);
        Assert.Equal(new IcmpTypeMatch(8), m[1]);
        Assert.Equal(new LogTarget("icmp in"), t);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("-j SNAT", "--to-source")]
    [InlineData("-j ACCEPT -j DROP", "one target")]
    [InlineData("-s 10.0.0.300 -j ACCEPT", "not an IPv4")]
    [InlineData("-i this-name-is-too-long -j ACCEPT", "interface name")]
    [InlineData("-p tcp --dport 0 -j ACCEPT", "not a port")]
    [InlineData("-j LOG --log-prefix \"open", "not closed")]
    [InlineData("-j ACCEPT -s 10.0.0.1", "after the target")]
    [InlineData("-j 'x'", "not a target or chain")]
    public void Rule_text_reports_what_is_wrong(string text, string message)
    {
        Assert.False(RuleText.TryParse(text, out _, out _, out var error));
        Assert.Contains(message, error);
    }
}
