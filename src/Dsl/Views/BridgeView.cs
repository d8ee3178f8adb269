using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>
/// <c>bridge fdb show</c> (iproute2 6.1) and <c>brctl show</c> / <c>brctl showmacs</c> (bridge-utils 1.7) of one namespace.
/// Only what exists on a freshly applied host is shown: the kernel's local (permanent) entries, the plan's static entries,
/// and the IPv4 multicast addresses every up interface joins (224.0.0.1, and 224.0.0.106 on bridges, which snoop IGMP).
/// Entries learned from traffic, and IPv6 multicast (33:33:…) entries, are not modelled.
/// </summary>
public static class BridgeView
{
    private static readonly MacAddress AllHosts = new(0x01005e000001UL);
    private static readonly MacAddress AllSnoopers = new(0x01005e00006aUL);

    /// <summary><c>bridge fdb show [dev DEV]</c>; null when the device does not exist.</summary>
    public static string? Fdb(LinkTable links, string ns, string? device)
    {
        var plan = links.Namespace(ns);
        if (plan is null) return null;
        if (device is not null && links.Find(ns, device) is null) return null;
        var sb = new StringBuilder();
        // rtnl_fdb_dump walks devices in index order: for a bridge port, first the bridge's entries for that port, then the
        // device's own table (a VXLAN device's remote entries, or the unicast and multicast address lists).
        foreach (var link in links.Links(ns))
        {
            if (link.Device.Kind == DeviceKind.Loopback) continue; // not an Ethernet device: no FDB
            if (device is not null && link.Name != device) continue;
            string Dev() => device is null ? " dev " + link.Name : "";
            if (link.Device.Master is { } master)
                sb.Append(link.Mac.ToString()).Append(Dev()).Append(" master ").Append(master).Append(" permanent\n");
            switch (link.Device.Kind)
            {
                case DeviceKind.Vxlan:
                    foreach (var f in plan.Fdb.Where(f => f.Device == link.Name))
                    {
                        sb.Append(f.Mac.ToString()).Append(Dev());
                        if (f.RemoteVtep is { } vtep) sb.Append(" dst ").Append(vtep.ToString());
                        if (link.LinkNamespace is { } socketNs)
                            sb.Append(" link-netnsid ").Append(links.NetnsId(ns, socketNs).ToString(CultureInfo.InvariantCulture));
                        sb.Append(" self permanent\n");
                    }
                    break;
                case DeviceKind.Bridge:
                    AppendStatic(sb, plan, link, Dev());
                    sb.Append(AllSnoopers.ToString()).Append(Dev()).Append(" self permanent\n");
                    sb.Append(AllHosts.ToString()).Append(Dev()).Append(" self permanent\n");
                    // The bridge's own address has an entry of its own unless a port already carries it.
                    if (!links.Ports(ns, link.Name).Any(p => p.Mac == link.Mac))
                        sb.Append(link.Mac.ToString()).Append(Dev()).Append(" master ").Append(link.Name).Append(" permanent\n");
                    break;
                default:
                    AppendStatic(sb, plan, link, Dev());
                    sb.Append(AllHosts.ToString()).Append(Dev()).Append(" self permanent\n");
                    break;
            }
        }
        return sb.ToString();
    }

    private static void AppendStatic(StringBuilder sb, NamespacePlan plan, LinkInfo link, string dev)
    {
        foreach (var f in plan.Fdb.Where(f => f.Device == link.Name))
            sb.Append(f.Mac.ToString()).Append(dev).Append(" self permanent\n");
    }

    /// <summary><c>brctl show [BRIDGE]</c>: bridges and their ports by name; null when <paramref name="bridge"/> is not a bridge.</summary>
    public static string? BrctlShow(LinkTable links, string ns, string? bridge)
    {
        if (links.Namespace(ns) is null) return null;
        var bridges = links.Links(ns).Where(l => l.Device.Kind == DeviceKind.Bridge && (bridge is null || l.Name == bridge))
            .OrderBy(l => l.Name, System.StringComparer.Ordinal).ToList();
        if (bridge is not null && bridges.Count == 0) return null;
        // brctl prints its header only when there is a bridge to list.
        if (bridges.Count == 0) return "";
        var sb = new StringBuilder("bridge name\tbridge id\t\tSTP enabled\tinterfaces\n");
        foreach (var br in bridges)
        {
            var ports = links.Ports(ns, br.Name).Select(p => p.Name).OrderBy(n => n, System.StringComparer.Ordinal).ToList();
            sb.Append(br.Name).Append("\t\t8000.").Append(Hex(links.BridgeId(ns, br))).Append("\tno\t\t");
            sb.Append(ports.Count > 0 ? ports[0] : "").Append('\n');
            for (int i = 1; i < ports.Count; i++) sb.Append("\t\t\t\t\t\t\t").Append(ports[i]).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary><c>brctl showmacs BRIDGE</c>: the bridge's forwarding table sorted by MAC (local entries of its ports).</summary>
    public static string? BrctlShowMacs(LinkTable links, string ns, string bridge)
    {
        if (links.Find(ns, bridge) is not { Device.Kind: DeviceKind.Bridge }) return null;
        var sb = new StringBuilder("port no\tmac addr\t\tis local?\tageing timer\n");
        foreach (var port in links.Ports(ns, bridge).OrderBy(p => p.Mac.Value).ThenBy(p => p.PortNumber))
            sb.Append(port.PortNumber!.Value.ToString(CultureInfo.InvariantCulture).PadLeft(3)).Append('\t')
              .Append(port.Mac.ToString()).Append("\tyes\t\t   0.00\n");
        return sb.ToString();
    }

    private static string Hex(MacAddress mac) => mac.ToString().Replace(":", "");
}
