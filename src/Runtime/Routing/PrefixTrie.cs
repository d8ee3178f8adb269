using System;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Routing;

/// <summary>
/// A binary trie over IPv4 prefixes for longest-prefix match (what <c>fib_table_lookup</c>'s LC-trie answers). Nodes live
/// in arrays and a lookup walks at most 32 levels without allocating. The first value inserted for a prefix wins, as
/// the first route of equal prefix does in a route list.
/// </summary>
/// <remarks>
/// A namespace usually holds a handful of routes, and walking 16–24 trie levels per lookup cost more than comparing
/// each prefix: up to <see cref="ScanLimit"/> prefixes are also kept longest first and a lookup scans them (the first
/// match is the longest prefix: two prefixes of equal length cannot both contain an address).
/// </remarks>
/// <typeparam name="T">The value kept per prefix.</typeparam>
public sealed class PrefixTrie<T>
{
    // The trie is built only past ScanLimit prefixes: a namespace's two or three routes made ~1.5 KB of node arrays, which
    // on 11,000 namespaces was most of what loading a large plan allocated.
    private int[]? _zero, _one, _value;
    private T[] _values = new T[4];
    private int _nodes;
    private int _count;

    /// <summary>Up to this many prefixes, lookups scan <see cref="_scan"/> instead of walking the trie.</summary>
    private const int ScanLimit = 16;
    // (network, mask, prefix length, value index), longest prefix first; every prefix while there are at most ScanLimit.
    private (uint Network, uint Mask, int Length, int Value)[] _scan = new (uint, uint, int, int)[4];

    /// <summary>The number of prefixes.</summary>
    public int Count => _count;

    /// <summary>Adds a prefix; false when it is already present (the earlier value stays).</summary>
    public bool Add(Ipv4Cidr prefix, T value)
    {
        if (_zero is null)
        {
            uint mask = prefix.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - prefix.PrefixLength);
            uint network = prefix.Network.Value & mask;
            for (int i = 0; i < _count; i++)
                if (_scan[i].Length == prefix.PrefixLength && _scan[i].Network == network) return false;
            if (_count < ScanLimit)
            {
                if (_count == _scan.Length) Array.Resize(ref _scan, _scan.Length * 2);
                int at = _count;
                while (at > 0 && _scan[at - 1].Length < prefix.PrefixLength) { _scan[at] = _scan[at - 1]; at--; }
                _scan[at] = (network, mask, prefix.PrefixLength, _count);
                Store(value);
                return true;
            }
            BuildTrie();
        }
        int node = Node(prefix.Network.Value, prefix.PrefixLength);
        if (_value![node] >= 0) return false;
        _value[node] = _count;
        Store(value);
        return true;
    }

    private void Store(T value)
    {
        if (_count == _values.Length) Array.Resize(ref _values, _values.Length * 2);
        _values[_count++] = value;
    }

    // The prefixes scanned so far move into a new trie.
    private void BuildTrie()
    {
        _zero = new int[64];
        _one = new int[64];
        _value = new int[64];
        _value[0] = -1;
        _nodes = 1;
        for (int i = 0; i < _count; i++)
        {
            int node = Node(_scan[i].Network, _scan[i].Length); // first: it may grow _value
            _value[node] = _scan[i].Value;
        }
    }

    // The trie node of a prefix, created with its path when missing.
    private int Node(uint bits, int length)
    {
        int node = 0;
        for (int depth = 0; depth < length; depth++)
        {
            bool one = ((bits >> (31 - depth)) & 1) != 0;
            int next = (one ? _one! : _zero!)[node];
            if (next == 0)
            {
                next = NewNode();
                (one ? _one! : _zero!)[node] = next;
            }
            node = next;
        }
        return node;
    }

    private int NewNode()
    {
        if (_nodes == _zero!.Length)
        {
            Array.Resize(ref _zero, _nodes * 2);
            Array.Resize(ref _one, _nodes * 2);
            Array.Resize(ref _value, _nodes * 2);
        }
        _zero[_nodes] = 0;
        _one![_nodes] = 0;
        _value![_nodes] = -1;
        return _nodes++;
    }

    /// <summary>The value of the longest prefix containing <paramref name="address"/>.</summary>
    public bool TryLookup(Ipv4Address address, out T value, out int prefixLength)
    {
        if (_zero is null)
        {
            uint a = address.Value;
            for (int i = 0; i < _count; i++)
            {
                ref var e = ref _scan[i];
                if ((a & e.Mask) != e.Network) continue;
                value = _values[e.Value];
                prefixLength = e.Length;
                return true;
            }
            value = default!;
            prefixLength = -1;
            return false;
        }
        int node = 0, best = _value![0], bestLength = 0;
        uint bits = address.Value;
        for (int depth = 0; depth < 32; depth++)
        {
            node = ((bits >> (31 - depth)) & 1) != 0 ? _one![node] : _zero[node];
            if (node == 0) break;
            if (_value[node] >= 0) { best = _value[node]; bestLength = depth + 1; }
        }
        if (best < 0) { value = default!; prefixLength = -1; return false; }
        value = _values[best];
        prefixLength = bestLength;
        return true;
    }
}
