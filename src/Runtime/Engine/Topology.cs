using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Ipvs;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Runtime.Routing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

/// <summary>A device with its precomputed lookup state.</summary>
public sealed class DeviceRuntime
{
    internal DeviceRuntime(NamespaceRuntime ns, int index, string name, DeviceKind kind, int mtu, MacAddress mac, SourceSpan span, DevicePlan? plan)
    {
        Namespace = ns;
        Index = index;
        Name = name;
        Kind = kind;
        Mtu = mtu;
        Mac = mac;
        Span = span;
        Plan = plan;
    }

    /// <summary>The namespace.</summary>
    public NamespaceRuntime Namespace { get; }
    /// <summary>Index in the namespace.</summary>
    public int Index { get; }
    /// <summary>Name.</summary>
    public string Name { get; }
    /// <summary>Kind.</summary>
    public DeviceKind Kind { get; }
    /// <summary>MTU.</summary>
    public int Mtu { get; }
    /// <summary>MAC (from the plan, or derived stably from node/namespace/name when the kernel would pick a random one).</summary>
    public MacAddress Mac { get; }
    /// <summary>Declaration.</summary>
    public SourceSpan Span { get; }
    /// <summary>The plan element (null for synthesised devices such as the external client's).</summary>
    public DevicePlan? Plan { get; }
    /// <summary>The bridge this device is a port of (-1: none).</summary>
    public int Master { get; internal set; } = -1;
    /// <summary>Veth peer namespace (global index) and device.</summary>
    public int PeerNamespace { get; internal set; } = -1;
    /// <summary>Veth peer device index.</summary>
    public int PeerDevice { get; internal set; } = -1;
    /// <summary>
    /// For a veth whose peer is a plain device (no bridge behind it): the peer's MAC, known from the plan without building
    /// the peer's namespace (a flood on a bridge with dozens of containers' ports would otherwise build every container).
    /// </summary>
    public MacAddress? PeerPlainMac { get; internal set; }
    /// <summary>For a bridge: its ports.</summary>
    public int[] Ports { get; internal set; } = Array.Empty<int>();

    /// <summary>
    /// The last L2 segment search (<see cref="Cluster.NextSegmentSearch"/>) that reached this device transmitting, and
    /// receiving: a search marks what it saw here instead of in a set it would clear for every bridge port it floods to.
    /// </summary>
    internal int SegmentSeenTransmit, SegmentSeenReceive;
    /// <summary>For a bridge: its FDB (its namespace's FDBs are built on first use, see <see cref="Cluster"/>).</summary>
    public BridgeFdb? Fdb
    {
        get { if (!Namespace.FdbLoaded) Cluster.LoadFdb(Namespace); return _fdb; }
        internal set => _fdb = value;
    }
    /// <summary>For a VXLAN device: its FDB (built on first use, as <see cref="Fdb"/>).</summary>
    public VxlanFdb? VxlanFdb
    {
        get { if (!Namespace.FdbLoaded) Cluster.LoadFdb(Namespace); return _vxlanFdb; }
        internal set => _vxlanFdb = value;
    }
    private BridgeFdb? _fdb;
    private VxlanFdb? _vxlanFdb;
    /// <summary>For a VXLAN device: the namespace owning its UDP socket (global index).</summary>
    public int VxlanSocketNamespace { get; internal set; } = -1;
    /// <summary>Addresses in the order added.</summary>
    public Ipv4Cidr[] Addresses { get; internal set; } = Array.Empty<Ipv4Cidr>();
    /// <summary>Whether this is a host's underlay interface (or the external client's).</summary>
    public bool OnUnderlay { get; internal set; }
    /// <summary><c>net.ipv4.conf.DEV.route_localnet</c>.</summary>
    public bool RouteLocalnet { get; internal set; }
    /// <summary><c>arp_ignore</c> (the larger of <c>all</c> and the device's): ≥ 1 answers only for addresses on this device.</summary>
    public int ArpIgnore { get; internal set; }
    /// <summary><c>arp_announce</c> (the larger of <c>all</c> and the device's): ≥ 1 never announces an off-subnet source.</summary>
    public int ArpAnnounce { get; internal set; }

    /// <summary>Frames the device received (<c>rx_packets</c>): counted where the walker takes a frame in on it.</summary>
    public long RxPackets { get; internal set; }
    /// <summary>Bytes (whole frames) the device received (<c>rx_bytes</c>).</summary>
    public long RxBytes { get; internal set; }
    /// <summary>Frames handed to the device for transmission (<c>tx_packets</c>).</summary>
    public long TxPackets { get; internal set; }
    /// <summary>Bytes (whole frames) handed to the device for transmission (<c>tx_bytes</c>).</summary>
    public long TxBytes { get; internal set; }

    /// <summary><c>node/namespace/device</c>, the pcapng interface name.</summary>
    public string QualifiedName => Namespace.QualifiedName + "/" + Name;
}

/// <summary>A network namespace with its tables, connection state and precomputed lookups.</summary>
public sealed class NamespaceRuntime
{
    internal NamespaceRuntime(int index, string node, string name, NamespaceKind kind, NamespacePlan? plan, SourceSpan span)
    {
        Index = index;
        Node = node;
        Name = name;
        Kind = kind;
        Plan = plan;
        Span = span;
    }

    /// <summary>Global index.</summary>
    public int Index { get; }
    /// <summary>The node (<c>external</c> for clients).</summary>
    public string Node { get; }
    /// <summary>The namespace name.</summary>
    public string Name { get; }
    /// <summary>Kind.</summary>
    public NamespaceKind Kind { get; }
    /// <summary>Whether this is a synthesised external client.</summary>
    public bool IsExternalClient { get; internal set; }

    /// <summary>Traffic entered or changed this namespace since the last reset (see <see cref="Cluster.ResetTraffic"/>).</summary>
    internal bool Touched;
    /// <summary>The plan (null for external clients).</summary>
    public NamespacePlan? Plan { get; }
    /// <summary>Declaration.</summary>
    public SourceSpan Span { get; }
    // Devices, addresses, routes, listeners and sysctls (the "body") are built on first use by the cluster that made the
    // namespace (Cluster.BuildBody): a large plan has ~11,000 namespaces and a simulation's traffic reaches a few of them.
    internal Cluster? Owner;
    internal bool BodyBuilt;
    // Plan device name → position in the plan (Cluster.PlanDevice), made on first use.
    internal Dictionary<string, int>? PlanDeviceIndex;
    // The host plan, and the node's host namespace when it comes earlier in the plan (ip_forward is inherited from it).
    internal HostPlan? Host;
    internal NamespaceRuntime? HostNamespace;
    private void EnsureBody()
    {
        if (!BodyBuilt) Owner!.BuildBody(this);
    }

    /// <summary>Devices in plan order.</summary>
    public DeviceRuntime[] Devices { get { EnsureBody(); return _devices; } internal set => _devices = value; }
    private DeviceRuntime[] _devices = Array.Empty<DeviceRuntime>();
    internal Dictionary<string, int> DeviceByName { get { EnsureBody(); return _deviceByName; } }
    internal PrefixTrie<int> RouteTrie { get { EnsureBody(); return _routeTrie; } }
    internal List<RoutePlan> Routes { get { EnsureBody(); return _routes; } }
    internal Dictionary<uint, int> LocalAddresses { get { EnsureBody(); return _localAddresses; } }
    private Dictionary<string, int> _deviceByName = null!;
    private PrefixTrie<int> _routeTrie = null!;
    private List<RoutePlan> _routes = null!;
    private Dictionary<uint, int> _localAddresses = null!;
    private Dictionary<int, ListenerPlan> _listeners = null!;

    /// <summary>Allocates the body's tables (the cluster fills them): now for external clients, on first use for the rest.</summary>
    internal void StartBody(int addresses = 0)
    {
        BodyBuilt = true;
        _deviceByName = new Dictionary<string, int>(StringComparer.Ordinal);
        _routeTrie = new PrefixTrie<int>();
        _routes = new List<RoutePlan>();
        _localAddresses = new Dictionary<uint, int>(addresses);
        _listeners = new Dictionary<int, ListenerPlan>();
    }
    // The plan's permanent entries: an index built on first use and shared by every simulation of the plan
    // (PermanentNeighbors); what traffic learns goes over them, in a table of its own that a reset empties.
    internal PermanentNeighbors? PermanentNeighborIndex;
    private Dictionary<NeighborKey, NeighborEntry>? _learnedNeighbors;

    /// <summary>The plan's permanent entries (the index found or built on first use).</summary>
    internal PermanentNeighbors PermanentNeighbors => PermanentNeighborIndex ??= Engine.PermanentNeighbors.For(this);

    /// <summary>The entry for <paramref name="key"/>: one traffic learned, else the plan's permanent one.</summary>
    internal bool TryGetNeighbor(NeighborKey key, out NeighborEntry entry)
    {
        if (_learnedNeighbors is { Count: > 0 } learned && learned.TryGetValue(key, out entry)) return true;
        return PermanentNeighbors.TryGet(key, out entry);
    }

    /// <summary>Caches a neighbour traffic resolved (ARP); it hides a permanent entry of the same key until a reset.</summary>
    internal void LearnNeighbor(NeighborKey key, NeighborEntry entry) => (_learnedNeighbors ??= new Dictionary<NeighborKey, NeighborEntry>())[key] = entry;

    /// <summary>Forgets what traffic learned: the table is the plan's again.</summary>
    internal void ForgetLearnedNeighbors() => _learnedNeighbors?.Clear();

    /// <summary>The neighbour table as <c>ip neigh</c> would list it: the plan's entries with what traffic learned over them.</summary>
    internal Dictionary<NeighborKey, NeighborEntry> NeighborTable()
    {
        var table = new Dictionary<NeighborKey, NeighborEntry>();
        foreach (var kv in PermanentNeighbors) table[kv.Key] = kv.Value;
        if (_learnedNeighbors is not null) foreach (var kv in _learnedNeighbors) table[kv.Key] = kv.Value;
        return table;
    }

    // The connection tables and sockets are made on first use: a large plan has ~11,000 namespaces per simulation, a question
    // sends traffic through a few hundred, and every object made for the others lived as long as the simulation.

    /// <summary>The connection table.</summary>
    public ConntrackTable Conntrack => ConntrackIfMade ??= new ConntrackTable();
    /// <summary>The connection table if anything asked for it (null: never, so it is as new).</summary>
    internal ConntrackTable? ConntrackIfMade { get; private set; }
    /// <summary>IPVS services, in the plan's order (each built from the plan on first use, see <see cref="Cluster"/>).</summary>
    public IpvsService[] IpvsServices
    {
        get
        {
            var slots = IpvsSlots;
            for (int i = 0; i < slots.Length; i++) slots[i] ??= new IpvsService(Plan!.Ipvs[i]);
            return slots!;
        }
    }

    /// <summary>
    /// The IPVS services built so far (null: not yet, or returned to the plan's by a reset). A task's sandbox on a large
    /// plan holds a service per VIP it can reach, and a probe uses one: each is built when a packet first needs it.
    /// </summary>
    internal IpvsService?[] IpvsSlots
    {
        get { if (!IpvsLoaded) Cluster.LoadIpvs(this); return _ipvs; }
        set => _ipvs = value;
    }
    private IpvsService?[] _ipvs = Array.Empty<IpvsService?>();

    /// <summary>How many IPVS services the plan gives this namespace (without building any).</summary>
    internal int IpvsCount => Plan?.Ipvs.Count ?? 0;

    /// <summary>The IPVS service at <paramref name="index"/>, built from the plan if it is not yet.</summary>
    internal IpvsService IpvsService(int index)
    {
        var slots = IpvsSlots;
        return slots[index] ??= new IpvsService(Plan!.Ipvs[index]);
    }

    /// <summary>ip_vs_service_find's tables: fwmark services by mark, the others by (VIP, protocol, port); first added wins.</summary>
    internal Dictionary<uint, int> IpvsByMark = NoIpvsMarks;
    internal Dictionary<(uint Vip, IpProtocol Protocol, int Port), int> IpvsByAddress = NoIpvsAddresses;
    // Shared by the many namespaces without IPVS, never written: loading gives a namespace with services its own tables.
    private static readonly Dictionary<uint, int> NoIpvsMarks = new();
    private static readonly Dictionary<(uint, IpProtocol, int), int> NoIpvsAddresses = new();
    /// <summary>IPVS connections.</summary>
    public IpvsConnectionTable IpvsConnections => IpvsConnectionsIfMade ??= new IpvsConnectionTable();
    /// <summary>The IPVS connection table if anything asked for it (null: never, so it is as new).</summary>
    internal IpvsConnectionTable? IpvsConnectionsIfMade { get; private set; }
    internal NftBalancer[] NftBalancers { get; set; } = Array.Empty<NftBalancer>();
    // The iptables tables and their statistic-match state, compiled on first use (see Cluster).
    internal CompiledTable? Raw { get { if (!TablesLoaded) Cluster.LoadTables(this); return _raw; } set => _raw = value; }
    internal CompiledTable? Mangle { get { if (!TablesLoaded) Cluster.LoadTables(this); return _mangle; } set => _mangle = value; }
    internal CompiledTable? Nat { get { if (!TablesLoaded) Cluster.LoadTables(this); return _nat; } set => _nat = value; }
    internal CompiledTable? Filter { get { if (!TablesLoaded) Cluster.LoadTables(this); return _filter; } set => _filter = value; }
    private CompiledTable? _raw, _mangle, _nat, _filter;
    internal uint[][] StatisticState
    {
        get { if (!TablesLoaded) Cluster.LoadTables(this); return _statisticState; }
        set => _statisticState = value;
    }
    private uint[][] _statisticState = Array.Empty<uint[]>();
    /// <summary>The compiled netfilter attached to the cluster (<see cref="Cluster.AttachNetfilter"/>), for tables compiled later.</summary>
    internal ICompiledNetfilter? AttachedNetfilter;
    /// <summary>The compiled forwarding attached to the cluster (<see cref="Cluster.AttachForwarding"/>), for FDBs built later.</summary>
    internal ICompiledForwarding? AttachedForwarding;
    /// <summary>The generated main-table decision (<see cref="ICompiledForwarding.Routes"/>), used instead of <see cref="RouteTrie"/> when set.</summary>
    internal CompiledRouteLookup? CompiledRoutes;
    internal Dictionary<int, ListenerPlan> Listeners { get { EnsureBody(); return _listeners; } }
    internal Dictionary<int, ClientSocket> ClientSockets => ClientSocketsIfMade ??= new Dictionary<int, ClientSocket>();
    internal Dictionary<int, ClientSocket>? ClientSocketsIfMade { get; private set; }
    internal Dictionary<int, List<(int Ns, int Dev)>> VxlanSockets => _vxlanSockets ??= new Dictionary<int, List<(int Ns, int Dev)>>();
    private Dictionary<int, List<(int Ns, int Dev)>>? _vxlanSockets;
    /// <summary>The VXLAN sockets' table for readers: null when the namespace has none (reading does not make it).</summary>
    internal Dictionary<int, List<(int Ns, int Dev)>>? VxlanSocketsIfMade => _vxlanSockets;
    /// <summary>Whether conntrack hooks are registered here: some table, IPVS service or nftables balancer needs them (nf_ct_netns_get).</summary>
    public bool ConntrackEnabled { get { EnsureBody(); return _conntrackEnabled; } internal set => _conntrackEnabled = value; }
    /// <summary><c>net.bridge.bridge-nf-call-iptables</c>: bridged IPv4 frames traverse iptables (br_netfilter).</summary>
    public bool BridgeNetfilter { get { EnsureBody(); return _bridgeNetfilter; } internal set => _bridgeNetfilter = value; }
    /// <summary><c>net.ipv4.ip_forward</c>.</summary>
    public bool IpForward { get { EnsureBody(); return _ipForward; } internal set => _ipForward = value; }
    /// <summary>The sysctl that set <see cref="IpForward"/> (here, or in the node's host namespace it inherits from); the namespace's declaration when none did.</summary>
    internal SourceSpan IpForwardSpan { get; set; }
    /// <summary><c>net.ipv4.vs.conntrack</c>.</summary>
    public bool IpvsConntrack { get { EnsureBody(); return _ipvsConntrack; } internal set => _ipvsConntrack = value; }
    private bool _conntrackEnabled, _bridgeNetfilter, _ipForward, _ipvsConntrack;
    internal int EphemeralCursor;
    internal ushort NextIpId;
    // What the two counters above start at, for Cluster.Reset.
    internal int InitialEphemeralCursor;
    internal ushort InitialIpId;
    // What is built lazily, on first use: a large plan has thousands of namespaces, and a simulation's traffic reaches a
    // few of them. Cluster.Reset also returns built parts to "not built" when traffic changed them.
    // Whether the FDBs, IPVS services and tables were built.
    internal bool FdbLoaded;
    internal bool IpvsLoaded;
    internal bool TablesLoaded;

    /// <summary><c>manager/host</c>.</summary>
    public string QualifiedName => Node + "/" + Name;

    /// <summary>A device by name.</summary>
    public DeviceRuntime? Device(string name) => DeviceByName.TryGetValue(name, out var i) ? Devices[i] : null;

    // Route index → output device index (-1: the route names no device here), and the loopback device: resolved once,
    // because hashing a device name on every route lookup was a visible share of a packet's walk.
    private int[] _routeDevices = Array.Empty<int>();
    private int _loopback = -1;

    /// <summary>The output device index of route <paramref name="route"/> (index into <see cref="Routes"/>), or -1.</summary>
    internal int RouteDevice(int route)
    {
        if (_routeDevices.Length != Routes.Count)
        {
            var devices = new int[Routes.Count];
            for (int i = 0; i < devices.Length; i++) devices[i] = DeviceByName.TryGetValue(Routes[i].Device, out var d) ? d : -1;
            _routeDevices = devices;
        }
        return _routeDevices[route];
    }

    /// <summary>The index of <c>lo</c> (0 when the namespace has none).</summary>
    internal int LoopbackDevice => _loopback >= 0 ? _loopback : _loopback = DeviceByName.TryGetValue("lo", out var lo) ? lo : 0;

    /// <summary>Whether <paramref name="address"/> is local here (an address on a device, any /32 alias, or 127/8).</summary>
    public bool IsLocal(Ipv4Address address) => address.IsLoopback || LocalAddresses.ContainsKey(address.Value);

    /// <summary>The first non-loopback address, or null.</summary>
    public Ipv4Address? PrimaryAddress()
    {
        foreach (var d in Devices)
            if (d.Kind != DeviceKind.Loopback && d.Addresses.Length > 0) return d.Addresses[0].Address;
        return null;
    }

    internal static int SocketKey(IpProtocol protocol, int port) => ((int)protocol << 16) | port;
}

/// <summary>A connected client socket: who owns it and the remote end it talks to (TCP/UDP demux by the 4-tuple).</summary>
internal readonly struct ClientSocket
{
    public ClientSocket(string owner, Ipv4Address remote, int remotePort) { Owner = owner; Remote = remote; RemotePort = remotePort; }
    public readonly string Owner;
    public readonly Ipv4Address Remote;
    public readonly int RemotePort;
}

internal readonly struct NeighborKey : IEquatable<NeighborKey>
{
    public NeighborKey(int device, Ipv4Address address) { Device = device; Address = address.Value; }
    public readonly int Device;
    public readonly uint Address;
    public bool Equals(NeighborKey o) => Device == o.Device && Address == o.Address;
    public override bool Equals(object? obj) => obj is NeighborKey k && Equals(k);
    public override int GetHashCode() => unchecked((int)(Address * 0x9E3779B1u) ^ Device);
}

/// <summary>
/// A namespace plan's permanent neighbour entries, indexed by the runtime's (device index, address) key. Built once per
/// plan namespace and shared by every simulation of the plan, read-only after that: an overlay namespace of a large plan
/// holds an entry for every remote endpoint (8,387 on each of 100 nodes), and each simulation (one per reach worker)
/// copied them into its own table when a packet first passed. Across nodes, the first node's index serves the same
/// namespace of the others as a view, as the VXLAN FDBs do (<see cref="Bridging.SharedVxlanStatics"/>): without the
/// entries of the node's own endpoints (those whose MAC the first node's FDB sends to that node's VTEP), with the node's
/// other entries over it, and only after a check that the view is exactly the node's own index.
/// </summary>
internal sealed class PermanentNeighbors : IEnumerable<KeyValuePair<NeighborKey, NeighborEntry>>
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NamespacePlan, PermanentNeighbors> Shared = new();
    // Per plan: namespace name → the first index made for it, which the same namespace of other nodes may view.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DataplanePlan, Dictionary<string, PermanentNeighbors>> Firsts = new();
    private static readonly PermanentNeighbors None = new(null, Array.Empty<string>(), new Dictionary<NeighborKey, int>());
    private readonly NamespacePlan? _plan;
    // The device names the keys' indices stand for: a namespace's devices follow from its plan and host alone, so
    // another simulation's copy of the namespace numbers them the same (checked, not assumed).
    private readonly string[] _devices;
    private readonly Dictionary<NeighborKey, int> _index; // → the plan's entry; a key listed twice takes the last, as `ip neigh replace` would
    // A view: _over's entries but those tagged _hidden, with _extra's over them (_index is then _over's). Its keys number
    // this namespace's devices (_devices); _toOver gives each one's index in _over's (-1: _over has no such device).
    private readonly PermanentNeighbors? _over;
    private readonly uint _hidden;
    private readonly Dictionary<NeighborKey, NeighborPlan>? _extra;
    private readonly int[]? _toOver;
    // As a first index: each entry's tag (the VTEP its plan's FDB sends the entry's MAC to; 0 for none), made when first viewed.
    private uint[]? _tags;
    private Dictionary<uint, int>? _byTag;

    private PermanentNeighbors(NamespacePlan? plan, string[] devices, Dictionary<NeighborKey, int> index)
    {
        _plan = plan;
        _devices = devices;
        _index = index;
    }

    private PermanentNeighbors(PermanentNeighbors over, NamespacePlan plan, string[] devices, int[] toOver, uint hidden, Dictionary<NeighborKey, NeighborPlan>? extra)
    {
        _over = over;
        _plan = plan;
        _devices = devices;
        _toOver = toOver;
        _index = over._index;
        _hidden = hidden;
        _extra = extra;
    }

    /// <summary>Whether this is a view of another node's index (tests).</summary>
    internal bool IsView => _over is not null;

    /// <summary>The index for <paramref name="ns"/> (its body built), shared when another simulation built it already.</summary>
    public static PermanentNeighbors For(NamespaceRuntime ns)
    {
        if (ns.Plan is not { } plan || plan.Neighbors.Count == 0) return None;
        var shared = Shared.GetValue(plan, _ => Make(ns, plan));
        return shared.Numbers(ns) ? shared : Build(ns, plan);
    }

    /// <summary>The index as the plan lists it, never a view (tests compare views with it).</summary>
    internal static PermanentNeighbors Plain(NamespaceRuntime ns) => ns.Plan is { } plan && plan.Neighbors.Count > 0 ? Build(ns, plan) : None;

    private static PermanentNeighbors Make(NamespaceRuntime ns, NamespacePlan plan)
    {
        if (ns.Owner?.Plan is not { } dataplane || ns.Host is not { } host) return Build(ns, plan);
        var firsts = Firsts.GetValue(dataplane, _ => new Dictionary<string, PermanentNeighbors>(StringComparer.Ordinal));
        PermanentNeighbors? first;
        lock (firsts) firsts.TryGetValue(plan.Name, out first);
        if (first is not null && first.ViewFor(ns, plan, host.UnderlayAddress.Address.Value) is { } view) return view;
        var own = Build(ns, plan);
        if (first is null) lock (firsts) if (!firsts.ContainsKey(plan.Name)) firsts[plan.Name] = own;
        return own;
    }

    private static PermanentNeighbors Build(NamespaceRuntime ns, NamespacePlan plan)
    {
        var index = new Dictionary<NeighborKey, int>(plan.Neighbors.Count);
        for (int i = 0; i < plan.Neighbors.Count; i++)
            if (ns.DeviceByName.TryGetValue(plan.Neighbors[i].Device, out var device))
                index[new NeighborKey(device, plan.Neighbors[i].Address)] = i;
        var devices = new string[ns.Devices.Length];
        for (int i = 0; i < devices.Length; i++) devices[i] = ns.Devices[i].Name;
        return new PermanentNeighbors(plan, devices, index);
    }

    /// <summary>
    /// This (first) index seen from <paramref name="ns"/>, whose own VTEP is <paramref name="own"/>; null unless the view
    /// holds exactly the namespace's own index: every entry it shows from here listed there (counted once), the rest of
    /// the namespace's entries kept over it, a later entry for a key winning.
    /// </summary>
    private PermanentNeighbors? ViewFor(NamespaceRuntime ns, NamespacePlan plan, uint own)
    {
        // Devices by name (a node's overlay namespace has its own tasks' veths, so the same device may have another
        // index): only where every name is unique on both sides, so that a device means one device.
        var byName = new Dictionary<string, int>(_devices.Length, StringComparer.Ordinal);
        for (int d = 0; d < _devices.Length; d++)
        {
            if (byName.ContainsKey(_devices[d])) return null;
            byName[_devices[d]] = d;
        }
        var devices = new string[ns.Devices.Length];
        var toOver = new int[devices.Length];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int d = 0; d < devices.Length; d++)
        {
            devices[d] = ns.Devices[d].Name;
            if (!names.Add(devices[d])) return null;
            toOver[d] = byName.TryGetValue(devices[d], out var o) ? o : -1;
        }
        var (tags, byTag) = Tags();
        var mine = _plan!.Neighbors;
        var check = new Bridging.SharedViewCheck<NeighborKey, NeighborPlan>(mine.Count);
        foreach (var n in plan.Neighbors)
        {
            if (!ns.DeviceByName.TryGetValue(n.Device, out var device)) continue;
            var key = new NeighborKey(device, n.Address);
            if (toOver[device] >= 0 && _index.TryGetValue(new NeighborKey(toOver[device], n.Address), out var i)
                && tags[i] != own && mine[i].Mac == n.Mac && mine[i].Span.Equals(n.Span))
                check.Shown(i, key);
            else check.Own(key, n);
        }
        int visible = _index.Count - (byTag.TryGetValue(own, out var hidden) ? hidden : 0);
        return check.Holds(visible) ? new PermanentNeighbors(this, plan, devices, toOver, own, check.Extra) : null;
    }

    private (uint[] Tags, Dictionary<uint, int> ByTag) Tags()
    {
        lock (_index)
        {
            if (_tags is null)
            {
                var vteps = new Dictionary<ulong, uint>();
                foreach (var f in _plan!.Fdb) if (f.RemoteVtep is Ipv4Address v) vteps[f.Mac.Value] = v.Value;
                var tags = new uint[_plan.Neighbors.Count];
                var byTag = new Dictionary<uint, int>();
                foreach (var i in _index.Values)
                {
                    tags[i] = vteps.TryGetValue(_plan.Neighbors[i].Mac.Value, out var t) ? t : 0;
                    byTag[tags[i]] = byTag.TryGetValue(tags[i], out var c) ? c + 1 : 1;
                }
                _byTag = byTag;
                _tags = tags;
            }
            return (_tags, _byTag!);
        }
    }

    private bool Numbers(NamespaceRuntime ns)
    {
        if (ns.Devices.Length != _devices.Length) return false;
        for (int i = 0; i < _devices.Length; i++)
            if (!string.Equals(ns.Devices[i].Name, _devices[i], StringComparison.Ordinal)) return false;
        return true;
    }

    /// <summary>The plan's entry for <paramref name="key"/>.</summary>
    public bool TryGet(NeighborKey key, out NeighborEntry entry)
    {
        if (_extra is not null && _extra.TryGetValue(key, out var n))
        {
            entry = new NeighborEntry(n.Mac, true, "permanent", n.Span);
            return true;
        }
        if (_over is null)
        {
            if (_index.TryGetValue(key, out var i))
            {
                entry = Entry(i);
                return true;
            }
        }
        else if (key.Device >= 0 && key.Device < _toOver!.Length && _toOver[key.Device] is var d and >= 0
            && _index.TryGetValue(new NeighborKey(d, new Ipv4Address(key.Address)), out var j) && _over._tags![j] != _hidden)
        {
            entry = _over.Entry(j);
            return true;
        }
        entry = default;
        return false;
    }

    private NeighborEntry Entry(int i)
    {
        var n = _plan!.Neighbors[i];
        return new NeighborEntry(n.Mac, true, "permanent", n.Span);
    }

    /// <summary>The entries in the plan's order.</summary>
    public IEnumerator<KeyValuePair<NeighborKey, NeighborEntry>> GetEnumerator()
    {
        // A view lists its own plan's entries (it holds exactly them): in that plan's order, as its own index would.
        var index = _index;
        if (_over is not null)
        {
            index = new Dictionary<NeighborKey, int>(_plan!.Neighbors.Count);
            for (int i = 0; i < _plan.Neighbors.Count; i++)
            {
                int device = Array.LastIndexOf(_devices, _plan.Neighbors[i].Device); // DeviceByName keeps the last of a name
                if (device >= 0) index[new NeighborKey(device, _plan.Neighbors[i].Address)] = i;
            }
        }
        var keys = new List<KeyValuePair<NeighborKey, int>>(index);
        keys.Sort((a, b) => a.Value.CompareTo(b.Value));
        foreach (var kv in keys) yield return new KeyValuePair<NeighborKey, NeighborEntry>(kv.Key, Entry(kv.Value));
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

internal readonly struct NeighborEntry
{
    public NeighborEntry(MacAddress mac, bool permanent, string answeredBy, SourceSpan span) { Mac = mac; Permanent = permanent; AnsweredBy = answeredBy; Span = span; }
    public readonly MacAddress Mac;
    public readonly bool Permanent;
    public readonly string AnsweredBy;
    public readonly SourceSpan Span;
}

/// <summary>An nftables load balancer with its <c>numgen inc</c> counter.</summary>
internal sealed class NftBalancer
{
    public NftBalancer(NftLoadBalancerPlan plan) { Plan = plan; }
    public NftLoadBalancerPlan Plan { get; }
    public uint Counter; // numgen inc: the first value handed out is 0
}
