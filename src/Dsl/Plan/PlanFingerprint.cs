using System;
using System.Globalization;
using SwarmDsl.Net;

namespace SwarmDsl.Plan;

/// <summary>
/// A short, stable digest of what a plan makes the dataplane do: topology name, hosts, namespaces, devices, addresses,
/// routes, neighbours, FDB entries, every netfilter rule (in iptables-save form), IPVS and nftables load balancers,
/// listeners and sysctls. Source locations and file names are left out, so the same topology compiled from another path
/// has the same fingerprint. Code generated for one plan (the generator's compiled pipeline) carries its fingerprint, and
/// the runtime refuses to attach it to a different plan.
/// </summary>
public static class PlanFingerprint
{
    /// <summary>
    /// <c>TOPOLOGY/XXXXXXXXXXXXXXXX</c>: the topology name, then 64-bit FNV-1a of the plan's content in hexadecimal.
    /// Deterministic across processes, machines and cultures.
    /// </summary>
    public static string Compute(DataplanePlan plan)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        var h = new Fnv();
        h.Add(plan.Topology).Add((int)plan.Backend);
        h.Add(plan.Underlay.Subnet).Add(plan.Underlay.Mtu).Add(plan.Underlay.DataPathPort).Add(plan.Underlay.ExternalClient.Value);
        h.Add(plan.Hosts.Count);
        foreach (var host in plan.Hosts)
        {
            h.Add(host.Node).Add(host.Hostname).Add(host.UnderlayAddress).Add(host.UnderlayInterface).Add(host.Namespaces.Count);
            foreach (var ns in host.Namespaces)
            {
                h.Add(ns.Name).Add((int)ns.Kind).Add(ns.Owner);
                h.Add(ns.Devices.Count);
                foreach (var d in ns.Devices)
                {
                    h.Add(d.Name).Add((int)d.Kind).Add(d.Mtu).Add(d.Mac?.Value ?? ulong.MaxValue).Add(d.Master);
                    h.Add(d.Peer?.Namespace).Add(d.Peer?.Device).Add(d.Vxlan?.Vni ?? -1).Add(d.Vxlan?.DstPort ?? -1);
                }
                h.Add(ns.Addresses.Count);
                foreach (var a in ns.Addresses) h.Add(a.Device).Add(a.Address);
                h.Add(ns.Routes.Count);
                foreach (var r in ns.Routes) h.Add(r.Destination).Add(r.Gateway?.Value ?? 0).Add(r.Device).Add(r.PreferredSource?.Value ?? 0).Add((int)r.Origin);
                h.Add(ns.Neighbors.Count);
                foreach (var n in ns.Neighbors) h.Add(n.Device).Add(n.Address.Value).Add(n.Mac.Value);
                h.Add(ns.Fdb.Count);
                foreach (var f in ns.Fdb) h.Add(f.Device).Add(f.Mac.Value).Add(f.RemoteVtep?.Value ?? 0);
                h.Add(ns.Tables.Count);
                foreach (var t in ns.Tables)
                {
                    h.Add(t.Name).Add(t.Chains.Count);
                    foreach (var c in t.Chains)
                    {
                        h.Add(c.Name).Add(c.BuiltIn ? 1 : 0).Add(c.Policy is { } p ? (int)p : -1).Add(c.Rules.Count);
                        foreach (var rule in c.Rules) h.Add(IptablesSyntax.Format(rule, c.Name, null));
                    }
                }
                h.Add(ns.Ipvs.Count);
                foreach (var s in ns.Ipvs)
                {
                    h.Add(s.FwMark ?? -1).Add(s.Vip.Value).Add(s.Port ?? -1).Add((int)s.Protocol).Add((int)s.Scheduler).Add(s.Destinations.Count);
                    foreach (var d in s.Destinations) h.Add(d.Address.Value).Add(d.Port).Add(d.Weight).Add((int)d.Forward).Add(d.Task);
                }
                h.Add(ns.NftLoadBalancers.Count);
                foreach (var lb in ns.NftLoadBalancers)
                {
                    h.Add(lb.FwMark).Add(lb.Vip.Value).Add((int)lb.Pick).Add((int)lb.Scheduler).Add(lb.SnatSource?.Value ?? 0).Add(lb.Slots.Count);
                    foreach (var slot in lb.Slots) h.Add(slot.Value);
                }
                h.Add(ns.Sysctls.Count);
                foreach (var s in ns.Sysctls) h.Add(s.Key).Add(s.Value);
                h.Add(ns.Listeners.Count);
                foreach (var l in ns.Listeners) h.Add((int)l.Protocol).Add(l.Port).Add(l.Owner);
            }
        }
        return plan.Topology + "/" + h.Value.ToString("x16", CultureInfo.InvariantCulture);
    }

    /// <summary>64-bit FNV-1a over UTF-16 code units and little-endian integers; strings are length-prefixed, null is -1.</summary>
    private sealed class Fnv
    {
        private const ulong Prime = 1099511628211UL;

        public ulong Value { get; private set; } = 14695981039346656037UL;

        public Fnv Add(ulong v)
        {
            ulong h = Value;
            for (int i = 0; i < 8; i++) { h ^= (byte)(v >> (8 * i)); h *= Prime; }
            Value = h;
            return this;
        }

        public Fnv Add(int v) => Add(unchecked((ulong)(uint)v));

        public Fnv Add(uint v) => Add((ulong)v);

        public Fnv Add(Ipv4Cidr c) => Add(c.Address.Value).Add(c.PrefixLength);

        public Fnv Add(string? s)
        {
            if (s is null) return Add(-1);
            Add(s.Length);
            ulong h = Value;
            foreach (char ch in s)
            {
                h ^= (byte)ch; h *= Prime;
                h ^= (byte)(ch >> 8); h *= Prime;
            }
            Value = h;
            return this;
        }
    }
}
