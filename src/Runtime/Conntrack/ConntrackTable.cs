using System;
using System.Collections.Generic;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Conntrack;

/// <summary>A direction of a connection (<c>enum ip_conntrack_dir</c>).</summary>
public enum CtDirection
{
    /// <summary>The direction of the first packet.</summary>
    Original,
    /// <summary>The answer's direction.</summary>
    Reply,
}

/// <summary>Connection status bits (a subset of <c>enum ip_conntrack_status</c>).</summary>
[Flags]
public enum CtStatus
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>IPS_SEEN_REPLY: packets were seen in both directions.</summary>
    SeenReply = 1,
    /// <summary>IPS_ASSURED.</summary>
    Assured = 2,
    /// <summary>IPS_CONFIRMED: in the hash table.</summary>
    Confirmed = 4,
    /// <summary>IPS_SRC_NAT: the source is rewritten in the original direction.</summary>
    SrcNat = 8,
    /// <summary>IPS_DST_NAT: the destination is rewritten in the original direction.</summary>
    DstNat = 16,
    /// <summary>IPS_SRC_NAT_DONE: the source-NAT decision was taken (possibly a null binding).</summary>
    SrcNatDone = 32,
    /// <summary>IPS_DST_NAT_DONE.</summary>
    DstNatDone = 64,
}

/// <summary>TCP connection tracking states (<c>enum tcp_conntrack</c>), as far as the engine follows them.</summary>
public enum CtTcpState
{
    /// <summary>Not TCP.</summary>
    None,
    /// <summary>SYN_SENT.</summary>
    SynSent,
    /// <summary>SYN_RECV.</summary>
    SynRecv,
    /// <summary>ESTABLISHED.</summary>
    Established,
    /// <summary>FIN_WAIT.</summary>
    FinWait,
    /// <summary>CLOSE (after RST).</summary>
    Close,
    /// <summary>CLOSE_WAIT: the FIN was acknowledged.</summary>
    CloseWait,
    /// <summary>LAST_ACK: both sides sent FIN.</summary>
    LastAck,
    /// <summary>TIME_WAIT: the last FIN was acknowledged.</summary>
    TimeWait,
    /// <summary>SYN_SENT2: simultaneous open.</summary>
    SynSent2,
}

/// <summary>What a packet is to its connection (<c>enum ip_conntrack_info</c>, folded to what matches see).</summary>
public enum CtInfo
{
    /// <summary>No connection (untracked, or not looked up yet).</summary>
    None,
    /// <summary>IP_CT_NEW.</summary>
    New,
    /// <summary>IP_CT_ESTABLISHED (original direction).</summary>
    Established,
    /// <summary>IP_CT_ESTABLISHED_REPLY.</summary>
    EstablishedReply,
    /// <summary>IP_CT_RELATED (an ICMP error about the connection), original direction.</summary>
    Related,
    /// <summary>IP_CT_RELATED_REPLY.</summary>
    RelatedReply,
    /// <summary>Untracked (IPVS without <c>vs/conntrack</c>, or raw NOTRACK).</summary>
    Untracked,
}

/// <summary>One tracked connection.</summary>
public struct ConntrackEntry
{
    /// <summary>The original-direction tuple.</summary>
    public ConnTuple Original;
    /// <summary>The reply-direction tuple (differs from the inverted original when NAT applies).</summary>
    public ConnTuple Reply;
    /// <summary>Status bits.</summary>
    public CtStatus Status;
    /// <summary>TCP state.</summary>
    public CtTcpState TcpState;
    /// <summary>SCTP state.</summary>
    public CtSctpState SctpState;
    /// <summary>Packets seen in the original direction.</summary>
    public long OriginalPackets;
    /// <summary>Bytes seen in the original direction.</summary>
    public long OriginalBytes;
    /// <summary>Packets seen in the reply direction.</summary>
    public long ReplyPackets;
    /// <summary>Bytes seen in the reply direction.</summary>
    public long ReplyBytes;
    /// <summary>The connection's mark (<c>ct mark</c>).</summary>
    public uint Mark;
    /// <summary>A stable id in creation order.</summary>
    public long Id;
    /// <summary>Whether the slot holds an entry.</summary>
    public bool InUse;
    /// <summary>Which nft load balancer DNATed the connection (-1: none); its SNAT applies at srcnat.</summary>
    public int NftLoadBalancer;
    /// <summary>When the entry expires (simulated milliseconds): the last packet's time plus its state's timeout.</summary>
    public long ExpiresAt;
    /// <summary>UDP: from when a replied flow counts as a stream (<c>stream_ts</c>, first packet + 2 s).</summary>
    public long StreamAt;

    /// <summary>The tuple for one direction.</summary>
    public readonly ConnTuple Tuple(CtDirection dir) => dir == CtDirection.Original ? Original : Reply;

    /// <summary>Whether the entry is confirmed.</summary>
    public readonly bool Confirmed => (Status & CtStatus.Confirmed) != 0;
}

/// <summary>
/// A network namespace's connection table (<c>nf_conntrack_hash</c>). Entries are created unconfirmed by the first
/// packet and hashed under both tuples when that packet leaves the last hook (<c>nf_conntrack_confirm</c>). Storage is
/// an array of structs with a free list, so steady-state lookups allocate nothing.
/// </summary>
public sealed class ConntrackTable
{
    // Allocated on first use: a large plan has thousands of namespaces, most of which never track a connection.
    private ConntrackEntry[] _entries = Array.Empty<ConntrackEntry>();
    private int _used;
    private readonly Stack<int> _free = new();
    private readonly Dictionary<ConnTuple, int> _hash = new();
    private long _nextId = 1;

    /// <summary>Whether no entry was ever created: then the table is exactly as new (ids, slots, hash).</summary>
    internal bool IsUnused => _used == 0;

    /// <summary>Back to exactly a new table's state (ids start at 1 again), keeping the storage.</summary>
    internal void Clear()
    {
        Array.Clear(_entries, 0, _used);
        _used = 0;
        _free.Clear();
        _hash.Clear();
        _nextId = 1;
        Count = 0;
    }

    /// <summary>The number of live (confirmed or not) entries.</summary>
    public int Count { get; private set; }

    /// <summary>The entry at <paramref name="index"/>.</summary>
    public ref ConntrackEntry this[int index] => ref _entries[index];

    /// <summary>
    /// Finds the entry holding <paramref name="tuple"/> in either direction at time <paramref name="now"/>
    /// (<c>nf_conntrack_find_get</c>): an expired entry is removed instead (<c>nf_ct_is_expired</c> → <c>nf_ct_gc_expired</c>).
    /// </summary>
    public bool TryLookup(in ConnTuple tuple, long now, out int index, out CtDirection direction)
    {
        if (!TryLookup(tuple, out index, out direction)) return false;
        if (_entries[index].ExpiresAt > now) return true;
        Destroy(index);
        index = -1;
        return false;
    }

    /// <summary>Removes every confirmed entry whose timeout ran out by <paramref name="now"/> (the conntrack GC worker); returns how many.</summary>
    public int Expire(long now)
    {
        int n = 0;
        for (int i = 0; i < _used; i++)
        {
            ref var e = ref _entries[i];
            if (e.InUse && e.Confirmed && e.ExpiresAt <= now) { Destroy(i); n++; }
        }
        return n;
    }

    /// <summary>Destroys every live entry <paramref name="match"/> selects (<c>conntrack -D</c> with a filter); returns how many.</summary>
    public int RemoveWhere(Func<ConntrackEntry, bool> match)
    {
        int n = 0;
        for (int i = 0; i < _used; i++)
            if (_entries[i].InUse && match(_entries[i])) { Destroy(i); n++; }
        return n;
    }

    /// <summary>Finds the entry holding <paramref name="tuple"/> in either direction, expired or not.</summary>
    public bool TryLookup(in ConnTuple tuple, out int index, out CtDirection direction)
    {
        if (_hash.TryGetValue(tuple, out var v))
        {
            index = v >> 1;
            direction = (v & 1) == 0 ? CtDirection.Original : CtDirection.Reply;
            return true;
        }
        index = -1;
        direction = CtDirection.Original;
        return false;
    }

    /// <summary>Creates an unconfirmed entry for a packet with tuple <paramref name="original"/> (<c>init_conntrack</c>).</summary>
    public int Create(in ConnTuple original)
    {
        int index;
        if (_free.Count > 0) index = _free.Pop();
        else
        {
            if (_used == _entries.Length) Array.Resize(ref _entries, Math.Max(16, _entries.Length * 2));
            index = _used++;
        }
        _entries[index] = new ConntrackEntry
        {
            Original = original,
            Reply = original.Invert(),
            TcpState = original.Protocol == IpProtocol.Tcp ? CtTcpState.SynSent : CtTcpState.None,
            Id = _nextId++,
            InUse = true,
            NftLoadBalancer = -1,
        };
        Count++;
        return index;
    }

    /// <summary>Replaces the reply tuple of an unconfirmed entry (<c>nf_conntrack_alter_reply</c>; NAT and IPVS use it).</summary>
    public void AlterReply(int index, in ConnTuple reply)
    {
        ref var e = ref _entries[index];
        if (e.Confirmed) throw new InvalidOperationException("the reply tuple of a confirmed connection cannot change");
        e.Reply = reply;
    }

    /// <summary>Hashes the entry under both tuples (<c>__nf_conntrack_confirm</c>). False on a clash (the packet is dropped).</summary>
    public bool Confirm(int index)
    {
        ref var e = ref _entries[index];
        if (e.Confirmed) return true;
        if (_hash.ContainsKey(e.Original) || _hash.ContainsKey(e.Reply)) return false;
        _hash[e.Original] = index << 1;
        _hash[e.Reply] = (index << 1) | 1;
        e.Status |= CtStatus.Confirmed;
        return true;
    }

    /// <summary>Removes an entry (an unconfirmed one is simply freed).</summary>
    public void Destroy(int index)
    {
        ref var e = ref _entries[index];
        if (!e.InUse) return;
        if (e.Confirmed)
        {
            _hash.Remove(e.Original);
            _hash.Remove(e.Reply);
        }
        e = default;
        _free.Push(index);
        Count--;
    }

    /// <summary>
    /// <c>nf_conntrack_tuple_taken</c>: whether another connection already uses <paramref name="reply"/> as a tuple, so a
    /// NAT binding producing it would make replies ambiguous.
    /// </summary>
    public bool IsTaken(in ConnTuple reply, int ignoredIndex)
    {
        if (_hash.TryGetValue(reply, out var v) && (v >> 1) != ignoredIndex) return true;
        if (_hash.TryGetValue(reply.Invert(), out v) && (v >> 1) != ignoredIndex) return true;
        return false;
    }

    /// <summary>Live entries in creation order (for <c>conntrack -L</c>-style views and tests).</summary>
    public IReadOnlyList<int> LiveEntries()
    {
        var list = new List<int>();
        for (int i = 0; i < _used; i++) if (_entries[i].InUse) list.Add(i);
        list.Sort((a, b) => _entries[a].Id.CompareTo(_entries[b].Id));
        return list;
    }
}
