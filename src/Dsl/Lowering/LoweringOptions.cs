using SwarmDsl.Plan;

namespace SwarmDsl.Lowering;

/// <summary>Choices that change how a topology is lowered to a dataplane plan.</summary>
/// <param name="Backend">How service load balancing is realised: IPVS as Docker does, or nftables for kernels without IPVS.</param>
public sealed record LoweringOptions(LoadBalancerBackend Backend = LoadBalancerBackend.Ipvs)
{
    /// <summary>The defaults: IPVS, as Docker Swarm does it.</summary>
    public static LoweringOptions Default { get; } = new();

    /// <summary>
    /// How many nodes are lowered at once (default one). The plan does not depend on it. The command line uses one per
    /// processor; the source generator keeps one, as the compiler hosting it owns the threads.
    /// </summary>
    public int Parallelism { get; init; } = 1;
}
