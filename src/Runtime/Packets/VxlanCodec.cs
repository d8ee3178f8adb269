using System;
using SwarmDsl.Runtime.Hashing;

namespace SwarmDsl.Runtime.Packets;

/// <summary>
/// VXLAN (RFC 7348) as the Linux driver speaks it: the 8-byte header, the 50-byte IPv4 overhead and the UDP source
/// port chosen by <c>udp_flow_src_port</c> (include/net/udp.h) over the local port range.
/// </summary>
public static class VxlanCodec
{
    /// <summary>The VXLAN header length.</summary>
    public const int HeaderLength = 8;

    /// <summary>Bytes added on the wire to an inner frame over IPv4: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8.</summary>
    public const int Overhead = 14 + 20 + 8 + HeaderLength;

    /// <summary>The I flag (valid VNI).</summary>
    public const byte FlagVniValid = 0x08;

    /// <summary><c>net.ipv4.ip_local_port_range</c> default low end, used when the device's port range is 0 0 (Docker).</summary>
    public const int LocalPortRangeMin = 32768;

    /// <summary><c>net.ipv4.ip_local_port_range</c> default high end.</summary>
    public const int LocalPortRangeMax = 60999;

    /// <summary>Writes the header: flags 0x08, 24 reserved bits, the 24-bit VNI, 8 reserved bits.</summary>
    public static void WriteHeader(Span<byte> destination, int vni)
    {
        destination[0] = FlagVniValid;
        destination[1] = 0; destination[2] = 0; destination[3] = 0;
        destination[4] = (byte)(vni >> 16);
        destination[5] = (byte)(vni >> 8);
        destination[6] = (byte)vni;
        destination[7] = 0;
    }

    /// <summary>Reads the VNI; false when the I flag is not set.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> source, out int vni)
    {
        vni = 0;
        if (source.Length < HeaderLength || (source[0] & FlagVniValid) == 0) return false;
        vni = (source[4] << 16) | (source[5] << 8) | source[6];
        return true;
    }

    /// <summary>
    /// <c>udp_flow_src_port(net, skb, min, max, use_eth)</c> given the flow hash: <c>hash ^= hash &lt;&lt; 16</c>, then
    /// <c>((u64)hash * (max - min)) &gt;&gt; 32) + min</c>. The result lies in [min, max).
    /// </summary>
    public static int SourcePort(uint flowHash, int min = LocalPortRangeMin, int max = LocalPortRangeMax)
    {
        uint hash = unchecked(flowHash ^ (flowHash << 16));
        return (int)(((ulong)hash * (uint)(max - min)) >> 32) + min;
    }

    /// <summary>
    /// The inner flow hash standing in for <c>skb_get_hash</c>. The kernel hashes the dissected flow keys with a
    /// boot-time random key; we use <c>jhash_3words(saddr, daddr, ports, seed)</c> so the port is a deterministic
    /// function of the flow and the simulation seed. Never 0 (the kernel treats 0 as "no hash").
    /// </summary>
    public static uint FlowHash(in PacketHeaders inner, uint seed)
    {
        uint ports = inner.HasPorts ? ((uint)inner.SourcePort << 16) | inner.DestinationPort : (uint)inner.Protocol;
        uint h = KernelHash.Jhash3Words(inner.Source.Value, inner.Destination.Value, ports ^ ((uint)inner.Protocol << 24), seed);
        return h == 0 ? 1u : h;
    }
}
