using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Text;

namespace SwarmDsl.Runtime.Engine;

/// <summary>A namespace's main routing table compiled to a prefix decision.</summary>
/// <param name="destination">The destination address (host order).</param>
/// <returns>The index of the longest-prefix route (the index the route trie holds), or -1 when no route matches.</returns>
public delegate int CompiledRouteLookup(uint destination);

/// <summary>A bridge's permanent FDB entries (local and static) compiled to a switch on the MAC.</summary>
/// <param name="mac">The MAC (<see cref="MacAddress.Value"/>).</param>
/// <param name="entry">The entry, when permanent.</param>
/// <returns>False when the MAC has no permanent entry: the learned table decides.</returns>
public delegate bool CompiledFdbLookup(ulong mac, out FdbEntry entry);

/// <summary>A VXLAN device's static remote-VTEP entries compiled to a switch on the MAC.</summary>
/// <param name="mac">The inner destination MAC (<see cref="MacAddress.Value"/>).</param>
/// <param name="entry">The entry, when static.</param>
/// <returns>False when the MAC has no static entry: the learned table decides.</returns>
public delegate bool CompiledVxlanFdbLookup(ulong mac, out VxlanFdbEntry entry);

/// <summary>
/// Compiled forwarding lookups for the namespaces of one plan (the generator's <c>CompiledForwarding</c>): route lookups
/// and the permanent parts of bridge and VXLAN FDBs as code. The content is what <see cref="ForwardingView"/> reads off a
/// freshly loaded <see cref="Cluster"/> of the same plan, so the kernel behaviour behind it (connected routes, local
/// entries of bridge ports) stays the Runtime's. Learned entries stay state: a compiled FDB that does not know a MAC hands
/// the lookup back to the learned table.
/// </summary>
public interface ICompiledForwarding
{
    /// <summary>
    /// <see cref="SwarmDsl.Plan.PlanFingerprint.Compute"/> of the plan the code was generated from: route indices and MACs
    /// of another plan would forward silently wrong, so <see cref="Cluster.AttachForwarding"/> refuses it.
    /// </summary>
    string PlanFingerprint { get; }

    /// <summary>The compiled main table of a namespace, or null to keep the route trie.</summary>
    /// <param name="node">The node (<see cref="NamespaceRuntime.Node"/>).</param>
    /// <param name="namespaceName">The namespace name.</param>
    CompiledRouteLookup? Routes(string node, string namespaceName);

    /// <summary>The compiled permanent entries of a bridge's FDB, or null to keep the table alone.</summary>
    /// <param name="node">The node.</param>
    /// <param name="namespaceName">The namespace name.</param>
    /// <param name="bridge">The bridge device.</param>
    CompiledFdbLookup? BridgeFdb(string node, string namespaceName, string bridge);

    /// <summary>The compiled static entries of a VXLAN device's FDB, or null to keep the table alone.</summary>
    /// <param name="node">The node.</param>
    /// <param name="namespaceName">The namespace name.</param>
    /// <param name="device">The VXLAN device.</param>
    CompiledVxlanFdbLookup? VxlanFdb(string node, string namespaceName, string device);
}

/// <summary>One route of a namespace's effective main table: its index (what the lookup returns) and the route.</summary>
/// <param name="Index">Index in the namespace's route list (the value the route trie holds).</param>
/// <param name="Route">The route (a plan route, or one the kernel adds, such as the underlay's connected route).</param>
internal readonly record struct EffectiveRoute(int Index, RoutePlan Route);

/// <summary>One permanent entry of a bridge FDB as loading leaves it.</summary>
/// <param name="Mac">The MAC.</param>
/// <param name="Entry">The entry (port, kind).</param>
/// <param name="PortName">The port's (for local entries: the owning device's) name.</param>
/// <param name="Span">The plan's FDB entry behind it, else the device's declaration.</param>
internal readonly record struct EffectiveFdbEntry(MacAddress Mac, FdbEntry Entry, string PortName, SourceSpan Span);

/// <summary>One static remote-VTEP entry of a VXLAN device as loading leaves it.</summary>
/// <param name="Mac">The MAC.</param>
/// <param name="RemoteVtep">The remote tunnel endpoint.</param>
/// <param name="Span">The plan's FDB entry behind it.</param>
internal readonly record struct EffectiveVxlanEntry(MacAddress Mac, Ipv4Address RemoteVtep, SourceSpan Span);

/// <summary>The effective, static forwarding content of one namespace of a loaded cluster.</summary>
internal sealed class NamespaceForwarding
{
    internal NamespaceForwarding(string node, string name, IReadOnlyList<EffectiveRoute> routes,
        IReadOnlyList<(string Bridge, IReadOnlyList<EffectiveFdbEntry> Entries)> bridges,
        IReadOnlyList<(string Device, IReadOnlyList<EffectiveVxlanEntry> Entries)> vxlans)
    {
        Node = node;
        Name = name;
        Routes = routes;
        Bridges = bridges;
        Vxlans = vxlans;
    }

    /// <summary>The node.</summary>
    public string Node { get; }
    /// <summary>The namespace.</summary>
    public string Name { get; }
    /// <summary>The main table in lookup order: longest prefix first, equal lengths in the order added (they cannot overlap).</summary>
    public IReadOnlyList<EffectiveRoute> Routes { get; }
    /// <summary>Each bridge (device order) with its permanent entries (local and static), by MAC.</summary>
    public IReadOnlyList<(string Bridge, IReadOnlyList<EffectiveFdbEntry> Entries)> Bridges { get; }
    /// <summary>Each VXLAN device (device order) with its static remote-VTEP entries, by MAC.</summary>
    public IReadOnlyList<(string Device, IReadOnlyList<EffectiveVxlanEntry> Entries)> Vxlans { get; }
}

/// <summary>
/// What the walker's route and FDB lookups hold for a namespace before any traffic: read off the Runtime's own loaded
/// structures (the route list the trie indexes, the FDBs <see cref="Cluster.LoadFdb"/> builds), so a code generator can
/// print them without knowing which routes and entries the kernel adds by itself.
/// </summary>
internal static class ForwardingView
{
    /// <summary>
    /// The effective forwarding content of every namespace of <paramref name="nodes"/> (null: every node), in plan order.
    /// A namespace's routes and FDBs depend only on its own host (its devices, addresses, the host's underlay), so only those
    /// hosts are loaded: a generator compiling two nodes of a 50-node plan need not build the other 48.
    /// </summary>
    public static IReadOnlyList<NamespaceForwarding> Of(DataplanePlan plan, ICollection<string>? nodes)
    {
        var loaded = plan;
        if (nodes is not null)
        {
            var hosts = new List<HostPlan>();
            foreach (var h in plan.Hosts) if (nodes.Contains(h.Node)) hosts.Add(h);
            loaded = plan with { Hosts = new Collections.EquatableArray<HostPlan>(hosts) };
        }
        var cluster = new Cluster(loaded);
        var views = new List<NamespaceForwarding>();
        foreach (var ns in cluster.Namespaces)
            if (ns.Plan is not null) views.Add(Of(ns));
        return views;
    }

    /// <summary>The effective forwarding content of <paramref name="ns"/> (a plan namespace of a cluster no traffic has changed).</summary>
    public static NamespaceForwarding Of(NamespaceRuntime ns)
    {
        var routes = new List<EffectiveRoute>(ns.Routes.Count);
        for (int i = 0; i < ns.Routes.Count; i++) routes.Add(new EffectiveRoute(i, ns.Routes[i]));
        // Stable: equal prefix lengths keep the order added (List.Sort is not stable, so the index breaks ties).
        routes.Sort((a, b) =>
        {
            int c = b.Route.Destination.PrefixLength.CompareTo(a.Route.Destination.PrefixLength);
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });

        var bridges = new List<(string, IReadOnlyList<EffectiveFdbEntry>)>();
        var vxlans = new List<(string, IReadOnlyList<EffectiveVxlanEntry>)>();
        // The last plan entry for a (device, MAC) is the one loading kept: its span. An overlay namespace of a large plan
        // holds thousands, so they are indexed once rather than searched per entry.
        var planSpans = new Dictionary<(string Device, ulong Mac), SourceSpan>();
        if (ns.Plan is { } plan)
            foreach (var f in plan.Fdb) planSpans[(f.Device, f.Mac.Value)] = f.Span;
        SourceSpan? PlanSpan(string device, MacAddress mac) => planSpans.TryGetValue((device, mac.Value), out var span) ? span : null;
        foreach (var d in ns.Devices)
        {
            if (d.Fdb is { } fdb)
            {
                var entries = new List<EffectiveFdbEntry>();
                foreach (var kv in fdb.Snapshot())
                {
                    if (kv.Value.Kind == FdbEntryKind.Learned) continue;
                    var owner = ns.Devices[kv.Value.Port];
                    entries.Add(new EffectiveFdbEntry(kv.Key, kv.Value, owner.Name, PlanSpan(owner.Name, kv.Key) ?? owner.Span));
                }
                bridges.Add((d.Name, entries));
            }
            if (d.VxlanFdb is { } vxlan)
            {
                var entries = new List<EffectiveVxlanEntry>();
                foreach (var kv in vxlan.StaticEntries())
                    entries.Add(new EffectiveVxlanEntry(kv.Key, kv.Value.RemoteVtep, PlanSpan(d.Name, kv.Key) ?? d.Span));
                vxlans.Add((d.Name, entries));
            }
        }
        return new NamespaceForwarding(ns.Node, ns.Name, routes, bridges, vxlans);
    }
}
