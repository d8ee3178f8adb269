using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Insight;

/// <summary>
/// Which nodes, as sources of <c>reach</c>, get exactly the outside client's rows toward another node's address, so that
/// the sweep from <c>external</c> answers for them (docs/insight.md, "Nodes take the outside client's sweep").
/// <para>
/// A node's probe and the outside client's differ in three things only: the namespace that sends them and takes the
/// reply (the node's host namespace, or the client's, which has no firewall), the source address, and the source MAC.
/// The ephemeral source ports are made the same sequence (<see cref="Simulation.TakeEphemeralPortsOf"/>), and the clock,
/// the walker's random source and every table start from the loaded state for both (a class probed again from the node
/// alone is the exception: see <see cref="ProbesAgain"/>; no port of the plan may split the ephemeral range). So the two
/// walks are the same walk when (1) the node's host does nothing to its own packets to another node and their replies
/// that the client does not (every rule they can meet is inert or harmless, the route is the underlay's), (2) nothing else in the plan can tell the two addresses or MACs apart (every prefix a rule, route,
/// address or neighbour names holds both or neither; no other namespace owns, forwards to or translates to either) and
/// (3) no load balancer picks a backend by the client's address (<see cref="PathRecord.HashedSource"/>, watched while
/// the client's own sweep runs). What is checked here is that, conservatively: anything this
/// class cannot show harmless refuses the node, which then gets its own sweep. The rows must also not name the client
/// (<see cref="NamesTheClient(ReachRow, string)"/>): a walk that ended at the source would name it.
/// </para>
/// </summary>
internal sealed class NodeSourceSharing
{
    private readonly Dictionary<string, string?> _refusals = new(StringComparer.Ordinal);

    private NodeSourceSharing() { }

    /// <summary>
    /// Whether a sharing node may probe again only the classes a source-hashing balancer decided (and take the rest): not
    /// when the plan has statistic matches, whose counters and random draws the skipped classes would have moved on.
    /// Then a node shares only a destination whose sweep has no such class.
    /// </summary>
    public bool ProbesAgain { get; private set; }

    /// <summary>Whether <paramref name="node"/> gets the outside client's rows toward every other node.</summary>
    public bool MayShare(string node) => _refusals.TryGetValue(node, out var why) && why is null;

    /// <summary>Why <paramref name="node"/> does not share (null when it does; "not a node" for anything else).</summary>
    public string? WhyNot(string node) => _refusals.TryGetValue(node, out var why) ? why : "not a node";

    /// <summary>Whether a row names the outside client (where a walk ended, a socket's owner): then it is not shared.</summary>
    public static bool NamesTheClient(ReachRow row, string clientAddress) => row.Cause is { } c && NamesTheClient(c, clientAddress);

    /// <summary>Whether an explanation names the outside client.</summary>
    public static bool NamesTheClient(string cause, string clientAddress) =>
        cause.IndexOf("external", StringComparison.Ordinal) >= 0 || cause.IndexOf(clientAddress, StringComparison.Ordinal) >= 0;

    /// <summary>Decides, once per analysis, which nodes of <paramref name="topology"/> share.</summary>
    public static NodeSourceSharing For(Simulation sim, Topology topology)
    {
        var result = new NodeSourceSharing();
        var cluster = sim.Cluster;
        var plan = cluster.Plan;
        var nodes = topology.Nodes;
        if (nodes.Count < 2)
        {
            foreach (var n in nodes) result._refusals[n.Name] = "a single node";
            return result;
        }
        string? everyone = null;
        var clientAddress = plan.Underlay.ExternalClient;
        NamespaceRuntime? client = null;
        if (sim.TryResolve("external", nodes[0].Name + ":1/tcp", out var clientFlow, out _)) client = cluster.Namespaces[clientFlow.SourceNamespace];
        if (client is null || !client.IsExternalClient || client.Plan is { Tables.Count: > 0 }) everyone = "the outside client is not a plain client";

        // Only the client's and the nodes' addresses and the underlay's MACs are ever asked about: the facts keep those
        // (a 100-node plan names 1.4 million neighbour and FDB entries; listing every owner of every address was most of
        // a one-destination question's time).
        PlanFacts? facts = null;
        if (everyone is null)
        {
            var addresses = new HashSet<uint> { clientAddress.Value };
            foreach (var n in nodes) addresses.Add(n.Address.Address.Value);
            var macs = new HashSet<MacAddress>();
            foreach (var (ns, dev) in cluster.Underlay) macs.Add(cluster.Namespaces[ns].Devices[dev].Mac);
            facts = PlanFacts.Of(plan, addresses, macs);
        }
        if (facts?.EphemeralPort is { } port) everyone = port;
        result.ProbesAgain = facts is { HasStatistic: false };
        if (everyone is null && facts!.OwnedAddresses.ContainsKey(clientAddress.Value)) everyone = "a namespace of the plan owns or targets the outside client's address";
        DeviceRuntime? clientDevice = null;
        if (everyone is null && !RoutesLikeAClient(client!, clientAddress, nodes, null, out clientDevice, out var why)) everyone = "the outside client: " + why;

        foreach (var node in nodes)
        {
            if (everyone is not null) { result._refusals[node.Name] = everyone; continue; }
            result._refusals[node.Name] = Refusal(sim, node, nodes, facts!, clientAddress, clientDevice!);
        }
        return result;
    }

    private static string? Refusal(Simulation sim, NodeModel node, IReadOnlyList<NodeModel> nodes, PlanFacts facts, Ipv4Address clientAddress, DeviceRuntime clientDevice)
    {
        var address = node.Address.Address;
        var other = nodes[0].Name == node.Name ? nodes[1].Name : nodes[0].Name;
        if (!sim.TryResolve(node.Name, other + ":1/tcp", out var flow, out _)) return "it cannot send";
        var host = sim.Cluster.Namespaces[flow.SourceNamespace];
        if (host.Plan is not { } hostPlan) return "no host namespace";
        // (2) Nothing else tells its address from the client's.
        foreach (var prefix in facts.Prefixes)
            if (prefix.Contains(address) != prefix.Contains(clientAddress)) return "the prefix " + prefix + " holds one of its address and the outside client's";
        if (facts.OwnedAddresses.TryGetValue(address.Value, out var owners))
            foreach (var owner in owners)
                if (owner != host.Index) return "another namespace owns, forwards to or translates to its address";
        // (1) Its host sends like the client: on-link over the underlay with its own address, nothing in the way.
        if (!RoutesLikeAClient(host, address, nodes, node.Name, out var underlay, out var why)) return why;
        if (underlay.Mtu != clientDevice.Mtu) return "its underlay MTU differs from the outside client's";
        // The client's namespace sets no sysctl; the node's ARP settings decide whether it answers (or is learnt by) the
        // node it probes. A differential fuzz found arp_ignore=8 on a node's underlay told its rows from the client's.
        foreach (var s in hostPlan.Sysctls)
            if (Cluster.ModelsDeviceSysctl(s.Key, out var device, out _) && (device == "all" || device == underlay.Name) && s.Value != "0") return "its host sets " + s.Key + ", which the outside client's namespace does not";
        if (facts.Macs.Contains(underlay.Mac) || facts.Macs.Contains(clientDevice.Mac)) return "a neighbour or FDB entry names its MAC or the client's";
        if (hostPlan.Ipvs.Count > 0 || hostPlan.NftLoadBalancers.Count > 0) return "its host balances load";
        var targets = new List<Ipv4Address>();
        foreach (var n in nodes) if (n.Name != node.Name) targets.Add(n.Address.Address);
        // A static neighbour entry would send its packets to a MAC the client finds by ARP.
        foreach (var n in hostPlan.Neighbors)
            if (targets.Contains(n.Address)) return "its host has a static neighbour entry for another node";
        return new FirewallCheck(host, hostPlan, address, targets, underlay.Name).Refusal();
    }

    /// <summary>The route to every other node: on-link through one underlay device, from <paramref name="address"/>.</summary>
    private static bool RoutesLikeAClient(NamespaceRuntime ns, Ipv4Address address, IReadOnlyList<NodeModel> nodes, string? self, out DeviceRuntime device, out string why)
    {
        device = null!;
        why = "";
        foreach (var n in nodes)
        {
            if (n.Name == self) continue;
            var to = n.Address.Address;
            if (ns.IsLocal(to) || !PacketWalker.LookupRoute(ns, to, out var route, out var dev, out var nexthop)) { why = "no route to " + n.Name; return false; }
            if (route.Gateway is not null || nexthop != to) { why = "it reaches " + n.Name + " through a gateway"; return false; }
            if (PacketWalker.SelectSource(ns, route, dev, nexthop) != address) { why = "it sends to " + n.Name + " from another address"; return false; }
            if (!dev.OnUnderlay || dev.Master >= 0) { why = "its route to " + n.Name + " is not the underlay"; return false; }
            if (device is null) device = dev;
            else if (!ReferenceEquals(device, dev)) { why = "it reaches the nodes through different devices"; return false; }
        }
        if (device is null) { why = "no other node"; return false; }
        return true;
    }

    /// <summary>What the whole plan says about addresses and MACs, gathered once.</summary>
    private sealed class PlanFacts
    {
        /// <summary>Every prefix a rule matches, a route covers or an address's subnet spans.</summary>
        public HashSet<Ipv4Cidr> Prefixes { get; } = new();

        /// <summary>
        /// Of the addresses asked about, those namespaces own (local, broadcast), route or neighbour to, or that NAT and
        /// balancers send to: by namespace.
        /// </summary>
        public Dictionary<uint, List<int>> OwnedAddresses { get; } = new();

        /// <summary>Of the MACs asked about, those static neighbour and FDB entries name.</summary>
        public HashSet<MacAddress> Macs { get; } = new();

        private HashSet<uint> _addresses = null!;
        private HashSet<MacAddress> _macs = null!;

        /// <summary>
        /// A port constant of the plan among the ephemeral ports (a rule's range that splits them, a listener, a NAT or
        /// balancer port, the data path port): then the ports a node's and the client's probes take could be told apart.
        /// </summary>
        public string? EphemeralPort { get; private set; }

        /// <summary>Whether any rule has a statistic match (its counters and random draws carry from one packet to the next).</summary>
        public bool HasStatistic { get; private set; }

        private void Port(int port, string what)
        {
            if (port >= VxlanCodec.LocalPortRangeMin && port <= VxlanCodec.LocalPortRangeMax)
                EphemeralPort ??= what + " " + port.ToString(System.Globalization.CultureInfo.InvariantCulture) + " is among the ephemeral ports";
        }

        public static PlanFacts Of(DataplanePlan plan, HashSet<uint> addresses, HashSet<MacAddress> macs)
        {
            var facts = new PlanFacts { _addresses = addresses, _macs = macs };
            facts.Port(plan.Underlay.DataPathPort, "the data path port");
            var rules = new HashSet<NetfilterRule>(ReferenceComparer<NetfilterRule>.Instance);
            // The plan's port constants as reach's classes see them (PortAtoms: rule ports, NAT, IPVS, listener ports).
            // Only whether one starts strictly inside the ephemeral range (which it would split) matters.
            var starts = new PortAtoms.LowestWithin(VxlanCodec.LocalPortRangeMin, VxlanCodec.LocalPortRangeMax);
            int index = 0; // namespace indexes as the cluster numbers plan namespaces: hosts in order, namespaces in order
            foreach (var host in plan.Hosts)
            {
                // The cluster's host namespace of a node: its first namespace of kind Host.
                int hostIndex = index;
                for (int k = 0; k < host.Namespaces.Count; k++)
                    if (host.Namespaces[k].Kind == NamespaceKind.Host) { hostIndex = index + k; break; }
                facts.Own(host.UnderlayAddress.Address, hostIndex);
                facts.Prefixes.Add(host.UnderlayAddress.Subnet);
                foreach (var ns in host.Namespaces)
                {
                    foreach (var a in ns.Addresses)
                    {
                        facts.Own(a.Address.Address, index);
                        if (a.Address.PrefixLength < 31) facts.Own(a.Address.Broadcast, index);
                        facts.Prefixes.Add(a.Address.Subnet);
                    }
                    foreach (var r in ns.Routes)
                    {
                        facts.Prefixes.Add(r.Destination.Subnet);
                        if (r.Gateway is { } g) facts.Own(g, index);
                        if (r.PreferredSource is { } s) facts.Own(s, index);
                    }
                    foreach (var n in ns.Neighbors) { facts.Own(n.Address, index); facts.Mac(n.Mac); }
                    foreach (var f in ns.Fdb) facts.Mac(f.Mac);
                    foreach (var s in ns.Ipvs)
                    {
                        facts.Own(s.Vip, index);
                        foreach (var d in s.Destinations) facts.Own(d.Address, index);
                    }
                    foreach (var d in ns.Devices) if (d.Vxlan is { } vx) facts.Port(vx.DstPort, "a VXLAN port");
                    PortAtoms.CollectAllButRules(ns, starts);
                    foreach (var b in ns.NftLoadBalancers)
                    {
                        facts.Own(b.Vip, index);
                        foreach (var a in b.Slots) facts.Own(a, index);
                        if (b.SnatSource is { } s) facts.Own(s, index);
                        if (b.SnatSubnet is { } net) facts.Prefixes.Add(net.Subnet);
                    }
                    foreach (var t in ns.Tables)
                        foreach (var c in t.Chains)
                            foreach (var r in c.Rules)
                            {
                                // A translation belongs to every namespace holding the rule (lowering shares rules); matches
                                // are the same wherever the rule is, so each rule's are read once.
                                switch (r.Target)
                                {
                                    case DnatTarget d: facts.Own(d.Address, index); break;
                                    case SnatTarget s: facts.Own(s.Address, index); break;
                                }
                                if (!rules.Add(r)) continue;
                                PortAtoms.CollectRule(r, starts);
                                foreach (var m in r.Matches)
                                    if (m is AddressMatch am) facts.Prefixes.Add(am.Prefix.Subnet);
                                    else if (m is StatisticMatch) facts.HasStatistic = true;
                            }
                    index++;
                }
            }
            if (starts.Lowest is int inside) facts.EphemeralPort ??= "a port constant of the plan splits the ephemeral ports at " + inside.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return facts;
        }

        private void Own(Ipv4Address a, int ns)
        {
            if (!_addresses.Contains(a.Value)) return;
            if (!OwnedAddresses.TryGetValue(a.Value, out var list)) OwnedAddresses[a.Value] = list = new List<int>(1);
            list.Add(ns);
        }

        private void Mac(MacAddress mac)
        {
            if (_macs.Contains(mac)) Macs.Add(mac);
        }
    }

    /// <summary>
    /// Whether every rule a node's own request to another node, or anything coming back to it, can meet in its host is
    /// inert (a match is false for every such packet) or harmless (ACCEPT with ACCEPT policies, RETURN, LOG, TRACE, or a
    /// jump to a chain whose rules are), evaluated in three values over what is known of those packets.
    /// </summary>
    private sealed class FirewallCheck
    {
        private enum Tri : byte { False, True, Unknown }

        private readonly NamespaceRuntime _ns;
        private readonly Dictionary<string, NetfilterTable> _tables = new(StringComparer.Ordinal);
        private readonly Ipv4Address _self;
        private readonly IReadOnlyList<Ipv4Address> _targets;
        private readonly string _underlay;
        private readonly HashSet<NetfilterChain> _visiting = new(ReferenceComparer<NetfilterChain>.Instance);

        // The packet being judged.
        private bool _request;
        private IpProtocol? _protocol;

        public FirewallCheck(NamespaceRuntime ns, NamespacePlan plan, Ipv4Address self, IReadOnlyList<Ipv4Address> targets, string underlay)
        {
            _ns = ns;
            foreach (var t in plan.Tables) _tables[t.Name] = t;
            _self = self;
            _targets = targets;
            _underlay = underlay;
        }

        private static readonly (string Table, string Chain)[] RequestHooks =
            { ("raw", "OUTPUT"), ("mangle", "OUTPUT"), ("nat", "OUTPUT"), ("filter", "OUTPUT"), ("mangle", "POSTROUTING"), ("nat", "POSTROUTING") };

        private static readonly (string Table, string Chain)[] ReplyHooks =
            { ("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("nat", "PREROUTING"), ("mangle", "INPUT"), ("filter", "INPUT"), ("nat", "INPUT") };

        public string? Refusal()
        {
            foreach (var name in _tables.Keys)
                if (name is not ("raw" or "mangle" or "nat" or "filter")) return "its host has a " + name + " table";
            foreach (var proto in ReachAnalysis.Protocols)
            {
                _request = true;
                _protocol = proto;
                foreach (var (table, chain) in RequestHooks)
                    if (Hook(table, chain) is { } why) return why + " (its " + proto.Name() + " requests)";
            }
            // Replies, RSTs and ICMP errors: any protocol, from anywhere, to its address and an ephemeral port.
            _request = false;
            _protocol = null;
            foreach (var (table, chain) in ReplyHooks)
                if (Hook(table, chain) is { } why) return why + " (what comes back)";
            return null;
        }

        private string? Hook(string table, string chain)
        {
            if (!_tables.TryGetValue(table, out var t)) return null;
            var c = Find(t, chain);
            if (c is null) return null;
            if (c.Policy is Verdict.Drop) return "its host's " + table + " " + chain + " policy is DROP";
            return Chain(t, c, 0);
        }

        private static NetfilterChain? Find(NetfilterTable t, string name)
        {
            foreach (var c in t.Chains) if (c.Name == name) return c;
            return null;
        }

        private string? Chain(NetfilterTable t, NetfilterChain c, int depth)
        {
            // The walker drops a packet that loops or nests jumps deeper than its stack (DropCause.ChainLoop): not harmless.
            if (depth >= PacketWalker.MaxChainDepth) return "its host's " + t.Name + " chains nest deeper than " + PacketWalker.MaxChainDepth.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!_visiting.Add(c)) return "its host's " + t.Name + " " + c.Name + " jumps back into itself";
            try
            {
                for (int i = 0; i < c.Rules.Count; i++)
                {
                    var r = c.Rules[i];
                    bool inert = false;
                    foreach (var m in r.Matches)
                    {
                        if (m is StatisticMatch) return "its host's " + t.Name + " " + c.Name + " has a statistic match";
                        var v = Match(m);
                        if (m.Negated && v != Tri.Unknown) v = v == Tri.True ? Tri.False : Tri.True;
                        if (v == Tri.False) { inert = true; break; }
                    }
                    if (inert) continue;
                    switch (r.Target)
                    {
                        case AcceptTarget or ReturnTarget or LogTarget or TraceTarget:
                            break;
                        case JumpTarget j when Find(t, j.Chain) is { } jumped:
                            if (Chain(t, jumped, depth + 1) is { } inJump) return inJump;
                            break;
                        case GotoTarget g when Find(t, g.Chain) is { } gone:
                            if (Chain(t, gone, depth + 1) is { } inGoto) return inGoto;
                            break;
                        default:
                            return "rule " + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + " of its host's " + t.Name + " " + c.Name
                                + " (" + r.Origin + ") may act on them";
                    }
                }
                return null;
            }
            finally { _visiting.Remove(c); }
        }

        private static bool InEphemeral(int from, int to) => from <= VxlanCodec.LocalPortRangeMax && to >= VxlanCodec.LocalPortRangeMin;

        private Tri Match(RuleMatch m)
        {
            switch (m)
            {
                case ProtocolMatch p:
                    return _protocol is { } known ? (known == p.Protocol ? Tri.True : Tri.False) : Tri.Unknown;
                case AddressMatch a:
                    if (a.Direction == Direction.Source ? _request : !_request) return a.Prefix.Contains(_self) ? Tri.True : Tri.False;
                    if (!_request) return a.Prefix.PrefixLength == 0 ? Tri.True : Tri.Unknown; // replies and errors may come from anywhere
                    return All(_targets, x => a.Prefix.Contains(x));
                case InterfaceMatch i:
                    // Requests leave through the underlay and enter nowhere; what comes back enters through it.
                    if (i.Input == !_request) return Name(i.Interface, _underlay);
                    return Tri.Unknown;
                case PortMatch p:
                    if (_protocol is { } proto && proto != p.Protocol) return Tri.False;
                    if (_protocol == IpProtocol.Icmp) return Tri.False;
                    // The ephemeral side: the request's source port, the reply's destination port.
                    if ((p.Direction == Direction.Source) == _request) return InEphemeral(p.From, p.To) ? Tri.Unknown : Tri.False;
                    return Tri.Unknown;
                case MultiportMatch mp:
                    if (_protocol == IpProtocol.Icmp) return Tri.False;
                    if ((mp.Direction == Direction.Source) == _request)
                    {
                        foreach (var port in mp.Ports) if (InEphemeral(port, port)) return Tri.Unknown;
                        return Tri.False;
                    }
                    return Tri.Unknown;
                case AddrTypeMatch t:
                    if (t.Direction == Direction.Source ? _request : !_request) return PacketWalker.AddressTypeOf(_ns, _self) == t.Type ? Tri.True : Tri.False;
                    if (!_request) return Tri.Unknown;
                    return All(_targets, x => PacketWalker.AddressTypeOf(_ns, x) == t.Type);
                case MarkMatch mk:
                    // A packet this host makes starts unmarked, and no rule here may mark it (MARK is not harmless).
                    return _request ? ((0u & mk.Mask) == mk.Value ? Tri.True : Tri.False) : Tri.Unknown;
                case IpvsMatch:
                    return _request ? Tri.False : Tri.Unknown;
                case IcmpTypeMatch it:
                    if (_protocol is { } pr) return pr == IpProtocol.Icmp && it.Type == IcmpTypes.EchoRequest ? Tri.True : Tri.False;
                    return Tri.Unknown;
                default:
                    return Tri.Unknown; // conntrack state (NEW, then ESTABLISHED for the handshake's ACK) and anything else
            }
        }

        private static Tri Name(string pattern, string name)
        {
            bool match = pattern.EndsWith("+", StringComparison.Ordinal)
                ? name.StartsWith(pattern.Substring(0, pattern.Length - 1), StringComparison.Ordinal)
                : name == pattern;
            return match ? Tri.True : Tri.False;
        }

        private static Tri All(IReadOnlyList<Ipv4Address> xs, Func<Ipv4Address, bool> test)
        {
            bool any = false, all = true;
            foreach (var x in xs) { if (test(x)) any = true; else all = false; }
            return all ? Tri.True : any ? Tri.Unknown : Tri.False;
        }
    }
}
