using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Lowering;

/// <summary>One namespace while lowering fills it; <see cref="Build"/> freezes it into a <see cref="NamespacePlan"/>.</summary>
internal sealed class NamespaceBuilder
{
    /// <summary>The MTU the kernel gives <c>lo</c>.</summary>
    public const int LoopbackMtu = 65536;

    public NamespaceBuilder(string name, NamespaceKind kind, string owner, SourceSpan span)
    {
        Name = name;
        Kind = kind;
        Owner = owner;
        Span = span;
        // Every namespace has lo; the kernel gives it 127.0.0.1/8 when it is brought up, so no address is planned for it.
        Devices.Add(new DevicePlan("lo", DeviceKind.Loopback, LoopbackMtu, null, null, null, null, SourceSpan.None));
    }

    public string Name { get; }
    public NamespaceKind Kind { get; }
    public string Owner { get; }
    public SourceSpan Span { get; }

    public List<DevicePlan> Devices { get; } = new();
    public List<AddressPlan> Addresses { get; } = new();
    public List<RoutePlan> Routes { get; } = new();
    public List<NeighborPlan> Neighbors { get; } = new();
    public List<FdbPlan> Fdb { get; } = new();
    public NetfilterBuilder Netfilter { get; } = new();
    public List<IpvsServicePlan> Ipvs { get; } = new();
    public List<NftLoadBalancerPlan> NftLoadBalancers { get; } = new();
    public List<SysctlPlan> Sysctls { get; } = new();
    public List<ListenerPlan> Listeners { get; } = new();

    /// <summary>
    /// <c>ip addr add</c>: the address, plus the connected route the kernel adds for it (none for a /32 alias, whose only
    /// route is in the local table).
    /// </summary>
    public void AddAddress(string device, Ipv4Cidr address, SourceSpan span)
    {
        Addresses.Add(new AddressPlan(device, address, span));
        if (address.PrefixLength < 32)
            Routes.Add(new RoutePlan(address.Subnet, null, device, address.Address, RouteOrigin.Kernel, span));
    }

    /// <summary>
    /// Sets a sysctl. Setting a key twice keeps its first position and required flag and takes the later value, span and
    /// <paramref name="raiseOnly"/> (the user's <c>tuning.sysctls</c> override derived values, exactly; <c>nodes.&lt;n&gt;.sysctls</c>
    /// override both).
    /// </summary>
    public void SetSysctl(string key, string value, bool required, SourceSpan span, bool raiseOnly = false)
    {
        for (int i = 0; i < Sysctls.Count; i++)
        {
            if (Sysctls[i].Key != key) continue;
            Sysctls[i] = Sysctls[i] with { Value = value, Span = span, RaiseOnly = raiseOnly };
            return;
        }
        Sysctls.Add(new SysctlPlan(key, value, required, span, raiseOnly));
    }

    /// <summary>
    /// Neighbour and FDB entries made as arrays of their exact size, placed after <see cref="Neighbors"/> and
    /// <see cref="Fdb"/>: an overlay namespace of a large plan lists thousands, and a list that grows and is then copied
    /// allocates them three times over (on the large-object heap).
    /// </summary>
    public (NeighborPlan[] Neighbors, FdbPlan[] Fdb)? RemoteEntries { get; set; }

    public NamespacePlan Build() => new(Name, Kind, Owner,
        Devices.ToEquatableArray(), Addresses.ToEquatableArray(), Routes.ToEquatableArray(), Joined(Neighbors, RemoteEntries?.Neighbors),
        Joined(Fdb, RemoteEntries?.Fdb), Netfilter.Build(), Ipvs.ToEquatableArray(), NftLoadBalancers.ToEquatableArray(),
        Sysctls.ToEquatableArray(), Listeners.ToEquatableArray(), Span);

    private static EquatableArray<T> Joined<T>(List<T> list, T[]? array)
        => array is null ? list.ToEquatableArray() : list.Count == 0 ? EquatableArray<T>.Own(array) : list.Concat(array).ToEquatableArray();
}
