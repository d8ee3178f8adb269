using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using SwarmDsl.Collections;
using SwarmDsl.Plan;

namespace SwarmDsl.Lowering;

/// <summary>
/// Long parts of the plan that several namespaces hold with the very same items (the routing mesh's per-port chains of every
/// node's host and <c>ingress_sbox</c>, a balancer sandbox's IPVS services): the first namespace's copy serves the others.
/// Items are compared by reference, so a shared part is equal to what it replaces (the plan is immutable data). Safe to
/// use from the threads that lower nodes in parallel; which namespace's copy is kept does not matter, as they are equal.
/// </summary>
internal sealed class PlanInterner
{
    /// <summary>Shorter parts are kept as they are: looking them up would cost more than they take.</summary>
    public const int MinItems = 16;

    private readonly Dictionary<NetfilterChain, NetfilterChain> _chains = new(ChainComparer.Instance);
    private readonly Dictionary<IpvsServicePlan[], IpvsServicePlan[]> _ipvs = new(SequenceComparer<IpvsServicePlan>.Instance);

    /// <summary>A chain equal to <paramref name="chain"/> made before, or <paramref name="chain"/> itself.</summary>
    public NetfilterChain Chain(NetfilterChain chain)
    {
        if (chain.Rules.Count < MinItems) return chain;
        lock (_chains)
        {
            if (_chains.TryGetValue(chain, out var kept)) return kept;
            _chains.Add(chain, chain);
            return chain;
        }
    }

    /// <summary>An array with the same services made before, or <paramref name="services"/> itself.</summary>
    public IpvsServicePlan[] Ipvs(IpvsServicePlan[] services)
    {
        if (services.Length < MinItems) return services;
        lock (_ipvs)
        {
            if (_ipvs.TryGetValue(services, out var kept)) return kept;
            _ipvs.Add(services, services);
            return services;
        }
    }

    private static int Hash<T>(IReadOnlyList<T> items) where T : class
    {
        unchecked
        {
            int h = items.Count;
            // A few items are enough to tell most apart; equality compares them all.
            for (int i = 0; i < items.Count; i += 1 + items.Count / 8) h = h * 31 + RuntimeHelpers.GetHashCode(items[i]);
            return h * 31 + RuntimeHelpers.GetHashCode(items[items.Count - 1]);
        }
    }

    private sealed class SequenceComparer<T> : IEqualityComparer<T[]> where T : class
    {
        public static readonly SequenceComparer<T> Instance = new();

        public bool Equals(T[]? x, T[]? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null || x.Length != y.Length) return false;
            for (int i = 0; i < x.Length; i++) if (!ReferenceEquals(x[i], y[i])) return false;
            return true;
        }

        public int GetHashCode(T[] items) => Hash(items);
    }

    private sealed class ChainComparer : IEqualityComparer<NetfilterChain>
    {
        public static readonly ChainComparer Instance = new();

        public bool Equals(NetfilterChain? x, NetfilterChain? y)
        {
            if (ReferenceEquals(x, y)) return true;
            if (x is null || y is null || x.Name != y.Name || x.BuiltIn != y.BuiltIn || x.Policy != y.Policy || x.Shared != y.Shared) return false;
            EquatableArray<NetfilterRule> a = x.Rules, b = y.Rules;
            if (a.Count != b.Count) return false;
            for (int i = 0; i < a.Count; i++) if (!ReferenceEquals(a[i], b[i])) return false;
            return true;
        }

        public int GetHashCode(NetfilterChain chain) => unchecked(StringComparer.Ordinal.GetHashCode(chain.Name) * 31 + Hash(chain.Rules));
    }
}
