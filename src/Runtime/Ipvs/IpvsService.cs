using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Ipvs;

/// <summary>Traffic counters as <c>ipvsadm -L --stats</c> shows them.</summary>
public struct IpvsStats
{
    /// <summary>Connections scheduled.</summary>
    public long Connections;
    /// <summary>Packets client → real server.</summary>
    public long InPackets;
    /// <summary>Packets real server → client.</summary>
    public long OutPackets;
    /// <summary>Bytes client → real server.</summary>
    public long InBytes;
    /// <summary>Bytes real server → client.</summary>
    public long OutBytes;
}

/// <summary>A real server (<c>struct ip_vs_dest</c>) with its connection counters.</summary>
public sealed class IpvsDestination
{
    /// <summary>Creates a destination.</summary>
    public IpvsDestination(Ipv4Address address, int port, int weight, IpvsForward forward, string task, SourceSpan span)
    {
        Address = address;
        Port = port;
        Weight = weight;
        Forward = forward;
        Task = task;
        Span = span;
    }

    /// <summary>Real server address.</summary>
    public Ipv4Address Address { get; }
    /// <summary>Real server port (0: keep the packet's port).</summary>
    public int Port { get; }
    /// <summary>Weight (0: quiesced).</summary>
    public int Weight { get; set; }
    /// <summary>Forwarding method.</summary>
    public IpvsForward Forward { get; }
    /// <summary>The task behind it.</summary>
    public string Task { get; }
    /// <summary>Its declaration.</summary>
    public SourceSpan Span { get; }
    /// <summary><c>activeconns</c>.</summary>
    public int ActiveConnections { get; internal set; }
    /// <summary><c>inactconns</c>.</summary>
    public int InactiveConnections { get; internal set; }
    /// <summary>Counters.</summary>
    public IpvsStats Stats;

    /// <summary><c>ip_vs_dest_conn_overhead</c>: activeconns·256 + inactconns.</summary>
    public long Overhead => ((long)ActiveConnections << 8) + InactiveConnections;
}

/// <summary>A virtual service (<c>struct ip_vs_service</c>): fwmark or VIP:port, scheduler, destinations.</summary>
public sealed class IpvsService
{
    /// <summary>
    /// Builds the service from its plan, adding destinations one by one as ipvsadm would (the plan's order is the order of
    /// the <c>-a</c> lines in the restore file).
    /// </summary>
    public IpvsService(IpvsServicePlan plan)
    {
        Plan = plan;
        Scheduler = IpvsScheduler.Create(plan.Scheduler);
        var list = new List<IpvsDestination>();
        Destinations = Array.Empty<IpvsDestination>();
        Scheduler.DestinationsChanged(this);
        foreach (var d in plan.Destinations)
        {
            // __ip_vs_update_dest: list_add_rcu(&dest->n_list, &svc->destinations) links a new destination at the HEAD,
            // so the kernel's list (which every scheduler walks) holds the last added first.
            list.Insert(0, new IpvsDestination(d.Address, d.Port, d.Weight, d.Forward, d.Task, d.Span));
            Destinations = list.ToArray();
            Scheduler.DestinationsChanged(this);
        }
    }

    /// <summary>The plan.</summary>
    public IpvsServicePlan Plan { get; }
    /// <summary>The scheduler with its state.</summary>
    public IpvsScheduler Scheduler { get; }
    /// <summary>Destinations in the kernel's list order: the last added first (see the constructor).</summary>
    public IpvsDestination[] Destinations { get; private set; }
    /// <summary>Counters.</summary>
    public IpvsStats Stats;

    /// <summary><c>FWM 256</c> or <c>TCP 10.0.0.5:80</c>.</summary>
    public string Describe() => Plan.FwMark is int m
        ? "FWM " + m.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : Plan.Protocol.Name().ToUpperInvariant() + " " + Plan.Vip + ":" + (Plan.Port ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Changes a destination's weight (<c>ipvsadm -e -w</c>), notifying the scheduler.</summary>
    public void SetWeight(int destination, int weight)
    {
        Destinations[destination].Weight = weight;
        Scheduler.DestinationsChanged(this);
    }
}
