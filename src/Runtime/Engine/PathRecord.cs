using System.Collections.Generic;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Runtime.Engine;

/// <summary>
/// What an untraced walk went through, for analyses that need a walk's decisions but not its story (<c>reach</c> sends
/// tens of thousands of probes): the namespaces it entered, the plan chains it entered (base chains of the hooks it passed,
/// jump and goto targets; every chain of a table whose control flow is compiled), and, when it failed, the rule or policy
/// that discarded it and the drop itself — the same steps a trace would hold, and nothing else. What the packet's own
/// headers went through is kept apart from what a VXLAN datagram carrying it went through (<see cref="Tunnel"/>): there
/// the packet's ports are payload, and only the outer UDP header is matched.
/// </summary>
internal sealed class PathRecord
{
    /// <summary>Namespaces the packet entered with its own headers, in order (a namespace entered twice is listed twice).</summary>
    public List<int> Namespaces { get; } = new();

    /// <summary>Plan chains its own headers entered, in order, with repeats.</summary>
    public List<NetfilterChain> Chains { get; } = new();

    /// <summary>Where the packet went as the payload of a VXLAN datagram (the hosts between the two VTEPs).</summary>
    public PathRecord.Encapsulated Tunnel { get; } = new();

    /// <summary>Namespaces and chains a VXLAN datagram carrying the packet entered.</summary>
    public sealed class Encapsulated
    {
        /// <summary>Namespaces entered, in order, with repeats.</summary>
        public List<int> Namespaces { get; } = new();

        /// <summary>Plan chains entered, in order, with repeats.</summary>
        public List<NetfilterChain> Chains { get; } = new();

        /// <summary>Whether the walk ended inside a VXLAN datagram (at a host, before decapsulation).</summary>
        public bool Ended { get; set; }
    }

    /// <summary>The DROP or REJECT rule, or DROP policy, that discarded the packet (as a trace's step would say).</summary>
    public NetfilterStep? Discard { get; set; }

    /// <summary>The drop that ended the walk, if one did.</summary>
    public DropStep? Drop { get; set; }

    /// <summary>How the walk ended (<see cref="Simulation.DispositionOf"/> makes it a trace's disposition).</summary>
    public Outcome Outcome { get; set; }

    /// <summary>Whether a load balancer picked a backend by hashing the packet's source address (IPVS sh, nftables jhash ip saddr).</summary>
    public bool HashedSource => SourceHashed.Count > 0;

    /// <summary>
    /// Each pick by the source address: the balancer (<see cref="BalancerKey"/>) and the address it hashed, so that the
    /// pick another source would get can be told without walking (<see cref="Simulation.PeekSourceHash"/>).
    /// </summary>
    public List<(long Balancer, SwarmDsl.Net.Ipv4Address Source)> SourceHashed { get; } = new();

    /// <summary>
    /// Each pick by the destination address (IPVS dh, nftables jhash ip daddr): the balancer and the address it hashed, so
    /// that a walk toward another node can be told to meet the same pick (the same balancer hashing the same address).
    /// </summary>
    public List<(long Balancer, SwarmDsl.Net.Ipv4Address Destination)> DestinationHashed { get; } = new();

    /// <summary>
    /// The load balancers that picked a backend for a new connection (IPVS services and nftables balancers, as
    /// <see cref="BalancerKey"/>s): their state (round-robin position, connection counts, <c>numgen</c> counter) carries
    /// from one connection to the next.
    /// </summary>
    public List<long> Balancers { get; } = new();

    /// <summary>
    /// What each of those balancers picked, in the order they picked: the balancer and the destination (an IPVS service's
    /// real server, an nftables map slot; -1 when there was none to pick).
    /// </summary>
    public List<(long Balancer, int Destination)> Picks { get; } = new();

    /// <summary>The key of namespace <paramref name="ns"/>'s IPVS service (<paramref name="nft"/> false) or nftables balancer at <paramref name="index"/>.</summary>
    public static long BalancerKey(int ns, int index, bool nft) => ((long)ns << 32) | ((long)index << 1) | (nft ? 1L : 0L);

    /// <summary>The namespace, index and kind a <see cref="BalancerKey"/> stands for.</summary>
    public static (int Ns, int Index, bool Nft) OfBalancerKey(long key) => ((int)(key >> 32), (int)((key & 0xFFFFFFFFL) >> 1), (key & 1) != 0);

    /// <summary>
    /// Whether to note the lookup keys below (<c>reach</c>'s reference sweep toward a node, whose classes other nodes may
    /// take: <see cref="Insight.NodeDestinationSharing"/>).
    /// </summary>
    public bool NotesKeys { get; set; }

    /// <summary>
    /// With <see cref="NotesKeys"/>: every IPv4 address the walk looked anything up by or carried (the headers, inner and
    /// outer, wherever a namespace received or routed the packet; next hops; remote VTEPs), with repeats.
    /// </summary>
    public List<uint> Addresses { get; } = new();

    /// <summary>With <see cref="NotesKeys"/>: every MAC the walk's frames carried (inner and outer), with repeats.</summary>
    public List<ulong> Macs { get; } = new();

    /// <summary>Whether a walk was recorded since the last <see cref="Clear"/> (then <see cref="Outcome"/> says where it ended).</summary>
    public bool Walked { get; set; }

    /// <summary>Empties the record for the next walk.</summary>
    public void Clear()
    {
        Namespaces.Clear();
        Chains.Clear();
        Tunnel.Namespaces.Clear();
        Tunnel.Chains.Clear();
        Tunnel.Ended = false;
        Discard = null;
        Drop = null;
        Outcome = default;
        SourceHashed.Clear();
        DestinationHashed.Clear();
        Balancers.Clear();
        Picks.Clear();
        Addresses.Clear();
        Macs.Clear();
        Walked = false;
    }
}
