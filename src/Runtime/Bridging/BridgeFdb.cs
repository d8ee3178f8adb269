using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Engine;

namespace SwarmDsl.Runtime.Bridging;

/// <summary>How a forwarding-database entry came to be.</summary>
public enum FdbEntryKind
{
    /// <summary>Learned from a frame's source address; ages out.</summary>
    Learned,
    /// <summary>Added as <c>permanent</c>/<c>static</c>; never ages.</summary>
    Static,
    /// <summary>The address of a port or of the bridge itself: frames to it go up to the bridge device.</summary>
    Local,
}

/// <summary>One bridge FDB entry.</summary>
/// <param name="Port">The port (device index in the namespace) the MAC lives behind; for Local entries the owning device.</param>
/// <param name="Kind">How it was made.</param>
/// <param name="UpdatedAt">When it was last refreshed (simulation clock, milliseconds).</param>
public readonly record struct FdbEntry(int Port, FdbEntryKind Kind, long UpdatedAt);

/// <summary>
/// A Linux bridge's forwarding database (net/bridge/br_fdb.c): learning on ingress (<c>br_fdb_update</c>), static and
/// local entries that learning never overrides, and ageing (<c>ageing_time</c>, 300 s by default) checked on lookup.
/// </summary>
public sealed class BridgeFdb
{
    private readonly Dictionary<ulong, FdbEntry> _entries = new();

    /// <summary>The default <c>ageing_time</c>: 300 seconds.</summary>
    public const long DefaultAgeingMilliseconds = 300_000;

    /// <summary>The ageing time in milliseconds.</summary>
    public long AgeingMilliseconds { get => _ageing; set { _ageing = value; _history.Configured(); } }
    private long _ageing = DefaultAgeingMilliseconds;
    private readonly FdbHistory _history = new();

    /// <summary>Marks the current entries as what loading the plan made (see <see cref="IsAsLoaded"/>).</summary>
    internal void MarkLoaded() => _history.MarkLoaded();

    /// <summary>Whether nothing changed since <see cref="MarkLoaded"/>: no entry learned, expired or added, ageing unchanged.</summary>
    internal bool IsAsLoaded => _history.IsAsLoaded;

    /// <summary>
    /// Back to the loaded entries when only traffic changed the table since loading (it learned, or learned entries aged
    /// out): removes what it learned. False when it was configured since, which only loading again undoes.
    /// </summary>
    internal bool TryForgetTraffic()
    {
        if (!_history.OnlyTrafficSinceLoading) return false;
        // Loading adds no learned entries, and learning never replaces a permanent one: removing the learned MACs leaves
        // exactly the loaded table.
        foreach (var mac in _history.LearnedMacs)
            if (_entries.TryGetValue(mac, out var e) && e.Kind == FdbEntryKind.Learned) _entries.Remove(mac);
        _history.Forgot();
        return true;
    }

    /// <summary>The number of entries (aged ones included until looked up).</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// The generated code for this bridge's permanent entries (<see cref="ICompiledForwarding.BridgeFdb"/>), consulted before
    /// the table. Learning never overrides a permanent entry and nothing removes one, so the switch agrees with the table
    /// as long as no permanent entry is added after loading: <see cref="AddPermanent"/> then drops it (and refuses a later one).
    /// </summary>
    internal CompiledFdbLookup? Compiled
    {
        get => _compiled;
        set => _compiled = _permanentEdited ? null : value;
    }
    private CompiledFdbLookup? _compiled;
    private bool _permanentEdited;

    /// <summary>Adds a static or local entry.</summary>
    public void AddPermanent(MacAddress mac, int port, FdbEntryKind kind)
    {
        _entries[mac.Value] = new FdbEntry(port, kind, 0);
        _history.Configured();
        // After loading, the permanent entries are no longer the ones the compiled switch was generated from.
        if (_history.Loaded) { _permanentEdited = true; _compiled = null; }
    }

    /// <summary>Learns <paramref name="mac"/> behind <paramref name="port"/>; false when a permanent entry keeps it elsewhere.</summary>
    public bool Learn(MacAddress mac, int port, long now)
    {
        if (mac.IsMulticast || mac.Value == 0) return false;
        // Permanent entries never move here, and Compiled relies on it: were static entries to roam (br_fdb_update moves
        // any entry that is neither local nor sticky), this would have to drop Compiled as AddPermanent does.
        bool known = _entries.TryGetValue(mac.Value, out var e);
        if (known && e.Kind != FdbEntryKind.Learned) return false;
        _entries[mac.Value] = new FdbEntry(port, FdbEntryKind.Learned, now);
        _history.Learned(mac.Value, isNew: !known);
        return true;
    }

    /// <summary>Looks a MAC up, expiring a learned entry whose ageing time ran out (has_expired: updated + ageing_time ≤ now).</summary>
    public bool TryLookup(MacAddress mac, long now, out FdbEntry entry)
    {
        if (_compiled is { } compiled && compiled(mac.Value, out entry)) return true;
        if (_entries.TryGetValue(mac.Value, out entry))
        {
            if (entry.Kind == FdbEntryKind.Learned && now - entry.UpdatedAt >= AgeingMilliseconds)
            {
                _entries.Remove(mac.Value);
                _history.Changed();
                return false;
            }
            return true;
        }
        return false;
    }

    /// <summary>br_fdb_cleanup: removes the learned entries whose ageing time ran out by <paramref name="now"/>; returns how many.</summary>
    public int Expire(long now)
    {
        int n = 0;
        foreach (var kv in Snapshot())
            if (kv.Value.Kind == FdbEntryKind.Learned && now - kv.Value.UpdatedAt >= AgeingMilliseconds) { _entries.Remove(kv.Key.Value); n++; _history.Changed(); }
        return n;
    }

    /// <summary>All entries, ordered by MAC (for <c>bridge fdb show</c>-style views).</summary>
    public IReadOnlyList<KeyValuePair<MacAddress, FdbEntry>> Snapshot()
    {
        var list = new List<KeyValuePair<MacAddress, FdbEntry>>();
        foreach (var kv in _entries) list.Add(new KeyValuePair<MacAddress, FdbEntry>(new MacAddress(kv.Key), kv.Value));
        list.Sort((a, b) => a.Key.Value.CompareTo(b.Key.Value));
        return list;
    }
}

/// <summary>One entry of a VXLAN device's own FDB (<c>bridge fdb ... dev vxlan0 dst VTEP self</c>).</summary>
/// <param name="RemoteVtep">The remote tunnel endpoint.</param>
/// <param name="Static">Permanent (from the plan) or learned from a decapsulated frame.</param>
/// <param name="UpdatedAt">Last refresh (milliseconds).</param>
public readonly record struct VxlanFdbEntry(Ipv4Address RemoteVtep, bool Static, long UpdatedAt);

/// <summary>A VXLAN device's FDB (drivers/net/vxlan): MAC → remote VTEP, learned from outer source addresses when learning is on.</summary>
public sealed class VxlanFdb
{
    private readonly Dictionary<ulong, VxlanFdbEntry> _entries;
    // The plan's static entries, shared (read-only) by every simulation of the plan; _entries holds what traffic learned
    // and statics added since, which hide a plan entry of the same MAC.
    private readonly IReadOnlyDictionary<ulong, VxlanFdbEntry>? _plan;

    /// <summary>An empty FDB with room for <paramref name="capacity"/> entries (the plan's static ones).</summary>
    public VxlanFdb(int capacity = 0) => _entries = new Dictionary<ulong, VxlanFdbEntry>(capacity);

    /// <summary>An FDB whose static entries to begin with are <paramref name="planStatics"/>, shared and never changed.</summary>
    internal VxlanFdb(IReadOnlyDictionary<ulong, VxlanFdbEntry> planStatics)
    {
        _entries = new Dictionary<ulong, VxlanFdbEntry>();
        _plan = planStatics;
    }

    private bool TryGet(ulong mac, out VxlanFdbEntry entry) =>
        _entries.TryGetValue(mac, out entry) || (_plan is not null && _plan.TryGetValue(mac, out entry));

    /// <summary>The ageing time (the vxlan default <c>ageing 300</c>).</summary>
    public long AgeingMilliseconds { get => _ageing; set { _ageing = value; _history.Configured(); } }
    private long _ageing = BridgeFdb.DefaultAgeingMilliseconds;
    private readonly FdbHistory _history = new();

    /// <summary>Marks the current entries as what loading the plan made (see <see cref="IsAsLoaded"/>).</summary>
    internal void MarkLoaded() => _history.MarkLoaded();

    /// <summary>Whether nothing changed since <see cref="MarkLoaded"/>: no entry learned, expired or added, ageing unchanged.</summary>
    internal bool IsAsLoaded => _history.IsAsLoaded;

    /// <summary>As <see cref="BridgeFdb.TryForgetTraffic"/>: removes what traffic learned, unless the table was configured since loading.</summary>
    internal bool TryForgetTraffic()
    {
        if (!_history.OnlyTrafficSinceLoading) return false;
        foreach (var mac in _history.LearnedMacs)
            if (_entries.TryGetValue(mac, out var e) && !e.Static) _entries.Remove(mac);
        _history.Forgot();
        return true;
    }

    /// <summary>
    /// The generated code for this device's static entries (<see cref="ICompiledForwarding.VxlanFdb"/>), consulted before the
    /// table; dropped when a static entry is added after loading (see <see cref="BridgeFdb.Compiled"/>).
    /// </summary>
    internal CompiledVxlanFdbLookup? Compiled
    {
        get => _compiled;
        set => _compiled = _staticEdited ? null : value;
    }
    private CompiledVxlanFdbLookup? _compiled;
    private bool _staticEdited;

    /// <summary>Adds a permanent entry.</summary>
    public void AddStatic(MacAddress mac, Ipv4Address vtep)
    {
        _entries[mac.Value] = new VxlanFdbEntry(vtep, true, 0);
        _history.Configured();
        if (_history.Loaded) { _staticEdited = true; _compiled = null; }
    }

    /// <summary>The static entries, ordered by MAC.</summary>
    internal IReadOnlyList<KeyValuePair<MacAddress, VxlanFdbEntry>> StaticEntries()
    {
        var list = new List<KeyValuePair<MacAddress, VxlanFdbEntry>>();
        foreach (var kv in _entries) if (kv.Value.Static) list.Add(new KeyValuePair<MacAddress, VxlanFdbEntry>(new MacAddress(kv.Key), kv.Value));
        if (_plan is not null)
            foreach (var kv in _plan) if (!_entries.ContainsKey(kv.Key)) list.Add(new KeyValuePair<MacAddress, VxlanFdbEntry>(new MacAddress(kv.Key), kv.Value));
        list.Sort((a, b) => a.Key.Value.CompareTo(b.Key.Value));
        return list;
    }

    /// <summary>
    /// <c>vxlan_snoop</c>: learns (or migrates) the outer source of a received frame's inner source MAC. False when the kernel
    /// drops the frame instead: its source MAC is no valid unicast address (<c>is_valid_ether_addr</c>), or a static entry
    /// keeps the MAC at another VTEP ("Don't migrate static entries, drop packets", SKB_DROP_REASON_VXLAN_ENTRY_EXISTS).
    /// </summary>
    public bool Learn(MacAddress mac, Ipv4Address vtep, long now)
    {
        if (mac.IsMulticast || mac.Value == 0) return false;
        bool known = TryGet(mac.Value, out var e);
        if (known && e.Static) return e.RemoteVtep == vtep;
        _entries[mac.Value] = new VxlanFdbEntry(vtep, false, now);
        _history.Learned(mac.Value, isNew: !known);
        return true;
    }

    /// <summary>Looks a MAC up.</summary>
    public bool TryLookup(MacAddress mac, long now, out VxlanFdbEntry entry)
    {
        if (_compiled is { } compiled && compiled(mac.Value, out entry)) return true;
        if (_entries.TryGetValue(mac.Value, out entry))
        {
            if (!entry.Static && now - entry.UpdatedAt >= AgeingMilliseconds) { _entries.Remove(mac.Value); _history.Changed(); return false; }
            return true;
        }
        return _plan is not null && _plan.TryGetValue(mac.Value, out entry);
    }

    /// <summary>The number of entries.</summary>
    public int Count
    {
        get
        {
            if (_plan is null) return _entries.Count;
            int n = _plan.Count;
            foreach (var mac in _entries.Keys) if (!_plan.ContainsKey(mac)) n++;
            return n;
        }
    }

    /// <summary>vxlan_cleanup: removes the learned entries older than the ageing time; returns how many.</summary>
    public int Expire(long now)
    {
        var old = new List<ulong>();
        foreach (var kv in _entries)
            if (!kv.Value.Static && now - kv.Value.UpdatedAt >= AgeingMilliseconds) old.Add(kv.Key);
        foreach (var k in old) { _entries.Remove(k); _history.Changed(); }
        return old.Count;
    }
}

/// <summary>
/// What changed an FDB since the plan loaded it, told apart as a reset needs: configuration (permanent entries, ageing),
/// which only loading again undoes, and traffic (learning, learned entries ageing out), which forgetting the MACs learned
/// undoes.
/// </summary>
internal sealed class FdbHistory
{
    private int _changes, _loaded = -1, _configured, _loadedConfigured = -1;
    private readonly List<ulong> _learned = new();

    /// <summary>The MACs traffic added since loading (some may have aged out since).</summary>
    public IReadOnlyList<ulong> LearnedMacs => _learned;

    /// <summary>Whether the plan's entries were loaded.</summary>
    public bool Loaded => _loaded >= 0;

    /// <summary>Nothing changed since loading.</summary>
    public bool IsAsLoaded => _loaded == _changes;

    /// <summary>Loaded, and only traffic changed the table since.</summary>
    public bool OnlyTrafficSinceLoading => _loaded >= 0 && _configured == _loadedConfigured;

    public void MarkLoaded()
    {
        _loaded = _changes;
        _loadedConfigured = _configured;
        _learned.Clear();
    }

    public void Changed() => _changes++;

    public void Configured()
    {
        _changes++;
        _configured++;
    }

    public void Learned(ulong mac, bool isNew)
    {
        _changes++;
        if (isNew) _learned.Add(mac);
    }

    /// <summary>The owner removed what traffic learned: the table is as loaded again.</summary>
    public void Forgot()
    {
        _learned.Clear();
        _changes = _loaded;
    }
}
