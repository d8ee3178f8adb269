using System.Collections.Generic;
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
/// Splits the port space 1–65535 into atoms (header-space equivalence classes): every constant a plan's matches,
/// NAT targets, IPVS services and listeners use starts a new atom, and so does the port after a range's end.
/// Within one atom no match can tell two ports apart, so one representative packet speaks for all of them.
/// </summary>
public static class PortAtoms
{
    /// <summary>The atoms of <paramref name="plan"/>, in port order, covering 1–65535.</summary>
    public static IReadOnlyList<PortAtom> Of(DataplanePlan plan)
    {
        var starts = new SortedSet<int> { 1 };
        void Point(int p) { Range(p, p); }
        void Range(int from, int to)
        {
            if (from >= 1 && from <= 65535) starts.Add(from);
            if (to >= 0 && to + 1 <= 65535) starts.Add(to + 1);
        }
        foreach (var host in plan.Hosts)
            foreach (var ns in host.Namespaces)
            {
                foreach (var table in ns.Tables)
                    foreach (var chain in table.Chains)
                        foreach (var rule in chain.Rules)
                        {
                            foreach (var m in rule.Matches)
                            {
                                if (m is PortMatch pm) Range(pm.From, pm.To);
                                else if (m is MultiportMatch mm) foreach (var p in mm.Ports) Point(p);
                            }
                            switch (rule.Target)
                            {
                                case DnatTarget { Port: int d }: Point(d); break;
                                case SnatTarget { Port: int s }: Point(s); break;
                                case RedirectTarget r: Point(r.Port); break;
                            }
                        }
                foreach (var s in ns.Ipvs)
                {
                    if (s.Port is int sp) Point(sp);
                    foreach (var d in s.Destinations) if (d.Port > 0) Point(d.Port);
                }
                foreach (var l in ns.Listeners) Point(l.Port);
            }
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
}
