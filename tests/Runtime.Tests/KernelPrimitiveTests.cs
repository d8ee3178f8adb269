using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using CsCheck;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Hashing;
using SwarmDsl.Runtime.Ipvs;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Routing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests;

/// <summary>Each primitive against the kernel function it reproduces.</summary>
public class KernelPrimitiveTests
{
    private static IpvsService Service(Scheduler scheduler, params int[] weights)
        => new(P.Ipvs(256, "10.0.0.100", scheduler, weights.Select((w, i) => ("10.0.0." + (i + 1), w, ((char)('A' + i)).ToString())).ToArray()));

    private static string Sequence(IpvsService s, int n, Func<int, Ipv4Address>? source = null)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            int d = s.Scheduler.Schedule(s, source?.Invoke(i) ?? Ipv4Address.Parse("10.9.0.1"), s.Plan.Vip);
            sb.Append(d < 0 ? "-" : s.Destinations[d].Task);
        }
        return sb.ToString();
    }

    private static IpvsDestination Dest(IpvsService s, string task) => s.Destinations.Single(d => d.Task == task);
    private static int Index(IpvsService s, string task) => Array.FindIndex(s.Destinations, d => d.Task == task);

    [Fact]
    public void Destinations_are_linked_at_the_head_as___ip_vs_update_dest_does()
    {
        // __ip_vs_update_dest: list_add_rcu(&dest->n_list, &svc->destinations) — ipvsadm adding A, B, C leaves C B A.
        var s = Service(Scheduler.Rr, 1, 1, 1);
        Assert.Equal("CBA", string.Concat(s.Destinations.Select(d => d.Task)));
    }

    [Fact]
    public void Wrr_weights_3_2_1_follow_ip_vs_wrr_schedule()
    {
        // net/netfilter/ipvs/ip_vs_wrr.c over the list C(1) B(2) A(3) (head insertion). Each add_dest runs
        // ip_vs_wrr_dest_changed: after A alone di = 3, mw = 3 - (3 - 1) = 1 and cw = mw = 1; after B and C di = 1,
        // mw = 3, and cw stays 1 (it is neither 0 nor above mw). So the first pass takes every weight ≥ 1: C B A.
        // From then on ip_vs_wrr_schedule restarts at cw = mw = 3 and lowers it by di each pass: cw = 3 → {A},
        // cw = 2 → {B, A}, cw = 1 → {C, B, A}: the cycle is A B A C B A, 3:2:1 per cycle.
        var s = Service(Scheduler.Wrr, 3, 2, 1);
        Assert.Equal("CBA" + "ABACBA" + "ABACBA" + "ABACBA", Sequence(s, 21));
    }

    [Fact]
    public void Wrr_with_a_common_divisor_steps_by_the_gcd()
    {
        // weights 4, 2 (list B A): after A alone di = 4, mw = 1, cw = 1; adding B gives di = 2, mw = 4 - (2 - 1) = 3
        // and, since di > 1, cw = (1 / 2) * 2 + 1 = 1. First pass (cw = 1): B A. Then cw = 3 → {A}, cw = 1 → {B, A}:
        // A B A (2:1).
        var s = Service(Scheduler.Wrr, 4, 2);
        Assert.Equal("BA" + "ABA" + "ABA" + "ABA", Sequence(s, 11));
    }

    [Fact]
    public void Wrr_skips_quiesced_destinations_and_fails_when_all_are_zero()
    {
        // List C(1) B(0) A(2). B never reaches cw ≥ 1. Start: cw = 1 → C A; then cw = 2 → {A}, cw = 1 → {C, A}: A C A.
        var s = Service(Scheduler.Wrr, 2, 0, 1);
        Assert.Equal("CA" + "ACA" + "ACA", Sequence(s, 8));
        s.SetWeight(Index(s, "A"), 0);
        s.SetWeight(Index(s, "C"), 0);
        Assert.Equal("---", Sequence(s, 3)); // ip_vs_wrr_schedule: mw == 0 → no destination
    }

    [Fact]
    public void Rr_cycles_and_skips_weight_zero()
    {
        // ip_vs_rr.c: from the list head (C B A), the next destination after the previous choice with weight > 0.
        var s = Service(Scheduler.Rr, 1, 0, 5);
        Assert.Equal("CACACA", Sequence(s, 6));
    }

    [Fact]
    public void Lc_picks_least_activeconns_times_256_plus_inactconns()
    {
        // ip_vs_lc.c with ip_vs_dest_conn_overhead = activeconns << 8 + inactconns; ties go to the first in the list.
        var s = Service(Scheduler.Lc, 1, 1, 1);
        SetConns(Dest(s, "A"), active: 1, inactive: 0);   // 256
        SetConns(Dest(s, "B"), active: 0, inactive: 300); // 300
        SetConns(Dest(s, "C"), active: 0, inactive: 255); // 255
        Assert.Equal("C", Sequence(s, 1));
        SetConns(Dest(s, "C"), active: 1, inactive: 0);   // tie 256 between C and A → C (first in the list C B A)
        Assert.Equal("C", Sequence(s, 1));
        s.SetWeight(Index(s, "C"), 0);                    // weight 0 is skipped
        Assert.Equal("A", Sequence(s, 1));
        // The trace's words are the overheads compared, not counting the connection then bound to the destination.
        s.Scheduler.Schedule(s, default, default);
        SetConns(Dest(s, "A"), active: 1, inactive: 1);
        Assert.Equal("lc: least overhead 256 = 1 active × 256 + 0 inactive", s.Scheduler.Explain(s));
    }

    [Fact]
    public void Wlc_compares_overhead_times_weight()
    {
        // ip_vs_wlc.c: least = first with weight > 0 (list B A); replace when loh * w(dest) > doh * w(least).
        var s = Service(Scheduler.Wlc, 1, 3);
        SetConns(Dest(s, "A"), active: 1, inactive: 0); // 256 / 1
        SetConns(Dest(s, "B"), active: 3, inactive: 1); // 769 / 3; least = B; A: 769 * 1 > 256 * 3 = 768 → A
        Assert.Equal("A", Sequence(s, 1));
        SetConns(Dest(s, "B"), active: 2, inactive: 0); // 512 / 3: 512 * 1 > 256 * 3 is false → B stays
        Assert.Equal("B", Sequence(s, 1));
    }

    private static void SetConns(IpvsDestination d, int active, int inactive)
    {
        typeof(IpvsDestination).GetProperty(nameof(IpvsDestination.ActiveConnections))!.SetValue(d, active);
        typeof(IpvsDestination).GetProperty(nameof(IpvsDestination.InactiveConnections))!.SetValue(d, inactive);
    }

    [Fact]
    public void Sh_buckets_repeat_destinations_by_weight_and_hash_the_source_with_hash_32()
    {
        // ip_vs_sh.c ip_vs_sh_reassign: walking the list (B(1) A(2)), each destination fills `weight` consecutive
        // buckets, round the list, 256 buckets.
        var s = Service(Scheduler.Sh, 2, 1);
        var sh = (SourceHashScheduler)s.Scheduler;
        Assert.Equal("BAABAA", string.Concat(sh.Buckets.Slice(0, 6).ToArray().Select(i => s.Destinations[i].Task)));
        Assert.Equal(256, sh.Buckets.Length);
        // ip_vs_sh_hashkey = hash_32(ntohl(addr) + port(0), IP_VS_SH_TAB_BITS = 8) = (addr * 0x61C88647) >> 24.
        var src = Ipv4Address.Parse("10.7.191.254");
        uint bucket = unchecked(src.Value * 0x61C88647u) >> 24;
        Assert.Equal((int)bucket, HashScheduler.Bucket(src));
        Assert.Equal(sh.Buckets[(int)bucket], s.Scheduler.Schedule(s, src, s.Plan.Vip));
        // The same source always lands on the same destination.
        for (int i = 0; i < 5; i++) Assert.Equal(sh.Buckets[(int)bucket], s.Scheduler.Schedule(s, src, s.Plan.Vip));
    }

    [Fact]
    public void Dh_buckets_ignore_weights_and_hash_the_destination()
    {
        // ip_vs_dh.c ip_vs_dh_reassign: one bucket per destination in list order (B A); ip_vs_dh_hashkey = hash_32(ntohl(daddr), 8).
        var s = Service(Scheduler.Dh, 5, 1);
        var dh = (DestinationHashScheduler)s.Scheduler;
        Assert.Equal("BABA", string.Concat(dh.Buckets.Slice(0, 4).ToArray().Select(i => s.Destinations[i].Task)));
        var dst = Ipv4Address.Parse("10.0.0.100");
        Assert.Equal(dh.Buckets[HashScheduler.Bucket(dst)], s.Scheduler.Schedule(s, Ipv4Address.Parse("1.2.3.4"), dst));
    }

    [Fact]
    public void Hash_32_matches_the_golden_ratio_definition()
    {
        // include/linux/hash.h: hash_32(val, bits) = (val * GOLDEN_RATIO_32) >> (32 - bits).
        Assert.Equal(0x61u, KernelHash.Hash32(1, 8));
        Assert.Equal(0u, KernelHash.Hash32(0, 8));
        Assert.Equal((uint)((2u * 0x61C88647u) >> 20), KernelHash.Hash32(2, 12));
    }

    [Fact]
    public void Jhash_matches_lookup3_reference_vectors()
    {
        // include/linux/jhash.h jhash() is Bob Jenkins' lookup3 hashlittle(); lookup3.c driver5() prints these values.
        Assert.Equal(0xdeadbeefu, KernelHash.Jhash(ReadOnlySpan<byte>.Empty, 0));
        var text = Encoding.ASCII.GetBytes("Four score and seven years ago");
        Assert.Equal(0x17770551u, KernelHash.Jhash(text, 0));
        Assert.Equal(0xcd628161u, KernelHash.Jhash(text, 1));
    }

    [Fact]
    public void Reciprocal_scale_maps_into_the_range()
    {
        Assert.Equal(0u, KernelHash.ReciprocalScale(0, 3));
        Assert.Equal(2u, KernelHash.ReciprocalScale(uint.MaxValue, 3));
        Gen.UInt.Sample(v => KernelHash.ReciprocalScale(v, 7) < 7);
    }

    [Fact]
    public void Vxlan_source_port_stays_in_the_local_port_range()
    {
        // include/net/udp.h udp_flow_src_port: ((u64)(hash ^ hash << 16) * (max - min) >> 32) + min, range 32768–60999.
        Gen.UInt.Sample(h =>
        {
            int p = VxlanCodec.SourcePort(h);
            return p >= 32768 && p < 60999;
        });
        Assert.Equal(32768, VxlanCodec.SourcePort(0));
        Assert.Equal(60998, VxlanCodec.SourcePort(0x0000FFFFu)); // hash ^ hash << 16 = 0xFFFFFFFF: the top of the range
    }

    [Fact]
    public void Vxlan_header_carries_the_vni_after_the_I_flag()
    {
        // RFC 7348 §5: VNI 4096 = 0x001000 → 08 00 00 00 00 10 00 00.
        var b = new byte[8];
        VxlanCodec.WriteHeader(b, 4096);
        Assert.Equal(new byte[] { 0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0 }, b);
        Assert.True(VxlanCodec.TryReadHeader(b, out var vni));
        Assert.Equal(4096, vni);
        Assert.Equal(50, VxlanCodec.Overhead);
    }

    [Fact]
    public void Frames_round_trip_with_valid_checksums()
    {
        var gen = from proto in Gen.OneOfConst(IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Icmp, IpProtocol.Sctp)
                  from src in Gen.UInt
                  from dst in Gen.UInt
                  from sp in Gen.UShort
                  from dp in Gen.UShort
                  from payload in Gen.Int[0, 1400]
                  from ttl in Gen.Byte[1, 255]
                  from seq in Gen.UInt
                  select new PacketHeaders
                  {
                      Protocol = proto, Source = new Ipv4Address(src), Destination = new Ipv4Address(dst), SourcePort = sp,
                      DestinationPort = proto == IpProtocol.Icmp ? sp : dp, Ttl = ttl, Seq = seq, PayloadLength = payload,
                      Flags = TcpFlags.Ack, IcmpType = IcmpTypes.EchoRequest, DontFragment = true, Id = sp,
                      EthSource = new MacAddress(0x020000000001), EthDestination = new MacAddress(0x020000000002),
                  };
        gen.Sample(h =>
        {
            var p = new Packet { Headers = h };
            var bytes = new byte[FrameCodec.Length(p)];
            int n = FrameCodec.Write(p, bytes);
            if (n != bytes.Length || !FrameCodec.TryRead(bytes, out var back, out var ok, out _, 0)) return false;
            return ok && back.Source == h.Source && back.Destination == h.Destination && back.Protocol == h.Protocol && back.Ttl == h.Ttl
                && back.TotalLength == h.TotalLength && (h.Protocol == IpProtocol.Icmp || (back.SourcePort == h.SourcePort && back.DestinationPort == h.DestinationPort));
        });
    }

    [Fact]
    public void Vxlan_frames_are_50_bytes_longer_and_checksummed()
    {
        var inner = new PacketHeaders { Protocol = IpProtocol.Tcp, Source = Ipv4Address.Parse("10.255.0.2"), Destination = Ipv4Address.Parse("10.255.0.6"),
            SourcePort = 40000, DestinationPort = 8080, Ttl = 62, Flags = TcpFlags.Syn };
        var outer = new PacketHeaders { Protocol = IpProtocol.Udp, Source = Ipv4Address.Parse("10.7.191.10"), Destination = Ipv4Address.Parse("10.7.191.9"),
            SourcePort = 50000, DestinationPort = 4789, Ttl = 64, PayloadLength = 8 + inner.FrameLength };
        var p = new Packet { Headers = outer, Inner = inner, Encapsulated = true, Vni = 4096 };
        var bytes = new byte[FrameCodec.Length(p)];
        FrameCodec.Write(p, bytes);
        Assert.Equal(inner.FrameLength + 50, bytes.Length);
        Assert.True(FrameCodec.TryRead(bytes, out var o, out var ok, out var vx));
        Assert.True(ok);
        Assert.True(VxlanCodec.TryReadHeader(vx, out var vni));
        Assert.Equal(4096, vni);
        Assert.True(FrameCodec.TryRead(vx.Slice(8), out var i, out var innerOk, out _));
        Assert.True(innerOk);
        Assert.Equal(inner.Destination, i.Destination);
    }

    [Fact]
    public void Crc32c_matches_the_check_value_and_an_sctp_frame_carries_a_data_chunk()
    {
        // The CRC-32C check value (RFC 3720 B.4's catalogue): "123456789" → 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32c.Compute(System.Text.Encoding.ASCII.GetBytes("123456789")));
        var h = new PacketHeaders { Protocol = IpProtocol.Sctp, Source = Ipv4Address.Parse("10.0.9.254"), Destination = Ipv4Address.Parse("10.0.9.1"),
            SourcePort = 40000, DestinationPort = 3868, Ttl = 64, PayloadLength = 32 };
        var bytes = new byte[FrameCodec.Length(new Packet { Headers = h })];
        FrameCodec.Write(new Packet { Headers = h }, bytes);
        var sctp = bytes.AsSpan(14 + 20);
        // DATA (type 0), B|E, chunk length 32: the whole payload is one chunk.
        Assert.Equal(new byte[] { 0, 0x03, 0, 32 }, sctp.Slice(12, 4).ToArray());
        Assert.True(FrameCodec.TryRead(bytes, out _, out var ok, out _, 0));
        Assert.True(ok);
        bytes[^1] ^= 1;
        Assert.True(FrameCodec.TryRead(bytes, out _, out ok, out _, 0));
        Assert.False(ok);
    }

    [Fact]
    public void Ip_header_checksum_matches_rfc1071_example()
    {
        // A well-known IPv4 header (RFC 1071 style worked example): checksum 0xB861.
        var hdr = new byte[] { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
        Assert.Equal(0xB861, InternetChecksum.Compute(hdr));
    }

    [Fact]
    public void Prefix_trie_does_longest_prefix_match()
    {
        var t = new PrefixTrie<string>();
        t.Add(Ipv4Cidr.Parse("0.0.0.0/0"), "default");
        t.Add(Ipv4Cidr.Parse("10.0.0.0/8"), "ten");
        t.Add(Ipv4Cidr.Parse("10.255.0.0/16"), "overlay");
        t.Add(Ipv4Cidr.Parse("10.255.0.4/32"), "vip");
        Assert.False(t.Add(Ipv4Cidr.Parse("10.0.0.0/8"), "again")); // the first route of a prefix wins
        Assert.True(t.TryLookup(Ipv4Address.Parse("10.255.0.4"), out var v, out var len)); Assert.Equal(("vip", 32), (v, len));
        Assert.True(t.TryLookup(Ipv4Address.Parse("10.255.0.5"), out v, out len)); Assert.Equal(("overlay", 16), (v, len));
        Assert.True(t.TryLookup(Ipv4Address.Parse("10.1.2.3"), out v, out len)); Assert.Equal(("ten", 8), (v, len));
        Assert.True(t.TryLookup(Ipv4Address.Parse("8.8.8.8"), out v, out len)); Assert.Equal(("default", 0), (v, len));
        var noDefault = new PrefixTrie<int>();
        noDefault.Add(Ipv4Cidr.Parse("192.168.0.0/16"), 1);
        Assert.False(noDefault.TryLookup(Ipv4Address.Parse("8.8.8.8"), out _, out _));
    }

    [Fact]
    public void Prefix_trie_agrees_with_a_linear_scan()
    {
        var gen = Gen.Select(Gen.UInt, Gen.Int[0, 32]).Array[1, 30];
        Gen.Select(gen, Gen.UInt.Array[20]).Sample((prefixes, probes) =>
        {
            var t = new PrefixTrie<int>();
            var list = new List<(Ipv4Cidr, int)>();
            for (int i = 0; i < prefixes.Length; i++)
            {
                var c = new Ipv4Cidr(new Ipv4Address(prefixes[i].Item1), prefixes[i].Item2).Subnet;
                if (t.Add(c, i)) list.Add((c, i));
            }
            foreach (var a in probes)
            {
                var addr = new Ipv4Address(a);
                var best = list.Where(x => x.Item1.Contains(addr)).OrderByDescending(x => x.Item1.PrefixLength).Select(x => (int?)x.Item2).FirstOrDefault();
                bool found = t.TryLookup(addr, out var v, out _);
                if (found != best.HasValue || (found && v != best)) return false;
            }
            return true;
        });
    }

    [Fact]
    public void Vxlan_snoop_learns_migrates_and_refuses_what_the_kernel_drops()
    {
        // drivers/net/vxlan/vxlan_core.c vxlan_snoop: learn a new MAC, migrate a learned one to the new remote, drop frames
        // from an invalid source MAC or from another VTEP than a static entry's.
        var fdb = new VxlanFdb();
        var a = Ipv4Address.FromBytes(10, 0, 0, 1);
        var b = Ipv4Address.FromBytes(10, 0, 0, 2);
        var learned = new MacAddress(0x0242_0aff_0005);
        Assert.True(fdb.Learn(learned, a, now: 0));
        Assert.True(fdb.Learn(learned, b, now: 10));
        Assert.True(fdb.TryLookup(learned, 20, out var e));
        Assert.Equal((b, false), (e.RemoteVtep, e.Static));
        var pinned = new MacAddress(0x0242_0aff_0006);
        fdb.AddStatic(pinned, a);
        Assert.True(fdb.Learn(pinned, a, now: 30));
        Assert.False(fdb.Learn(pinned, b, now: 30));
        Assert.True(fdb.TryLookup(pinned, 40, out e));
        Assert.Equal((a, true), (e.RemoteVtep, e.Static));
        Assert.False(fdb.Learn(new MacAddress(0x0100_5e00_0001), a, now: 50)); // multicast
        Assert.False(fdb.Learn(MacAddress.Zero, a, now: 50));
        Assert.Equal(2, fdb.Count);
    }

    [Fact]
    public void Bridge_fdb_learns_ages_and_never_overrides_permanent_entries()
    {
        // net/bridge/br_fdb.c: br_fdb_update learns on ingress; has_expired() after ageing_time (300 s); static/local stay.
        var fdb = new BridgeFdb();
        var mac = new MacAddress(0x0242_0aff_0005);
        Assert.True(fdb.Learn(mac, 3, now: 0));
        Assert.True(fdb.TryLookup(mac, 299_999, out var e));
        Assert.Equal((3, FdbEntryKind.Learned), (e.Port, e.Kind));
        Assert.True(fdb.Learn(mac, 4, now: 100_000)); // moved port, refreshed
        Assert.True(fdb.TryLookup(mac, 399_000, out e));
        Assert.Equal(4, e.Port);
        Assert.False(fdb.TryLookup(mac, 400_001, out _)); // aged out
        var own = new MacAddress(0x02aa_bbcc_ddee);
        fdb.AddPermanent(own, 1, FdbEntryKind.Local);
        Assert.False(fdb.Learn(own, 5, 0));
        Assert.True(fdb.TryLookup(own, long.MaxValue / 2, out e));
        Assert.Equal((1, FdbEntryKind.Local), (e.Port, e.Kind));
        Assert.False(fdb.Learn(MacAddress.Broadcast, 2, 0)); // group addresses are never learned
    }

    [Fact]
    public void Conntrack_hashes_both_directions_only_after_confirm()
    {
        var t = new ConntrackTable();
        var tuple = new ConnTuple(IpProtocol.Tcp, Ipv4Address.Parse("10.0.0.1"), 40000, Ipv4Address.Parse("10.0.0.2"), 80);
        int e = t.Create(tuple);
        Assert.False(t.TryLookup(tuple, out _, out _)); // unconfirmed entries are not in the hash
        t.AlterReply(e, new ConnTuple(IpProtocol.Tcp, Ipv4Address.Parse("172.18.0.2"), 8080, Ipv4Address.Parse("10.0.0.1"), 40000));
        Assert.True(t.Confirm(e));
        Assert.True(t.TryLookup(tuple, out var i, out var dir));
        Assert.Equal((e, CtDirection.Original), (i, dir));
        Assert.True(t.TryLookup(new ConnTuple(IpProtocol.Tcp, Ipv4Address.Parse("172.18.0.2"), 8080, Ipv4Address.Parse("10.0.0.1"), 40000), out i, out dir));
        Assert.Equal(CtDirection.Reply, dir);
        Assert.Throws<InvalidOperationException>(() => t.AlterReply(e, tuple));
        int clash = t.Create(tuple);
        Assert.False(t.Confirm(clash)); // __nf_conntrack_confirm refuses a duplicate tuple
        t.Destroy(e);
        Assert.False(t.TryLookup(tuple, out _, out _));
    }
    /// <summary>
    /// nf_conntrack_proto_sctp.c's table for an association's start: INIT makes a CLOSED entry (verification tag 0 only),
    /// INIT ACK in reply → COOKIE_WAIT, COOKIE ECHO → COOKIE_ECHOED, COOKIE ACK in reply → ESTABLISHED; DATA starts nothing
    /// and changes nothing; a reply chunk without an entry is invalid.
    /// </summary>
    [Fact]
    public void Sctp_conntrack_follows_the_kernels_transitions()
    {
        Assert.False(SctpConntrack.TryNew(SwarmDsl.Runtime.Packets.SctpChunk.Data, 0x1234, out _));
        Assert.False(SctpConntrack.TryNew(SwarmDsl.Runtime.Packets.SctpChunk.Init, 0x1234, out _));
        Assert.False(SctpConntrack.TryNew(SwarmDsl.Runtime.Packets.SctpChunk.CookieAck, 0x1234, out _));
        Assert.True(SctpConntrack.TryNew(SwarmDsl.Runtime.Packets.SctpChunk.Init, 0, out var s) && s == CtSctpState.Closed);
        CtSctpState Next(CtSctpState from, CtDirection d, SwarmDsl.Runtime.Packets.SctpChunk c) { Assert.True(SctpConntrack.TryNext(from, d, c, out var n)); return n; }
        s = Next(s, CtDirection.Reply, SwarmDsl.Runtime.Packets.SctpChunk.InitAck);
        Assert.Equal(CtSctpState.CookieWait, s);
        Assert.Equal(CtSctpState.CookieWait, Next(s, CtDirection.Original, SwarmDsl.Runtime.Packets.SctpChunk.Data));
        s = Next(s, CtDirection.Original, SwarmDsl.Runtime.Packets.SctpChunk.CookieEcho);
        Assert.Equal(CtSctpState.CookieEchoed, s);
        s = Next(s, CtDirection.Reply, SwarmDsl.Runtime.Packets.SctpChunk.CookieAck);
        Assert.Equal(CtSctpState.Established, s);
        Assert.Equal(CtSctpState.Closed, Next(s, CtDirection.Reply, SwarmDsl.Runtime.Packets.SctpChunk.Abort));
        Assert.False(SctpConntrack.TryNext(CtSctpState.None, CtDirection.Reply, SwarmDsl.Runtime.Packets.SctpChunk.InitAck, out _));
        Assert.Equal((10, 3, 3, 210), (SctpConntrack.TimeoutSeconds(CtSctpState.Closed), SctpConntrack.TimeoutSeconds(CtSctpState.CookieWait),
            SctpConntrack.TimeoutSeconds(CtSctpState.CookieEchoed), SctpConntrack.TimeoutSeconds(CtSctpState.Established)));
    }

    /// <summary>ip_vs_proto_sctp.c's sctp_states for a Masq connection's start, and an INIT refused by ABORT.</summary>
    [Fact]
    public void Ipvs_sctp_states_follow_the_kernels_table()
    {
        var s = SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.None, 0, SwarmDsl.Runtime.Packets.SctpChunk.Init);
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpInit1, s);
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpInit, SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(s, 0, SwarmDsl.Runtime.Packets.SctpChunk.Init)); // a retransmitted INIT
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpRejected, SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(s, 1, SwarmDsl.Runtime.Packets.SctpChunk.Abort));
        s = SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(s, 1, SwarmDsl.Runtime.Packets.SctpChunk.InitAck);
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpCookieSent, s);
        s = SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(s, 0, SwarmDsl.Runtime.Packets.SctpChunk.CookieEcho);
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpCookieReplied, s);
        s = SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(s, 1, SwarmDsl.Runtime.Packets.SctpChunk.CookieAck);
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpEstablished, s);
        Assert.Equal((4, 61, 900), (SwarmDsl.Runtime.Ipvs.IpvsConnection.TimeoutSeconds(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpInit1),
            SwarmDsl.Runtime.Ipvs.IpvsConnection.TimeoutSeconds(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpCookieSent), SwarmDsl.Runtime.Ipvs.IpvsConnection.TimeoutSeconds(s)));
        // Direct routing sees only the client: its cookie echo alone establishes (INPUT-ONLY).
        Assert.Equal(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpEstablished, SwarmDsl.Runtime.Ipvs.IpvsSctpStates.Next(SwarmDsl.Runtime.Ipvs.IpvsConnectionState.SctpInit1, 2, SwarmDsl.Runtime.Packets.SctpChunk.CookieEcho));
    }
}
