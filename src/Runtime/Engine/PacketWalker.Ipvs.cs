using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Conntrack;
using SwarmDsl.Runtime.Hashing;
using SwarmDsl.Runtime.Ipvs;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

internal sealed partial class PacketWalker
{
    /// <summary>
    /// ip_vs_in at LOCAL_IN (ip_vs_remote_request4): an existing connection, or a fwmark / VIP:port service scheduling a
    /// new one (TCP only on SYN), then ip_vs_nat_xmit / ip_vs_dr_xmit. True when IPVS took the packet.
    /// </summary>
    /// <summary>
    /// A balancer (<see cref="PathRecord.BalancerKey"/>) whose next pick is <see cref="ForcedDestination"/> rather than its
    /// scheduler's, without moving the scheduler; -1 for none. Set by <see cref="Simulation.ConnectForced"/>.
    /// </summary>
    internal long ForcedBalancer = -1;

    /// <summary>The destination a forced pick takes (a real server's index, or an nftables map slot).</summary>
    internal int ForcedDestination = -1;

    private bool IpvsRequest(NamespaceRuntime ns)
    {
        if (_p.IpvsProperty) return false;
        ref var h = ref _p.Headers;
        // Only the protocols IPVS registers (TCP, UDP, SCTP; AH/ESP are not modelled) are scheduled: an ICMP echo to a VIP
        // is not an error ip_vs_in_icmp relates to a connection (related = 0), has no protocol data (ip_vs_proto_data_get
        // is NULL), and is accepted to the local stack, where the namespace owning the VIP answers it.
        if (!h.HasPorts) return false;
        var conns = ns.IpvsConnections;
        int conn;
        bool isNew = false;
        long now = _c.NowMilliseconds;
        bool found = conns.TryGetIn(h.Protocol, h.Source, h.SourcePort, h.Destination, h.DestinationPort, out conn);
        if (found && conns[conn].ExpiresAt <= now)
        {
            Cluster.ExpireIpvsConnection(ns, conn); // its timer ran out: ip_vs_conn_expire
            found = false;
        }
        if (!found)
        {
            int svc = FindServiceFor(ns, h);
            if (svc < 0) return false;
            // tcp_conn_schedule: only a SYN starts a connection (sloppy_tcp off).
            if (h.Protocol == IpProtocol.Tcp && (h.Flags & TcpFlags.Syn) == 0) return false;
            var service = ns.IpvsService(svc);
            var key = PathRecord.BalancerKey(ns.Index, svc, nft: false);
            // A forced pick (reach probing each backend) leaves the scheduler's state as it was.
            int dest = key == ForcedBalancer ? ForcedDestination : service.Scheduler.Schedule(service, h.Source, h.Destination);
            if (Record != null)
            {
                if (service.Scheduler is Ipvs.SourceHashScheduler) Record.SourceHashed.Add((key, h.Source));
                else if (service.Scheduler is Ipvs.DestinationHashScheduler) Record.DestinationHashed.Add((key, h.Destination));
                Record.Balancers.Add(key);
                Record.Picks.Add((key, dest));
            }
            if (dest < 0)
            {
                if (_trace != null)
                    _trace.Add(new IpvsStep(LoadBalancerBackend.Ipvs, service.Describe(), service.Scheduler.Name, "", "", service.Scheduler.Explain(service), "", true, service.Plan.Span));
                Drop(DropCause.NoIpvsDestination, service.Plan.Span, "IPVS " + service.Describe() + " (" + service.Plan.Service + ") has no available real server",
                    h.Protocol == IpProtocol.Tcp ? ReplyKind.PortUnreachable : ReplyKind.PortUnreachable);
                return true;
            }
            var d = service.Destinations[dest];
            var c = new IpvsConnection
            {
                Protocol = h.Protocol,
                ClientAddress = h.Source,
                ClientPort = h.SourcePort,
                VirtualAddress = h.Destination,
                VirtualPort = h.DestinationPort,
                DestinationAddress = d.Address,
                DestinationPort = d.Port == 0 ? h.DestinationPort : (ushort)d.Port,
                Service = svc,
                Destination = dest,
                State = h.Protocol is IpProtocol.Tcp or IpProtocol.Sctp ? IpvsConnectionState.None : IpvsConnectionState.Udp,
                Inactive = true, // __ip_vs_update_dest sets IP_VS_CONN_F_INACTIVE in the destination's conn_flags
            };
            conn = conns.Add(c);
            d.InactiveConnections++;
            d.Stats.Connections++;
            service.Stats.Connections++;
            isNew = true;
            if (_trace != null)
                _trace.Add(new IpvsStep(LoadBalancerBackend.Ipvs, service.Describe(), service.Scheduler.Name,
                    Endpoint(h.Protocol, c.DestinationAddress, c.DestinationPort), d.Task, service.Scheduler.Explain(service),
                    d.Forward == IpvsForward.Masquerade ? "Masq" : "Route", true, d.Span));
        }
        ref var cp = ref conns[conn];
        var svcObj = ns.IpvsService(cp.Service);
        var destObj = svcObj.Destinations[cp.Destination];
        if (!isNew && _trace != null)
            _trace.Add(new IpvsStep(LoadBalancerBackend.Ipvs, svcObj.Describe(), svcObj.Scheduler.Name, Endpoint(cp.Protocol, cp.DestinationAddress, cp.DestinationPort), destObj.Task,
                "existing connection", destObj.Forward == IpvsForward.Masquerade ? "Masq" : "Route", false, destObj.Span));
        int len = h.TotalLength;
        cp.Stats.InPackets++; cp.Stats.InBytes += len;
        destObj.Stats.InPackets++; destObj.Stats.InBytes += len;
        svcObj.Stats.InPackets++; svcObj.Stats.InBytes += len;
        IpvsProtocolState(ref cp, destObj, input: true, h);
        cp.ExpiresAt = now + 1000L * IpvsConnection.TimeoutSeconds(cp.State); // ip_vs_conn_put re-arms the timer
        return IpvsTransmit(ns, ref cp, destObj);
    }

    /// <summary>ip_vs_service_find: fwmark services first when the packet carries a mark, then VIP:port.</summary>
    private int FindServiceFor(NamespaceRuntime ns, in PacketHeaders h)
    {
        _ = ns.IpvsSlots; // loads the lookup tables
        if (_p.Mark != 0 && ns.IpvsByMark.TryGetValue(_p.Mark, out var byMark)) return byMark;
        return ns.IpvsByAddress.TryGetValue((h.Destination.Value, h.Protocol, h.DestinationPort), out var byAddress) ? byAddress : -1;
    }

    /// <summary>
    /// ip_vs_nat_xmit / ip_vs_dr_xmit, then NF_HOOK(LOCAL_OUT) with the IPVS property set. __ip_vs_get_out_rt checks a
    /// non-local real server's route first — decrement_ttl (time exceeded) then ensure_mtu_is_adequate (frag-needed) — on
    /// the packet as it came, so an ICMP error quotes the untranslated packet; only then does NAT rewrite it.
    /// </summary>
    private bool IpvsTransmit(NamespaceRuntime ns, ref IpvsConnection cp, IpvsDestination dest)
    {
        ref var h = ref _p.Headers;
        NoteKey(cp.DestinationAddress);
        bool local = ns.IsLocal(cp.DestinationAddress);
        if (!LookupRoute(ns, cp.DestinationAddress, out var route, out var outDev, out var nexthop) && !local)
        {
            Drop(DropCause.NoRoute, dest.Span, "IPVS: no route to real server " + cp.DestinationAddress);
            return true;
        }
        if (!local)
        {
            if (h.Ttl <= 1)
            {
                Drop(DropCause.TtlExceeded, dest.Span, "TTL expires in IPVS forwarding", ReplyKind.TimeExceeded);
                return true;
            }
            h.Ttl--;
            if (h.DontFragment && WireLength > outDev.Mtu)
            {
                _outcome.Mtu = outDev.Mtu;
                Drop(DropCause.MtuExceeded, outDev.Span, MtuText(outDev), ReplyKind.FragmentationNeeded);
                return true;
            }
        }
        if (dest.Forward == IpvsForward.Masquerade)
        {
            var before = _trace != null ? HeaderSnapshot.Of(h, 0) : null;
            h.Destination = cp.DestinationAddress;
            h.DestinationPort = cp.DestinationPort;
            if (before != null) _trace!.Add(new NatStep("IPVS DNAT (Masq)", NatOrigin.Ipvs, NatManip.Destination, before.DestinationEndpoint, HeaderSnapshot.Of(h, 0).DestinationEndpoint, dest.Span));
            // ip_vs_update_conntrack with vs/conntrack=1: the reply tuple now comes from the real server; otherwise untracked.
            if (_ct >= 0)
            {
                var table = ns.Conntrack;
                if (ns.IpvsConntrack)
                {
                    if (!table[_ct].Confirmed)
                    {
                        var reply = table[_ct].Reply;
                        table.AlterReply(_ct, new ConnTuple(reply.Protocol, cp.DestinationAddress, cp.DestinationPort, reply.Destination, reply.DestinationPort));
                    }
                }
                else
                {
                    DropUnconfirmed();
                    _ctInfo = CtInfo.Untracked;
                }
            }
        }
        _p.IpvsProperty = true;
        if (ns.IsLocal(cp.DestinationAddress))
        {
            // The real server is this namespace: continue local delivery.
            if (!Confirm()) return true;
            SocketDeliver(ns);
            return true;
        }
        if (_trace != null) _trace.Add(RouteTrace("ipvs " + (dest.Forward == IpvsForward.Masquerade ? "nat" : "dr") + " xmit", ns, route, outDev, SelectSource(ns, route, outDev, nexthop)));
        _outDev = outDev.Index;
        _inDev = -1;
        if (!RunTable(ns, ns.Raw, Netfilter.NetfilterHook.Output, 0)) return true;
        if (!RunTable(ns, ns.Mangle, Netfilter.NetfilterHook.Output, 1)) return true;
        if (!NatHook(ns, Netfilter.NetfilterHook.Output)) return true;
        if (!RunTable(ns, ns.Filter, Netfilter.NetfilterHook.Output, 3)) return true;
        PostRouting(ns, outDev, dest.Forward == IpvsForward.DirectRoute ? cp.DestinationAddress : nexthop, checkMtu: false);
        return true;
    }

    /// <summary>ip_vs_out (ip_vs_reply4): a packet from a real server to a client of a Masq connection gets the virtual address back.</summary>
    private void IpvsReply(NamespaceRuntime ns)
    {
        if (_p.IpvsProperty) return;
        ref var h = ref _p.Headers;
        if (h.IsIcmpError) { IpvsReplyIcmp(ns); return; }
        if (!h.HasPorts) return;
        if (!ns.IpvsConnections.TryGetOut(h.Protocol, h.Source, h.SourcePort, h.Destination, h.DestinationPort, out var conn)) return;
        long now = _c.NowMilliseconds;
        if (ns.IpvsConnections[conn].ExpiresAt <= now) { Cluster.ExpireIpvsConnection(ns, conn); return; }
        ref var cp = ref ns.IpvsConnections[conn];
        var svc = ns.IpvsService(cp.Service);
        var dest = svc.Destinations[cp.Destination];
        if (dest.Forward != IpvsForward.Masquerade) return;
        var before = _trace != null ? HeaderSnapshot.Of(h, 0) : null;
        h.Source = cp.VirtualAddress;
        h.SourcePort = cp.VirtualPort;
        _p.IpvsProperty = true;
        int len = h.TotalLength;
        cp.Stats.OutPackets++; cp.Stats.OutBytes += len;
        dest.Stats.OutPackets++; dest.Stats.OutBytes += len;
        svc.Stats.OutPackets++; svc.Stats.OutBytes += len;
        IpvsProtocolState(ref cp, dest, input: false, h);
        cp.ExpiresAt = now + 1000L * IpvsConnection.TimeoutSeconds(cp.State);
        if (_trace != null)
        {
            _trace.Add(new IpvsStep(LoadBalancerBackend.Ipvs, svc.Describe(), svc.Scheduler.Name, Endpoint(cp.Protocol, cp.DestinationAddress, cp.DestinationPort), dest.Task,
                "reply of an existing connection", "Masq", false, dest.Span));
            _trace.Add(new NatStep("IPVS un-DNAT (Masq reply)", NatOrigin.Ipvs, NatManip.Source, before!.SourceEndpoint, HeaderSnapshot.Of(h, 0).SourceEndpoint, dest.Span));
        }
    }

    /// <summary>
    /// ip_vs_out_icmp: an ICMP error from (or beyond) a real server about a packet IPVS sent it. The quoted packet went
    /// client → real server, so the connection is looked up inverted (conn_out_get with inverse); ip_vs_nat_icmp (inout)
    /// then puts the virtual address back: the outer source, and the quoted destination address and port.
    /// </summary>
    private void IpvsReplyIcmp(NamespaceRuntime ns)
    {
        ref var h = ref _p.Headers;
        ref var q = ref h.Embedded;
        if (q.Protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp)) return;
        if (!ns.IpvsConnections.TryGetOut(q.Protocol, q.Destination, q.DestinationPort, q.Source, q.SourcePort, out var conn)) return;
        if (ns.IpvsConnections[conn].ExpiresAt <= _c.NowMilliseconds) { Cluster.ExpireIpvsConnection(ns, conn); return; }
        ref var cp = ref ns.IpvsConnections[conn];
        var svc = ns.IpvsService(cp.Service);
        var dest = svc.Destinations[cp.Destination];
        if (dest.Forward != IpvsForward.Masquerade) return;
        string before = _trace != null ? IcmpErrorText(h, src: true) : "";
        h.Source = cp.VirtualAddress;
        q.Destination = cp.VirtualAddress;
        q.DestinationPort = cp.VirtualPort;
        _p.IpvsProperty = true;
        if (_trace != null)
        {
            _trace.Add(new IpvsStep(LoadBalancerBackend.Ipvs, svc.Describe(), svc.Scheduler.Name, Endpoint(cp.Protocol, cp.DestinationAddress, cp.DestinationPort), dest.Task,
                "ICMP error about an existing connection", "Masq", false, dest.Span));
            _trace.Add(new NatStep("IPVS un-DNAT (ICMP error, ip_vs_nat_icmp)", NatOrigin.Ipvs, NatManip.Source, before, IcmpErrorText(h, src: true), dest.Span));
        }
    }

    /// <summary>
    /// ip_vs_proto_tcp.c set_tcp_state and ip_vs_proto_sctp.c set_sctp_state: the next state from tcp_states or sctp_states
    /// (Masq connections see both directions, direct routing only the client's: INPUT-ONLY); a connection counts as active
    /// only while ESTABLISHED.
    /// </summary>
    private static void IpvsProtocolState(ref IpvsConnection cp, IpvsDestination dest, bool input, in PacketHeaders h)
    {
        if (cp.Protocol is not (IpProtocol.Tcp or IpProtocol.Sctp)) return;
        int direction = !input ? 1 : dest.Forward == IpvsForward.Masquerade ? 0 : 2;
        var next = cp.Protocol == IpProtocol.Tcp ? IpvsTcpStates.Next(cp.State, direction, h.Flags) : IpvsSctpStates.Next(cp.State, direction, h.Chunk);
        if (next == cp.State) return;
        bool active = next is IpvsConnectionState.Established or IpvsConnectionState.SctpEstablished;
        if (!cp.Inactive && !active) { dest.ActiveConnections--; dest.InactiveConnections++; cp.Inactive = true; }
        else if (cp.Inactive && active) { dest.ActiveConnections++; dest.InactiveConnections--; cp.Inactive = false; }
        cp.State = next;
    }

    // ───────────────────────────── nftables balancer ─────────────────────────────

    /// <summary>
    /// The nftables backend at nat prerouting priority dstnat + 1 (after the iptables nat table, NatHook): packets carrying the service's fwmark or addressed to its
    /// VIP are DNATed (port kept) to a map slot chosen by <c>numgen inc mod N</c> (a per-map counter from 0) or
    /// <c>jhash ip saddr/daddr mod N seed 0x0</c> (the kernel's jhash on the address, seed 0).
    /// </summary>
    private void NftDestinationNat(NamespaceRuntime ns)
    {
        ref var h = ref _p.Headers;
        for (int i = 0; i < ns.NftBalancers.Length; i++)
        {
            var lb = ns.NftBalancers[i];
            var plan = lb.Plan;
            if (!((uint)plan.FwMark == _p.Mark && _p.Mark != 0) && plan.Vip != h.Destination) continue;
            int n = plan.Slots.Count;
            // A service without destinations has no rule in the table (nft cannot map into an empty set; the emitted file
            // names it in a comment): the packet goes on un-NATed, to the namespace's own socket or lack of one, as the
            // kernel built from that file does (a tester's lab saw "refused" where a drop was simulated).
            if (n == 0) continue;
            var key = PathRecord.BalancerKey(ns.Index, i, nft: true);
            Record?.Balancers.Add(key);
            uint slot;
            string why;
            switch (plan.Pick)
            {
                case NftPick.SourceHash:
                    Record?.SourceHashed.Add((PathRecord.BalancerKey(ns.Index, i, nft: true), h.Source));
                    slot = KernelHash.ReciprocalScale(KernelHash.JhashAddress(h.Source, 0), (uint)n);
                    why = _trace != null ? "jhash ip saddr " + h.Source + " mod " + I(n) + " seed 0x0 = " + I(slot) : "";
                    break;
                case NftPick.DestinationHash:
                    Record?.DestinationHashed.Add((key, h.Destination));
                    slot = KernelHash.ReciprocalScale(KernelHash.JhashAddress(h.Destination, 0), (uint)n);
                    why = _trace != null ? "jhash ip daddr " + h.Destination + " mod " + I(n) + " seed 0x0 = " + I(slot) : "";
                    break;
                default:
                    if (key == ForcedBalancer)
                    {
                        slot = (uint)ForcedDestination;
                        why = _trace != null ? "slot " + I(slot) + " (forced)" : "";
                        break;
                    }
                    slot = lb.Counter;
                    lb.Counter = (lb.Counter + 1) % (uint)n;
                    why = _trace != null ? "numgen inc mod " + I(n) + " = " + I(slot) : "";
                    break;
            }
            Record?.Picks.Add((key, (int)slot));
            var target = plan.Slots[(int)slot];
            ns.Conntrack[_ct].NftLoadBalancer = i;
            if (_trace != null)
                _trace.Add(new IpvsStep(LoadBalancerBackend.Nftables, plan.FwMark != 0 ? "mark " + MarkText(plan.FwMark) + " / " + plan.Vip : plan.Vip.ToString(), PickName(plan.Pick),
                    target + ":" + I(h.DestinationPort), "", why + " (map slot " + I(slot) + ")", "dnat", true, plan.Span));
            Bind(ns, false, target, -1, "DNAT (nftables balancer)", NatOrigin.NftablesBalancer, plan.Span);
            return;
        }
    }

    /// <summary>
    /// The nftables backend at srcnat + 1: <c>ct status dnat ip daddr SUBNET snat to SOURCE</c> (the plan's SNAT of each
    /// balancer, standing in for IPVS's <c>-m ipvs --ipvs -j SNAT</c>). A balancer without one masquerades the connections
    /// it DNATed to the outgoing interface's address.
    /// </summary>
    private void NftSourceNat(NamespaceRuntime ns)
    {
        ref var e = ref ns.Conntrack[_ct];
        var dst = _p.Headers.Destination;
        foreach (var lb in ns.NftBalancers)
        {
            var plan = lb.Plan;
            if (plan.SnatSubnet is Ipv4Cidr subnet && plan.SnatSource is Ipv4Address source)
            {
                if ((e.Status & CtStatus.DstNat) == 0 || !subnet.Contains(dst)) continue;
                Bind(ns, true, source, -1, "SNAT (nftables: ct status dnat ip daddr " + subnet.Subnet + ")", NatOrigin.NftablesBalancer, plan.Span);
                return;
            }
        }
        int index = e.NftLoadBalancer;
        if (index < 0 || _outDev < 0 || ns.NftBalancers[index].Plan.SnatSource is not null) return;
        var address = MasqueradeAddress(ns.Devices[_outDev], _nexthop);
        if (address == Ipv4Address.Any) return;
        Bind(ns, true, address, -1, "SNAT (nftables balancer, masquerade)", NatOrigin.NftablesBalancer, ns.NftBalancers[index].Plan.Span);
    }

    private static string PickName(NftPick pick) => pick switch
    {
        NftPick.SourceHash => "jhash ip saddr",
        NftPick.DestinationHash => "jhash ip daddr",
        _ => "numgen inc",
    };

    private static string MarkText(int mark) => "0x" + mark.ToString("x", CultureInfo.InvariantCulture);

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
