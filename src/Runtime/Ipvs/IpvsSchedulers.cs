using System.Globalization;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Hashing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Ipvs;

/// <summary>
/// An IPVS scheduler (<c>struct ip_vs_scheduler</c>): picks a real server for a new connection. Implementations follow
/// the kernel modules in net/netfilter/ipvs/ step for step, including their state, so the sequence of choices is the
/// kernel's. <see cref="Explain"/> describes the last decision for traces (called only when tracing).
/// </summary>
public abstract class IpvsScheduler
{
    /// <summary>The scheduler's name as ipvsadm prints it.</summary>
    public abstract string Name { get; }

    /// <summary>Recomputes state after destinations were added, removed or re-weighted (<c>add_dest</c>/<c>upd_dest</c>).</summary>
    public abstract void DestinationsChanged(IpvsService service);

    /// <summary>
    /// The service was loaded with destinations of <paramref name="weightsInAddOrder"/> added one at a time (each add is a
    /// <see cref="DestinationsChanged"/> in the kernel); <c>service.Destinations</c> already holds them all. Leaves the state
    /// those calls would. The default calls <see cref="DestinationsChanged"/> once: right for schedulers whose state depends
    /// only on the final list.
    /// </summary>
    internal virtual void DestinationsAdded(IpvsService service, int[] weightsInAddOrder) => DestinationsChanged(service);

    /// <summary>Picks a destination index, or -1 when none is available.</summary>
    public abstract int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination);

    /// <summary>Why the last <see cref="Schedule"/> call chose what it chose.</summary>
    public abstract string Explain(IpvsService service);

    /// <summary>Creates the scheduler for a plan's scheduler name.</summary>
    public static IpvsScheduler Create(Scheduler scheduler) => scheduler switch
    {
        Scheduler.Rr => new RoundRobinScheduler(),
        Scheduler.Wrr => new WeightedRoundRobinScheduler(),
        Scheduler.Lc => new LeastConnectionScheduler(),
        Scheduler.Wlc => new WeightedLeastConnectionScheduler(),
        Scheduler.Sh => new SourceHashScheduler(),
        Scheduler.Dh => new DestinationHashScheduler(),
        _ => new RoundRobinScheduler(),
    };

    /// <summary><c>IP_VS_DEST_F_OVERLOAD</c> is never set here (no upper thresholds), so availability is weight &gt; 0.</summary>
    protected static bool Available(IpvsDestination d) => d.Weight > 0;

    /// <summary>Formats an int invariantly.</summary>
    protected static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>ip_vs_rr.c: the next destination after the last one chosen, skipping weight 0.</summary>
public sealed class RoundRobinScheduler : IpvsScheduler
{
    private int _last = -1; // sched_data points at the list head initially
    private int _lastChoice = -1;

    /// <inheritdoc/>
    public override string Name => "rr";

    /// <inheritdoc/>
    public override void DestinationsChanged(IpvsService service) => _last = -1;

    /// <inheritdoc/>
    public override int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        service.Scheduled = true;
        var ds = service.Destinations;
        int n = ds.Length;
        for (int step = 1; step <= n; step++)
        {
            int i = (_last + step) % n;
            if (i < 0) i += n;
            if (Available(ds[i])) { _last = i; _lastChoice = i; return i; }
        }
        _lastChoice = -1;
        return -1;
    }

    /// <inheritdoc/>
    public override string Explain(IpvsService service) => _lastChoice < 0
        ? "rr: no destination with weight > 0"
        : "rr: next after the previous choice (" + I(_lastChoice + 1) + " of " + I(service.Destinations.Length) + ")";
}

/// <summary>
/// ip_vs_wrr.c: passes over the list with a current weight <c>cw</c> that starts at <c>mw</c> (max weight − (gcd − 1)) and
/// drops by <c>di</c> (the gcd of the weights) after each pass; a destination is chosen when its weight ≥ cw. Weights
/// 3, 2, 1 give A, A, B, A, B, C per cycle.
/// </summary>
public sealed class WeightedRoundRobinScheduler : IpvsScheduler
{
    private int _cl = -1; // current dest, -1 = list head
    private int _cw, _mw, _di = 1;
    private int _decisionCw;
    private int _lastChoice = -1;

    /// <inheritdoc/>
    public override string Name => "wrr";

    /// <summary>The current weight (for tests).</summary>
    public int CurrentWeight => _cw;

    private static int Gcd(int a, int b) { while (b != 0) { var t = a % b; a = b; b = t; } return a; }

    /// <inheritdoc/>
    public override void DestinationsChanged(IpvsService service)
    {
        // ip_vs_wrr_dest_changed (also what init_svc computes on an empty service, then each add_dest).
        int g = 0, max = 0;
        foreach (var d in service.Destinations)
        {
            if (d.Weight > 0) g = g > 0 ? Gcd(d.Weight, g) : d.Weight;
            if (d.Weight > max) max = d.Weight;
        }
        Changed(g, max);
    }

    /// <inheritdoc/>
    internal override void DestinationsAdded(IpvsService service, int[] weightsInAddOrder)
    {
        // The current weight depends on every intermediate list; gcd and max of a growing list are running values.
        int g = 0, max = 0;
        foreach (var w in weightsInAddOrder)
        {
            if (w > 0) g = g > 0 ? Gcd(w, g) : w;
            if (w > max) max = w;
            Changed(g, max);
        }
    }

    private void Changed(int g, int max)
    {
        _cl = -1;
        _di = g > 0 ? g : 1;
        _mw = max - (_di - 1);
        if (_cw > _mw || _cw == 0) _cw = _mw;
        else if (_di > 1) _cw = (_cw / _di) * _di + 1;
    }

    /// <inheritdoc/>
    public override int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        service.Scheduled = true;
        var ds = service.Destinations;
        int n = ds.Length;
        _lastChoice = -1;
        if (_mw == 0 || n == 0) return -1;
        int dest = _cl;
        int last = dest;
        int stop = -2;
        bool lastPass = false, restarted = false;
        while (true)
        {
            // list_for_each_entry_continue: from the element after `dest` to the end of the list.
            for (int i = dest + 1; i < n; i++)
            {
                if (Available(ds[i]) && ds[i].Weight >= _cw)
                {
                    _cl = i;
                    _decisionCw = _cw;
                    _lastChoice = i;
                    return i;
                }
                if (i == stop) { _cl = i; return -1; }
            }
            dest = -1; // the loop cursor ends on the head
            _cw -= _di;
            if (_cw <= 0)
            {
                _cw = _mw;
                if (lastPass || last == -1) { _cl = -1; return -1; }
                restarted = true;
            }
            lastPass = _cw <= _di;
            if (lastPass && restarted && last != -1) stop = last;
        }
    }

    /// <inheritdoc/>
    public override string Explain(IpvsService service)
    {
        if (_lastChoice < 0) return "wrr: no destination with weight > 0";
        var d = service.Destinations[_lastChoice];
        return "wrr: weight " + I(d.Weight) + " ≥ current weight " + I(_decisionCw) + " (max " + I(_mw + _di - 1) + ", gcd " + I(_di) + ")";
    }
}

/// <summary>ip_vs_lc.c: the destination with the least overhead (activeconns·256 + inactconns), first on ties, weight 0 skipped.</summary>
public sealed class LeastConnectionScheduler : IpvsScheduler
{
    private int _lastChoice = -1;

    /// <inheritdoc/>
    public override string Name => "lc";

    /// <inheritdoc/>
    public override void DestinationsChanged(IpvsService service) { }

    /// <inheritdoc/>
    public override int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        service.Scheduled = true;
        int least = -1;
        long loh = 0;
        var ds = service.Destinations;
        for (int i = 0; i < ds.Length; i++)
        {
            if (ds[i].Weight == 0) continue;
            long doh = ds[i].Overhead;
            if (least < 0 || doh < loh) { least = i; loh = doh; }
        }
        _lastChoice = least;
        // As compared: before the new connection is counted on the destination chosen.
        if (least >= 0) (_active, _inactive) = (ds[least].ActiveConnections, ds[least].InactiveConnections);
        return least;
    }

    private int _active, _inactive;

    /// <inheritdoc/>
    public override string Explain(IpvsService service)
    {
        if (_lastChoice < 0) return "lc: no destination with weight > 0";
        return "lc: least overhead " + I(((long)_active << 8) + _inactive) + " = " + I(_active) + " active × 256 + " + I(_inactive) + " inactive";
    }
}

/// <summary>ip_vs_wlc.c: the least overhead/weight, compared as loh·weight(d) &gt; doh·weight(least) to stay in integers.</summary>
public sealed class WeightedLeastConnectionScheduler : IpvsScheduler
{
    private int _lastChoice = -1;

    /// <inheritdoc/>
    public override string Name => "wlc";

    /// <inheritdoc/>
    public override void DestinationsChanged(IpvsService service) { }

    /// <inheritdoc/>
    public override int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        service.Scheduled = true;
        var ds = service.Destinations;
        int least = -1;
        long loh = 0;
        int i = 0;
        for (; i < ds.Length; i++)
        {
            if (ds[i].Weight > 0) { least = i; loh = ds[i].Overhead; break; }
        }
        if (least < 0) { _lastChoice = -1; return -1; }
        for (i++; i < ds.Length; i++)
        {
            long doh = ds[i].Overhead;
            if (loh * ds[i].Weight > doh * ds[least].Weight) { least = i; loh = doh; }
        }
        _lastChoice = least;
        // As compared: before the new connection is counted on the destination chosen.
        (_active, _inactive) = (ds[least].ActiveConnections, ds[least].InactiveConnections);
        return least;
    }

    private int _active, _inactive;

    /// <inheritdoc/>
    public override string Explain(IpvsService service)
    {
        if (_lastChoice < 0) return "wlc: no destination with weight > 0";
        var d = service.Destinations[_lastChoice];
        return "wlc: least overhead/weight " + I(((long)_active << 8) + _inactive) + "/" + I(d.Weight) + " (overhead = " + I(_active) + " active × 256 + " + I(_inactive) + " inactive)";
    }
}

/// <summary>
/// ip_vs_sh.c: 256 buckets filled round the destination list, each destination taking as many consecutive buckets as its
/// weight; the bucket is <c>hash_32(ntohl(saddr), 8)</c> (port 0: no sh-port flag). A bucket whose destination has
/// weight 0 yields no destination (no sh-fallback flag).
/// </summary>
public sealed class SourceHashScheduler : HashScheduler
{
    /// <inheritdoc/>
    public override string Name => "sh";

    /// <inheritdoc/>
    protected override bool UseSource => true;

    /// <inheritdoc/>
    protected override bool Weighted => true;
}

/// <summary>ip_vs_dh.c: like sh on the destination address, but buckets are assigned one per destination in turn (weights ignored).</summary>
public sealed class DestinationHashScheduler : HashScheduler
{
    /// <inheritdoc/>
    public override string Name => "dh";

    /// <inheritdoc/>
    protected override bool UseSource => false;

    /// <inheritdoc/>
    protected override bool Weighted => false;
}

/// <summary>The bucket table shared by sh and dh (<c>IP_VS_SH_TAB_BITS</c> = <c>IP_VS_DH_TAB_BITS</c> = 8).</summary>
public abstract class HashScheduler : IpvsScheduler
{
    /// <summary>Table bits.</summary>
    public const int TableBits = 8;

    /// <summary>Table size.</summary>
    public const int TableSize = 1 << TableBits;

    private readonly int[] _buckets = new int[TableSize];
    private int _lastBucket = -1;
    private Ipv4Address _lastKey;
    private int _lastChoice = -1;

    /// <summary>Whether the source (sh) or destination (dh) address is hashed.</summary>
    protected abstract bool UseSource { get; }

    /// <summary>Whether bucket assignment repeats destinations by weight (sh) or not (dh).</summary>
    protected abstract bool Weighted { get; }

    /// <summary>The destination index of each bucket (-1: none), for tests.</summary>
    public System.ReadOnlySpan<int> Buckets => _buckets;

    /// <summary>The bucket of an address: <c>hash_32(ntohl(addr), 8)</c>.</summary>
    public static int Bucket(Ipv4Address address) => (int)KernelHash.Hash32(address.Value, TableBits);

    /// <inheritdoc/>
    public override void DestinationsChanged(IpvsService service)
    {
        // ip_vs_sh_reassign / ip_vs_dh_reassign.
        var ds = service.Destinations;
        int p = 0, count = 0;
        for (int i = 0; i < TableSize; i++)
        {
            if (ds.Length == 0) { _buckets[i] = -1; continue; }
            _buckets[i] = p;
            if (Weighted)
            {
                if (++count >= ds[p].Weight) { p = (p + 1) % ds.Length; count = 0; }
            }
            else p = (p + 1) % ds.Length;
        }
    }

    /// <summary>The destination <see cref="Schedule"/> would pick for these addresses (-1: none), changing nothing.</summary>
    public int Peek(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        if (service is null) throw new System.ArgumentNullException(nameof(service));
        int d = _buckets[Bucket(UseSource ? source : destination)];
        return d >= 0 && Available(service.Destinations[d]) ? d : -1;
    }

    /// <inheritdoc/>
    public override int Schedule(IpvsService service, Ipv4Address source, Ipv4Address destination)
    {
        service.Scheduled = true;
        _lastKey = UseSource ? source : destination;
        _lastBucket = Bucket(_lastKey);
        int d = _buckets[_lastBucket];
        _lastChoice = d >= 0 && Available(service.Destinations[d]) ? d : -1;
        return _lastChoice;
    }

    /// <inheritdoc/>
    public override string Explain(IpvsService service)
    {
        var what = UseSource ? "source" : "destination";
        var head = Name + ": hash_32(" + what + " " + _lastKey + ", 8) = bucket " + I(_lastBucket);
        return _lastChoice < 0 ? head + ", whose destination is unavailable" : head;
    }
}
