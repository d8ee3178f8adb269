using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Diagnostics;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Lowering;

/// <summary>
/// Lowers an analyzed <see cref="Topology"/> to the <see cref="DataplanePlan"/>: what Docker Swarm (≥ 28.0.1 iptables layout)
/// provisions on every node, per namespace (see <c>reference/swarm-dataplane.md</c>). All Swarm knowledge lives here; the
/// plan it produces only speaks Linux. Pure and deterministic: everything is derived in the model's order.
/// </summary>
/// <remarks>
/// Veth convention: the sandbox end (task, <c>ingress_sbox</c>, <c>lb_*</c>) has <see cref="VethPeer.CreatesPair"/> = true;
/// the overlay-namespace end (<c>vethN</c> on br0) and the host end (on docker_gwbridge) have false. Namespaces are listed
/// host, overlays, ingress_sbox, lb_*, tasks, so the peer's namespace always exists when the sandbox creates the pair.
/// </remarks>
public static class SwarmLowering
{
    /// <summary>The name of the host's own namespace in the plan.</summary>
    public const string HostNamespace = TopologyAnalyzer.HostNamespaceName;
    /// <summary>The overlay namespace's bridge.</summary>
    public const string OverlayBridge = "br0";
    /// <summary>The overlay namespace's VXLAN device.</summary>
    public const string VxlanDevice = "vxlan0";

    /// <summary>Lowers <paramref name="topology"/>; problems that only show here (raw rules) are reported to <paramref name="diagnostics"/>.</summary>
    public static DataplanePlan Lower(Topology topology, LoweringOptions options, DiagnosticBag diagnostics)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        if (options is null) throw new ArgumentNullException(nameof(options));
        if (diagnostics is null) throw new ArgumentNullException(nameof(diagnostics));
        return new Lowerer(topology, options, diagnostics).Run();
    }

    /// <summary>The Linux bridge device of a bridge network: <c>docker_gwbridge</c> keeps its name, others are <c>br-&lt;name&gt;</c>.</summary>
    public static string BridgeDevice(string network) => network == TopologyAnalyzer.GatewayBridge ? network : InterfaceNames.Bridge(network);

    private sealed class Lowerer
    {
        private const uint FullMask = 0xFFFF_FFFFu;
        private static readonly Ipv4Cidr Loopback = new(Ipv4Address.FromBytes(127, 0, 0, 0), 8);

        private readonly Topology _t;
        private readonly LoweringOptions _options;
        private readonly DiagnosticBag _d;
        private readonly Dictionary<string, NodeModel> _nodes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, NetworkModel> _networks = new(StringComparer.Ordinal);
        private readonly Dictionary<string, ServiceModel> _services = new(StringComparer.Ordinal);
        private readonly NetworkModel? _ingress;
        private readonly NetworkModel? _gw;
        // Indexes over the model, built once, each list in model order: a cluster of thousands of tasks must not scan every
        // endpoint per task or per load balancer (that was quadratic, minutes on a 5,000-task topology).
        private readonly Dictionary<(string Node, string Network), List<EndpointModel>> _endpointsByNodeNetwork = new();
        private readonly Dictionary<string, List<EndpointModel>> _endpointsByNetwork = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Node, string Namespace, EndpointKind Kind), EndpointModel> _firstEndpoint;
        private readonly Dictionary<(string Node, string Namespace), List<EndpointModel>> _taskLegs = new();
        private readonly Dictionary<(string Namespace, string Network), EndpointModel> _firstTaskLeg;
        private readonly Dictionary<(string Namespace, string Network), EndpointModel> _firstLeg;
        private readonly Dictionary<string, List<TaskModel>> _tasksByService = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<TaskModel>> _tasksByNode = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Node, string Network), List<LoadBalancerModel>> _loadBalancers = new();
        // A service's backends on a network are the same on every node: derived once, the immutable plan parts shared.
        private readonly Dictionary<(string Service, string Network), List<(TaskModel Task, Ipv4Address Address)>> _backends = new();
        private readonly Dictionary<(string Service, string Network), EquatableArray<IpvsDestinationPlan>> _ipvsDestinations = new();
        private readonly Dictionary<(string Service, string Network), EquatableArray<Ipv4Address>> _nftSlots = new();
        // An overlay endpoint's permanent neighbour and FDB entry in the other nodes' overlay namespaces (by reference).
        // A balancer's rules and IPVS service by what they are made of (shared by every node's copy).
        private readonly Dictionary<(string Service, string Network, int FwMark, Ipv4Address Vip, SourceSpan Span, bool Ingress),
            (List<NetfilterRule> Prerouting, NetfilterRule Input, IpvsServicePlan? Ipvs)> _balancerParts = new();
        // A published port's DOCKER-INGRESS rules by (service, port index, DNAT address): the same on every node.
        // Read without the lock (every node reads them, made once): two threads lowering nodes waited on each other here.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Service, int Port, Ipv4Address? Gateway), (NetfilterRule? Dnat, NetfilterRule Established, NetfilterRule Accept)> _ingressPortRules = new();
        // What BalancerParts returned for a balancer's shape and VIP alias, read without the lock.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<((string, string, int, Ipv4Address, SourceSpan, bool) Shape, string Device, SourceSpan Span),
            ((List<NetfilterRule> Prerouting, NetfilterRule Input, IpvsServicePlan? Ipvs) Parts, EquatableArray<Ipv4Address> Slots, AddressPlan Alias)> _balancers = new();
        // Per network, aligned with _endpointsByNetwork's list.
        private readonly Dictionary<string, (NeighborPlan, FdbPlan)?[]> _remoteEntries = new(StringComparer.Ordinal);
        // Per network, aligned with _endpointsByNetwork's list: each endpoint's node index (-1: no such node).
        private readonly Dictionary<string, int[]> _endpointNodes = new(StringComparer.Ordinal);
        // A load balancer's VIP alias on its sandbox's leg (the same object in every node's sandbox).
        private readonly Dictionary<(string Interface, Ipv4Address Vip, SourceSpan Span), AddressPlan> _vipAddresses = new();
        // Long chains and IPVS tables equal in several namespaces (every node's routing mesh), kept once.
        private readonly PlanInterner _interner = new();
        // Guards the shared parts above while nodes are lowered in parallel (LoweringOptions.Parallelism).
        private readonly object _shared = new();
        // What every task and node makes of a service's ports, made once per service (read-only once the constructor is done).
        private readonly Dictionary<string, ServiceParts> _serviceParts = new(StringComparer.Ordinal);
        // A node's position in the topology, so a scan over endpoints compares numbers, not names.
        private readonly Dictionary<string, int> _nodeIndex = new(StringComparer.Ordinal);
        private static readonly IpProtocol[] DropOrder = { IpProtocol.Sctp, IpProtocol.Udp, IpProtocol.Tcp };
        private static readonly string[] TableNames = { "filter", "nat", "mangle", "raw" };

        /// <summary>A service's origin text and, per port, the origin, matches and target its rules use.</summary>
        private sealed class ServiceParts
        {
            public ServiceParts(ServiceModel svc)
            {
                Origin = "services." + svc.Name;
                Ports = new PortParts[svc.Ports.Count];
                for (int i = 0; i < Ports.Length; i++)
                {
                    Ports[i] = new PortParts(svc, i);
                    if (svc.Ports[i].Mode == PublishMode.Host) PublishesHost = true;
                    else if (svc.Ports[i].Mode == PublishMode.Ingress) IngressPorts++;
                }
            }

            public bool PublishesHost { get; }
            /// <summary>How many of its ports are published in ingress mode.</summary>
            public int IngressPorts { get; }
            public string Origin { get; }
            public PortParts[] Ports { get; }
        }

        private sealed class PortParts
        {
            public PortParts(ServiceModel svc, int index)
            {
                var p = svc.Ports[index];
                Origin = PortOrigin(svc, index);
                Protocol = Rule.Protocol(p.Protocol);
                PublishedDport = new PortMatch(p.Protocol, Direction.Destination, p.Published, p.Published);
                TargetDport = new PortMatch(p.Protocol, Direction.Destination, p.Target, p.Target);
                TargetSport = new PortMatch(p.Protocol, Direction.Source, p.Target, p.Target);
                Redirect = new RedirectTarget(p.Target);
            }

            public string Origin { get; }
            public ProtocolMatch Protocol { get; }
            public PortMatch PublishedDport { get; }
            public PortMatch TargetDport { get; }
            public PortMatch TargetSport { get; }
            public RedirectTarget Redirect { get; }
        }

        public Lowerer(Topology t, LoweringOptions options, DiagnosticBag d)
        {
            _t = t;
            _options = options;
            _d = d;
            for (int i = 0; i < t.Nodes.Count; i++)
            {
                _nodes[t.Nodes[i].Name] = t.Nodes[i];
                if (!_nodeIndex.ContainsKey(t.Nodes[i].Name)) _nodeIndex[t.Nodes[i].Name] = i;
            }
            foreach (var n in t.Networks) _networks[n.Name] = n;
            foreach (var s in t.Services)
            {
                _services[s.Name] = s;
                _serviceParts[s.Name] = new ServiceParts(s);
            }
            int endpoints = t.Endpoints.Count;
            _firstEndpoint = new(endpoints);
            _firstLeg = new(endpoints);
            _firstTaskLeg = new(endpoints);

            _ingress = t.Networks.FirstOrDefault(n => n.IsOverlay && n.Ingress);
            _gw = t.Networks.FirstOrDefault(n => n.Name == TopologyAnalyzer.GatewayBridge && !n.IsOverlay);
            foreach (var e in t.Endpoints)
            {
                ListOf(_endpointsByNodeNetwork, (e.Node, e.Network)).Add(e);
                ListOf(_endpointsByNetwork, e.Network).Add(e);
                FirstOf(_firstEndpoint, (e.Node, e.Namespace, e.Kind), e);
                FirstOf(_firstLeg, (e.Namespace, e.Network), e);
                if (e.Kind != EndpointKind.Task) continue;
                ListOf(_taskLegs, (e.Node, e.Namespace)).Add(e);
                FirstOf(_firstTaskLeg, (e.Namespace, e.Network), e);
            }
            foreach (var task in t.Tasks)
            {
                ListOf(_tasksByService, task.Service).Add(task);
                ListOf(_tasksByNode, task.Node).Add(task);
            }
            foreach (var lb in t.LoadBalancers) ListOf(_loadBalancers, (lb.Node, lb.Network)).Add(lb);
        }

        private bool Ipvs => _options.Backend == LoadBalancerBackend.Ipvs;

        // ---- where derived objects point -------------------------------------------------------------------------
        // A network the file does not declare (Docker derives docker_gwbridge and the ingress network) has no place of its own:
        // its objects point at the declaration that made Docker create it, as the model records (NetworkModel.Cause,
        // NodeModel.GatewayBridgeCause), so every rule comment and trace step leads back to a line (docs/emit.md).

        /// <summary>Where the objects of <paramref name="net"/> point: its declaration, or what made Docker create it.</summary>
        private static SourceSpan SpanOf(NetworkModel net) => net.Implicit ? net.Cause : net.Span;

        /// <summary>Where the objects of <paramref name="net"/> on <paramref name="node"/> point (a derived docker_gwbridge's cause is per node).</summary>
        private static SourceSpan SpanOf(NetworkModel net, NodeModel node) =>
            net.Implicit && net.Name == TopologyAnalyzer.GatewayBridge && !net.IsOverlay ? node.GatewayBridgeCause : SpanOf(net);

        /// <summary>Where the ingress network's objects point (none without one).</summary>
        private SourceSpan IngressSpan => _ingress is null ? SourceSpan.None : SpanOf(_ingress);

        /// <summary>Where docker_gwbridge's objects on <paramref name="node"/> point.</summary>
        private SourceSpan GatewaySpan(NodeModel node) => _gw is null ? SourceSpan.None : SpanOf(_gw, node);

        /// <summary>
        /// Where an endpoint's objects point: its own declaration, else its network's (a load balancer's or ingress_sbox's
        /// gateway leg on a derived network has none of its own).
        /// </summary>
        private SourceSpan SpanOf(EndpointModel e) => e.Span.IsKnown ? e.Span : SpanOf(_networks[e.Network], _nodes[e.Node]);

        private static List<TValue> ListOf<TKey, TValue>(Dictionary<TKey, List<TValue>> index, TKey key) where TKey : notnull
        {
            if (!index.TryGetValue(key, out var list)) index[key] = list = new List<TValue>();
            return list;
        }

        // Keeps the first value of a key (one lookup; the indexes keep the model's first match, as the scans they replace did).
        private static void FirstOf<TKey, TValue>(Dictionary<TKey, TValue> index, TKey key, TValue value) where TKey : notnull
        {
            if (!index.ContainsKey(key)) index.Add(key, value);
        }

        private static IReadOnlyList<TValue> Lookup<TKey, TValue>(Dictionary<TKey, List<TValue>> index, TKey key) where TKey : notnull
            => index.TryGetValue(key, out var list) ? list : Array.Empty<TValue>();

        public DataplanePlan Run()
        {
            var underlay = LowerUnderlay();
            var rules = ParseUserRules();
            // Nodes are lowered independently (what they share is made once under _shared, and read without it once made), each to its finished plan at
            // once: the raw rules go into its namespaces, its tables are checked, and its builders become the plan while they
            // are young (a large plan's builders, all kept until every node was lowered, were copied by the garbage collector
            // from generation to generation, and then once more into the plan).
            var lowered = PerNode(_t.Nodes.Count, i => LowerHostPlan(_t.Nodes[i], rules));
            // The problems, reported in the order a pass over every node's builders would report them: the raw rules in
            // declaration order, then jumps in node order, then sysctls.
            for (int i = 0; i < rules.Length; i++)
            {
                var r = _t.Rules[i];
                if (rules[i].Problem is { } problem) _d.Report(DiagnosticDescriptors.InvalidRule, r.Span, problem);
                else if (!lowered.Any(h => h.Placed[i]))
                    _d.Report(DiagnosticDescriptors.InvalidRule, r.Span, r.Node is null
                        ? $"{rules[i].Origin}: namespace '{r.Namespace}' exists on no node, so the rule has nowhere to go"
                        : $"{rules[i].Origin}: namespace '{r.Namespace}' does not exist on node '{r.Node}'");
            }
            var reported = new HashSet<string>(StringComparer.Ordinal);
            foreach (var h in lowered)
                foreach (var (rule, problem) in h.JumpProblems)
                    if (reported.Add(rule.Origin))
                        _d.Report(DiagnosticDescriptors.InvalidRule, rule.Span, rule.Origin + ": " + problem);
            ReportSysctlDevices(lowered);
            var plans = new HostPlan[lowered.Length];
            for (int i = 0; i < plans.Length; i++) plans[i] = lowered[i].Plan;
            return new DataplanePlan(_t.Name, _t.File, _options.Backend, underlay, EquatableArray<HostPlan>.Own(plans));
        }

        /// <summary>One node's plan, and what the checks that read its builders found.</summary>
        private sealed class LoweredHost
        {
            public LoweredHost(HostPlan plan, bool[] placed, List<(NetfilterRule Rule, string Problem)> jumpProblems, bool[] sysctlMissing)
            {
                Plan = plan;
                Placed = placed;
                JumpProblems = jumpProblems;
                SysctlMissing = sysctlMissing;
            }

            public HostPlan Plan { get; }
            /// <summary>Per raw rule: whether a namespace of this node took it.</summary>
            public bool[] Placed { get; }
            public List<(NetfilterRule Rule, string Problem)> JumpProblems { get; }
            /// <summary>Per sysctl: whether it names a device this node's host namespace lacks.</summary>
            public bool[] SysctlMissing { get; }
        }

        private LoweredHost LowerHostPlan(NodeModel node, UserRule[] rules)
        {
            var namespaces = LowerNode(node);
            var placed = PlaceUserRules(node, namespaces, rules);
            var jumps = _t.Rules.Count == 0 ? new List<(NetfilterRule, string)>() : UserJumpProblems(node, namespaces);
            var missing = SysctlDevicesMissing(node, namespaces);
            var built = new NamespacePlan[namespaces.Count];
            for (int i = 0; i < built.Length; i++) built[i] = namespaces[i].Build(_interner);
            var plan = new HostPlan(node.Name, node.Hostname, node.Address, node.Interface, EquatableArray<NamespacePlan>.Own(built), node.Span);
            return new LoweredHost(plan, placed, jumps, missing);
        }

        // A sysctl naming a device (net.ipv4.conf.<dev>.rp_filter, …) that a node's host namespace will not have: apply.sh finds
        // no such key there and skips it with a warning, so the setting is silently never made. Said once per declaration, for
        // the first such node.
        private bool[] SysctlDevicesMissing(NodeModel node, List<NamespaceBuilder> namespaces)
        {
            var missing = new bool[_t.Sysctls.Count];
            for (int i = 0; i < missing.Length; i++)
            {
                var s = _t.Sysctls[i];
                if (SysctlDevice(s.Key) is not { } device || device is "all" or "default" or "lo") continue;
                if (s.Node is not null && s.Node != node.Name) continue;
                var host = namespaces.FirstOrDefault(ns => ns.Kind == NamespaceKind.Host);
                if (host is null || device == node.Interface || host.Devices.Any(d => d.Name == device)) continue;
                missing[i] = true;
            }
            return missing;
        }

        private void ReportSysctlDevices(LoweredHost[] hosts)
        {
            for (int i = 0; i < _t.Sysctls.Count; i++)
            {
                var s = _t.Sysctls[i];
                for (int n = 0; n < hosts.Length; n++)
                {
                    if (!hosts[n].SysctlMissing[i]) continue;
                    var node = _t.Nodes[n];
                    _d.Report(DiagnosticDescriptors.SysctlDeviceMissing, s.Span,
                        $"sysctl {s.Key}: node '{node.Name}' has no device '{SysctlDevice(s.Key)}' in its host namespace (its underlay interface is {node.Interface}), so apply.sh skips it there with a warning and the setting is never made",
                        Severity.Warning);
                    break;
                }
            }
        }

        // The device of a per-device key: net.ipv4|ipv6.conf|neigh.<device>.<setting>.
        private static string? SysctlDevice(string key)
        {
            var parts = key.Split('.');
            return parts.Length == 5 && parts[0] == "net" && parts[1] is "ipv4" or "ipv6" && parts[2] is "conf" or "neigh" ? parts[3] : null;
        }

        // One result per node, each in its own slot (so the same in any order), on the options' threads from 8 nodes up: below
        // a few nodes a thread costs more than it saves.
        private T[] PerNode<T>(int count, Func<int, T> work)
        {
            var results = new T[count];
            if (_options.Parallelism > 1 && count >= 8)
                System.Threading.Tasks.Parallel.For(0, count, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism },
                    i => results[i] = work(i));
            else
                for (int i = 0; i < count; i++) results[i] = work(i);
            return results;
        }

        // ---- names -----------------------------------------------------------------------------------------------

        /// <summary>
        /// One node's veth names: (namespace, interface) of a sandbox leg → the name of its peer in the host or overlay
        /// namespace. Made per node (names never depend on another node), so nodes lowered in parallel name their own.
        /// </summary>
        private sealed class VethNames
        {
            public VethNames(int legs)
            {
                Host = new Dictionary<(string Namespace, string Interface), string>(legs);
                Overlay = new Dictionary<(string Namespace, string Interface), string>(legs);
            }

            public Dictionary<(string Namespace, string Interface), string> Host { get; }
            public Dictionary<(string Namespace, string Interface), string> Overlay { get; }
        }

        // "veth0", "veth1", …: the overlay ends' names, the same strings on every node.
        private static readonly string[] OverlayVethNames = Enumerable.Range(0, 256).Select(i => "veth" + i.ToString(CultureInfo.InvariantCulture)).ToArray();

        private static string OverlayVeth(int index) => index < OverlayVethNames.Length ? OverlayVethNames[index] : "veth" + index.ToString(CultureInfo.InvariantCulture);

        private VethNames NameVeths(NodeModel node)
        {
            var gwLegs = _gw is null ? Array.Empty<EndpointModel>() : LocalEndpoints(node.Name, _gw.Name);
            var names = new VethNames(gwLegs.Count);
            // Host ends of docker_gwbridge legs: hashed names, rehashed on the (unlikely) clash with another host device.
            var used = new HashSet<string>(StringComparer.Ordinal) { "lo", node.Interface };
            foreach (var n in _t.Networks)
                if (!n.IsOverlay) used.Add(BridgeDevice(n.Name));
            foreach (var e in gwLegs)
            {
                var name = InterfaceNames.HostVeth(node.Name, e.Namespace, e.Interface);
                for (int k = 1; !used.Add(name); k++)
                    name = "veth" + InterfaceNames.Hex7(node.Name + "/" + e.Namespace + "/" + e.Interface + "#" + k.ToString(CultureInfo.InvariantCulture));
                names.Host[(e.Namespace, e.Interface)] = name;
            }
            // Overlay ends: veth0, veth1, … in endpoint order, per overlay namespace.
            foreach (var net in _t.Networks)
            {
                if (!net.IsOverlay) continue;
                int index = 0;
                foreach (var e in LocalEndpoints(node.Name, net.Name))
                    names.Overlay[(e.Namespace, e.Interface)] = OverlayVeth(index++);
            }
            return names;
        }

        private IReadOnlyList<EndpointModel> LocalEndpoints(string node, string network) => Lookup(_endpointsByNodeNetwork, (node, network));

        // ---- underlay --------------------------------------------------------------------------------------------

        /// <summary>
        /// The outside client's address: the highest address of the underlay subnet (the first node's prefix when none is
        /// declared) that no node holds. Each node answers the client through its own on-link prefix, so when that address is
        /// not on-link for every node (an underlay subnet wider than the nodes' prefixes), the client takes instead the highest
        /// free address of the first node prefix, in node order, whose such address is on-link for every node and inside the
        /// underlay subnet. When there is none, the first choice stays and a warning says so (or, when the nodes themselves are
        /// not on one subnet, the front end has already said so: SWARM0042).
        /// </summary>
        private UnderlayPlan LowerUnderlay()
        {
            var subnet = _t.Underlay.Subnet ?? (_t.Nodes.Count > 0 ? _t.Nodes[0].Address.Subnet : new Ipv4Cidr(Ipv4Address.Any, 0));
            var used = new HashSet<uint>(_t.Nodes.Select(n => n.Address.Address.Value));
            var client = HighestFree(subnet, used);
            if (client is null)
            {
                var span = _t.Underlay.Span.IsKnown ? _t.Underlay.Span : _t.Nodes.Count > 0 ? _t.Nodes[0].Span : _t.Span;
                _d.Report(DiagnosticDescriptors.SubnetExhausted, span,
                    $"the underlay subnet {subnet} has no address left for the external client: use a larger underlay subnet", Severity.Warning);
            }
            else if (!OnLinkForEveryNode(client.Value))
            {
                Ipv4Address? better = null;
                var tried = new HashSet<Ipv4Cidr>();
                foreach (var n in _t.Nodes)
                {
                    // The node's prefix and the underlay subnet both hold the node's address, so the longer of the two is inside the other.
                    var prefix = n.Address.PrefixLength >= subnet.PrefixLength ? n.Address.Subnet : subnet;
                    if (!tried.Add(prefix)) continue;
                    if (HighestFree(prefix, used) is { } a && OnLinkForEveryNode(a)) { better = a; break; }
                }
                if (better is not null) client = better;
                else if (NodesOnOneLink())
                {
                    var span = _t.Underlay.Span.IsKnown ? _t.Underlay.Span : _t.Nodes[0].Span;
                    _d.Report(DiagnosticDescriptors.UnderlayNotOnLink, span,
                        $"no free address of the underlay is on-link for every node, so the external client {client} gets no reply from nodes whose prefix does not hold it: leave a free address in the nodes' subnet", Severity.Warning);
                }
            }
            return new UnderlayPlan(subnet, _t.Underlay.Mtu, _t.Underlay.DataPathPort, client ?? Ipv4Address.Any);
        }

        /// <summary>The highest usable address of <paramref name="subnet"/> outside <paramref name="used"/>: at most one more probe than there are used addresses.</summary>
        private static Ipv4Address? HighestFree(Ipv4Cidr subnet, HashSet<uint> used)
        {
            uint first = subnet.FirstHost.Value;
            for (uint v = subnet.LastHost.Value, tries = 0; v >= first && tries <= (uint)used.Count; v--, tries++)
            {
                if (!used.Contains(v)) return new Ipv4Address(v);
                if (v == 0) break;
            }
            return null;
        }

        private bool OnLinkForEveryNode(Ipv4Address a) => _t.Nodes.All(n => n.Address.Contains(a));

        private bool NodesOnOneLink() => _t.Nodes.All(n => _t.Nodes.All(o => n.Address.Contains(o.Address.Address)));

        // ---- per node --------------------------------------------------------------------------------------------

        private List<NamespaceBuilder> LowerNode(NodeModel node)
        {
            var names = NameVeths(node);
            var tasks = Lookup(_tasksByNode, node.Name);
            var result = new List<NamespaceBuilder>(2 + 2 * _t.Networks.Count + tasks.Count) { LowerHost(node, names) };
            foreach (var net in _t.Networks.Where(n => n.IsOverlay))
                if (LocalEndpoints(node.Name, net.Name).Count > 0) result.Add(LowerOverlay(node, net, names));
            if (_ingress is not null && FindEndpoint(node.Name, TopologyAnalyzer.IngressSandbox, EndpointKind.IngressLoadBalancer) is { } ingressLb)
                result.Add(LowerIngressSandbox(node, ingressLb, names));
            foreach (var net in _t.Networks.Where(n => n.IsOverlay && !n.Ingress))
                if (FindEndpoint(node.Name, TopologyAnalyzer.NetworkLoadBalancerNamespace(net.Name), EndpointKind.NetworkLoadBalancer) is { } lb)
                    result.Add(LowerNetworkLoadBalancer(node, net, lb, names));
            foreach (var task in tasks)
                result.Add(LowerTask(node, task, names));
            return result;
        }

        private EndpointModel? FindEndpoint(string node, string ns, EndpointKind kind)
            => _firstEndpoint.TryGetValue((node, ns, kind), out var e) ? e : null;

        // ---- host namespace --------------------------------------------------------------------------------------

        private NamespaceBuilder LowerHost(NodeModel node, VethNames names)
        {
            var ns = new NamespaceBuilder(HostNamespace, NamespaceKind.Host, "", node.Span);
            ns.Devices.Add(new DevicePlan(node.Interface, DeviceKind.Physical, _t.Underlay.Mtu, null, null, null, null, node.Span));
            ns.AddAddress(node.Interface, node.Address, node.Span);
            var bridges = BridgeNetworks().ToList();
            foreach (var net in bridges)
            {
                var dev = BridgeDevice(net.Name);
                var at = SpanOf(net, node);
                ns.Devices.Add(new DevicePlan(dev, DeviceKind.Bridge, net.Mtu, null, null, null, null, at));
                ns.AddAddress(dev, new Ipv4Cidr(net.Gateway, net.Subnet.PrefixLength), at);
            }
            if (_gw is not null)
            {
                // The host ends of every docker_gwbridge leg (ingress_sbox eth1, each task's gateway leg).
                foreach (var e in LocalEndpoints(node.Name, _gw.Name))
                    ns.Devices.Add(new DevicePlan(names.Host[(e.Namespace, e.Interface)], DeviceKind.Veth, _gw.Mtu, null, _gw.Name,
                        new VethPeer(e.Namespace, e.Interface, false), null, SpanOf(e)));
            }

            HostSysctls(node, ns);
            HostFirewall(node, ns, bridges);
            return ns;
        }

        // docker_gwbridge first (the gateway bridge every sandbox uses), then the other bridge networks in declaration order.
        private IEnumerable<NetworkModel> BridgeNetworks()
        {
            if (_gw is not null) yield return _gw;
            foreach (var n in _t.Networks.Where(n => !n.IsOverlay && n != _gw)) yield return n;
        }

        private void HostSysctls(NodeModel node, NamespaceBuilder ns)
        {
            var bridgeSpan = GatewaySpan(node);
            // The bridge driver turns forwarding on and makes bridged traffic traverse iptables.
            ns.SetSysctl("net.ipv4.ip_forward", "1", true, bridgeSpan);
            ns.SetSysctl("net.bridge.bridge-nf-call-iptables", "1", false, bridgeSpan);
            // Ingress: 127.0.0.1-sourced packets DNATed to ingress_sbox must be routable out of docker_gwbridge.
            if (_ingress is not null && _gw is not null)
                ns.SetSysctl("net.ipv4.conf." + BridgeDevice(_gw.Name) + ".route_localnet", "1", true, IngressSpan);
            // The overlay driver raises the neighbour table thresholds (ostweaks_linux.go).
            var overlay = _t.Networks.FirstOrDefault(n => n.IsOverlay);
            if (overlay is not null)
            {
                var at = SpanOf(overlay, node);
                ns.SetSysctl("net.ipv4.neigh.default.gc_thresh1", "8192", false, at, raiseOnly: true);
                ns.SetSysctl("net.ipv4.neigh.default.gc_thresh2", "49152", false, at, raiseOnly: true);
                ns.SetSysctl("net.ipv4.neigh.default.gc_thresh3", "65536", false, at, raiseOnly: true);
            }
            // The user's tuning: cluster-wide first, then this node's own (which win).
            foreach (var s in _t.Sysctls.Where(s => s.Node is null)) ns.SetSysctl(s.Key, s.Value, false, s.Span);
            foreach (var s in _t.Sysctls.Where(s => s.Node == node.Name)) ns.SetSysctl(s.Key, s.Value, false, s.Span);
        }

        private void HostFirewall(NodeModel node, NamespaceBuilder ns, List<NetworkModel> bridges)
        {
            var filter = ns.Netfilter.Table("filter");
            var nat = ns.Netfilter.Table("nat");
            var driverOrigin = "networks." + (_gw?.Name ?? TopologyAnalyzer.GatewayBridge);
            var driverSpan = GatewaySpan(node);
            const string IngressOrigin = "swarm.ingress";
            var ingressSpan = IngressSpan;
            bool ingress = _ingress is not null;

            // Chains in the order the bridge driver (≥ 28.0.1) and then the ingress setup create them.
            var docker = filter.Chain("DOCKER");
            var forward = filter.Chain("DOCKER-FORWARD");
            var bridge = filter.Chain("DOCKER-BRIDGE");
            var ct = filter.Chain("DOCKER-CT");
            filter.Chain("DOCKER-INTERNAL");
            // Docker makes DOCKER-USER for the administrator's own rules and never flushes it.
            filter.Chain("DOCKER-USER").SharedWithAdministrator();
            var natDocker = nat.Chain("DOCKER");

            filter.Chain("FORWARD")
                .Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER-USER")))
                .Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER-FORWARD")));
            forward
                .Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER-CT")))
                .Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER-INTERNAL")))
                .Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER-BRIDGE")));
            nat.Chain("PREROUTING").Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER"), new AddrTypeMatch(Direction.Destination, AddressType.Local)));
            nat.Chain("OUTPUT").Append(Rule.Make(driverOrigin, driverSpan, new JumpTarget("DOCKER"),
                new AddressMatch(Direction.Destination, Loopback, Negated: true), new AddrTypeMatch(Direction.Destination, AddressType.Local)));

            foreach (var net in bridges)
            {
                var br = BridgeDevice(net.Name);
                var origin = "networks." + net.Name;
                var at = SpanOf(net, node);
                docker.Append(Rule.Make(origin, at, Rule.Drop, new InterfaceMatch(true, br, Negated: true), new InterfaceMatch(false, br)));
                bridge.Append(Rule.Make(origin, at, new JumpTarget("DOCKER"), new InterfaceMatch(false, br)));
                ct.Append(Rule.Make(origin, at, Rule.Accept, new InterfaceMatch(false, br), Rule.Conntrack(CtState.Related | CtState.Established)));
                if (net.Icc)
                {
                    // icc=true: one rule accepts everything leaving the bridge, to itself or elsewhere.
                    forward.Append(Rule.Make(origin, at, Rule.Accept, new InterfaceMatch(true, br)));
                }
                else
                {
                    forward.Append(Rule.Make(origin, at, Rule.Drop, new InterfaceMatch(true, br), new InterfaceMatch(false, br)));
                    forward.Append(Rule.Make(origin, at, Rule.Accept, new InterfaceMatch(true, br), new InterfaceMatch(false, br, Negated: true)));
                }
                if (net.Masquerade)
                    nat.Chain("POSTROUTING").Append(Rule.Make(origin, at, Rule.Masquerade,
                        new AddressMatch(Direction.Source, net.Subnet), new InterfaceMatch(false, br, Negated: true)));
            }

            if (ingress)
            {
                // initIngressConfiguration: the chains end in RETURN; the jumps are inserted at the top (EnsureJumpRule).
                // Two filter rules and a DNAT per published port, inserted above the RETURN: the chains are made their size.
                int ingressPorts = 0;
                foreach (var lb in Lookup(_loadBalancers, (node.Name, _ingress!.Name))) ingressPorts += _serviceParts[lb.Service].IngressPorts;
                var gatewayLeg = FindEndpoint(node.Name, TopologyAnalyzer.IngressSandbox, EndpointKind.IngressGateway);
                var filterIngress = filter.Chain("DOCKER-INGRESS").Reserve(2 * ingressPorts, 1).Append(Rule.Make(IngressOrigin, ingressSpan, Rule.Return));
                var natIngress = nat.Chain("DOCKER-INGRESS").Reserve(gatewayLeg is null ? 0 : ingressPorts, 1).Append(Rule.Make(IngressOrigin, ingressSpan, Rule.Return));
                var local = new AddrTypeMatch(Direction.Destination, AddressType.Local);
                nat.Chain("OUTPUT").Insert(Rule.Make(IngressOrigin, ingressSpan, new JumpTarget("DOCKER-INGRESS"), local));
                nat.Chain("PREROUTING").Insert(Rule.Make(IngressOrigin, ingressSpan, new JumpTarget("DOCKER-INGRESS"), local));
                forward.Insert(Rule.Make(IngressOrigin, ingressSpan, new JumpTarget("DOCKER-INGRESS")));
                if (_gw is not null)
                    nat.Chain("POSTROUTING").Insert(Rule.Make(IngressOrigin, ingressSpan, Rule.Masquerade,
                        new InterfaceMatch(false, BridgeDevice(_gw.Name)), new AddrTypeMatch(Direction.Source, AddressType.Local)));

                // Per published port, in the order the load balancers are created, each rule inserted at the top
                // (DNAT, then ESTABLISHED, then dport): later ports end up above earlier ones.
                foreach (var (svc, port, index) in IngressPorts(node.Name))
                {
                    // The same three rules on every node (the DNAT goes to ingress_sbox's gateway leg, the same address
                    // on each node's docker_gwbridge as a rule): made once and shared, as the balancers' rules are.
                    var gateway = gatewayLeg?.Address.Address;
                    var shape = (svc.Name, index, gateway);
                    (NetfilterRule? Dnat, NetfilterRule Established, NetfilterRule Accept) rules;
                    // Read without the lock once made (a concurrent dictionary publishes it whole); made under it, once.
                    if (!_ingressPortRules.TryGetValue(shape, out rules))
                    {
                        lock (_shared)
                        {
                            if (!_ingressPortRules.TryGetValue(shape, out rules))
                            {
                                var origin = PortOrigin(svc, index);
                                var protocol = Rule.Protocol(port.Protocol);
                                var dport = new PortMatch(port.Protocol, Direction.Destination, port.Published, port.Published);
                                var accept = Rule.Accept;
                                _ingressPortRules[shape] = rules = (
                                    gateway is { } g ? Rule.Make(origin, port.Span, new DnatTarget(g, port.Published), protocol, dport) : null,
                                    Rule.Make(origin, port.Span, accept, protocol, new PortMatch(port.Protocol, Direction.Source, port.Published, port.Published),
                                        Rule.Conntrack(CtState.Related | CtState.Established)),
                                    Rule.Make(origin, port.Span, accept, protocol, dport));
                            }
                        }
                    }
                    if (rules.Dnat is not null) natIngress.Insert(rules.Dnat);
                    filterIngress.Insert(rules.Established);
                    filterIngress.Insert(rules.Accept);
                }
            }

            // Host-mode ports: a bridge port mapping on the task's docker_gwbridge leg (nat appended, filter inserted at the top).
            if (_gw is not null)
            {
                var gwDev = BridgeDevice(_gw.Name);
                InterfaceMatch? notFromGw = null, toGw = null;
                foreach (var task in Lookup(_tasksByNode, node.Name))
                {
                    var svc = _services[task.Service];
                    var parts = _serviceParts[svc.Name];
                    if (!parts.PublishesHost || !_firstLeg.TryGetValue((task.Name, _gw.Name), out var leg)) continue;
                    for (int i = 0; i < svc.Ports.Count; i++)
                    {
                        var p = svc.Ports[i];
                        if (p.Mode != PublishMode.Host) continue;
                        var pp = parts.Ports[i];
                        notFromGw ??= new InterfaceMatch(true, gwDev, Negated: true);
                        toGw ??= new InterfaceMatch(false, gwDev);
                        natDocker.Append(Rule.Make(pp.Origin, p.Span, new DnatTarget(leg.Address.Address, p.Target),
                            notFromGw, pp.Protocol, pp.PublishedDport));
                        docker.Insert(Rule.Make(pp.Origin, p.Span, Rule.Accept,
                            new AddressMatch(Direction.Destination, new Ipv4Cidr(leg.Address.Address, 32)),
                            notFromGw, toGw, pp.Protocol, pp.TargetDport));
                    }
                }
            }
        }

        private static string PortOrigin(ServiceModel svc, int index) => "services." + svc.Name + ".ports[" + index.ToString(CultureInfo.InvariantCulture) + "]";

        // The ingress-mode ports of the services balanced by this node's ingress_sbox, in load-balancer order.
        private IEnumerable<(ServiceModel Service, PortModel Port, int Index)> IngressPorts(string node)
        {
            if (_ingress is null) yield break;
            foreach (var lb in Lookup(_loadBalancers, (node, _ingress.Name)))
            {
                var svc = _services[lb.Service];
                for (int i = 0; i < svc.Ports.Count; i++)
                    if (svc.Ports[i].Mode == PublishMode.Ingress) yield return (svc, svc.Ports[i], i);
            }
        }

        // ---- overlay namespace -----------------------------------------------------------------------------------

        private NamespaceBuilder LowerOverlay(NodeModel node, NetworkModel net, VethNames names)
        {
            var at = SpanOf(net, node);
            var ns = new NamespaceBuilder(TopologyAnalyzer.OverlayNamespace(net.Name), NamespaceKind.Overlay, net.Name, at);
            ns.Devices.Add(new DevicePlan(OverlayBridge, DeviceKind.Bridge, net.Mtu, null, null, null, null, at));
            var vxlan = new VxlanPlan(net.Vni, _t.Underlay.DataPathPort, Learning: true, Proxy: true, L2Miss: true, L3Miss: true, Ttl: 0, CreatedIn: HostNamespace);
            ns.Devices.Add(new DevicePlan(VxlanDevice, DeviceKind.Vxlan, net.Mtu, null, OverlayBridge, null, vxlan, at));
            foreach (var e in LocalEndpoints(node.Name, net.Name))
                ns.Devices.Add(new DevicePlan(names.Overlay[(e.Namespace, e.Interface)], DeviceKind.Veth, net.Mtu, null, OverlayBridge,
                    new VethPeer(e.Namespace, e.Interface, false), null, SpanOf(e)));
            ns.AddAddress(OverlayBridge, new Ipv4Cidr(net.Gateway, net.Subnet.PrefixLength), at);
            // Remote endpoints (from gossip in Docker): a permanent neighbour for the vxlan proxy-ARP and an FDB entry to the VTEP.
            // Every other node's overlay namespace lists the same two entries for an endpoint: made once, shared (a large
            // plan has 50 nodes × 10,000 endpoints of them, and the garbage collector paid for each copy).
            var endpoints = Lookup(_endpointsByNetwork, net.Name);
            (NeighborPlan, FdbPlan)?[]? shared;
            int[]? owners;
            lock (_shared)
                if (!_remoteEntries.TryGetValue(net.Name, out shared) | !_endpointNodes.TryGetValue(net.Name, out owners))
                {
                    // Every endpoint's entries at once (not as nodes come to need them): a node lowered in parallel with
                    // another then only reads them.
                    _remoteEntries[net.Name] = shared = new (NeighborPlan, FdbPlan)?[endpoints.Count];
                    _endpointNodes[net.Name] = owners = new int[endpoints.Count];
                    for (int i = 0; i < endpoints.Count; i++)
                    {
                        var e = endpoints[i];
                        owners[i] = _nodeIndex.TryGetValue(e.Node, out var n) ? n : -1;
                        if (_nodes.TryGetValue(e.Node, out var remote))
                        {
                            var where = SpanOf(e);
                            shared[i] = (new NeighborPlan(VxlanDevice, e.Address.Address, e.Mac, where), new FdbPlan(VxlanDevice, e.Mac, remote.Address.Address, where));
                        }
                    }
                }
            // Node names are unique (the front end says so), so comparing indexes is comparing names; an endpoint with
            // entries is on a node of the topology.
            int self = _nodeIndex[node.Name];
            int count = 0;
            for (int i = 0; i < owners!.Length; i++)
                if (shared[i] is not null && owners[i] != self) count++;
            var neighbors = new NeighborPlan[count];
            var fdb = new FdbPlan[count];
            for (int i = 0, k = 0; i < owners.Length; i++)
            {
                if (owners[i] == self || shared[i] is not { } entries) continue;
                neighbors[k] = entries.Item1;
                fdb[k++] = entries.Item2;
            }
            ns.RemoteEntries = (neighbors, fdb);
            return ns;
        }

        // ---- sandboxes -------------------------------------------------------------------------------------------

        // The sandbox end of a veth: it creates the pair; the peer is vethN on the overlay's br0 or a host veth on docker_gwbridge.
        private void AddLeg(NamespaceBuilder ns, EndpointModel e, VethNames names)
        {
            var net = _networks[e.Network];
            var key = (e.Namespace, e.Interface);
            var peer = net.IsOverlay
                ? new VethPeer(TopologyAnalyzer.OverlayNamespace(net.Name), names.Overlay[key], true)
                : new VethPeer(HostNamespace, names.Host[key], true);
            ns.Devices.Add(new DevicePlan(e.Interface, DeviceKind.Veth, net.Mtu, e.Mac, null, peer, null, SpanOf(e)));
        }

        private void AddDefaultRoute(NamespaceBuilder ns, EndpointModel gatewayLeg)
        {
            if (_gw is null) return;
            ns.Routes.Add(new RoutePlan(new Ipv4Cidr(Ipv4Address.Any, 0), _gw.Gateway, gatewayLeg.Interface, null, RouteOrigin.Static, SpanOf(gatewayLeg)));
        }

        private NamespaceBuilder LowerIngressSandbox(NodeModel node, EndpointModel lbLeg, VethNames names)
        {
            var net = _ingress!;
            var ns = new NamespaceBuilder(TopologyAnalyzer.IngressSandbox, NamespaceKind.IngressSandbox, net.Name, IngressSpan);
            var gatewayLeg = FindEndpoint(node.Name, TopologyAnalyzer.IngressSandbox, EndpointKind.IngressGateway);
            AddLeg(ns, lbLeg, names);
            if (gatewayLeg is not null) AddLeg(ns, gatewayLeg, names);
            ns.AddAddress(lbLeg.Interface, lbLeg.Address, SpanOf(lbLeg));
            AddLoadBalancing(ns, node, net, lbLeg, ingress: true);
            if (gatewayLeg is not null)
            {
                // Unlike lb_* sandboxes, ingress_sbox joins docker_gwbridge and routes by default through it.
                ns.AddAddress(gatewayLeg.Interface, gatewayLeg.Address, SpanOf(gatewayLeg));
                AddDefaultRoute(ns, gatewayLeg);
            }
            return ns;
        }

        private NamespaceBuilder LowerNetworkLoadBalancer(NodeModel node, NetworkModel net, EndpointModel lbLeg, VethNames names)
        {
            // lb_<net>: only eth0 on the overlay, no docker_gwbridge leg and no default route (endpoint.go sbJoin).
            var ns = new NamespaceBuilder(TopologyAnalyzer.NetworkLoadBalancerNamespace(net.Name), NamespaceKind.LoadBalancer, net.Name, SpanOf(net, node));
            AddLeg(ns, lbLeg, names);
            ns.AddAddress(lbLeg.Interface, lbLeg.Address, SpanOf(lbLeg));
            AddLoadBalancing(ns, node, net, lbLeg, ingress: false);
            return ns;
        }

        // service_linux.go addLBBackend/configureFWMark for every load balancer of this sandbox.
        private void AddLoadBalancing(NamespaceBuilder ns, NodeModel node, NetworkModel net, EndpointModel lbLeg, bool ingress)
        {
            var mangle = ns.Netfilter.Table("mangle");
            var prerouting = mangle.Chain("PREROUTING");
            var input = mangle.Chain("INPUT");
            var lbs = Lookup(_loadBalancers, (node.Name, net.Name));
            input.Reserve(0, lbs.Count);
            if (ingress)
            {
                int marks = 0;
                for (int l = 0; l < lbs.Count; l++) marks += _serviceParts[lbs[l].Service].IngressPorts;
                prerouting.Reserve(0, marks);
            }
            ns.Addresses.Capacity = ns.Addresses.Count + lbs.Count;
            if (Ipvs) ns.Ipvs.Capacity = ns.Ipvs.Count + lbs.Count;
            else ns.NftLoadBalancers.Capacity = ns.NftLoadBalancers.Count + lbs.Count;
            for (int l = 0; l < lbs.Count; l++)
            {
                var lb = lbs[l];
                var svc = _services[lb.Service];
                VipModel? vip = null; // a loop: FirstOrDefault boxed the enumerator and a closure per balancer (25,000 on large)
                foreach (var v in svc.Vips)
                    if (v.Network == net.Name) { vip = v; break; }
                // A service's balancer on a network has the same rules and IPVS service on every node (same fwmark, VIP and
                // declaration): made once and shared by reference, as the plan is immutable (25,000 balancers on `large`).
                // So is its VIP alias (a /32: no connected route).
                var shape = (svc.Name, net.Name, lb.FwMark, lb.Vip, lb.Span, ingress);
                var (parts, slots, alias) = BalancerParts(svc, net, lb, shape, ingress, lbLeg.Interface, vip?.Span ?? lb.Span);
                ns.Addresses.Add(alias);
                foreach (var rule in parts.Prerouting) prerouting.Append(rule);
                input.Append(parts.Input);
                if (Ipvs) ns.Ipvs.Add(parts.Ipvs!);
                else
                    ns.NftLoadBalancers.Add(new NftLoadBalancerPlan(lb.FwMark, lb.Vip, NftSlots.PickFor(svc.Scheduler), slots, svc.Scheduler, svc.Name, lb.Span,
                        lbLeg.Address.Subnet, lbLeg.Address.Address));
            }
            // Once per sandbox, NAT mode: connections IPVS balanced out of this sandbox leave with the LB endpoint's address.
            if (Ipvs && lbs.Count > 0)
                ns.Netfilter.Table("nat").Chain("POSTROUTING").Append(Rule.Make("networks." + net.Name, SpanOf(lbLeg),
                    new SnatTarget(lbLeg.Address.Address, null), new AddressMatch(Direction.Destination, lbLeg.Address.Subnet), Rule.Ipvs));

            var at = SpanOf(net, node);
            ns.SetSysctl("net.ipv4.ip_forward", "1", true, at);
            if (Ipvs)
            {
                ns.SetSysctl("net.ipv4.vs.conntrack", "1", true, at);
                ns.SetSysctl("net.ipv4.vs.conn_reuse_mode", "0", true, at);
                ns.SetSysctl("net.ipv4.vs.expire_nodest_conn", "1", true, at);
                ns.SetSysctl("net.ipv4.vs.expire_quiescent_template", "1", true, at);
            }
        }

        /// <summary>
        /// A service's balancer parts on a network: its mark rules, its IPVS service or its nftables slots. The same on every
        /// node, so made once and shared (under <see cref="_shared"/>: nodes may be lowered in parallel).
        /// </summary>
        private ((List<NetfilterRule> Prerouting, NetfilterRule Input, IpvsServicePlan? Ipvs) Parts, EquatableArray<Ipv4Address> Slots, AddressPlan Alias) BalancerParts(
            ServiceModel svc, NetworkModel net, LoadBalancerModel lb, (string, string, int, Ipv4Address, SourceSpan, bool) shape, bool ingress,
            string aliasDevice, SourceSpan aliasSpan)
        {
            if (_balancers.TryGetValue((shape, aliasDevice, aliasSpan), out var made)) return made;
            lock (_shared)
            {
                var aliasKey = (aliasDevice, lb.Vip, aliasSpan);
                if (!_vipAddresses.TryGetValue(aliasKey, out var alias))
                    _vipAddresses[aliasKey] = alias = new AddressPlan(aliasDevice, new Ipv4Cidr(lb.Vip, 32), aliasSpan);
                if (!_balancerParts.TryGetValue(shape, out var parts))
                {
                    var mark = new MarkTarget((uint)lb.FwMark, FullMask);
                    var prerouting = new List<NetfilterRule>();
                    if (ingress)
                    {
                        for (int i = 0; i < svc.Ports.Count; i++)
                        {
                            var p = svc.Ports[i];
                            if (p.Mode != PublishMode.Ingress) continue;
                            prerouting.Add(Rule.Make(PortOrigin(svc, i), p.Span, mark,
                                Rule.Protocol(p.Protocol), new PortMatch(p.Protocol, Direction.Destination, p.Published, p.Published)));
                        }
                    }
                    var input = Rule.Make("services." + svc.Name, svc.Span, mark, new AddressMatch(Direction.Destination, new Ipv4Cidr(lb.Vip, 32)));
                    _balancerParts[shape] = parts = (prerouting, input, null);
                }
                var key = (svc.Name, net.Name);
                if (!_backends.TryGetValue(key, out var backends)) _backends[key] = backends = Backends(svc, net).ToList();
                EquatableArray<Ipv4Address> slots = default;
                if (Ipvs)
                {
                    if (parts.Ipvs is null)
                    {
                        if (!_ipvsDestinations.TryGetValue(key, out var dests))
                            _ipvsDestinations[key] = dests = backends.Select(b => new IpvsDestinationPlan(b.Address, 0, b.Task.Weight, IpvsForward.Masquerade, b.Task.Name, b.Task.Span)).ToEquatableArray();
                        // A fwmark service has no protocol of its own (moby/ipvs sends 0).
                        _balancerParts[shape] = parts = (parts.Prerouting, parts.Input, new IpvsServicePlan(lb.FwMark, lb.Vip, null, 0, svc.Scheduler, dests, svc.Name, lb.Span));
                    }
                }
                else if (!_nftSlots.TryGetValue(key, out slots))
                    _nftSlots[key] = slots = SlotsOf(svc, backends);
                _balancers[(shape, aliasDevice, aliasSpan)] = (parts, slots, alias);
                return (parts, slots, alias);
            }
        }

        // The nftables map of a service's backends (its own method: a lambda over the backends in BalancerParts made the
        // compiler allocate their closure on every call, once per balancer and node).
        private static EquatableArray<Ipv4Address> SlotsOf(ServiceModel svc, List<(TaskModel Task, Ipv4Address Address)> backends)
        {
            var order = NftSlots.Order(svc.Scheduler, backends.Select(b => b.Task.Weight).ToList());
            return order.Select(i => backends[i].Address).ToEquatableArray();
        }

        // Every task of the service, cluster-wide, in task order, with its address on the network.
        private IEnumerable<(TaskModel Task, Ipv4Address Address)> Backends(ServiceModel svc, NetworkModel net)
        {
            foreach (var task in Lookup(_tasksByService, svc.Name))
            {
                if (_firstTaskLeg.TryGetValue((task.Name, net.Name), out var e)) yield return (task, e.Address.Address);
            }
        }

        private NamespaceBuilder LowerTask(NodeModel node, TaskModel task, VethNames names)
        {
            var svc = _services[task.Service];
            var parts = _serviceParts[svc.Name];
            var ns = new NamespaceBuilder(task.Name, NamespaceKind.Task, svc.Name, task.Span);
            var legs = Lookup(_taskLegs, (node.Name, task.Name));
            for (int i = 0; i < legs.Count; i++) AddLeg(ns, legs[i], names);
            for (int i = 0; i < legs.Count; i++) ns.AddAddress(legs[i].Interface, legs[i].Address, SpanOf(legs[i]));
            // Overlay endpoints carry no gateway: the default route goes through docker_gwbridge.
            if (_gw is not null && FirstOn(legs, _gw.Name) is { } gatewayLeg)
                AddDefaultRoute(ns, gatewayLeg);

            var ingressLeg = _ingress is null ? null : FirstOn(legs, _ingress.Name);
            if (ingressLeg is not null && svc.PublishesIngress)
            {
                // addRedirectRules: published→target REDIRECT, accept only the target ports, drop the rest of the ingress leg's traffic.
                var self = new Ipv4Cidr(ingressLeg.Address.Address, 32);
                var toSelf = new AddressMatch(Direction.Destination, self);
                var fromSelf = new AddressMatch(Direction.Source, self);
                int n = parts.IngressPorts;
                var prerouting = ns.Netfilter.Table("nat").Chain("PREROUTING").Reserve(0, n);
                var filter = ns.Netfilter.Table("filter");
                var input = filter.Chain("INPUT").Reserve(n, DropOrder.Length);
                var output = filter.Chain("OUTPUT").Reserve(n, DropOrder.Length);
                var newOrEstablished = Rule.Conntrack(CtState.New | CtState.Established);
                var established = Rule.Conntrack(CtState.Established);
                for (int i = 0; i < svc.Ports.Count; i++)
                {
                    var p = svc.Ports[i];
                    if (p.Mode != PublishMode.Ingress) continue;
                    var pp = parts.Ports[i];
                    prerouting.Append(Rule.Make(pp.Origin, p.Span, pp.Redirect, toSelf, pp.Protocol, pp.PublishedDport));
                    input.Insert(Rule.Make(pp.Origin, p.Span, Rule.Accept, toSelf, pp.Protocol, pp.TargetDport, newOrEstablished));
                    output.Insert(Rule.Make(pp.Origin, p.Span, Rule.Accept, fromSelf, pp.Protocol, pp.TargetSport, established));
                }
                foreach (var proto in DropOrder)
                {
                    input.Append(Rule.Make(parts.Origin, task.Span, Rule.Drop, toSelf, Rule.Protocol(proto)));
                    output.Append(Rule.Make(parts.Origin, task.Span, Rule.Drop, fromSelf, Rule.Protocol(proto)));
                }
            }

            // The application: one socket per distinct (protocol, target port) of the service, then its exposed ports.
            foreach (var p in svc.Ports)
                if (!Listens(ns, p.Protocol, p.Target))
                    ns.Listeners.Add(new ListenerPlan(p.Protocol, p.Target, task.Name, p.Span));
            foreach (var x in svc.Exposed)
                if (!Listens(ns, x.Protocol, x.Port))
                    ns.Listeners.Add(new ListenerPlan(x.Protocol, x.Port, task.Name, x.Span));
            return ns;
        }

        // The first of a sandbox's legs on a network.
        private static EndpointModel? FirstOn(IReadOnlyList<EndpointModel> legs, string network)
        {
            for (int i = 0; i < legs.Count; i++)
                if (legs[i].Network == network) return legs[i];
            return null;
        }

        // Whether the task already has a socket of that protocol and port (a service has a handful of ports: a scan).
        private static bool Listens(NamespaceBuilder ns, IpProtocol protocol, int port)
        {
            foreach (var l in ns.Listeners)
                if (l.Protocol == protocol && l.Port == port) return true;
            return false;
        }

        // ---- user rules --------------------------------------------------------------------------------------------

        /// <summary>A raw rule as every node places it: its rule, or the problem that keeps it out of every node.</summary>
        private sealed class UserRule
        {
            public UserRule(string origin, NetfilterRule? rule, string? problem)
            {
                Origin = origin;
                Rule = rule;
                Problem = problem;
            }

            public string Origin { get; }
            public NetfilterRule? Rule { get; }
            public string? Problem { get; }
        }

        // What iptables or the kernel refuse in a raw rule wherever it is placed, checked once before any node is lowered.
        private UserRule[] ParseUserRules()
        {
            var result = new UserRule[_t.Rules.Count];
            for (int i = 0; i < result.Length; i++)
            {
                var r = _t.Rules[i];
                var origin = "rules[" + i.ToString(CultureInfo.InvariantCulture) + "]";
                result[i] = new UserRule(origin, null, RuleProblem(r, origin, out var rule));
                if (rule is not null) result[i] = new UserRule(origin, rule, null);
            }
            return result;
        }

        private static string? RuleProblem(RuleModel r, string origin, out NetfilterRule? rule)
        {
            rule = null;
            if (!IptablesSyntax.TryParse(r.Rule, out var matches, out var parsed, out var error) || parsed is not { } target)
                return $"{origin}: {error}";
            var builtIns = NetfilterBuilder.BuiltInChains(r.Table);
            if (builtIns is null)
                return $"{origin}: unknown table '{r.Table}': use filter, nat, mangle or raw";
            if (Array.IndexOf(builtIns, r.Chain) < 0 && NetfilterBuilder.IsBuiltInAnywhere(r.Chain))
                return $"{origin}: table {r.Table} has no built-in chain {r.Chain}: use one of {string.Join(", ", builtIns)} or a chain of your own";
            // What iptables or the kernel refuse whatever jumps to the rule (KernelRuleLimits says where each fact comes from).
            var refused = KernelRuleLimits.TableProblem(r.Table, target)
                ?? (Array.IndexOf(builtIns, r.Chain) >= 0 ? KernelRuleLimits.InterfaceProblem(r.Chain, matches) : null);
            if (refused is not null) return $"{origin}: {refused}";
            rule = new NetfilterRule(matches, target, origin, r.Span);
            return null;
        }

        // The valid raw rules into this node's namespaces of their name, in declaration order; per rule whether one took it.
        private bool[] PlaceUserRules(NodeModel node, List<NamespaceBuilder> namespaces, UserRule[] rules)
        {
            var placed = new bool[rules.Length];
            for (int i = 0; i < rules.Length; i++)
            {
                var r = _t.Rules[i];
                if (rules[i].Rule is not { } rule || (r.Node is not null && node.Name != r.Node)) continue;
                foreach (var ns in namespaces)
                {
                    if (ns.Name != r.Namespace) continue;
                    placed[i] = true;
                    var chain = ns.Netfilter.Table(r.Table).Chain(r.Chain);
                    if (r.Position == RulePosition.Insert) chain.InsertUserRule(rule);
                    else chain.Append(rule);
                }
            }
            return placed;
        }

        // After every raw rule is placed (a rule may create the chain another one jumps to): jumps must reach a user chain.
        // Each node's tables are read on their own (in parallel on a large plan: thousands of rules each), and the problems
        // reported in node order, each rule once, as a single pass would.
        private static List<(NetfilterRule Rule, string Problem)> UserJumpProblems(NodeModel node, List<NamespaceBuilder> namespaces)
        {
            var found = new List<(NetfilterRule, string)>();
            foreach (var ns in namespaces)
            foreach (var table in TableNames)
            {
                var tb = ns.Netfilter.Find(table);
                if (tb is null) continue;
                bool hasUserRules = false;
                var chains = tb.Chains;
                for (int c = 0; c < chains.Count; c++)
                {
                var chain = chains[c];
                for (int k = 0; k < chain.Count; k++)
                {
                    var rule = chain.RuleAt(k);
                    if (!IsUserRule(rule)) continue;
                    hasUserRules = true;
                    var to = rule.Target switch { JumpTarget j => j.Chain, GotoTarget g => g.Chain, _ => null };
                    if (to is null) continue;
                    var target = tb.Find(to);
                    string? problem = target is null ? $"jumps to chain {to}, which table {table} of namespace '{ns.Name}' on node '{node.Name}' does not have: add a rule to {to} to create it"
                        : target.BuiltIn ? $"jumps to built-in chain {to}: jump to a chain of your own"
                        : to == chain.Name ? $"jumps to its own chain {to}: iptables refuses a table whose chains loop (ELOOP)"
                        : Reaches(tb, to, chain.Name) ? $"jumps to chain {to}, which leads back to {chain.Name}: iptables refuses a table whose chains loop (ELOOP)" : null;
                    if (problem is not null) found.Add((rule, problem));
                }
                }
                // Where the rules sit (the hooks that reach them, how deep they nest) matters only once a user rule is in the
                // table: the derived rules alone are valid (UserRuleTests.Every_derived_rule_of_the_examples_is_one_the_kernel_accepts).
                if (!hasUserRules) continue;
                var views = tb.Chains.Select(c => new KernelRuleLimits.ChainView(c.Name, c.BuiltIn, c.Rules)).ToList();
                foreach (var (rule, _, problem) in KernelRuleLimits.PlacementProblems(table, views, IsUserRule)) found.Add((rule, problem));
            }
            return found;
        }

        private static bool IsUserRule(NetfilterRule rule) => rule.Origin.StartsWith("rules[", StringComparison.Ordinal);

        // Whether chain `to` of a table leads, by jumps and gotos, to chain `back` (a loop when a rule of `back` jumps to `to`).
        private static bool Reaches(TableBuilder table, string to, string back)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var work = new Stack<string>();
            work.Push(to);
            while (work.Count > 0)
            {
                var name = work.Pop();
                if (name == back) return true;
                if (!seen.Add(name) || table.Find(name) is not { } c) continue;
                for (int k = 0; k < c.Count; k++)
                    if (c.RuleAt(k).Target switch { JumpTarget j => j.Chain, GotoTarget g => g.Chain, _ => null } is { } next) work.Push(next);
            }
            return false;
        }
    }
}
