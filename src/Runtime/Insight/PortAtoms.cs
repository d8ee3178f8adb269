using System;
using System.Collections.Generic;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Runtime.Insight;

/// <summary>An inclusive range of destination ports that every rule, NAT and load balancer of a plan treats alike.</summary>
/// <param name="From">First port.</param>
/// <param name="To">Last port.</param>
public readonly record struct PortAtom(int From, int To)
{
    /// <summary>Whether <paramref name="port"/> lies in the range.</summary>
    public bool Contains(int port) => port >= From && port <= To;
}

/// <summary>
/// Header-space equivalence classes of ports. Every port constant a match, NAT target, IPVS service or listener uses starts a
/// new class at the constant and at the port after it (a range <c>a:b</c> at <c>a</c> and <c>b+1</c>): inside one class no
/// match can tell two ports apart. Constants are kept per namespace and per protocol (a <c>-p tcp --dport 80</c> rule
/// cannot tell two UDP ports apart), so a packet's classes can be derived from the namespaces it actually crosses.
/// </summary>
public static class PortAtoms
{
    /// <summary>The atoms of the whole <paramref name="plan"/> over every protocol, in port order, covering 1–65535.</summary>
    public static IReadOnlyList<PortAtom> Of(DataplanePlan plan)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        var starts = new SortedSet<int> { 1 };
        foreach (var host in plan.Hosts)
            foreach (var ns in host.Namespaces)
                Collect(ns, null, starts);
        var atoms = new List<PortAtom>(starts.Count);
        int? previous = null;
        foreach (var s in starts)
        {
            if (previous is int p) atoms.Add(new PortAtom(p, s - 1));
            previous = s;
        }
        atoms.Add(new PortAtom(previous!.Value, 65535));
        return atoms;
    }

    /// <summary>
    /// Where classes start in <paramref name="ns"/> for <paramref name="protocol"/>, ascending (2–65535; port 1 always starts
    /// one). Source-port constants count too: a reply's source port is the request's destination port.
    /// </summary>
    public static int[] Starts(NamespacePlan ns, IpProtocol protocol)
    {
        if (ns is null) throw new ArgumentNullException(nameof(ns));
        var starts = new SortedSet<int>();
        Collect(ns, protocol, starts);
        return ToArray(starts);
    }

    /// <summary>
    /// Where the rules of one chain start classes for <paramref name="protocol"/>, ascending, counting only port matches on
    /// the side <paramref name="side"/> (a request's destination port is its reply's source port) and NAT target ports.
    /// </summary>
    public static int[] RuleStarts(NetfilterChain chain, IpProtocol protocol, Direction side)
    {
        if (chain is null) throw new ArgumentNullException(nameof(chain));
        var starts = new SortedSet<int>();
        foreach (var rule in chain.Rules) CollectRule(rule, protocol, side, starts);
        return ToArray(starts);
    }

    /// <summary>Where the IPVS services of <paramref name="ns"/> start classes for <paramref name="protocol"/>, ascending.</summary>
    public static int[] IpvsStarts(NamespacePlan ns, IpProtocol protocol)
    {
        if (ns is null) throw new ArgumentNullException(nameof(ns));
        var starts = new SortedSet<int>();
        CollectIpvs(ns, protocol, starts);
        return ToArray(starts);
    }

    /// <summary>Where the listeners of <paramref name="ns"/> start classes for <paramref name="protocol"/>, ascending.</summary>
    public static int[] ListenerStarts(NamespacePlan ns, IpProtocol protocol)
    {
        if (ns is null) throw new ArgumentNullException(nameof(ns));
        var starts = new SortedSet<int>();
        foreach (var l in ns.Listeners) if (l.Protocol == protocol) Point(starts, l.Port);
        return ToArray(starts);
    }

    private static int[] ToArray(SortedSet<int> starts)
    {
        starts.Remove(1);
        var result = new int[starts.Count];
        starts.CopyTo(result);
        return result;
    }

    private static void Point(ICollection<int> starts, int p) => Range(starts, p, p);

    private static void Range(ICollection<int> starts, int from, int to)
    {
        if (from >= 1 && from <= 65535) starts.Add(from);
        if (to >= 0 && to + 1 <= 65535) starts.Add(to + 1);
    }

    private static bool Applies(IpProtocol? wanted, IpProtocol? p) => wanted is null || p is null || p == wanted;

    /// <summary>Adds the class starts of one rule over every protocol (a caller meeting each rule once, in its own pass).</summary>
    internal static void CollectRule(NetfilterRule rule, ICollection<int> starts) => CollectRule(rule, null, null, starts);

    /// <summary>Adds the class starts of <paramref name="ns"/> but its rules': its IPVS services and listeners, over every protocol.</summary>
    internal static void CollectAllButRules(NamespacePlan ns, ICollection<int> starts)
    {
        CollectIpvs(ns, null, starts);
        foreach (var l in ns.Listeners) Point(starts, l.Port);
    }

    /// <summary>
    /// The smallest class start added in (<see cref="Above"/>, <see cref="AtMost"/>], or null: whether some constant splits that
    /// range, without keeping every start of a large plan in a sorted set.
    /// </summary>
    internal sealed class LowestWithin : ICollection<int>
    {
        public LowestWithin(int above, int atMost)
        {
            Above = above;
            AtMost = atMost;
        }

        public int Above { get; }
        public int AtMost { get; }
        public int? Lowest { get; private set; }

        public void Add(int item)
        {
            if (item > Above && item <= AtMost && (Lowest is not int l || item < l)) Lowest = item;
        }

        public int Count => Lowest is null ? 0 : 1;
        public bool IsReadOnly => false;
        public void Clear() => Lowest = null;
        public bool Contains(int item) => Lowest == item;
        public void CopyTo(int[] array, int arrayIndex) { if (Lowest is int l) array[arrayIndex] = l; }
        public bool Remove(int item) => throw new NotSupportedException();
        public IEnumerator<int> GetEnumerator() { if (Lowest is int l) yield return l; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Adds the class starts of <paramref name="ns"/>: for one protocol, or for all when it is null.</summary>
    private static void Collect(NamespacePlan ns, IpProtocol? protocol, ICollection<int> starts)
    {
        foreach (var table in ns.Tables)
            foreach (var chain in table.Chains)
                foreach (var rule in chain.Rules)
                    CollectRule(rule, protocol, null, starts);
        CollectIpvs(ns, protocol, starts);
        foreach (var l in ns.Listeners) if (Applies(protocol, l.Protocol)) Point(starts, l.Port);
    }

    private static void CollectRule(NetfilterRule rule, IpProtocol? protocol, Direction? side, ICollection<int> starts)
    {
        // The rule's protocol (-p), if it names one: its ports only split that protocol's classes.
        IpProtocol? ruleProtocol = null;
        foreach (var m in rule.Matches)
            if (m is ProtocolMatch { Negated: false } pr) ruleProtocol = pr.Protocol;
        foreach (var m in rule.Matches)
        {
            if (m is PortMatch pm) { if (Applies(protocol, pm.Protocol) && (side is null || pm.Direction == side)) Range(starts, pm.From, pm.To); }
            else if (m is MultiportMatch mm && Applies(protocol, ruleProtocol) && (side is null || mm.Direction == side)) foreach (var p in mm.Ports) Point(starts, p);
        }
        if (!Applies(protocol, ruleProtocol)) return;
        switch (rule.Target)
        {
            case DnatTarget { Port: int d }: Point(starts, d); break;
            case SnatTarget { Port: int s }: Point(starts, s); break;
            case RedirectTarget r: Point(starts, r.Port); break;
        }
    }

    private static void CollectIpvs(NamespacePlan ns, IpProtocol? protocol, ICollection<int> starts)
    {
        foreach (var s in ns.Ipvs)
        {
            // A fwmark service matches every protocol the marking rules let through.
            IpProtocol? serviceProtocol = s.FwMark is null ? s.Protocol : null;
            if (!Applies(protocol, serviceProtocol)) continue;
            if (s.Port is int sp) Point(starts, sp);
            foreach (var d in s.Destinations) if (d.Port > 0) Point(starts, d.Port);
        }
    }
}
