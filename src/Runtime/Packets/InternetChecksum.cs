using System;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Packets;

/// <summary>The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words.</summary>
public static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> to a running 32-bit sum (big-endian words, odd byte padded with zero).</summary>
    public static uint Accumulate(ReadOnlySpan<byte> data, uint sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)((data[i] << 8) | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    /// <summary>Folds a running sum into the final 16-bit checksum (complemented).</summary>
    public static ushort Finish(uint sum)
    {
        while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>The checksum of <paramref name="data"/>.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Accumulate(data));

    /// <summary>The TCP/UDP pseudo-header sum (RFC 793 §3.1, RFC 768): source, destination, zero, protocol, length.</summary>
    public static uint PseudoHeader(Ipv4Address source, Ipv4Address destination, IpProtocol protocol, int transportLength)
    {
        uint sum = 0;
        sum += source.Value >> 16;
        sum += source.Value & 0xFFFF;
        sum += destination.Value >> 16;
        sum += destination.Value & 0xFFFF;
        sum += (byte)protocol;
        sum += (uint)transportLength;
        return sum;
    }

    /// <summary>Whether a block that includes its own checksum field sums to zero (the receiver's check).</summary>
    public static bool Verify(ReadOnlySpan<byte> data, uint initial = 0) => Finish(Accumulate(data, initial)) == 0;
}
