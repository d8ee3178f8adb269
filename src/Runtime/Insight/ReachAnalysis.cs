using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Semantics;

namespace SwarmDsl.Runtime.Insight;

/// <summary>One line of a reach table: a source, a destination, a protocol and a port range with one outcome.</summary>
/// <param name="Source">external, a node or a service.</param>
/// <param name="Destination">A node (its underlay address) or a service (its VIP).</param>
/// <param name="Address">The destination address probed.</param>
/// <param name="Protocol">tcp, udp, sctp or icmp.</param>
/// <param name="FromPort">First destination port (0 for icmp).</param>
/// <param name="ToPort">Last destination port (0 for icmp).</param>
/// <param name="Result">The outcome class: <c>reaches SERVICE</c>, <c>blocked</c>, <c>no reply from SERVICE</c> or <c>delivered to OWNER</c>.</param>
/// <param name="Service">The service reached, when one is.</param>
/// <param name="Cause">For anything but reaching a service: why, with the step and declaration (from a traced probe).</param>
/// <param name="Backends">
/// With <c>--every-backend</c>, when the backends a balancer could pick did not all end the same way: each way, with its
/// backends (empty otherwise, and then <paramref name="Result"/> holds for every backend probed).
/// </param>
public sealed record ReachRow(string Source, string Destination, Ipv4Address Address, string Protocol, int FromPort, int ToPort, string Result, string? Service, string? Cause,
    EquatableArray<ReachBackends> Backends = default);

/// <summary>One way a class's backends ended (<see cref="ReachRow.Backends"/>).</summary>
/// <param name="Result">As <see cref="ReachRow.Result"/>.</param>
/// <param name="Service">The service reached, when one is.</param>
/// <param name="Cause">Why, for anything but reaching a service.</param>
/// <param name="Tasks">The backends that ended this way (the task, or the address of an nftables map slot), in the balancer's order.</param>
public sealed record ReachBackends(string Result, string? Service, string? Cause, EquatableArray<string> Tasks);

/// <summary>
/// Which sources reach which services on which protocols and ports, computed over header-space classes of packets rather
/// than by enumerating ports. Per source–destination pair and protocol, a sweep over 1–65535 sends one traced connection
/// for the first port of the current class and learns the namespaces the request and its reply crossed; the class ends
/// where the next port constant of those namespaces (for that protocol, see <see cref="PortAtoms.Starts"/>) begins. A port
/// inside the class meets the same decisions at every namespace on that path (no match, NAT, load balancer or listener
/// there can tell it from the first port), so it takes the same path to the same end: one probe and one explanation per
/// class. Adjacent classes with the same outcome (result, and for failures the disposition, cause and discarding rule)
/// merge into one row.
/// </summary>
public static partial class ReachAnalysis
{
    /// <summary>The protocols probed, in output order.</summary>
    public static readonly IReadOnlyList<IpProtocol> Protocols = new[] { IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp, IpProtocol.Icmp };

    /// <summary>A source and destination to probe, as trace writes them.</summary>
    /// <param name="Source">The source endpoint text.</param>
    /// <param name="Destination">The destination endpoint text (without port).</param>
    public readonly record struct Pair(string Source, string Destination);

    /// <summary>
    /// The pairs probed: external to every node's address, every node to every node's address, every service's task
    /// to every service sharing a network with it (its VIP there). The ingress network does not count: it carries the
    /// routing mesh's published ports, not service names (Docker's resolver keeps no records for it, and a task's own
    /// rules drop what it sends from its ingress address), so two services on it reach each other through a node's
    /// published port, which the node pairs cover.
    /// </summary>
    public static IReadOnlyList<Pair> Pairs(Topology topology) => Pairs(topology, null, null);

    /// <summary>
    /// The pairs of <see cref="Pairs(Topology)"/> from <paramref name="source"/> and to <paramref name="destination"/> (either
    /// or both null: any), in the same order, made without making the others: on a 1,000-service topology the whole list is
    /// 730,000 pairs, and a question about one service needs a thousand.
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="source">external, a node or a service; null for every source.</param>
    /// <param name="destination">A node or a service; null for every destination.</param>
    public static IReadOnlyList<Pair> Pairs(Topology topology, string? source, string? destination)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var pairs = new List<Pair>();
        bool Wanted(string name, string? wanted) => wanted is null || wanted == name;
        if (Wanted("external", source))
            foreach (var n in topology.Nodes)
                if (Wanted(n.Name, destination)) pairs.Add(new Pair("external", n.Name));
        foreach (var a in topology.Nodes)
        {
            if (!Wanted(a.Name, source)) continue;
            foreach (var b in topology.Nodes)
                if (Wanted(b.Name, destination)) pairs.Add(new Pair(a.Name, b.Name));
        }
        // Services by network, so sharing one is found without comparing every service with every other.
        var ingress = IngressNetworks(topology);
        var withTasks = topology.ServicesWithTasks();
        var onNetwork = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < topology.Services.Count; i++)
        {
            var d = topology.Services[i];
            // A service without tasks has no balancer and no name record on any node (Docker programs both with its first
            // task), so there is no VIP to probe.
            if (d.EndpointMode != EndpointMode.Vip || !withTasks.Contains(d.Name) || !Wanted(d.Name, destination)) continue;
            foreach (var n in d.Networks)
            {
                if (ingress.Contains(n)) continue;
                if (!onNetwork.TryGetValue(n, out var list)) onNetwork[n] = list = new List<int>();
                list.Add(i);
            }
        }
        if (onNetwork.Count == 0) return pairs;
        var seen = new bool[topology.Services.Count];
        var shared = new List<int>();
        foreach (var s in topology.Services)
        {
            // A service sends from its first task: one without tasks (replicas: 0) sends nothing.
            if (!Wanted(s.Name, source) || !withTasks.Contains(s.Name)) continue;
            shared.Clear();
            foreach (var n in s.Networks)
                if (onNetwork.TryGetValue(n, out var list))
                    foreach (var i in list)
                        if (!seen[i]) { seen[i] = true; shared.Add(i); }
            shared.Sort();
            foreach (var i in shared)
            {
                seen[i] = false;
                pairs.Add(new Pair(s.Name, topology.Services[i].Name));
            }
        }
        return pairs;
    }

    /// <summary>The sources of <see cref="Pairs(Topology)"/> in table order, without listing the pairs.</summary>
    public static IReadOnlyList<string> Sources(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var sources = new List<string>();
        if (topology.Nodes.Count > 0) sources.Add("external");
        foreach (var n in topology.Nodes) sources.Add(n.Name);
        var ingress = IngressNetworks(topology);
        var withTasks = topology.ServicesWithTasks();
        var withVip = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in topology.Services)
            if (d.EndpointMode == EndpointMode.Vip && withTasks.Contains(d.Name))
                foreach (var n in d.Networks)
                    if (!ingress.Contains(n)) withVip.Add(n);
        foreach (var s in topology.Services)
        {
            if (!withTasks.Contains(s.Name)) continue;
            foreach (var n in s.Networks)
                if (withVip.Contains(n)) { sources.Add(s.Name); break; }
        }
        return sources;
    }

    // The routing mesh's network: it carries published ports, not service names (Docker's resolver keeps no records for it).
    private static HashSet<string> IngressNetworks(Topology topology)
    {
        var ingress = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in topology.Networks)
            if (n.IsOverlay && n.Ingress) ingress.Add(n.Name);
        return ingress;
    }

    private const int MinPairsPerWorker = 16;

    /// <summary>Computes the reach table of a topology over its plan.</summary>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="seed">Seeds ephemeral ports, flow hashes and random matches.</param>
    /// <param name="include">
    /// Which of <see cref="Pairs(Topology)"/> to probe (all when null): on a large topology a question about one source or one
    /// destination is answered without probing the rest. Every pair starts from the plan's loaded state, so an included
    /// pair's rows are exactly its rows in the whole table.
    /// </param>
    /// <param name="parallelism">
    /// How many pairs are probed at once, each worker on its own simulation of the plan (the command line uses one per
    /// processor). The rows do not depend on it.
    /// </param>
    /// <param name="cancellationToken">Checked between pairs.</param>
    public static IReadOnlyList<ReachRow> Analyze(Topology topology, DataplanePlan plan, uint seed = 0, Func<Pair, bool>? include = null,
        int parallelism = 1, CancellationToken cancellationToken = default)
    {
        var rows = new List<ReachRow>();
        Analyze(topology, plan, (_, r) => rows.AddRange(r), seed, include, parallelism, null, RampUp, shareSources: true, cancellationToken);
        return rows;
    }

    /// <summary>
    /// Computes the reach table of a topology pair by pair, handing each pair's rows to <paramref name="rowsOfPair"/> as soon
    /// as they and every earlier pair's are known: in the order of <see cref="Pairs(Topology)"/>, one call at a time, each included
    /// pair once (with no rows when its source cannot send to its destination). Nothing is kept after a call, so a table of
    /// millions of rows can be written while it is computed.
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="rowsOfPair">Receives each pair's rows.</param>
    /// <param name="seed">Seeds ephemeral ports, flow hashes and random matches.</param>
    /// <param name="include">Which of <see cref="Pairs(Topology)"/> to probe (all when null).</param>
    /// <param name="parallelism">How many pairs are probed at once; the rows and their order do not depend on it.</param>
    /// <param name="cancellationToken">Checked between pairs.</param>
    public static void Analyze(Topology topology, DataplanePlan plan, Action<Pair, IReadOnlyList<ReachRow>> rowsOfPair, uint seed = 0,
        Func<Pair, bool>? include = null, int parallelism = 1, CancellationToken cancellationToken = default) =>
        Analyze(topology, plan, rowsOfPair, seed, include, parallelism, null, RampUp, shareSources: true, cancellationToken);

    /// <summary>
    /// How long the first worker runs alone before others join (and they join only if less than a third of the pairs is
    /// done by then). Each further worker loads its own simulation, which costs more than it saves on a table one worker
    /// finishes in a moment (a 10-node table took 0.18–0.25 s on one worker and 0.5 s on two started together).
    /// </summary>
    internal static readonly TimeSpan RampUp = TimeSpan.FromMilliseconds(150);

    /// <summary>What a run cost: tests and benchmarks read it.</summary>
    internal sealed class Counters
    {
        private long _probes;

        private long _shared;

        /// <summary>Connections sent (one per port class, and the echoes).</summary>
        public long Probes => Interlocked.Read(ref _probes);

        /// <summary>Node pairs answered by the outside client's sweep (<see cref="NodeSourceSharing"/>) instead of their own.</summary>
        public long SharedPairs => Interlocked.Read(ref _shared);

        internal void Add(long probes) => Interlocked.Add(ref _probes, probes);

        internal void AddShared() => Interlocked.Increment(ref _shared);

        private long _taken;

        /// <summary>Outside sweeps toward a node that took classes of the reference node's sweep (<see cref="NodeDestinationSharing"/>).</summary>
        public long TakenDestinations => Interlocked.Read(ref _taken);

        internal void AddTakenDestination() => Interlocked.Increment(ref _taken);

        private long _takenClasses;

        /// <summary>Classes taken from the reference node's sweep instead of probed.</summary>
        public long TakenClasses => Interlocked.Read(ref _takenClasses);

        internal void AddTakenClasses(long n) => Interlocked.Add(ref _takenClasses, n);

        private long _fromSecond;

        /// <summary>Of <see cref="TakenClasses"/>, those taken from the second reference's sweep (the reference's could not be).</summary>
        public long TakenFromSecond => Interlocked.Read(ref _fromSecond);

        internal void AddTakenFromSecond(long n) => Interlocked.Add(ref _fromSecond, n);

        private long _takenHashed;

        /// <summary>Hashed components a node source took from the reference destination's sweep (its own picks, transferred).</summary>
        public long TakenHashedComponents => Interlocked.Read(ref _takenHashed);

        internal void AddTakenHashed() => Interlocked.Increment(ref _takenHashed);

        private long _reused;

        /// <summary>Components of source-hashed classes a sharing node took from another node with the same picks.</summary>
        public long ReusedComponents => Interlocked.Read(ref _reused);

        internal void AddReused() => Interlocked.Increment(ref _reused);
    }

    /// <summary>
    /// Computes the rows of the pairs from <paramref name="source"/> and to <paramref name="destination"/> (null: any) as
    /// <see cref="Analyze(Topology, DataplanePlan, Action{Pair, IReadOnlyList{ReachRow}}, uint, Func{Pair, bool}?, int, CancellationToken)"/>
    /// does, without listing the pairs it leaves out (see <see cref="Pairs(Topology, string, string)"/>).
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="source">external, a node or a service; null for every source.</param>
    /// <param name="destination">A node or a service; null for every destination.</param>
    /// <param name="rowsOfPair">Receives each pair's rows, in table order, one call at a time.</param>
    /// <param name="seed">Seeds ephemeral ports, flow hashes and random matches.</param>
    /// <param name="parallelism">How many pairs are probed at once; the rows and their order do not depend on it.</param>
    /// <param name="cancellationToken">Checked between pairs.</param>
    public static void Analyze(Topology topology, DataplanePlan plan, string? source, string? destination,
        Action<Pair, IReadOnlyList<ReachRow>> rowsOfPair, uint seed = 0, int parallelism = 1, CancellationToken cancellationToken = default) =>
        Analyze(topology, plan, source, destination, rowsOfPair, seed, parallelism, everyBackend: false, cancellationToken);

    /// <summary>
    /// The rows of the pairs from <paramref name="source"/> and to <paramref name="destination"/>, as the overload without
    /// <paramref name="everyBackend"/> computes them, optionally probing a balanced class on every backend.
    /// </summary>
    /// <param name="topology">The analyzed topology.</param>
    /// <param name="plan">Its plan.</param>
    /// <param name="source">external, a node or a service; null for every source.</param>
    /// <param name="destination">A node or a service; null for every destination.</param>
    /// <param name="rowsOfPair">Receives each pair's rows, in table order, one call at a time.</param>
    /// <param name="seed">Seeds ephemeral ports, flow hashes and random matches.</param>
    /// <param name="parallelism">How many pairs are probed at once; the rows and their order do not depend on it.</param>
    /// <param name="cancellationToken">Checked between pairs.</param>
    /// <param name="everyBackend">
    /// Whether a class whose connection a load balancer gave to one backend, where it could have given it to another (not
    /// by a hash of the packet), is probed on each of them: its row then says which backends did what when they differ
    /// (<c>varies by backend: …</c>). Without it a class is probed on the backend the balancer's state picks, as one
    /// connection would be, except for the services <see cref="ServicesWithUnevenBackends"/> names.
    /// </param>
    public static void Analyze(Topology topology, DataplanePlan plan, string? source, string? destination,
        Action<Pair, IReadOnlyList<ReachRow>> rowsOfPair, uint seed, int parallelism, bool everyBackend, CancellationToken cancellationToken = default)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        Analyze(topology, plan, Pairs(topology, source, destination), rowsOfPair, seed, parallelism, null, RampUp, shareSources: true, cancellationToken, everyBackend);
    }

    /// <inheritdoc cref="Analyze(Topology, DataplanePlan, Action{Pair, IReadOnlyList{ReachRow}}, uint, Func{Pair, bool}?, int, CancellationToken)"/>
    /// <remarks>
    /// Also takes what tests need: counters of what the run cost, how long the first worker runs alone (<see cref="RampUp"/>;
    /// tests use zero), whether node pairs may take the outside client's rows (<see cref="NodeSourceSharing"/>; tests
    /// compare the table with and without), and whether a balanced class is probed on every backend.
    /// </remarks>
    internal static void Analyze(Topology topology, DataplanePlan plan, Action<Pair, IReadOnlyList<ReachRow>> rowsOfPair, uint seed,
        Func<Pair, bool>? include, int parallelism, Counters? counters, TimeSpan rampUp, bool shareSources = true, CancellationToken cancellationToken = default,
        bool everyBackend = false, bool shareDestinations = true)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var pairs = new List<Pair>();
        foreach (var pair in Pairs(topology))
            if (include is null || include(pair)) pairs.Add(pair);
        Analyze(topology, plan, pairs, rowsOfPair, seed, parallelism, counters, rampUp, shareSources, cancellationToken, everyBackend, shareDestinations);
    }

    /// <summary>The rows of <paramref name="pairs"/>, which keep the order of <see cref="Pairs(Topology)"/> (outside sweeps first).</summary>
    private static void Analyze(Topology topology, DataplanePlan plan, IReadOnlyList<Pair> pairs, Action<Pair, IReadOnlyList<ReachRow>> rowsOfPair,
        uint seed, int parallelism, Counters? counters, TimeSpan rampUp, bool shareSources, CancellationToken cancellationToken, bool everyBackend = false,
        bool shareDestinations = true)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        if (rowsOfPair is null) throw new ArgumentNullException(nameof(rowsOfPair));
        var taskService = TaskServices(topology);
        // Rows wait here only until every earlier pair's are handed on: workers take pairs in order, so few wait at once.
        var waiting = new IReadOnlyList<ReachRow>?[pairs.Count];
        int handedOn = 0;
        var gate = new object();
        bool failed = false;
        // One worker at a time hands rows on, outside the lock: writing a large table's text (gigabytes) under it made
        // the other workers wait for the writer each time they finished a pair.
        bool handing = false;
        void Finished(int i, IReadOnlyList<ReachRow> rows)
        {
            lock (gate)
            {
                waiting[i] = rows;
                if (handing) return; // the worker handing on will take these too
                handing = true;
            }
            while (true)
            {
                IReadOnlyList<ReachRow> ready;
                int at;
                lock (gate)
                {
                    if (handedOn >= pairs.Count || waiting[handedOn] is not { } next) { handing = false; return; }
                    waiting[handedOn] = null;
                    ready = next;
                    at = handedOn++;
                }
                // A receiver that throws stops the table: "handing" stays set, so nobody hands on after it.
                rowsOfPair(pairs[at], ready);
            }
        }
        // The outside client's rows toward each node, for the nodes that share them (NodeSourceSharing). Those pairs come
        // first in the table, so a worker that needs one waits at most for the worker that took it.
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in topology.Nodes) nodes.Add(n.Name);
        // Sweeps kept for others: the outside client's toward a node, for the nodes that take it (NodeSourceSharing), and a
        // source's sweep toward its reference node, the first node it sweeps, for the other nodes it sweeps
        // (NodeDestinationSharing). A node source has a reference only in a question without the outside client's sweeps
        // (--from NODE): otherwise it takes those.
        var kept = new Dictionary<Pair, OutsideSweep>();
        // By family (a source, or SelfFamily for the nodes' sweeps of their own addresses): its reference node and second node.
        var references = new Dictionary<string, string>(StringComparer.Ordinal);
        var seconds = new Dictionary<string, string>(StringComparer.Ordinal);
        var towardNodes = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var selves = new List<string>();
        foreach (var pair in pairs)
            if ((pair.Source == "external" || nodes.Contains(pair.Source)) && nodes.Contains(pair.Destination))
            {
                if (pair.Source == pair.Destination) { selves.Add(pair.Source); continue; }
                if (!towardNodes.TryGetValue(pair.Source, out var list)) towardNodes[pair.Source] = list = new List<string>();
                list.Add(pair.Destination);
            }
        var fromOutside = towardNodes.TryGetValue("external", out var outsideNodes) ? new HashSet<string>(outsideNodes, StringComparer.Ordinal) : new HashSet<string>();
        foreach (var pair in pairs)
            if (shareSources && nodes.Contains(pair.Source) && fromOutside.Contains(pair.Destination) && pair.Source != pair.Destination)
                kept[new Pair("external", pair.Destination)] = new OutsideSweep();
        // Services with a raw rule in one of their tasks have their balanced classes probed on every backend anyway; as with
        // --every-backend, destinations then take nothing from a reference (its classes' backends were probed otherwise).
        // That costs a node question on a large topology its shared sweeps, and is what a per-task rule asks for.
        var uneven = everyBackend ? null : new HashSet<string>(ServicesWithUnevenBackends(topology), StringComparer.Ordinal);
        bool probeBackends = everyBackend || uneven!.Count > 0;
        if (shareDestinations && !probeBackends)
        {
            foreach (var toward in towardNodes)
                if (toward.Value.Count >= 2 && (toward.Key == "external" || fromOutside.Count == 0))
                    Family(toward.Key, toward.Value);
            // A node's sweep of its own address is another node's of its own under the swap of the two (σ swaps the source
            // with the destination): the nodes after the first take its classes as a destination takes the reference's.
            if (selves.Count >= 2) Family(SelfFamily, selves);
        }
        void Family(string family, List<string> toward)
        {
            references[family] = toward[0];
            var key = ReferencePair(family, toward[0]);
            if (!kept.ContainsKey(key)) kept[key] = new OutsideSweep();
            // The second node swept: where a class of the reference's ended at the reference's own task (local there,
            // remote from the others), the second's walk of it, probed, ends at that task from afar as the others' do.
            if (toward.Count < 3) return;
            seconds[family] = toward[1];
            key = ReferencePair(family, toward[1]);
            if (!kept.ContainsKey(key)) kept[key] = new OutsideSweep();
        }
        NodeDestinationSharing? destinations = null;
        NodeSourceSharing? sharing = null;
        var sharingGate = new object();
        // A worker builds its own simulation: below a few dozen pairs that costs more than it saves.
        int workers = Math.Max(1, Math.Min(parallelism, pairs.Count / MinPairsPerWorker));
        int next = -1;
        // A sweep toward a node, for a source with a reference node: the reference's, recorded for the others, or another
        // node's, taking the reference's classes it can. Null when it is neither (then the caller sweeps).
        List<ReachRow>? Taking(Simulation sim, ClassStarts starts, List<Entry> sweep, Backends? backends, Pair pair, OutsideSweep? computing)
        {
            var family = pair.Source == pair.Destination ? SelfFamily : pair.Source;
            if (!references.TryGetValue(family, out var reference)) return null;
            // The reference's own sweep does not wait for the plan's index (another worker builds it meanwhile): its walks'
            // keys are noted, and mapped to nodes at the end of each protocol.
            if (pair.Destination == reference)
                return AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, computing, null, (null, reference), null, out _,
                    indexed: () => { lock (sharingGate) return destinations ??= NodeDestinationSharing.For(sim.Cluster); });
            lock (sharingGate) destinations ??= NodeDestinationSharing.For(sim.Cluster);
            var known = kept[ReferencePair(family, reference)];
            if (destinations.To(reference, pair.Destination) is not { } transfer || !known.WaitComplete(cancellationToken)) return null;
            (NodeDestinationSharing, string)? touches = null;
            (OutsideSweep, NodeDestinationSharing.Transfer)? fallback = null;
            if (seconds.TryGetValue(family, out var second))
            {
                // The second reference's own probes note what they touch, for the nodes after it.
                if (pair.Destination == second) touches = (destinations, second);
                else if (destinations.To(second, pair.Destination) is { } also && kept[ReferencePair(family, second)] is var secondSweep
                    && secondSweep.WaitComplete(cancellationToken)) fallback = (secondSweep, also);
            }
            var rows = AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, computing, null, touches, (known, transfer), out bool conflict, fallback);
            if (conflict)
            {
                // A balancer could have seen other connections than in its own sweep (a class it probed met a balancer of a class
                // it took, or a component was taken in part): its own sweep, from the loaded state.
                sim.ResetTraffic();
                return null;
            }
            if (rows is not null) counters?.AddTakenDestination();
            return rows;
        }

        void Work()
        {
            var sim = new Simulation(plan, seed);
            var starts = new ClassStarts(sim.Cluster);
            var backends = probeBackends ? new Backends(plan, seed, topology, uneven) : null;
            var sweep = new List<Entry>();
            OutsideSweep? computing = null;
            try
            {
                for (int i = Interlocked.Increment(ref next); i < pairs.Count && !Volatile.Read(ref failed); i = Interlocked.Increment(ref next))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var pair = pairs[i];
                    IReadOnlyList<ReachRow>? rows = null;
                    if (pair.Source == "external" && nodes.Contains(pair.Destination))
                    {
                        kept.TryGetValue(pair, out computing);
                        rows = Taking(sim, starts, sweep, backends, pair, computing);
                        rows ??= AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, record: computing);
                        computing?.Publish(rows, plan.Underlay.ExternalClient.ToString());
                        computing = null;
                    }
                    else if (shareSources && nodes.Contains(pair.Source) && pair.Source != pair.Destination && kept.TryGetValue(new Pair("external", pair.Destination), out var known))
                    {
                        lock (sharingGate) sharing ??= NodeSourceSharing.For(sim, topology);
                        if (sharing.MayShare(pair.Source) && known.Wait(cancellationToken) && (!known.AnyHashed || sharing.ProbesAgain))
                        {
                            if (!known.AnyHashed)
                            {
                                // Every class is the client's: its rows, under this source's name.
                                var copy = new ReachRow[known.Rows!.Count];
                                for (int k = 0; k < copy.Length; k++) copy[k] = known.Rows[k] with { Source = pair.Source };
                                rows = copy;
                            }
                            else
                            {
                                // The classes a balancer picked for by this node's address: probed toward the outside client's
                                // reference node (noting what their walks touch), and taken from there toward the other nodes.
                                (NodeDestinationSharing, string)? notes = null;
                                (OutsideSweep, NodeDestinationSharing.Transfer)? hashedFrom = null;
                                if (references.TryGetValue("external", out var reference) && kept.TryGetValue(new Pair("external", reference), out var toReference))
                                {
                                    lock (sharingGate) destinations ??= NodeDestinationSharing.For(sim.Cluster);
                                    if (pair.Destination == reference) notes = (destinations, reference);
                                    else if (destinations.To(reference, pair.Destination) is { } transfer && toReference.WaitComplete(cancellationToken))
                                        hashedFrom = (toReference, transfer);
                                }
                                rows = AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, null, known, notes, null, out _, null, hashedFrom);
                            }
                            counters?.AddShared();
                        }
                    }
                    else if (nodes.Contains(pair.Destination) && (pair.Source == pair.Destination ? references.ContainsKey(SelfFamily) : references.ContainsKey(pair.Source)))
                    {
                        kept.TryGetValue(pair, out computing);
                        rows = Taking(sim, starts, sweep, backends, pair, computing);
                        rows ??= AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, record: computing);
                        computing?.Publish(rows, plan.Underlay.ExternalClient.ToString());
                        computing = null;
                    }
                    rows ??= AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends);
                    // Every pair starts from the loaded state: its rows do not depend on which pairs went before, or on which
                    // worker probed it.
                    sim.ResetTraffic();
                    Finished(i, rows ?? Array.Empty<ReachRow>());
                }
            }
            catch
            {
                // The others stop at their next pair instead of probing a table nobody will see; whoever waits for the
                // outside client's rows this worker was computing computes its own.
                computing?.Publish(null, "");
                Volatile.Write(ref failed, true);
                throw;
            }
        }
        if (workers == 1) Work();
        else
        {
            // Set when no pair is left to take (or a worker failed): a worker still waiting to join then does not.
            using var allTaken = new ManualResetEventSlim(false);
            void First()
            {
                try { Work(); }
                finally { allTaken.Set(); }
            }
            void Later()
            {
                if (rampUp > TimeSpan.Zero && allTaken.Wait(rampUp, cancellationToken)) return;
                int taken = Volatile.Read(ref next) + 1, left = pairs.Count - taken;
                if (left < MinPairsPerWorker) return;
                // Join only when what is left would take the first worker well over what it has run so far: that run
                // included loading its simulation, which a joining worker pays again.
                if (rampUp > TimeSpan.Zero && left < 2 * taken) return;
                Work();
            }
            var tasks = new Task[workers];
            tasks[0] = Task.Factory.StartNew(First, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            for (int w = 1; w < workers; w++) tasks[w] = Task.Factory.StartNew(Later, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try { Task.WaitAll(tasks); }
            catch (AggregateException e) when (e.InnerExceptions.Count >= 1) { ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw(); }
        }
    }

    /// <summary>The family of the nodes' sweeps of their own addresses (no source's name: those have no NUL).</summary>
    private const string SelfFamily = "\0self";

    /// <summary>The pair of <paramref name="family"/> toward <paramref name="node"/>: a node's own pair in <see cref="SelfFamily"/>.</summary>
    private static Pair ReferencePair(string family, string node) => family == SelfFamily ? new Pair(node, node) : new Pair(family, node);

    /// <summary>One class of a sweep: its first port, its probe, and whether a balancer picked by the client's address.</summary>
    /// <remarks><see cref="Touched"/>: in the reference node's sweep, the nodes its walk touched (<see cref="NodeDestinationSharing.Touched(PathRecord, PathRecord, string)"/>);
    /// <see cref="DestinationPicks"/>: there too, each pick by the destination address and the address hashed.</remarks>
    private readonly record struct Entry(int From, Probe Probe, bool Hashed, long[]? Balancers, (long Balancer, Ipv4Address Source)[]? Picks, long Clock,
        int[]? Touched = null, (long Balancer, Ipv4Address Destination)[]? DestinationPicks = null, int Cursor = -1);

    /// <summary>
    /// What one reference node's sweep offers a node taking it (<see cref="NodeDestinationSharing"/>): which classes it can
    /// take, their explanations as its own, and the components the classes' balancers join, which are taken whole or not at all.
    /// </summary>
    private sealed class Offer
    {
        private readonly int[] _parent;
        private readonly int[] _size;
        private readonly int[] _took;
        private readonly HashSet<int> _refused = new();
        // Per class: whether it can be taken, and the failure it then has here (null: the reference's probe as it is). Not a
        // Probe?[]: a probe is a hundred bytes, and every node taking a 2,500-class sweep made two such arrays (64 MB).
        private readonly bool[] _takeable;
        private readonly Failure?[] _failures;

        public Offer(IReadOnlyList<Entry> known, NodeDestinationSharing.Transfer transfer)
        {
            Known = known;
            Transfer = transfer;
            _takeable = new bool[known.Count];
            _failures = new Failure?[known.Count];
            _parent = new int[known.Count];
            _size = new int[known.Count];
            _took = new int[known.Count];
            for (int i = 0; i < _parent.Length; i++) _parent[i] = i;
        }

        public IReadOnlyList<Entry> Known { get; }
        public NodeDestinationSharing.Transfer Transfer { get; }

        /// <summary>Notes that class <paramref name="i"/> can be taken, with the failure it has for the node taking it (null: the reference's).</summary>
        public void Takeable(int i, Failure? there)
        {
            _takeable[i] = true;
            _failures[i] = there;
        }

        /// <summary>Class <paramref name="i"/>'s probe as the node taking it has it (a failure's explanation written for it); null where the class, alone, cannot be taken.</summary>
        public Probe? Taken(int i) => !_takeable[i] ? null : _failures[i] is { } there ? Known[i].Probe with { Failure = there } : Known[i].Probe;

        private int Find(int x)
        {
            while (_parent[x] != x) x = _parent[x] = _parent[_parent[x]];
            return x;
        }

        public void Join(int a, int b) => _parent[Find(a)] = Find(b);

        /// <summary>Ends the joining: a component with a class that cannot be taken is refused.</summary>
        public void Close()
        {
            for (int i = 0; i < _parent.Length; i++)
            {
                int root = Find(i);
                _size[root]++;
                if (!_takeable[i]) _refused.Add(root);
            }
        }

        public bool Refused(int i) => _refused.Contains(Find(i));

        public void Took(int i) => _took[Find(i)]++;

        /// <summary>Whether every component a class was taken from was taken whole.</summary>
        public bool TookWhole()
        {
            for (int i = 0; i < _took.Length; i++) if (_took[i] != 0 && _took[i] != _size[i]) return false;
            return true;
        }
    }

    /// <summary>
    /// Hashed classes of one protocol that used a common balancer (and so carry state between them): probed together, in
    /// order, and given to another node whose address makes the same source-hash picks (<see cref="Picks"/>).
    /// </summary>
    private sealed class Component
    {
        /// <summary>The classes, by index in the protocol's sweep, in order.</summary>
        public List<int> Classes { get; } = new();

        /// <summary>Every pick by the source's address its classes made (balancer, and the address the client's walk hashed).</summary>
        public List<(long Balancer, Ipv4Address Source)> Picks { get; } = new();
    }

    /// <summary>
    /// The outside client's sweep toward one node, once known, for the nodes that share it (<see cref="NodeSourceSharing"/>):
    /// its rows, and its classes by protocol. A class where a load balancer hashed the client's address is probed again from
    /// each node (its address picks its own backend); every other class is the client's. Also a source's sweep toward its
    /// reference node, whose classes the source's sweeps toward other nodes take (<see cref="NodeDestinationSharing"/>).
    /// </summary>
    private sealed class OutsideSweep
    {
        private readonly ManualResetEventSlim _done = new(false);
        private readonly List<Entry>[] _classes = new List<Entry>[Protocols.Count];

        /// <summary>The client's rows; null when they cannot be shared (not computed, or naming the client).</summary>
        public IReadOnlyList<ReachRow>? Rows { get; private set; }

        /// <summary>Whether any class hashed the client's address.</summary>
        public bool AnyHashed { get; private set; }

        /// <summary>The classes of one protocol (by its index in <see cref="Protocols"/>).</summary>
        public IReadOnlyList<Entry> Classes(int protocol) => _classes[protocol];

        /// <summary>
        /// Keeps one protocol's classes. A class that may start a row of a node's table (it starts one here, or follows a
        /// class probed again) gets its explanation now: it names the state before this pair's reset.
        /// </summary>
        public void Keep(int protocol, List<Entry> sweep)
        {
            // Classes joined by the balancers they used (transitively): a balancer carries state from one connection to the
            // next (round robin, connection counts), so a group with a source-hashed class is probed again as a whole, in
            // order, so that a node's probes meet each balancer as the client's did.
            var parent = new int[sweep.Count];
            for (int i = 0; i < parent.Length; i++) parent[i] = i;
            int Find(int x) { while (parent[x] != x) x = parent[x] = parent[parent[x]]; return x; }
            var byBalancer = new Dictionary<long, int>();
            for (int i = 0; i < sweep.Count; i++)
                if (sweep[i].Balancers is { } bs)
                    foreach (var b in bs)
                    {
                        if (byBalancer.TryGetValue(b, out var other)) parent[Find(i)] = Find(other);
                        else byBalancer[b] = i;
                    }
            var hashedGroup = new HashSet<int>();
            for (int i = 0; i < sweep.Count; i++) if (sweep[i].Hashed) hashedGroup.Add(Find(i));
            var kept = new List<Entry>(sweep.Count);
            var componentOf = new int[sweep.Count];
            var components = new List<Component>();
            var index = new Dictionary<int, int>();
            for (int i = 0; i < sweep.Count; i++)
            {
                var e = sweep[i];
                componentOf[i] = -1;
                if (hashedGroup.Contains(Find(i)))
                {
                    if (!e.Hashed) sweep[i] = e = e with { Hashed = true };
                    AnyHashed = true;
                    int root = Find(i);
                    if (!index.TryGetValue(root, out var c)) { index[root] = c = components.Count; components.Add(new Component()); }
                    componentOf[i] = c;
                    components[c].Classes.Add(i);
                    if (e.Picks is { } picks) components[c].Picks.AddRange(picks);
                }
                if (e.Probe.Failure is { } f && (i == 0 || sweep[i - 1].Hashed || sweep[i - 1].Probe.Key != e.Probe.Key)) f.Freeze();
                kept.Add(e);
            }
            _classes[protocol] = kept;
            _componentOf[protocol] = componentOf;
            _components[protocol] = components;
        }

        private readonly int[][] _componentOf = new int[Protocols.Count][];
        private readonly List<Component>[] _components = new List<Component>[Protocols.Count];
        private readonly Dictionary<(int Protocol, int Component, string Picks), List<Entry>[]> _byPicks = new();

        /// <summary>The index of the class of one protocol starting at <paramref name="from"/>; -1 when none does.</summary>
        public int ClassAt(int protocol, int from)
        {
            var classes = _classes[protocol];
            int lo = 0, hi = classes.Count - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >> 1;
                if (classes[mid].From == from) return mid;
                if (classes[mid].From < from) lo = mid + 1; else hi = mid - 1;
            }
            return -1;
        }

        /// <summary>The component of a hashed class (by its index in the protocol's sweep).</summary>
        public int ComponentOf(int protocol, int classIndex) => _componentOf[protocol][classIndex];

        /// <summary>The components of one protocol.</summary>
        public IReadOnlyList<Component> Components(int protocol) => _components[protocol];

        /// <summary>A component's classes as a node making these picks swept them, if one did (each class's entries, in order).</summary>
        public List<Entry>[]? Swept(int protocol, int component, string picks)
        {
            lock (_byPicks) return _byPicks.TryGetValue((protocol, component, picks), out var found) ? found : null;
        }

        /// <summary>Keeps a component's classes as a node swept them, for the nodes making the same picks.</summary>
        public void Remember(int protocol, int component, string picks, List<Entry>[] classes)
        {
            lock (_byPicks)
                if (!_byPicks.ContainsKey((protocol, component, picks))) _byPicks[(protocol, component, picks)] = classes;
        }

        /// <summary>Publishes the rows (null: the worker failed). Rows or kept explanations naming the client are not shared.</summary>
        public void Publish(IReadOnlyList<ReachRow>? rows, string clientAddress)
        {
            Complete = rows is not null;
            Rows = rows is null || NamesTheClient(rows, clientAddress) ? null : rows;
            _done.Set();
        }

        /// <summary>Whether every protocol's classes were kept (the sweep ran to its end).</summary>
        private bool Complete { get; set; }

        /// <summary>Waits for the worker computing the sweep; whether its classes are all there (another node may take them).</summary>
        public bool WaitComplete(CancellationToken cancellationToken)
        {
            _done.Wait(cancellationToken);
            return Complete;
        }

        private bool NamesTheClient(IReadOnlyList<ReachRow> rows, string clientAddress)
        {
            foreach (var r in rows)
                if (NodeSourceSharing.NamesTheClient(r, clientAddress)) return true;
            foreach (var list in _classes)
                if (list is not null)
                    foreach (var e in list)
                        if (e.Probe.Failure is { Frozen: { } text } && NodeSourceSharing.NamesTheClient(text, clientAddress)) return true;
            return false;
        }

        /// <summary>Waits for the worker computing the sweep; whether it can be shared.</summary>
        public bool Wait(CancellationToken cancellationToken)
        {
            _done.Wait(cancellationToken);
            return Rows is not null;
        }
    }

    /// <summary>
    /// The addresses <paramref name="destination"/> can be probed at: a node's underlay address, or a service's VIPs (a
    /// pair uses the VIP on a network it shares with the source). Empty for a name that is neither.
    /// </summary>
    public static IReadOnlyList<Ipv4Address> Addresses(Topology topology, string destination)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        foreach (var n in topology.Nodes)
            if (n.Name == destination) return new[] { n.Address.Address };
        foreach (var s in topology.Services)
            if (s.Name == destination)
            {
                var result = new List<Ipv4Address>();
                foreach (var v in s.Vips) result.Add(v.Address);
                return result;
            }
        return Array.Empty<Ipv4Address>();
    }

    /// <summary>
    /// One pair's rows: a sweep over the port classes of each protocol, and one echo. With <paramref name="record"/> (the
    /// outside client's pair) the classes are kept for the nodes that share them; with <paramref name="shared"/> (a node
    /// sharing the client's sweep) only the classes where a balancer hashed the client's address are probed, and the rest
    /// are the client's.
    /// </summary>
    private static List<ReachRow>? AnalyzePair(Simulation sim, ClassStarts starts, Pair pair, IReadOnlyDictionary<string, string> taskService,
        List<Entry> sweep, Counters? counters, Backends? backends, OutsideSweep? record = null, OutsideSweep? shared = null) =>
        AnalyzePair(sim, starts, pair, taskService, sweep, counters, backends, record, shared, null, null, out _);

    /// <summary>
    /// One pair's rows, as the overload above; with <paramref name="touches"/> (a reference node's outside sweep) each
    /// class it probes also keeps the nodes its walk touched, and with <paramref name="taken"/> (the reference's sweep) the
    /// reference's classes this node can take are taken, else <paramref name="fallback"/>'s (the second reference's), and
    /// the rest probed. <paramref name="conflict"/> says a balancer could then have seen other connections than in this
    /// node's own sweep: the rows are then null and the simulation is not at the loaded state. A <paramref name="touches"/>
    /// without its sharing notes each probe's keys and maps them with <paramref name="indexed"/>'s at the end of each protocol.
    /// </summary>
    private static List<ReachRow>? AnalyzePair(Simulation sim, ClassStarts starts, Pair pair, IReadOnlyDictionary<string, string> taskService,
        List<Entry> sweep, Counters? counters, Backends? backends, OutsideSweep? record, OutsideSweep? shared,
        (NodeDestinationSharing? Sharing, string Reference)? touches, (OutsideSweep Sweep, NodeDestinationSharing.Transfer Transfer)? taken, out bool conflict,
        (OutsideSweep Sweep, NodeDestinationSharing.Transfer Transfer)? fallback = null, (OutsideSweep Sweep, NodeDestinationSharing.Transfer Transfer)? hashedFrom = null,
        Func<NodeDestinationSharing>? indexed = null)
    {
        conflict = false;
        // Keys noted before the index, by the index in the sweep of the class they are of.
        var noted = touches is { Sharing: null } ? new List<(int At, NodeDestinationSharing.NotedKeys Keys)>() : null;
        long probes = 0, takenClasses = 0, fromSecond = 0;
        var request = new PathRecord { NotesKeys = touches is not null };
        var reply = new PathRecord { NotesKeys = touches is not null };
        if (!sim.TryResolve(pair.Source, pair.Destination + ":1/tcp", out var baseFlow, out _)) return null;
        var source = sim.Cluster.Namespaces[baseFlow.SourceNamespace];
        // A node's probes take the outside client's ephemeral ports (not swept: any sequence is as good), so that a node and
        // the client send the same packets but for the address, and NodeSourceSharing can give the one's rows to the other.
        int outsideSource = -1;
        if (source.Kind == NamespaceKind.Host && sim.TryResolve("external", pair.Destination + ":1/tcp", out var outsideFlow, out _))
            sim.TakeEphemeralPortsOf(baseFlow.SourceNamespace, outsideSource = outsideFlow.SourceNamespace);
        var rows = new List<ReachRow>();
        for (int pi = 0; pi < Protocols.Count; pi++)
        {
            var proto = Protocols[pi];
            if (pi > 0)
            {
                // Each protocol's sweep starts from the loaded state, as each pair does: one balancer (a service's fwmark)
                // serves TCP and UDP alike, and its connection counts and positions carried from one protocol's classes to
                // the next, so a node that took a balancer's TCP classes and probed its UDP class itself picked on other
                // counts than its own whole sweep (found by a differential fuzz). A row no longer depends on the probes of
                // another protocol.
                sim.ResetTraffic();
                if (outsideSource >= 0) sim.TakeEphemeralPortsOf(baseFlow.SourceNamespace, outsideSource);
            }
            var flow = proto == IpProtocol.Icmp ? baseFlow with { Protocol = IpProtocol.Icmp, DestinationPort = 0 } : baseFlow with { Protocol = proto };
            sweep.Clear();
            if (taken is { } from && proto != IpProtocol.Icmp)
            {
                if (!Take((from.Sweep.Classes(pi), from.Transfer), fallback is { } also ? (also.Sweep.Classes(pi), also.Transfer) : null))
                {
                    conflict = true;
                    counters?.Add(probes);
                    return null;
                }
            }
            else if (shared is null) Sweep(1, 65536);
            else
            {
                // Per component of hashed classes: the picks this node's address makes; a node that made the same swept them
                // exactly as this one would (same walks, same order), else this node sweeps them and keeps them for others.
                var components = shared.Components(pi);
                var address = sim.SourceOf(baseFlow);
                var picks = new string[components.Count];
                var swept = new List<Entry>[]?[components.Count];
                var fresh = new List<Entry>[]?[components.Count];
                var known = shared.Classes(pi);
                for (int c = 0; c < components.Count; c++)
                {
                    picks[c] = Picks(sim, components[c], address, sim.Cluster.Plan.Underlay.ExternalClient);
                    swept[c] = shared.Swept(pi, c, picks[c]);
                    if (swept[c] is null && hashedFrom is { } toReference) swept[c] = Transferred(toReference.Sweep, toReference.Transfer, components[c], known, address);
                    if (swept[c] is null) fresh[c] = new List<Entry>[components[c].Classes.Count];
                }
                for (int k = 0; k < known.Count; k++)
                {
                    var e = known[k];
                    if (!e.Hashed) { sweep.Add(e); continue; }
                    int c = shared.ComponentOf(pi, k), at = components[c].Classes.IndexOf(k);
                    if (swept[c] is { } done)
                    {
                        sweep.AddRange(done[at]);
                        if (at == 0) counters?.AddReused();
                        continue;
                    }
                    int before = sweep.Count;
                    StartAs(e); // the client's probe of this class
                    Sweep(e.From, k + 1 < known.Count ? known[k + 1].From : 65536);
                    fresh[c]![at] = sweep.GetRange(before, sweep.Count - before);
                }
                for (int c = 0; c < components.Count; c++)
                    if (fresh[c] is { } mine && Shareable(mine, pair.Source, address)) shared.Remember(pi, c, picks[c], mine);
            }
            if (noted is { Count: > 0 })
            {
                var sharing = indexed!();
                foreach (var (at, keys) in noted) sweep[at] = sweep[at] with { Touched = sharing.Touched(keys, touches!.Value.Reference) };
                noted.Clear();
            }
            record?.Keep(pi, sweep);
            if (proto == IpProtocol.Icmp)
            {
                rows.Add(Row(pair, flow, 0, 0, sweep[0].Probe.Result, sweep[0].Probe.Cause, sweep[0].Probe.Backends));
                continue;
            }
            // Merge adjacent classes that end the same way; each row keeps its first class's explanation.
            int i = 0;
            while (i < sweep.Count)
            {
                int j = i + 1;
                var key = sweep[i].Probe.Key;
                while (j < sweep.Count && sweep[j].Probe.Key.Equals(key)) j++;
                int to = j < sweep.Count ? sweep[j].From - 1 : 65535;
                rows.Add(Row(pair, flow, sweep[i].From, to, sweep[i].Probe.Result, sweep[i].Probe.Cause, sweep[i].Probe.Backends));
                i = j;
            }

            // Probes the classes of [from, end) and adds them to the sweep (the echo is one probe, at port 0).
            void Sweep(int from, int end)
            {
                if (proto == IpProtocol.Icmp)
                {
                    long clock = sim.Cluster.NowMilliseconds;
                    int cursor = source.EphemeralCursor;
                    var p = Send(sim, flow, taskService, null, IpProtocol.Icmp, 0, request, reply, backends);
                    Note();
                    sweep.Add(Probed(0, p, clock, cursor));
                    return;
                }
                for (int port = from; port < end;)
                {
                    long clock = sim.Cluster.NowMilliseconds;
                    int cursor = source.EphemeralCursor;
                    var probe = Send(sim, flow with { DestinationPort = port }, taskService, starts, proto, port, request, reply, backends);
                    Note();
                    sweep.Add(Probed(port, probe, clock, cursor));
                    port = Math.Min(probe.NextClass, end);
                }
            }

            // A probe of a class that another sweep probed and this one skipped up to here starts where that probe did: as
            // late on the clock (the skipped classes took that time), never earlier, and from its ephemeral port, as this
            // sweep would have had it probed every class (node sources take the client's port sequence), since an end can
            // name the port (a differential fuzz found one). A node re-probing the class later starts from the port
            // recorded with it.
            void StartAs(Entry other)
            {
                if (other.Clock > sim.Cluster.NowMilliseconds) sim.Cluster.NowMilliseconds = other.Clock;
                if (other.Cursor >= 0) sim.SetEphemeralCursor(baseFlow.SourceNamespace, other.Cursor);
            }

            // The next class's keys, to be mapped once the plan is indexed.
            void Note() => noted?.Add((sweep.Count, new NodeDestinationSharing.NotedKeys(request, reply)));

            Entry Probed(int port, Probe probe, long clock, int cursor)
            {
                probes++;
                bool keep = record is not null || taken is not null || touches is not null;
                return new Entry(port, probe, request.HashedSource || reply.HashedSource, keep ? Both(request.Balancers, reply.Balancers) : null,
                    keep ? Both(request.SourceHashed, reply.SourceHashed) : null, clock,
                    touches is { Sharing: { } t } ? t.Touched(request, reply, touches.Value.Reference) : null, // noted keys: set at the protocol's end
                    touches is not null ? Both(request.DestinationHashed, reply.DestinationHashed) : null, cursor);
            }

            // A hashed component of this node's sweep toward a node, as a node making the same picks swept it toward the reference
            // (noting what its walks touched), when it is the same component (the same classes) there and the transfer takes
            // every one of its classes (TakenAs).
            List<Entry>[]? Transferred(OutsideSweep reference, NodeDestinationSharing.Transfer transfer, Component component, IReadOnlyList<Entry> known,
                Ipv4Address address)
            {
                var theirs = reference.Classes(pi);
                int first = reference.ClassAt(pi, known[component.Classes[0]].From);
                if (first < 0 || reference.ComponentOf(pi, first) is not (>= 0 and var c)) return null;
                var same = reference.Components(pi)[c];
                if (same.Classes.Count != component.Classes.Count) return null;
                for (int i = 0; i < same.Classes.Count; i++)
                {
                    int a = component.Classes[i], b = same.Classes[i];
                    if (known[a].From != theirs[b].From || End(known, a) != End(theirs, b)) return null;
                }
                if (reference.Swept(pi, c, Picks(sim, same, address, sim.Cluster.Plan.Underlay.ExternalClient)) is not { } lists) return null;
                var mine = new List<Entry>[lists.Length];
                for (int i = 0; i < lists.Length; i++)
                {
                    var list = lists[i];
                    int end = End(theirs, same.Classes[i]);
                    mine[i] = new List<Entry>(list.Count);
                    for (int j = 0; j < list.Count; j++)
                    {
                        var e = list[j];
                        int to = (j + 1 < list.Count ? list[j + 1].From : end) - 1;
                        if (TakenAs(e, to, transfer) is not { } probe) return null;
                        mine[i].Add(e with { Probe = probe });
                    }
                }
                counters?.AddTakenHashed();
                return mine;

                static int End(IReadOnlyList<Entry> classes, int k) => k + 1 < classes.Count ? classes[k + 1].From : 65536;
            }

            // What one reference's sweep offers this node: the classes it can take, and their components (classes joined by a
            // balancer: round robin positions and connection counts carry between them, so they are taken all or none).
            Offer OfferOf(IReadOnlyList<Entry> known, NodeDestinationSharing.Transfer transfer)
            {
                var offer = new Offer(known, transfer);
                var byBalancer = new Dictionary<long, int>();
                for (int i = 0; i < known.Count; i++)
                {
                    var e = known[i];
                    int end = i + 1 < known.Count ? known[i + 1].From : 65536;
                    if (TakeableAs(e, end - 1, transfer, out var there)) offer.Takeable(i, there);
                    if (e.Balancers is { } bs)
                        foreach (var b in bs)
                        {
                            if (byBalancer.TryGetValue(b, out var other)) offer.Join(i, other);
                            else byBalancer[b] = i;
                        }
                }
                offer.Close();
                return offer;
            }

            // A reference's class over [e.From, to] as this node's under the transfer: its probe, with a failure's explanation
            // written for this node; null when the class is not this node's too (its walk touched either node or their tasks,
            // hashed either node's address, or ended otherwise than at a service or at a missing listener or VXLAN device in
            // the reference's namespace of a name this node has too).
            Probe? TakenAs(Entry e, int to, NodeDestinationSharing.Transfer transfer) =>
                TakeableAs(e, to, transfer, out var there) ? there is null ? e.Probe : e.Probe with { Failure = there } : null;

            // TakenAs without making the probe: whether the class is this node's too, and its failure here (null: the reference's probe as it is).
            bool TakeableAs(Entry e, int to, NodeDestinationSharing.Transfer transfer, out Failure? there)
            {
                there = null;
                if (e.Touched is not { } touched || !e.Probe.Backends.IsEmpty || !transfer.Takes(proto, e.From, to, touched) || !PicksAlike(e, transfer)) return false;
                if (e.Probe.Failure is not { } failure) return e.Probe.Result.StartsWith("reaches ", StringComparison.Ordinal);
                return failure.Namespace is int at && transfer.Namespace(at) is int mine && (there = failure.At(sim.Cluster, mine)) is not null;
            }

            // Takes the reference's classes this node can take, else the second reference's (whose walks may end away from
            // this node where the reference's ended at its own tasks), and probes the rest, each from its first port not
            // taken (its walk then ends the class where this node's own sweep would). False when that could make a balancer
            // see other connections than in this node's own sweep: a component taken in part, or a balancer that classes
            // from more than one of the references and the probes fed.
            bool Take((IReadOnlyList<Entry> Known, NodeDestinationSharing.Transfer Transfer) first, (IReadOnlyList<Entry> Known, NodeDestinationSharing.Transfer Transfer)? second)
            {
                var offers = second is { } s2 ? new[] { OfferOf(first.Known, first.Transfer), OfferOf(s2.Known, s2.Transfer) } : new[] { OfferOf(first.Known, first.Transfer) };
                var takenBalancers = new HashSet<long>[offers.Length];
                for (int o = 0; o < offers.Length; o++) takenBalancers[o] = new HashSet<long>();
                var probedBalancers = new HashSet<long>();
                bool sensitive = false;
                var at = new int[offers.Length];
                for (int port = 1; port < 65536;)
                {
                    bool tookOne = false;
                    for (int o = 0; o < offers.Length && !tookOne; o++)
                    {
                        var offer = offers[o];
                        var known = offer.Known;
                        ref int k = ref at[o];
                        while (k + 1 < known.Count && known[k + 1].From <= port) k++;
                        var e = known[k];
                        if (port != e.From || offer.Taken(k) is not { } taken || offer.Refused(k)) continue;
                        var transfer = offer.Transfer;
                        long[]? mine = null;
                        if (e.Balancers is { } theirs)
                        {
                            mine = new long[theirs.Length];
                            for (int b = 0; b < theirs.Length; b++) takenBalancers[o].Add(mine[b] = transfer.Balancer(theirs[b]));
                        }
                        // A pick by the client's address is the same here: the same balancer's same backends hash it.
                        (long, Ipv4Address)[]? picks = null;
                        if (e.Picks is { } hashed)
                        {
                            picks = new (long, Ipv4Address)[hashed.Length];
                            for (int h = 0; h < hashed.Length; h++) picks[h] = (transfer.Balancer(hashed[h].Balancer), hashed[h].Source);
                        }
                        sweep.Add(new Entry(port, taken, picks is not null, mine, picks, e.Clock, Cursor: e.Cursor));
                        offer.Took(k);
                        takenClasses++;
                        if (o > 0) fromSecond++;
                        port = k + 1 < known.Count ? known[k + 1].From : 65536;
                        tookOne = true;
                    }
                    if (tookOne) continue;
                    StartAs(offers[0].Known[at[0]]); // the reference's probe of this class
                    long clock = sim.Cluster.NowMilliseconds;
                    int cursor = source.EphemeralCursor;
                    var probe = Send(sim, flow with { DestinationPort = port }, taskService, starts, proto, port, request, reply, backends);
                    var entry = Probed(port, probe, clock, cursor);
                    sweep.Add(entry);
                    // An end that can depend on the client's ephemeral port (this node's probes take other ports than its own
                    // whole sweep would): the reply ended at the source, a datagram carried the probe, or the walk looped.
                    if (probe.Failure is not null && (request.Outcome.Kind == DispositionKind.Looped || reply.Walked && reply.Outcome.Kind == DispositionKind.Looped
                        || reply.Walked && reply.Outcome.Kind != DispositionKind.Delivered && reply.Outcome.Namespace == baseFlow.SourceNamespace
                        || probe.Result.IndexOf(", carrying it", StringComparison.Ordinal) >= 0))
                        sensitive = true;
                    if (entry.Balancers is { } used) probedBalancers.UnionWith(used);
                    port = probe.NextClass;
                }
                if (sensitive) return false;
                foreach (var offer in offers) if (!offer.TookWhole()) return false;
                foreach (var t in takenBalancers) if (probedBalancers.Overlaps(t)) return false;
                return offers.Length == 1 || !takenBalancers[0].Overlaps(takenBalancers[1]);
            }
        }
        counters?.Add(probes);
        counters?.AddTakenClasses(takenClasses);
        counters?.AddTakenFromSecond(fromSecond);
        return rows;
    }

    /// <summary>
    /// Whether a class of the reference's sweep meets its balancers' picks at the node taking it: no balancer on its way hashed
    /// a source or destination address of either node's own or of their tasks. A hash of any other address is the same pick
    /// there: the same balancer's same backends hash it (a routing mesh's <c>dh</c> service hashes the ingress sandbox's
    /// gateway-bridge address, the same on every node).
    /// </summary>
    private static bool PicksAlike(Entry e, NodeDestinationSharing.Transfer transfer)
    {
        if (e.Balancers is { } balancers)
            foreach (var b in balancers)
                if (transfer.HashesDestination(b) && !DestinationHashedAlike(e.DestinationPicks, b, transfer)) return false;
        if (e.Picks is { } picks) foreach (var (_, hashed) in picks) if (transfer.PicksOtherwise(hashed)) return false;
        return true;
    }

    // Every pick balancer b made by the destination hashed an address both nodes' walks carry there; none noted: not alike.
    private static bool DestinationHashedAlike((long Balancer, Ipv4Address Destination)[]? picks, long b, NodeDestinationSharing.Transfer transfer)
    {
        bool any = false;
        if (picks is not null)
            foreach (var (balancer, hashed) in picks)
                if (balancer == b)
                {
                    if (transfer.PicksOtherwise(hashed)) return false;
                    any = true;
                }
        return any;
    }

    /// <summary>
    /// The picks a node's address makes in a component's source-hashing balancers, as text: where the client's walk hashed
    /// the client's address the node's hashes its own; any other address hashed is the same for every source.
    /// </summary>
    private static string Picks(Simulation sim, Component component, Ipv4Address source, Ipv4Address client)
    {
        var text = new System.Text.StringBuilder();
        foreach (var (balancer, hashed) in component.Picks)
            text.Append(sim.PeekSourceHash(balancer, hashed == client ? source : hashed)).Append(',');
        return text.ToString();
    }

    /// <summary>
    /// Whether a node's sweep of a component can be given to others: its explanations are written now (they name the state
    /// before this pair's reset) and must not name the node.
    /// </summary>
    private static bool Shareable(List<Entry>[] classes, string node, Ipv4Address address)
    {
        var at = address.ToString();
        foreach (var list in classes)
            foreach (var e in list)
                if (e.Probe.Failure is { } f)
                {
                    f.Freeze();
                    var text = f.Frozen!;
                    if (text.IndexOf(node + "/", StringComparison.Ordinal) >= 0 || text.IndexOf(at, StringComparison.Ordinal) >= 0) return false;
                }
        return true;
    }

    // What a class's connection made load balancers decide, in the request's walk then the reply's (kept only where a node
    // may share the sweep): the balancers, the picks by source, the picks by destination.
    private static T[]? Both<T>(List<T> request, List<T> reply)
    {
        int n = request.Count + reply.Count;
        if (n == 0) return null;
        var result = new T[n];
        request.CopyTo(result);
        reply.CopyTo(result, request.Count);
        return result;
    }

    /// <summary>The task → service map of a topology.</summary>
    public static IReadOnlyDictionary<string, string> TaskServices(Topology topology)
    {
        if (topology is null) throw new ArgumentNullException(nameof(topology));
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in topology.Tasks) map[t.Name] = t.Service;
        return map;
    }

    /// <summary>The outcome class of one connection attempt (what merges atoms into ranges).</summary>
    public static string Classify(ConnectionResult r, IReadOnlyDictionary<string, string> taskService)
    {
        if (taskService is null) throw new ArgumentNullException(nameof(taskService));
        return Classify(r.Request, r.Reply, r.Task, taskService);
    }

    private static string Classify(DispositionKind request, DispositionKind? reply, string? task, IReadOnlyDictionary<string, string> taskService)
    {
        if (request != DispositionKind.Delivered) return "blocked";
        if (task is null || !taskService.TryGetValue(task, out var service)) return Delivered(task ?? "host", reply);
        return reply == DispositionKind.Delivered ? "reaches " + service : "no reply from " + service;
    }

    // Taken in by something that is not a service's task: said as such, unless its answer was lost on the way back.
    private static string Delivered(string owner, DispositionKind? reply) =>
        reply is { } r && r != DispositionKind.Delivered ? "no reply from " + owner : "delivered to " + owner;

    /// <summary>
    /// One probe: its outcome, its merge key, where its port class ends, and for a failure the facts that explain it (the
    /// explanation is only written for the probe that starts a row).
    /// </summary>
    private readonly record struct Probe(OutcomeKey Key, string Result, int NextClass, Failure? Failure, EquatableArray<ReachBackends> Backends = default)
    {
        public string? Cause => Failure?.Explain();
    }

    /// <summary>
    /// What adjacent classes must share to merge into one row: the result and, for a failure, how the failed walk ended and
    /// the rule that discarded it (<see cref="TraceExplanation.Key(PacketTrace)"/>'s fields, as values: no string per probe).
    /// </summary>
    private readonly record struct OutcomeKey(string Result, DispositionKind Kind, DropCause? Cause, string? Table, string? Chain, int Rule,
        string? File, int Line, int Column, string? Variation = null, string? Where = null)
    {
        public static OutcomeKey Of(string result, DispositionKind kind, DropCause? cause, NetfilterStep? v)
        {
            bool known = v is not null && v.Span.IsKnown;
            return new OutcomeKey(result, kind, cause, v?.Table, v?.Chain, v?.RuleNumber ?? -1,
                v is null ? null : known ? v.Span.FileName : "(derived)", known ? v!.Span.StartLine : 0, known ? v!.Span.StartColumn : 0);
        }

        // Written out: the whole table of a 100-node plan compares 25 million adjacent classes, and the generated equality
        // went through a comparer per field. Numbers first, then strings (mostly the same instances).
        public bool Equals(OutcomeKey other) =>
            Kind == other.Kind && Rule == other.Rule && Line == other.Line && Column == other.Column && Cause == other.Cause
            && string.Equals(Result, other.Result, StringComparison.Ordinal) && string.Equals(Table, other.Table, StringComparison.Ordinal)
            && string.Equals(Chain, other.Chain, StringComparison.Ordinal) && string.Equals(File, other.File, StringComparison.Ordinal)
            && string.Equals(Variation, other.Variation, StringComparison.Ordinal) && string.Equals(Where, other.Where, StringComparison.Ordinal);

        public override int GetHashCode()
        {
            unchecked
            {
                int h = StringComparer.Ordinal.GetHashCode(Result);
                h = h * 31 + (int)Kind;
                h = h * 31 + (Cause is { } c ? (int)c + 1 : 0);
                h = h * 31 + Rule;
                return h * 31 + Line;
            }
        }
    }

    /// <summary>The walk that failed (the reply's, when the request got through): what a trace of it would say.</summary>
    private sealed class Failure
    {
        private readonly Simulation _sim;
        private readonly bool _reply;
        private readonly Outcome _outcome;
        private readonly NetfilterStep? _discard;
        private readonly DropStep? _drop;

        /// <summary>A failure already written out (a class whose backends ended in different ways).</summary>
        public Failure(string text)
        {
            _sim = null!;
            Frozen = text;
        }

        // A failure moved to another node's namespace (At), written when first asked: most such classes never start a row.
        private readonly Failure? _movedFrom;
        private readonly NamespaceRuntime? _movedTo;
        private readonly SwarmDsl.Text.SourceSpan _movedSpan;

        private Failure(Failure from, NamespaceRuntime to, SwarmDsl.Text.SourceSpan span)
        {
            _sim = null!;
            _movedFrom = from;
            _movedTo = to;
            _movedSpan = span;
        }

        public Failure(Simulation sim, bool reply, PathRecord record)
        {
            // Copied: the record is reused by the next probe. The disposition is only made for a row's first probe, before
            // the pair's reset (it names a client socket's owner, which lives until then).
            _sim = sim;
            _reply = reply;
            _outcome = record.Outcome;
            _discard = record.Discard;
            _drop = record.Drop;
        }

        /// <summary>The namespace where the failed walk ended (null for a failure already written out).</summary>
        public int? Namespace => _sim is null ? null : _outcome.Namespace;

        /// <summary>The explanation, when it was written ahead (<see cref="Freeze"/>).</summary>
        public string? Frozen { get; private set; }

        /// <summary>Writes the explanation now, while the state it names is there (a shared sweep's, before its reset).</summary>
        public void Freeze() => Frozen ??= Explain();

        public string Explain() => Frozen ?? (_movedFrom is { } from ? Frozen = from.WriteAt(_movedTo!, _movedSpan)
            : (_reply ? "reply " : "") + TraceExplanation.Explain(_sim.DispositionOf(_outcome), _discard, _drop));

        /// <summary>
        /// This failure as another node's namespace <paramref name="ns"/> (of the same name) would have it, when its
        /// explanation names nothing of the reference's but that namespace: a missing listener or VXLAN device, no rule
        /// (the drop's text names the namespace, its span the namespace's declaration). Null for any other failure.
        /// </summary>
        public Failure? At(Cluster cluster, int ns)
        {
            if (_sim is null || _outcome.Kind != DispositionKind.Dropped || _discard is not null || _drop is null || _drop.Cause is not (DropCause.NoListener or DropCause.UnknownVni)) return null;
            var from = _sim.Cluster.Namespaces[_outcome.Namespace];
            var to = cluster.Namespaces[ns];
            SwarmDsl.Text.SourceSpan span;
            if (_drop.Span.Equals(from.Span)) span = to.Span;
            else if (!_drop.Span.IsKnown) span = _drop.Span;
            else return null;
            return new Failure(this, to, span);
        }

        // The text of At's failure: made of this failure's facts alone (the walk's disposition is made of them too), so it
        // can be written after the reference's state is reset.
        private string WriteAt(NamespaceRuntime to, SwarmDsl.Text.SourceSpan span)
        {
            var from = _sim.Cluster.Namespaces[_outcome.Namespace];
            string fromName = from.QualifiedName, toName = to.QualifiedName, suffix = " in " + fromName;
            string Rename(string text) => text.EndsWith(suffix, StringComparison.Ordinal) ? text.Substring(0, text.Length - fromName.Length) + toName : text;
            var drop = new DropStep(_drop!.Cause, Rename(_drop.Detail), span);
            var detail = _outcome.Detail is null || ReferenceEquals(_outcome.Detail, _drop.Detail) ? drop.Detail : Rename(_outcome.Detail);
            return (_reply ? "reply " : "") + TraceExplanation.Dropped(_outcome.Cause, toName, _outcome.Detail is null ? _outcome.Cause.ToString() : detail, null, drop);
        }
    }

    /// <summary>
    /// Sends one connection, untraced but recorded (the namespaces and chains each walk entered, what discarded it). The
    /// reason a packet did not reach a service becomes part of the key, so ranges only merge classes that fail the same
    /// way at the same rule; the explanation is what a trace of the same walk would say. The class of
    /// <paramref name="port"/> ends before the first class start above it in any namespace the request or the reply crossed.
    /// </summary>
    private static Probe Send(Simulation sim, Flow flow, IReadOnlyDictionary<string, string> taskService, ClassStarts? starts, IpProtocol proto, int port,
        PathRecord request, PathRecord reply, Backends? backends)
    {
        var main = Judge(sim, sim.ConnectRecorded(flow, request, reply), request, reply, taskService, starts, proto, port);
        if (backends is null) return main;
        // The first balancer on the request's way that could have picked otherwise (not by a hash of the packet).
        foreach (var (balancer, picked) in request.Picks)
        {
            if (picked < 0) continue;
            var choices = backends.Choices(sim, balancer);
            // Only the first balancer that could have picked otherwise is asked, whether or not its service is covered.
            if (choices.Count >= 2 && !backends.Covers(sim, balancer)) return main;
            if (choices.Count >= 2) return OnEveryBackend(main, sim.ChoiceOf(balancer, picked), balancer, choices, flow, taskService, starts, proto, port, backends);
        }
        return main;
    }

    private static Probe Judge(Simulation sim, ConnectionResult r, PathRecord request, PathRecord reply, IReadOnlyDictionary<string, string> taskService,
        ClassStarts? starts, IpProtocol proto, int port)
    {
        var result = Classify(r.Request, r.Reply, r.Task, taskService);
        // Delivered to a namespace that is neither a task nor a host: a balancer's sandbox answering for its VIP (IPVS does
        // not schedule an ICMP echo; the namespace owning the VIP answers it). Say which.
        if (r.Task is null && r.Request == DispositionKind.Delivered && request.Walked
            && sim.Cluster.Namespaces[request.Outcome.Namespace] is { Kind: not NamespaceKind.Host } answering)
            result = Delivered(answering.Name, r.Reply);
        int next = 65536;
        if (starts is not null)
        {
            next = starts.NextAfter(request, proto, port, next, isRequest: true);
            if (reply.Walked) next = starts.NextAfter(reply, proto, port, next, isRequest: false);
        }
        // Taken in as another protocol: a task got the datagram carrying the probe (a raw DNAT of the overlay's VXLAN
        // traffic), not the probe. (A UDP probe carried so is not told apart: the walker keeps one level of encapsulation.)
        if (request.Walked && request.Outcome.Final.Protocol != proto && r.Task is { } carrier)
            result = "delivered to " + carrier + " as " + request.Outcome.Final.Protocol.Name() + ", carrying it";
        if (result.StartsWith("reaches ", StringComparison.Ordinal)) return new Probe(OutcomeKey.Of(result, r.Request, null, null), result, next, null);
        bool replyFailed = r.Request == DispositionKind.Delivered && r.Reply is { } k && k != DispositionKind.Delivered;
        var failed = replyFailed ? reply : request;
        var kind = failed.Outcome.Kind;
        // Where it stopped, as what kind of namespace of whose: a drop without a rule (no listener, no route) in a host
        // is not the same end as one in a service's task, though cause and rule (none) agree.
        var at = sim.Cluster.Namespaces[failed.Outcome.Namespace];
        var key = OutcomeKey.Of(result, kind, kind == DispositionKind.Dropped ? failed.Outcome.Cause : null, failed.Discard)
            with { Where = at.Kind.ToString() + "/" + (at.Plan?.Owner ?? "") };
        return new Probe(key, result, next, new Failure(sim, replyFailed, failed));
    }

    /// <summary>
    /// The class probed again on each other backend <paramref name="balancer"/> could have given the connection, each from
    /// the loaded state on a second simulation (the sweep's own state is left as one connection per class leaves it).
    /// The class ends where the first of those walks says; when the backends do not all end the same way, the probe says
    /// which did what.
    /// </summary>
    private static Probe OnEveryBackend(Probe main, int picked, long balancer, IReadOnlyList<(int Destination, string Backend)> choices, Flow flow,
        IReadOnlyDictionary<string, string> taskService, ClassStarts? starts, IpProtocol proto, int port, Backends backends)
    {
        var outcomes = new List<(string Backend, Probe Probe)>(choices.Count);
        int next = main.NextClass;
        bool same = true, pickedSeen = false;
        var mainKey = backends.Alike(main.Key);
        foreach (var (destination, backend) in choices)
        {
            if (destination == picked) { outcomes.Add((backend, main)); pickedSeen = true; continue; }
            var other = backends.Sim;
            other.ResetTraffic();
            var r = other.ConnectForced(flow, balancer, destination, backends.Request, backends.Reply);
            var probe = Judge(other, r, backends.Request, backends.Reply, taskService, starts, proto, port);
            // Written now: the next probe resets what it names.
            probe.Failure?.Freeze();
            next = Math.Min(next, probe.NextClass);
            same &= backends.Alike(probe.Key) == mainKey;
            outcomes.Add((backend, probe));
        }
        if (same || !pickedSeen) return main with { NextClass = next };
        // Backends grouped by how they ended, in the balancer's order.
        var groups = new List<(Probe Probe, List<string> Backends)>();
        foreach (var (backend, probe) in outcomes)
        {
            var alike = backends.Alike(probe.Key);
            int g = groups.FindIndex(x => backends.Alike(x.Probe.Key) == alike);
            if (g < 0) groups.Add((probe, new List<string> { backend }));
            else groups[g].Backends.Add(backend);
        }
        bool oneResult = groups.TrueForAll(x => x.Probe.Result == groups[0].Probe.Result);
        var result = oneResult ? groups[0].Probe.Result
            : "varies by backend: " + string.Join(", ", groups.ConvertAll(x => x.Probe.Result + " (" + Names(x.Backends) + ")"));
        var causes = new List<string>();
        var variation = new System.Text.StringBuilder();
        var ways = new List<ReachBackends>(groups.Count);
        foreach (var (probe, names) in groups)
        {
            var cause = probe.Cause;
            // The cause is the first backend's (it names where that one stopped); the others stopped alike, each at its own.
            if (cause is not null) causes.Add(names[0] + ": " + cause + (names.Count > 1 ? " (" + Names(names.GetRange(1, names.Count - 1)) + " alike)" : ""));
            variation.Append(string.Join(",", names)).Append('=').Append(backends.Alike(probe.Key).ToString()).Append(';');
            ways.Add(new ReachBackends(probe.Result, ServiceOf(probe.Result), cause, new EquatableArray<string>(names)));
        }
        // Not the main connection's key: which backend the balancer's state gave it must not keep equal rows apart.
        var key = new OutcomeKey(result, default, null, null, null, -1, null, 0, 0, variation.ToString());
        return new Probe(key, result, next, new Failure(string.Join("; ", causes)), new EquatableArray<ReachBackends>(ways));
    }

    // Backends by name, the first few of a long list.
    private static string Names(List<string> backends) =>
        backends.Count <= 4 ? string.Join(", ", backends) : string.Join(", ", backends.GetRange(0, 3)) + " and " + (backends.Count - 3).ToString(System.Globalization.CultureInfo.InvariantCulture) + " more";

    /// <summary>
    /// Where a worker probes a class again on each backend its balancer could have picked (<c>reach --every-backend</c>):
    /// a second simulation of the plan, reset before each such probe, and the balancers' choices.
    /// </summary>
    private sealed class Backends
    {
        private readonly DataplanePlan _plan;
        private readonly uint _seed;
        private Simulation? _sim;
        private readonly Dictionary<long, IReadOnlyList<(int Destination, string Backend)>> _choices = new();

        private readonly HashSet<(string File, int Line, int Column)> _rawRules = new();
        // The services whose balancers are asked (null: every service's, --every-backend).
        private readonly HashSet<string>? _only;

        public Backends(DataplanePlan plan, uint seed, Topology topology, HashSet<string>? only)
        {
            _plan = plan;
            _seed = seed;
            _only = only;
            foreach (var r in topology.Rules) _rawRules.Add((r.Span.FileName, r.Span.StartLine, r.Span.StartColumn));
        }

        /// <summary>
        /// An outcome as backends are compared: each task has its own copy of Docker's rules (declared where the task is),
        /// so a derived rule's declaration does not tell one backend from another; a raw rule's does.
        /// </summary>
        public OutcomeKey Alike(OutcomeKey key) =>
            key.File is null || _rawRules.Contains((key.File, key.Line, key.Column)) ? key : key with { File = "(derived)", Line = 0, Column = 0 };

        /// <summary>Whether the classes <paramref name="balancer"/> balances are probed on each of its backends.</summary>
        public bool Covers(Simulation sim, long balancer) => _only is null || _only.Contains(sim.BalancerService(balancer));

        /// <summary>The second simulation, made on first use.</summary>
        public Simulation Sim => _sim ??= new Simulation(_plan, _seed);

        public PathRecord Request { get; } = new();

        public PathRecord Reply { get; } = new();

        public IReadOnlyList<(int Destination, string Backend)> Choices(Simulation sim, long balancer) =>
            _choices.TryGetValue(balancer, out var found) ? found : _choices[balancer] = sim.BalancerChoices(balancer);
    }

    /// <summary>
    /// Class starts per namespace and protocol, computed on first use, in three parts: per chain (what a packet's rules can
    /// tell apart: only chains it entered count; computed once per plan chain, which lowering shares between nodes), the
    /// IPVS services (every namespace crossed), and the sockets — listeners and the host's VXLAN port — which only the
    /// namespace that took the request in consults.
    /// </summary>
    private sealed class ClassStarts
    {
        private static readonly int[][] Empty = { Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>() };
        private readonly Cluster _cluster;
        private readonly Dictionary<int, NamespaceStarts> _byNamespace = new();
        /// <summary>Per plan chain: [protocol][0 = destination-port side (requests), 1 = source-port side (replies)].</summary>
        private readonly Dictionary<NetfilterChain, int[][][]> _byChain = new(ReferenceComparer<NetfilterChain>.Instance);

        private sealed class NamespaceStarts
        {
            public int[][] Ipvs { get; set; } = Empty;
            public int[][] Sockets { get; set; } = Empty;
        }

        public ClassStarts(Cluster cluster) => _cluster = cluster;

        /// <summary>
        /// The smallest class start above <paramref name="port"/> that the walk in <paramref name="record"/> knows of, or
        /// <paramref name="limit"/>: the chains it entered, the IPVS services of the namespaces it crossed, and, for a
        /// request, the sockets of the namespace where it ended.
        /// </summary>
        public int NextAfter(PathRecord record, IpProtocol proto, int port, int limit, bool isRequest)
        {
            int p = Index(proto);
            // The port swept is the request's destination port and its reply's source port.
            int side = isRequest ? 0 : 1;
            // Only what the packet's own headers met. A VXLAN datagram carrying it is matched on its outer UDP header, where
            // the swept port is payload: record.Tunnel is left out (a host's DOCKER-INGRESS names every published port, and
            // counting it for tunnelled traffic split every service-to-service sweep that crossed nodes at each of them).
            foreach (var ns in record.Namespaces) limit = Next(For(ns).Ipvs[p], port, limit);
            foreach (var chain in record.Chains) limit = Next(Of(chain)[p][side], port, limit);
            if (isRequest && record.Walked && !record.Tunnel.Ended) limit = Next(For(record.Outcome.Namespace).Sockets[p], port, limit);
            return limit;
        }

        private static int Next(int[] starts, int port, int limit)
        {
            int k = Array.BinarySearch(starts, port + 1);
            if (k < 0) k = ~k;
            return k < starts.Length && starts[k] < limit ? starts[k] : limit;
        }

        private static int Index(IpProtocol p) => p == IpProtocol.Tcp ? 0 : p == IpProtocol.Udp ? 1 : 2;

        private static readonly IpProtocol[] PortProtocols = { IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp };

        // Lookups first, building in separate methods: a lambda capturing the argument would allocate its closure on
        // every call, hits included.
        private int[][][] Of(NetfilterChain chain) => _byChain.TryGetValue(chain, out var found) ? found : _byChain[chain] = Build(chain);

        // By the chain's rules: every node's DOCKER-INGRESS and ingress_sbox marking chains hold the same (shared) rules, and
        // a chain's starts depend on its rules alone, so a node's chain built once answers for the others'.
        private readonly Dictionary<EquatableArray<NetfilterRule>, int[][][]> _byRules = new(Netfilter.SameRules.Instance);

        private int[][][] Build(NetfilterChain chain)
        {
            if (_byRules.TryGetValue(chain.Rules, out var known)) return known;
            return _byRules[chain.Rules] = Starts(chain);
        }

        private static int[][][] Starts(NetfilterChain chain)
        {
            var result = new int[PortProtocols.Length][][];
            for (int i = 0; i < result.Length; i++)
                result[i] = new[] { PortAtoms.RuleStarts(chain, PortProtocols[i], Direction.Destination), PortAtoms.RuleStarts(chain, PortProtocols[i], Direction.Source) };
            return result;
        }

        private NamespaceStarts For(int index) => _byNamespace.TryGetValue(index, out var found) ? found : _byNamespace[index] = Build(index);

        private NamespaceStarts Build(int index)
        {
            var result = new NamespaceStarts();
            var ns = _cluster.Namespaces[index];
            if (ns.Plan is { } plan)
            {
                result.Ipvs = Array.ConvertAll(PortProtocols, pr => PortAtoms.IpvsStarts(plan, pr));
                result.Sockets = Array.ConvertAll(PortProtocols, pr => PortAtoms.ListenerStarts(plan, pr));
                // The host's VXLAN sockets take UDP to the data path port (no listener or rule names it).
                if (ns.Kind == NamespaceKind.Host) result.Sockets[1] = WithVxlanPorts(result.Sockets[1], ns.Node, ns.Name);
            }
            return result;
        }

        private int[] WithVxlanPorts(int[] udp, string node, string hostNamespace)
        {
            var set = new SortedSet<int>(udp);
            foreach (var ns in _cluster.Namespaces)
            {
                if (ns.Node != node || ns.Plan is null) continue;
                foreach (var d in ns.Plan.Devices)
                    if (d.Vxlan is { } vx && vx.CreatedIn == hostNamespace)
                    {
                        if (vx.DstPort > 1) set.Add(vx.DstPort);
                        if (vx.DstPort < 65535) set.Add(vx.DstPort + 1);
                    }
            }
            var result = new int[set.Count];
            set.CopyTo(result);
            return result;
        }
    }

    private static ReachRow Row(Pair pair, Flow flow, int from, int to, string result, string? cause, EquatableArray<ReachBackends> backends) =>
        new(pair.Source, pair.Destination, flow.Destination, flow.Protocol.Name(), from, to, result, ServiceOf(result), cause, backends);

    private static string? ServiceOf(string result)
    {
        const string Reaches = "reaches ";
        // Per result string, not per row: the nodes taking a class share its result, and a node question has 250,000 rows.
        return result.StartsWith(Reaches, StringComparison.Ordinal) ? ServiceNames.GetValue(result, static r => r.Substring(Reaches.Length)) : null;
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, string> ServiceNames = new();
}
