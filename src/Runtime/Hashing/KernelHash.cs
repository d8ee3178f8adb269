namespace SwarmDsl.Runtime.Hashing;

/// <summary>
/// The Linux kernel's integer hashes, bit for bit: <c>hash_32</c> (include/linux/hash.h), <c>jhash</c>,
/// <c>jhash_1word</c>/<c>jhash_3words</c> (include/linux/jhash.h, Bob Jenkins' lookup3 as the kernel uses it) and
/// <c>reciprocal_scale</c> (include/linux/kernel.h).
/// </summary>
public static class KernelHash
{
    /// <summary><c>GOLDEN_RATIO_32</c>.</summary>
    public const uint GoldenRatio32 = 0x61C88647;

    /// <summary><c>JHASH_INITVAL</c>.</summary>
    public const uint JhashInitval = 0xdeadbeef;

    /// <summary><c>hash_32(val, bits)</c>: multiply by the golden ratio and keep the top <paramref name="bits"/> bits.</summary>
    public static uint Hash32(uint value, int bits) => unchecked(value * GoldenRatio32) >> (32 - bits);

    /// <summary><c>reciprocal_scale(val, ep_ro)</c>: maps a 32-bit value into [0, <paramref name="range"/>) without a division.</summary>
    public static uint ReciprocalScale(uint value, uint range) => (uint)(((ulong)value * range) >> 32);

    private static uint Rol32(uint word, int shift) => (word << shift) | (word >> (32 - shift));

    /// <summary><c>__jhash_final(a, b, c)</c>; returns c.</summary>
    public static uint Final(uint a, uint b, uint c)
    {
        unchecked
        {
            c ^= b; c -= Rol32(b, 14);
            a ^= c; a -= Rol32(c, 11);
            b ^= a; b -= Rol32(a, 25);
            c ^= b; c -= Rol32(b, 16);
            a ^= c; a -= Rol32(c, 4);
            b ^= a; b -= Rol32(a, 14);
            c ^= b; c -= Rol32(b, 24);
            return c;
        }
    }

    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        unchecked
        {
            a -= c; a ^= Rol32(c, 4); c += b;
            b -= a; b ^= Rol32(a, 6); a += c;
            c -= b; c ^= Rol32(b, 8); b += a;
            a -= c; a ^= Rol32(c, 16); c += b;
            b -= a; b ^= Rol32(a, 19); a += c;
            c -= b; c ^= Rol32(b, 4); b += a;
        }
    }

    /// <summary>
    /// <c>jhash(key, length, initval)</c> over bytes. Whole 12-byte blocks are read as little-endian words (x86, the
    /// usual host; the kernel reads them in CPU order), the tail byte-wise exactly as the kernel's switch does.
    /// </summary>
    public static uint Jhash(System.ReadOnlySpan<byte> key, uint initval)
    {
        unchecked
        {
            uint length = (uint)key.Length;
            uint a, b, c;
            a = b = c = JhashInitval + length + initval;
            int k = 0;
            while (length > 12)
            {
                a += (uint)(key[k] | key[k + 1] << 8 | key[k + 2] << 16 | key[k + 3] << 24);
                b += (uint)(key[k + 4] | key[k + 5] << 8 | key[k + 6] << 16 | key[k + 7] << 24);
                c += (uint)(key[k + 8] | key[k + 9] << 8 | key[k + 10] << 16 | key[k + 11] << 24);
                Mix(ref a, ref b, ref c);
                length -= 12;
                k += 12;
            }
            switch (length)
            {
                case 12: c += (uint)key[k + 11] << 24; goto case 11;
                case 11: c += (uint)key[k + 10] << 16; goto case 10;
                case 10: c += (uint)key[k + 9] << 8; goto case 9;
                case 9: c += key[k + 8]; goto case 8;
                case 8: b += (uint)key[k + 7] << 24; goto case 7;
                case 7: b += (uint)key[k + 6] << 16; goto case 6;
                case 6: b += (uint)key[k + 5] << 8; goto case 5;
                case 5: b += key[k + 4]; goto case 4;
                case 4: a += (uint)key[k + 3] << 24; goto case 3;
                case 3: a += (uint)key[k + 2] << 16; goto case 2;
                case 2: a += (uint)key[k + 1] << 8; goto case 1;
                case 1: a += key[k]; c = Final(a, b, c); break;
                case 0: break;
            }
            return c;
        }
    }

    /// <summary><c>jhash</c> of an IPv4 address as it sits in a packet (network byte order), as nft's <c>jhash ip saddr</c> hashes it.</summary>
    public static uint JhashAddress(SwarmDsl.Net.Ipv4Address address, uint seed)
    {
        System.Span<byte> k = stackalloc byte[4];
        k[0] = address[0]; k[1] = address[1]; k[2] = address[2]; k[3] = address[3];
        return Jhash(k, seed);
    }

    /// <summary><c>jhash_3words(a, b, c, initval)</c>.</summary>
    public static uint Jhash3Words(uint a, uint b, uint c, uint initval)
    {
        unchecked
        {
            uint iv = initval + JhashInitval + (3 << 2);
            return Final(a + iv, b + iv, c + iv);
        }
    }

    /// <summary><c>jhash_1word(a, initval)</c>.</summary>
    public static uint Jhash1Word(uint a, uint initval)
    {
        unchecked
        {
            uint iv = initval + JhashInitval + (1 << 2);
            return Final(a + iv, iv, iv);
        }
    }
}
