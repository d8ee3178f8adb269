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
        Devices.Add(Loopback);
    }

    // The same in every namespace, and the plan is immutable: one object for all of them.
    private static readonly DevicePlan Loopback = new("lo", DeviceKind.Loopback, LoopbackMtu, null, null, null, null, SourceSpan.None);

    public string Name { get; }
    public NamespaceKind Kind { get; }
    public string Owner { get; }
    public SourceSpan Span { get; }

    // The lists a namespace may leave empty are made when first asked for (a large plan has tens of thousands of task
    // namespaces, most of whose lists stay empty).
    private List<AddressPlan>? _addresses;
    private List<RoutePlan>? _routes;
    private List<NeighborPlan>? _neighbors;
    private List<FdbPlan>? _fdb;
    private NetfilterBuilder? _netfilter;
    private List<IpvsServicePlan>? _ipvs;
    private List<NftLoadBalancerPlan>? _nftLoadBalancers;
    private List<SysctlPlan>? _sysctls;
    private List<ListenerPlan>? _listeners;

    public List<DevicePlan> Devices { get; } = new();
    public List<AddressPlan> Addresses => _addresses ??= new();
    public List<RoutePlan> Routes => _routes ??= new();
    public List<NeighborPlan> Neighbors => _neighbors ??= new();
    public List<FdbPlan> Fdb => _fdb ??= new();
    public NetfilterBuilder Netfilter => _netfilter ??= new();
    public List<IpvsServicePlan> Ipvs => _ipvs ??= new();
    public List<NftLoadBalancerPlan> NftLoadBalancers => _nftLoadBalancers ??= new();
    public List<SysctlPlan> Sysctls => _sysctls ??= new();
    public List<ListenerPlan> Listeners => _listeners ??= new();

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

    /// <summary>The namespace's plan; <paramref name="interner"/> shares long parts equal to other namespaces'.</summary>
    public NamespacePlan Build(PlanInterner? interner = null) => new(Name, Kind, Owner,
        Array(Devices), Array(_addresses), Array(_routes), Joined(_neighbors, RemoteEntries?.Neighbors),
        Joined(_fdb, RemoteEntries?.Fdb), _netfilter?.Build(interner) ?? EquatableArray<NetfilterTable>.Own(System.Array.Empty<NetfilterTable>()),
        InternedIpvs(_ipvs, interner), Array(_nftLoadBalancers), Array(_sysctls), Array(_listeners), Span);

    private static EquatableArray<IpvsServicePlan> InternedIpvs(List<IpvsServicePlan>? list, PlanInterner? interner)
        => list is null || list.Count == 0 || interner is null ? Array(list) : EquatableArray<IpvsServicePlan>.Own(interner.Ipvs(list.ToArray()));

    // An exact copy (an empty array when the list was never made, as List.ToArray gives for an empty list).
    private static EquatableArray<T> Array<T>(List<T>? list)
        => EquatableArray<T>.Own(list is null || list.Count == 0 ? System.Array.Empty<T>() : list.ToArray());

    private static EquatableArray<T> Joined<T>(List<T>? list, T[]? array)
        => array is null ? Array(list) : list is null || list.Count == 0 ? EquatableArray<T>.Own(array) : list.Concat(array).ToEquatableArray();
}
