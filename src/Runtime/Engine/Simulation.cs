using System;
using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Hashing;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Engine;

/// <summary>A resolved traffic flow: which namespace sends, from and to which address and port.</summary>
/// <param name="SourceNamespace">The sending namespace (global index in <see cref="Cluster.Namespaces"/>).</param>
/// <param name="Source">The source address, or 0.0.0.0 to let the route choose.</param>
/// <param name="Destination">The destination address.</param>
/// <param name="Protocol">tcp, udp, sctp or icmp (echo).</param>
/// <param name="DestinationPort">The destination port (0 for ICMP).</param>
/// <param name="Description">How the endpoints were read, for headings.</param>
public sealed record Flow(int SourceNamespace, Ipv4Address Source, Ipv4Address Destination, IpProtocol Protocol, int DestinationPort, string Description);

/// <summary>An open (handshaken) connection, for sending further packets on it.</summary>
public readonly struct ConnectionHandle
{
    internal ConnectionHandle(int index) { Index = index; }

    internal int Index { get; }
}

/// <summary>The untraced result of one connection attempt.</summary>
/// <param name="Request">How the first packet ended.</param>
/// <param name="Reply">How the answer ended (null when nothing answered).</param>
/// <param name="Handle">The connection, when it was established.</param>
/// <param name="Task">The task that received the request, when delivered to a task's socket.</param>
public readonly record struct ConnectionResult(DispositionKind Request, DispositionKind? Reply, ConnectionHandle? Handle, string? Task);

/// <summary>
/// Simulates traffic over a <see cref="DataplanePlan"/>: resolves endpoints, opens connections from client sockets,
/// lets the destination answer (SYN → SYN-ACK, echo → echo reply, or RST / ICMP errors after a drop) and traces every
/// packet on request. Everything is a deterministic function of the plan, the seed and the traffic sent before.
/// </summary>
public sealed class Simulation
{
    private PacketWalker _walker;
    private readonly List<OpenConnection> _open = new();
    private readonly Dictionary<string, TrafficEndpointKind> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _serviceTasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _taskNamespace = new(StringComparer.Ordinal);
    private long _clockMicroseconds;

    private sealed class OpenConnection
    {
        public int ClientNs;
        public PacketHeaders Last; // the client's last packet as sent (addresses/ports/seq)
        public uint ServerSeq;
        public int ServerNs;
        public PacketHeaders ServerLast; // the server's SYN-ACK as it sent it
    }

    /// <summary>Loads the plan.</summary>
    public Simulation(DataplanePlan plan, uint seed = 0)
    {
        Cluster = new Cluster(plan, seed);
        _walker = new PacketWalker(Cluster);
        foreach (var host in plan.Hosts) _names[host.Node] = TrafficEndpointKind.Node;
        foreach (var ns in Cluster.Namespaces)
        {
            if (ns.Plan is null || ns.Kind != NamespaceKind.Task) continue;
            _taskNamespace[ns.Name] = ns.Index;
            if (!string.IsNullOrEmpty(ns.Plan.Owner) && !_taskNamespace.ContainsKey(ns.Plan.Owner)) _taskNamespace[ns.Plan.Owner] = ns.Index;
        }
        var seen = new HashSet<(string Service, string Task)>();
        // Lowering shares one IpvsServicePlan between every node's copy of a balancer: each is read once.
        var read = new HashSet<IpvsServicePlan>(ReferenceComparer<IpvsServicePlan>.Instance);
        foreach (var ns in Cluster.Namespaces)
        {
            if (ns.Plan is null) continue;
            foreach (var s in ns.Plan.Ipvs)
                if (read.Add(s))
                {
                    // A service with no destinations yet (no tasks) is still a name its VIP answers to.
                    AddServiceTask(seen, s.Service, null);
                    for (int i = 0; i < s.Destinations.Count; i++) AddServiceTask(seen, s.Service, s.Destinations[i].Task);
                }
            foreach (var lb in ns.Plan.NftLoadBalancers) AddServiceTask(seen, lb.Service, null);
        }
        // A task namespace's owner is its service (lowering): a task's name says nothing reliable (a pinned `api.0` may
        // belong to web), and a service without balancer destinations (no tasks yet, or dnsrr) still has its tasks.
        foreach (var ns in Cluster.Namespaces)
            if (ns.Plan is { Kind: NamespaceKind.Task } p && !string.IsNullOrEmpty(p.Owner)) AddServiceTask(seen, p.Owner, ns.Name);
        foreach (var kv in _serviceTasks)
        {
            if (!_names.ContainsKey(kv.Key)) _names[kv.Key] = TrafficEndpointKind.Service;
            kv.Value.Sort(StringComparer.Ordinal);
        }
        foreach (var t in _taskNamespace.Keys) if (!_names.ContainsKey(t)) _names[t] = TrafficEndpointKind.Task;
    }

    private void AddServiceTask(HashSet<(string Service, string Task)> seen, string service, string? task)
    {
        if (!_serviceTasks.TryGetValue(service, out var list)) _serviceTasks[service] = list = new List<string>();
        // Every node's load balancers list the same destinations: a set, not a scan of the list (500,000 destinations on
        // a large plan). The lists are sorted afterwards, so insertion order does not matter.
        if (task is not null && seen.Add((service, task))) list.Add(task);
    }

    /// <summary>The loaded cluster and its kernel state.</summary>
    public Cluster Cluster { get; }

    /// <summary>
    /// Forgets all traffic sent so far: afterwards this simulation behaves exactly like a new one over the same plan and
    /// seed (see <see cref="Engine.Cluster.Reset"/>), without rebuilding devices, routes and compiled chains. Earlier
    /// <see cref="ConnectionHandle"/>s are no longer valid.
    /// </summary>
    public void Reset()
    {
        Cluster.Reset();
        ForgetConnections();
    }

    /// <summary>
    /// Forgets the tunnel's outer flows in every node namespace (<c>conntrack -D -p udp --orig-port-dst PORT</c>): the VXLAN
    /// datagrams' conntrack entries, which carry no NAT and no state that a connection depends on. Whether an outer
    /// datagram is the first of its 5-tuple (and so crosses the nat chains) depends on its UDP source port, a hash the
    /// kernel keys with a random boot-time value; after this call it is the first in the kernel and here alike.
    /// </summary>
    public int ForgetTunnelFlows(int dataPathPort)
    {
        int n = 0;
        foreach (var ns in Cluster.Namespaces)
            if (ns.Kind == NamespaceKind.Host && ns.ConntrackIfMade is { IsUnused: false } conntrack)
                n += conntrack.RemoveWhere(e => e.Original.Protocol == IpProtocol.Udp && e.Original.DestinationPort == dataPathPort);
        return n;
    }

    /// <summary>
    /// <see cref="Reset"/> when nothing but connections and packets happened since the last reset: only the namespaces
    /// that traffic entered are reset (the analyses that probe one connection at a time use it).
    /// </summary>
    internal void ResetTraffic()
    {
        Cluster.ResetTraffic();
        ForgetConnections();
    }

    /// <summary>The simulation's own state: a fresh walker (its random source), no open connections, the trace clock at 0.</summary>
    private void ForgetConnections()
    {
        _walker = new PacketWalker(Cluster);
        _open.Clear();
        _clockMicroseconds = 0;
    }

    /// <summary>The simulated clock: each packet takes a millisecond; <see cref="Advance"/> lets time pass.</summary>
    public TimeSpan Now => TimeSpan.FromMilliseconds(Cluster.NowMilliseconds);

    /// <summary>
    /// Lets <paramref name="duration"/> pass without traffic: conntrack entries, IPVS connections and learned FDB entries
    /// whose timeouts run out meanwhile are gone afterwards (and the timeouts <c>show</c> prints count down).
    /// </summary>
    public void Advance(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(duration), "time does not run backwards");
        Cluster.NowMilliseconds += (long)duration.TotalMilliseconds;
        Cluster.Expire();
    }

    /// <summary>
    /// Closes an established connection the usual way, untraced: the client's FIN, the server's FIN (with the ACK of the
    /// client's), the client's last ACK — so conntrack walks ESTABLISHED → FIN_WAIT → LAST_ACK → TIME_WAIT.
    /// </summary>
    public void Close(ConnectionHandle handle) => Close(handle, trace: false, captureFrames: false);

    /// <summary>Closes an established connection like <see cref="Close(ConnectionHandle)"/> and traces its three segments.</summary>
    public IReadOnlyList<PacketTrace> CloseTraced(ConnectionHandle handle, bool captureFrames = false) => Close(handle, trace: true, captureFrames);

    private IReadOnlyList<PacketTrace> Close(ConnectionHandle handle, bool trace, bool captureFrames)
    {
        var traces = new List<PacketTrace>(trace ? 3 : 0);
        var c = _open[handle.Index];
        var fin = c.Last;
        fin.Flags = TcpFlags.Fin | TcpFlags.Ack;
        fin.PayloadLength = 0;
        fin.Id = Cluster.Namespaces[c.ClientNs].NextIpId++;
        fin.Ack = c.ServerSeq;
        fin.EthSource = fin.EthDestination = default;
        Segment(c.ClientNs, fin, "client FIN");
        var sfin = c.ServerLast;
        sfin.Flags = TcpFlags.Fin | TcpFlags.Ack;
        sfin.PayloadLength = 0;
        sfin.Seq = c.ServerSeq;
        sfin.Ack = unchecked(fin.Seq + 1);
        sfin.Id = Cluster.Namespaces[c.ServerNs].NextIpId++;
        sfin.EthSource = sfin.EthDestination = default;
        Segment(c.ServerNs, sfin, "server FIN");
        var ack = fin;
        ack.Flags = TcpFlags.Ack;
        ack.Seq = unchecked(fin.Seq + 1);
        ack.Ack = unchecked(c.ServerSeq + 1);
        ack.Id = Cluster.Namespaces[c.ClientNs].NextIpId++;
        Segment(c.ClientNs, ack, "client ACK");
        return traces;

        void Segment(int ns, PacketHeaders h, string label)
        {
            if (trace) traces.Add(Walk(ns, new Packet { Headers = h }, label, captureFrames, out _));
            else _walker.SendFromSocket(ns, new Packet { Headers = h }, null);
            _walker.ReleaseDropped();
            Cluster.NowMilliseconds++;
        }
    }

    /// <summary>What a name in <c>--from</c>/<c>--to</c> refers to: nodes win over services, services over tasks.</summary>
    public TrafficEndpointKind? ResolveName(string name) => _names.TryGetValue(name, out var k) ? k : null;

    /// <summary>Parses and resolves two endpoints into a flow; errors name them as the command line's <c>--from</c> and <c>--to</c>.</summary>
    public bool TryResolve(string from, string to, out Flow flow, out string error) => TryResolve(from, to, EndpointNames.Options, out flow, out error);

    /// <summary>Parses and resolves two endpoints into a flow; errors name them as <paramref name="names"/> says.</summary>
    public bool TryResolve(string from, string to, EndpointNames names, out Flow flow, out string error)
    {
        if (names is null) throw new ArgumentNullException(nameof(names));
        flow = null!;
        if (!TrafficEndpoint.TryParse(from, ResolveName, out var f, out error)) { error = names.From + " " + from + ": " + error; return false; }
        if (PortProtocolError(to) is { } badTo) { error = names.To + " " + to + ": " + badTo; return false; }
        if (!TrafficEndpoint.TryParse(to, ResolveName, out var t, out error)) { error = names.To + " " + to + ": " + error; return false; }
        // Said rather than ignored: a source sends from an ephemeral port.
        if (f.Port is not null) { error = names.From + " " + from + ": a source sends from an ephemeral port; leave the port out"; return false; }
        return TryResolve(f, t, names, out flow, out error, out _);
    }

    /// <summary>
    /// Why the <c>PORT/PROTO</c> of a command-line destination (<c>NODE:PORT/PROTO</c>, <c>IP:PORT/PROTO</c>) is wrong, or
    /// null: a port goes with tcp, udp or sctp. ICMP has no port, and an echo with one was sent as if the port were not
    /// there; an echo is asked for by leaving the port out (a node, an address). (A source's port is refused whatever its
    /// protocol, below.) <c>expect:</c> entries are read by <see cref="TrafficEndpoint"/> alone.
    /// </summary>
    private static string? PortProtocolError(string text)
    {
        var t = text.Trim();
        int colon = t.IndexOf(':'), slash = t.LastIndexOf('/');
        if (colon <= 0 || slash < colon || t.StartsWith("external:", StringComparison.Ordinal)) return null;
        var port = t.Substring(colon + 1, slash - colon - 1);
        var proto = t.Substring(slash + 1);
        // Only PORT/PROTO is checked here; anything else (a port that is no number) is TrafficEndpoint's to explain.
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out _)) return null;
        var head = t.Substring(0, colon);
        if (proto == "icmp")
            return "icmp has no port: write " + head + ":" + port + "/tcp (or /udp, /sctp), or leave the port out for an ICMP echo to a node or an address";
        if (!IpProtocolNames.TryParse(proto, out _)) return "'" + proto + "' is not a protocol: a port goes with tcp, udp or sctp (as in " + head + ":" + port + "/tcp)";
        return null;
    }

    /// <summary>
    /// Resolves two endpoints into a flow. The error says what is wrong with the end that failed without naming that end;
    /// a hint in it may name an endpoint to use instead, written as the command line's <c>--to</c>.
    /// </summary>
    public bool TryResolve(TrafficEndpoint from, TrafficEndpoint to, out Flow flow, out string error) => TryResolve(from, to, EndpointNames.Options, out flow, out error, out _);

    /// <summary>
    /// <see cref="TryResolve(TrafficEndpoint, TrafficEndpoint, out Flow, out string)"/>, saying which end failed; a hint in
    /// the error names the destination as <paramref name="names"/> does (<c>--to api.1</c>, <c>to: api.1</c>).
    /// </summary>
    internal bool TryResolve(TrafficEndpoint from, TrafficEndpoint to, EndpointNames names, out Flow flow, out string error, out bool sourceFailed)
    {
        flow = null!;
        sourceFailed = true;
        if (!TryResolveSource(from, out var srcNs, out var srcAddr, out error)) return false;
        sourceFailed = false;
        if (!TryResolveDestination(to, Cluster.Namespaces[srcNs], names, out var dst, out var proto, out var port, out error)) return false;
        flow = new Flow(srcNs, srcAddr, dst, proto, port, from.Text + " → " + to.Text);
        return true;
    }

    private bool TryResolveSource(TrafficEndpoint e, out int ns, out Ipv4Address address, out string error)
    {
        ns = -1;
        address = Ipv4Address.Any;
        error = "";
        switch (e.Kind)
        {
            case TrafficEndpointKind.External:
            {
                var a = e.Address ?? Cluster.Plan.Underlay.ExternalClient;
                if (e.Address is { } chosen && WhyNotAClient(chosen) is { } why) { error = "external:" + chosen + " cannot be a client: " + why; return false; }
                // Lowering found no free underlay address for it (SWARM0022): a client at 0.0.0.0 would be a martian.
                if (a == Ipv4Address.Any) { error = NoExternalClient; return false; }
                var client = Cluster.ExternalClient(a);
                ns = client.Index;
                address = a;
                return true;
            }
            case TrafficEndpointKind.Node:
            case TrafficEndpointKind.Namespace:
            {
                var name = e.Kind == TrafficEndpointKind.Node ? "host" : e.Namespace!;
                var n = Cluster.Namespace(e.Name!, name) ?? (e.Kind == TrafficEndpointKind.Node ? HostNamespace(e.Name!) : null);
                if (n is null) { error = "node " + e.Name + " has no namespace " + name; return false; }
                ns = n.Index;
                return true;
            }
            case TrafficEndpointKind.Service:
                if (!_serviceTasks.TryGetValue(e.Name!, out var tasks) || tasks.Count == 0 || !_taskNamespace.TryGetValue(tasks[0], out ns))
                {
                    error = "service " + e.Name + " has no task to send from";
                    return false;
                }
                return true;
            case TrafficEndpointKind.Task:
                if (!_taskNamespace.TryGetValue(e.Name!, out ns)) { error = "task " + e.Name + " has no namespace in the plan"; return false; }
                return true;
            default:
            {
                var a = e.Address!.Value;
                foreach (var n in Cluster.Namespaces)
                {
                    if (n.IsExternalClient || n.Plan is null || !n.LocalAddresses.ContainsKey(a.Value)) continue;
                    if (ns < 0 || (n.Kind == NamespaceKind.Task && Cluster.Namespaces[ns].Kind != NamespaceKind.Task)) ns = n.Index;
                }
                if (ns < 0)
                {
                    if (!Cluster.Plan.Underlay.Subnet.Contains(a)) { error = "no namespace has address " + a + " and it is not on the underlay"; return false; }
                    ns = Cluster.ExternalClient(a).Index;
                }
                address = a;
                return true;
            }
        }
    }

    private NamespaceRuntime? HostNamespace(string node)
    {
        foreach (var n in Cluster.Namespaces) if (n.Node == node && n.Kind == NamespaceKind.Host && !n.IsExternalClient) return n;
        return null;
    }

    private bool TryResolveDestination(TrafficEndpoint e, NamespaceRuntime source, EndpointNames names, out Ipv4Address address, out IpProtocol protocol, out int port, out string error)
    {
        address = Ipv4Address.Any;
        protocol = e.Port is null ? IpProtocol.Icmp : e.Protocol;
        port = e.Port ?? 0;
        error = "";
        NamespaceRuntime? target = null;
        switch (e.Kind)
        {
            case TrafficEndpointKind.External:
                address = e.Address ?? Cluster.Plan.Underlay.ExternalClient;
                if (address == Ipv4Address.Any) { error = NoExternalClient; return false; }
                return true;
            case TrafficEndpointKind.Node:
                foreach (var h in Cluster.Plan.Hosts) if (h.Node == e.Name) address = h.UnderlayAddress.Address;
                return true;
            case TrafficEndpointKind.Service:
            {
                // The fold depends only on the plan (addresses are fixed when a namespace is built): done once per source and
                // service. reach resolves one per pair, and a service's VIP list repeats per node's balancer (hundreds).
                var key = (source.Index, e.Name!);
                if (!_resolvedVips.TryGetValue(key, out var vip))
                {
                    if (ServiceVips().TryGetValue(e.Name!, out var vips)) vip = ChooseVip(vips, source);
                    _resolvedVips[key] = vip;
                }
                if (vip is null)
                {
                    var first = _serviceTasks.TryGetValue(e.Name!, out var ts) && ts.Count > 0 ? ts[0] : null;
                    error = "service " + e.Name + " has no VIP in the plan (endpoint mode dnsrr, or no task: a node balances a VIP from its first task on)"
                        + (first is null ? "" : "; address one of its tasks instead, e.g. " + names.To + " " + first);
                    return false;
                }
                address = vip.Value;
                if (_serviceTasks.TryGetValue(e.Name!, out var tasks) && tasks.Count > 0 && _taskNamespace.TryGetValue(tasks[0], out var tn)) target = Cluster.Namespaces[tn];
                break;
            }
            case TrafficEndpointKind.Task:
                if (!_taskNamespace.TryGetValue(e.Name!, out var ti)) { error = "task " + e.Name + " has no namespace in the plan"; return false; }
                target = Cluster.Namespaces[ti];
                address = AddressSeenFrom(target, source);
                break;
            case TrafficEndpointKind.Namespace:
                target = Cluster.Namespace(e.Name!, e.Namespace!);
                if (target is null) { error = "node " + e.Name + " has no namespace " + e.Namespace; return false; }
                address = AddressSeenFrom(target, source);
                break;
            default:
                address = e.Address!.Value;
                if (WhyNotADestination(address, protocol, source) is { } why) { error = e.Text + ": " + why; return false; }
                return true;
        }
        if (e.Port is null && target?.Plan is not null && target.Plan.Listeners.Count > 0)
        {
            protocol = target.Plan.Listeners[0].Protocol;
            port = target.Plan.Listeners[0].Port;
        }
        if (address == Ipv4Address.Any) { error = e.Text + " has no address"; return false; }
        return true;
    }

    /// <summary>
    /// Each service's VIPs, each once, in the order the plan's balancers first list them, marked when the balancer is an
    /// ingress sandbox's (the routing mesh's VIP). Built on first use: resolving a service scanned every balancer of the
    /// plan, which on a 1,000-service plan was a tenth of <c>reach</c>'s time.
    /// </summary>
    private Dictionary<string, List<(Ipv4Address Vip, bool Ingress)>> ServiceVips()
    {
        if (_serviceVips is { } built) return built;
        var vips = new Dictionary<string, List<(Ipv4Address, bool)>>(StringComparer.Ordinal);
        void Add(string service, Ipv4Address vip, bool ingress)
        {
            if (!vips.TryGetValue(service, out var list)) vips[service] = list = new List<(Ipv4Address, bool)>();
            foreach (var (v, _) in list) if (v == vip) return;
            list.Add((vip, ingress));
        }
        foreach (var n in Cluster.Namespaces)
        {
            if (n.Plan is null) continue;
            bool ingress = n.Kind == NamespaceKind.IngressSandbox;
            foreach (var s in n.Plan.Ipvs) Add(s.Service, s.Vip, ingress);
            foreach (var lb in n.Plan.NftLoadBalancers) Add(lb.Service, lb.Vip, ingress);
        }
        return _serviceVips = vips;
    }

    /// <summary>
    /// The VIP a source sends to for a service, as Docker's resolver answers: the sandbox's networks in endpoint order (the
    /// source's devices), overlay VIPs before the routing mesh's (the ingress network has no service records; its VIP is
    /// kept for a source that shares nothing else with the service), else the first VIP of the plan.
    /// </summary>
    private static Ipv4Address? ChooseVip(List<(Ipv4Address Vip, bool Ingress)> vips, NamespaceRuntime source)
    {
        foreach (var ingress in new[] { false, true })
            foreach (var d in source.Devices)
            {
                if (d.Kind == DeviceKind.Loopback) continue;
                foreach (var a in d.Addresses)
                {
                    if (a.PrefixLength >= 32) continue;
                    foreach (var (vip, isIngress) in vips)
                        if (isIngress == ingress && a.Contains(vip)) return vip;
                }
            }
        return vips.Count > 0 ? vips[0].Vip : null;
    }

    private Dictionary<string, List<(Ipv4Address Vip, bool Ingress)>>? _serviceVips;

    private readonly Dictionary<(int Source, string Service), Ipv4Address?> _resolvedVips = new();

    /// <summary>
    /// Why the client's own kernel would not send to <paramref name="a"/>: a broadcast (the limited one, or a subnet's of
    /// the sending namespace) needs SO_BROADCAST for UDP and ICMP (EACCES without it; the simulated clients do not set it)
    /// and is never a TCP or SCTP peer (ip_route_connect: ENETUNREACH), nor is a multicast group.
    /// </summary>
    private static string? WhyNotADestination(Ipv4Address a, IpProtocol protocol, NamespaceRuntime source)
    {
        bool broadcast = a.Value == uint.MaxValue;
        foreach (var d in source.Devices)
            foreach (var c in d.Addresses)
                if (c.PrefixLength < 31 && c.Broadcast == a) broadcast = true;
        if (broadcast) return "a broadcast address: the client's kernel refuses to send there (no SO_BROADCAST; TCP and SCTP never connect to one)";
        if ((a.Value >> 28) == 0xE && protocol is IpProtocol.Tcp or IpProtocol.Sctp) return "a multicast group is never a " + protocol.Name() + " peer";
        return null;
    }

    /// <summary>
    /// Why an outside client may not have <paramref name="a"/>: a source Linux drops as martian (ip_route_input_slow: zero,
    /// loopback, multicast, limited broadcast, class E) or the underlay's broadcast, or an address a namespace of the plan
    /// already holds (the client would take that node's or task's packets).
    /// </summary>
    private string? WhyNotAClient(Ipv4Address a)
    {
        if (a.WhyNoSource() is { } martian) return martian;
        var underlay = Cluster.Plan.Underlay.Subnet;
        if (underlay.PrefixLength < 31 && underlay.Contains(a) && (a == underlay.Broadcast || a == underlay.Network))
            return "it is the underlay subnet's " + (a == underlay.Broadcast ? "broadcast" : "network") + " address";
        // From the plan: namespaces are built when first used.
        foreach (var host in Cluster.Plan.Hosts)
        {
            if (host.UnderlayAddress.Address == a) return "it is the address of node " + host.Node;
            foreach (var ns in host.Namespaces)
                foreach (var address in ns.Addresses)
                    if (address.Address.Address == a) return "it is an address of " + host.Node + "/" + ns.Name;
        }
        return null;
    }

    private string NoExternalClient => "the underlay subnet " + Cluster.Plan.Underlay.Subnet
        + " has no address left for the external client (SWARM0022): use a larger underlay subnet, or name a client with external:IP";

    /// <summary>
    /// The address of <paramref name="target"/> to send to from <paramref name="source"/>: its first address on a subnet the
    /// source is on, on an overlay other than the ingress network first (as Docker's resolver answers a task name: the
    /// ingress network has no records, and a task of a service that publishes ports has its ingress address first, which
    /// its own ingress filter would drop), else on any shared subnet, else its primary address.
    /// </summary>
    private Ipv4Address AddressSeenFrom(NamespaceRuntime target, NamespaceRuntime source)
    {
        foreach (var overlayOnly in new[] { true, false })
            foreach (var d in target.Devices)
            {
                if (d.Kind == DeviceKind.Loopback || (overlayOnly && !OnServiceOverlay(d))) continue;
                foreach (var a in d.Addresses)
                    if (a.PrefixLength < 32 && OnLinkSubnet(source, a.Address)) return a.Address;
            }
        return target.PrimaryAddress() ?? Ipv4Address.Any;
    }

    /// <summary>Whether a device is a leg on an overlay network other than the ingress network (whose overlay namespace is where a node's ingress sandbox has its leg).</summary>
    private bool OnServiceOverlay(DeviceRuntime d)
    {
        if (d.PeerNamespace < 0 || Cluster.Namespaces[d.PeerNamespace].Kind != NamespaceKind.Overlay) return false;
        if (_ingressOverlays is null)
        {
            var found = new HashSet<int>();
            foreach (var ns in Cluster.Namespaces)
                if (ns.Kind == NamespaceKind.IngressSandbox)
                    foreach (var leg in ns.Devices)
                        if (leg.PeerNamespace >= 0) found.Add(leg.PeerNamespace);
            _ingressOverlays = found;
        }
        return !_ingressOverlays.Contains(d.PeerNamespace);
    }

    private HashSet<int>? _ingressOverlays;

    /// <summary>Whether a non-loopback device of <paramref name="ns"/> has a subnet (not a /32 alias) holding <paramref name="a"/>.</summary>
    private static bool OnLinkSubnet(NamespaceRuntime ns, Ipv4Address a)
    {
        foreach (var d in ns.Devices)
        {
            if (d.Kind == DeviceKind.Loopback) continue;
            foreach (var c in d.Addresses)
                if (c.PrefixLength < 32 && c.Contains(a)) return true;
        }
        return false;
    }

    /// <summary>
    /// Resolves <paramref name="from"/> and <paramref name="to"/> (<c>external</c>, <c>NODE:PORT/PROTO</c>, <c>SERVICE</c>, ...) and
    /// opens <paramref name="count"/> traced connections. Throws <see cref="ArgumentException"/> when an endpoint does not
    /// resolve (callers taking user input use <see cref="TryResolve(string, string, out Flow, out string)"/>).
    /// </summary>
    public IReadOnlyList<ConnectionTrace> Connect(string from, string to, int count = 1, bool captureFrames = false)
    {
        if (!TryResolve(from, to, out var flow, out var error)) throw new ArgumentException(error);
        return Connect(flow, count, captureFrames);
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections one at a time as they are enumerated, each traced (request and reply): the
    /// same connections as <see cref="Connect(Flow, int, bool)"/>, for a caller that writes each and keeps none.
    /// </summary>
    public IEnumerable<ConnectionTrace> ConnectEach(Flow flow, int count, bool captureFrames = false)
    {
        for (int i = 1; i <= count; i++) yield return ConnectOnce(flow, i, count, trace: true, captureFrames, out _)!;
    }

    /// <summary>Opens <paramref name="count"/> connections and traces each request and reply.</summary>
    public IReadOnlyList<ConnectionTrace> Connect(Flow flow, int count, bool captureFrames = false)
    {
        var list = new List<ConnectionTrace>(count);
        for (int i = 1; i <= count; i++) list.Add(ConnectOnce(flow, i, count, trace: true, captureFrames, out _)!);
        return list;
    }

    /// <summary>Opens one connection without tracing (the fast path property tests and benchmarks use).</summary>
    public ConnectionResult ConnectUntraced(Flow flow)
    {
        ConnectOnce(flow, 1, 1, trace: false, false, out var result);
        return result;
    }

    /// <summary>
    /// Opens one connection untraced, noting in <paramref name="request"/> and <paramref name="reply"/> what each walk went
    /// through and where it ended (the reply's record stays empty when there is no reply).
    /// </summary>
    internal ConnectionResult ConnectRecorded(Flow flow, PathRecord request, PathRecord reply)
    {
        request.Clear();
        reply.Clear();
        ConnectOnce(flow, 1, 1, trace: false, false, out var result, request, reply);
        return result;
    }

    /// <summary>
    /// <see cref="ConnectRecorded"/> with <paramref name="balancer"/>'s pick for the connection made
    /// <paramref name="destination"/> (one of <see cref="BalancerChoices"/>), leaving the balancer's own state unmoved.
    /// </summary>
    internal ConnectionResult ConnectForced(Flow flow, long balancer, int destination, PathRecord request, PathRecord reply)
    {
        _walker.ForcedBalancer = balancer;
        _walker.ForcedDestination = destination;
        try { return ConnectRecorded(flow, request, reply); }
        finally { _walker.ForcedBalancer = -1; }
    }

    /// <summary>
    /// The backends a balancer (<see cref="PathRecord.BalancerKey"/>) may give a new connection depending on its state, each
    /// once: the IPVS service's real servers with a weight, or the first map slot of each address of an nftables
    /// <c>numgen</c> balancer; with the task behind each (or its address). Empty when the pick is a function of the
    /// packet alone (source or destination hashing): a client then always gets the backend it got.
    /// </summary>
    internal IReadOnlyList<(int Destination, string Backend)> BalancerChoices(long balancer)
    {
        var (nsIndex, index, nft) = PathRecord.OfBalancerKey(balancer);
        var ns = Cluster.Namespaces[nsIndex];
        var result = new List<(int, string)>();
        if (nft)
        {
            var plan = ns.Plan!.NftLoadBalancers[index];
            if (plan.Pick != NftPick.NumgenIncrement) return result;
            var seen = new HashSet<Ipv4Address>();
            for (int i = 0; i < plan.Slots.Count; i++)
                if (seen.Add(plan.Slots[i])) result.Add((i, TaskAt(plan.Slots[i]) ?? plan.Slots[i].ToString()));
            return result;
        }
        var service = ns.IpvsService(index);
        if (service.Scheduler is Ipvs.HashScheduler) return result;
        for (int i = 0; i < service.Destinations.Length; i++)
            if (service.Destinations[i].Weight > 0) result.Add((i, service.Destinations[i].Task));
        return result;
    }

    /// <summary>The service a balancer (<see cref="PathRecord.BalancerKey"/>) balances.</summary>
    internal string BalancerService(long balancer)
    {
        var (nsIndex, index, nft) = PathRecord.OfBalancerKey(balancer);
        var plan = Cluster.Namespaces[nsIndex].Plan!;
        return nft ? plan.NftLoadBalancers[index].Service : plan.Ipvs[index].Service;
    }

    /// <summary>
    /// The <see cref="BalancerChoices"/> entry a recorded pick is: an nftables map repeats a backend by its weight, so a
    /// later slot of the same address is its first slot.
    /// </summary>
    internal int ChoiceOf(long balancer, int picked)
    {
        var (nsIndex, index, nft) = PathRecord.OfBalancerKey(balancer);
        if (!nft || picked < 0) return picked;
        var slots = Cluster.Namespaces[nsIndex].Plan!.NftLoadBalancers[index].Slots;
        for (int i = 0; i < picked; i++)
            if (slots[i] == slots[picked]) return i;
        return picked;
    }

    // The task whose namespace holds an address (an nftables slot names addresses only).
    private string? TaskAt(Ipv4Address address)
    {
        foreach (var ns in Cluster.Namespaces)
            if (ns.Kind == NamespaceKind.Task && ns.Plan is { } plan)
                foreach (var a in plan.Addresses)
                    if (a.Address.Address == address) return ns.Name;
        return null;
    }

    /// <summary>
    /// Sends one data segment from the client on an established connection, untraced. With tracing off this path
    /// allocates nothing.
    /// </summary>
    public DispositionKind SendData(ConnectionHandle handle, int payloadBytes)
    {
        var c = _open[handle.Index];
        var h = c.Last;
        h.Flags = TcpFlags.Ack | TcpFlags.Psh;
        h.PayloadLength = payloadBytes;
        h.Id = Cluster.Namespaces[c.ClientNs].NextIpId++;
        h.Seq = c.Last.Seq;
        h.Ack = c.ServerSeq;
        h.EthSource = default;
        h.EthDestination = default;
        c.Last.Seq = unchecked(c.Last.Seq + (uint)payloadBytes);
        var p = new Packet { Headers = h };
        var outcome = _walker.SendFromSocket(c.ClientNs, p, null);
        _walker.ReleaseDropped();
        Cluster.NowMilliseconds++;
        return outcome.Kind;
    }

    /// <summary>
    /// The server acknowledges everything the client sent so far: a pure ACK from the task's socket back to the client,
    /// untraced. A real flow's ACKs are what keep the bridges' learned FDB entries (and conntrack's view of both
    /// directions) fresh; a one-way stream of <see cref="SendData"/> ages them out after 300 simulated seconds and floods.
    /// </summary>
    public DispositionKind SendAck(ConnectionHandle handle)
    {
        var outcome = _walker.SendFromSocket(_open[handle.Index].ServerNs, new Packet { Headers = ServerAck(_open[handle.Index]) }, null);
        _walker.ReleaseDropped();
        Cluster.NowMilliseconds++;
        return outcome.Kind;
    }

    /// <summary>Like <see cref="SendAck"/>, traced.</summary>
    public PacketTrace SendAckTraced(ConnectionHandle handle, bool captureFrames = false)
    {
        var c = _open[handle.Index];
        var trace = Walk(c.ServerNs, new Packet { Headers = ServerAck(c) }, "ack", captureFrames, out _);
        _walker.ReleaseDropped();
        Cluster.NowMilliseconds++;
        return trace;
    }

    private PacketHeaders ServerAck(OpenConnection c)
    {
        var h = c.ServerLast;
        h.Flags = TcpFlags.Ack;
        h.PayloadLength = 0;
        h.Seq = c.ServerSeq;
        h.Ack = c.Last.Seq;
        h.Id = Cluster.Namespaces[c.ServerNs].NextIpId++;
        h.EthSource = h.EthDestination = default;
        return h;
    }

    /// <summary>Sends one data segment on an established connection and traces it.</summary>
    public PacketTrace SendDataTraced(ConnectionHandle handle, int payloadBytes, bool captureFrames = false)
    {
        var c = _open[handle.Index];
        var h = c.Last;
        h.Flags = TcpFlags.Ack | TcpFlags.Psh;
        h.PayloadLength = payloadBytes;
        h.Id = Cluster.Namespaces[c.ClientNs].NextIpId++;
        h.Ack = c.ServerSeq;
        c.Last.Seq = unchecked(c.Last.Seq + (uint)payloadBytes);
        var trace = Walk(c.ClientNs, new Packet { Headers = h }, "data", captureFrames, out _);
        _walker.ReleaseDropped();
        return trace;
    }

    /// <summary>Sends an arbitrary packet from a namespace's socket layer and traces only that packet (no answer is simulated).</summary>
    public PacketTrace Send(int sourceNamespace, in Packet packet, string label, bool captureFrames = false)
    {
        var trace = Walk(sourceNamespace, packet, label, captureFrames, out _);
        _walker.ReleaseDropped();
        Cluster.NowMilliseconds++;
        return trace;
    }

    /// <summary>
    /// Sends an arbitrary packet from a namespace's socket layer (its source may be 0.0.0.0) and traces it, with whatever
    /// the destination or a dropping kernel answers (SYN-ACK, echo reply, RST, ICMP error).
    /// </summary>
    public ConnectionTrace Send(int sourceNamespace, in Packet packet, bool captureFrames = false)
    {
        var request = Walk(sourceNamespace, packet, "request", captureFrames, out var outcome);
        Cluster.NowMilliseconds++;
        PacketTrace? reply = null;
        if (BuildReply(outcome, out var replyNs, out var answer))
        {
            reply = Walk(replyNs, answer, "reply", captureFrames, out _, AnswersDrop(outcome));
            Cluster.NowMilliseconds++;
        }
        _walker.ReleaseDropped();
        return new ConnectionTrace(1, 1, request, reply);
    }

    /// <summary>One connection: its traces when <paramref name="trace"/>, else null (an untraced probe allocates no trace).</summary>
    private ConnectionTrace? ConnectOnce(Flow flow, int number, int count, bool trace, bool captureFrames, out ConnectionResult result,
        PathRecord? requestRecord = null, PathRecord? replyRecord = null)
    {
        var client = Cluster.Namespaces[flow.SourceNamespace];
        int port = NextEphemeralPort(client, flow.Protocol);
        int key = NamespaceRuntime.SocketKey(flow.Protocol, flow.Protocol == IpProtocol.Icmp ? port : port);
        var owner = client.IsExternalClient ? "external client" : client.Kind == NamespaceKind.Task ? client.Name : client.QualifiedName;
        client.ClientSockets[key] = new ClientSocket(owner, flow.Destination, flow.Protocol == IpProtocol.Icmp ? 0 : flow.DestinationPort);
        var h = new PacketHeaders
        {
            Source = flow.Source == Ipv4Address.Any ? BindSource(client, flow.Destination) : flow.Source,
            Destination = flow.Destination,
            Protocol = flow.Protocol,
            Ttl = 64,
            DontFragment = true,
            Id = client.NextIpId++,
            SourcePort = (ushort)port,
            DestinationPort = flow.Protocol == IpProtocol.Icmp ? (ushort)port : (ushort)flow.DestinationPort,
        };
        switch (flow.Protocol)
        {
            case IpProtocol.Tcp:
                h.Flags = TcpFlags.Syn;
                h.Seq = KernelHash.Jhash3Words(flow.Destination.Value, (uint)port << 16 | (uint)flow.DestinationPort, (uint)number, Cluster.Seed ^ 0x5eed);
                break;
            case IpProtocol.Icmp:
                h.IcmpType = IcmpTypes.EchoRequest;
                h.IcmpSequence = 1;
                h.PayloadLength = 56;
                break;
            case IpProtocol.Sctp:
                // An association starts with INIT (verification tag 0, the initiator's tag inside): sctp_new makes no
                // conntrack entry for a first DATA chunk, so NAT would never see it.
                h.Chunk = SctpChunk.Init;
                h.Seq = 0;
                h.Ack = SctpTag(flow.Destination.Value, (uint)port << 16 | (uint)flow.DestinationPort, (uint)number);
                h.PayloadLength = SctpInitLength;
                break;
            default:
                h.PayloadLength = 32;
                break;
        }
        var req = new Packet { Headers = h };
        PacketTrace? requestTrace = null, replyTrace = null;
        Outcome outcome;
        if (trace) requestTrace = Walk(flow.SourceNamespace, req, "request", captureFrames, out outcome);
        else
        {
            _walker.Record = requestRecord;
            outcome = _walker.SendFromSocket(flow.SourceNamespace, req, null);
            _walker.Record = null;
            if (requestRecord != null) Finish(requestRecord, outcome);
        }
        Cluster.NowMilliseconds++;

        string? task = null;
        if (outcome.Kind == DispositionKind.Delivered && !outcome.ClientSocket)
        {
            var ns = Cluster.Namespaces[outcome.Namespace];
            if (ns.Listeners.TryGetValue(outcome.SocketKey, out var l)) task = l.Owner;
            else if (ns.Kind == NamespaceKind.Task) task = ns.Name;
        }
        DispositionKind? replyKind = null;
        ConnectionHandle? handle = null;
        if (BuildReply(outcome, out var replyNs, out var reply))
        {
            Outcome replyOutcome;
            if (trace) replyTrace = Walk(replyNs, reply, "reply", captureFrames, out replyOutcome, AnswersDrop(outcome));
            else
            {
                _walker.Record = replyRecord;
                replyOutcome = _walker.SendFromSocket(replyNs, reply, null, AnswersDrop(outcome));
                _walker.Record = null;
                if (replyRecord != null) Finish(replyRecord, replyOutcome);
            }
            Cluster.NowMilliseconds++;
            replyKind = replyOutcome.Kind;
            if (flow.Protocol == IpProtocol.Tcp && replyOutcome.Kind == DispositionKind.Delivered && replyOutcome.ClientSocket
                && (replyOutcome.Final.Flags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack))
            {
                // The client completes the handshake (untraced), so conntrack and IPVS see ESTABLISHED.
                var c = new OpenConnection { ClientNs = flow.SourceNamespace, ServerSeq = unchecked(replyOutcome.Final.Seq + 1), ServerNs = replyNs, ServerLast = reply.Headers };
                var a = req.Headers;
                a.Source = replyOutcome.Final.Destination;
                a.Flags = TcpFlags.Ack;
                a.Seq = unchecked(req.Headers.Seq + 1);
                a.Ack = c.ServerSeq;
                a.Id = client.NextIpId++;
                c.Last = a;
                _walker.SendFromSocket(flow.SourceNamespace, new Packet { Headers = a }, null);
                Cluster.NowMilliseconds++;
                _open.Add(c);
                handle = new ConnectionHandle(_open.Count - 1);
            }
            if (flow.Protocol == IpProtocol.Sctp && replyOutcome.Kind == DispositionKind.Delivered && replyOutcome.ClientSocket
                && replyOutcome.Final.Chunk == SctpChunk.InitAck)
                CompleteAssociation(flow.SourceNamespace, client, req.Headers, replyOutcome.Final, replyNs, reply.Headers);
        }
        _walker.ReleaseDropped();
        result = new ConnectionResult(outcome.Kind, replyKind, handle, task);
        return requestTrace is null ? null : new ConnectionTrace(number, count, requestTrace, replyTrace);
    }

    // An INIT or INIT ACK chunk: chunk header, initiate tag, a_rwnd, streams, initial TSN (RFC 9260 §3.3.2); the INIT ACK
    // adds a State Cookie parameter (4 bytes and the cookie) and COOKIE ECHO carries that cookie back.
    internal const int SctpInitLength = 20, SctpCookieLength = 24, SctpInitAckLength = SctpInitLength + 4 + SctpCookieLength,
        SctpCookieEchoLength = 4 + SctpCookieLength, SctpCookieAckLength = 4;

    // A nonzero verification tag, fixed by the flow (RFC 9260 requires it random and nonzero; a trace must be reproducible).
    private uint SctpTag(uint a, uint b, uint c) => KernelHash.Jhash3Words(a, b, c, Cluster.Seed ^ 0x5c7b) | 1;

    /// <summary>
    /// The rest of an SCTP association's start, untraced as TCP's final ACK is: the client echoes the cookie of the INIT ACK
    /// it got, and the server acknowledges it, so conntrack on the way sees the association ESTABLISHED.
    /// </summary>
    private void CompleteAssociation(int clientNs, NamespaceRuntime client, PacketHeaders init, PacketHeaders initAck, int serverNs, PacketHeaders sent)
    {
        var echo = init;
        echo.Source = initAck.Destination;
        echo.Chunk = SctpChunk.CookieEcho;
        echo.Seq = initAck.Ack; // the server's tag
        echo.Ack = 0;
        echo.PayloadLength = SctpCookieEchoLength;
        echo.Id = client.NextIpId++;
        var arrived = _walker.SendFromSocket(clientNs, new Packet { Headers = echo }, null);
        Cluster.NowMilliseconds++;
        if (arrived.Kind != DispositionKind.Delivered || arrived.ClientSocket || arrived.Namespace != serverNs) return;
        var ack = sent;
        ack.Chunk = SctpChunk.CookieAck;
        ack.Seq = init.Ack; // the client's tag
        ack.Ack = 0;
        ack.PayloadLength = SctpCookieAckLength;
        ack.Id = Cluster.Namespaces[serverNs].NextIpId++;
        _walker.SendFromSocket(serverNs, new Packet { Headers = ack }, null);
        Cluster.NowMilliseconds++;
    }

    /// <summary>
    /// Whether the answer to a drop carries the dropped packet's connection: icmp_send attaches it to every ICMP error
    /// (icmp_glue_bits → nf_ct_attach) and REJECT's nf_send_reset to its RST; tcp_v4_send_reset (no listener) does not, its
    /// RST finds the (confirmed) connection by its tuple.
    /// </summary>
    private static bool AnswersDrop(in Outcome o) => o.Kind == DispositionKind.Dropped && !(o.Reply == ReplyKind.TcpReset && o.Cause == DropCause.NoListener);

    /// <summary>What the destination (or the kernel that dropped the packet) sends back.</summary>
    private bool BuildReply(in Outcome o, out int ns, out Packet reply)
    {
        ns = o.Namespace;
        reply = default;
        var f = o.Final;
        var n = Cluster.Namespaces[o.Namespace];
        var h = new PacketHeaders { Ttl = 64, DontFragment = true, Id = n.NextIpId++, Protocol = f.Protocol };
        if (o.Kind == DispositionKind.Delivered)
        {
            if (o.ClientSocket || o.SocketKey == 0) return false;
            h.Source = f.Destination;
            h.Destination = f.Source;
            h.SourcePort = f.DestinationPort;
            h.DestinationPort = f.SourcePort;
            switch (f.Protocol)
            {
                case IpProtocol.Tcp:
                    if ((f.Flags & TcpFlags.Syn) == 0) return false;
                    h.Flags = TcpFlags.Syn | TcpFlags.Ack;
                    h.Seq = KernelHash.Jhash3Words(f.Source.Value, f.Destination.Value, (uint)f.SourcePort << 16 | f.DestinationPort, Cluster.Seed ^ 0x15);
                    h.Ack = unchecked(f.Seq + 1);
                    break;
                case IpProtocol.Sctp:
                    // INIT is answered by INIT ACK (the initiator's tag as verification tag, the server's inside); a chunk that
                    // is not an association's start gets no answer here.
                    if (f.Chunk != SctpChunk.Init) return false;
                    h.Chunk = SctpChunk.InitAck;
                    h.Seq = f.Ack;
                    h.Ack = SctpTag(f.Source.Value, f.Destination.Value, (uint)f.SourcePort << 16 | f.DestinationPort);
                    h.PayloadLength = SctpInitAckLength;
                    break;
                case IpProtocol.Icmp:
                    if (f.IcmpType != IcmpTypes.EchoRequest) return false;
                    h.IcmpType = IcmpTypes.EchoReply;
                    h.SourcePort = h.DestinationPort = f.SourcePort;
                    h.IcmpSequence = f.IcmpSequence;
                    h.PayloadLength = f.PayloadLength;
                    h.DontFragment = false;
                    break;
                default:
                    h.PayloadLength = f.PayloadLength;
                    break;
            }
            reply = new Packet { Headers = h };
            return true;
        }
        if (o.Kind != DispositionKind.Dropped || o.Reply == ReplyKind.None) return false;
        if (o.Reply == ReplyKind.TcpReset)
        {
            if ((f.Flags & TcpFlags.Rst) != 0) return false;
            h.Source = f.Destination;
            h.Destination = f.Source;
            h.SourcePort = f.DestinationPort;
            h.DestinationPort = f.SourcePort;
            h.Flags = TcpFlags.Rst | TcpFlags.Ack;
            h.Ack = unchecked(f.Seq + ((f.Flags & TcpFlags.Syn) != 0 ? 1u : 0u) + (uint)f.PayloadLength);
            reply = new Packet { Headers = h };
            return true;
        }
        if (f.IsIcmpError) return false; // never an error about an error (RFC 1122)
        // __icmp_send: from the offending packet's destination when it was for us (RTCF_LOCAL); otherwise saddr 0, and the
        // route back chooses it (icmp_errors_use_inbound_ifaddr is 0 by default).
        h.Protocol = IpProtocol.Icmp;
        h.DontFragment = false;
        h.Source = n.IsLocal(f.Destination) ? f.Destination : BindSource(n, f.Source);
        h.Destination = f.Source;
        switch (o.Reply)
        {
            case ReplyKind.PortUnreachable: h.IcmpType = IcmpTypes.DestinationUnreachable; h.IcmpCode = IcmpTypes.PortUnreachable; break;
            case ReplyKind.FragmentationNeeded: h.IcmpType = IcmpTypes.DestinationUnreachable; h.IcmpCode = IcmpTypes.FragmentationNeeded; h.IcmpNextHopMtu = (ushort)o.Mtu; break;
            case ReplyKind.AdminProhibited: h.IcmpType = IcmpTypes.DestinationUnreachable; h.IcmpCode = IcmpTypes.AdminProhibited; break;
            default: h.IcmpType = IcmpTypes.TimeExceeded; h.IcmpCode = 0; break;
        }
        h.Embedded = new EmbeddedHeader
        {
            Source = f.Source,
            Destination = f.Destination,
            Protocol = f.Protocol,
            SourcePort = f.SourcePort,
            DestinationPort = f.DestinationPort,
            Ttl = f.Ttl,
            Id = f.Id,
            TotalLength = (ushort)f.TotalLength,
            DontFragment = f.DontFragment,
            IcmpType = f.IcmpType,
            Seq = f.Seq,
        };
        reply = new Packet { Headers = h };
        return true;
    }

    /// <summary>
    /// The backend a source-hashing balancer (<see cref="PathRecord.BalancerKey"/>) would give <paramref name="source"/>
    /// (a destination index, or an nftables map slot; -1 none), without a packet and without changing anything.
    /// </summary>
    internal int PeekSourceHash(long balancer, Ipv4Address source)
    {
        var (nsIndex, index, nft) = PathRecord.OfBalancerKey(balancer);
        var ns = Cluster.Namespaces[nsIndex];
        if (nft)
        {
            var plan = ns.Plan!.NftLoadBalancers[index]; // the runtime balancers mirror the plan's, in order
            return plan.Slots.Count == 0 ? -1 : (int)KernelHash.ReciprocalScale(KernelHash.JhashAddress(source, 0), (uint)plan.Slots.Count);
        }
        var service = ns.IpvsService(index);
        return service.Scheduler is Ipvs.HashScheduler hash ? hash.Peek(service, source, Ipv4Address.Any) : -1;
    }

    /// <summary>The address a flow's packets leave with: its own, or what connect() binds an unbound socket to.</summary>
    internal Ipv4Address SourceOf(Flow flow) => flow.Source != Ipv4Address.Any ? flow.Source : BindSource(Cluster.Namespaces[flow.SourceNamespace], flow.Destination);

    /// <summary>
    /// Makes namespace <paramref name="ns"/> hand out ephemeral ports from where <paramref name="like"/> starts after loading
    /// (until the next reset): two sources then send the same ports.
    /// </summary>
    internal void TakeEphemeralPortsOf(int ns, int like) => SetEphemeralCursor(ns, Cluster.Namespaces[like].InitialEphemeralCursor);

    /// <summary>Makes namespace <paramref name="ns"/> hand out its next ephemeral port from <paramref name="cursor"/> (a value of <see cref="NamespaceRuntime.EphemeralCursor"/>).</summary>
    internal void SetEphemeralCursor(int ns, int cursor)
    {
        var n = Cluster.Namespaces[ns];
        n.EphemeralCursor = cursor;
        Cluster.Touch(n);
    }

    /// <summary>What connect() binds an unbound socket to: the route's source address for the destination.</summary>
    private static Ipv4Address BindSource(NamespaceRuntime ns, Ipv4Address destination)
    {
        if (ns.IsLocal(destination)) return destination.IsLoopback ? Ipv4Address.FromBytes(127, 0, 0, 1) : destination;
        return PacketWalker.LookupRoute(ns, destination, out var route, out var dev, out var nexthop)
            ? PacketWalker.SelectSource(ns, route, dev, nexthop)
            : Ipv4Address.Any;
    }

    private int NextEphemeralPort(NamespaceRuntime ns, IpProtocol protocol)
    {
        int range = VxlanCodec.LocalPortRangeMax - VxlanCodec.LocalPortRangeMin + 1;
        for (int i = 0; i < range; i++)
        {
            int port = VxlanCodec.LocalPortRangeMin + ns.EphemeralCursor;
            ns.EphemeralCursor = (ns.EphemeralCursor + 1) % range;
            // A bound port is never handed out: a client socket's, a listener's, or (UDP) a VXLAN device's data path port.
            if (!(ns.ClientSocketsIfMade is { } sockets && sockets.ContainsKey(NamespaceRuntime.SocketKey(protocol, port))) && !ns.Listeners.ContainsKey(NamespaceRuntime.SocketKey(protocol, port))
                && !(protocol == IpProtocol.Udp && ns.VxlanSocketsIfMade is { } vxlanSockets && vxlanSockets.ContainsKey(port))) return port;
        }
        return VxlanCodec.LocalPortRangeMin;
    }

    private PacketTrace Walk(int ns, in Packet packet, string label, bool captureFrames, out Outcome outcome, bool answersDrop = false)
    {
        var trace = new PacketTrace(label, HeaderSnapshot.Of(packet));
        var recorder = new TraceRecorder(trace, captureFrames, _clockMicroseconds);
        outcome = _walker.SendFromSocket(ns, packet, recorder, answersDrop);
        _clockMicroseconds = recorder.ClockMicroseconds + 1000;
        trace.Disposition = ToDisposition(outcome);
        return trace;
    }

    private static void Finish(PathRecord record, in Outcome o)
    {
        record.Outcome = o;
        record.Walked = true;
    }

    /// <summary>
    /// The disposition a trace of the recorded walk would end with. Call it before the next reset: a delivery to a client
    /// socket is named after the socket's owner.
    /// </summary>
    internal Disposition DispositionOf(in Outcome outcome) => ToDisposition(outcome);

    private Disposition ToDisposition(in Outcome o)
    {
        var ns = Cluster.Namespaces[o.Namespace];
        var final = HeaderSnapshot.Of(o.Final, 0);
        switch (o.Kind)
        {
            case DispositionKind.Delivered:
            {
                string owner, socket;
                if (o.ClientSocket)
                {
                    owner = ns.ClientSocketsIfMade is { } sockets && sockets.TryGetValue(o.SocketKey, out var c) ? c.Owner : ns.QualifiedName;
                    socket = final.Protocol.Name() + " " + final.DestinationEndpoint;
                }
                else if (ns.Listeners.TryGetValue(o.SocketKey, out var l))
                {
                    owner = l.Owner;
                    socket = l.Protocol.Name() + " :" + l.Port.ToString(CultureInfo.InvariantCulture);
                }
                else
                {
                    owner = ns.Kind == NamespaceKind.Task ? ns.Name : ns.QualifiedName;
                    socket = o.SocketKey == 0 ? "kernel" : "icmp echo";
                }
                return new Disposition(DispositionKind.Delivered, ns.QualifiedName, owner, socket, null, "delivered to " + owner + " (" + socket + ")", final);
            }
            case DispositionKind.Dropped:
                return new Disposition(DispositionKind.Dropped, ns.QualifiedName, "", "", o.Cause, o.Detail ?? o.Cause.ToString(), final);
            case DispositionKind.Looped:
                return new Disposition(DispositionKind.Looped, ns.QualifiedName, "", "", null, o.Detail ?? "forwarding loop", final);
            default:
                return new Disposition(DispositionKind.Exited, ns.QualifiedName, "", "", null, o.Detail ?? "left the modelled network", final);
        }
    }
}

/// <summary>
/// How a caller's text names the two ends of a flow, for <see cref="Simulation.TryResolve(string, string, EndpointNames, out Flow, out string)"/>'s
/// errors and hints: the command line's options (<c>--to api.1</c>) or an <c>expect:</c> entry's keys (<c>to: api.1</c>).
/// </summary>
/// <param name="From">The source's name (<c>--from</c>, <c>--trace-from</c>, <c>from:</c>).</param>
/// <param name="To">The destination's name (<c>--to</c>, <c>--trace-to</c>, <c>to:</c>).</param>
public sealed record EndpointNames(string From, string To)
{
    /// <summary><c>trace</c>'s and <c>show</c>'s options.</summary>
    public static EndpointNames Options { get; } = new("--from", "--to");

    /// <summary>An <c>expect:</c> entry's keys.</summary>
    public static EndpointNames Keys { get; } = new("from:", "to:");
}
