using System;
using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

/// <summary>What the engine answers on behalf of the kernel after a drop or a delivery.</summary>
internal enum ReplyKind : byte { None, TcpReset, PortUnreachable, FragmentationNeeded, TimeExceeded, AdminProhibited }

/// <summary>The end of a walk, without allocation.</summary>
internal struct Outcome
{
    public DispositionKind Kind;
    public DropCause Cause;
    public int Namespace;
    public int Device;
    public int SocketKey;
    public bool ClientSocket;
    public ReplyKind Reply;
    public PacketHeaders Final;
    public int Mtu;
    public int InDevice;
    public string? Detail;
}

/// <summary>
/// Walks one packet through the namespaces of a <see cref="Cluster"/> the way the kernel would: devices, bridges,
/// veth pairs, VXLAN, the netfilter hooks in priority order, conntrack and NAT, IPVS, routing and neighbour resolution.
/// One instance is reused for every packet; with tracing off a walk allocates nothing.
/// </summary>
internal sealed partial class PacketWalker
{
    private enum Next : byte { Done, Receive, Transmit, LocalOut }

    internal const int MaxVisits = 256;
    // nf_tables' jump stack (NFT_JUMP_STACK_SIZE 16): nft_do_chain drops a packet whose jump finds the stack full. Tables
    // never get there (nft_chain_validate refuses chains 16 levels deep, and lowering refuses them first); this guards
    // plans made some other way, as the kernel does.
    internal const int MaxChainDepth = 16;
    private static readonly Ipv4Address Localhost = Ipv4Address.FromBytes(127, 0, 0, 1);

    private readonly Cluster _c;
    private TraceRecorder? _trace;

    /// <summary>When set, untraced walks note the namespaces and chains they enter and what discarded them.</summary>
    internal PathRecord? Record { get; set; }
    private Packet _p;
    private Outcome _outcome;
    private Next _next;
    private int _nextNs, _nextDev;
    private int _ns = -1;
    private int _ct = -1;
    private CtDirection _ctDir;
    private CtInfo _ctInfo;
    private bool _ctAttached;
    // The connection of the last packet dropped with an answer (ICMP error, REJECT's RST), kept for that answer:
    // icmp_send → icmp_glue_bits → nf_ct_attach (nf_send_reset likewise) hands it to the new skb, even when unconfirmed.
    private int _droppedNs = -1, _droppedCt = -1;
    private CtDirection _droppedDir;
    private int _inDev = -1, _outDev = -1;
    private Ipv4Address _nexthop;
    private readonly ulong[] _visits;
    private int _visitCount;
    private uint _rng;
    private int _fragmentMtu = int.MaxValue;

    /// <summary>The largest piece on the wire: the packet, or its fragments once it was fragmented (carried whole, reassembly not modelled).</summary>
    private int WireLength => _p.Headers.TotalLength < _fragmentMtu ? _p.Headers.TotalLength : _fragmentMtu;

    /// <summary>The frame's length on the wire: the outer frame when encapsulated (its payload already counts the inner frame).</summary>
    private int WireFrameLength => _p.Headers.FrameLength;

    private void CountReceived(DeviceRuntime dev)
    {
        dev.RxPackets++;
        dev.RxBytes += WireFrameLength;
    }

    public PacketWalker(Cluster cluster)
    {
        _c = cluster;
        _visits = cluster.Scratch.Visits;
        _stackChain = cluster.Scratch.StackChain;
        _stackRule = cluster.Scratch.StackRule;
        _segment = cluster.Scratch.Segment;
        _rng = cluster.Seed * 2654435761u + 0x9E3779B9u;
        if (_rng == 0) _rng = 1;
    }

    public ref Packet Packet => ref _p;

    /// <summary>Sends <paramref name="packet"/> from a socket in namespace <paramref name="ns"/> (ip_local_out).</summary>
    public Outcome SendFromSocket(int ns, in Packet packet, TraceRecorder? trace) => SendFromSocket(ns, packet, trace, answersDrop: false);

    /// <summary>
    /// Sends <paramref name="packet"/> from namespace <paramref name="ns"/>; with <paramref name="answersDrop"/> it is the kernel's
    /// answer (ICMP error, REJECT's RST) to the packet the previous walk dropped there, and carries that packet's connection.
    /// </summary>
    public Outcome SendFromSocket(int ns, in Packet packet, TraceRecorder? trace, bool answersDrop)
    {
        int attach = -1;
        var dir = CtDirection.Original;
        if (answersDrop && _droppedNs == ns)
        {
            attach = _droppedCt;
            dir = _droppedDir;
            _droppedNs = _droppedCt = -1;
        }
        Begin(packet, trace);
        CrossInto(ns);
        if (attach >= 0 && _c[ns].Conntrack[attach].InUse)
        {
            // nf_conntrack_attach: the answer travels against the dropped packet, so an original-direction connection
            // makes it IP_CT_RELATED_REPLY (and a reply-direction one IP_CT_RELATED).
            _ct = attach;
            _ctDir = dir == CtDirection.Original ? CtDirection.Reply : CtDirection.Original;
            _ctInfo = _ctDir == CtDirection.Reply ? CtInfo.RelatedReply : CtInfo.Related;
            _ctAttached = true;
        }
        _next = Next.LocalOut;
        _nextNs = ns;
        return Run();
    }

    /// <summary>
    /// Forgets the connection kept for the answer to the last dropped packet (no answer is sent): unconfirmed, it dies with the
    /// dropped skb, as in the kernel.
    /// </summary>
    public void ReleaseDropped()
    {
        if (_droppedNs >= 0)
        {
            var table = _c[_droppedNs].Conntrack;
            if (table[_droppedCt].InUse && !table[_droppedCt].Confirmed) table.Destroy(_droppedCt);
        }
        _droppedNs = _droppedCt = -1;
    }

    /// <summary>Injects a frame as received on a device (tests and generated code use it).</summary>
    public Outcome ReceiveFrame(int ns, int device, in Packet packet, TraceRecorder? trace)
    {
        Begin(packet, trace);
        CrossInto(ns);
        _next = Next.Receive;
        _nextNs = ns;
        _nextDev = device;
        return Run();
    }

    private void Begin(in Packet packet, TraceRecorder? trace)
    {
        ReleaseDropped();
        _p = packet;
        _trace = trace;
        _outcome = default;
        _visitCount = 0;
        _ns = -1;
        _fragmentMtu = int.MaxValue;
    }

    private Outcome Run()
    {
        while (_next != Next.Done)
        {
            var n = _next;
            _next = Next.Done;
            switch (n)
            {
                case Next.Receive: DoReceive(_nextNs, _nextDev); break;
                case Next.Transmit: DoTransmit(_nextNs, _nextDev); break;
                case Next.LocalOut: DoLocalOut(_nextNs); break;
            }
        }
        _outcome.Final = _p.Headers;
        if (Record != null) Record.Tunnel.Ended = _p.Encapsulated;
        if (_ct >= 0 && _outcome.Kind == DispositionKind.Dropped && _outcome.Reply != ReplyKind.None)
        {
            // Kept (unconfirmed or not) for the answer the kernel sends about this packet.
            _droppedNs = _ns;
            _droppedCt = _ct;
            _droppedDir = _ctDir;
            _ct = -1;
        }
        else if (_ct >= 0) DropUnconfirmed();
        return _outcome;
    }

    // ───────────────────────────── namespaces and loops ─────────────────────────────

    /// <summary>Enters a namespace: the skb is scrubbed (<c>skb_scrub_packet</c> with xnet: mark and conntrack reference cleared).</summary>
    private void CrossInto(int ns)
    {
        if (_ct >= 0 && _ns >= 0) DropUnconfirmed();
        _ns = ns;
        _c.Touch(_c[ns]);
        _ct = -1;
        _ctInfo = CtInfo.None;
        _ctAttached = false;
        _p.Mark = 0;
        _p.IpvsProperty = false;
        _p.IngressDevice = -1;
        _trace?.Enter(_c[ns]);
        if (Record != null) (_p.Encapsulated ? Record.Tunnel.Namespaces : Record.Namespaces).Add(ns);
        NoteKeys();
    }

    /// <summary>Notes the packet's addresses and MACs (inner and outer) for a record that keeps lookup keys.</summary>
    private void NoteKeys()
    {
        if (Record is not { NotesKeys: true } r) return;
        ref var h = ref _p.Headers;
        r.Addresses.Add(h.Source.Value);
        r.Addresses.Add(h.Destination.Value);
        r.Macs.Add(h.EthSource.Value);
        r.Macs.Add(h.EthDestination.Value);
        if (!_p.Encapsulated) return;
        r.Addresses.Add(_p.Inner.Source.Value);
        r.Addresses.Add(_p.Inner.Destination.Value);
        r.Macs.Add(_p.Inner.EthSource.Value);
        r.Macs.Add(_p.Inner.EthDestination.Value);
    }

    /// <summary>Notes one address something was looked up by (a next hop, a real server, a remote VTEP).</summary>
    private void NoteKey(Ipv4Address address)
    {
        if (Record is { NotesKeys: true } r) r.Addresses.Add(address.Value);
    }

    /// <summary>Notes a chain entered, apart when a VXLAN datagram (not the packet's own headers) entered it.</summary>
    private void RecordChain(NetfilterChain chain) => (_p.Encapsulated ? Record!.Tunnel.Chains : Record!.Chains).Add(chain);

    private void DropUnconfirmed()
    {
        var table = _c[_ns].Conntrack;
        if (_ct >= 0 && table[_ct].InUse && !table[_ct].Confirmed) table.Destroy(_ct);
        _ct = -1;
    }

    private bool Visit(int ns, int dev)
    {
        ref var h = ref _p.Headers;
        ulong f = (ulong)(uint)ns * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)dev * 0xC2B2AE3D27D4EB4FUL;
        f ^= ((ulong)h.Source.Value << 32 | h.Destination.Value) * 0x165667B19E3779F9UL;
        f ^= ((ulong)h.SourcePort << 40 | (ulong)h.DestinationPort << 24 | (ulong)h.Flags << 16 | (ulong)(byte)h.Protocol << 8 | h.IcmpType) * 0x27D4EB2F165667C5UL;
        if (_p.Encapsulated) f ^= ((ulong)_p.Inner.Source.Value << 32 | _p.Inner.Destination.Value) * 0x94D049BB133111EBUL ^ (ulong)_p.Vni;
        for (int i = 0; i < _visitCount; i++)
            if (_visits[i] == f) return false;
        if (_visitCount == MaxVisits) return false;
        _visits[_visitCount++] = f;
        return true;
    }

    private void Looped(NamespaceRuntime ns, DeviceRuntime dev)
    {
        _outcome.Kind = DispositionKind.Looped;
        _outcome.Namespace = ns.Index;
        _outcome.Device = dev.Index;
        _next = Next.Done;
        if (_trace != null || Record != null) _outcome.Detail = "the packet came back to " + dev.QualifiedName + " with the same headers: a forwarding loop";
    }

    private void Drop(DropCause cause, SourceSpan span, string? detail = null, ReplyKind reply = ReplyKind.None)
    {
        _outcome.Kind = DispositionKind.Dropped;
        _outcome.Cause = cause;
        _outcome.Namespace = _ns;
        _outcome.Reply = reply;
        _outcome.InDevice = _inDev;
        _next = Next.Done;
        if (_trace != null || Record != null)
        {
            _outcome.Detail = detail ?? cause.ToString();
            var step = new DropStep(cause, _outcome.Detail, span);
            _trace?.Add(step);
            if (Record != null) Record.Drop = step;
        }
    }

    // ───────────────────────────── layer 2 ─────────────────────────────

    private void DoReceive(int nsIndex, int devIndex)
    {
        var ns = _c[nsIndex];
        var dev = ns.Devices[devIndex];
        if (!Visit(nsIndex, devIndex)) { Looped(ns, dev); return; }
        NoteKeys();
        CountReceived(dev);
        _p.IngressDevice = devIndex;
        if (_trace != null)
        {
            _trace.Frame(dev, true, _p);
            _trace.Add(new ReceivedStep(dev.Name, HeaderSnapshot.Of(_p)));
        }
        if (dev.Master >= 0) { BridgeInput(ns, dev); return; }
        var dst = _p.Headers.EthDestination;
        if (dev.Kind != DeviceKind.Loopback && dst != dev.Mac && dst != MacAddress.Broadcast)
        {
            Drop(DropCause.NotForThisHost, dev.Span, "destination MAC " + dst + " is not " + dev.Name + "'s (" + dev.Mac + ")");
            return;
        }
        IpReceive(ns, dev);
    }

    /// <summary>br_handle_frame → br_handle_frame_finish: learn the source, then forward by FDB, deliver up, or flood.</summary>
    private void BridgeInput(NamespaceRuntime ns, DeviceRuntime port)
    {
        var br = ns.Devices[port.Master];
        var fdb = br.Fdb!;
        long now = _c.NowMilliseconds;
        fdb.Learn(_p.Headers.EthSource, port.Index, now);
        var dst = _p.Headers.EthDestination;
        if (fdb.TryLookup(dst, now, out var entry))
        {
            if (entry.Kind == Bridging.FdbEntryKind.Local)
            {
                if (_trace != null) _trace.Add(new FdbStep(br.Name, dst, "local (the bridge's own address): up to " + br.Name, br.Name, br.Span));
                CountReceived(br); // br_pass_frame_up counts the frame on the bridge device too
                IpReceive(ns, br);
                return;
            }
            if (entry.Port == port.Index)
            {
                Drop(DropCause.Hairpin, br.Span, dst + " lives behind the port it came in on (" + port.Name + "); hairpin is off");
                return;
            }
            if (_trace != null)
            {
                var outPort = ns.Devices[entry.Port];
                _trace.Add(new FdbStep(br.Name, dst, entry.Kind == Bridging.FdbEntryKind.Static ? "static" : "learned", outPort.Name, br.Span));
                _trace.Add(new BridgeStep(br.Name, port.Name, outPort.Name));
            }
            if (ns.BridgeNetfilter && !BridgedHooks(ns, br)) return;
            BridgeForward(ns, br, ns.Devices[entry.Port]);
            return;
        }
        FloodToward(ns, br, port.Index, port.Name);
    }

    /// <summary>An FDB miss floods to every port but the ingress one; the copy that reaches the owner of the MAC carries on.</summary>
    private void FloodToward(NamespaceRuntime ns, DeviceRuntime br, int ingressPort, string ingressName)
    {
        var dst = _p.Headers.EthDestination;
        int found = FindPortToward(ns, br, ingressPort, dst);
        if (_trace != null)
        {
            int flooded = 0;
            foreach (var p in br.Ports) if (p != ingressPort) flooded++;
            _trace.Add(new FdbStep(br.Name, dst, "miss: flooded to " + flooded.ToString(CultureInfo.InvariantCulture) + " port(s)", found >= 0 ? ns.Devices[found].Name : "", br.Span));
            if (found >= 0) _trace.Add(new BridgeStep(br.Name, ingressName, ns.Devices[found].Name));
        }
        if (found < 0)
        {
            Drop(DropCause.FdbMiss, br.Span, "no port of " + br.Name + " leads to " + dst);
            return;
        }
        if (ingressPort >= 0 && ns.BridgeNetfilter && !BridgedHooks(ns, br)) return;
        BridgeForward(ns, br, ns.Devices[found]);
    }

    /// <summary>
    /// br_netfilter (bridge-nf-call-iptables=1): a frame bridged between two ports traverses PREROUTING, FORWARD and
    /// POSTROUTING with the bridge as <c>-i</c>/<c>-o</c>. A DNAT here does not re-route the frame (br_nf_pre_routing_finish
    /// would); it stays bridged.
    /// </summary>
    private bool BridgedHooks(NamespaceRuntime ns, DeviceRuntime br)
    {
        _inDev = br.Index;
        _outDev = -1;
        if (!RunTable(ns, ns.Raw, Netfilter.NetfilterHook.Prerouting, 0)) return false;
        if (_ct < 0 && ns.ConntrackEnabled) ConntrackIn(ns);
        if (!RunTable(ns, ns.Mangle, Netfilter.NetfilterHook.Prerouting, 1)) return false;
        if (!NatHook(ns, Netfilter.NetfilterHook.Prerouting)) return false;
        _outDev = br.Index;
        if (!RunTable(ns, ns.Mangle, Netfilter.NetfilterHook.Forward, 1)) return false;
        if (!RunTable(ns, ns.Filter, Netfilter.NetfilterHook.Forward, 3)) return false;
        if (!RunTable(ns, ns.Mangle, Netfilter.NetfilterHook.Postrouting, 1)) return false;
        _nexthop = _p.Headers.Destination;
        if (!NatHook(ns, Netfilter.NetfilterHook.Postrouting)) return false;
        return Confirm();
    }

    private void BridgeForward(NamespaceRuntime ns, DeviceRuntime br, DeviceRuntime outPort)
    {
        // br_dev_queue_push_xmit: frames larger than the port MTU are dropped silently.
        if (WireLength > outPort.Mtu)
        {
            Drop(DropCause.MtuExceeded, outPort.Span, "frame of " + _p.Headers.TotalLength.ToString(CultureInfo.InvariantCulture) + " bytes exceeds " + outPort.Name + " MTU " + outPort.Mtu.ToString(CultureInfo.InvariantCulture));
            return;
        }
        _next = Next.Transmit;
        _nextNs = ns.Index;
        _nextDev = outPort.Index;
    }

    private void DoTransmit(int nsIndex, int devIndex)
    {
        var ns = _c[nsIndex];
        var dev = ns.Devices[devIndex];
        NoteKeys();
        dev.TxPackets++;
        dev.TxBytes += WireFrameLength;
        _trace?.Frame(dev, false, _p);
        switch (dev.Kind)
        {
            case DeviceKind.Veth:
                if (dev.PeerNamespace < 0)
                {
                    Drop(DropCause.NoRoute, dev.Span, dev.Name + " has no peer");
                    return;
                }
                var peerNs = _c[dev.PeerNamespace];
                var peer = peerNs.Devices[dev.PeerDevice];
                if (_trace != null) _trace.Add(new VethStep(dev.Name, peerNs.QualifiedName, peer.Name, dev.Span));
                if (WireLength > peer.Mtu)
                {
                    // veth_xmit → dev_forward_skb: is_skb_forwardable refuses frames above the peer's MTU.
                    Drop(DropCause.MtuExceeded, peer.Span, "frame of " + _p.Headers.TotalLength.ToString(CultureInfo.InvariantCulture) + " bytes exceeds the veth peer " + peer.Name + " MTU " + peer.Mtu.ToString(CultureInfo.InvariantCulture));
                    return;
                }
                if (peerNs.Index != ns.Index) CrossInto(peerNs.Index);
                _next = Next.Receive;
                _nextNs = peerNs.Index;
                _nextDev = peer.Index;
                return;
            case DeviceKind.Bridge:
                BridgeTransmit(ns, dev);
                return;
            case DeviceKind.Vxlan:
                VxlanTransmit(ns, dev);
                return;
            case DeviceKind.Loopback:
                _next = Next.Receive;
                _nextNs = ns.Index;
                _nextDev = dev.Index;
                return;
            default:
                UnderlayTransmit(ns, dev);
                return;
        }
    }

    /// <summary>br_dev_xmit: a frame sent by the bridge device itself goes out of the port its FDB names (or floods).</summary>
    private void BridgeTransmit(NamespaceRuntime ns, DeviceRuntime br)
    {
        var dst = _p.Headers.EthDestination;
        if (br.Fdb!.TryLookup(dst, _c.NowMilliseconds, out var entry))
        {
            if (entry.Kind == Bridging.FdbEntryKind.Local)
            {
                _next = Next.Receive;
                _nextNs = ns.Index;
                _nextDev = br.Index;
                return;
            }
            var port = ns.Devices[entry.Port];
            if (_trace != null)
            {
                _trace.Add(new FdbStep(br.Name, dst, entry.Kind == Bridging.FdbEntryKind.Static ? "static" : "learned", port.Name, br.Span));
                _trace.Add(new BridgeStep(br.Name, br.Name, port.Name));
            }
            BridgeForward(ns, br, port);
            return;
        }
        FloodToward(ns, br, -1, br.Name);
    }

    /// <summary>The underlay: one L2 segment joining every host's underlay interface and the external clients.</summary>
    private void UnderlayTransmit(NamespaceRuntime ns, DeviceRuntime dev)
    {
        var dst = _p.Headers.EthDestination;
        int first = dev.OnUnderlay ? _c.UnderlayIndexOf(dst) : -1; // no member has the MAC: the frame leaves the plan
        if (first >= 0)
        {
            var underlay = _c.Underlay;
            for (int i = first; i < underlay.Count; i++)
            {
                var (mns, mdev) = underlay[i];
                var member = _c[mns].Devices[mdev];
                if (member.Mac != dst || (mns == ns.Index && mdev == dev.Index)) continue;
                if (_trace != null) _trace.Add(new BridgeStep("underlay", ns.Node + ":" + dev.Name, _c[mns].Node + ":" + member.Name));
                CrossInto(mns);
                _next = Next.Receive;
                _nextNs = mns;
                _nextDev = mdev;
                return;
            }
        }
        _outcome.Kind = DispositionKind.Exited;
        _outcome.Namespace = ns.Index;
        _outcome.Device = dev.Index;
        _next = Next.Done;
        if (_trace != null || Record != null) _outcome.Detail = "left " + dev.QualifiedName + " for " + _p.Headers.Destination + " (" + dst + "), outside the plan";
    }

    // ───────────────────────────── VXLAN ─────────────────────────────

    /// <summary>vxlan_xmit_one: FDB → remote VTEP, route in the socket's namespace, encapsulate, ip_local_out there.</summary>
    private void VxlanTransmit(NamespaceRuntime ns, DeviceRuntime dev)
    {
        var vx = dev.Plan!.Vxlan!;
        var inner = _p.Headers;
        // The device's own FDB (bridge fdb ... dev vxlan0 dst VTEP self permanent) chooses the VTEP: shown as the lookup it is.
        if (!dev.VxlanFdb!.TryLookup(inner.EthDestination, _c.NowMilliseconds, out var remote))
        {
            if (_trace != null) _trace.Add(new FdbStep(dev.Name, inner.EthDestination, "miss", "", dev.Span));
            Drop(DropCause.FdbMiss, dev.Span, dev.Name + " has no FDB entry (remote VTEP) for " + inner.EthDestination);
            return;
        }
        if (_trace != null)
            _trace.Add(new FdbStep(dev.Name, inner.EthDestination, remote.Static ? "static" : "learned", "dst " + remote.RemoteVtep, dev.Span));
        if (dev.VxlanSocketNamespace < 0) { Drop(DropCause.NoRoute, dev.Span, dev.Name + " has no underlay socket namespace"); return; }
        var host = _c[dev.VxlanSocketNamespace];
        NoteKey(remote.RemoteVtep);
        if (!LookupRoute(host, remote.RemoteVtep, out var route, out var outDev, out var nexthop))
        {
            Drop(DropCause.NoRoute, dev.Span, "no route to VTEP " + remote.RemoteVtep + " in " + host.QualifiedName);
            return;
        }
        var src = SelectSource(host, route, outDev, nexthop);
        var outer = new PacketHeaders
        {
            Source = src,
            Destination = remote.RemoteVtep,
            Ttl = (byte)(vx.Ttl == 0 ? 64 : vx.Ttl),
            DontFragment = false,
            Id = host.NextIpId++,
            Protocol = IpProtocol.Udp,
            SourcePort = (ushort)VxlanCodec.SourcePort(VxlanCodec.FlowHash(inner, _c.Seed)),
            DestinationPort = (ushort)vx.DstPort,
            PayloadLength = VxlanCodec.HeaderLength + inner.FrameLength,
        };
        _p.Inner = inner;
        _p.Headers = outer;
        _p.Encapsulated = true;
        _p.Vni = vx.Vni;
        if (_trace != null)
            _trace.Add(new VxlanEncapStep(dev.Name, vx.Vni, src, remote.RemoteVtep, outer.SourcePort, outer.DestinationPort, VxlanCodec.Overhead,
                inner.FrameLength, outer.FrameLength, outDev.Mtu, dev.Span));
        CrossInto(host.Index);
        _next = Next.LocalOut;
        _nextNs = host.Index;
    }

    /// <summary>vxlan_rcv: the UDP socket hands the datagram to the device with its VNI; learning; the inner frame enters the device.</summary>
    private void VxlanReceive(NamespaceRuntime host, List<(int Ns, int Dev)> devices)
    {
        if (!_p.Encapsulated)
        {
            Drop(DropCause.UnknownVni, SourceSpan.None, "a UDP datagram to the VXLAN port that carries no VXLAN frame");
            return;
        }
        foreach (var (vns, vdev) in devices)
        {
            var dev = _c[vns].Devices[vdev];
            var vx = dev.Plan!.Vxlan!;
            if (vx.Vni != _p.Vni) continue;
            var outer = _p.Headers;
            if (vx.Learning && !dev.VxlanFdb!.Learn(_p.Inner.EthSource, outer.Source, _c.NowMilliseconds))
            {
                Drop(DropCause.VxlanSourceRejected, dev.Span, _p.Inner.EthSource.IsMulticast || _p.Inner.EthSource.Value == 0
                    ? "the inner source MAC " + _p.Inner.EthSource + " is not a unicast address (vxlan_snoop)"
                    : "a static FDB entry of " + dev.Name + " keeps " + _p.Inner.EthSource + " at another VTEP than " + outer.Source
                      + " (vxlan_snoop does not migrate static entries)");
                return;
            }
            if (_trace != null) _trace.Add(new VxlanDecapStep(dev.Name, vx.Vni, outer.Source, outer.Destination, outer.SourcePort, outer.DestinationPort, dev.Span));
            Confirm();
            _p.Headers = _p.Inner;
            _p.Inner = default;
            _p.Encapsulated = false;
            _p.Vni = 0;
            CrossInto(vns);
            _next = Next.Receive;
            _nextNs = vns;
            _nextDev = vdev;
            return;
        }
        Drop(DropCause.UnknownVni, SourceSpan.None, "no VXLAN device for VNI " + _p.Vni.ToString(CultureInfo.InvariantCulture) + " in " + host.QualifiedName);
    }
}
