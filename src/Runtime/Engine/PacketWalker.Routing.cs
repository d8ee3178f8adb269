using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Netfilter;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

internal sealed partial class PacketWalker
{
    // ───────────────────────────── layer 3 input ─────────────────────────────

    /// <summary>ip_rcv → PREROUTING (raw, conntrack, mangle, nat) → ip_route_input: local or forward.</summary>
    private void IpReceive(NamespaceRuntime ns, DeviceRuntime dev)
    {
        _inDev = dev.Index;
        _outDev = -1;
        ref var h = ref _p.Headers;
        if (dev.Kind != DeviceKind.Loopback && !dev.RouteLocalnet && (h.Source.IsLoopback || h.Destination.IsLoopback))
        {
            Drop(DropCause.Martian, dev.Span, "martian: 127.0.0.0/8 on " + dev.Name + " without route_localnet");
            return;
        }
        if (!RunTable(ns, ns.Raw, NetfilterHook.Prerouting, 0)) return;
        if (_ct < 0 && ns.ConntrackEnabled) ConntrackIn(ns);
        if (!RunTable(ns, ns.Mangle, NetfilterHook.Prerouting, 1)) return;
        if (!NatHook(ns, NetfilterHook.Prerouting)) return;
        NoteKeys();
        if (ns.IsLocal(_p.Headers.Destination)) LocalIn(ns, dev);
        else Forward(ns, dev);
    }

    /// <summary>ip_local_deliver: INPUT (mangle, filter, IPVS, nat), confirm, then the socket.</summary>
    private void LocalIn(NamespaceRuntime ns, DeviceRuntime inDev)
    {
        if (_trace != null)
        {
            var local = _p.Headers.Destination;
            var owner = ns.LocalAddresses.TryGetValue(local.Value, out var od) ? ns.Devices[od].Name : "lo";
            _trace.Add(new RouteStep("input", "local", local + "/32", "", owner, "", SourceSpan.None));
        }
        if (!RunTable(ns, ns.Mangle, NetfilterHook.Input, 1)) return;
        if (!RunTable(ns, ns.Filter, NetfilterHook.Input, 3)) return;
        if (ns.IpvsCount > 0)
        {
            IpvsReply(ns);                          // ip_vs_reply4, LOCAL_IN NF_IP_PRI_NAT_SRC - 2
            if (IpvsRequest(ns)) return;            // ip_vs_remote_request4, LOCAL_IN NF_IP_PRI_NAT_SRC - 1
            if (_next == Next.Done && _outcome.Kind == DispositionKind.Dropped) return;
        }
        if (!NatHook(ns, NetfilterHook.Input)) return;
        if (!Confirm()) return;
        NoteKeys();
        SocketDeliver(ns);
    }

    /// <summary>ip_forward: forwarding enabled, route, TTL, MTU (DF), FORWARD (mangle, filter, IPVS reply), then POSTROUTING.</summary>
    private void Forward(NamespaceRuntime ns, DeviceRuntime inDev)
    {
        ref var h = ref _p.Headers;
        if (!ns.IpForward)
        {
            Drop(DropCause.ForwardingDisabled, ns.IpForwardSpan, "net.ipv4.ip_forward is 0 in " + ns.QualifiedName + " and " + h.Destination + " is not local");
            return;
        }
        if (!LookupRoute(ns, h.Destination, out var route, out var outDev, out var nexthop))
        {
            Drop(DropCause.NoRoute, ns.Span, "no route to " + h.Destination + " in " + ns.QualifiedName);
            return;
        }
        if (_trace != null) _trace.Add(RouteTrace("forward", ns, route, outDev, SelectSource(ns, route, outDev, nexthop)));
        if (h.Ttl <= 1)
        {
            Drop(DropCause.TtlExceeded, ns.Span, "TTL " + h.Ttl.ToString(CultureInfo.InvariantCulture) + " expires while forwarding", ReplyKind.TimeExceeded);
            return;
        }
        if (h.DontFragment && WireLength > outDev.Mtu)
        {
            _outcome.Mtu = outDev.Mtu;
            Drop(DropCause.MtuExceeded, outDev.Span, MtuText(outDev), ReplyKind.FragmentationNeeded);
            return;
        }
        h.Ttl--;
        _outDev = outDev.Index;
        if (!RunTable(ns, ns.Mangle, NetfilterHook.Forward, 1)) return;
        if (!RunTable(ns, ns.Filter, NetfilterHook.Forward, 3)) return;
        if (ns.IpvsCount > 0) IpvsReply(ns);   // ip_vs_reply4, FORWARD priority 100
        PostRouting(ns, outDev, nexthop, checkMtu: false);
    }

    private string MtuText(DeviceRuntime outDev) => _p.Headers.TotalLength.ToString(CultureInfo.InvariantCulture) + " bytes with DF exceed " + outDev.Name
        + " MTU " + outDev.Mtu.ToString(CultureInfo.InvariantCulture) + ": ICMP fragmentation needed (mtu " + outDev.Mtu.ToString(CultureInfo.InvariantCulture) + ") goes back";

    // ───────────────────────────── layer 3 output ─────────────────────────────

    /// <summary>A socket (or the kernel, for RST/ICMP) sends: route, OUTPUT (raw, conntrack, mangle, nat, filter), reroute, POSTROUTING.</summary>
    private void DoLocalOut(int nsIndex)
    {
        var ns = _c[nsIndex];
        _inDev = -1;
        ref var h = ref _p.Headers;
        NoteKeys();
        if (!RouteOutput(ns, "output", out var outDev, out var nexthop)) return;
        _outDev = outDev.Index;
        if (!RunTable(ns, ns.Raw, NetfilterHook.Output, 0)) return;
        if (_ct < 0 && ns.ConntrackEnabled) ConntrackIn(ns);
        else if (_ctAttached)
        {
            // nf_conntrack_in leaves an skb that already carries a connection alone: the one nf_ct_attach gave it.
            _ctAttached = false;
            if (_trace != null)
            {
                ref readonly var e = ref ns.Conntrack[_ct];
                _trace.Add(new ConntrackStep((_ctInfo == CtInfo.RelatedReply ? "related (reply direction)" : "related")
                    + ": the dropped packet's connection" + (e.Confirmed ? "" : " (unconfirmed)") + ", attached to this answer (nf_ct_attach)",
                    e.Original.ToString(), NatText(e)));
            }
        }
        if (!RunTable(ns, ns.Mangle, NetfilterHook.Output, 1)) return;
        var before = _p.Headers.Destination;
        if (!NatHook(ns, NetfilterHook.Output)) return;
        if (!RunTable(ns, ns.Filter, NetfilterHook.Output, 3)) return;
        NoteKeys();
        if (_p.Headers.Destination != before)
        {
            // ip_route_me_harder: NAT changed the destination.
            if (!RouteOutput(ns, "output (rerouted after NAT)", out outDev, out nexthop)) return;
            _outDev = outDev.Index;
        }
        PostRouting(ns, outDev, nexthop, checkMtu: true);
    }

    private bool RouteOutput(NamespaceRuntime ns, string purpose, out DeviceRuntime outDev, out Ipv4Address nexthop)
    {
        ref var h = ref _p.Headers;
        if (ns.IsLocal(h.Destination))
        {
            outDev = ns.Devices[ns.LoopbackDevice];
            nexthop = h.Destination;
            if (h.Source == Ipv4Address.Any) h.Source = h.Destination.IsLoopback ? Localhost : h.Destination;
            if (_trace != null) _trace.Add(new RouteStep(purpose, "local", h.Destination + "/32", "", outDev.Name, h.Source.ToString(), SourceSpan.None));
            return true;
        }
        if (!LookupRoute(ns, h.Destination, out var route, out outDev, out nexthop))
        {
            Drop(DropCause.NoRoute, ns.Span, "no route to " + h.Destination + " in " + ns.QualifiedName);
            return false;
        }
        var src = SelectSource(ns, route, outDev, nexthop);
        if (h.Source == Ipv4Address.Any) h.Source = src;
        if (_trace != null) _trace.Add(RouteTrace(purpose, ns, route, outDev, h.Source));
        return true;
    }

    /// <summary>POSTROUTING (mangle, nat), conntrack confirm, MTU/fragmentation, neighbour resolution, transmit.</summary>
    private void PostRouting(NamespaceRuntime ns, DeviceRuntime outDev, Ipv4Address nexthop, bool checkMtu)
    {
        _outDev = outDev.Index;
        _nexthop = nexthop;
        if (!RunTable(ns, ns.Mangle, NetfilterHook.Postrouting, 1)) return;
        if (!NatHook(ns, NetfilterHook.Postrouting)) return;
        if (!Confirm()) return;
        ref var h = ref _p.Headers;
        if (outDev.Kind == DeviceKind.Loopback)
        {
            _next = Next.Transmit;
            _nextNs = ns.Index;
            _nextDev = outDev.Index;
            return;
        }
        if (h.Source.IsLoopback && !outDev.RouteLocalnet)
        {
            Drop(DropCause.Martian, outDev.Span, "martian source " + h.Source + " leaving " + outDev.Name + " without route_localnet");
            return;
        }
        if (WireLength > outDev.Mtu)
        {
            if (h.DontFragment && checkMtu)
            {
                _outcome.Mtu = outDev.Mtu;
                Drop(DropCause.MtuExceeded, outDev.Span, MtuText(outDev), ReplyKind.FragmentationNeeded);
                return;
            }
            if (_trace != null)
            {
                int payloadPerFragment = (outDev.Mtu - 20) & ~7;
                int fragments = (h.TotalLength - 20 + payloadPerFragment - 1) / payloadPerFragment;
                _trace.Add(new FragmentStep(outDev.Name, outDev.Mtu, h.TotalLength, fragments));
            }
            _fragmentMtu = outDev.Mtu;
        }
        if (!ResolveNeighbor(ns, outDev, nexthop, out var mac)) return;
        h.EthSource = outDev.Mac;
        h.EthDestination = mac;
        _next = Next.Transmit;
        _nextNs = ns.Index;
        _nextDev = outDev.Index;
    }

    // ───────────────────────────── sockets ─────────────────────────────

    private void SocketDeliver(NamespaceRuntime ns)
    {
        ref var h = ref _p.Headers;
        if (h.Protocol == IpProtocol.Udp && ns.VxlanSocketsIfMade is { } vxlanSockets && vxlanSockets.TryGetValue(h.DestinationPort, out var vxlan))
        {
            VxlanReceive(ns, vxlan);
            return;
        }
        int port = h.Protocol == IpProtocol.Icmp ? h.SourcePort : h.DestinationPort;
        int key = NamespaceRuntime.SocketKey(h.Protocol, h.HasPorts ? h.DestinationPort : 0);
        if (h.HasPorts && ns.Listeners.TryGetValue(key, out var listener))
        {
            if (_trace != null) _trace.Add(new SocketStep(h.Protocol.Name() + " :" + h.DestinationPort.ToString(CultureInfo.InvariantCulture) + " (listening)", listener.Owner, true, listener.Span));
            Delivered(ns, key, client: false);
            return;
        }
        // A connected socket: demultiplexed by its local port and the remote end it connected to (the kernel's 4-tuple).
        int clientKey;
        Ipv4Address remote;
        int remotePort;
        if (h.IsIcmpError)
        {
            clientKey = NamespaceRuntime.SocketKey(h.Embedded.Protocol, h.Embedded.SourcePort);
            remote = h.Embedded.Destination;
            remotePort = h.Embedded.Protocol == IpProtocol.Icmp ? 0 : h.Embedded.DestinationPort;
        }
        else
        {
            clientKey = NamespaceRuntime.SocketKey(h.Protocol, h.Protocol == IpProtocol.Icmp ? h.SourcePort : h.DestinationPort);
            remote = h.Source;
            remotePort = h.Protocol == IpProtocol.Icmp ? 0 : h.SourcePort;
        }
        if (ns.ClientSocketsIfMade is { } sockets && sockets.TryGetValue(clientKey, out var client) && client.Remote == remote && client.RemotePort == remotePort
            && (h.Protocol != IpProtocol.Icmp || h.IcmpType != IcmpTypes.EchoRequest))
        {
            if (_trace != null) _trace.Add(new SocketStep(h.Protocol.Name() + " " + h.Destination + ":" + port.ToString(CultureInfo.InvariantCulture) + " (connected socket)", client.Owner, true, SourceSpan.None));
            Delivered(ns, clientKey, client: true);
            return;
        }
        if (h.Protocol == IpProtocol.Icmp && h.IcmpType == IcmpTypes.EchoRequest)
        {
            if (_trace != null) _trace.Add(new SocketStep("icmp echo (answered by the kernel)", ns.QualifiedName, true, SourceSpan.None));
            Delivered(ns, NamespaceRuntime.SocketKey(IpProtocol.Icmp, 0), client: false);
            return;
        }
        if (h.Protocol == IpProtocol.Icmp || (h.Protocol == IpProtocol.Tcp && (h.Flags & TcpFlags.Rst) != 0))
        {
            // ICMP without a socket, or a RST for nobody: the kernel consumes it.
            if (_trace != null) _trace.Add(new SocketStep("consumed by the kernel (no socket)", ns.QualifiedName, false, SourceSpan.None));
            Delivered(ns, 0, client: false);
            return;
        }
        if (_trace != null) _trace.Add(new SocketStep(h.Protocol.Name() + " :" + h.DestinationPort.ToString(CultureInfo.InvariantCulture) + " (nothing listens)", "", false, SourceSpan.None));
        Drop(DropCause.NoListener, ns.Span, "no socket listens on " + h.Protocol.Name() + " port " + h.DestinationPort.ToString(CultureInfo.InvariantCulture) + " in " + ns.QualifiedName,
            h.Protocol == IpProtocol.Tcp ? ReplyKind.TcpReset : ReplyKind.PortUnreachable);
    }

    private void Delivered(NamespaceRuntime ns, int key, bool client)
    {
        _outcome.Kind = DispositionKind.Delivered;
        _outcome.Namespace = ns.Index;
        _outcome.SocketKey = key;
        _outcome.ClientSocket = client;
        _next = Next.Done;
    }

    // ───────────────────────────── routing helpers ─────────────────────────────

    /// <summary>Longest-prefix match in the main table.</summary>
    internal static bool LookupRoute(NamespaceRuntime ns, Ipv4Address destination, out RoutePlan route, out DeviceRuntime outDev, out Ipv4Address nexthop)
    {
        route = null!;
        outDev = null!;
        nexthop = destination;
        int index;
        if (ns.CompiledRoutes is { } compiled)
        {
            // The generated decision returns the trie's index (Cluster.AttachForwarding).
            if ((index = compiled(destination.Value)) < 0) return false;
        }
        else if (!ns.RouteTrie.TryLookup(destination, out index, out _)) return false;
        route = ns.Routes[index];
        int d = ns.RouteDevice(index);
        if (d < 0) return false;
        outDev = ns.Devices[d];
        nexthop = route.Gateway ?? destination;
        return true;
    }

    /// <summary>The route's <c>src</c>, else <c>inet_select_addr(dev, nexthop)</c>: the device's first address on the next hop's subnet, else its first address, else any.</summary>
    internal static Ipv4Address SelectSource(NamespaceRuntime ns, RoutePlan route, DeviceRuntime outDev, Ipv4Address nexthop)
    {
        if (route.PreferredSource is Ipv4Address pref) return pref;
        foreach (var a in outDev.Addresses) if (a.PrefixLength < 32 && a.Contains(nexthop)) return a.Address;
        if (outDev.Addresses.Length > 0) return outDev.Addresses[0].Address;
        foreach (var d in ns.Devices)
            if (d.Kind != DeviceKind.Loopback && d.Addresses.Length > 0) return d.Addresses[0].Address;
        return Ipv4Address.Any;
    }

    private static RouteStep RouteTrace(string purpose, NamespaceRuntime ns, RoutePlan route, DeviceRuntime outDev, Ipv4Address source)
        => new(purpose, "main", route.Destination.Subnet.ToString(), route.Gateway?.ToString() ?? "", outDev.Name, source.ToString(), route.Span);

    // ───────────────────────────── neighbours ─────────────────────────────

    private bool ResolveNeighbor(NamespaceRuntime ns, DeviceRuntime dev, Ipv4Address nexthop, out MacAddress mac)
    {
        NoteKey(nexthop);
        if (nexthop.Value == 0xFFFFFFFFu)
        {
            mac = MacAddress.Broadcast;
            return true;
        }
        var key = new NeighborKey(dev.Index, nexthop);
        if (ns.TryGetNeighbor(key, out var entry))
        {
            mac = entry.Mac;
            if (_trace != null) _trace.Add(new NeighborStep(dev.Name, nexthop, mac.ToString(), entry.Permanent ? "permanent" : "reachable (" + entry.AnsweredBy + ")", entry.Span));
            return true;
        }
        if (Arp(ns, dev, nexthop, out mac, out var answeredBy, out var span))
        {
            ns.LearnNeighbor(key, new NeighborEntry(mac, false, answeredBy, span));
            if (_trace != null) _trace.Add(new NeighborStep(dev.Name, nexthop, mac.ToString(), "ARP answered by " + answeredBy, span));
            return true;
        }
        if (dev.OnUnderlay)
        {
            // The underlay is the edge of the modelled world: an address on it that no host or client of the plan owns
            // belongs to something outside (a router, another machine). The packet leaves.
            if (_trace != null) _trace.Add(new NeighborStep(dev.Name, nexthop, "", "not in the plan: outside the modelled network", dev.Span));
            _outcome.Kind = DispositionKind.Exited;
            _outcome.Namespace = ns.Index;
            _outcome.Device = dev.Index;
            _next = Next.Done;
            if (_trace != null) _outcome.Detail = "left " + dev.QualifiedName + " towards " + nexthop + " on the underlay, outside the plan";
            return false;
        }
        Drop(DropCause.NeighborMiss, dev.Span, "nobody on " + dev.QualifiedName + "'s segment answers ARP for " + nexthop);
        return false;
    }
}
