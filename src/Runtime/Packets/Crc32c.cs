using System;

namespace SwarmDsl.Runtime.Packets;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the SCTP checksum (RFC 9260 appendix A). Table-driven: the frames
/// it checks are a few dozen bytes, so a package for it (and a dependency the analyzer would have to ship) is not worth it.
/// </summary>
public static class Crc32c
{
    private static readonly uint[] Table = Build();

    private static uint[] Build()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    /// <summary>The CRC-32C of <paramref name="data"/> (initial value and final XOR all ones).</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}
