using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Plan;

namespace SwarmDsl.Emit;

/// <summary>One end of a veth pair: its namespace, its device, and the device's plan (null when the plan lacks it).</summary>
internal sealed record VethEnd(string Namespace, string Device, DevicePlan? Plan, string TempName);

/// <summary>A veth pair, created in the host namespace under temporary names and moved, as Docker does.</summary>
internal sealed record VethPair(VethEnd A, VethEnd B, DevicePlan Declared);

/// <summary>A VXLAN device created in <see cref="CreatedIn"/> (so its UDP socket stays there) and moved into its namespace.</summary>
internal sealed record VxlanMove(string Namespace, DevicePlan Device, VxlanPlan Vxlan, string CreatedIn, string TempName);

/// <summary>
/// How one host's plan is laid out as shell work: which namespaces are created, which devices are made where and under
/// which temporary names, which files accompany the scripts. Printing decisions only; the plan decided everything else.
/// </summary>
internal sealed class NodeLayout
{
    public NodeLayout(DataplanePlan plan, HostPlan host)
    {
        Plan = plan;
        Host = host;
        HostNamespace = host.Namespaces.FirstOrDefault(n => n.Kind == NamespaceKind.Host)?.Name ?? "host";
        Created = host.Namespaces.Where(n => n.Kind != NamespaceKind.Host).ToList();
        All = host.Namespaces.Where(n => n.Kind == NamespaceKind.Host).Concat(Created).ToList();
        foreach (var ns in host.Namespaces) CheckName(ns.Name, "namespace");

        var byNs = host.Namespaces.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ns in host.Namespaces)
        {
            foreach (var d in ns.Devices)
            {
                CheckName(d.Name, "device");
                if (d.Kind == DeviceKind.Veth && d.Peer is { } peer)
                {
                    // One pair per unordered pair of ends, whichever end the plan marks as creating it.
                    var keyA = ns.Name + "/" + d.Name;
                    var keyB = peer.Namespace + "/" + peer.Device;
                    var key = string.CompareOrdinal(keyA, keyB) < 0 ? keyA + "|" + keyB : keyB + "|" + keyA;
                    if (!seen.Add(key)) continue;
                    CheckName(peer.Namespace, "namespace");
                    CheckName(peer.Device, "device");
                    var peerPlan = byNs.TryGetValue(peer.Namespace, out var pns) ? pns.Devices.FirstOrDefault(x => x.Name == peer.Device) : null;
                    var tmp = "sw" + Hash(plan.Topology + "/" + host.Node + "/" + key).ToString("x8", CultureInfo.InvariantCulture);
                    var a = new VethEnd(ns.Name, d.Name, d, tmp + "a");
                    var b = new VethEnd(peer.Namespace, peer.Device, peerPlan, tmp + "b");
                    // The end in the host namespace second, so the end that moves away is named first (as in the plan's dump).
                    Pairs.Add(a.Namespace == HostNamespace && b.Namespace != HostNamespace ? new VethPair(b, a, d) : new VethPair(a, b, d));
                }
                else if (d.Kind == DeviceKind.Vxlan && d.Vxlan is { } vx && vx.CreatedIn != ns.Name)
                {
                    CheckName(vx.CreatedIn, "namespace");
                    var tmp = "vx-" + (vx.Vni & 0xFFFFFF).ToString("x6", CultureInfo.InvariantCulture) + "-"
                        + Hash(plan.Topology + "/" + host.Node + "/" + ns.Name + "/" + d.Name).ToString("x8", CultureInfo.InvariantCulture).Substring(0, 5);
                    Vxlans.Add(new VxlanMove(ns.Name, d, vx, vx.CreatedIn, tmp));
                }
            }
        }
    }

    public DataplanePlan Plan { get; }
    public HostPlan Host { get; }

    /// <summary>The name the plan gives the host's own namespace (<c>host</c>).</summary>
    public string HostNamespace { get; }

    /// <summary>The namespaces the scripts create, in creation order.</summary>
    public List<NamespacePlan> Created { get; }

    /// <summary>The host namespace (if any) followed by the created ones.</summary>
    public List<NamespacePlan> All { get; }

    public List<VethPair> Pairs { get; } = new();
    public List<VxlanMove> Vxlans { get; } = new();

    public bool IsHost(string ns) => ns == HostNamespace;

    /// <summary>The namespace as a shell word: <c>""</c> for the host's own, <c>"${P}name"</c> otherwise.</summary>
    public string NsWord(string ns) => IsHost(ns) ? "\"\"" : "\"${P}" + Shell.EscapeInDoubleQuotes(ns) + "\"";

    /// <summary>The namespace inside a double-quoted batch line: <c>${P}name</c>.</summary>
    public string NsInQuotes(string ns) => "${P}" + Shell.EscapeInDoubleQuotes(ns);

    /// <summary>Whether apply makes the device (everything but lo and the physical underlay).</summary>
    public static bool IsCreated(DevicePlan d) => d.Kind is not (DeviceKind.Loopback or DeviceKind.Physical);

    /// <summary>The files that go beside the scripts for this node, in order.</summary>
    public IEnumerable<(NamespacePlan Ns, string File, string Kind)> DataFiles()
    {
        foreach (var ns in All)
        {
            if (IptablesRestoreEmitter.HasRules(ns)) yield return (ns, IptablesRestoreEmitter.FileName(ns.Name), "iptables");
            if (Plan.Backend == LoadBalancerBackend.Ipvs && ns.Ipvs.Count > 0) yield return (ns, IpvsRestoreEmitter.FileName(ns.Name), "ipvs");
            if (Plan.Backend == LoadBalancerBackend.Nftables && ns.NftLoadBalancers.Count > 0) yield return (ns, NftablesEmitter.FileName(ns.Name), "nft");
        }
    }

    /// <summary>Namespace and device names reach ip -batch lines, file names and shell words: refuse anything unsafe (upstream validates names; this is a guard against bugs).</summary>
    private static void CheckName(string name, string what)
    {
        bool ok = name.Length > 0 && name.Length <= 200 && name != "." && name != ".." && name[0] != '-';
        foreach (var c in name)
            if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.')) ok = false;
        if (!ok) throw new ArgumentException($"the plan has an unsafe {what} name '{name}' (names are validated before lowering; this is a bug)");
    }

    /// <summary>FNV-1a, for short deterministic temporary names.</summary>
    private static uint Hash(string s)
    {
        uint h = 2166136261;
        foreach (var c in s) { h ^= c; h *= 16777619; }
        return h;
    }
}
