using System.Globalization;
using System.Text;

namespace SwarmDsl.Lowering;

/// <summary>
/// Deterministic interface names. Docker uses random names for host-side veths (<c>veth</c> + 7 random hex) and
/// <c>br-&lt;netid[:12]&gt;</c> for user bridges; we keep the shapes but derive the random parts from a hash of stable inputs,
/// so the same topology always gives the same names (Linux limits names to 15 characters).
/// </summary>
public static class InterfaceNames
{
    /// <summary>The kernel's limit on interface names (IFNAMSIZ − 1).</summary>
    public const int MaxLength = 15;

    /// <summary>32-bit FNV-1a over the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        // ASCII text is its own UTF-8: hashed from its characters without encoding it (lowering names a veth per task leg).
        foreach (var c in text)
        {
            if (c >= 0x80) return Fnv1aOfUtf8(text);
            hash ^= c;
            hash *= 16777619;
        }
        return hash;
    }

    private static uint Fnv1aOfUtf8(string text)
    {
        uint hash = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 16777619;
        }
        return hash;
    }

    /// <summary>Seven lowercase hex digits: the low 28 bits of the FNV-1a hash of <paramref name="text"/>.</summary>
    public static string Hex7(string text) => (Fnv1a(text) & 0x0FFF_FFFFu).ToString("x7", CultureInfo.InvariantCulture);

    /// <summary>
    /// The host end of a veth whose other end is <paramref name="interfaceName"/> in <paramref name="namespaceName"/> on
    /// <paramref name="node"/>: <c>veth</c> + <see cref="Hex7"/> of <c>node/namespace/ifname</c>.
    /// </summary>
    public static string HostVeth(string node, string namespaceName, string interfaceName)
        => "veth" + Hex7(node + "/" + namespaceName + "/" + interfaceName);

    /// <summary>
    /// The Linux bridge of a user bridge network: <c>br-&lt;name&gt;</c> when that fits in 15 characters, else
    /// <c>br-</c> + the first 4 characters of the name + <c>-</c> + <see cref="Hex7"/> of the whole name.
    /// </summary>
    public static string Bridge(string network)
    {
        var plain = "br-" + network;
        if (plain.Length <= MaxLength) return plain;
        return "br-" + network.Substring(0, 4) + "-" + Hex7(network);
    }
}
