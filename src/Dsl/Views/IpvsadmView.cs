using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Views;

/// <summary>What <c>ipvsadm -L -n</c> prints.</summary>
public enum IpvsListMode
{
    /// <summary>Services and real servers with connection counts.</summary>
    Services,
    /// <summary><c>--stats</c>: traffic counters.</summary>
    Statistics,
    /// <summary><c>-c</c>: the connection table.</summary>
    Connections,
}

/// <summary>
/// <c>ipvsadm -L -n</c> (ipvsadm 1.31) of one namespace: services sorted as ipvsadm sorts them (VIP:port services by
/// protocol, address and port, then fwmark services by mark), real servers by address and port. Counters and connections come
/// from <see cref="ShowOptions.State"/>; without it the host is freshly applied (zeros, no connections).
/// </summary>
public static class IpvsadmView
{
    /// <summary>Renders the IPVS table of <paramref name="ns"/>.</summary>
    public static string Render(HostPlan host, NamespacePlan ns, IpvsListMode mode, ShowOptions options)
    {
        var state = options.State;
        var sb = new StringBuilder();
        if (mode == IpvsListMode.Connections)
        {
            sb.Append("IPVS connection entries\n");
            sb.Append("pro expire state       source             virtual            destination\n");
            foreach (var c in state?.IpvsConnections(host.Node, ns.Name) ?? new List<IpvsConnection>())
            {
                var expire = string.Format(CultureInfo.InvariantCulture, "{0:00}:{1:00}", c.ExpiresInSeconds / 60, c.ExpiresInSeconds % 60);
                sb.Append(c.Protocol.Name().ToUpperInvariant().PadRight(3)).Append(' ').Append(expire).Append("  ")
                  .Append(c.State.PadRight(11)).Append(' ')
                  .Append(Endpoint(c.Client, c.ClientPort).PadRight(18)).Append(' ')
                  .Append(Endpoint(c.Virtual, c.VirtualPort).PadRight(18)).Append(' ')
                  .Append(Endpoint(c.Destination, c.DestinationPort)).Append('\n');
            }
            return sb.ToString();
        }
        sb.Append("IP Virtual Server version 1.2.1 (size=4096)\n");
        if (mode == IpvsListMode.Statistics)
            sb.Append("Prot LocalAddress:Port".PadRight(33)).Append("    Conns   InPkts  OutPkts  InBytes OutBytes\n")
              .Append("  -> RemoteAddress:Port\n");
        else
            sb.Append("Prot LocalAddress:Port Scheduler Flags\n")
              .Append("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");

        var services = ns.Ipvs
            .OrderBy(s => s.FwMark ?? 0)
            .ThenBy(s => (int)s.Protocol)
            .ThenBy(s => s.Vip.Value)
            .ThenBy(s => s.Port ?? 0);
        foreach (var s in services)
        {
            var name = s.FwMark is { } mark
                ? "FWM  " + mark.ToString(CultureInfo.InvariantCulture)
                : s.Protocol.Name().ToUpperInvariant() + "  " + Endpoint(s.Vip, s.Port ?? 0);
            if (mode == IpvsListMode.Statistics)
            {
                var st = state?.IpvsService(host.Node, ns.Name, s.FwMark, s.Vip, s.Port);
                sb.Append(name.PadRight(33)).Append(Stats(st)).Append('\n');
            }
            else sb.Append(name).Append(' ').Append(SchedulerName(s.Scheduler)).Append('\n');
            foreach (var d in s.Destinations.OrderBy(d => d.Address.Value).ThenBy(d => d.Port))
            {
                var live = state?.IpvsDestination(host.Node, ns.Name, s.FwMark, s.Vip, s.Port, d.Address);
                var dest = Endpoint(d.Address, d.Port);
                if (mode == IpvsListMode.Statistics)
                    sb.Append("  -> ").Append(dest.PadRight(28)).Append(Stats(live?.Statistics)).Append('\n');
                else
                    sb.Append("  -> ").Append(dest.PadRight(28)).Append(' ')
                      .Append((d.Forward == IpvsForward.Masquerade ? "Masq" : "Route").PadRight(7)).Append(' ')
                      .Append(d.Weight.ToString(CultureInfo.InvariantCulture).PadRight(6)).Append(' ')
                      .Append((live?.ActiveConnections ?? 0).ToString(CultureInfo.InvariantCulture).PadRight(10)).Append(' ')
                      .Append((live?.InactiveConnections ?? 0).ToString(CultureInfo.InvariantCulture).PadRight(10)).Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>The kernel's scheduler module name.</summary>
    public static string SchedulerName(Scheduler s) => s.ToString().ToLowerInvariant();

    private static string Endpoint(Ipv4Address a, int port) => a + ":" + port.ToString(CultureInfo.InvariantCulture);

    private static string Stats(IpvsStatistics? s)
    {
        s ??= new IpvsStatistics(0, 0, 0, 0, 0);
        return LargeNumber(s.Connections) + LargeNumber(s.InPackets) + LargeNumber(s.OutPackets) + LargeNumber(s.InBytes) + LargeNumber(s.OutBytes);
    }

    /// <summary>ipvsadm's print_largenum: nine columns, with K/M/G/T above 100 million.</summary>
    private static string LargeNumber(ulong i)
    {
        if (i < 100_000_000UL) return i.ToString(CultureInfo.InvariantCulture).PadLeft(9);
        if (i < 1_000_000_000UL) return (i / 1000).ToString(CultureInfo.InvariantCulture).PadLeft(8) + "K";
        if (i < 100_000_000_000UL) return (i / 1_000_000).ToString(CultureInfo.InvariantCulture).PadLeft(8) + "M";
        if (i < 100_000_000_000_000UL) return (i / 1_000_000_000).ToString(CultureInfo.InvariantCulture).PadLeft(8) + "G";
        return (i / 1_000_000_000_000UL).ToString(CultureInfo.InvariantCulture).PadLeft(8) + "T";
    }
}
