using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Diagnostics;
using SwarmDsl.Net;
using SwarmDsl.Syntax;
using SwarmDsl.Text;

namespace SwarmDsl.Semantics;

/// <summary>
/// Binds references and derives every value Docker Swarm would choose (dsl.md §3): VNIs, VIPs, task placement and addresses,
/// load-balancer endpoints, fwmarks, MACs, interface and namespace names. Pinned values win and are checked. Deterministic:
/// everything is derived in declaration order.
/// </summary>
public sealed class TopologyAnalyzer
{
    /// <summary>Docker's first VNI for swarm overlays (ovmanager.go vxlanIDStart).</summary>
    public const int FirstVni = 4096;
    /// <summary>The largest 24-bit VNI.</summary>
    public const int MaxVni = 16777215;
    // A bridge network's MTU when com.docker.network.driver.mtu is not set: the daemon's default, 1500, whatever the host's
    // NIC carries (Docker's docs: default-network-opts is how docker_gwbridge gets another).
    private const int BridgeMtu = 1500;
    /// <summary>Bytes VXLAN adds on an IPv4 underlay.</summary>
    public const int VxlanOverhead = 50;
    /// <summary>libnetwork's first fwmark per node (service.go fwMarkCtr).</summary>
    public const int FirstFwMark = 256;
    /// <summary>The name of the gateway bridge network.</summary>
    public const string GatewayBridge = "docker_gwbridge";
    /// <summary>The namespace of the ingress load balancer.</summary>
    public const string IngressSandbox = "ingress_sbox";
    /// <summary>The node namespace's name in rules and traces (lowering's host namespace).</summary>
    public const string HostNamespaceName = "host";
    /// <summary>The outside client's name in every verb (<c>trace external …</c>, <c>expect: from: external</c>).</summary>
    public const string ExternalName = "external";

    private readonly TopologyDeclaration _decl;
    private readonly DiagnosticBag _d;
    private readonly string _file;

    private TopologyAnalyzer(TopologyDeclaration decl, DiagnosticBag d)
    {
        _decl = decl;
        _d = d;
        _file = decl.File;
    }

    /// <summary>Analyzes a declaration. Returns null when errors make a model impossible; diagnostics say why.</summary>
    public static Topology? Analyze(TopologyDeclaration declaration, DiagnosticBag diagnostics)
    {
        try
        {
            return new TopologyAnalyzer(declaration, diagnostics).Run();
        }
        catch (AnalysisAborted)
        {
            return null;
        }
    }

    private sealed class AnalysisAborted : Exception { }

    /// <summary>The namespace name of a network's load-balancer sandbox.</summary>
    public static string NetworkLoadBalancerNamespace(string network) => "lb_" + network;

    /// <summary>The overlay driver's namespace for a network (epoch 1).</summary>
    public static string OverlayNamespace(string network) => "1-" + network;

    private Topology? Run()
    {
        int errorsBefore = _d.Items.Count(x => x.IsError);
        if (_decl.Version is { } v && v.Value != 1)
            _d.Report(DiagnosticDescriptors.UnsupportedVersion, v.Span, $"version {v.Value} is not supported: this compiler reads version: 1");

        var underlay = new Underlay(_decl.Underlay.Mtu?.Value ?? 1500, _decl.Underlay.Subnet?.Value, _decl.Underlay.DataPathPort?.Value ?? 4789, _decl.Underlay.Span);
        var nodes = BindNodes(underlay);
        var networks = BindNetworks(underlay, nodes);
        CheckInterfaces(nodes, networks);
        var services = BindServices(networks, nodes, underlay);
        var tasks = PlaceTasks(services, nodes, networks);
        CheckHostPorts(services, tasks);

        if (_d.Items.Count(x => x.IsError) > errorsBefore) return null;

        var (endpoints, vips) = AllocateAddresses(nodes, networks, services, tasks);
        if (_d.Items.Count(x => x.IsError) > errorsBefore) return null;
        services = services.Select(s => s with { Vips = vips.TryGetValue(s.Name, out var vv) ? vv.ToEquatableArray() : EquatableArray<VipModel>.Empty }).ToList();
        var lbs = AssignFwMarks(nodes, networks, services, tasks, endpoints);
        // Cluster-wide sysctls first, then per node in node order (so a node's own value is applied last and wins), independent of
        // whether 'tuning' is written before or after 'nodes'. OrderBy is stable: declaration order within each group.
        var nodeOrder = nodes.Select((n, i) => (n.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        var sysctls = _decl.Sysctls
            .OrderBy(s => s.Node is null ? -1 : nodeOrder.TryGetValue(s.Node, out var i) ? i : int.MaxValue)
            .Select(s => new SysctlModel(s.Node, s.Key.Value, s.Value.Value, s.Key.Span)).ToEquatableArray();
        var rules = BindRules(nodes, networks, tasks);
        nodes = GatewayBridgeCauses(nodes, networks, tasks);
        var topology = new Topology(_decl.Name?.Value ?? "topology", _file, underlay, nodes.ToEquatableArray(), networks.ToEquatableArray(),
            services.ToEquatableArray(), tasks.ToEquatableArray(), endpoints.ToEquatableArray(), EquatableArray<LoadBalancerModel>.Own(lbs), sysctls, rules,
            EquatableArray<ExpectModel>.Empty, _decl.Span);
        var expectations = BindExpectations(topology);
        if (_d.Items.Count(x => x.IsError) > errorsBefore) return null;
        return topology with { Expectations = expectations };
    }

    // ---- nodes ---------------------------------------------------------------------------------------------------

    private List<NodeModel> BindNodes(Underlay underlay)
    {
        var result = new List<NodeModel>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new Dictionary<Ipv4Address, string>();
        foreach (var n in _decl.Nodes)
        {
            if (!names.Add(n.Name.Value))
            {
                _d.Report(DiagnosticDescriptors.DuplicateKey, n.Name.Span, $"node '{n.Name.Value}' is declared twice");
                continue;
            }
            if (n.Name.Value == ExternalName)
                _d.Report(DiagnosticDescriptors.InvalidName, n.Name.Span, ExternalMessage("node"));
            if (n.Address is not { } addr) continue;
            if (underlay.Subnet is { } us && !us.ContainsHost(addr.Value.Address))
                _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, addr.Span, $"node address {addr.Value.Address} is outside the underlay subnet {us}");
            if (addresses.TryGetValue(addr.Value.Address, out var other))
                _d.Report(DiagnosticDescriptors.AddressCollision, addr.Span, $"address {addr.Value.Address} is already the address of node '{other}'");
            else addresses[addr.Value.Address] = n.Name.Value;
            var labels = n.Labels.Select(l => new KeyValue(l.Key.Value, l.Value.Value)).ToEquatableArray();
            result.Add(new NodeModel(n.Name.Value, n.Hostname?.Value ?? n.Name.Value, n.Role?.Value ?? NodeRole.Worker, addr.Value,
                n.Interface?.Value ?? "eth0", labels, n.Name.Span));
        }
        CheckOneLink(result);
        return result;
    }

    /// <summary>
    /// A node's underlay interface shares the node's namespace with <c>lo</c> and the bridges lowering makes there
    /// (docker_gwbridge, <c>br-&lt;network&gt;</c> of each bridge network): naming it after one of them would make two
    /// devices of one name. (The host ends of veths are hashed names that already steer clear of the interface.)
    /// </summary>
    private void CheckInterfaces(List<NodeModel> nodes, List<NetworkModel> networks)
    {
        var taken = new Dictionary<string, string>(StringComparer.Ordinal) { ["lo"] = "the loopback device" };
        foreach (var n in networks.Where(n => !n.IsOverlay))
            taken[n.Name == GatewayBridge ? n.Name : Lowering.InterfaceNames.Bridge(n.Name)] = $"the bridge of network '{n.Name}'";
        foreach (var d in _decl.Nodes)
        {
            if (d.Interface is not { } i || !taken.TryGetValue(i.Value, out var what) || nodes.All(n => n.Name != d.Name.Value)) continue;
            _d.Report(DiagnosticDescriptors.InvalidName, i.Span, $"interface '{i.Value}' is {what} on every node: the underlay interface needs a name of its own (e.g. eth0)");
        }
    }

    private static string ExternalMessage(string kind)
        => $"'{ExternalName}' is the outside client's name in traces, expectations and reach: a {kind} cannot be called '{ExternalName}'; rename it";

    /// <summary>
    /// The underlay is one link: a node reaches another node's VTEP (and the outside client reaches a node) only through an
    /// on-link route, so every node's prefix must hold every other node's address. Reported once, at the first node that
    /// breaks it. Linear: prefixes are ranges, so it is enough that each prefix holds the lowest and highest address, and
    /// that each address lies in the intersection of the prefixes before it.
    /// </summary>
    private void CheckOneLink(List<NodeModel> nodes)
    {
        if (nodes.Count < 2) return;
        uint lo = nodes[0].Address.Address.Value, hi = lo;
        uint rangeLo = nodes[0].Address.Network.Value, rangeHi = nodes[0].Address.Broadcast.Value;
        for (int i = 1; i < nodes.Count; i++)
        {
            var n = nodes[i];
            uint a = n.Address.Address.Value;
            bool holdsEarlier = n.Address.Contains(new Ipv4Address(lo)) && n.Address.Contains(new Ipv4Address(hi));
            if (!holdsEarlier || a < rangeLo || a > rangeHi)
            {
                var other = nodes.Take(i).First(o => !o.Address.Contains(n.Address.Address) || !n.Address.Contains(o.Address.Address));
                var span = _decl.Nodes.FirstOrDefault(d => d.Name.Value == n.Name)?.Address?.Span ?? n.Span;
                _d.Report(DiagnosticDescriptors.UnderlayNotOnLink, span,
                    $"node '{n.Name}' ({n.Address}) and node '{other.Name}' ({other.Address}) are not on one subnet: the underlay is one link without routers, so their VTEPs cannot reach each other and the outside client reaches only one of them; give the nodes addresses in one subnet");
                return;
            }
            lo = Math.Min(lo, a);
            hi = Math.Max(hi, a);
            rangeLo = Math.Max(rangeLo, n.Address.Network.Value);
            rangeHi = Math.Min(rangeHi, n.Address.Broadcast.Value);
        }
    }

    // ---- networks ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Docker's local-scope default pools (ipamutils localScopeDefaultNetworks) in order, without 172.17.0.0/16, which docker0
    /// holds on a Docker host: 172.18–31.0.0/16, then 192.168.0.0/16 in /20s.
    /// </summary>
    private static IEnumerable<string> LocalPools()
    {
        for (int i = 18; i <= 31; i++) yield return string.Format(CultureInfo.InvariantCulture, "172.{0}.0.0/16", i);
        for (int i = 0; i < 256; i += 16) yield return string.Format(CultureInfo.InvariantCulture, "192.168.{0}.0/20", i);
    }

    /// <summary>Docker's global-scope default pool: 10.0.0.0/8 in /24s, where an undeclared ingress network takes the first free one.</summary>
    private static IEnumerable<string> GlobalPools()
    {
        for (int i = 0; i < 65536; i++) yield return string.Format(CultureInfo.InvariantCulture, "10.{0}.{1}.0/24", i >> 8, i & 255);
    }

    private List<NetworkModel> BindNetworks(Underlay underlay, List<NodeModel> nodes)
    {
        var result = new List<NetworkModel>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var spans = new Dictionary<string, SourceSpan>();
        NetworkDeclaration? ingress = null;
        foreach (var n in _decl.Networks)
        {
            if (!names.Add(n.Name.Value))
            {
                _d.Report(DiagnosticDescriptors.DuplicateKey, n.Name.Span, $"network '{n.Name.Value}' is declared twice");
                continue;
            }
            if (n.Ingress?.Value == true)
            {
                if (ingress is not null)
                    _d.Report(DiagnosticDescriptors.IngressNetwork, n.Ingress.Value.Span, $"network '{n.Name.Value}' is a second ingress network ('{ingress.Name.Value}' is already one): a swarm has one");
                else ingress = n;
            }
            if (n.Name.Value == GatewayBridge && n.Driver?.Value == NetworkDriver.Overlay)
                _d.Report(DiagnosticDescriptors.InvalidAttachment, n.Driver.Value.Span, "docker_gwbridge is the node-local gateway bridge: its driver must be bridge");
        }

        // Publishing in ingress mode needs the routing mesh. Without a declared ingress network one is derived, unless a network
        // already holds the name 'ingress' (then the user most likely forgot 'ingress: true').
        bool needsIngress = ingress is null && _decl.Services.Any(s => s.Ports.Any(p => (p.Mode?.Value ?? PublishMode.Ingress) == PublishMode.Ingress));
        bool implicitIngress = needsIngress && !names.Contains("ingress");
        if (needsIngress && !implicitIngress)
        {
            var named = _decl.Networks.First(n => n.Name.Value == "ingress");
            _d.Report(DiagnosticDescriptors.IngressNetwork, named.Name.Span,
                "services publish ports in ingress mode (the routing mesh), but network 'ingress' is not the ingress network: add 'ingress: true' to it (it must be an overlay), or rename it");
        }

        // VNIs: pinned ones first (checked), then 4096 for ingress (declared or derived: Swarm creates it first) and 4097… for
        // the rest in declaration order.
        var usedVni = new Dictionary<int, string>();
        foreach (var n in _decl.Networks.Where(n => n.Driver?.Value == NetworkDriver.Overlay && n.Vni is not null))
        {
            var vni = n.Vni!.Value;
            if (vni.Value < 1 || vni.Value > MaxVni)
            {
                _d.Report(DiagnosticDescriptors.VniOutOfRange, vni.Span, $"VNI {vni.Value} is out of range: use 1 to {MaxVni}");
                continue;
            }
            if (vni.Value < FirstVni)
                _d.Report(DiagnosticDescriptors.VniLow, vni.Span, $"VNI {vni.Value} is below 4096: it overlaps 802.1Q VLAN IDs and Docker never allocates it");
            if (usedVni.TryGetValue(vni.Value, out var other))
                _d.Report(DiagnosticDescriptors.VniCollision, vni.Span, $"VNI {vni.Value} is already used by network '{other}'");
            else usedVni[vni.Value] = n.Name.Value;
        }
        int nextVni = FirstVni;
        int AllocVni(string name)
        {
            while (usedVni.ContainsKey(nextVni)) nextVni++;
            usedVni[nextVni] = name;
            return nextVni;
        }
        var derivedVni = new Dictionary<string, int>();
        // Swarm creates the ingress network at `swarm init`, before any other, so it holds 4096 on a real swarm and a network
        // pinned to 4096 could not be created there (ovmanager cannot reserve a VNI in use). The model still compiles, with
        // ingress moved past the pins, and says so at the pin.
        if (((ingress is not null && ingress.Vni is null) || implicitIngress)
            && usedVni.TryGetValue(FirstVni, out var pinnedFirst)
            && _decl.Networks.FirstOrDefault(n => n.Name.Value == pinnedFirst && n.Vni?.Value == FirstVni) is { Vni: { } pin })
        {
            var ingressName = ingress?.Name.Value ?? "ingress";
            int moved = FirstVni;
            while (usedVni.ContainsKey(moved)) moved++;
            _d.Report(DiagnosticDescriptors.VniTakenFromIngress, pin.Span,
                $"VNI {FirstVni} is the one Swarm gives the ingress network when the swarm is created, so on a real swarm network '{pinnedFirst}' could not be created with it; here '{ingressName}' takes {moved} instead");
        }
        if (ingress is not null && ingress.Vni is null) derivedVni[ingress.Name.Value] = AllocVni(ingress.Name.Value);
        int implicitIngressVni = implicitIngress ? AllocVni("ingress") : 0;
        // A swarm has its ingress network from `swarm init` on, published ports or not: without one in the model its VNI is
        // still taken, so the other overlays keep theirs when a first port is published (and the ingress network appears).
        if (ingress is null && !implicitIngress && !usedVni.ContainsKey(FirstVni)) usedVni[FirstVni] = "ingress";
        foreach (var n in _decl.Networks.Where(n => n.Driver?.Value == NetworkDriver.Overlay && n.Vni is null && n != ingress))
            derivedVni[n.Name.Value] = AllocVni(n.Name.Value);

        foreach (var n in _decl.Networks)
        {
            if (n.Driver is null || n.Subnet is null) continue;
            if (result.Any(r => r.Name == n.Name.Value)) continue;
            var subnet = n.Subnet.Value.Value;
            var gateway = subnet.FirstHost;
            if (n.Gateway is { } gw)
            {
                if (!subnet.ContainsHost(gw.Value))
                    _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, gw.Span, $"gateway {gw.Value} is not a host address of subnet {subnet}");
                gateway = gw.Value;
            }
            bool overlay = n.Driver.Value.Value == NetworkDriver.Overlay;
            int mtu = overlay ? n.Mtu?.Value ?? underlay.Mtu - VxlanOverhead : BridgeMtu;
            if (overlay && mtu + VxlanOverhead > underlay.Mtu)
                _d.Report(DiagnosticDescriptors.MtuTooLarge, n.Mtu?.Span ?? n.Name.Span,
                    $"overlay MTU {mtu} + 50 bytes of VXLAN exceeds the underlay MTU {underlay.Mtu}: full-size packets will be fragmented or dropped; use at most {underlay.Mtu - VxlanOverhead}");
            int vni = overlay ? (n.Vni?.Value ?? derivedVni.GetValueOrDefault(n.Name.Value)) : 0;
            bool isGw = n.Name.Value == GatewayBridge;
            result.Add(new NetworkModel(n.Name.Value, n.Driver.Value.Value, subnet, gateway,
                n.Icc?.Value ?? !isGw, n.Masquerade?.Value ?? true, vni, mtu, n.Ingress?.Value ?? false, n.Attachable?.Value ?? false, false, n.Name.Span));
            spans[n.Name.Value] = n.Subnet.Value.Span;
        }

        // Docker always has docker_gwbridge (and an ingress network once anything is published); derive what the user left out.
        if (implicitIngress)
        {
            var sub = FirstFree(GlobalPools(), result, underlay, nodes);
            if (sub is not null)
                // Swarm makes the routing mesh for the first port published through it: the derived network's objects point there.
                result.Add(new NetworkModel("ingress", NetworkDriver.Overlay, sub.Value, sub.Value.FirstHost, true, true, implicitIngressVni,
                    underlay.Mtu - VxlanOverhead, true, false, true, SourceSpan.None) { Cause = FirstIngressPort().Span });
            else
            {
                _d.Report(DiagnosticDescriptors.SubnetExhausted, FirstIngressPort().Span,
                    "this port needs an ingress network, but no /24 of Docker's pool 10.0.0.0/8 is free (networks or node subnets cover it): declare an overlay network with 'ingress: true' and a free subnet");
            }
        }
        if (!names.Contains(GatewayBridge))
        {
            var sub = FirstFree(LocalPools(), result, underlay, nodes);
            if (sub is not null)
                result.Add(new NetworkModel(GatewayBridge, NetworkDriver.Bridge, sub.Value, sub.Value.FirstHost, false, true, 0, BridgeMtu, false, false, true, SourceSpan.None));
            else
                _d.Report(DiagnosticDescriptors.SubnetExhausted, BlockerOf(Ipv4Cidr.Parse("172.18.0.0/16"), underlay, nodes) ?? _decl.Span,
                    "docker_gwbridge needs a subnet, but every pool Docker takes it from (172.18-31.0.0/16, 192.168.0.0/16 in /20s) is covered by networks or node subnets: declare docker_gwbridge (driver: bridge) with a free subnet");
        }

        // Overlaps: between networks, and with the underlay.
        for (int i = 0; i < result.Count; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (result[i].Subnet.Overlaps(result[j].Subnet))
                    _d.Report(DiagnosticDescriptors.OverlappingSubnets, spans.GetValueOrDefault(result[i].Name, result[i].Span),
                        $"subnet {result[i].Subnet} of network '{result[i].Name}' overlaps {result[j].Subnet} of network '{result[j].Name}'");
            }
            if (underlay.Subnet is { } us && result[i].Subnet.Overlaps(us))
                _d.Report(DiagnosticDescriptors.OverlappingSubnets, spans.GetValueOrDefault(result[i].Name, result[i].Span),
                    $"subnet {result[i].Subnet} of network '{result[i].Name}' overlaps the underlay subnet {us}");
            else foreach (var node in nodes)
            {
                if (result[i].Subnet.Overlaps(node.Address.Subnet))
                {
                    _d.Report(DiagnosticDescriptors.OverlappingSubnets, spans.GetValueOrDefault(result[i].Name, result[i].Span),
                        $"subnet {result[i].Subnet} of network '{result[i].Name}' overlaps the underlay subnet {node.Address.Subnet} of node '{node.Name}'");
                    break;
                }
            }
        }
        return result;
    }

    // The port, in declaration order, that needs the routing mesh (there is one whenever an ingress network is derived).
    private PortDeclaration FirstIngressPort() =>
        _decl.Services.SelectMany(x => x.Ports).First(p => (p.Mode?.Value ?? PublishMode.Ingress) == PublishMode.Ingress);

    /// <summary>
    /// With an implicit docker_gwbridge, what made Docker create it on each node (<see cref="NodeModel.GatewayBridgeCause"/>):
    /// it is made for the first sandbox that needs a default gateway (default_gateway.go), ingress_sbox when there is an ingress
    /// network, else the node's first task. Our plan has the bridge on every node, so a node with neither names itself.
    /// </summary>
    private static List<NodeModel> GatewayBridgeCauses(List<NodeModel> nodes, List<NetworkModel> networks, List<TaskModel> tasks)
    {
        if (networks.FirstOrDefault(n => n.Name == GatewayBridge) is not { Implicit: true }) return nodes;
        var ingress = networks.FirstOrDefault(n => n.Ingress);
        var firstTask = new Dictionary<string, SourceSpan>(StringComparer.Ordinal);
        foreach (var t in tasks)
            if (!firstTask.ContainsKey(t.Node)) firstTask[t.Node] = t.Span;
        return nodes.Select(n => n with
        {
            GatewayBridgeCause = ingress is not null ? (ingress.Implicit ? ingress.Cause : ingress.Span)
                : firstTask.TryGetValue(n.Name, out var span) ? span : n.Span,
        }).ToList();
    }

    /// <summary>Where a declaration covers <paramref name="pool"/> (for a message about exhausted pools), if any.</summary>
    private SourceSpan? BlockerOf(Ipv4Cidr pool, Underlay underlay, List<NodeModel> nodes)
    {
        foreach (var n in _decl.Networks)
            if (n.Subnet is { } sn && sn.Value.Overlaps(pool)) return sn.Span;
        if (underlay.Subnet is { } us && us.Overlaps(pool) && _decl.Underlay.Subnet is { } ds) return ds.Span;
        foreach (var n in nodes)
            if (n.Address.Subnet.Overlaps(pool)) return _decl.Nodes.FirstOrDefault(d => d.Name.Value == n.Name)?.Address?.Span ?? n.Span;
        return null;
    }

    private static Ipv4Cidr? FirstFree(IEnumerable<string> pool, List<NetworkModel> networks, Underlay underlay, List<NodeModel> nodes)
    {
        foreach (var p in pool)
        {
            var c = Ipv4Cidr.Parse(p);
            if (networks.Any(n => n.Subnet.Overlaps(c))) continue;
            if (underlay.Subnet is { } us && us.Overlaps(c)) continue;
            if (nodes.Any(n => n.Address.Subnet.Overlaps(c))) continue;
            return c;
        }
        return null;
    }

    // ---- services ------------------------------------------------------------------------------------------------

    private List<ServiceModel> BindServices(List<NetworkModel> networks, List<NodeModel> nodes, Underlay underlay)
    {
        var nodeByName = ByName(nodes, n => n.Name);
        var result = new List<ServiceModel>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ingressPorts = new Dictionary<(int, IpProtocol), string>();
        var ingress = networks.FirstOrDefault(n => n.Ingress);
        foreach (var s in _decl.Services)
        {
            var name = s.Name.Value;
            if (!names.Add(name))
            {
                _d.Report(DiagnosticDescriptors.DuplicateKey, s.Name.Span, $"service '{name}' is declared twice");
                continue;
            }
            if (name == ExternalName)
                _d.Report(DiagnosticDescriptors.InvalidName, s.Name.Span, ExternalMessage("service"));
            if (nodeByName.TryGetValue(name, out var sameNode))
                _d.Report(DiagnosticDescriptors.NameCollision, Later(s.Name.Span, sameNode.Span),
                    $"'{name}' names both a node and a service: traces and expectations could not tell them apart (the node would win); rename one");
            var mode = s.Mode?.Value ?? ServiceMode.Replicated;
            if (mode == ServiceMode.Global && s.Replicas is { } r)
                _d.Report(DiagnosticDescriptors.Unsupported, r.Span, $"service '{name}' is global: it runs one task per node, so 'replicas' does not apply (remove it)");
            var endpointMode = s.EndpointMode?.Value ?? EndpointMode.Vip;

            var ports = new List<PortModel>();
            var ownPorts = new HashSet<(int, IpProtocol, PublishMode)>();
            foreach (var p in s.Ports)
            {
                if (p.Published is null || p.Target is null) continue;
                var pm = new PortModel(p.Published.Value.Value, p.Target.Value.Value, p.Protocol?.Value ?? IpProtocol.Tcp, p.Mode?.Value ?? PublishMode.Ingress, p.Span);
                if (!ownPorts.Add((pm.Published, pm.Protocol, pm.Mode)))
                {
                    _d.Report(DiagnosticDescriptors.PublishedPortCollision, p.Published.Value.Span, $"service '{name}' publishes {pm.Published}/{pm.Protocol.Name()} twice");
                    continue;
                }
                if (pm.Mode == PublishMode.Ingress)
                {
                    if (endpointMode == EndpointMode.Dnsrr)
                        _d.Report(DiagnosticDescriptors.DnsrrWithIngress, p.Mode?.Span ?? p.Published.Value.Span,
                            $"service '{name}' uses endpointMode dnsrr, which cannot publish in ingress mode (Swarm refuses it): use mode: host or endpointMode: vip");
                    if (ingressPorts.TryGetValue((pm.Published, pm.Protocol), out var other) && other != name)
                        _d.Report(DiagnosticDescriptors.PublishedPortCollision, p.Published.Value.Span,
                            $"port {pm.Published}/{pm.Protocol.Name()} is already published on the ingress network by service '{other}'");
                    else ingressPorts[(pm.Published, pm.Protocol)] = name;
                    // The routing mesh DNATs this port on every node before the overlay's VXLAN socket sees it.
                    if (pm.Protocol == IpProtocol.Udp && pm.Published == underlay.DataPathPort)
                        _d.Report(DiagnosticDescriptors.DataPathPortPublished, p.Published.Value.Span,
                            $"udp port {pm.Published} is the overlay's VXLAN data path port: publishing it in ingress mode makes DOCKER-INGRESS redirect the nodes' own VXLAN traffic to service '{name}', which breaks every overlay; publish another port or set underlay.dataPathPort");
                }
                // In host mode the host's DOCKER chain DNATs it on the nodes that run a task: their overlays break.
                else if (pm.Protocol == IpProtocol.Udp && pm.Published == underlay.DataPathPort)
                    _d.Report(DiagnosticDescriptors.DataPathPortPublished, p.Published.Value.Span,
                        $"udp port {pm.Published} is the overlay's VXLAN data path port: publishing it in host mode makes the DOCKER chain of every node running a task of service '{name}' redirect the VXLAN traffic sent to that node, which breaks its overlays; publish another port or set underlay.dataPathPort");
                ports.Add(pm);
            }

            var nets = new List<string>();
            if (ports.Any(p => p.Mode == PublishMode.Ingress) && ingress is not null) nets.Add(ingress.Name);
            foreach (var n in s.Networks)
            {
                var net = networks.FirstOrDefault(x => x.Name == n.Value);
                if (net is null)
                {
                    if (!_decl.Networks.Any(x => x.Name.Value == n.Value))
                        _d.Report(DiagnosticDescriptors.UnknownReference, n.Span, UnknownMessage("network", n.Value, networks.Select(x => x.Name)));
                    continue;
                }
                if (!net.IsOverlay)
                {
                    _d.Report(DiagnosticDescriptors.InvalidAttachment, n.Span, $"service '{name}' cannot join bridge network '{n.Value}': services join overlay networks (docker_gwbridge is joined automatically)");
                    continue;
                }
                if (nets.Contains(n.Value))
                {
                    if (!(net.Ingress && nets[0] == n.Value && s.Networks.Count(x => x.Value == n.Value) == 1))
                        _d.Report(DiagnosticDescriptors.DuplicateKey, n.Span, $"service '{name}' lists network '{n.Value}' twice");
                    continue;
                }
                nets.Add(n.Value);
            }
            if (nets.Count == 0 && s.Networks.Count == 0)
            {
                // Without a network a pinned VIP or task address would be silently dropped.
                const string hint = "add the overlay network it belongs to under 'networks'";
                if (s.Vip is { } lonelyVip)
                    _d.Report(DiagnosticDescriptors.Unsupported, lonelyVip.Span, $"service '{name}' joins no network, so its 'vip' has nowhere to live: {hint}, or remove 'vip'");
                foreach (var t in s.Tasks.Where(t => t.Address is not null))
                    _d.Report(DiagnosticDescriptors.Unsupported, t.Address!.Value.Span, $"service '{name}' joins no network, so this task 'address' has nowhere to live: {hint}, or remove 'address'");
            }
            if (endpointMode == EndpointMode.Dnsrr && (s.Vip is not null || s.Vips.Count > 0))
                _d.Report(DiagnosticDescriptors.Unsupported, (s.Vip?.Span ?? s.Vips[0].Network.Span), $"service '{name}' uses endpointMode dnsrr, which has no VIP: remove 'vip'");
            foreach (var pn in s.PlacementNodes)
                if (!nodeByName.ContainsKey(pn.Value))
                    _d.Report(DiagnosticDescriptors.UnknownReference, pn.Span, UnknownMessage("node", pn.Value, nodes.Select(x => x.Name)));

            var exposed = new List<ExposedPortModel>();
            foreach (var x in s.Expose)
            {
                if (exposed.Any(e => e.Port == x.Port && e.Protocol == x.Protocol))
                    _d.Report(DiagnosticDescriptors.DuplicateKey, x.Span, $"service '{name}' exposes {x.Port}/{x.Protocol.Name()} twice");
                else exposed.Add(new ExposedPortModel(x.Port, x.Protocol, x.Span));
            }

            result.Add(new ServiceModel(name, s.Image?.Value, mode, mode == ServiceMode.Global ? 0 : s.Replicas?.Value ?? 1, nets.ToEquatableArray(),
                endpointMode, ports.ToEquatableArray(), s.Scheduler?.Value ?? Scheduler.Rr, EquatableArray<VipModel>.Empty, s.Name.Span,
                exposed.ToEquatableArray()));
        }
        return result;
    }

    private static string UnknownMessage(string kind, string name, IEnumerable<string> known)
    {
        var list = known.ToList();
        var near = LanguageKeys.Nearest(name, list);
        return $"unknown {kind} '{name}'" + (near is not null ? $"; did you mean '{near}'?" : list.Count > 0 ? $"; declared {kind}s: {string.Join(", ", list)}" : $"; no {kind}s are declared");
    }

    // ---- placement -----------------------------------------------------------------------------------------------

    private List<TaskModel> PlaceTasks(List<ServiceModel> services, List<NodeModel> nodes, List<NetworkModel> networks)
    {
        var result = new List<TaskModel>();
        var all = new List<(ServiceModel Service, ServiceDeclaration Decl, string Node, TaskDeclaration? Td, string Name, int Slot)>();
        var declarations = ServiceDeclarations();
        var nodeIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = nodes.Count - 1; i >= 0; i--) nodeIndex[nodes[i].Name] = i; // the first node of a name, as IndexOf finds it
        // Tasks placed so far on each node (by index), over every service (in declaration order): swarmkit's tie-break.
        var total = new int[nodes.Count];
        void Count(string node)
        {
            if (nodeIndex.TryGetValue(node, out var k)) total[k]++;
        }
        // This service's tasks on each node while it is placed (reset for the next service).
        var load = new int[nodes.Count];
        foreach (var s in services)
        {
            var decl = declarations[s.Name];
            // Read only below, so a service without placement shares the node list, and one without pins the empty list.
            var eligible = decl.PlacementNodes.Count > 0
                ? nodes.Where(n => decl.PlacementNodes.Any(p => p.Value == n.Name)).ToList()
                : nodes;
            var pinned = decl.Tasks.Count > 0 ? decl.Tasks.Where(t => t.Node is not null).ToList() : NoTasks;
            foreach (var t in pinned)
            {
                if (nodes.All(n => n.Name != t.Node!.Value.Value))
                {
                    var unknown = UnknownMessage("node", t.Node!.Value.Value, nodes.Select(x => x.Name));
                    if (s.Mode == ServiceMode.Global)
                        _d.Report(DiagnosticDescriptors.GlobalTaskPlacement, t.Node.Value.Span, $"global service '{s.Name}' runs one task on each declared node, but a task is pinned to {unknown}");
                    else
                        _d.Report(DiagnosticDescriptors.UnknownReference, t.Node.Value.Span, unknown);
                }
                else if (decl.PlacementNodes.Count > 0 && eligible.All(n => n.Name != t.Node!.Value.Value))
                    _d.Report(s.Mode == ServiceMode.Global ? DiagnosticDescriptors.GlobalTaskPlacement : DiagnosticDescriptors.NoPlacement, t.Node!.Value.Span,
                        $"task pinned to node '{t.Node.Value.Value}', which placement.nodes of service '{s.Name}' excludes: add the node to placement.nodes or pin the task elsewhere");
            }
            var placed = new List<(string Node, TaskDeclaration? Decl, string Name, int Slot)>();
            if (s.Mode == ServiceMode.Replicated)
            {
                if (pinned.Count > s.Replicas)
                {
                    _d.Report(DiagnosticDescriptors.TooManyTasks, decl.TasksSpan ?? decl.Name.Span, $"service '{s.Name}' pins {pinned.Count} tasks but has {s.Replicas} replica{(s.Replicas == 1 ? "" : "s")}{(decl.Replicas is null ? " (the default)" : "")}: raise replicas or pin fewer tasks");
                    continue;
                }
                if (s.Replicas > 0 && eligible.Count == 0)
                {
                    _d.Report(DiagnosticDescriptors.NoPlacement, decl.Name.Span, $"service '{s.Name}' has no node to run on: {NoNodeHint(decl, nodes)}");
                    continue;
                }
                int slot = 1;
                // The eligible nodes by index (node names are unique: BindNodes drops a second declaration), in
                // declaration order, which is also the last tie-break.
                var slots = new int[eligible.Count];
                for (int i = 0; i < slots.Length; i++) slots[i] = nodeIndex[eligible[i].Name];
                foreach (var k in slots) load[k] = 0;
                foreach (var t in pinned)
                {
                    var node = t.Node!.Value.Value;
                    placed.Add((node, t, t.Name?.Value ?? SlotName(s.Name, slot), slot));
                    // Only an eligible node's count matters below (a pin elsewhere is an error already).
                    if (nodeIndex.TryGetValue(node, out var k) && Array.IndexOf(slots, k) >= 0) load[k]++;
                    slot++;
                }
                foreach (var t in pinned) Count(t.Node!.Value.Value);
                // Swarm's spread strategy (swarmkit's nodeLess): the eligible node with the fewest tasks of this service,
                // ties broken by the fewest tasks in all (placed so far), then by declaration order. Counted in arrays:
                // a 1,000-service, 100-node topology compares 100 nodes for each of 10,000 tasks.
                for (; slot <= s.Replicas; slot++)
                {
                    // The slots are in declaration order, so the first of equal nodes is kept.
                    int target = slots[0];
                    foreach (var k in slots)
                        if (load[k] < load[target] || load[k] == load[target] && total[k] < total[target]) target = k;
                    load[target]++;
                    total[target]++;
                    placed.Add((nodes[target].Name, null, SlotName(s.Name, slot), slot));
                }
            }
            else
            {
                var byNode = new Dictionary<string, TaskDeclaration>();
                foreach (var t in pinned)
                {
                    if (byNode.ContainsKey(t.Node!.Value.Value))
                        _d.Report(DiagnosticDescriptors.GlobalTaskPlacement, t.Node.Value.Span, $"global service '{s.Name}' runs one task per node: node '{t.Node.Value.Value}' is pinned twice");
                    else byNode[t.Node.Value.Value] = t;
                }
                int slot = 1;
                foreach (var n in eligible)
                {
                    byNode.TryGetValue(n.Name, out var t);
                    placed.Add((n.Name, t, t?.Name?.Value ?? s.Name + "." + n.Name, slot++));
                    Count(n.Name);
                }
                if (eligible.Count == 0)
                    _d.Report(DiagnosticDescriptors.NoPlacement, decl.Name.Span, $"global service '{s.Name}' has no node to run on: {NoNodeHint(decl, nodes)}");
            }
            foreach (var (node, td, taskName, slot) in placed) all.Add((s, decl, node, td, taskName, slot));
        }

        // Names: the derived ones (<service>.<slot>, <service>.<node>) cannot clash with each other; a written one must not
        // clash with them, with another task, with a node or service, or with a namespace lowering makes.
        var derived = new Dictionary<string, ServiceModel>(StringComparer.Ordinal);
        foreach (var p in all)
            if (p.Td?.Name is null && !derived.ContainsKey(p.Name)) derived[p.Name] = p.Service;
        var serviceByName = ByName(services, x => x.Name);
        var nodeByName = ByName(nodes, x => x.Name);
        // The namespaces lowering makes on a node, by name, and what each is.
        var namespaces = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [HostNamespaceName] = "the node's own (host) namespace",
            [IngressSandbox] = "the ingress load balancer's namespace",
        };
        foreach (var n in networks)
        {
            namespaces[NetworkLoadBalancerNamespace(n.Name)] = $"the load-balancer namespace of network '{n.Name}'";
            namespaces[OverlayNamespace(n.Name)] = $"the overlay namespace of network '{n.Name}'";
        }
        var taskNames = new Dictionary<string, SourceSpan>(StringComparer.Ordinal);
        foreach (var (s, decl, node, td, taskName, slot) in all)
        {
            var span = td?.Span ?? decl.Name.Span;
            if (td?.Name is { } written && !CheckWrittenTaskName(s, written, derived, serviceByName, nodeByName, namespaces)) continue;
            if (taskNames.ContainsKey(taskName))
            {
                _d.Report(DiagnosticDescriptors.InvalidName, td?.Name?.Span ?? span, $"task name '{taskName}' is already used by another task");
                continue;
            }
            taskNames[taskName] = span;
            result.Add(new TaskModel(taskName, s.Name, slot, node, td?.Weight?.Value ?? 1, td is not null, span));
        }
        return result;
    }

    private static readonly List<TaskDeclaration> NoTasks = new();

    // <service>.<slot>: concatenated, as string.Format boxed the slot and parsed its format for each of 10,000 tasks (a
    // positive number is written alike in every culture).
    private static string SlotName(string service, int slot) => service + "." + slot.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A task name written under <c>tasks:</c> becomes a namespace and a name in traces: it must not be a namespace lowering
    /// makes (<c>host</c>, <c>ingress_sbox</c>, <c>lb_&lt;network&gt;</c>, <c>1-&lt;network&gt;</c>), nor <c>external</c>, nor pass
    /// for another service's task (<c>&lt;other service&gt;.&lt;digits&gt;</c>, or any name the tool derives for another
    /// task), nor be a node's or a service's name. Reports the first problem at the name and returns false.
    /// </summary>
    private bool CheckWrittenTaskName(ServiceModel s, Located<string> written, Dictionary<string, ServiceModel> derived,
        Dictionary<string, ServiceModel> services, Dictionary<string, NodeModel> nodes, Dictionary<string, string> namespaces)
    {
        var name = written.Value;
        if (namespaces.TryGetValue(name, out var ns))
        {
            _d.Report(DiagnosticDescriptors.InvalidName, written.Span, $"task name '{name}' is {ns} on every node that has one: a task's namespace cannot share it; choose another name");
            return false;
        }
        if (name == ExternalName)
        {
            _d.Report(DiagnosticDescriptors.InvalidName, written.Span, ExternalMessage("task"));
            return false;
        }
        int dot = name.LastIndexOf('.');
        if (dot > 0 && dot < name.Length - 1 && name.Substring(dot + 1).All(c => c is >= '0' and <= '9')
            && services.TryGetValue(name.Substring(0, dot), out var owner) && owner.Name != s.Name)
        {
            _d.Report(DiagnosticDescriptors.NameCollision, written.Span,
                $"task name '{name}' of service '{s.Name}' has the form of a task of service '{owner.Name}' ({owner.Name}.<number>): it would pass for one; choose another name");
            return false;
        }
        if (derived.TryGetValue(name, out var other))
        {
            if (other.Name != s.Name)
                _d.Report(DiagnosticDescriptors.NameCollision, written.Span,
                    $"task name '{name}' of service '{s.Name}' is the name the tool gives a task of service '{other.Name}': it would pass for that task; choose another name");
            else
                _d.Report(DiagnosticDescriptors.InvalidName, written.Span, $"task name '{name}' is already used by another task (the name the tool gives another task of service '{s.Name}')");
            return false;
        }
        SourceSpan? clash = nodes.TryGetValue(name, out var node) ? node.Span : services.TryGetValue(name, out var svc) ? svc.Span : null;
        if (clash is { } cs)
        {
            var kind = nodes.ContainsKey(name) ? "node" : "service";
            _d.Report(DiagnosticDescriptors.NameCollision, Later(written.Span, cs),
                $"'{name}' names both a task of service '{s.Name}' and a {kind}: traces and expectations could not tell them apart (the {kind} would win); rename one");
            return false;
        }
        return true;
    }

    /// <summary>The later of two declarations (the second one written), where a clash between them is reported.</summary>
    private static SourceSpan Later(SourceSpan a, SourceSpan b)
        => !b.IsKnown ? a : !a.IsKnown ? b : (a.StartLine, a.StartColumn).CompareTo((b.StartLine, b.StartColumn)) >= 0 ? a : b;

    /// <summary>The first item of each name (names are unique once bound; the first declaration is the one kept).</summary>
    private static Dictionary<string, T> ByName<T>(IEnumerable<T> items, Func<T, string> name)
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var item in items)
            if (!result.ContainsKey(name(item))) result[name(item)] = item;
        return result;
    }

    private Dictionary<string, ServiceDeclaration> ServiceDeclarations() => ByName(_decl.Services, s => s.Name.Value);

    private static string NoNodeHint(ServiceDeclaration decl, List<NodeModel> nodes) => nodes.Count == 0
        ? "declare nodes under 'nodes:'"
        : "placement.nodes names no declared node (declared: " + string.Join(", ", nodes.Select(n => n.Name)) + ")";

    private void CheckHostPorts(List<ServiceModel> services, List<TaskModel> tasks)
    {
        var used = new Dictionary<(string Node, int Port, IpProtocol Proto), string>();
        var serviceByName = ByName(services, s => s.Name);
        foreach (var t in tasks)
        {
            var s = serviceByName[t.Service];
            foreach (var p in s.Ports)
            {
                if (p.Mode != PublishMode.Host) continue;
                if (used.TryGetValue((t.Node, p.Published, p.Protocol), out var other))
                    _d.Report(DiagnosticDescriptors.HostPortCollision, p.Span,
                        $"host-mode port {p.Published}/{p.Protocol.Name()} on node '{t.Node}' is taken by task '{other}'; task '{t.Name}' cannot publish it too");
                else used[(t.Node, p.Published, p.Protocol)] = t.Name;
            }
        }
        // The first service publishing each (port, protocol) in ingress mode.
        var ingressPorts = new Dictionary<(int Port, IpProtocol Proto), (string Name, PortModel p)>();
        foreach (var s in services)
            foreach (var p in s.Ports)
                if (p.Mode == PublishMode.Ingress && !ingressPorts.ContainsKey((p.Published, p.Protocol))) ingressPorts[(p.Published, p.Protocol)] = (s.Name, p);
        foreach (var kv in used)
        {
            if (ingressPorts.TryGetValue((kv.Key.Port, kv.Key.Proto), out var clash))
                _d.Report(DiagnosticDescriptors.PublishedPortCollision, clash.p.Span,
                    $"port {kv.Key.Port}/{kv.Key.Proto.Name()} is published in ingress mode by '{clash.Name}' and in host mode by task '{kv.Value}' on node '{kv.Key.Node}'");
        }
    }

    // ---- IPAM ----------------------------------------------------------------------------------------------------

    private sealed class Pool
    {
        private readonly Ipv4Cidr _subnet;
        // The gateway and the pinned addresses. An address handed out by Next is below _next, which only grows, so it needs
        // no entry (a 10,000-task network's set grew to hold every address).
        private readonly HashSet<uint> _used = new();
        private uint _next;
        public Pool(Ipv4Cidr subnet, Ipv4Address gateway)
        {
            _subnet = subnet;
            _used.Add(gateway.Value);
            _next = subnet.FirstHost.Value;
        }
        public void Reserve(Ipv4Address a) => _used.Add(a.Value);
        public Ipv4Address? Next()
        {
            while (_next <= _subnet.LastHost.Value)
            {
                var v = _next++;
                if (!_used.Contains(v)) return new Ipv4Address(v);
            }
            return null;
        }
    }

    private static readonly string[] InterfaceNames = { "eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7" };

    // A task's interfaces in join order (one string per index, not per task).
    private static string InterfaceName(int index) =>
        index < InterfaceNames.Length ? InterfaceNames[index] : "eth" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>An address given to a task on one of its networks, or to a node's load balancer on one network.</summary>
    private struct AddressSlot
    {
        public bool IsSet;
        public bool Pinned;
        public Ipv4Address Address;
        public SourceSpan Span;

        public void Set(Ipv4Address address, bool pinned, SourceSpan span)
        {
            IsSet = true;
            Pinned = pinned;
            Address = address;
            Span = span;
        }
    }

    private (List<EndpointModel>, Dictionary<string, List<VipModel>>) AllocateAddresses(List<NodeModel> nodes, List<NetworkModel> networks,
        List<ServiceModel> services, List<TaskModel> tasks)
    {
        // Everything here is found by position rather than by name pairs: on a 1,000-service topology the (task, network)
        // and (node, network) pairs number tens of thousands, and hashing two strings for each lookup was most of the time.
        // Names are unique here (the analysis stops at the duplicates' errors before this): services by ToDictionary below,
        // tasks by PlaceTasks, nodes by BindNodes, networks by BindNetworks.
        var endpoints = new List<EndpointModel>();
        var vips = services.ToDictionary(s => s.Name, _ => new List<VipModel>());
        var ingress = networks.FirstOrDefault(n => n.Ingress);
        var serviceByName = ByName(services, s => s.Name);
        var declarations = ServiceDeclarations();
        var nodeIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = nodes.Count - 1; i >= 0; i--) nodeIndex[nodes[i].Name] = i;
        var networkIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = networks.Count - 1; i >= 0; i--) networkIndex[networks[i].Name] = i;
        // Each task's addresses, one slot per network of its service in the service's order (the order the task joins them):
        // task i's slot for s.Networks[k] is taskSlots[firstSlot[i] + k].
        var taskService = new ServiceModel[tasks.Count];
        var firstSlot = new int[tasks.Count];
        int slotCount = 0;
        // The tasks of each service and of each node, in task order.
        var tasksByService = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var tasksByNode = new List<int>?[nodes.Count];
        // Which nodes host a task attached to each network (by network, then node index).
        var hostsNetwork = new bool[networks.Count][];
        for (int i = 0; i < tasks.Count; i++)
        {
            var t = tasks[i];
            var s = serviceByName[t.Service];
            taskService[i] = s;
            firstSlot[i] = slotCount;
            slotCount += s.Networks.Count;
            if (!tasksByService.TryGetValue(t.Service, out var ofService)) tasksByService[t.Service] = ofService = new List<int>();
            ofService.Add(i);
            if (!nodeIndex.TryGetValue(t.Node, out var k)) continue;
            (tasksByNode[k] ??= new List<int>()).Add(i);
            foreach (var n in s.Networks)
            {
                if (!networkIndex.TryGetValue(n, out var ni)) continue;
                (hostsNetwork[ni] ??= new bool[nodes.Count])[k] = true;
            }
        }
        var taskSlots = new AddressSlot[slotCount];
        var noTasks = new List<int>();
        List<int> TasksOf(string service) => tasksByService.TryGetValue(service, out var list) ? list : noTasks;
        foreach (var sd in _decl.Services)
        {
            if (!serviceByName.TryGetValue(sd.Name.Value, out var s)) continue;
            foreach (var (vn, _) in sd.Vips)
                if (!s.Networks.Contains(vn.Value))
                    _d.Report(DiagnosticDescriptors.UnknownReference, vn.Span, $"service '{s.Name}' is not attached to network '{vn.Value}', so it has no VIP there");
        }

        for (int netIndex = 0; netIndex < networks.Count; netIndex++)
        {
            var net = networks[netIndex];
            if (!net.IsOverlay) continue;
            var pool = new Pool(net.Subnet, net.Gateway);
            var owners = new Dictionary<uint, string> { [net.Gateway.Value] = $"the gateway of '{net.Name}'" };
            bool Pin(Ipv4Address a, SourceSpan span, string owner)
            {
                if (!net.Subnet.ContainsHost(a))
                {
                    _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, span, $"{a} is not a host address of network '{net.Name}' ({net.Subnet})");
                    return false;
                }
                if (owners.TryGetValue(a.Value, out var other))
                {
                    _d.Report(DiagnosticDescriptors.AddressCollision, span, $"{a} is already {other}");
                    return false;
                }
                owners[a.Value] = owner;
                pool.Reserve(a);
                return true;
            }
            var decl = _decl.Networks.FirstOrDefault(x => x.Name.Value == net.Name);
            // Load-balancer sandboxes: ingress_sbox on every node; lb_<net> on every node hosting a task of the network.
            var lbNodes = new List<int>();
            var hosts = hostsNetwork[netIndex];
            for (int k = 0; k < nodes.Count; k++)
                if (net.Ingress || hosts is not null && hosts[k]) lbNodes.Add(k);
            var lbAddr = new AddressSlot[nodes.Count];
            if (decl is not null)
            {
                foreach (var (node, addr) in decl.LoadBalancerAddresses)
                {
                    if (!nodeIndex.TryGetValue(node.Value, out var k))
                    {
                        _d.Report(DiagnosticDescriptors.UnknownReference, node.Span, UnknownMessage("node", node.Value, nodes.Select(x => x.Name)));
                        continue;
                    }
                    if (Pin(addr.Value, addr.Span, $"the load-balancer address of node '{node.Value}'"))
                        lbAddr[k].Set(addr.Value, true, addr.Span);
                }
            }
            // The services attached to the network, with the network's place in each one's list (its tasks' slot there).
            var attached = new List<(ServiceModel Service, int Slot)>();
            foreach (var s in services)
            {
                int at = IndexOf(s.Networks, net.Name);
                if (at >= 0) attached.Add((s, at));
            }
            foreach (var (s, at) in attached)
            {
                var sd = declarations[s.Name];
                // A single 'vip' and tasks' 'address' belong to the service's first declared network (ingress when it declares none).
                bool first = sd.Networks.Count > 0 ? sd.Networks[0].Value == net.Name : s.Networks.Count > 0 && s.Networks[0] == net.Name;
                Located<Ipv4Address>? pinnedVip = first ? sd.Vip : null;
                foreach (var (vn, va) in sd.Vips)
                    if (vn.Value == net.Name) pinnedVip = va;
                if (pinnedVip is { } pv && s.EndpointMode == EndpointMode.Vip && Pin(pv.Value, pv.Span, $"the VIP of service '{s.Name}'"))
                    vips[s.Name].Add(new VipModel(net.Name, pv.Value, true, pv.Span));
                if (first)
                {
                    foreach (var i in TasksOf(s.Name))
                    {
                        var t = tasks[i];
                        // Only a pinned task was written under 'tasks:' (at its span).
                        if (!t.Pinned) continue;
                        TaskDeclaration? td = null;
                        foreach (var x in sd.Tasks)
                            if (x.Span == t.Span) { td = x; break; }
                        if (td?.Address is { } ta && Pin(ta.Value, ta.Span, $"the address of task '{t.Name}'"))
                            taskSlots[firstSlot[i] + at].Set(ta.Value, true, ta.Span);
                    }
                }
            }
            // What the address is for ({0}: a name) is only put into words when the subnet is full: 30,000 allocations
            // on a 1,000-service topology.
            Ipv4Address Alloc(SourceSpan span, string what, string name)
            {
                var a = pool.Next();
                if (a is null)
                {
                    _d.Report(DiagnosticDescriptors.SubnetExhausted, net.Span.IsKnown ? net.Span : span, $"network '{net.Name}' ({net.Subnet}) has no free address left for {string.Format(CultureInfo.InvariantCulture, what, name)}: "
                        // An implicit network has no subnet in the file to enlarge: say how to declare it.
                        + (net.Implicit
                            ? $"declare the network (networks: {{ {net.Name}: {{ driver: overlay{(net.Ingress ? ", ingress: true" : "")}, subnet: ... }} }}) with a larger subnet, or use fewer tasks"
                            : "use a larger subnet (a shorter prefix) or fewer tasks"));
                    throw new AnalysisAborted();
                }
                return a.Value;
            }
            foreach (var k in lbNodes)
                if (!lbAddr[k].IsSet)
                    lbAddr[k].Set(Alloc(net.Span, "the load balancer of node '{0}'", nodes[k].Name), false, net.Span);
            foreach (var (s, at) in attached)
            {
                if (s.EndpointMode == EndpointMode.Vip && !HasVipOn(vips[s.Name], net.Name))
                    vips[s.Name].Add(new VipModel(net.Name, Alloc(s.Span, "the VIP of service '{0}'", s.Name), false, s.Span));
                foreach (var i in TasksOf(s.Name))
                {
                    ref var slot = ref taskSlots[firstSlot[i] + at];
                    if (!slot.IsSet) slot.Set(Alloc(tasks[i].Span, "task '{0}'", tasks[i].Name), false, tasks[i].Span);
                }
            }
            var ns = net.Ingress ? IngressSandbox : NetworkLoadBalancerNamespace(net.Name);
            var kind = net.Ingress ? EndpointKind.IngressLoadBalancer : EndpointKind.NetworkLoadBalancer;
            foreach (var k in lbNodes)
            {
                var lb = lbAddr[k];
                endpoints.Add(new EndpointModel(nodes[k].Name, ns, "eth0", net.Name, new Ipv4Cidr(lb.Address, net.Subnet.PrefixLength), MacAddress.FromIp(lb.Address),
                    kind, net.Name, lb.Pinned, lb.Span));
            }
        }

        // docker_gwbridge: the same subnet on every node; ingress_sbox's leg first, then the node's tasks.
        var gwNet = networks.First(n => n.Name == GatewayBridge);
        for (int k = 0; k < nodes.Count; k++)
        {
            var node = nodes[k];
            var pool = new Pool(gwNet.Subnet, gwNet.Gateway);
            Ipv4Address Alloc(string what, string name)
            {
                var a = pool.Next();
                if (a is null)
                {
                    _d.Report(DiagnosticDescriptors.SubnetExhausted, gwNet.Span.IsKnown ? gwNet.Span : node.Span, $"network '{gwNet.Name}' ({gwNet.Subnet}) has no free address left on node '{node.Name}' for {string.Format(CultureInfo.InvariantCulture, what, name)}: "
                        + (gwNet.Implicit
                            ? $"declare the network (networks: {{ {gwNet.Name}: {{ driver: bridge, subnet: ... }} }}) with a larger subnet, or put fewer tasks on the node"
                            : $"use a larger subnet for {gwNet.Name} or fewer tasks on the node"));
                    throw new AnalysisAborted();
                }
                return a.Value;
            }
            if (ingress is not null)
            {
                var a = Alloc("{0}", IngressSandbox);
                endpoints.Add(new EndpointModel(node.Name, IngressSandbox, "eth1", gwNet.Name, new Ipv4Cidr(a, gwNet.Subnet.PrefixLength), MacAddress.FromIp(a),
                    EndpointKind.IngressGateway, IngressSandbox, false, gwNet.Span));
            }
            if (tasksByNode[k] is not { } onNode) continue;
            foreach (var i in onNode)
            {
                var t = tasks[i];
                var s = taskService[i];
                int index = 0;
                // Join order: ingress first (Docker attaches it first), then the declared networks, docker_gwbridge last.
                foreach (var netName in s.Networks)
                {
                    var slot = taskSlots[firstSlot[i] + index];
                    var net = networks[networkIndex[netName]];
                    endpoints.Add(new EndpointModel(node.Name, t.Name, InterfaceName(index), netName,
                        new Ipv4Cidr(slot.Address, net.Subnet.PrefixLength), MacAddress.FromIp(slot.Address), EndpointKind.Task, t.Name, slot.Pinned, slot.Span));
                    index++;
                }
                var g = Alloc("task '{0}'", t.Name);
                endpoints.Add(new EndpointModel(node.Name, t.Name, InterfaceName(index), gwNet.Name,
                    new Ipv4Cidr(g, gwNet.Subnet.PrefixLength), MacAddress.FromIp(g), EndpointKind.Task, t.Name, false, t.Span));
            }
        }
        return (endpoints, vips);
    }

    private static int IndexOf(EquatableArray<string> items, string item)
    {
        for (int i = 0; i < items.Count; i++)
            if (items[i] == item) return i;
        return -1;
    }

    private static bool HasVipOn(List<VipModel> vips, string network)
    {
        foreach (var v in vips)
            if (v.Network == network) return true;
        return false;
    }

    // ---- fwmarks -------------------------------------------------------------------------------------------------

    private static LoadBalancerModel[] AssignFwMarks(List<NodeModel> nodes, List<NetworkModel> networks, List<ServiceModel> services,
        List<TaskModel> tasks, List<EndpointModel> endpoints)
    {
        // The balancer sandboxes (ingress_sbox, lb_<network>) each node has, from their endpoints: a 1,000-service
        // topology has 30,000 task endpoints and 2,000 of these.
        var sandboxes = new HashSet<(string Node, string Network)>();
        foreach (var e in endpoints)
            if (e.Kind is EndpointKind.IngressLoadBalancer or EndpointKind.NetworkLoadBalancer) sandboxes.Add((e.Node, e.Network));
        // A node programs a service's balancer when the first backend of it appears (addServiceBinding → addLBBackend; the last
        // one gone deletes it, with the VIP alias, the marks and, in ingress_sbox, the published ports' rules): a service with
        // no task has none anywhere, and takes no fwmark (swarm-dataplane.md §2.3).
        var withTasks = new HashSet<string>(tasks.Select(t => t.Service), StringComparer.Ordinal);
        // Each overlay's balanced services (and their VIPs there), in service order, found once rather than per node.
        var overlays = networks.Where(n => n.IsOverlay).Select(net => (Network: net, Services: services
            // In ingress_sbox only services that publish through the routing mesh have a load balancer.
            .Where(s => withTasks.Contains(s.Name) && s.Networks.Contains(net.Name) && s.EndpointMode == EndpointMode.Vip && (!net.Ingress || s.PublishesIngress))
            .Select(s => (Service: s, Vip: s.Vips.First(v => v.Network == net.Name).Address)).ToList())).ToList();
        // Sized first: a node per network per service (209,200 on that topology), and growing the list copied it 18 times; an
        // array of that size becomes the model's without another copy.
        int count = 0;
        foreach (var node in nodes)
            foreach (var (net, balanced) in overlays)
                if (sandboxes.Contains((node.Name, net.Name))) count += balanced.Count;
        var result = new LoadBalancerModel[count];
        int at = 0;
        foreach (var node in nodes)
        {
            int mark = FirstFwMark;
            foreach (var (net, balanced) in overlays)
            {
                if (!sandboxes.Contains((node.Name, net.Name))) continue;
                var ns = net.Ingress ? IngressSandbox : NetworkLoadBalancerNamespace(net.Name);
                foreach (var (s, vip) in balanced)
                    result[at++] = new LoadBalancerModel(node.Name, net.Name, s.Name, mark++, vip, ns, s.Span);
            }
        }
        return result;
    }

    // ---- rules and expectations ------------------------------------------------------------------------------------

    private EquatableArray<RuleModel> BindRules(List<NodeModel> nodes, List<NetworkModel> networks, List<TaskModel> tasks)
    {
        var result = new List<RuleModel>();
        // The namespaces a rule may name, the same for every rule: made once (a task's among 10,000 was a list scan per rule),
        // and listed in order only for a message.
        List<string>? known = null;
        HashSet<string>? knownSet = null;
        foreach (var r in _decl.Rules)
        {
            if (r.Rule is null || r.Chain is null) continue;
            if (r.Node is { } n && nodes.All(x => x.Name != n.Value))
            {
                _d.Report(DiagnosticDescriptors.UnknownReference, n.Span, UnknownMessage("node", n.Value, nodes.Select(x => x.Name)));
                continue;
            }
            var ns = r.Namespace?.Value ?? "host";
            if (known is null)
            {
                known = new List<string> { "host", IngressSandbox };
                // The ingress network's balancer is ingress_sbox: it has no lb_ namespace (swarm-dataplane.md §2.2).
                known.AddRange(networks.Where(x => x.IsOverlay).SelectMany(x => x.Ingress
                    ? new[] { OverlayNamespace(x.Name) }
                    : new[] { OverlayNamespace(x.Name), NetworkLoadBalancerNamespace(x.Name) }));
                known.AddRange(tasks.Select(t => t.Name));
                knownSet = new HashSet<string>(known, StringComparer.Ordinal);
            }
            if (!knownSet!.Contains(ns))
            {
                _d.Report(DiagnosticDescriptors.UnknownReference, r.Namespace!.Value.Span, UnknownMessage("namespace", ns, known));
                continue;
            }
            if (!IsChainName(r.Chain.Value.Value))
            {
                _d.Report(DiagnosticDescriptors.InvalidRule, r.Chain.Value.Span, $"'{r.Chain.Value.Value}' is not a chain name: use letters, digits, '_' and '-' (at most 28)");
                continue;
            }
            result.Add(new RuleModel(r.Node?.Value, ns, r.Table?.Value ?? "filter", r.Chain.Value.Value, r.Rule.Value.Value, r.Position?.Value ?? RulePosition.Append, r.Rule.Value.Span));
        }
        return result.ToEquatableArray();
    }

    /// <summary>Chain names iptables accepts and shells cannot misread.</summary>
    public static bool IsChainName(string s) => s.Length is > 0 and <= 28 && s[0] != '-' && s.All(ch => ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-');

    private EquatableArray<ExpectModel> BindExpectations(Topology t)
    {
        var result = new List<ExpectModel>();
        if (_decl.Expectations.Count == 0) return result.ToEquatableArray();
        // Names looked up in sets rather than by scanning 10,000 tasks for each end of each expectation.
        var nodeNames = new HashSet<string>(t.Nodes.Select(n => n.Name), StringComparer.Ordinal);
        var serviceNames = new HashSet<string>(t.Services.Select(s => s.Name), StringComparer.Ordinal);
        var taskNames = new HashSet<string>(t.Tasks.Select(x => x.Name), StringComparer.Ordinal);
        var withTasks = t.ServicesWithTasks();
        TrafficEndpointKind? Resolve(string name)
        {
            if (nodeNames.Contains(name)) return TrafficEndpointKind.Node;
            if (serviceNames.Contains(name)) return TrafficEndpointKind.Service;
            if (taskNames.Contains(name)) return TrafficEndpointKind.Task;
            return null;
        }
        foreach (var x in _decl.Expectations)
        {
            if (x.From is null || x.To is null) continue;
            if (!TrafficEndpoint.TryParse(x.From.Value.Value, Resolve, out var from, out var e1))
            {
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.From.Value.Span, "from: " + e1);
                continue;
            }
            if (!TrafficEndpoint.TryParse(x.To.Value.Value, Resolve, out var to, out var e2))
            {
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.To.Value.Span, "to: " + e2);
                continue;
            }
            // As trace refuses them (Simulation.TryResolve): a source's port would be ignored (it sends from an ephemeral
            // port), and an ICMP echo has no port, so either entry would check something other than what it says.
            if (from.Port is not null)
            {
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.From.Value.Span, "from: a source sends from an ephemeral port; leave the port out");
                continue;
            }
            if (to.Protocol == IpProtocol.Icmp && to.Port is not null)
            {
                var head = x.To.Value.Value.Trim();
                head = head.Substring(0, head.IndexOf(':'));
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.To.Value.Span,
                    $"to: icmp has no port: write {head}:{to.Port.Value.ToString(CultureInfo.InvariantCulture)}/tcp (or /udp, /sctp), or leave the port out for an ICMP echo");
                continue;
            }
            // A dnsrr service has no VIP: as a destination it names no address, so any verdict about it would hold vacuously.
            if (to.Kind == TrafficEndpointKind.Service && t.Services.FirstOrDefault(s => s.Name == to.Name) is { EndpointMode: EndpointMode.Dnsrr } dnsrr)
            {
                var example = t.Tasks.FirstOrDefault(k => k.Service == dnsrr.Name)?.Name ?? dnsrr.Name + ".1";
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.To.Value.Span,
                    $"to: service '{dnsrr.Name}' uses endpointMode dnsrr, so it has no VIP to send to: address one of its tasks instead (e.g. '{example}')");
                continue;
            }
            if (x.Reaches is { } r && !serviceNames.Contains(r.Value))
            {
                _d.Report(DiagnosticDescriptors.UnknownReference, r.Span, UnknownMessage("service", r.Value, t.Services.Select(s => s.Name)));
                continue;
            }
            bool blocked = x.Blocked?.Value ?? false;
            if ((x.Reaches is null) == !blocked)
            {
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.Span, x.Reaches is null
                    ? "an expectation needs 'reaches: <service>' or 'blocked: true'"
                    : "an expectation cannot both reach a service and be blocked: keep one of 'reaches' and 'blocked: true'");
                continue;
            }
            // A service with no task sends nothing, so "blocked" would hold of nothing and "reaches" fail for no reason the
            // network shows (as a dnsrr destination above).
            if (from.Kind == TrafficEndpointKind.Service && !withTasks.Contains(from.Name!))
            {
                _d.Report(DiagnosticDescriptors.InvalidExpectation, x.From.Value.Span,
                    $"from: service '{from.Name}' has no task to send from (replicas 0, or no node it may run on), so the expectation would hold or fail vacuously");
                continue;
            }
            result.Add(new ExpectModel(from, to, x.Reaches?.Value, blocked, x.Span, x.From.Value.Span, x.To.Value.Span));
        }
        return result.ToEquatableArray();
    }
}
