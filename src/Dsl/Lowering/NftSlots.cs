using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Lowering;

/// <summary>
/// How the nftables backend imitates an IPVS scheduler with a fixed map of slots (<see cref="NftLoadBalancerPlan.Slots"/>).
/// </summary>
public static class NftSlots
{
    /// <summary>The nftables pick that stands in for <paramref name="scheduler"/>.</summary>
    public static NftPick PickFor(Scheduler scheduler) => scheduler switch
    {
        Scheduler.Sh => NftPick.SourceHash,
        Scheduler.Dh => NftPick.DestinationHash,
        _ => NftPick.NumgenIncrement,
    };

    /// <summary>
    /// The slot sequence for destinations with <paramref name="weights"/> (indices into them). Weight-0 destinations are
    /// quiescent in IPVS (never picked for new connections), so they get no slot.
    /// <list type="bullet">
    /// <item><c>wrr</c>, <c>wlc</c>: one full cycle of the kernel's <c>ip_vs_wrr_schedule</c> from a fresh service: the current
    /// weight starts at the largest weight and drops by the weights' GCD each pass; every pass picks, in destination order,
    /// each destination whose weight is at least the current weight. Each destination gets weight/GCD slots, spread the way
    /// IPVS spreads them, so <c>numgen inc</c> over the slots replays IPVS wrr's order (weights 3,1 → A A A B).</item>
    /// <item><c>rr</c>, <c>lc</c>, <c>sh</c>, <c>dh</c>: each destination once, in order (IPVS rr ignores weights other
    /// than 0; lc has no static order and is approximated by rr; the hashes map onto the destinations).</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<int> Order(Scheduler scheduler, IReadOnlyList<int> weights)
    {
        var live = Enumerable.Range(0, weights.Count).Where(i => weights[i] > 0).ToList();
        if (scheduler is not (Scheduler.Wrr or Scheduler.Wlc) || live.Count == 0) return live;
        int gcd = live.Select(i => weights[i]).Aggregate(Gcd);
        int max = live.Max(i => weights[i]);
        var result = new List<int>();
        for (int current = max; current > 0; current -= gcd)
            result.AddRange(live.Where(i => weights[i] >= current));
        return result;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
