using System.Linq;
using CsCheck;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Lowering;

/// <summary>The small pieces lowering is built from: interface names and the nftables slot order.</summary>
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
}
