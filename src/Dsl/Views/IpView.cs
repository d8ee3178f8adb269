using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>
/// <c>ip addr</c>, <c>ip link</c> (<c>-d</c>), <c>ip route</c> and <c>ip neigh</c> of one namespace, in iproute2 6.1's text
/// format on a 6.1 kernel (trailing spaces included). IPv6 is not modelled: no <c>inet6</c> lines are printed, as on a host
/// whose namespaces have <c>net.ipv6.conf.all.disable_ipv6=1</c>. In the host namespace only what the plan knows is shown:
/// the underlay NIC (its qdisc, MAC and index stand in for the real host's) and what the scripts add, not the host's own
/// other interfaces and routes. Neighbour entries are the static ones; those the kernel learns at run time are not modelled.
/// </summary>
public static class IpView
{
    /// <summary><c>ip [-4] addr [show [dev] DEV]</c>; null when <paramref name="device"/> does not exist.</summary>
    public static string? Addr(LinkTable links, string ns, string? device, bool ipv4Only, ShowOptions options)
    {
        var plan = links.Namespace(ns);
        if (plan is null) return null;
        var selected = Select(links, ns, device);
        if (selected is null) return null;
        var sb = new StringBuilder();
        foreach (var link in selected)
        {
            var addresses = Addresses(plan, link);
            // ip -4 leaves out interfaces that have no IPv4 address.
            if (ipv4Only && addresses.Count == 0) continue;
            AppendHeader(sb, links, link, linkMode: false);
            if (!ipv4Only) AppendLinkLine(sb, links, link, options).Append('\n');
            else
            {
                // With -4 the link/ether line is left out but the link namespace is still printed, on the header line.
                sb.Length--;
                AppendLinkNamespace(sb, links, link, options).Append('\n');
            }
            foreach (var (cidr, secondary) in addresses)
            {
                sb.Append("    inet ").Append(cidr.ToString());
                // The scripts add addresses with "brd +" (as Docker's netlink calls do), which /31 and /32 have none of.
                if (link.Device.Kind != DeviceKind.Loopback && cidr.PrefixLength < 31) sb.Append(" brd ").Append(cidr.Broadcast.ToString());
                sb.Append(cidr.Address.IsLoopback ? " scope host " : " scope global ");
                if (secondary) sb.Append("secondary ");
                sb.Append(link.Name).Append('\n');
                sb.Append("       valid_lft forever preferred_lft forever\n");
            }
        }
        return sb.ToString();
    }

    /// <summary><c>ip [-d] link [show [dev] DEV]</c>; null when <paramref name="device"/> does not exist.</summary>
    public static string? Link(LinkTable links, string ns, string? device, bool details, ShowOptions options)
    {
        if (links.Namespace(ns) is null) return null;
        var selected = Select(links, ns, device);
        if (selected is null) return null;
        var sb = new StringBuilder();
        foreach (var link in selected)
        {
            AppendHeader(sb, links, link, linkMode: true);
            AppendLinkLine(sb, links, link, options);
            if (details) AppendDetails(sb, links, link, options);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary><c>ip route [show [dev DEV]]</c>: the main table, as the kernel's FIB trie dumps it (by prefix, longer first for equal keys).</summary>
    public static string? Route(LinkTable links, string ns, string? device)
    {
        var plan = links.Namespace(ns);
        if (plan is null) return null;
        if (device is not null && links.Find(ns, device) is null) return null;
        var routes = plan.Routes
            .Select((r, i) => (Route: r, Order: i))
            .Where(x => device is null || x.Route.Device == device)
            .OrderBy(x => x.Route.Destination.Network.Value)
            .ThenByDescending(x => x.Route.Destination.PrefixLength)
            .ThenBy(x => x.Order);
        var sb = new StringBuilder();
        foreach (var (r, _) in routes)
        {
            var dst = r.Destination.Subnet;
            sb.Append(dst.PrefixLength == 0 ? "default" : dst.PrefixLength == 32 ? dst.Address.ToString() : dst.ToString());
            if (r.Gateway is { } gw) sb.Append(" via ").Append(gw.ToString());
            if (device is null) sb.Append(" dev ").Append(r.Device);
            if (r.Origin == RouteOrigin.Kernel) sb.Append(" proto kernel");
            if (r.Gateway is null) sb.Append(" scope link");
            if (r.PreferredSource is { } src) sb.Append(" src ").Append(src.ToString());
            sb.Append(" \n");
        }
        return sb.ToString();
    }

    /// <summary><c>ip neigh [show [dev DEV]]</c>: the static entries (the kernel lists its hash table in an order of its own; ours is the plan's).</summary>
    public static string? Neigh(LinkTable links, string ns, string? device)
    {
        var plan = links.Namespace(ns);
        if (plan is null) return null;
        if (device is not null && links.Find(ns, device) is null) return null;
        var sb = new StringBuilder();
        foreach (var n in plan.Neighbors)
        {
            if (device is not null && n.Device != device) continue;
            sb.Append(n.Address.ToString());
            if (device is null) sb.Append(" dev ").Append(n.Device);
            sb.Append(" lladdr ").Append(n.Mac.ToString()).Append(" PERMANENT \n");
        }
        return sb.ToString();
    }

    private static IReadOnlyList<LinkInfo>? Select(LinkTable links, string ns, string? device)
    {
        if (device is null) return links.Links(ns);
        var one = links.Find(ns, device);
        return one is null ? null : new[] { one };
    }

    /// <summary>The interface's IPv4 addresses in the kernel's list order: primaries in the order added, then secondaries
    /// (an address is secondary when an earlier one on the interface has the same prefix and subnet).</summary>
    internal static List<(Ipv4Cidr Address, bool Secondary)> Addresses(NamespacePlan plan, LinkInfo link)
    {
        var primaries = new List<(Ipv4Cidr, bool)>();
        var secondaries = new List<(Ipv4Cidr, bool)>();
        if (link.Device.Kind == DeviceKind.Loopback)
            primaries.Add((new Ipv4Cidr(Ipv4Address.FromBytes(127, 0, 0, 1), 8), false));
        foreach (var a in plan.Addresses)
        {
            if (a.Device != link.Name) continue;
            if (link.Device.Kind == DeviceKind.Loopback && a.Address.Address == Ipv4Address.FromBytes(127, 0, 0, 1)) continue;
            var isSecondary = primaries.Any(p => p.Item1.PrefixLength == a.Address.PrefixLength && p.Item1.Subnet == a.Address.Subnet);
            (isSecondary ? secondaries : primaries).Add((a.Address, isSecondary));
        }
        primaries.AddRange(secondaries);
        return primaries;
    }

    internal static string Flags(LinkTable links, LinkInfo link) => link.Device.Kind == DeviceKind.Loopback
        ? "LOOPBACK,UP,LOWER_UP"
        : "BROADCAST,MULTICAST,UP,LOWER_UP";

    /// <summary>The operational state: lo and VXLAN report UNKNOWN (no carrier notion), a bridge is UP once it has a port.</summary>
    internal static string State(LinkTable links, LinkInfo link) => link.Device.Kind switch
    {
        DeviceKind.Loopback or DeviceKind.Vxlan => "UNKNOWN",
        DeviceKind.Bridge => links.Ports(link.Namespace, link.Name).Count > 0 ? "UP" : "UNKNOWN",
        _ => "UP",
    };

    private static void AppendHeader(StringBuilder sb, LinkTable links, LinkInfo link, bool linkMode)
    {
        sb.Append(link.Index.ToString(CultureInfo.InvariantCulture)).Append(": ").Append(link.Name);
        if (link.LinkIndex is { } li)
        {
            // A peer in the same namespace prints by name, one in another namespace by index.
            if (link.LinkNamespace is null && link.Device.Peer is { } peer) sb.Append('@').Append(peer.Device);
            else sb.Append("@if").Append(li.ToString(CultureInfo.InvariantCulture));
        }
        sb.Append(": <").Append(Flags(links, link)).Append("> mtu ").Append(link.Device.Mtu.ToString(CultureInfo.InvariantCulture))
          .Append(" qdisc ").Append(link.Device.Kind == DeviceKind.Physical ? "fq_codel" : "noqueue");
        if (link.Device.Master is { } master) sb.Append(" master ").Append(master);
        sb.Append(" state ").Append(State(links, link));
        if (linkMode) sb.Append(" mode DEFAULT");
        sb.Append(" group default qlen 1000\n");
    }

    private static StringBuilder AppendLinkLine(StringBuilder sb, LinkTable links, LinkInfo link, ShowOptions options)
    {
        if (link.Device.Kind == DeviceKind.Loopback)
            sb.Append("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00");
        else
            sb.Append("    link/ether ").Append(link.Mac.ToString()).Append(" brd ff:ff:ff:ff:ff:ff");
        return AppendLinkNamespace(sb, links, link, options);
    }

    private static StringBuilder AppendLinkNamespace(StringBuilder sb, LinkTable links, LinkInfo link, ShowOptions options)
    {
        if (link.LinkNamespace is { } other)
        {
            var name = options.NetnsName(other);
            if (name is null) sb.Append(" link-netnsid ").Append(links.NetnsId(link.Namespace, other).ToString(CultureInfo.InvariantCulture));
            else sb.Append(" link-netns ").Append(name);
        }
        return sb;
    }

    private static void AppendDetails(StringBuilder sb, LinkTable links, LinkInfo link, ShowOptions options)
    {
        var kind = link.Device.Kind;
        var isPort = link.Device.Master is not null;
        var (minMtu, maxMtu) = kind == DeviceKind.Loopback ? (0, 0) : (68, 65535);
        sb.Append(isPort ? " promiscuity 1  allmulti 1" : " promiscuity 0  allmulti 0")
          .Append(" minmtu ").Append(minMtu.ToString(CultureInfo.InvariantCulture))
          .Append(" maxmtu ").Append(maxMtu.ToString(CultureInfo.InvariantCulture)).Append(' ');
        switch (kind)
        {
            case DeviceKind.Veth:
                sb.Append("\n    veth ");
                break;
            case DeviceKind.Bridge:
                var id = BridgeIdText(links.BridgeId(link.Namespace, link));
                sb.Append("\n    bridge forward_delay 1500 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering 0")
                  .Append(" bridge_id ").Append(id).Append(" designated_root ").Append(id)
                  .Append(" root_port 0 root_path_cost 0 topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00")
                  .Append(" topology_change_timer    0.00 gc_timer    0.00 group_fwd_mask 0 group_address 01:80:c2:00:00:00 mcast_snooping 1")
                  .Append(" no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 mcast_querier 0 mcast_hash_elasticity 16")
                  .Append(" mcast_hash_max 4096 mcast_last_member_count 2 mcast_startup_query_count 2 mcast_last_member_interval 100")
                  .Append(" mcast_membership_interval 26000 mcast_querier_interval 25500 mcast_query_interval 12500 mcast_query_response_interval 1000")
                  .Append(" mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 mcast_mld_version 1 nf_call_iptables 0")
                  .Append(" nf_call_ip6tables 0 nf_call_arptables 0 ");
                break;
            case DeviceKind.Vxlan when link.Device.Vxlan is { } vx:
                sb.Append("\n    vxlan id ").Append(vx.Vni.ToString(CultureInfo.InvariantCulture))
                  .Append(" srcport 0 0 dstport ").Append(vx.DstPort.ToString(CultureInfo.InvariantCulture)).Append(' ');
                if (!vx.Learning) sb.Append("nolearning ");
                if (vx.Proxy) sb.Append("proxy ");
                if (vx.L2Miss) sb.Append("l2miss ");
                if (vx.L3Miss) sb.Append("l3miss ");
                sb.Append(vx.Ttl == 0 ? "ttl auto " : "ttl " + vx.Ttl.ToString(CultureInfo.InvariantCulture) + " ");
                sb.Append("ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx ");
                break;
        }
        if (isPort && links.Find(link.Namespace, link.Device.Master!) is { } bridge && link.PortNumber is { } port)
        {
            var id = BridgeIdText(links.BridgeId(link.Namespace, bridge));
            // Path cost from the link speed (br_port_cost): a veth reports 10 Gb/s (cost 2), devices without a speed cost 100.
            var cost = kind == DeviceKind.Veth ? 2 : 100;
            sb.Append("\n    bridge_slave state forwarding priority 32 cost ").Append(cost.ToString(CultureInfo.InvariantCulture))
              .Append(" hairpin off guard off root_block off fastleave off learning on flood on port_id 0x")
              .Append((0x8000 | port).ToString("x", CultureInfo.InvariantCulture))
              .Append(" port_no 0x").Append(port.ToString("x", CultureInfo.InvariantCulture))
              .Append(" designated_port ").Append((0x8000 | port).ToString(CultureInfo.InvariantCulture))
              .Append(" designated_cost 0 designated_bridge ").Append(id).Append(" designated_root ").Append(id)
              .Append(" hold_timer    0.00 message_age_timer    0.00 forward_delay_timer    0.00 topology_change_ack 0 config_pending 0")
              .Append(" proxy_arp off proxy_arp_wifi off mcast_router 1 mcast_fast_leave off mcast_flood on bcast_flood on mcast_to_unicast off")
              .Append(" neigh_suppress off group_fwd_mask 0 group_fwd_mask_str 0x0 vlan_tunnel off isolated off locked off ");
        }
        var queues = kind == DeviceKind.Veth ? options.PossibleCpus : 1;
        var tsoMax = TsoMaxSize(links, link);
        var q = queues.ToString(CultureInfo.InvariantCulture);
        sb.Append("addrgenmode eui64 numtxqueues ").Append(q).Append(" numrxqueues ").Append(q)
          .Append(" gso_max_size 65536 gso_max_segs 65535 tso_max_size ").Append(tsoMax.ToString(CultureInfo.InvariantCulture))
          .Append(" tso_max_segs 65535 gro_max_size 65536 ");
    }

    /// <summary>
    /// veth and lo advertise GSO_MAX_SIZE (524280) as their TSO limit, VXLAN the legacy 64 KiB; a bridge takes the smallest
    /// of its ports' (64 KiB while it has none).
    /// </summary>
    private static int TsoMaxSize(LinkTable links, LinkInfo link) => link.Device.Kind switch
    {
        DeviceKind.Veth or DeviceKind.Loopback => 524280,
        DeviceKind.Bridge => links.Ports(link.Namespace, link.Name) is { Count: > 0 } ports ? ports.Min(p => TsoMaxSize(links, p)) : 65536,
        _ => 65536,
    };

    /// <summary><c>8000.2:0:0:0:be:ef</c>: ip prints a bridge id's bytes in unpadded hex.</summary>
    internal static string BridgeIdText(MacAddress mac)
    {
        var parts = new string[6];
        for (int i = 0; i < 6; i++) parts[i] = mac[i].ToString("x", CultureInfo.InvariantCulture);
        return "8000." + string.Join(":", parts);
    }
}
