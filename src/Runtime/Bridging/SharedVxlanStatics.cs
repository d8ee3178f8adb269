using System;
using System.Collections;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Runtime.Bridging;

/// <summary>
/// The plan's static entries of one VXLAN device (MAC → remote VTEP), held once for every node's namespace of the same
/// name. An overlay network's namespace on each node lists every remote endpoint of the network (8,387 in each of a
/// 100-node plan's ingress overlays): the lists differ only by the node's own endpoints, which are local there. One
/// node's table serves the others as a view (<see cref="View"/>) after a check, per namespace, that the view is exactly
/// that namespace's table; a namespace whose list is anything else keeps a table of its own.
/// </summary>
internal sealed class SharedVxlanStatics
{
    private readonly Dictionary<ulong, int> _slots;
    private readonly VxlanFdbEntry[] _entries;
    private readonly Dictionary<uint, int> _byVtep = new();

    private SharedVxlanStatics(Dictionary<ulong, VxlanFdbEntry> table)
    {
        _slots = new Dictionary<ulong, int>(table.Count);
        _entries = new VxlanFdbEntry[table.Count];
        foreach (var kv in table)
        {
            _entries[_slots.Count] = kv.Value;
            _slots[kv.Key] = _slots.Count;
            uint vtep = kv.Value.RemoteVtep.Value;
            _byVtep[vtep] = _byVtep.TryGetValue(vtep, out var n) ? n + 1 : 1;
        }
    }

    // Per plan: (namespace name, device name) → the first table made for it.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DataplanePlan, Dictionary<(string, string), SharedVxlanStatics>> Registry = new();

    /// <summary>
    /// The static entries of <paramref name="device"/> in <paramref name="ns"/> (on the node whose own VTEP is
    /// <paramref name="ownVtep"/>): as the plan lists them, the last entry for a MAC winning; a view of another node's
    /// table when that is exactly them.
    /// </summary>
    public static IReadOnlyDictionary<ulong, VxlanFdbEntry> For(DataplanePlan plan, NamespacePlan ns, string device, Ipv4Address ownVtep)
    {
        // A namespace listing nothing (its node alone on the network) does not become the table the others view.
        var listed = false;
        foreach (var f in ns.Fdb) if (f.RemoteVtep is not null && f.Device == device) { listed = true; break; }
        if (!listed) return Table(ns, device);
        var registry = Registry.GetValue(plan, _ => new Dictionary<(string, string), SharedVxlanStatics>());
        SharedVxlanStatics? shared;
        lock (registry) registry.TryGetValue((ns.Name, device), out shared);
        if (shared?.ViewFor(ns, device, ownVtep) is { } view) return view;
        var table = Table(ns, device);
        if (shared is null)
        {
            var made = new SharedVxlanStatics(table);
            lock (registry) if (!registry.ContainsKey((ns.Name, device))) registry[(ns.Name, device)] = made;
        }
        return table;
    }

    /// <summary>The table as the plan lists it (the last entry for a MAC wins, as <c>bridge fdb replace</c> would).</summary>
    internal static Dictionary<ulong, VxlanFdbEntry> Table(NamespacePlan ns, string device)
    {
        int count = 0;
        foreach (var f in ns.Fdb) if (f.RemoteVtep is not null && f.Device == device) count++;
        var table = new Dictionary<ulong, VxlanFdbEntry>(count);
        foreach (var f in ns.Fdb)
            if (f.RemoteVtep is Ipv4Address vtep && f.Device == device) table[f.Mac.Value] = new VxlanFdbEntry(vtep, true, 0);
        return table;
    }

    /// <summary>
    /// This table seen from another namespace: its entries pointing at <paramref name="ownVtep"/> left out (that node's own
    /// endpoints), the namespace's other entries added. Null unless the result is exactly <see cref="Table"/> of it.
    /// </summary>
    private View? ViewFor(NamespacePlan ns, string device, Ipv4Address ownVtep)
    {
        var check = new SharedViewCheck<ulong, VxlanFdbEntry>(_entries.Length);
        foreach (var f in ns.Fdb)
        {
            if (f.RemoteVtep is not Ipv4Address vtep || f.Device != device) continue;
            var entry = new VxlanFdbEntry(vtep, true, 0);
            ulong mac = f.Mac.Value;
            if (vtep != ownVtep && _slots.TryGetValue(mac, out var slot) && _entries[slot] == entry) check.Shown(slot, mac);
            else check.Own(mac, entry);
        }
        int visible = _entries.Length - (_byVtep.TryGetValue(ownVtep.Value, out var own) ? own : 0);
        return check.Holds(visible) ? new View(this, ownVtep.Value, check.Extra, visible) : null;
    }

    private bool TryVisible(ulong mac, uint hidden, out VxlanFdbEntry entry)
    {
        if (_slots.TryGetValue(mac, out var slot) && _entries[slot].RemoteVtep.Value != hidden)
        {
            entry = _entries[slot];
            return true;
        }
        entry = default;
        return false;
    }

    /// <summary>A shared table without one node's own VTEP, with that namespace's other entries over it.</summary>
    internal sealed class View : IReadOnlyDictionary<ulong, VxlanFdbEntry>
    {
        private readonly SharedVxlanStatics _shared;
        private readonly uint _hidden;
        private readonly Dictionary<ulong, VxlanFdbEntry>? _extra;

        public View(SharedVxlanStatics shared, uint hidden, Dictionary<ulong, VxlanFdbEntry>? extra, int visible)
        {
            _shared = shared;
            _hidden = hidden;
            _extra = extra;
            Count = visible;
            if (extra is not null)
                foreach (var mac in extra.Keys)
                    if (!shared.TryVisible(mac, hidden, out _)) Count++;
        }

        public int Count { get; }

        public bool TryGetValue(ulong key, out VxlanFdbEntry value) =>
            (_extra is not null && _extra.TryGetValue(key, out value)) || _shared.TryVisible(key, _hidden, out value);

        public bool ContainsKey(ulong key) => TryGetValue(key, out _);

        public VxlanFdbEntry this[ulong key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException();

        public IEnumerable<ulong> Keys { get { foreach (var kv in this) yield return kv.Key; } }

        public IEnumerable<VxlanFdbEntry> Values { get { foreach (var kv in this) yield return kv.Value; } }

        public IEnumerator<KeyValuePair<ulong, VxlanFdbEntry>> GetEnumerator()
        {
            if (_extra is not null) foreach (var kv in _extra) yield return kv;
            foreach (var kv in _shared._slots)
            {
                var entry = _shared._entries[kv.Value];
                if (entry.RemoteVtep.Value != _hidden && (_extra is null || !_extra.ContainsKey(kv.Key)))
                    yield return new KeyValuePair<ulong, VxlanFdbEntry>(kv.Key, entry);
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>
/// The proof that a view of a shared table (its entries but those of one node, the namespace's others over them) holds
/// exactly what a namespace lists, fed the list in order: each listed entry is either one the view shows from the shared
/// table (<see cref="Shown"/>, by its slot there) or one of the namespace's own (<see cref="Own"/>); a later entry for a key
/// wins. The view is exact when every entry it shows from the shared table was listed (<see cref="Holds"/>). Shared by
/// <see cref="SharedVxlanStatics"/> and the runtime's permanent neighbours.
/// </summary>
internal struct SharedViewCheck<TKey, TValue> where TKey : notnull
{
    private readonly bool[] _seen;
    private int _shown;

    /// <summary>A check against a shared table of <paramref name="slots"/> entries.</summary>
    public SharedViewCheck(int slots)
    {
        _seen = new bool[slots];
        _shown = 0;
        Extra = null;
    }

    /// <summary>The namespace's own entries, to keep over the shared table (null: none).</summary>
    public Dictionary<TKey, TValue>? Extra { get; private set; }

    /// <summary>A listed entry equal to the shared table's at <paramref name="slot"/>, which the view shows.</summary>
    public void Shown(int slot, TKey key)
    {
        if (!_seen[slot]) { _seen[slot] = true; _shown++; } // listed twice: counted once
        Extra?.Remove(key); // a later entry for the key wins
    }

    /// <summary>A listed entry the view cannot show from the shared table.</summary>
    public void Own(TKey key, TValue value) => (Extra ??= new Dictionary<TKey, TValue>())[key] = value;

    /// <summary>Whether every one of the <paramref name="visible"/> entries the view shows from the shared table was listed.</summary>
    public readonly bool Holds(int visible) => _shown == visible;
}
