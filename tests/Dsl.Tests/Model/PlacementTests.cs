using System.Linq;
using SwarmDsl.Semantics;

namespace SwarmDsl.Tests.Model;

/// <summary>
/// Task placement follows swarmkit's spread (nodeLess in manager/scheduler): fewest tasks of the service first, ties broken
/// by the fewest tasks in all, then by node order.
/// </summary>
public class PlacementTests
{
    private static Topology Analyze(string services)
    {
        var yaml = """
            version: 1
            name: placement
            nodes:
              a: { address: 10.0.9.1/24 }
              b: { address: 10.0.9.2/24 }
              c: { address: 10.0.9.3/24 }
            networks:
              net: { driver: overlay, subnet: 10.1.0.0/24 }
            services:

            """ + services;
        var result = SwarmCompiler.Compile("placement.swarm.yaml", yaml);
        Assert.False(result.HasErrors, TestInput.Describe(result));
        return result.Topology!;
    }

    private static string[] Nodes(Topology t, string service) => t.Tasks.Where(x => x.Service == service).Select(x => x.Node).ToArray();

    [Fact]
    public void Single_task_services_spread_over_the_nodes_by_their_total_tasks()
    {
        var t = Analyze("""
              s1: { networks: [net] }
              s2: { networks: [net] }
              s3: { networks: [net] }
              s4: { networks: [net] }
            """);
        // Every node has 0 tasks of each service: the node with the fewest tasks in all wins, then node order.
        Assert.Equal(new[] { "a", "b", "c", "a" }, new[] { "s1", "s2", "s3", "s4" }.Select(s => Nodes(t, s).Single()));
    }

    [Fact]
    public void The_service_count_comes_first_and_pinned_and_global_tasks_count_in_the_total()
    {
        var t = Analyze("""
              pinned: { networks: [net], replicas: 2, tasks: [{ node: a }, { node: a }] }
              everywhere: { networks: [net], mode: global }
              web: { networks: [net], replicas: 4 }
            """);
        // Totals before web: a 3, b 1, c 1. web.1 → b (tie with c on 1, node order), web.2 → c, then every node has 1 task of
        // web except a: web.3 → a although a carries the most tasks (the service's own count decides first), web.4 → b.
        Assert.Equal(new[] { "b", "c", "a", "b" }, Nodes(t, "web"));
    }
}
