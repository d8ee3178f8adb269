using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>One network device as the kernel of one host would number and describe it.</summary>
/// <param name="Namespace">The plan namespace it lives in.</param>
/// <param name="Device">Its plan.</param>
/// <param name="Index">Its ifindex in that namespace.</param>
/// <param name="Mac">Its MAC address (the plan's, or a stable one in place of the kernel's random one).</param>
/// <param name="LinkIndex">For a veth, the peer's ifindex; for a VXLAN device moved from another namespace, its own index
/// (the kernel always reports <c>IFLA_LINK</c> for links that have a link namespace); otherwise null.</param>
/// <param name="LinkNamespace">The plan namespace of the peer (veth) or of the VXLAN socket, when it is another namespace.</param>
/// <param name="PortNumber">The bridge port number when the device is a bridge port (the kernel gives the lowest free, from 1).</param>
public sealed record LinkInfo(string Namespace, DevicePlan Device, int Index, MacAddress Mac, int? LinkIndex, string? LinkNamespace, int? PortNumber)
{
    /// <summary>The interface name.</summary>
    public string Name => Device.Name;
}

/// <summary>
/// The kernel's numbering of one host's devices: ifindexes, MAC addresses where the plan leaves them to the kernel, the
/// namespace ids each namespace gives the others, and bridge port numbers. It replays what the emitted <c>apply.sh</c> does
/// (the creation order of <see cref="Emit.NodeLayout"/>): every namespace exists first (lo is 1) and the pre-existing
/// underlay interface is 2 in the host namespace; then VXLAN devices are made in their <see cref="VxlanPlan.CreatedIn"/>
/// namespace and moved (a moved device keeps its index when it is free in the target), and each end of a veth pair is made
/// directly in its namespace (the kernel registers the peer first, each end taking the next free index of its own
/// namespace's counter); then each namespace makes its bridges (and VXLAN devices that stay where they are made)
/// in plan order, and ports join their bridges in plan order (port numbers are the lowest free).
/// </summary>
/// <remarks>
/// Values the kernel draws at random (MACs left to the kernel, the real host's own ifindexes) are derived from the device's
/// node, namespace and name so every output is reproducible; tests against a real kernel normalise exactly these.
/// </remarks>
public sealed class LinkTable
{
    private readonly Dictionary<string, List<LinkInfo>> _byNamespace = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _nsids = new(StringComparer.Ordinal);

    /// <summary>The host.</summary>
    public HostPlan Host { get; }

    private LinkTable(HostPlan host) => Host = host;

    /// <summary>The namespace of <paramref name="name"/>, or null.</summary>
    public NamespacePlan? Namespace(string name) => Host.Namespaces.FirstOrDefault(n => n.Name == name);

    /// <summary>The links of a namespace in ifindex order (the order <c>ip link</c> lists them).</summary>
    public IReadOnlyList<LinkInfo> Links(string ns) => _byNamespace.TryGetValue(ns, out var l) ? l : (IReadOnlyList<LinkInfo>)Array.Empty<LinkInfo>();

    /// <summary>The link named <paramref name="device"/> in <paramref name="ns"/>, or null.</summary>
    public LinkInfo? Find(string ns, string device) => Links(ns).FirstOrDefault(l => l.Name == device);

    /// <summary>The ports of a bridge, in port-number order.</summary>
    public IReadOnlyList<LinkInfo> Ports(string ns, string bridge) =>
        Links(ns).Where(l => l.Device.Master == bridge).OrderBy(l => l.PortNumber).ToList();

    /// <summary>The id namespace <paramref name="ns"/> gives <paramref name="other"/> (<c>link-netnsid</c>); ids are allocated 0, 1, ... in the order the namespaces first meet.</summary>
    public int NetnsId(string ns, string other)
    {
        var list = _nsids.TryGetValue(ns, out var l) ? l : null;
        var i = list?.IndexOf(other) ?? -1;
        return i >= 0 ? i : 0;
    }

    /// <summary>Whether the bridge carries a MAC of its own (set in the plan) rather than taking its lowest port's.</summary>
    public static bool HasOwnAddress(DevicePlan bridge) => bridge.Mac is not null;

    /// <summary>The bridge id (<c>8000.&lt;mac&gt;</c> digits): the bridge MAC, or all zeros for a bridge with neither ports nor a set address.</summary>
    public MacAddress BridgeId(string ns, LinkInfo bridge) =>
        HasOwnAddress(bridge.Device) || Ports(ns, bridge.Name).Count > 0 ? bridge.Mac : MacAddress.Zero;

    /// <summary>Numbers the devices of <paramref name="host"/> (a host of <paramref name="plan"/>).</summary>
    public static LinkTable Build(DataplanePlan plan, HostPlan host)
    {
        var table = new LinkTable(host);
        var layout = new Emit.NodeLayout(plan, host);
        var state = new Numbering(host);
        var creators = new[] { layout.HostNamespace }.Concat(layout.Vxlans.Select(v => v.CreatedIn)).Distinct().ToList();
        foreach (var creator in creators)
        {
            foreach (var v in layout.Vxlans.Where(v => v.CreatedIn == creator))
                state.Move(creator, v.Namespace, v.Device.Name, state.Allocate(creator), creator);
            if (creator != layout.HostNamespace) continue;
            // apply.sh makes each end of a pair directly in its namespace (`link add A netns X type veth peer name B netns
            // Y`): veth_newlink registers the peer first, and each end takes the next free index of its own namespace.
            foreach (var pair in layout.Pairs)
            {
                var bNs = state.Known(pair.B.Namespace) ? pair.B.Namespace : creator;
                var aNs = state.Known(pair.A.Namespace) ? pair.A.Namespace : creator;
                state.Place(bNs, pair.B.Device, state.Allocate(bNs));
                state.Place(aNs, pair.A.Device, state.Allocate(aNs));
                state.Meet(aNs, bNs);
            }
        }
        foreach (var ns in layout.All)
            foreach (var dev in ns.Devices)
                if (dev.Kind == DeviceKind.Bridge || dev.Kind == DeviceKind.Vxlan && dev.Vxlan?.CreatedIn == ns.Name)
                    state.Place(ns.Name, dev.Name, state.Allocate(ns.Name));
        foreach (var ns in layout.All)
            foreach (var dev in ns.Devices)
                if (dev.Master is not null) state.Enslave(ns.Name, dev);
        state.Finish(table);
        return table;
    }

    /// <summary>
    /// A stable locally administered unicast MAC for a device whose MAC the kernel would draw at random: <c>02</c> followed
    /// by 40 bits of FNV-1a over <c>node/namespace/device</c>, the same derivation as the Runtime's (so a trace and
    /// <c>show</c> agree on every address).
    /// </summary>
    public static MacAddress StableMac(string node, string ns, string device)
    {
        ulong h = 14695981039346656037UL;
        foreach (var ch in node + "/" + ns + "/" + device)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return new MacAddress(0x02_00_00_00_00_00UL | (h & 0x00_FF_FF_FF_FF_FFUL));
    }

    private sealed class Numbering
    {
        private readonly HostPlan _host;
        private readonly Dictionary<string, int> _counter = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HashSet<int>> _used = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Ns, string Dev), int> _index = new();
        private readonly Dictionary<string, List<string>> _nsids = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Ns, string Bridge), HashSet<int>> _ports = new();
        private readonly Dictionary<(string Ns, string Dev), int> _portNo = new();

        public Numbering(HostPlan host)
        {
            _host = host;
            foreach (var ns in host.Namespaces)
            {
                _counter[ns.Name] = 1;
                _used[ns.Name] = new HashSet<int> { 1 };
                _nsids[ns.Name] = new List<string>();
                foreach (var dev in ns.Devices)
                    if (dev.Kind == DeviceKind.Loopback) _index[(ns.Name, dev.Name)] = 1;
            }
            // The underlay NIC exists before anything we make: a real host's first NIC is usually 2.
            foreach (var ns in host.Namespaces)
                foreach (var dev in ns.Devices)
                    if (dev.Kind == DeviceKind.Physical) _index[(ns.Name, dev.Name)] = Allocate(ns.Name);
        }

        public void Place(string ns, string device, int index) => _index[(ns, device)] = index;

        /// <summary>Moves a device made in <paramref name="from"/> to <paramref name="to"/>: it keeps its index when free there.</summary>
        public void Move(string from, string to, string device, int index, string peerNamespace)
        {
            if (!_used.ContainsKey(to)) to = from;
            if (from != to)
            {
                _used[from].Remove(index);
                if (_used[to].Contains(index)) index = Allocate(to);
                else _used[to].Add(index);
            }
            _index[(to, device)] = index;
            if (_used.ContainsKey(peerNamespace)) Meet(to, peerNamespace);
        }

        public void Enslave(string ns, DevicePlan dev)
        {
            var key = (ns, dev.Master!);
            if (!_ports.TryGetValue(key, out var taken)) _ports[key] = taken = new HashSet<int>();
            int p = 1;
            while (taken.Contains(p)) p++;
            taken.Add(p);
            _portNo[(ns, dev.Name)] = p;
        }

        public bool Known(string ns) => _used.ContainsKey(ns);

        public void Meet(string a, string b)
        {
            if (a == b) return;
            if (!_nsids[a].Contains(b)) _nsids[a].Add(b);
            if (!_nsids[b].Contains(a)) _nsids[b].Add(a);
        }

        public int Allocate(string ns)
        {
            var used = _used[ns];
            var i = _counter[ns];
            do { i++; } while (used.Contains(i));
            _counter[ns] = i;
            used.Add(i);
            return i;
        }

        public void Finish(LinkTable table)
        {
            foreach (var kv in _nsids) table._nsids[kv.Key] = kv.Value;
            foreach (var ns in _host.Namespaces)
            {
                var macs = new Dictionary<string, MacAddress>(StringComparer.Ordinal);
                foreach (var dev in ns.Devices)
                    macs[dev.Name] = dev.Kind == DeviceKind.Loopback ? MacAddress.Zero
                        : dev.Mac ?? StableMac(_host.Node, ns.Name, dev.Name);
                // A bridge without an address of its own takes the lowest MAC among its ports (br_stp_recalculate_bridge_id).
                foreach (var dev in ns.Devices)
                {
                    if (dev.Kind != DeviceKind.Bridge || dev.Mac is not null) continue;
                    var ports = ns.Devices.Where(d => d.Master == dev.Name).Select(d => macs[d.Name]).ToList();
                    if (ports.Count > 0) macs[dev.Name] = new MacAddress(ports.Min(m => m.Value));
                }
                var links = new List<LinkInfo>();
                foreach (var dev in ns.Devices)
                {
                    var index = _index.TryGetValue((ns.Name, dev.Name), out var ix) ? ix : 0;
                    int? linkIndex = null;
                    string? linkNs = null;
                    if (dev.Kind == DeviceKind.Veth && dev.Peer is { } peer)
                    {
                        linkIndex = _index.TryGetValue((peer.Namespace, peer.Device), out var pi) ? pi : 0;
                        linkNs = peer.Namespace == ns.Name ? null : peer.Namespace;
                    }
                    else if (dev.Kind == DeviceKind.Vxlan && dev.Vxlan is { } vx && vx.CreatedIn != ns.Name && _used.ContainsKey(vx.CreatedIn))
                    {
                        linkIndex = index;
                        linkNs = vx.CreatedIn;
                    }
                    int? port = _portNo.TryGetValue((ns.Name, dev.Name), out var pn) ? pn : null;
                    links.Add(new LinkInfo(ns.Name, dev, index, macs[dev.Name], linkIndex, linkNs, port));
                }
                links.Sort((x, y) => x.Index.CompareTo(y.Index));
                table._byNamespace[ns.Name] = links;
            }
        }
    }
}
