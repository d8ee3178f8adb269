using System;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary><c>sysctl KEY</c> and <c>netstat -i</c> (net-tools 2.10) of one namespace.</summary>
public static class ProcView
{
    /// <summary>
    /// The value the plan sets for <paramref name="key"/> (dotted or slashed), or null when the plan does not set it: its
    /// value then is the kernel's default or inherited from the host, which the plan does not know.
    /// </summary>
    public static SysctlPlan? Sysctl(NamespacePlan ns, string key)
    {
        var dotted = key.Replace('/', '.');
        return ns.Sysctls.LastOrDefault(s => s.Key == dotted);
    }

    /// <summary>
    /// <c>netstat -i</c>: interfaces sorted by name as net-tools sorts them (digits compared as numbers), with counters from
    /// <see cref="ShowOptions.State"/> (zero on a freshly applied host).
    /// </summary>
    public static string NetstatInterfaces(LinkTable links, string ns, ShowOptions options)
    {
        var sb = new StringBuilder("Kernel Interface table\n");
        sb.Append("Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n");
        var ordered = links.Links(ns).OrderBy(l => l.Name, NaturalComparer.Instance).ToList();
        foreach (var link in ordered)
        {
            var c = options.State?.Interface(links.Host.Node, ns, link.Name)
                    ?? new InterfaceCounters(0, 0, 0, 0, 0, 0, 0, 0);
            string N(ulong v, int w) => v.ToString(CultureInfo.InvariantCulture).PadLeft(w);
            sb.Append(link.Name.PadRight(15)).Append(' ')
              .Append(link.Device.Mtu.ToString(CultureInfo.InvariantCulture).PadLeft(5))
              .Append(' ').Append(N(c.RxPackets, 8)).Append(' ').Append(N(c.RxErrors, 6)).Append(' ').Append(N(c.RxDropped, 6))
              .Append(' ').Append(c.RxOverruns.ToString(CultureInfo.InvariantCulture).PadRight(6))
              .Append(' ').Append(N(c.TxPackets, 8)).Append(' ').Append(N(c.TxErrors, 6)).Append(' ').Append(N(c.TxDropped, 6))
              .Append(' ').Append(N(c.TxOverruns, 6))
              // Flags: Broadcast/Loopback, Multicast, Running, Up (a bridge port's promiscuity is not the user's, so no P).
              .Append(' ').Append(link.Device.Kind == DeviceKind.Loopback ? "LRU" : "BMRU").Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// <c>conntrack -L [-p PROTO]</c> (conntrack-tools 1.4.7): the entries of <see cref="ShowOptions.State"/> on standard output
    /// and the count on standard error; a freshly applied namespace has none.
    /// </summary>
    public static (string Output, string Error) Conntrack(HostPlan host, NamespacePlan ns, IpProtocol? protocol, ShowOptions options)
    {
        var sb = new StringBuilder();
        int count = 0;
        foreach (var e in options.State?.ConntrackEntries(host.Node, ns.Name) ?? (System.Collections.Generic.IReadOnlyList<ConntrackEntry>)Array.Empty<ConntrackEntry>())
        {
            if (protocol is { } p && e.Protocol != p) continue;
            count++;
            sb.Append(e.Protocol.Name().PadRight(8)).Append(' ').Append(((int)e.Protocol).ToString(CultureInfo.InvariantCulture)).Append(' ')
              .Append(e.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append(' ');
            if (e.TcpState is not null) sb.Append(e.TcpState).Append(' ');
            AppendTuple(sb, e.Protocol, e.Original, reply: false);
            if (e.Unreplied) sb.Append("[UNREPLIED] ");
            AppendTuple(sb, e.Protocol, e.Reply, reply: true);
            if (e.Assured) sb.Append("[ASSURED] ");
            sb.Append("mark=").Append(e.Mark.ToString(CultureInfo.InvariantCulture)).Append(" use=1\n");
        }
        return (sb.ToString(), "conntrack v1.4.7 (conntrack-tools): " + count.ToString(CultureInfo.InvariantCulture) + " flow entries have been shown.\n");
    }

    private static void AppendTuple(StringBuilder sb, IpProtocol protocol, ConntrackTuple t, bool reply)
    {
        sb.Append("src=").Append(t.Source.ToString()).Append(" dst=").Append(t.Destination.ToString()).Append(' ');
        if (protocol == IpProtocol.Icmp)
            sb.Append("type=").Append(t.DestinationPort.ToString(CultureInfo.InvariantCulture)).Append(" code=").Append(t.IcmpCode.ToString(CultureInfo.InvariantCulture))
              .Append(" id=").Append(t.SourcePort.ToString(CultureInfo.InvariantCulture)).Append(' ');
        else
            sb.Append("sport=").Append(t.SourcePort.ToString(CultureInfo.InvariantCulture)).Append(" dport=").Append(t.DestinationPort.ToString(CultureInfo.InvariantCulture)).Append(' ');
    }

    /// <summary>
    /// net-tools' nstrcmp: names that differ only in a trailing number compare by that number (eth2 before eth10); others
    /// compare as strings (veth157550a before veth2698d47).
    /// </summary>
    private sealed class NaturalComparer : System.Collections.Generic.IComparer<string>
    {
        public static readonly NaturalComparer Instance = new();

        public int Compare(string? a, string? b)
        {
            a ??= "";
            b ??= "";
            var (baseA, numA) = Split(a);
            var (baseB, numB) = Split(b);
            if (baseA == baseB && numA != numB) return numA.CompareTo(numB);
            return string.CompareOrdinal(a, b);
        }

        private static (string Base, long Number) Split(string name)
        {
            int i = name.Length;
            while (i > 0 && char.IsDigit(name[i - 1])) i--;
            if (i == name.Length || name.Length - i > 18) return (name, -1);
            return (name.Substring(0, i), long.Parse(name.Substring(i), CultureInfo.InvariantCulture));
        }
    }
}
