using System.Globalization;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Emit;

/// <summary>
/// <c>ipvs-&lt;ns&gt;.rules</c>: <c>ipvsadm-restore</c> input (one ipvsadm command per line; the format has no comments, so
/// apply.sh names each service's YAML line instead). In a namespace swarmdsl creates, the file starts with <c>-C</c>, so a
/// second load replaces the table; in the host's own namespace apply.sh deletes swarmdsl's services one by one first.
/// </summary>
public static class IpvsRestoreEmitter
{
    /// <summary>The file name for namespace <paramref name="ns"/>.</summary>
    public static string FileName(string ns) => "ipvs-" + ns + ".rules";

    /// <summary>The restore file of <paramref name="ns"/>.</summary>
    public static string Emit(NamespacePlan ns)
    {
        var sb = new StringBuilder();
        if (ns.Kind != NamespaceKind.Host) sb.Append("-C\n");
        foreach (var service in ns.Ipvs)
        {
            var id = ServiceId(service);
            sb.Append("-A ").Append(id).Append(" -s ").Append(SchedulerName(service.Scheduler)).Append('\n');
            foreach (var d in service.Destinations)
                sb.Append("-a ").Append(id).Append(" -r ").Append(d.Address.ToString()).Append(':').Append(d.Port.ToString(CultureInfo.InvariantCulture))
                  .Append(d.Forward == IpvsForward.DirectRoute ? " -g" : " -m").Append(" -w ").Append(d.Weight.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary><c>-f 256</c>, or <c>-t VIP:PORT</c> / <c>-u VIP:PORT</c> / <c>--sctp-service VIP:PORT</c>.</summary>
    public static string ServiceId(IpvsServicePlan s)
    {
        if (s.FwMark is int mark) return "-f " + mark.ToString(CultureInfo.InvariantCulture);
        var flag = s.Protocol switch { IpProtocol.Udp => "-u", IpProtocol.Sctp => "--sctp-service", _ => "-t" };
        return flag + " " + s.Vip + ":" + (s.Port ?? 0).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The ipvsadm scheduler name.</summary>
    public static string SchedulerName(Scheduler s) => s switch
    {
        Scheduler.Wrr => "wrr",
        Scheduler.Lc => "lc",
        Scheduler.Wlc => "wlc",
        Scheduler.Sh => "sh",
        Scheduler.Dh => "dh",
        _ => "rr",
    };
}
