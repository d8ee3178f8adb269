using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Emit;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;
using SwarmDsl.Synthetic;

namespace SwarmDsl.Tests.Scale;

/// <summary>
/// The <c>large</c> preset (50 nodes, 500 services, 5,000 tasks, 1,000 published ports) goes through the whole compiler and
/// every artefact is emitted. Counts come from the analyzed model and are checked in the emitted text; time is not asserted
/// (docs/performance.md measures it).
/// </summary>
[Trait("Category", "Scale")]
public class LargeTopologyTests
{
    private static readonly Lazy<(Topology Topology, DataplanePlan Plan, Dictionary<string, EmittedFile> Files)> Large = new(() =>
    {
        var options = SyntheticTopologyOptions.Large;
        var r = SwarmCompiler.CompileToPlan("large.swarm.yaml", SyntheticTopology.Generate(options));
        Assert.True(r.Diagnostics.Count == 0, string.Join("\n", r.Diagnostics.Take(10)));
        var files = ProvisioningEmitter.Emit(r.Plan!).ToDictionary(f => f.Path, StringComparer.Ordinal);
        return (r.Topology!, r.Plan!, files);
    });

    private static int Lines(string text, Func<string, bool> predicate) => text.Split('\n').Count(predicate);

    [Fact]
    public void The_model_has_the_preset_shape()
    {
        var t = Large.Value.Topology;
        Assert.Equal(50, t.Nodes.Count);
        Assert.Equal(500, t.Services.Count);
        Assert.Equal(5000, t.Tasks.Count);
        Assert.Equal(1000, t.Services.Sum(s => s.Ports.Count));
        Assert.Contains(t.Services, s => s.Ports.Any(p => p.Mode == PublishMode.Host));
        Assert.Contains(t.Services, s => s.Ports.Any(p => p.Protocol == Net.IpProtocol.Udp));
        Assert.Equal(6, t.Services.Select(s => s.Scheduler).Distinct().Count());
        Assert.Contains(t.Tasks, x => x.Weight > 1);
    }

    [Fact]
    public void Every_node_gets_its_scripts_and_the_plan_has_every_task()
    {
        var (t, plan, files) = Large.Value;
        Assert.Equal(t.Nodes.Count, plan.Hosts.Count);
        Assert.Equal(t.Tasks.Count, plan.Hosts.Sum(h => h.Namespaces.Count(n => n.Kind == NamespaceKind.Task)));
        foreach (var node in t.Nodes)
        {
            Assert.True(files[node.Name + "/apply.sh"].Executable);
            Assert.True(files[node.Name + "/teardown.sh"].Executable);
        }
        Assert.True(files.ContainsKey("inventory.ini"));
        Assert.True(files.ContainsKey("site.yml"));
        Assert.All(t.Nodes, n => Assert.Contains(n.Name, files["inventory.ini"].Content));
    }

    [Fact]
    public void Every_published_port_is_DNATed_on_every_host_and_host_mode_ports_where_their_tasks_run()
    {
        var (t, _, files) = Large.Value;
        var services = t.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        int ingressPorts = t.Services.Sum(s => s.Ports.Count(p => p.Mode == PublishMode.Ingress));
        int total = 0;
        foreach (var node in t.Nodes)
        {
            int hostPorts = t.Tasks.Where(x => x.Node == node.Name).Sum(x => services[x.Service].Ports.Count(p => p.Mode == PublishMode.Host));
            int dnat = Lines(files[node.Name + "/iptables-host.rules"].Content, l => l.Contains(" -j DNAT "));
            Assert.Equal(ingressPorts + hostPorts, dnat);
            total += dnat;
        }
        int hostPortTasks = t.Tasks.Sum(x => services[x.Service].Ports.Count(p => p.Mode == PublishMode.Host));
        Assert.Equal(t.Nodes.Count * ingressPorts + hostPortTasks, total);
    }

    [Fact]
    public void Every_load_balancer_is_an_IPVS_service_with_every_task_as_destination()
    {
        var (t, plan, files) = Large.Value;
        var publishing = t.Services.Where(s => s.PublishesIngress).ToList();
        var services = t.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var taskNetworks = t.Tasks.SelectMany(x => services[x.Service].Networks.Select(n => (x.Node, n))).ToHashSet();
        int ipvsFiles = 0;
        foreach (var node in t.Nodes)
        {
            var ingress = files[node.Name + "/ipvs-ingress_sbox.rules"].Content;
            Assert.Equal(publishing.Count, Lines(ingress, l => l.StartsWith("-A ", StringComparison.Ordinal)));
            Assert.Equal(publishing.Sum(s => s.Replicas), Lines(ingress, l => l.StartsWith("-a ", StringComparison.Ordinal)));
            foreach (var net in t.Networks.Where(n => n.IsOverlay && !n.Ingress))
            {
                bool hostsTask = taskNetworks.Contains((node.Name, net.Name));
                Assert.Equal(hostsTask, files.TryGetValue(node.Name + "/ipvs-lb_" + net.Name + ".rules", out var lb));
                if (lb is null) continue;
                var attached = t.Services.Where(s => s.Networks.Contains(net.Name)).ToList();
                Assert.Equal(attached.Count, Lines(lb.Content, l => l.StartsWith("-A ", StringComparison.Ordinal)));
                Assert.Equal(attached.Sum(s => s.Replicas), Lines(lb.Content, l => l.StartsWith("-a ", StringComparison.Ordinal)));
                ipvsFiles++;
            }
            ipvsFiles++;
        }
        Assert.Equal(plan.Hosts.Sum(h => h.Namespaces.Count(n => n.Ipvs.Count > 0)), ipvsFiles);
        Assert.Equal(ipvsFiles, files.Keys.Count(k => k.Contains("/ipvs-", StringComparison.Ordinal)));
    }

    [Fact]
    public void Every_task_of_a_publishing_service_redirects_its_ports()
    {
        var (t, _, files) = Large.Value;
        var services = t.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var task in t.Tasks)
        {
            var svc = services[task.Service];
            int ports = svc.Ports.Count(p => p.Mode == PublishMode.Ingress);
            var path = task.Node + "/iptables-" + task.Name + ".rules";
            if (ports == 0)
            {
                Assert.False(files.ContainsKey(path), path);
                continue;
            }
            Assert.Equal(ports, Lines(files[path].Content, l => l.Contains(" -j REDIRECT ")));
        }
    }

    [Fact]
    public void Every_node_knows_every_remote_endpoint_of_its_overlays()
    {
        var (t, plan, _) = Large.Value;
        foreach (var host in plan.Hosts)
            foreach (var ns in host.Namespaces.Where(n => n.Kind == NamespaceKind.Overlay))
            {
                int remote = t.Endpoints.Count(e => e.Network == ns.Owner && e.Node != host.Node);
                Assert.Equal(remote, ns.Fdb.Count);
                Assert.Equal(remote, ns.Neighbors.Count);
            }
    }
}
