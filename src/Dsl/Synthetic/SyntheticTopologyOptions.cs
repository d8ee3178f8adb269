using System;
using System.Collections.Generic;
using SwarmDsl.Semantics;

namespace SwarmDsl.Synthetic;

/// <summary>
/// The shape of a synthetic topology (see <see cref="SyntheticTopology"/>). Every count is exact in the generated YAML;
/// percentages are of the published ports or of the services, drawn with the seeded generator.
/// </summary>
public sealed record SyntheticTopologyOptions
{
    /// <summary>The topology's <c>name</c>.</summary>
    public string Name { get; init; } = "synthetic";

    /// <summary>The seed: the same options always give the same text.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Hosts (1 to 10,000); the first is the manager.</summary>
    public int Nodes { get; init; } = 4;

    /// <summary>Overlay networks besides <c>ingress</c> (1 to 200); every service joins one or two of them.</summary>
    public int Overlays { get; init; } = 2;

    /// <summary>Replicated services (at least 1).</summary>
    public int Services { get; init; } = 8;

    /// <summary>Replicas of all replicated services together (at least <see cref="Services"/>, at most 60,000).</summary>
    public int Tasks { get; init; } = 16;

    /// <summary>Global services (one task per node each), besides <see cref="Services"/>; they publish nothing.</summary>
    public int GlobalServices { get; init; }

    /// <summary>Published ports over all services, each with its own port number.</summary>
    public int PublishedPorts { get; init; } = 8;

    /// <summary>Percentage of published ports in host mode (only on services with no more replicas than nodes).</summary>
    public int HostModePercent { get; init; } = 10;

    /// <summary>Percentage of published ports that are UDP (the rest are TCP).</summary>
    public int UdpPercent { get; init; } = 20;

    /// <summary>Percentage of services whose tasks are all pinned to nodes with IPVS weights 1 to 5.</summary>
    public int WeightedPercent { get; init; } = 10;

    /// <summary>Percentage of services restricted by <c>placement.nodes</c>.</summary>
    public int PlacementPercent { get; init; } = 10;

    /// <summary>The schedulers services draw from (empty: every service uses the default, rr).</summary>
    public IReadOnlyList<Scheduler> Schedulers { get; init; } = AllSchedulers;

    /// <summary><c>expect</c> entries (external → a node's ingress-published TCP port).</summary>
    public int Expectations { get; init; } = 2;

    /// <summary>Raw rules (<c>rules:</c>) in every host's DOCKER-USER chain.</summary>
    public int UserRules { get; init; } = 1;

    /// <summary>All six IPVS schedulers.</summary>
    public static IReadOnlyList<Scheduler> AllSchedulers { get; } = new[] { Scheduler.Rr, Scheduler.Wrr, Scheduler.Lc, Scheduler.Wlc, Scheduler.Sh, Scheduler.Dh };

    /// <summary>A small topology: 4 nodes, 8 services, 16 tasks, 8 published ports.</summary>
    public static SyntheticTopologyOptions Small { get; } = new() { Name = "small" };

    /// <summary>50 nodes, 8 overlays, 500 services, 5,000 tasks, 1,000 published ports.</summary>
    public static SyntheticTopologyOptions Large { get; } = new()
    {
        Name = "large", Nodes = 50, Overlays = 8, Services = 500, Tasks = 5000, PublishedPorts = 1000, Expectations = 4,
    };

    /// <summary>100 nodes, 16 overlays, 1,000 services, 10,000 tasks, 2,000 published ports.</summary>
    public static SyntheticTopologyOptions Huge { get; } = new()
    {
        Name = "huge", Nodes = 100, Overlays = 16, Services = 1000, Tasks = 10000, PublishedPorts = 2000, Expectations = 4,
    };

    /// <summary>The preset called <paramref name="name"/> (small, large, huge), or null.</summary>
    public static SyntheticTopologyOptions? Preset(string name) => name switch
    {
        "small" => Small,
        "large" => Large,
        "huge" => Huge,
        _ => null,
    };

    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = new[] { "small", "large", "huge" };

    /// <summary>Why these options cannot make a valid topology, or null when they can.</summary>
    public string? Problem()
    {
        if (!IsName(Name)) return "name must match [a-z][a-z0-9_-]{0,31}";
        if (Nodes < 1 || Nodes > 10000) return "nodes must be 1 to 10000";
        if (Overlays < 1 || Overlays > 200) return "overlays must be 1 to 200";
        if (Services < 1 || Services > 9999) return "services must be 1 to 9999";
        if (Tasks < Services) return "tasks must be at least the number of services (every service has a replica)";
        if (Tasks > 60000) return "tasks must be at most 60000 (every overlay is a /16)";
        if (GlobalServices < 0 || GlobalServices > 999) return "global services must be 0 to 999";
        if ((long)GlobalServices * Nodes + Tasks > 60000) return "tasks plus global tasks must be at most 60000";
        if (PublishedPorts < 0 || PublishedPorts > 55000) return "published ports must be 0 to 55000";
        foreach (var (what, value) in new[] { ("host-mode", HostModePercent), ("udp", UdpPercent), ("weighted", WeightedPercent), ("placement", PlacementPercent) })
            if (value < 0 || value > 100) return what + " percentage must be 0 to 100";
        if (Expectations < 0 || UserRules < 0) return "expectations and user rules cannot be negative";
        return null;
    }

    private static bool IsName(string s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 32 || s[0] < 'a' || s[0] > 'z') return false;
        foreach (var c in s)
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-')) return false;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Format(System.Globalization.CultureInfo.InvariantCulture,
        "{0}: {1} nodes, {2} overlays, {3} services, {4} tasks, {5} global services, {6} published ports (seed {7})",
        // Unsigned, as synth --seed takes it (the generator reads the seed's 32 bits unsigned): the header's seed reproduces the text.
        Name, Nodes, Overlays, Services, Tasks, GlobalServices, PublishedPorts, unchecked((uint)Seed));

    internal static ArgumentException Invalid(string problem) => new(problem, "options");
}
