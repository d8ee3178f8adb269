using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Insight;

/// <summary>
/// Which nodes, as destinations of a source's sweeps (the outside client's, or a node's own question), take classes of the
/// sweep toward a reference node instead of probing them (docs/insight.md, "Nodes take a reference node's sweep").
/// <para>
/// The walk toward node D is the walk toward the reference R with R's and D's own addresses, MACs and generated device
/// names swapped (σ), when (1) R's namespaces and D's (host, ingress sandbox, overlay and load-balancer namespaces, paired
/// by name, their devices by position) hold the same entries under σ, but for what concerns their own tasks; (2) every
/// other namespace treats R and D alike under σ; (3) every prefix of the plan holds both of each σ pair or neither; and,
/// per class, (4) the walk looked nothing up by, and entered nothing of, R's tasks or D (its keys,
/// <see cref="PathRecord.Addresses"/>, and the namespaces it entered). What differs by a node's own tasks is either looked
/// up by a task's address or MAC (neighbours, FDB entries, the tasks' bridge ports, host routes: (4) keeps a class off
/// them) or is a rule naming a task and guarded by a port (host-mode publishing): those ports are probed by D itself
/// (<see cref="Transfer.Holes"/>). Anything else that tells R and D apart refuses D, which then sweeps on its own.
/// </para>
/// <para>
/// The comparisons are of hashes (two 64-bit lanes) of each entry, rendered with a node's own values as tokens naming
/// where they sit, summed per namespace: the plan is read once, and each pair costs a comparison per namespace. The sweep
/// (<see cref="ReachAnalysis"/>) takes only classes whose rows name nothing of R, and keeps balancers in step.
/// </para>
/// </summary>
internal sealed class NodeDestinationSharing
{
    private const ulong P1 = 0x9E3779B97F4A7C15UL, P2 = 0xC2B2AE3D27D4EB4FUL, P3 = 0x165667B19E3779F9UL;

    private readonly Cluster _cluster;
    private readonly List<string> _nodes = new();
    private readonly Dictionary<string, int> _nodeIndex = new(StringComparer.Ordinal);
    // Per plan namespace (cluster index): its node, and whether it is a task's.
    private readonly List<int> _nodeOf = new();
    private readonly List<bool> _isTask = new();
    private readonly Dictionary<uint, Who> _addresses = new();
    private readonly Dictionary<ulong, Who> _macs = new();
    // Device names: a veth's generated name differs from node to node, like its MAC.
    private readonly Dictionary<string, Who> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _roles = new(StringComparer.Ordinal);
    private readonly List<NodeFacts> _facts = new();
    private readonly HashSet<(int, int)> _tangled = new();
    private readonly HashSet<Ipv4Cidr> _prefixes = new();
    private readonly Dictionary<(int Reference, int Node), (Transfer? Transfer, string? Why)> _pairs = new();
    private string? _everyone;

    /// <summary>Who holds an address or MAC: the one node whose own namespaces hold it (-1 none, -2 several), and the nodes whose tasks do.</summary>
    private sealed class Who
    {
        public int Node = -1;
        public int Token;
        public List<int>? Tasks;
    }

    /// <summary>What one node's namespaces add up to.</summary>
    private sealed class NodeFacts
    {
        public string? Irregular;
        public readonly Dictionary<int, int> NamespaceByRole = new();
        public readonly Dictionary<int, Sum> Base = new();
        public readonly Dictionary<(int Role, int Other), Sum> Adjust = new();
        // Every other namespace's entries naming this node's own values, rendered with them as tokens.
        public readonly Dictionary<int, Sum> Elsewhere = new();
        public readonly Dictionary<int, uint> AddressByToken = new();
        public readonly Dictionary<int, ulong> MacByToken = new();
        public readonly Dictionary<int, string> NameByToken = new();
        public readonly List<(IpProtocol? Protocol, int From, int To)> Holes = new();
        public string UnderlayInterface = "";
    }

    /// <summary>A multiset hash: the sum of its entries' hashes, in two lanes.</summary>
    private struct Sum : IEquatable<Sum>
    {
        public ulong A, B;
        public void Add((ulong A, ulong B) h) { A += h.A; B += h.B; }
        public void Subtract((ulong A, ulong B) h) { A -= h.A; B -= h.B; }
        public bool Equals(Sum other) => A == other.A && B == other.B;
        public override bool Equals(object? obj) => obj is Sum s && Equals(s);
        public override int GetHashCode() => (int)(A ^ B);
    }

    private NodeDestinationSharing(Cluster cluster) => _cluster = cluster;

    /// <summary>What <paramref name="node"/> takes of <paramref name="reference"/>'s sweep; null when it sweeps on its own (<see cref="WhyNot"/>).</summary>
    public Transfer? To(string reference, string node) => Pair(reference, node).Transfer;

    /// <summary>Why <paramref name="node"/> takes nothing of <paramref name="reference"/>'s sweep (null when it does).</summary>
    public string? WhyNot(string reference, string node) => Pair(reference, node).Why;

    /// <summary>
    /// Reads who holds each address, MAC and device name of the plan (what <see cref="Touched(PathRecord, PathRecord, string)"/> needs while a reference's
    /// sweep runs). What each other node takes is decided on first asking (<see cref="To"/>), by another worker meanwhile.
    /// </summary>
    public static NodeDestinationSharing For(Cluster cluster)
    {
        var s = new NodeDestinationSharing(cluster);
        s.Index();
        return s;
    }

    private readonly object _decideGate = new();
    private bool _hashed;

    /// <summary>Hashes every namespace (once; callers wait for the first) and compares the two nodes (once per pair).</summary>
    private (Transfer? Transfer, string? Why) Pair(string reference, string node)
    {
        lock (_decideGate)
        {
            if (!_hashed)
            {
                Hash();
                _hashed = true;
            }
            if (!_nodeIndex.TryGetValue(reference, out var r)) return (null, "the reference is not a node");
            if (!_nodeIndex.TryGetValue(node, out var d)) return (null, "not a node");
            if (r == d) return (null, "the reference itself");
            if (_pairs.TryGetValue((r, d), out var known)) return known;
            Transfer? transfer = null;
            var why = _everyone ?? Compare(r, d, out transfer);
            return _pairs[(r, d)] = (why is null ? transfer : null, why);
        }
    }

    // ───────────────────────────── reading the plan ─────────────────────────────

    private void Index()
    {
        var plan = _cluster.Plan;
        _prefixes.Add(plan.Underlay.Subnet.Subnet);
        // Pass 1: who holds each address and MAC.
        int index = 0;
        for (int n = 0; n < plan.Hosts.Count; n++)
        {
            var host = plan.Hosts[n];
            _nodes.Add(host.Node);
            _nodeIndex[host.Node] = n;
            var facts = new NodeFacts { UnderlayInterface = host.UnderlayInterface };
            _facts.Add(facts);
            var tasks = new HashSet<string>(StringComparer.Ordinal);
            foreach (var ns in host.Namespaces) if (ns.Kind == NamespaceKind.Task) tasks.Add(ns.Name);
            bool underlayListed = false;
            foreach (var ns in host.Namespaces)
            {
                var rt = index < _cluster.Namespaces.Count ? _cluster.Namespaces[index] : null;
                if (rt is null || rt.Node != host.Node || rt.Name != ns.Name) { _everyone = "the simulation numbers namespaces otherwise than the plan"; return; }
                _nodeOf.Add(n);
                _isTask.Add(ns.Kind == NamespaceKind.Task);
                if (ns.Kind != NamespaceKind.Task)
                {
                    int role = Intern(_roles, ns.Name);
                    if (facts.NamespaceByRole.ContainsKey(role)) facts.Irregular ??= "two namespaces named " + ns.Name;
                    facts.NamespaceByRole[role] = index;
                }
                // A device's place: its namespace and its position among the devices that are not a task's leg (its name
                // may be generated per node).
                var place = new Dictionary<string, string>(StringComparer.Ordinal);
                int ordinal = 0;
                foreach (var d in ns.Devices)
                {
                    if (ns.Kind == NamespaceKind.Host && d.Name == host.UnderlayInterface) underlayListed = true;
                    bool task = ns.Kind == NamespaceKind.Task || OwnLeg(d, tasks);
                    string at = ns.Name + "/" + (task ? d.Name : "#" + (ordinal++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    place[d.Name] = at;
                    if (d.Kind == DeviceKind.Loopback) continue;
                    // A name inside a task's namespace names nothing outside it; a task's leg in the node's is the task's.
                    if (ns.Kind != NamespaceKind.Task) { if (task) Task(_names, d.Name, n); else Own(_names, d.Name, n, at + "/name", facts.NameByToken); }
                    var mac = d.Mac ?? Cluster.DerivedMac(host.Node + "/" + ns.Name + "/" + d.Name);
                    if (task) Task(_macs, mac.Value, n);
                    else Own(_macs, mac.Value, n, at + "/mac", facts.MacByToken);
                }
                var perDevice = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var a in ns.Addresses)
                {
                    perDevice.TryGetValue(a.Device, out var k);
                    perDevice[a.Device] = k + 1;
                    _prefixes.Add(a.Address.Subnet);
                    if (a.Address.Address.IsLoopback) continue; // the same in every namespace
                    if (ns.Kind == NamespaceKind.Task || IsOwnLeg(ns, a.Device, tasks)) Task(_addresses, a.Address.Address.Value, n);
                    else Own(_addresses, a.Address.Address.Value, n, (place.TryGetValue(a.Device, out var at) ? at : ns.Name + "/" + a.Device) + "/#"
                        + k.ToString(System.Globalization.CultureInfo.InvariantCulture), facts.AddressByToken);
                }
                index++;
            }
            Own(_addresses, host.UnderlayAddress.Address.Value, n, "underlay", facts.AddressByToken);
            _prefixes.Add(host.UnderlayAddress.Subnet);
            if (!underlayListed) Own(_macs, Cluster.DerivedMac(host.Node + "/host/" + host.UnderlayInterface).Value, n, "underlay/mac", facts.MacByToken);
        }
    }

    /// <summary>
    /// Pass 2: every namespace's entries, hashed. (A value held by several nodes' own namespaces, a VIP or
    /// docker_gwbridge's address, is the same for all: <see cref="Index"/> made it nobody's.)
    /// </summary>
    private void Hash()
    {
        var plan = _cluster.Plan;
        if (_everyone is not null) return;
        var r = new Renderer(this);
        _dataPathPort = plan.Underlay.DataPathPort;
        // The ports a node probes itself take other ephemeral source ports than its own whole sweep would: no constant of
        // the plan may tell those apart (as for NodeSourceSharing), nor a statistic match count the packets it skips.
        // Rules are met once each, in RuleInfo; the rest of each namespace here.
        var starts = _ephemeralStarts = new PortAtoms.LowestWithin(VxlanCodec.LocalPortRangeMin, VxlanCodec.LocalPortRangeMax);
        if (InEphemeralRange(plan.Underlay.DataPathPort)) _everyone ??= "the data path port is among the ephemeral ports";
        int index = 0;
        for (int n = 0; n < plan.Hosts.Count; n++)
        {
            var host = plan.Hosts[n];
            var tasks = new HashSet<string>(StringComparer.Ordinal);
            foreach (var ns in host.Namespaces) if (ns.Kind == NamespaceKind.Task) tasks.Add(ns.Name);
            foreach (var ns in host.Namespaces)
            {
                HashNamespace(r, host, n, index, ns, tasks);
                PortAtoms.CollectAllButRules(ns, starts);
                foreach (var d in ns.Devices) if (d.Vxlan is { } vx && InEphemeralRange(vx.DstPort)) _everyone ??= "a VXLAN port is among the ephemeral ports";
                index++;
            }
        }
        if (starts.Lowest is int inside) _everyone ??= "a port constant of the plan splits the ephemeral ports at " + inside.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_statistic) _everyone ??= "the plan has statistic matches";
    }


    private static bool Names(IReadOnlyList<int> ports, int port)
    {
        foreach (var p in ports) if (p == port) return true;
        return false;
    }

    private bool _statistic;
    private int _dataPathPort;
    private PortAtoms.LowestWithin? _ephemeralStarts;

    private static bool InEphemeralRange(int port) => port >= VxlanCodec.LocalPortRangeMin && port <= VxlanCodec.LocalPortRangeMax;

    private static bool OwnLeg(DevicePlan d, HashSet<string> tasks) => d.Peer is { } p && tasks.Contains(p.Namespace);

    private static bool IsOwnLeg(NamespacePlan ns, string device, HashSet<string> tasks)
    {
        foreach (var d in ns.Devices) if (d.Name == device) return OwnLeg(d, tasks);
        return false;
    }

    private static int Intern(Dictionary<string, int> map, string text)
    {
        if (!map.TryGetValue(text, out var id)) map[text] = id = map.Count;
        return id;
    }

    private void Own<TKey>(Dictionary<TKey, Who> map, TKey value, int node, string token, Dictionary<int, TKey> byToken) where TKey : notnull
    {
        if (!map.TryGetValue(value, out var who)) map[value] = who = new Who();
        if (who.Node == -1)
        {
            who.Node = node;
            who.Token = Intern(_tokens, token);
            if (!byToken.ContainsKey(who.Token)) byToken[who.Token] = value;
        }
        else if (who.Node != node && who.Node != -2)
        {
            // Several nodes hold it: the same value everywhere, not one node's. Its tokens are dropped from both.
            _facts[who.Node].AddressByToken.Remove(who.Token);
            _facts[who.Node].MacByToken.Remove(who.Token);
            _facts[who.Node].NameByToken.Remove(who.Token);
            who.Node = -2;
        }
    }

    private static void Task<TKey>(Dictionary<TKey, Who> map, TKey value, int node) where TKey : notnull
    {
        if (!map.TryGetValue(value, out var who)) map[value] = who = new Who();
        who.Tasks ??= new List<int>(1);
        if (!who.Tasks.Contains(node)) who.Tasks.Add(node);
    }

    /// <summary>Hashes one namespace's entries into its node's sums and into the sums of the nodes it names.</summary>
    private void HashNamespace(Renderer r, HostPlan host, int node, int index, NamespacePlan ns, HashSet<string> tasks)
    {
        bool own = ns.Kind != NamespaceKind.Task;
        var facts = _facts[node];
        int role = own ? _roles[ns.Name] : -1;
        var ownLegs = new HashSet<string>(StringComparer.Ordinal);
        if (own) foreach (var d in ns.Devices) if (OwnLeg(d, tasks)) ownLegs.Add(d.Name);
        var sum = new Sum();
        // Per other node: what pairing with it changes of this namespace's sum (summed here, kept when not zero).
        var adjust = _adjustScratch ??= new Sum[_nodes.Count];
        var adjusted = new List<int>();

        void Adjust(int other, (ulong A, ulong B) add, (ulong A, ulong B) subtract)
        {
            if (adjust[other].A == 0 && adjust[other].B == 0) adjusted.Add(other);
            adjust[other].Add(add);
            adjust[other].Subtract(subtract);
        }

        // keyed: looked up by an address or MAC (or a host route's destination), so an entry about a task differs from
        // node to node only for walks that look that task's key up.
        void Entry<T>(Action<Renderer, T> render, T item, bool keyed)
        {
            r.Render(render, item, node, -1);
            Account(r.Hash, r.Nodes, r.TaskNodes, keyed, render, item);
        }

        void Account<T>((ulong A, ulong B) raw, IReadOnlyList<int> mentioned, IReadOnlyList<int> taskNodes, bool keyed, Action<Renderer, T>? render, T item)
        {
            if (mentioned.Count == 0 && taskNodes.Count == 0) { if (own) sum.Add(raw); return; }
            if (mentioned.Count > 1 || (mentioned.Count == 1 && taskNodes.Count > 0 && (taskNodes.Count > 1 || taskNodes[0] != mentioned[0])))
            {
                // Names several nodes at once: no pair among them (nor with this namespace's node) is compared.
                var all = new List<int>(mentioned);
                all.AddRange(taskNodes);
                if (own) all.Add(node);
                foreach (var a in all) foreach (var b in all) if (a != b) _tangled.Add((a, b));
            }
            int single = mentioned.Count == 1 && !(keyed && Has(taskNodes, mentioned[0])) ? mentioned[0] : -1;
            if (own)
            {
                if (keyed && Has(taskNodes, node)) return; // the node's own task: looked up by the task's key only
                sum.Add(raw);
                // Paired with t, an entry about one of t's tasks is left out on both sides.
                // Indexed: an enumerator over the interface was a boxed object per entry (53 MB on a 100-node plan).
                if (keyed) for (int t = 0; t < taskNodes.Count; t++) Adjust(taskNodes[t], default, raw);
                if (single >= 0)
                {
                    r.Render(render!, item, node, single);
                    Adjust(single, r.Hash, raw);
                }
            }
            if (single >= 0)
            {
                r.Render(render!, item, single, -1);
                var elsewhere = _facts[single].Elsewhere;
                elsewhere.TryGetValue(index, out var s);
                s.Add(r.Hash);
                elsewhere[index] = s;
            }
        }

        // An entry lowering gives many namespaces (a remote endpoint's neighbour and FDB entry in every other node's overlay
        // namespace, a service's IPVS service in every ingress sandbox) is rendered once, without tokens: unless it names
        // one of this node's own values, that is how this namespace renders it. With an index, the entry's position
        // follows its content into the hash, as rendering both in one go would mix them.
        void SharedEntry<T>(Action<Renderer, T> render, T item, bool keyed, Action<Renderer, (T, int)>? indexed = null, int at = 0) where T : class
        {
            var info = EntryInfo(r, render, item);
            if (Array.IndexOf(info.Nodes, node) >= 0)
            {
                if (indexed is null) Entry(render, item, keyed);
                else Entry(indexed, (item, at), keyed);
                return;
            }
            if (indexed is null) Account(Renderer.Finish(info.A, info.B), info.Nodes, info.TaskNodes, keyed, render, item);
            else Account(Renderer.Finish(info.A, info.B, at), info.Nodes, info.TaskNodes, keyed, indexed, (item, at));
        }

        Entry(static (x, ns) => { x.Int(0); x.Int((int)ns.Kind); x.Str(ns.Owner); }, ns, keyed: false);
        foreach (var d in ns.Devices)
        {
            if (ownLegs.Contains(d.Name)) continue;
            var mac = d.Kind == DeviceKind.Loopback ? MacAddress.Zero : d.Mac ?? Cluster.DerivedMac(host.Node + "/" + ns.Name + "/" + d.Name);
            Entry(static (x, e) =>
            {
                var (d, mac) = e;
                x.Int(1); x.Name(d.Name); x.Int((int)d.Kind); x.Int(d.Mtu); x.Mac(mac); x.Name(d.Master ?? "");
                if (d.Peer is { } p) { x.Str(p.Namespace); x.Name(p.Device); x.Int(p.CreatesPair ? 1 : 0); }
                if (d.Vxlan is { } v)
                {
                    x.Int(v.Vni); x.Int(v.DstPort); x.Int((v.Learning ? 1 : 0) | (v.Proxy ? 2 : 0) | (v.L2Miss ? 4 : 0) | (v.L3Miss ? 8 : 0));
                    x.Int(v.Ttl); x.Str(v.CreatedIn);
                }
            }, (d, mac), keyed: false);
        }
        var perDevice = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var a in ns.Addresses)
        {
            perDevice.TryGetValue(a.Device, out var k);
            perDevice[a.Device] = k + 1;
            if (ownLegs.Contains(a.Device)) continue;
            Entry(static (x, e) => { x.Int(2); x.Name(e.a.Device); x.Int(e.k); x.Cidr(e.a.Address); }, (a, k), keyed: false);
        }
        for (int i = 0; i < ns.Routes.Count; i++)
        {
            var route = ns.Routes[i];
            int same = 0;
            for (int j = 0; j < i; j++) if (ns.Routes[j].Destination.Subnet == route.Destination.Subnet) same++;
            _prefixes.Add(route.Destination.Subnet);
            // A route over a task's own leg is looked up by the task's address only when it is a host route.
            if (ownLegs.Contains(route.Device) && route.Destination.PrefixLength != 32)
            {
                facts.Irregular ??= "a route in " + ns.Name + " over a task's leg covers more than the task";
                continue;
            }
            Entry(static (x, e) =>
            {
                var (route, same) = e;
                x.Int(3); x.Cidr(route.Destination); x.Int(same); x.Name(route.Device); x.Int((int)route.Origin);
                if (route.Gateway is { } g) x.Address(g); else x.Int(-1);
                if (route.PreferredSource is { } src) x.Address(src); else x.Int(-1);
            }, (route, same), keyed: route.Destination.PrefixLength == 32);
        }
        foreach (var nb in ns.Neighbors) SharedEntry(Neighbor, nb, keyed: true);
        foreach (var f in ns.Fdb) SharedEntry(Fdb, f, keyed: true);
        foreach (var s in ns.Sysctls) Entry(static (x, s) => { x.Int(6); x.Str(s.Key); x.Str(s.Value); x.Int(s.Required ? 1 : 0); }, s, keyed: false);
        foreach (var l in ns.Listeners)
        {
            if (l.Port == _dataPathPort && l.Protocol == IpProtocol.Udp) _everyone ??= "a task listens on the data path port";
            // A listener of the node's own (a task's port published in host mode, say): the other node probes its port itself.
            if (own) facts.Holes.Add((l.Protocol, l.Port, l.Port));
            else Entry(static (x, l) => { x.Int(7); x.Int((int)l.Protocol); x.Int(l.Port); x.Str(l.Owner); }, l, keyed: false);
        }
        for (int i = 0; i < ns.Ipvs.Count; i++) SharedEntry(Ipvs, ns.Ipvs[i], keyed: false, IndexedIpvs, i);
        for (int i = 0; i < ns.NftLoadBalancers.Count; i++)
        {
            var b = ns.NftLoadBalancers[i];
            if (b.SnatSubnet is { } net) _prefixes.Add(net.Subnet);
            Entry(static (x, e) =>
            {
                var (b, i) = e;
                x.Int(9); x.Int(i); x.Int(b.FwMark); x.Address(b.Vip); x.Int((int)b.Pick); x.Int((int)b.Scheduler); x.Str(b.Service);
                foreach (var a in b.Slots) x.Address(a);
                if (b.SnatSubnet is { } sn) x.Cidr(sn); else x.Int(-1);
                if (b.SnatSource is { } ss) x.Address(ss); else x.Int(-1);
            }, (b, i), keyed: false);
        }
        foreach (var t in ns.Tables)
            foreach (var c in t.Chains)
            {
                long chain = Renderer.TextHash(t.Name) * 31 + Renderer.TextHash(c.Name);
                Entry(static (x, e) => { x.Int(10); x.Int(e.chain); x.Int(e.c.BuiltIn ? 1 : 0); x.Int(e.c.Policy is { } p ? (int)p : -1); }, (chain, c), keyed: false);
                int ordinal = 0;
                foreach (var rule in c.Rules)
                {
                    var info = RuleInfo(r, rule);
                    if (own && Array.IndexOf(info.TaskNodes, node) >= 0)
                    {
                        // Host-mode publishing: a rule for one of the node's own tasks. The other node probes its ports itself.
                        if (OwnTaskGuard(rule, node) is { } guard) facts.Holes.AddRange(guard);
                        else facts.Irregular ??= "a rule of " + ns.Name + " " + t.Name + "/" + c.Name + " names one of its tasks and no port";
                        continue;
                    }
                    int at = ordinal++;
                    if (info.Nodes.Length == 0)
                    {
                        // Names no node's own value: its matches hashed once wherever it is; a task's namespace only counts
                        // what names a node.
                        if (own) sum.Add(Renderer.Combine(chain, at, info.A, info.B));
                    }
                    else Entry(static (x, e) => { x.Int(11); x.Int(e.chain); x.Int(e.at); x.Int(-4); Rule(x, e.rule); }, (chain, at, rule), keyed: false);
                }
            }
        if (own)
        {
            facts.Base[role] = sum;
            foreach (var o in adjusted)
            {
                facts.Adjust[(role, o)] = adjust[o];
                adjust[o] = default;
            }
        }
        else foreach (var o in adjusted) adjust[o] = default;
    }

    private Sum[]? _adjustScratch;
    private readonly Dictionary<NetfilterRule, Rendered> _rules = new(ReferenceComparer<NetfilterRule>.Instance);

    /// <summary>A rule's matches and target, hashed once with no node's values as tokens; the nodes and tasks it names.</summary>
    private sealed class Rendered
    {
        public ulong A, B;
        public int[] Nodes = Array.Empty<int>();
        public int[] TaskNodes = Array.Empty<int>();
    }

    private static readonly Action<Renderer, NeighborPlan> Neighbor = static (x, nb) => { x.Int(4); x.Name(nb.Device); x.Address(nb.Address); x.Mac(nb.Mac); };
    private static readonly Action<Renderer, FdbPlan> Fdb = static (x, f) => { x.Int(5); x.Name(f.Device); x.Mac(f.Mac); if (f.RemoteVtep is { } v) x.Address(v); else x.Int(-1); };
    private static readonly Action<Renderer, IpvsServicePlan> Ipvs = static (x, v) =>
    {
        x.Int(8); x.Int(v.FwMark ?? -1); x.Address(v.Vip); x.Int(v.Port ?? -1); x.Int((int)v.Protocol); x.Int((int)v.Scheduler); x.Str(v.Service);
        foreach (var d in v.Destinations) { x.Address(d.Address); x.Int(d.Port); x.Int(d.Weight); x.Int((int)d.Forward); x.Str(d.Task); }
    };
    private static readonly Action<Renderer, (IpvsServicePlan, int)> IndexedIpvs = static (x, e) => { Ipvs(x, e.Item1); x.Int(e.Item2); };

    private static bool Has(IReadOnlyList<int> list, int value)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == value) return true;
        return false;
    }

    private readonly Dictionary<object, Rendered> _entries = new(ReferenceComparer<object>.Instance);

    /// <summary>An entry hashed with no node's values as tokens (once per object), and the nodes and tasks it names.</summary>
    private Rendered EntryInfo<T>(Renderer r, Action<Renderer, T> render, T item) where T : class
    {
        if (_entries.TryGetValue(item, out var info)) return info;
        r.Render(render, item, -1, -1);
        // Unfinished: an index may follow.
        var (a, b) = r.State;
        return _entries[item] = new Rendered { A = a, B = b, Nodes = r.Nodes.ToArray(), TaskNodes = r.TaskNodes.ToArray() };
    }

    private Rendered RuleInfo(Renderer r, NetfilterRule rule)
    {
        if (_rules.TryGetValue(rule, out var info)) return info;
        bool translates = rule.Target is DnatTarget or SnatTarget or MasqueradeTarget or RedirectTarget or MarkTarget;
        foreach (var m in rule.Matches)
            if (m is AddressMatch am) _prefixes.Add(am.Prefix.Subnet);
            else if (m is StatisticMatch) _statistic = true;
            else if (translates && (m is PortMatch pm && pm.From <= _dataPathPort && _dataPathPort <= pm.To || m is MultiportMatch mm && Names(mm.Ports, _dataPathPort)))
                // A published data path port: whether a probe to it or the VXLAN datagram carrying another is taken for the
                // other depends on the datagram's source port, which a node's own probes take otherwise than its own sweep.
                _everyone ??= "a rule translates or marks what goes to the data path port";
        // A user's translation can give connections one fixed tuple (a class a node probes then clashes, in its own sweep,
        // with the conntrack entry a class it takes would have left) or send a reply another way than its request came (its
        // explanation naming the client's ephemeral port): what a node's skipped classes would have left then matters.
        if (translates && rule.Target is not MarkTarget && rule.Origin.StartsWith("rules[", StringComparison.Ordinal))
            _everyone ??= "a raw rule translates addresses";
        PortAtoms.CollectRule(rule, _ephemeralStarts!);
        r.Render(static (x, rule) => Rule(x, rule), rule, -1, -1);
        var (a, b) = r.Hash;
        info = new Rendered { A = a, B = b, Nodes = r.Nodes.ToArray(), TaskNodes = r.TaskNodes.ToArray() };
        _rules[rule] = info;
        return info;
    }

    /// <summary>
    /// The ports that keep a rule naming one of <paramref name="node"/>'s own tasks off every other port's walk (empty when
    /// the task's own address does: a walk carrying none never matches it); null when nothing does.
    /// </summary>
    private List<(IpProtocol?, int, int)>? OwnTaskGuard(NetfilterRule rule, int node)
    {
        IpProtocol? protocol = null;
        foreach (var m in rule.Matches) if (m is ProtocolMatch { Negated: false } p) protocol = p.Protocol;
        var ports = new List<(IpProtocol?, int, int)>();
        bool byAddress = false;
        foreach (var m in rule.Matches)
            switch (m)
            {
                case PortMatch { Negated: false } pm: ports.Add((pm.Protocol, pm.From, pm.To)); break;
                case MultiportMatch { Negated: false } mm: foreach (var p in mm.Ports) ports.Add((protocol, p, p)); break;
                case AddressMatch { Negated: false, Prefix.PrefixLength: 32 } am:
                    if (_addresses.TryGetValue(am.Prefix.Address.Value, out var who) && who.Tasks is { } t && t.Contains(node)) byAddress = true;
                    break;
            }
        return ports.Count > 0 || byAddress ? ports : null;
    }

    private static void Rule(Renderer x, NetfilterRule rule)
    {
        foreach (var m in rule.Matches)
        {
            x.Int(m.Negated ? 1 : 0);
            switch (m)
            {
                case ProtocolMatch p: x.Int(100); x.Int((int)p.Protocol); break;
                case AddressMatch a: x.Int(101); x.Int((int)a.Direction); x.Cidr(a.Prefix); break;
                case InterfaceMatch i: x.Int(102); x.Int(i.Input ? 1 : 0); x.Name(i.Interface); break;
                case PortMatch p: x.Int(103); x.Int((int)p.Protocol); x.Int((int)p.Direction); x.Int(p.From); x.Int(p.To); break;
                case MultiportMatch mp: x.Int(104); x.Int((int)mp.Direction); foreach (var p in mp.Ports) x.Int(p); break;
                // No addresses in the other matches: their fields as they are (a record's text would allocate per rule).
                case AddrTypeMatch at: x.Int(106); x.Int((int)at.Direction); x.Int((int)at.Type); break;
                case ConntrackMatch ct: x.Int(107); x.Int((int)ct.States); break;
                case MarkMatch mk: x.Int(108); x.Int(mk.Value); x.Int(mk.Mask); break;
                case IpvsMatch: x.Int(109); break;
                case IcmpTypeMatch it: x.Int(110); x.Int(it.Type); break;
                default: x.Int(105); x.Str(m.ToString()); break;
            }
        }
        switch (rule.Target)
        {
            case DnatTarget d: x.Int(200); x.Address(d.Address); x.Int(d.Port ?? -1); break;
            case SnatTarget s: x.Int(201); x.Address(s.Address); x.Int(s.Port ?? -1); break;
            case AcceptTarget: x.Int(203); break;
            case DropTarget: x.Int(204); break;
            case ReturnTarget: x.Int(205); break;
            case JumpTarget j: x.Int(206); x.Str(j.Chain); break;
            case GotoTarget g: x.Int(207); x.Str(g.Chain); break;
            case MarkTarget mk: x.Int(208); x.Int(mk.Value); x.Int(mk.Mask); break;
            case MasqueradeTarget: x.Int(209); break;
            case RedirectTarget rd: x.Int(210); x.Int(rd.Port); break;
            case RejectTarget rj: x.Int(211); x.Int(rj.TcpReset ? 1 : 0); break;
            default: x.Int(202); x.Str(rule.Target.ToString()); break;
        }
    }

    /// <summary>Renders an entry into a hash: a node's own values as tokens (its own: 1, the other node's of a pair: 2), the rest as they are.</summary>
    private sealed class Renderer
    {
        private readonly NodeDestinationSharing _s;
        private int _self, _other;
        private ulong _a, _b;

        public Renderer(NodeDestinationSharing s) => _s = s;

        /// <summary>Nodes (other than the one rendered as its own) whose own values the entry names.</summary>
        public List<int> Nodes { get; } = new();

        /// <summary>Nodes whose tasks' values the entry names.</summary>
        public List<int> TaskNodes { get; } = new();

        public (ulong A, ulong B) Hash => (Finish(_a), Finish(_b ^ P3));

        /// <summary>The mix so far, before <see cref="Hash"/> finishes it.</summary>
        public (ulong A, ulong B) State => (_a, _b);

        /// <summary><see cref="Hash"/> of a render whose <see cref="State"/> was (<paramref name="a"/>, <paramref name="b"/>).</summary>
        public static (ulong A, ulong B) Finish(ulong a, ulong b) => (Finish(a), Finish(b ^ P3));

        /// <summary><see cref="Hash"/> of a render whose <see cref="State"/> was (<paramref name="a"/>, <paramref name="b"/>), then <see cref="Int"/>(<paramref name="then"/>).</summary>
        public static (ulong A, ulong B) Finish(ulong a, ulong b, long then)
        {
            Step(ref a, ref b, then);
            return (Finish(a), Finish(b ^ P3));
        }

        public void Render<T>(Action<Renderer, T> render, T item, int self, int other)
        {
            _self = self;
            _other = other;
            _a = P1;
            _b = P2;
            Nodes.Clear();
            TaskNodes.Clear();
            render(this, item);
        }

        /// <summary>A rule's hash from its chain, position and cached content hash (as rendering them would mix them).</summary>
        public static (ulong A, ulong B) Combine(long chain, int at, ulong a, ulong b)
        {
            // As Render would: Int(11), Int(chain), Int(at), Int(a), Int(b), then Hash.
            ulong x = P1, y = P2;
            Step(ref x, ref y, 11);
            Step(ref x, ref y, chain);
            Step(ref x, ref y, at);
            Step(ref x, ref y, (long)a);
            Step(ref x, ref y, (long)b);
            return (Finish(x), Finish(y ^ P3));
        }

        /// <summary>A text's hash, for names met once per chain rather than once per entry.</summary>
        public static long TextHash(string text)
        {
            ulong h = 0xCBF29CE484222325UL;
            foreach (var c in text) h = (h ^ c) * 0x100000001B3UL;
            return (long)h;
        }

        public void Int(long v) => Step(ref _a, ref _b, v);

        private static void Step(ref ulong a, ref ulong b, long v)
        {
            a = Rotate((a ^ (ulong)v) * P1, 31);
            b = Rotate((b + (ulong)v) * P2, 27) ^ P3;
        }

        public void Str(string text)
        {
            Int(text.Length);
            foreach (var c in text) Int(c);
        }

        public void Address(Ipv4Address v) => Value(_s._addresses, v.Value, v.Value);

        public void Mac(MacAddress v) => Value(_s._macs, v.Value, (long)v.Value);

        public void Name(string device)
        {
            if (_s._names.TryGetValue(device, out var who) && (who.Node >= 0 || who.Tasks is not null) && Own(who)) return;
            Str(device);
        }

        public void Cidr(Ipv4Cidr c)
        {
            Address(c.Address);
            Int(c.PrefixLength);
        }

        private void Value<TKey>(Dictionary<TKey, Who> map, TKey key, long raw) where TKey : notnull
        {
            if (map.TryGetValue(key, out var who) && Own(who)) return;
            Int(-3);
            Int(raw);
        }

        // Notes whose the value is; true when it was rendered as a token.
        private bool Own(Who who)
        {
            if (who.Tasks is { } t) foreach (var n in t) if (!TaskNodes.Contains(n)) TaskNodes.Add(n);
            if (who.Node < 0) return false;
            if (who.Node == _self) { Int(-1); Int(who.Token); return true; }
            if (who.Node == _other) { Int(-2); Int(who.Token); return true; }
            if (!Nodes.Contains(who.Node)) Nodes.Add(who.Node);
            return false;
        }

        private static ulong Rotate(ulong x, int k) => (x << k) | (x >> (64 - k));

        private static ulong Finish(ulong x)
        {
            x ^= x >> 33;
            x *= 0xFF51AFD7ED558CCDUL;
            x ^= x >> 33;
            x *= 0xC4CEB9FE1A85EC53UL;
            x ^= x >> 33;
            return x;
        }
    }

    // ───────────────────────────── one pair ─────────────────────────────

    private string? Compare(int r, int d, out Transfer? transfer)
    {
        transfer = null;
        var fr = _facts[r];
        var fd = _facts[d];
        if (fr.Irregular is { } ir) return "the reference: " + ir;
        if (fd.Irregular is { } id) return id;
        if (_tangled.Contains((r, d))) return "an entry of the plan names both it and the reference";
        if (fr.UnderlayInterface != fd.UnderlayInterface) return "its underlay interface is named otherwise";
        if (fr.NamespaceByRole.Count != fd.NamespaceByRole.Count) return "it has other namespaces than the reference";
        var map = new Dictionary<int, int>();
        foreach (var kv in fr.NamespaceByRole)
        {
            if (!fd.NamespaceByRole.TryGetValue(kv.Key, out var mine)) return "it has other namespaces than the reference";
            map[kv.Value] = mine;
            if (!Of(fr, kv.Key, d).Equals(Of(fd, kv.Key, r))) return "its namespace " + _cluster.Namespaces[mine].Name + " differs from the reference's";
        }
        if (!SameKeys(fr.AddressByToken, fd.AddressByToken) || !SameKeys(fr.MacByToken, fd.MacByToken) || !SameKeys(fr.NameByToken, fd.NameByToken)) return "its own addresses or MACs sit otherwise than the reference's";
        foreach (var kv in fr.AddressByToken)
        {
            var mine = new Ipv4Address(fd.AddressByToken[kv.Key]);
            var theirs = new Ipv4Address(kv.Value);
            foreach (var p in _prefixes)
                if (p.PrefixLength < 32 && p.Contains(mine) != p.Contains(theirs)) return "the prefix " + p + " holds one of its address " + mine + " and the reference's " + theirs;
        }
        if (!SameElsewhere(fr.Elsewhere, fd.Elsewhere, r, d) || !SameElsewhere(fd.Elsewhere, fr.Elsewhere, r, d))
            return "another namespace treats its addresses or MACs otherwise than the reference's";
        transfer = new Transfer(this, r, d, map, fr.Holes, fd.Holes);
        return null;
    }

    private static Sum Of(NodeFacts f, int role, int other)
    {
        f.Base.TryGetValue(role, out var sum);
        if (f.Adjust.TryGetValue((role, other), out var adj)) { sum.A += adj.A; sum.B += adj.B; }
        return sum;
    }

    private static bool SameKeys<T>(Dictionary<int, T> a, Dictionary<int, T> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var k in a.Keys) if (!b.ContainsKey(k)) return false;
        return true;
    }

    private bool SameElsewhere(Dictionary<int, Sum> a, Dictionary<int, Sum> b, int r, int d)
    {
        foreach (var kv in a)
        {
            int owner = _nodeOf[kv.Key];
            if (owner == r || owner == d) continue; // their own namespaces: compared above
            if (!b.TryGetValue(kv.Key, out var other) || !other.Equals(kv.Value)) return false;
        }
        return true;
    }

    // ───────────────────────────── one walk ─────────────────────────────

    /// <summary>
    /// The nodes a probe's walk (request and reply) touched beyond <paramref name="reference"/>'s own namespaces and values, sorted: a
    /// node whose namespace it entered or whose values it looked up, and the reference itself when it entered or looked up
    /// one of its tasks. A node in the list cannot take the class.
    /// </summary>
    public int[] Touched(PathRecord request, PathRecord reply, string reference) => Touched(new NotedKeys(request, reply), reference);

    /// <summary><see cref="Touched(PathRecord, PathRecord, string)"/> of keys noted before the plan was indexed.</summary>
    public int[] Touched(NotedKeys keys, string reference)
    {
        int r = _nodeIndex[reference];
        var touched = new List<int>(2);
        void Node(int n)
        {
            if (!touched.Contains(n)) touched.Add(n);
        }
        foreach (var ns in keys.Namespaces)
        {
            if (ns >= _nodeOf.Count) continue; // an outside client
            int n = _nodeOf[ns];
            if (_isTask[ns] || n != r) Node(n);
        }
        void Of<TKey>(Dictionary<TKey, Who> map, TKey key) where TKey : notnull
        {
            if (!map.TryGetValue(key, out var who)) return;
            if (who.Node >= 0 && who.Node != r) Node(who.Node);
            if (who.Tasks is { } t) foreach (var n in t) Node(n);
        }
        foreach (var a in keys.Addresses) Of(_addresses, a);
        foreach (var m in keys.Macs) Of(_macs, m);
        var result = touched.ToArray();
        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// What a probe's walks (request and reply) entered and looked up, copied out of the reused records: the reference's
    /// sweep keeps them while the plan is indexed beside it, and maps them to nodes once it is (<see cref="Touched(NotedKeys, string)"/>).
    /// </summary>
    internal sealed class NotedKeys
    {
        public NotedKeys(PathRecord request, PathRecord reply)
        {
            var namespaces = new List<int>();
            var addresses = new List<uint>();
            var macs = new List<ulong>();
            foreach (var p in new[] { request, reply })
            {
                if (!p.Walked) continue;
                namespaces.AddRange(p.Namespaces);
                namespaces.AddRange(p.Tunnel.Namespaces);
                addresses.AddRange(p.Addresses);
                macs.AddRange(p.Macs);
            }
            Namespaces = namespaces.ToArray();
            Addresses = addresses.ToArray();
            Macs = macs.ToArray();
        }

        /// <summary>The namespaces entered (tunnelled ones too).</summary>
        public int[] Namespaces { get; }
        /// <summary>The addresses looked up or carried.</summary>
        public uint[] Addresses { get; }
        /// <summary>The MACs carried.</summary>
        public ulong[] Macs { get; }
    }

    /// <summary>What one node takes of the reference's sweep.</summary>
    internal sealed class Transfer
    {
        private readonly NodeDestinationSharing _sharing;
        private readonly int _reference, _node;
        private readonly Dictionary<int, int> _namespaces;
        private readonly List<(IpProtocol? Protocol, int From, int To)> _holes = new();

        internal Transfer(NodeDestinationSharing sharing, int reference, int node, Dictionary<int, int> namespaces,
            List<(IpProtocol?, int, int)> referenceHoles, List<(IpProtocol?, int, int)> nodeHoles)
        {
            _sharing = sharing;
            _reference = reference;
            _node = node;
            _namespaces = namespaces;
            _holes.AddRange(referenceHoles);
            _holes.AddRange(nodeHoles);
        }

        /// <summary>The ports of rules and listeners of either node's own tasks (by protocol; null: any), which it probes itself.</summary>
        public IReadOnlyList<(IpProtocol? Protocol, int From, int To)> Holes => _holes;

        /// <summary>Whether a class of the reference's sweep over [from, to] of <paramref name="protocol"/>, whose walk touched <paramref name="touched"/>, is this node's too.</summary>
        public bool Takes(IpProtocol protocol, int from, int to, int[] touched)
        {
            if (Array.BinarySearch(touched, _reference) >= 0 || Array.BinarySearch(touched, _node) >= 0) return false;
            foreach (var (p, a, b) in _holes)
                if ((p is null || p == protocol) && a <= to && b >= from) return false;
            return true;
        }

        /// <summary>
        /// Whether a pick by <paramref name="hashed"/> (the source or destination address a balancer hashed in the reference's
        /// walk) could be another at this node: the address is either node's own or one of the two nodes' tasks' (this node's
        /// walk hashes its own there).
        /// </summary>
        public bool PicksOtherwise(Ipv4Address hashed) =>
            _sharing._addresses.TryGetValue(hashed.Value, out var who)
            && (who.Node == _reference || who.Node == _node || who.Tasks is { } t && (t.Contains(_reference) || t.Contains(_node)));

        /// <summary>Whether a balancer picks by the packet's destination (IPVS dh, nftables jhash ip daddr): then the class is taken only when the address hashed is no node's own (<see cref="PicksOtherwise"/>).</summary>
        public bool HashesDestination(long balancer)
        {
            int ns = (int)(balancer >> 32), index = (int)((balancer & 0xFFFFFFFFL) >> 1);
            bool nft = (balancer & 1) != 0;
            if (ns >= _sharing._cluster.Namespaces.Count || _sharing._cluster.Namespaces[ns].Plan is not { } plan) return true;
            return nft ? index >= plan.NftLoadBalancers.Count || plan.NftLoadBalancers[index].Pick == NftPick.DestinationHash
                : index >= plan.Ipvs.Count || plan.Ipvs[index].Scheduler == Scheduler.Dh;
        }

        /// <summary>This node's namespace of the name of the reference's namespace <paramref name="ns"/> (null for any other namespace).</summary>
        public int? Namespace(int ns) => _namespaces.TryGetValue(ns, out var mine) ? mine : null;

        /// <summary>The reference's balancer (<see cref="PathRecord.BalancerKey"/>) as this node's: its namespace swapped for this node's of that name.</summary>
        public long Balancer(long key)
        {
            int ns = (int)(key >> 32);
            return _namespaces.TryGetValue(ns, out var mine) ? ((long)mine << 32) | (key & 0xFFFFFFFFL) : key;
        }
    }
}
