using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Semantics;

namespace SwarmDsl.Synthetic;

/// <summary>
/// Writes valid topologies of any size as <c>*.swarm.yaml</c> text, for scale tests and benchmarks. Deterministic: the text is
/// a function of the <see cref="SyntheticTopologyOptions"/> (seed included) and nothing else.
/// </summary>
/// <remarks>
/// Validity by construction: every name is unique and well formed; the underlay (10.254.0.0/16), ingress (10.255.0.0/16),
/// overlays (10.1.0.0/16 upward) and docker_gwbridge (172.18.0.0/16) never overlap; every published port has its own number,
/// so ingress ports never collide; host-mode ports only go to services whose tasks land on distinct nodes (replicas no more
/// than eligible nodes, and Swarm's spread places them one per node); weighted services pin each task to a distinct node.
/// </remarks>
public static class SyntheticTopology
{
    /// <summary>The first published port number; port <c>i</c> is <c>FirstPublishedPort + i</c>.</summary>
    public const int FirstPublishedPort = 10000;

    private static readonly int[] TcpTargets = { 80, 443, 8080, 8443, 5000, 9000, 3000, 6379 };
    private static readonly int[] UdpTargets = { 53, 123, 514, 1812, 5353, 6343 };

    /// <summary>Generates the YAML text of the topology <paramref name="options"/> describe.</summary>
    /// <exception cref="ArgumentException">The options cannot make a valid topology (see <see cref="SyntheticTopologyOptions.Problem"/>).</exception>
    public static string Generate(SyntheticTopologyOptions options) => Generate(options, out _);

    /// <summary>
    /// Generates the YAML text of the topology <paramref name="options"/> describe; <paramref name="expectations"/> is how
    /// many <c>expect</c> entries it has: <see cref="SyntheticTopologyOptions.Expectations"/>, or fewer when the topology
    /// has fewer published TCP ports in ingress mode (one entry each).
    /// </summary>
    /// <exception cref="ArgumentException">The options cannot make a valid topology (see <see cref="SyntheticTopologyOptions.Problem"/>).</exception>
    public static string Generate(SyntheticTopologyOptions options, out int expectations)
    {
        if (options is null) throw new ArgumentNullException(nameof(options));
        if (options.Problem() is { } problem) throw SyntheticTopologyOptions.Invalid(problem);
        var writer = new Writer(options);
        var text = writer.Write();
        expectations = writer.Expectations;
        return text;
    }

    /// <summary>The name of node <paramref name="index"/> (0-based).</summary>
    public static string NodeName(int index) => "node-" + (index + 1).ToString("D3", CultureInfo.InvariantCulture);

    /// <summary>The name of replicated service <paramref name="index"/> (0-based).</summary>
    public static string ServiceName(int index) => "svc-" + (index + 1).ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>The name of global service <paramref name="index"/> (0-based).</summary>
    public static string GlobalServiceName(int index) => "global-" + (index + 1).ToString("D3", CultureInfo.InvariantCulture);

    /// <summary>The name of overlay <paramref name="index"/> (0-based).</summary>
    public static string OverlayName(int index) => "net-" + (index + 1).ToString("D3", CultureInfo.InvariantCulture);

    private sealed class ServicePlan
    {
        public int Replicas = 1;
        public readonly List<int> Overlays = new();
        public readonly List<(int Node, int Weight)> Pinned = new();
        public readonly List<int> Placement = new();
        public readonly List<(int Published, int Target, bool Udp, bool Host)> Ports = new();
        public Scheduler Scheduler = Scheduler.Rr;
        public int EligibleNodes;
    }

    private sealed class Writer
    {
        private readonly SyntheticTopologyOptions _o;
        private readonly SplitMix _rng;
        private readonly StringBuilder _sb = new();

        /// <summary>The expect entries written.</summary>
        public int Expectations;

        public Writer(SyntheticTopologyOptions options)
        {
            _o = options;
            _rng = new SplitMix((ulong)(uint)options.Seed);
        }

        public string Write()
        {
            var services = PlanServices();
            Line("# Synthetic topology (SwarmDsl.Synthetic): " + _o + ".");
            Line("version: 1");
            Line("name: " + _o.Name);
            Line("");
            Line("underlay:");
            Line("  mtu: 1500");
            Line("  subnet: 10.254.0.0/16");
            Line("");
            WriteNodes();
            WriteNetworks();
            WriteServices(services);
            Line("tuning:");
            Line("  sysctls:");
            Line("    net.core.rmem_max: 26214400");
            Line("    net.core.wmem_max: 26214400");
            WriteRules();
            WriteExpectations(services);
            return _sb.ToString();
        }

        private List<ServicePlan> PlanServices()
        {
            var services = new List<ServicePlan>(_o.Services);
            for (int i = 0; i < _o.Services; i++) services.Add(new ServicePlan());
            // Replicas: one each, the rest spread at random (so sizes vary like a real cluster's).
            for (int extra = _o.Tasks - _o.Services; extra > 0; extra--) services[_rng.Next(_o.Services)].Replicas++;

            var hostCapable = new List<int>();
            for (int i = 0; i < services.Count; i++)
            {
                var s = services[i];
                int first = _rng.Next(_o.Overlays);
                s.Overlays.Add(first);
                if (_o.Overlays > 1 && _rng.Next(4) == 0) s.Overlays.Add((first + 1 + _rng.Next(_o.Overlays - 1)) % _o.Overlays);
                if (_o.Schedulers.Count > 0) s.Scheduler = _o.Schedulers[_rng.Next(_o.Schedulers.Count)];
                s.EligibleNodes = _o.Nodes;
                if (s.Replicas <= _o.Nodes && _rng.Next(100) < _o.WeightedPercent)
                {
                    int start = _rng.Next(_o.Nodes);
                    for (int k = 0; k < s.Replicas; k++) s.Pinned.Add(((start + k) % _o.Nodes, 1 + _rng.Next(5)));
                }
                else if (_o.Nodes > 1 && _rng.Next(100) < _o.PlacementPercent)
                {
                    int count = Math.Max(1, _o.Nodes / 4), start = _rng.Next(_o.Nodes);
                    for (int k = 0; k < count; k++) s.Placement.Add((start + k) % _o.Nodes);
                    s.Placement.Sort();
                    s.EligibleNodes = count;
                }
                // Spread puts each task on a different node only while there are enough eligible nodes.
                if (s.Replicas <= s.EligibleNodes) hostCapable.Add(i);
            }

            for (int p = 0; p < _o.PublishedPorts; p++)
            {
                bool host = hostCapable.Count > 0 && _rng.Next(100) < _o.HostModePercent;
                bool udp = _rng.Next(100) < _o.UdpPercent;
                var s = services[host ? hostCapable[_rng.Next(hostCapable.Count)] : _rng.Next(services.Count)];
                var targets = udp ? UdpTargets : TcpTargets;
                s.Ports.Add((FirstPublishedPort + p, targets[_rng.Next(targets.Length)], udp, host));
            }
            return services;
        }

        private void WriteNodes()
        {
            Line("nodes:");
            for (int i = 0; i < _o.Nodes; i++)
            {
                int host = i + 2; // .0.1 is left for the underlay's router
                Line("  " + NodeName(i) + ":");
                if (i == 0) Line("    role: manager");
                Line("    address: 10.254." + Num(host >> 8) + "." + Num(host & 255) + "/16");
            }
            Line("");
        }

        private void WriteNetworks()
        {
            Line("networks:");
            Line("  docker_gwbridge:");
            Line("    driver: bridge");
            Line("    subnet: 172.18.0.0/16");
            Line("    icc: false");
            Line("  ingress:");
            Line("    driver: overlay");
            Line("    ingress: true");
            Line("    subnet: 10.255.0.0/16");
            for (int i = 0; i < _o.Overlays; i++)
            {
                Line("  " + OverlayName(i) + ":");
                Line("    driver: overlay");
                Line("    subnet: 10." + Num(i + 1) + ".0.0/16");
                if (i % 4 == 3) Line("    attachable: true");
            }
            Line("");
        }

        private void WriteServices(List<ServicePlan> services)
        {
            Line("services:");
            for (int i = 0; i < services.Count; i++)
            {
                var s = services[i];
                Line("  " + ServiceName(i) + ":");
                Line("    image: registry.example/app-" + Num(i % 37) + ":1." + Num(i % 5));
                Line("    replicas: " + Num(s.Replicas));
                Line("    networks: [" + string.Join(", ", s.Overlays.ConvertAll(OverlayName)) + "]");
                if (s.Ports.Count > 0)
                {
                    Line("    ports:");
                    foreach (var (published, target, udp, host) in s.Ports)
                        Line("      - { published: " + Num(published) + ", target: " + Num(target) + ", protocol: " + (udp ? "udp" : "tcp")
                            + ", mode: " + (host ? "host" : "ingress") + " }");
                }
                if (s.Scheduler != Scheduler.Rr) Line("    loadBalancing: { scheduler: " + s.Scheduler.ToString().ToLowerInvariant() + " }");
                if (s.Placement.Count > 0) Line("    placement: { nodes: [" + string.Join(", ", s.Placement.ConvertAll(NodeName)) + "] }");
                if (s.Pinned.Count > 0)
                {
                    Line("    tasks:");
                    foreach (var (node, weight) in s.Pinned) Line("      - { node: " + NodeName(node) + ", weight: " + Num(weight) + " }");
                }
            }
            for (int g = 0; g < _o.GlobalServices; g++)
            {
                Line("  " + GlobalServiceName(g) + ":");
                Line("    image: registry.example/agent:1");
                Line("    mode: global");
                Line("    networks: [" + OverlayName(_rng.Next(_o.Overlays)) + "]");
            }
            Line("");
        }

        private void WriteRules()
        {
            if (_o.UserRules == 0) return;
            Line("");
            Line("rules:");
            for (int i = 0; i < _o.UserRules; i++)
                Line("  - { chain: DOCKER-USER, rule: \"-s 10.254.0.0/16 -p tcp --dport " + Num(22 + i) + " -j RETURN\" }");
        }

        private void WriteExpectations(List<ServicePlan> services)
        {
            if (_o.Expectations == 0) return;
            var written = 0;
            for (int i = 0; i < services.Count && written < _o.Expectations; i++)
            {
                foreach (var (published, _, udp, host) in services[i].Ports)
                {
                    if (udp || host || written == _o.Expectations) continue;
                    if (written == 0) { Line(""); Line("expect:"); }
                    Line("  - { from: external, to: \"" + NodeName(written % _o.Nodes) + ":" + Num(published) + "/tcp\", reaches: " + ServiceName(i) + " }");
                    written++;
                }
            }
            Expectations = written;
        }

        private void Line(string text) => _sb.Append(text).Append('\n');

        private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>SplitMix64: tiny, fast and fixed forever (System.Random's sequence is not a contract across runtimes).</summary>
    private sealed class SplitMix
    {
        private ulong _state;

        public SplitMix(ulong seed) => _state = seed;

        public int Next(int bound)
        {
            _state += 0x9E3779B97F4A7C15UL;
            ulong z = _state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z % (ulong)bound);
        }
    }
}
