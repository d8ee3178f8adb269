using System.IO;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests;

/// <summary>The example topology compiled to its plan (once per backend).</summary>
internal static class ExamplePlans
{
    /// <summary>Two nodes and a service publishing SCTP port 3868 (Diameter) in ingress mode, its two tasks spread over them.</summary>
    public const string Sctp = """
        version: 1
        name: sctp
        nodes:
          a: { address: 10.0.9.1/24 }
          b: { address: 10.0.9.2/24 }
        networks:
          o: { driver: overlay, subnet: 10.1.0.0/24 }
        services:
          s: { networks: [o], replicas: 2, ports: [{ published: 3868, target: 3868, protocol: sctp }] }
        """;

    private static DataplanePlan? _ipvs, _nft;

    public static DataplanePlan Ipvs => _ipvs ??= Compile(LoadBalancerBackend.Ipvs);

    public static DataplanePlan Nftables => _nft ??= Compile(LoadBalancerBackend.Nftables);

    /// <summary>The example with its published port as UDP (IPVS backend).</summary>
    public static DataplanePlan Udp => _udp ??= Compile(LoadBalancerBackend.Ipvs, File.ReadAllText(Paths.Example)
        .Replace("protocol: tcp ", "protocol: udp ", System.StringComparison.Ordinal).Replace("8080/tcp", "8080/udp", System.StringComparison.Ordinal));

    private static DataplanePlan? _udp;

    public static DataplanePlan Compile(LoadBalancerBackend backend, string text)
    {
        var result = SwarmCompiler.CompileToPlan(Paths.Example, text, new LoweringOptions(backend));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }

    public static DataplanePlan Compile(LoadBalancerBackend backend)
    {
        var result = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example), new LoweringOptions(backend));
        Assert.True(result.Plan is not null, string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }
}
