using System;
using System.Globalization;

namespace SwarmDsl.Net;

/// <summary>An IPv4 address held as a host-order 32-bit value.</summary>
public readonly record struct Ipv4Address(uint Value) : IComparable<Ipv4Address>
{
    /// <summary>0.0.0.0</summary>
    public static Ipv4Address Any => new(0);

    /// <summary>Builds an address from its four bytes.</summary>
    public static Ipv4Address FromBytes(byte a, byte b, byte c, byte d) => new(((uint)a << 24) | ((uint)b << 16) | ((uint)c << 8) | d);

    /// <summary>Parses dotted-quad notation strictly (four decimal octets, no leading zeros beyond "0").</summary>
    public static bool TryParse(string? text, out Ipv4Address address)
    {
        address = default;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text!.Split('.');
        if (parts.Length != 4) return false;
        uint v = 0;
        foreach (var p in parts)
        {
            if (p.Length == 0 || p.Length > 3) return false;
            if (p.Length > 1 && p[0] == '0') return false;
            foreach (var ch in p) if (ch < '0' || ch > '9') return false;
            var n = int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture);
            if (n > 255) return false;
            v = (v << 8) | (uint)n;
        }
        address = new Ipv4Address(v);
        return true;
    }

    /// <summary>Parses or throws <see cref="FormatException"/> (for code and tests, not user input).</summary>
    public static Ipv4Address Parse(string text) => TryParse(text, out var a) ? a : throw new FormatException("not an IPv4 address: " + text);

    /// <summary>Byte <paramref name="i"/> (0 = most significant).</summary>
    public byte this[int i] => (byte)(Value >> (24 - 8 * i));

    /// <summary>The next address.</summary>
    public Ipv4Address Next => new(Value + 1);

    /// <summary>Whether this is in 127.0.0.0/8.</summary>
    public bool IsLoopback => (Value >> 24) == 127;

    /// <summary>
    /// Why no host can send from this address on a wire, or null when it can: Linux drops such a source as martian
    /// (ip_route_input_slow: 0.0.0.0/8, loopback, multicast, the limited broadcast, class E). One wording for a node's
    /// underlay address and for an outside client.
    /// </summary>
    public string? WhyNoSource()
    {
        uint v = Value;
        if (v == 0) return "0.0.0.0 is no source address";
        if ((v >> 24) == 0) return "0.0.0.0/8 is no source address (martian)";
        if (IsLoopback) return "a loopback address is no source on the wire (martian)";
        if ((v >> 28) == 0xE) return "a multicast address is no source address (martian)";
        if ((v >> 28) == 0xF) return v == uint.MaxValue ? "the limited broadcast is no source address (martian)" : "class E addresses are reserved (martian)";
        return null;
    }

    /// <inheritdoc/>
    public int CompareTo(Ipv4Address other) => Value.CompareTo(other.Value);

    /// <inheritdoc/>
    public override string ToString()
    {
        // Traces print addresses by the thousand: no format string, no boxing.
        var text = new char[15];
        int n = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0) text[n++] = '.';
            int b = this[i];
            if (b >= 100) text[n++] = (char)('0' + b / 100);
            if (b >= 10) text[n++] = (char)('0' + b / 10 % 10);
            text[n++] = (char)('0' + b % 10);
        }
        return new string(text, 0, n);
    }

    /// <summary>Ordering.</summary>
    public static bool operator <(Ipv4Address a, Ipv4Address b) => a.Value < b.Value;
    /// <summary>Ordering.</summary>
    public static bool operator >(Ipv4Address a, Ipv4Address b) => a.Value > b.Value;
    /// <summary>Ordering.</summary>
    public static bool operator <=(Ipv4Address a, Ipv4Address b) => a.Value <= b.Value;
    /// <summary>Ordering.</summary>
    public static bool operator >=(Ipv4Address a, Ipv4Address b) => a.Value >= b.Value;
}

/// <summary>An address with a prefix length: <c>10.7.191.10/24</c> (interface address) or <c>10.255.0.0/16</c> (subnet).</summary>
public readonly record struct Ipv4Cidr(Ipv4Address Address, int PrefixLength)
{
    /// <summary>The network mask.</summary>
    public uint Mask => PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);

    /// <summary>The network address (host bits cleared).</summary>
    public Ipv4Address Network => new(Address.Value & Mask);

    /// <summary>The broadcast address.</summary>
    public Ipv4Address Broadcast => new(Address.Value | ~Mask);

    /// <summary>The subnet this address is in, as a CIDR with host bits cleared.</summary>
    public Ipv4Cidr Subnet => new(Network, PrefixLength);

    /// <summary>Whether host bits are all zero.</summary>
    public bool IsNetworkAddress => Address == Network;

    /// <summary>The number of addresses in the prefix.</summary>
    public ulong Size => 1UL << (32 - PrefixLength);

    /// <summary>The first usable host address (network + 1; for /31 and /32, the network itself).</summary>
    public Ipv4Address FirstHost => PrefixLength >= 31 ? Network : new Ipv4Address(Network.Value + 1);

    /// <summary>The last usable host address (broadcast − 1; for /31 and /32, the broadcast itself).</summary>
    public Ipv4Address LastHost => PrefixLength >= 31 ? Broadcast : new Ipv4Address(Broadcast.Value - 1);

    /// <summary>Whether <paramref name="a"/> lies inside this prefix.</summary>
    public bool Contains(Ipv4Address a) => (a.Value & Mask) == Network.Value;

    /// <summary>Whether <paramref name="a"/> is a usable host address of this subnet (not network or broadcast).</summary>
    public bool ContainsHost(Ipv4Address a) => Contains(a) && a >= FirstHost && a <= LastHost;

    /// <summary>Whether two prefixes share any address.</summary>
    public bool Overlaps(Ipv4Cidr other)
    {
        var m = PrefixLength < other.PrefixLength ? Mask : other.Mask;
        return (Address.Value & m) == (other.Address.Value & m);
    }

    /// <summary>Parses <c>a.b.c.d/n</c>.</summary>
    public static bool TryParse(string? text, out Ipv4Cidr cidr)
    {
        cidr = default;
        if (string.IsNullOrEmpty(text)) return false;
        var slash = text!.IndexOf('/');
        if (slash < 0) return false;
        if (!Ipv4Address.TryParse(text.Substring(0, slash), out var a)) return false;
        var p = text.Substring(slash + 1);
        if (p.Length == 0 || p.Length > 2) return false;
        foreach (var ch in p) if (ch < '0' || ch > '9') return false;
        var n = int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture);
        if (n > 32) return false;
        cidr = new Ipv4Cidr(a, n);
        return true;
    }

    /// <summary>Parses or throws (for code and tests).</summary>
    public static Ipv4Cidr Parse(string text) => TryParse(text, out var c) ? c : throw new FormatException("not an IPv4 CIDR: " + text);

    /// <inheritdoc/>
    public override string ToString() => Address + "/" + PrefixLength.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A 48-bit Ethernet address.</summary>
public readonly record struct MacAddress(ulong Value)
{
    /// <summary>ff:ff:ff:ff:ff:ff</summary>
    public static MacAddress Broadcast => new(0xFFFF_FFFF_FFFFUL);

    /// <summary>00:00:00:00:00:00</summary>
    public static MacAddress Zero => new(0);

    /// <summary>Docker's <c>GenerateMACFromIP</c>: <c>02:42</c> followed by the four IPv4 bytes.</summary>
    public static MacAddress FromIp(Ipv4Address ip) => new((0x0242UL << 32) | ip.Value);

    /// <summary>Byte <paramref name="i"/> (0 = first on the wire).</summary>
    public byte this[int i] => (byte)(Value >> (40 - 8 * i));

    /// <summary>Whether the group bit is set.</summary>
    public bool IsMulticast => (this[0] & 1) != 0;

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c>.</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null) return false;
        var parts = text.Split(':');
        if (parts.Length != 6) return false;
        ulong v = 0;
        foreach (var p in parts)
        {
            if (p.Length != 2 || !byte.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b)) return false;
            v = (v << 8) | b;
        }
        mac = new MacAddress(v);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        const string Hex = "0123456789abcdef";
        var text = new char[17];
        for (int i = 0; i < 6; i++)
        {
            if (i > 0) text[3 * i - 1] = ':';
            int b = this[i];
            text[3 * i] = Hex[b >> 4];
            text[3 * i + 1] = Hex[b & 15];
        }
        return new string(text);
    }
}
