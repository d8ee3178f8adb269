using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

internal sealed partial class PacketWalker
{
    internal struct SegmentNode
    {
        public int Ns, Dev, Parent;
        public bool Transmit;
    }

    private readonly List<SegmentNode> _segment;
    private int _segmentSearch;

    /// <summary>
    /// Explores the L2 segment a device transmits into — veth peers, bridge ports and the bridge device, the underlay,
    /// VXLAN devices (which answer ARP from their neighbour table when <c>proxy</c> is on, and reach remote MACs through
    /// their FDB) — breadth first in device order. ARP mode looks for whoever answers for <paramref name="ip"/> (any
    /// local address: <c>arp_ignore=0</c>); MAC mode looks for the owner of <paramref name="mac"/>.
    /// </summary>
    private int SearchSegment(int startNs, int startDev, bool byMac, Ipv4Address ip, MacAddress mac, out MacAddress answer) =>
        SearchSegment(startNs, startDev, byMac, ip, mac, Ipv4Address.Any, out answer);

    private int SearchSegment(int startNs, int startDev, bool byMac, Ipv4Address ip, MacAddress mac, Ipv4Address sender, out MacAddress answer)
    {
        _segment.Clear();
        _segmentSearch = _c.NextSegmentSearch();
        answer = default;
        AddSegment(startNs, startDev, true, -1);
        for (int i = 0; i < _segment.Count; i++)
        {
            var node = _segment[i];
            var ns = _c[node.Ns];
            var d = ns.Devices[node.Dev];
            if (node.Transmit)
            {
                switch (d.Kind)
                {
                    case DeviceKind.Veth:
                        if (d.PeerNamespace >= 0) AddSegment(d.PeerNamespace, d.PeerDevice, false, i);
                        break;
                    case DeviceKind.Bridge:
                        foreach (var p in d.Ports) AddSegment(node.Ns, p, true, i);
                        break;
                    case DeviceKind.Vxlan:
                        if (byMac)
                        {
                            if (d.VxlanFdb!.TryLookup(mac, _c.NowMilliseconds, out _)) { answer = mac; return i; }
                        }
                        else if (d.Plan?.Vxlan?.Proxy == true && ns.TryGetNeighbor(new NeighborKey(d.Index, ip), out var n))
                        {
                            answer = n.Mac;
                            return i;
                        }
                        break;
                    case DeviceKind.Physical:
                        if (d.OnUnderlay)
                            foreach (var (mns, mdev) in _c.Underlay)
                                if (mns != node.Ns || mdev != node.Dev) AddSegment(mns, mdev, false, i);
                        break;
                }
                continue;
            }
            if (d.Master >= 0)
            {
                var br = ns.Devices[d.Master];
                foreach (var p in br.Ports) if (p != d.Index) AddSegment(node.Ns, p, true, i);
                AddSegment(node.Ns, br.Index, false, i);
                continue;
            }
            if (byMac ? d.Mac == mac : (d.Kind != DeviceKind.Loopback && !ip.IsLoopback && AnswersArp(ns, d, ip, sender)))
            {
                answer = d.Mac;
                return i;
            }
        }
        return -1;
    }

    private static bool OnDevice(DeviceRuntime d, Ipv4Address ip)
    {
        foreach (var a in d.Addresses) if (a.Address == ip) return true;
        return false;
    }

    /// <summary>
    /// Whether device <paramref name="d"/> answers an ARP request for <paramref name="target"/> from <paramref name="sender"/>,
    /// as the kernel's <c>arp_ignore()</c> decides by the larger of <c>conf.all</c> and the device's value: 0 (and the
    /// reserved 4–7, and above 8) any local address; 1 an address on the device; 2 an address on the device whose subnet
    /// holds the sender; 3 any local address that is not host-scoped (the only host-scoped ones here are 127/8, which
    /// never get this far); 8 none.
    /// </summary>
    private static bool AnswersArp(NamespaceRuntime ns, DeviceRuntime d, Ipv4Address target, Ipv4Address sender)
    {
        switch (d.ArpIgnore)
        {
            case 1: return OnDevice(d, target);
            case 2:
                foreach (var a in d.Addresses) if (a.Address == target && a.Contains(sender)) return true;
                return false;
            case 8: return false;
            default: return ns.IsLocal(target);
        }
    }

    private void AddSegment(int ns, int dev, bool transmit, int parent)
    {
        var d = _c[ns].Devices[dev];
        if (transmit)
        {
            if (d.SegmentSeenTransmit == _segmentSearch) return;
            d.SegmentSeenTransmit = _segmentSearch;
        }
        else
        {
            if (d.SegmentSeenReceive == _segmentSearch) return;
            d.SegmentSeenReceive = _segmentSearch;
        }
        _segment.Add(new SegmentNode { Ns = ns, Dev = dev, Transmit = transmit, Parent = parent });
    }

    /// <summary>
    /// ARP, simulated as its effects: the request floods the segment, the owner (or a VXLAN proxy) answers, every bridge
    /// on the way learns the requester's MAC on the port the request came in and the answerer's on the port the answer
    /// came in, and the answerer caches the requester (arp_process).
    /// </summary>
    private bool Arp(NamespaceRuntime ns, DeviceRuntime dev, Ipv4Address target, out MacAddress mac, out string answeredBy, out SourceSpan span)
    {
        answeredBy = "";
        span = SourceSpan.None;
        // arp_solicit: the packet's source when arp_announce is 0 and it is local, else the device's best address for the target.
        var senderIp = dev.ArpAnnounce == 0 && ns.IsLocal(_p.Headers.Source) ? _p.Headers.Source : Ipv4Address.Any;
        if (senderIp == Ipv4Address.Any)
            foreach (var a in dev.Addresses) if (a.PrefixLength < 32 && a.Contains(target)) { senderIp = a.Address; break; }
        if (senderIp == Ipv4Address.Any && dev.Addresses.Length > 0) senderIp = dev.Addresses[0].Address;
        int found = SearchSegment(ns.Index, dev.Index, false, target, default, senderIp, out mac);
        if (found < 0) return false;
        var requester = dev.Mac;
        long now = _c.NowMilliseconds;
        for (int j = found; j >= 0; j = _segment[j].Parent)
        {
            var node = _segment[j];
            var d = _c[node.Ns].Devices[node.Dev];
            if (d.Master < 0) continue;
            var fdb = _c[node.Ns].Devices[d.Master].Fdb!;
            _c.Touch(_c[node.Ns]);
            if (node.Transmit) fdb.Learn(mac, d.Index, now);
            else fdb.Learn(requester, d.Index, now);
        }
        var hit = _segment[found];
        var hitNs = _c[hit.Ns];
        _c.Touch(hitNs);
        var hitDev = hitNs.Devices[hit.Dev];
        if (hit.Transmit)
        {
            // A VXLAN proxy answered from its neighbour table.
            hitNs.TryGetNeighbor(new NeighborKey(hitDev.Index, target), out var n); // the entry that made it answer
            answeredBy = hitNs.QualifiedName + " " + hitDev.Name + " (proxy, permanent neighbour entry)";
            span = n.Span;
            return true;
        }
        answeredBy = hitNs.QualifiedName + " " + hitDev.Name;
        span = hitDev.Span;
        if (senderIp != Ipv4Address.Any)
            hitNs.LearnNeighbor(new NeighborKey(hitDev.Index, senderIp), new NeighborEntry(requester, false, ns.QualifiedName + " " + dev.Name, dev.Span));
        return true;
    }

    /// <summary>For a flooded frame: the first port (in order) whose side of the segment holds the destination MAC.</summary>
    private int FindPortToward(NamespaceRuntime ns, DeviceRuntime br, int ingressPort, MacAddress mac)
    {
        foreach (var p in br.Ports)
        {
            if (p == ingressPort) continue;
            // A veth whose peer is a plain device (no bridge behind it): its side of the segment is that device alone, and
            // the search would only compare its MAC. Containers' ports are these, and an overlay bridge floods past dozens.
            var port = ns.Devices[p];
            if (port.PeerPlainMac is MacAddress plain)
            {
                if (plain == mac) return p;
                continue;
            }
            if (port.Kind == DeviceKind.Veth && port.PeerNamespace >= 0)
            {
                var peer = _c[port.PeerNamespace].Devices[port.PeerDevice];
                if (peer.Master < 0 && peer.Kind != DeviceKind.Bridge)
                {
                    if (peer.Mac == mac) return p;
                    continue;
                }
            }
            if (SearchSegment(ns.Index, p, true, default, mac, out _) >= 0) return p;
        }
        return -1;
    }
}

/// <summary>The walker's working buffers (see <see cref="Cluster.Scratch"/>).</summary>
internal sealed class WalkerScratch
{
    /// <summary>Where the current walk has been (loop detection).</summary>
    public readonly ulong[] Visits = new ulong[PacketWalker.MaxVisits];

    /// <summary>The netfilter jump stack: chains.</summary>
    public readonly int[] StackChain = new int[PacketWalker.MaxChainDepth];

    /// <summary>The netfilter jump stack: the rule to return to.</summary>
    public readonly int[] StackRule = new int[PacketWalker.MaxChainDepth];

    /// <summary>The breadth-first queue of an L2 segment search.</summary>
    public readonly List<PacketWalker.SegmentNode> Segment = new();
}
