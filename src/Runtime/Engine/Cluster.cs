using System;
using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Ipvs;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

/// <summary>
/// A dataplane plan loaded for execution: every namespace of every host plus external clients on the underlay, with
/// lookup structures built once (devices by name, route tries, compiled chains, FDBs, local address sets) and the
/// mutable kernel state (conntrack, IPVS, FDB learning, neighbour caches, counters).
/// </summary>
public sealed class Cluster
{
    private readonly List<NamespaceRuntime> _namespaces;
    private readonly List<(int Ns, int Dev)> _underlay = new();
    private readonly Dictionary<string, int> _byName;
    private readonly Dictionary<uint, int> _clients = new();

    /// <summary>Loads <paramref name="plan"/>.</summary>
    /// <param name="plan">The plan.</param>
    /// <param name="seed">Seeds ephemeral ports, hashes standing in for random kernel keys, and statistic matches.</param>
    public Cluster(DataplanePlan plan, uint seed = 0)
    {
        Plan = plan;
        Seed = seed;
        // Sized once: grown step by step on a large plan, these were copied a dozen times, the last copies on the large
        // object heap, whose allocations start full collections.
        int count = 0;
        foreach (var host in plan.Hosts) count += host.Namespaces.Count;
        _namespaces = new List<NamespaceRuntime>(count + plan.Hosts.Count);
        _byName = new Dictionary<string, int>(count + plan.Hosts.Count, StringComparer.Ordinal);
        foreach (var host in plan.Hosts)
        {
            NamespaceRuntime? hostNs = null;
            foreach (var nsPlan in host.Namespaces)
            {
                var ns = new NamespaceRuntime(_namespaces.Count, host.Node, nsPlan.Name, nsPlan.Kind, nsPlan, nsPlan.Span)
                    { Owner = this, Host = host, HostNamespace = hostNs };
                _namespaces.Add(ns);
                _byName[ns.QualifiedName] = ns.Index;
                // From the namespace's name, not its place in the plan: a namespace sends from the same ports whatever else the
                // topology holds (a trace does not change when a service is added, nor a reach question's slice).
                uint key = NameKey(ns.QualifiedName);
                ns.EphemeralCursor = ns.InitialEphemeralCursor = (int)(Hashing.KernelHash.Jhash1Word(key * 2654435761u, Seed) % (uint)(Packets.VxlanCodec.LocalPortRangeMax - Packets.VxlanCodec.LocalPortRangeMin + 1));
                ns.NextIpId = ns.InitialIpId = (ushort)Hashing.KernelHash.Jhash1Word(key, Seed ^ 0x1d);
                if (nsPlan.Kind == NamespaceKind.Host && hostNs is null) hostNs = ns;
            }
        }
        RegisterVxlanSockets();
        // Host namespaces now, in plan order: they hold the underlay, which delivers by MAC. The rest on first use.
        foreach (var ns in _namespaces)
            if (ns.Kind == NamespaceKind.Host) BuildBody(ns);
        ExternalClient(plan.Underlay.ExternalClient);
        _initialNamespaces = _namespaces.Count;
        _initialUnderlay = _underlay.Count;
        foreach (var ns in _namespaces) ResetState(ns);
    }

    /// <summary>
    /// Compiled matches by plan rule (reference): lowering shares a published port's rules between every node's tables, so a
    /// rule compiled for one namespace serves them all. Only rules without statistic matches (their slots are per table).
    /// </summary>
    internal readonly Dictionary<NetfilterRule, CompiledMatch[]> CompiledMatches = new(ReferenceComparer<NetfilterRule>.Instance);

    /// <summary>Compiled chains by their plan rules (<see cref="CompiledChainBody"/>): one per rule list and jump resolution.</summary>
    internal readonly Dictionary<EquatableArray<NetfilterRule>, List<CompiledChainBody>> CompiledBodies = new(SameRules.Instance);

    private readonly int _initialNamespaces;
    private readonly int _initialUnderlay;

    /// <summary>
    /// Working buffers of the packet walker, kept here because a simulation makes a fresh walker after every reset (the
    /// analyses reset per probe): allocated per walker, they were most of what a probe allocated. One walker walks a
    /// cluster at a time, and each buffer is cleared before a use.
    /// </summary>
    internal readonly WalkerScratch Scratch = new();

    /// <summary>
    /// Returns the kernel state to what loading the plan produced, keeping the compiled structures (devices, route tries,
    /// compiled chains, attached compiled netfilter): connection tracking, IPVS connections, schedulers and weights, learned
    /// FDB and neighbour entries, counters, statistic and numgen state, client sockets, ephemeral port and IP ID cursors, the
    /// clock, and external clients created since. Afterwards the cluster behaves exactly like a freshly loaded one.
    /// </summary>
    public void Reset()
    {
        ForgetCreatedNamespaces();
        foreach (var ns in _namespaces)
        {
            ResetState(ns);
            // Every counter, not only those traffic moved (CountedRules): the contract is the loaded state, however reached.
            if (ns.TablesLoaded)
            {
                ResetCounters(ns.Raw);
                ResetCounters(ns.Mangle);
                ResetCounters(ns.Nat);
                ResetCounters(ns.Filter);
            }
        }
        CountedRules.Clear();
        CountedPolicies.Clear();
        foreach (var ns in _touched) _namespaces[ns].Touched = false;
        _touched.Clear();
    }

    /// <summary>
    /// <see cref="Reset"/> for a cluster that has only carried traffic since its last reset (no state set through other
    /// means): only the namespaces the walker entered or changed in passing (ARP's learning) are returned to their loaded
    /// state, so a reset after one connection costs that connection's namespaces, not the whole plan's.
    /// </summary>
    internal void ResetTraffic()
    {
        ForgetCreatedNamespaces();
        foreach (var (chain, position) in CountedRules) chain.ClearCounters(position);
        foreach (var chain in CountedPolicies) chain.PolicyPackets = chain.PolicyBytes = 0;
        CountedRules.Clear();
        CountedPolicies.Clear();
        foreach (var i in _touched)
        {
            var ns = _namespaces[i];
            ns.Touched = false;
            ResetState(ns);
        }
        _touched.Clear();
    }

    /// <summary>Records that traffic entered or changed <paramref name="ns"/> (what <see cref="ResetTraffic"/> resets).</summary>
    internal void Touch(NamespaceRuntime ns)
    {
        if (ns.Touched) return;
        ns.Touched = true;
        _touched.Add(ns.Index);
    }

    private readonly List<int> _touched = new();

    /// <summary>Rules and policies counted since the last reset (each once): what <see cref="ResetTraffic"/> zeroes.</summary>
    internal readonly List<(CompiledChain Chain, int Position)> CountedRules = new();

    /// <inheritdoc cref="CountedRules"/>
    internal readonly List<CompiledChain> CountedPolicies = new();

    private int _segmentSearch;

    /// <summary>A number no earlier L2 segment search of this cluster used (marks on <see cref="DeviceRuntime"/>).</summary>
    internal int NextSegmentSearch() => ++_segmentSearch;

    /// <summary>External clients created since loading go, and the clock starts again.</summary>
    private void ForgetCreatedNamespaces()
    {
        for (int i = _touched.Count - 1; i >= 0; i--)
            if (_touched[i] >= _initialNamespaces) { _namespaces[_touched[i]].Touched = false; _touched.RemoveAt(i); }
        for (int i = _namespaces.Count - 1; i >= _initialNamespaces; i--) _byName.Remove(_namespaces[i].QualifiedName);
        if (_namespaces.Count > _initialNamespaces)
        {
            _namespaces.RemoveRange(_initialNamespaces, _namespaces.Count - _initialNamespaces);
            var gone = new List<uint>();
            foreach (var kv in _clients) if (kv.Value >= _initialNamespaces) gone.Add(kv.Key);
            foreach (var a in gone) _clients.Remove(a);
        }
        if (_underlay.Count > _initialUnderlay)
        {
            _underlay.RemoveRange(_initialUnderlay, _underlay.Count - _initialUnderlay);
            _underlayByMac.Clear();
            for (int i = 0; i < _underlay.Count; i++) IndexUnderlay(i);
        }
        NowMilliseconds = 0;
    }

    /// <summary>
    /// The dynamic state of a namespace as loading leaves it. The constructor runs this too, so a reset cluster and a fresh
    /// one start from the same code path rather than two copies that could drift apart. The plan's tables, IPVS services,
    /// permanent neighbours and FDBs are built on first use (<see cref="LoadTables"/>, <see cref="LoadIpvs"/>,
    /// <see cref="PermanentNeighbors"/>, <see cref="LoadFdb"/>): a reset returns the ones traffic changed to "not built", so
    /// they are rebuilt from the plan exactly as a fresh cluster would build them.
    /// </summary>
    private static void ResetState(NamespaceRuntime ns)
    {
        // Tables are cleared in place, not replaced: a reset after every reach pair would otherwise reallocate (and regrow)
        // every touched namespace's tables each time.
        if (ns.ConntrackIfMade is { IsUnused: false } conntrack) conntrack.Clear();
        if (ns.IpvsConnectionsIfMade is { IsUnused: false } ipvs) ipvs.Clear();
        ns.ClientSocketsIfMade?.Clear();
        ns.EphemeralCursor = ns.InitialEphemeralCursor;
        ns.NextIpId = ns.InitialIpId;
        if (ns.BodyBuilt)
            foreach (var d in ns.Devices) { d.RxPackets = d.RxBytes = d.TxPackets = d.TxBytes = 0; }
        if (ns.TablesLoaded)
        {
            foreach (var slots in ns.StatisticState) Array.Clear(slots, 0, slots.Length);
        }
        // Neighbours: only the plan's permanent entries, which traffic never changes (it learns over them).
        ns.ForgetLearnedNeighbors();
        var plan = ns.Plan;
        if (plan is null) return;
        // IPVS services that moved are rebuilt from the plan: scheduler state, weights, counters, active/inactive counts.
        if (ns.IpvsLoaded)
        {
            var services = ns.IpvsSlots;
            for (int i = 0; i < services.Length; i++)
                if (services[i] is { } s && !s.IsAsLoaded()) services[i] = null;
        }
        var nft = ns.NftBalancers.Length == plan.NftLoadBalancers.Count ? ns.NftBalancers : new NftBalancer[plan.NftLoadBalancers.Count];
        for (int i = 0; i < nft.Length; i++)
            if (nft[i] is null || nft[i].Counter != 0) nft[i] = new NftBalancer(plan.NftLoadBalancers[i]);
        ns.NftBalancers = nft;
        // FDBs: kept when none changed since loading, or when traffic only learned (what it learned is forgotten), else
        // built again on next use.
        if (ns.FdbLoaded)
            foreach (var d in ns.Devices)
                if ((d.Fdb is not null && !d.Fdb.IsAsLoaded && !d.Fdb.TryForgetTraffic())
                    || (d.VxlanFdb is not null && !d.VxlanFdb.IsAsLoaded && !d.VxlanFdb.TryForgetTraffic())) { ns.FdbLoaded = false; break; }
    }

    /// <summary>The plan's iptables tables of <paramref name="ns"/>, compiled, with their statistic-match state.</summary>
    internal static void LoadTables(NamespaceRuntime ns)
    {
        ns.TablesLoaded = true;
        if (ns.Plan is { } plan)
        {
            foreach (var t in plan.Tables)
            {
                var compiled = CompiledTable.Compile(t, ns.Owner?.CompiledMatches, ns.Owner?.CompiledBodies);
                if (ns.AttachedNetfilter is { } netfilter) compiled.Entry = netfilter.Table(ns.Node, ns.Name, compiled.Name);
                switch (t.Name)
                {
                    case "raw": ns.Raw = compiled; break;
                    case "mangle": ns.Mangle = compiled; break;
                    case "nat": ns.Nat = compiled; break;
                    case "filter": ns.Filter = compiled; break;
                }
            }
        }
        ns.StatisticState = new[] { Slots(ns.Raw), Slots(ns.Mangle), Slots(ns.Nat), Slots(ns.Filter) };
    }

    /// <summary>The plan's IPVS services of <paramref name="ns"/>, as ipvsadm's restore file adds them.</summary>
    internal static void LoadIpvs(NamespaceRuntime ns)
    {
        ns.IpvsLoaded = true;
        var plan = ns.Plan;
        if (plan is null || plan.Ipvs.Count == 0) { ns.IpvsSlots = Array.Empty<IpvsService?>(); return; }
        // Only the lookup tables now; each service is built when a packet first needs it (NamespaceRuntime.IpvsService).
        ns.IpvsSlots = new IpvsService?[plan.Ipvs.Count];
        ns.IpvsByMark = new Dictionary<uint, int>();
        ns.IpvsByAddress = new Dictionary<(uint, IpProtocol, int), int>();
        for (int i = 0; i < plan.Ipvs.Count; i++)
        {
            var s = plan.Ipvs[i];
            if (s.FwMark is int mark) { if (!ns.IpvsByMark.ContainsKey((uint)mark)) ns.IpvsByMark[(uint)mark] = i; }
            else if (s.Port is int port && !ns.IpvsByAddress.ContainsKey((s.Vip.Value, s.Protocol, port))) ns.IpvsByAddress[(s.Vip.Value, s.Protocol, port)] = i;
        }
    }

    /// <summary>
    /// The FDBs of <paramref name="ns"/>: VXLAN devices start empty, bridges with local entries for themselves and each port
    /// (br_fdb_insert of port addresses), then the plan's static entries.
    /// </summary>
    internal static void LoadFdb(NamespaceRuntime ns)
    {
        ns.FdbLoaded = true;
        var statics = ns.Plan is { } p ? VxlanStatics(ns, p) : null;
        foreach (var d in ns.Devices)
            if (d.Plan?.Vxlan is not null)
                d.VxlanFdb = statics is not null && statics.TryGetValue(d.Name, out var entries) ? new VxlanFdb(entries) : new VxlanFdb();
        foreach (var d in ns.Devices)
        {
            if (d.Kind != DeviceKind.Bridge) continue;
            d.Fdb = new BridgeFdb();
            d.Fdb.AddPermanent(d.Mac, d.Index, FdbEntryKind.Local);
            foreach (var port in d.Ports) d.Fdb.AddPermanent(ns.Devices[port].Mac, port, FdbEntryKind.Local);
        }
        if (ns.Plan is { } plan)
        {
            foreach (var f in plan.Fdb)
            {
                if (!ns.DeviceByName.TryGetValue(f.Device, out var fd)) continue;
                var dev = ns.Devices[fd];
                if (dev.VxlanFdb is not null && f.RemoteVtep is Ipv4Address) continue; // the device has it from VxlanStatics
                if (dev.Master >= 0) ns.Devices[dev.Master].Fdb?.AddPermanent(f.Mac, fd, FdbEntryKind.Static);
                else if (dev.Fdb is not null) dev.Fdb.AddPermanent(f.Mac, fd, FdbEntryKind.Local);
            }
        }
        foreach (var d in ns.Devices) { d.Fdb?.MarkLoaded(); d.VxlanFdb?.MarkLoaded(); }
        if (ns.AttachedForwarding is { } forwarding) AttachFdb(ns, forwarding);
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NamespacePlan, Dictionary<string, IReadOnlyDictionary<ulong, VxlanFdbEntry>>> VxlanStaticsByPlan = new();

    /// <summary>
    /// The static entries of each VXLAN device of a namespace (MAC → remote VTEP, the plan's last entry for a MAC), made
    /// once and shared by every simulation of the plan: an overlay namespace of a large plan has one per remote endpoint
    /// (8,387 in each of `huge`'s ingress overlays), and each reach worker's simulation copied them. Across nodes, one
    /// table serves the same namespace of every node where that is exactly its entries (<see cref="SharedVxlanStatics"/>).
    /// </summary>
    private static Dictionary<string, IReadOnlyDictionary<ulong, VxlanFdbEntry>> VxlanStatics(NamespaceRuntime ns, NamespacePlan plan) =>
        VxlanStaticsByPlan.GetValue(plan, p =>
        {
            var byDevice = new Dictionary<string, IReadOnlyDictionary<ulong, VxlanFdbEntry>>(StringComparer.Ordinal);
            foreach (var d in p.Devices)
            {
                if (d.Vxlan is null || byDevice.ContainsKey(d.Name)) continue;
                var statics = ns.Owner is { } owner && ns.Host is { } host
                    ? SharedVxlanStatics.For(owner.Plan, p, d.Name, host.UnderlayAddress.Address)
                    : SharedVxlanStatics.Table(p, d.Name);
                if (statics.Count > 0) byDevice[d.Name] = statics; // a device without any starts empty (LoadFdb)
            }
            return byDevice;
        });

    /// <summary>Gives the FDBs of <paramref name="ns"/> (loaded) their compiled permanent entries.</summary>
    private static void AttachFdb(NamespaceRuntime ns, ICompiledForwarding forwarding)
    {
        foreach (var d in ns.Devices)
        {
            if (d.Fdb is { } fdb) fdb.Compiled = forwarding.BridgeFdb(ns.Node, ns.Name, d.Name);
            if (d.VxlanFdb is { } vxlan) vxlan.Compiled = forwarding.VxlanFdb(ns.Node, ns.Name, d.Name);
        }
    }

    /// <summary>
    /// Builds now everything that is otherwise built on first use (tables, IPVS services, neighbours, FDBs of every
    /// namespace). Traffic behaves the same either way; tests use this to prove it.
    /// </summary>
    internal void LoadEverything()
    {
        foreach (var ns in _namespaces)
        {
            if (!ns.BodyBuilt) BuildBody(ns);
            if (!ns.TablesLoaded) LoadTables(ns);
            if (!ns.IpvsLoaded) LoadIpvs(ns);
            _ = ns.PermanentNeighbors;
            if (!ns.FdbLoaded) LoadFdb(ns);
        }
    }

    private static readonly Ipv4Cidr Loopback = new(Ipv4Address.Parse("127.0.0.1"), 8);

    private static uint[] Slots(CompiledTable? table) => new uint[table?.StatisticSlots ?? 0];

    private static void ResetCounters(CompiledTable? table)
    {
        if (table is null) return;
        foreach (var chain in table.Chains) chain.ClearCounters();
    }

    /// <summary>The plan.</summary>
    public DataplanePlan Plan { get; }
    /// <summary>The seed.</summary>
    public uint Seed { get; }
    /// <summary><see cref="SwarmDsl.Plan.PlanFingerprint.Compute"/> of <see cref="Plan"/> (computed on first use).</summary>
    public string PlanFingerprint => _fingerprint ??= SwarmDsl.Plan.PlanFingerprint.Compute(Plan);
    private string? _fingerprint;
    /// <summary>The simulation clock in milliseconds: conntrack, IPVS and FDB timeouts count against it.</summary>
    public long NowMilliseconds { get; set; }

    /// <summary>
    /// Removes everything whose time ran out by <see cref="NowMilliseconds"/>, as the kernel's timers and GC do:
    /// confirmed conntrack entries (gc_worker), IPVS connections (ip_vs_conn_expire), learned bridge and VXLAN FDB entries
    /// (br_fdb_cleanup, ageing_time). Returns how many entries went.
    /// </summary>
    public int Expire()
    {
        long now = NowMilliseconds;
        int n = 0;
        foreach (var ns in _namespaces)
        {
            // Only tables traffic made: asking for the others would make them.
            if (ns.ConntrackIfMade is { } conntrack) n += conntrack.Expire(now);
            if (ns.IpvsConnectionsIfMade is { } conns)
                foreach (var i in conns.All())
                    if (conns[i].ExpiresAt <= now) { ExpireIpvsConnection(ns, i); n++; }
            if (!ns.FdbLoaded) continue; // as loaded: nothing learned, nothing to expire
            foreach (var d in ns.Devices)
            {
                if (d.Fdb is not null) n += d.Fdb.Expire(now);
                if (d.VxlanFdb is not null) n += d.VxlanFdb.Expire(now);
            }
        }
        return n;
    }

    /// <summary>ip_vs_conn_expire: unhash the connection and unbind it from its real server (its active or inactive count drops).</summary>
    internal static void ExpireIpvsConnection(NamespaceRuntime ns, int index)
    {
        ref var cp = ref ns.IpvsConnections[index];
        var dest = ns.IpvsService(cp.Service).Destinations[cp.Destination];
        if (cp.Inactive) dest.InactiveConnections--;
        else dest.ActiveConnections--;
        ns.IpvsConnections.Remove(index);
    }

    /// <summary>All namespaces (hosts' in plan order, then external clients).</summary>
    public IReadOnlyList<NamespaceRuntime> Namespaces => _namespaces;
    internal List<(int Ns, int Dev)> Underlay => _underlay;

    // MAC → index in _underlay of the first member with that MAC: the underlay segment delivers by MAC, and scanning every
    // host of a 50-node cluster per frame was the largest single cost of a compiled packet's walk there.
    private readonly Dictionary<MacAddress, int> _underlayByMac = new();

    private void AddUnderlay(int ns, int dev)
    {
        _underlay.Add((ns, dev));
        IndexUnderlay(_underlay.Count - 1);
    }

    private void IndexUnderlay(int i)
    {
        var mac = _namespaces[_underlay[i].Ns].Devices[_underlay[i].Dev].Mac;
        if (!_underlayByMac.ContainsKey(mac)) _underlayByMac[mac] = i;
    }

    /// <summary>The index in <see cref="Underlay"/> of the first member whose MAC is <paramref name="mac"/>, or -1.</summary>
    internal int UnderlayIndexOf(MacAddress mac) => _underlayByMac.TryGetValue(mac, out var i) ? i : -1;

    /// <summary>
    /// Serves the netfilter tables of this cluster's namespaces from compiled code (the generator's <c>CompiledNetfilter</c>
    /// for the same plan); tables it does not compile stay interpreted. Returns how many tables it took over.
    /// </summary>
    /// <exception cref="InvalidOperationException">The code was generated from another plan (its fingerprint differs).</exception>
    public int AttachNetfilter(ICompiledNetfilter netfilter)
    {
        if (netfilter is null) throw new ArgumentNullException(nameof(netfilter));
        // Compiled rules are named by chain and rule index: code for another plan would run the wrong rules silently.
        RequireSamePlan("netfilter", netfilter.PlanFingerprint);
        // Tables not compiled yet take their entry when they are (LoadTables).
        int attached = 0;
        foreach (var ns in _namespaces)
        {
            if (ns.Plan is null) continue;
            ns.AttachedNetfilter = netfilter;
            foreach (var t in ns.Plan.Tables)
                if (t.Name is "raw" or "mangle" or "nat" or "filter" && netfilter.Table(ns.Node, ns.Name, t.Name) is not null) attached++;
            if (!ns.TablesLoaded) continue;
            foreach (var table in new[] { ns.Raw, ns.Mangle, ns.Nat, ns.Filter })
                if (table is not null) table.Entry = netfilter.Table(ns.Node, ns.Name, table.Name);
        }
        return attached;
    }

    private void RequireSamePlan(string what, string generatedFor)
    {
        var expected = PlanFingerprint;
        if (!string.Equals(generatedFor, expected, StringComparison.Ordinal))
            throw new InvalidOperationException("the compiled " + what + " was generated for plan " + generatedFor
                + ", but this cluster runs plan " + expected + ": regenerate it from the same topology (and lowering options)");
    }

    /// <summary>
    /// Serves route lookups and the permanent entries of bridge and VXLAN FDBs of this cluster's namespaces from compiled
    /// code (the generator's <c>CompiledForwarding</c> for the same plan); namespaces and devices it does not cover keep the
    /// route trie and tables. Learned FDB entries stay state either way. Returns how many route tables and FDBs it took over.
    /// </summary>
    /// <exception cref="InvalidOperationException">The code was generated from another plan (its fingerprint differs).</exception>
    public int AttachForwarding(ICompiledForwarding forwarding)
    {
        if (forwarding is null) throw new ArgumentNullException(nameof(forwarding));
        // Compiled routes are named by route index and FDB entries by port index: another plan's would forward silently wrong.
        RequireSamePlan("forwarding", forwarding.PlanFingerprint);
        int attached = 0;
        foreach (var ns in _namespaces)
        {
            if (ns.Plan is null) continue;
            ns.AttachedForwarding = forwarding;
            ns.CompiledRoutes = forwarding.Routes(ns.Node, ns.Name);
            if (ns.CompiledRoutes is not null) attached++;
            // FDBs not built yet take theirs when they are (LoadFdb); counted from the plan's devices, so namespaces whose
            // devices are not built yet stay unbuilt.
            foreach (var d in ns.Plan.Devices)
            {
                if (d.Kind == DeviceKind.Bridge && forwarding.BridgeFdb(ns.Node, ns.Name, d.Name) is not null) attached++;
                if (d.Vxlan is not null && forwarding.VxlanFdb(ns.Node, ns.Name, d.Name) is not null) attached++;
            }
            if (ns.FdbLoaded) AttachFdb(ns, forwarding);
        }
        return attached;
    }

    /// <summary>A namespace by <c>node/name</c>.</summary>
    public NamespaceRuntime? Namespace(string node, string name) => _byName.TryGetValue(node + "/" + name, out var i) ? _namespaces[i] : null;

    internal NamespaceRuntime this[int index] => _namespaces[index];

    /// <summary>The external client namespace with address <paramref name="address"/> on the underlay, created on first use.</summary>
    public NamespaceRuntime ExternalClient(Ipv4Address address)
    {
        if (_clients.TryGetValue(address.Value, out var existing)) return _namespaces[existing];
        var name = "client-" + address;
        var ns = new NamespaceRuntime(_namespaces.Count, "external", name, NamespaceKind.Host, null, SourceSpan.None) { IsExternalClient = true };
        ns.StartBody();
        ns.IpForward = false;
        _namespaces.Add(ns);
        _byName[ns.QualifiedName] = ns.Index;
        _clients[address.Value] = ns.Index;
        var lo = new DeviceRuntime(ns, 0, "lo", DeviceKind.Loopback, 65536, MacAddress.Zero, SourceSpan.None, null) { Addresses = new[] { new Ipv4Cidr(Ipv4Address.Parse("127.0.0.1"), 8) } };
        var subnet = Plan.Underlay.Subnet;
        var cidr = new Ipv4Cidr(address, subnet.Contains(address) ? subnet.PrefixLength : 32);
        var eth = new DeviceRuntime(ns, 1, "eth0", DeviceKind.Physical, Plan.Underlay.Mtu, DerivedMac("external/" + address), SourceSpan.None, null)
        {
            Addresses = new[] { cidr },
            OnUnderlay = true,
        };
        ns.Devices = new[] { lo, eth };
        ns.DeviceByName["lo"] = 0;
        ns.DeviceByName["eth0"] = 1;
        ns.LocalAddresses[address.Value] = 1;
        ns.LocalAddresses[Ipv4Address.Parse("127.0.0.1").Value] = 0;
        AddRoute(ns, new RoutePlan(subnet.Subnet, null, "eth0", address, RouteOrigin.Kernel, SourceSpan.None));
        if (!subnet.Contains(address)) AddRoute(ns, new RoutePlan(new Ipv4Cidr(Ipv4Address.Any, 0), null, "eth0", address, RouteOrigin.Kernel, SourceSpan.None));
        ns.EphemeralCursor = ns.InitialEphemeralCursor = (int)(Hashing.KernelHash.Jhash1Word(address.Value, Seed) % (uint)(Packets.VxlanCodec.LocalPortRangeMax - Packets.VxlanCodec.LocalPortRangeMin + 1));
        AddUnderlay(ns.Index, 1);
        return ns;
    }

    /// <summary>FNV-1a of a name: a key that depends on the name alone.</summary>
    private static uint NameKey(string name)
    {
        uint h = 2166136261u;
        foreach (var ch in name) { h ^= ch; h *= 16777619u; }
        return h;
    }

    /// <summary>A locally administered unicast MAC derived from a stable name (for devices the kernel gives random MACs).</summary>
    public static MacAddress DerivedMac(string key)
    {
        ulong h = 14695981039346656037UL;
        foreach (var ch in key) { h ^= ch; h *= 1099511628211UL; }
        return new MacAddress(0x02_00_00_00_00_00UL | (h & 0x00_FF_FF_FF_FF_FFUL));
    }

    /// <summary>
    /// Builds a plan namespace's devices, addresses, routes, listeners and sysctls and links its devices (bridge ports,
    /// veth peers, VXLAN sockets), exactly as loading everything at once would: run on its first use.
    /// </summary>
    internal void BuildBody(NamespaceRuntime ns)
    {
        var host = ns.Host!;
        var plan = ns.Plan!;
        var hostNs = ns.HostNamespace;
        ns.StartBody(plan.Addresses.Count + 2);

        var devices = new List<DeviceRuntime>();
        bool hasLo = false;
        foreach (var d in plan.Devices) if (d.Kind == DeviceKind.Loopback) hasLo = true;
        if (!hasLo)
        {
            // Every namespace has lo even when the plan does not list it.
            devices.Add(new DeviceRuntime(ns, 0, "lo", DeviceKind.Loopback, 65536, MacAddress.Zero, plan.Span, null));
        }
        foreach (var d in plan.Devices)
        {
            var mac = d.Mac ?? (d.Kind == DeviceKind.Loopback ? MacAddress.Zero : DerivedMac(host.Node + "/" + plan.Name + "/" + d.Name));
            devices.Add(new DeviceRuntime(ns, devices.Count, d.Name, d.Kind, d.Mtu, mac, d.Span, d));
        }
        bool listed = false;
        foreach (var d in plan.Devices) if (d.Name == host.UnderlayInterface) listed = true;
        if (plan.Kind == NamespaceKind.Host && !listed)
        {
            // The underlay interface pre-exists; the plan may leave it out.
            devices.Add(new DeviceRuntime(ns, devices.Count, host.UnderlayInterface, DeviceKind.Physical, Plan.Underlay.Mtu,
                DerivedMac(host.Node + "/host/" + host.UnderlayInterface), host.Span, null));
        }
        ns.Devices = devices.ToArray();
        foreach (var d in ns.Devices) ns.DeviceByName[d.Name] = d.Index;

        // Addresses, in plan order; the underlay address too when the plan does not list it. An ingress sandbox of a large
        // plan holds a VIP per published service (hundreds on one device): the local-address table is sized from the plan.
        var addrs = new Dictionary<int, List<Ipv4Cidr>>();
        void AddAddress(int dev, Ipv4Cidr a)
        {
            if (!addrs.TryGetValue(dev, out var l)) addrs[dev] = l = new List<Ipv4Cidr>();
            l.Add(a);
            if (!ns.LocalAddresses.ContainsKey(a.Address.Value)) ns.LocalAddresses[a.Address.Value] = dev;
        }
        AddAddress(ns.DeviceByName["lo"], Loopback);
        foreach (var a in plan.Addresses)
            if (ns.DeviceByName.TryGetValue(a.Device, out var di)) AddAddress(di, a.Address);
        if (plan.Kind == NamespaceKind.Host && ns.DeviceByName.TryGetValue(host.UnderlayInterface, out var ui))
        {
            if (!ns.LocalAddresses.ContainsKey(host.UnderlayAddress.Address.Value)) AddAddress(ui, host.UnderlayAddress);
            ns.Devices[ui].OnUnderlay = true;
            AddUnderlay(ns.Index, ui);
        }
        foreach (var kv in addrs) ns.Devices[kv.Key].Addresses = kv.Value.ToArray();

        // Routes: the plan's main table; connected routes for the underlay address when the plan has none.
        foreach (var r in plan.Routes) AddRoute(ns, r);
        if (plan.Kind == NamespaceKind.Host)
        {
            var sub = host.UnderlayAddress.Subnet;
            bool have = false;
            foreach (var r in plan.Routes) if (r.Destination.Subnet == sub) have = true;
            if (!have) AddRoute(ns, new RoutePlan(sub, null, host.UnderlayInterface, host.UnderlayAddress.Address, RouteOrigin.Kernel, host.Span));
        }

        // Tables, IPVS services, neighbours and FDBs are built on first use (LoadTables, LoadIpvs, ...).
        foreach (var l in plan.Listeners) ns.Listeners[NamespaceRuntime.SocketKey(l.Protocol, l.Port)] = l;

        // sysctls: ip_forward is inherited from the host namespace (devconf_inherit_init_net=0) unless set here.
        bool? forward = null, vsConntrack = null;
        SourceSpan? forwardSpan = null;
        foreach (var s in plan.Sysctls)
        {
            switch (s.Key)
            {
                case "net.ipv4.ip_forward": forward = s.Value.Trim() == "1"; forwardSpan = s.Span; break;
                case "net.ipv4.conf.all.forwarding": forward = s.Value.Trim() == "1"; forwardSpan = s.Span; break;
                case "net.ipv4.vs.conntrack": vsConntrack = s.Value.Trim() == "1"; break;
                case "net.bridge.bridge-nf-call-iptables": ns.BridgeNetfilter = s.Value.Trim() == "1"; break;
                default:
                    DeviceSysctl(ns, s.Key, s.Value.Trim());
                    break;
            }
        }
        ns.IpForward = forward ?? (hostNs?.IpForward ?? false);
        ns.IpForwardSpan = forwardSpan ?? (forward is null && hostNs is not null ? hostNs.IpForwardSpan : plan.Span);
        ns.ConntrackEnabled = plan.Tables.Count > 0 || plan.Ipvs.Count > 0 || plan.NftLoadBalancers.Count > 0;
        ns.IpvsConntrack = vsConntrack ?? false;

        LinkDevices(ns);
    }

    /// <summary>
    /// Whether the simulation models a sysctl (what <c>LoadBody</c> and <see cref="DeviceSysctl"/> read): forwarding,
    /// <c>bridge-nf-call-iptables</c>, <c>vs.conntrack</c> and per device <c>route_localnet</c>, <c>arp_ignore</c>,
    /// <c>arp_announce</c>. Any other is provisioned by emit but changes nothing in a walk.
    /// </summary>
    internal static bool ModelsSysctl(string key)
    {
        switch (key)
        {
            case "net.ipv4.ip_forward":
            case "net.ipv4.conf.all.forwarding":
            case "net.ipv4.vs.conntrack":
            case "net.bridge.bridge-nf-call-iptables":
                return true;
        }
        return ModelsDeviceSysctl(key, out _, out _);
    }

    /// <summary>
    /// Whether <paramref name="key"/> is a per-device setting the simulation models,
    /// <c>net.ipv4.conf.{all,DEV}.{route_localnet,arp_ignore,arp_announce}</c>, and which device (or <c>all</c>) and setting.
    /// </summary>
    internal static bool ModelsDeviceSysctl(string key, out string device, out string setting)
    {
        const string prefix = "net.ipv4.conf.";
        device = setting = "";
        if (!key.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int dot = key.LastIndexOf('.');
        if (dot <= prefix.Length) return false;
        device = key.Substring(prefix.Length, dot - prefix.Length);
        setting = key.Substring(dot + 1);
        return setting is "route_localnet" or "arp_ignore" or "arp_announce";
    }

    /// <summary>
    /// Whether a sysctl the simulation does not model could still change where a packet goes: ICMP answers, per-device
    /// IPv4 behaviour (rp_filter, proxy_arp, …), local ports and binding, neighbours, routes, IPVS, bridge netfilter and
    /// conntrack. Buffer sizes, queues and TCP tuning (<c>net.core.*</c>, <c>net.ipv4.tcp_*</c>) do not.
    /// </summary>
    internal static bool MayChangeAWalk(string key)
    {
        foreach (var prefix in WalkSysctlPrefixes)
            if (key.StartsWith(prefix, StringComparison.Ordinal)) return !ModelsSysctl(key);
        return false;
    }

    private static readonly string[] WalkSysctlPrefixes =
    {
        "net.ipv4.icmp_", "net.ipv4.conf.", "net.ipv4.ip_", "net.ipv4.neigh.", "net.ipv4.route.", "net.ipv4.vs.", "net.bridge.", "net.netfilter.",
    };

    /// <summary><c>net.ipv4.conf.{all,DEV}.{route_localnet,arp_ignore,arp_announce}</c>.</summary>
    private static void DeviceSysctl(NamespaceRuntime ns, string key, string value)
    {
        if (!ModelsDeviceSysctl(key, out var dev, out var name)) return;
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n);
        foreach (var d in ns.Devices)
        {
            if (dev != "all" && d.Name != dev) continue;
            switch (name)
            {
                case "route_localnet": if (dev != "all") d.RouteLocalnet = n == 1; break;
                case "arp_ignore": d.ArpIgnore = Math.Max(d.ArpIgnore, n); break;
                case "arp_announce": d.ArpAnnounce = Math.Max(d.ArpAnnounce, n); break;
            }
        }
    }

    private static void AddRoute(NamespaceRuntime ns, RoutePlan r)
    {
        if (ns.RouteTrie.Add(r.Destination.Subnet, ns.Routes.Count)) ns.Routes.Add(r);
    }

    // A device's MAC as BuildBody gives it, if it is a plain device (not a bridge, no master): null otherwise, or when
    // the plan does not list it. Read from the plan, so the namespace is not built for it; the last of equal names, as
    // DeviceIndex.
    private static MacAddress? PlainMac(NamespaceRuntime ns, string name)
    {
        var found = PlanDevice(ns, name) is int i ? ns.Plan!.Devices[i] : null;
        if (found is null || found.Kind is DeviceKind.Bridge or DeviceKind.Loopback || found.Master is not null) return null;
        return found.Mac ?? DerivedMac(ns.Host!.Node + "/" + ns.Plan!.Name + "/" + found.Name);
    }

    // Veth peers, bridge masters and ports, VXLAN sockets of one namespace. A peer in a namespace not built yet is named by
    // its index in that namespace's plan, so linking never builds another namespace.
    private void LinkDevices(NamespaceRuntime ns)
    {
        foreach (var d in ns.Devices)
        {
            var p = d.Plan;
            if (p is null) continue;
            if (p.Master is string master && ns.DeviceByName.TryGetValue(master, out var mi)) d.Master = mi;
            if (p.Peer is VethPeer peer && _byName.TryGetValue(ns.Node + "/" + peer.Namespace, out var pn))
            {
                int pd = DeviceIndex(_namespaces[pn], peer.Device);
                if (pd >= 0)
                {
                    d.PeerNamespace = pn;
                    d.PeerDevice = pd;
                    d.PeerPlainMac = PlainMac(_namespaces[pn], peer.Device);
                }
            }
            if (p.Vxlan is VxlanPlan vx && _byName.TryGetValue(ns.Node + "/" + vx.CreatedIn, out var sn)) d.VxlanSocketNamespace = sn;
        }
        foreach (var d in ns.Devices)
        {
            if (d.Kind != DeviceKind.Bridge) continue;
            var ports = new List<int>();
            foreach (var q in ns.Devices) if (q.Master == d.Index) ports.Add(q.Index);
            d.Ports = ports.ToArray();
        }
    }

    // The VXLAN devices each socket namespace's UDP port delivers to, for every namespace at load (the host must know them
    // before any overlay namespace is built), in namespace and device order.
    private void RegisterVxlanSockets()
    {
        foreach (var ns in _namespaces)
        {
            var plan = ns.Plan!;
            int offset = -1; // BuildBody puts lo first when the plan has none
            for (int i = 0; i < plan.Devices.Count; i++)
            {
                if (plan.Devices[i].Vxlan is not VxlanPlan vx || !_byName.TryGetValue(ns.Node + "/" + vx.CreatedIn, out var sn)) continue;
                if (offset < 0) offset = HasLoopback(plan) ? 0 : 1;
                var sockets = _namespaces[sn].VxlanSockets;
                if (!sockets.TryGetValue(vx.DstPort, out var list)) sockets[vx.DstPort] = list = new List<(int, int)>();
                list.Add((ns.Index, offset + i));
            }
        }
    }

    private static bool HasLoopback(NamespacePlan plan)
    {
        foreach (var d in plan.Devices) if (d.Kind == DeviceKind.Loopback) return true;
        return false;
    }

    /// <summary>
    /// The index <paramref name="name"/> has (or will have) in <paramref name="ns"/>'s devices, -1 if none: BuildBody's order
    /// (lo when the plan has none, the plan's devices, the host's underlay interface when the plan leaves it out), the last
    /// of equal names winning as in DeviceByName.
    /// </summary>
    private static int DeviceIndex(NamespaceRuntime ns, string name)
    {
        if (ns.BodyBuilt) return ns.DeviceByName.TryGetValue(name, out var built) ? built : -1;
        var plan = ns.Plan!;
        int offset = HasLoopback(plan) ? 0 : 1, found = offset == 1 && name == "lo" ? 0 : -1;
        if (PlanDevice(ns, name) is int i) found = offset + i;
        // A host's underlay interface the plan does not list comes after its devices.
        else if (plan.Kind == NamespaceKind.Host && name == ns.Host!.UnderlayInterface) found = offset + plan.Devices.Count;
        return found;
    }

    // The position of the last device of that name in the namespace's plan. Indexed once per namespace: every task's leg
    // names its peer in the overlay or bridge namespace, which holds a leg per task, and scanning it for each task made a
    // trace on a node with 20,000 tasks take quadratic time.
    private static int? PlanDevice(NamespaceRuntime ns, string name)
    {
        var index = ns.PlanDeviceIndex;
        if (index is null)
        {
            var devices = ns.Plan!.Devices;
            index = new Dictionary<string, int>(devices.Count, StringComparer.Ordinal);
            for (int i = 0; i < devices.Count; i++) index[devices[i].Name] = i; // the last of a name wins, as the scan did
            ns.PlanDeviceIndex = index;
        }
        return index.TryGetValue(name, out var at) ? at : null;
    }

    /// <summary>Names for error messages.</summary>
    internal static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
