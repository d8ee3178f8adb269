using SwarmDsl;
using SwarmDsl.Examples;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

// Everything below is generated at compile time from examples/two-node.swarm.yaml (class TwoNode) and from the attributes
// in TwoNodeDeclared.cs (class TwoNodeDeclared): no YAML is read at run time.

Console.WriteLine($"Topology {TwoNode.TopologyName} from {TwoNode.SourceFile}, underlay MTU {TwoNode.Underlay.Mtu}");
Console.WriteLine();

Console.WriteLine("Nodes:");
foreach (var node in TwoNode.Nodes.All)
    Console.WriteLine($"  {node.Name,-8} {node.Hostname,-12} {node.Role,-8} {node.Address} on {node.Interface}");

Console.WriteLine("Networks:");
foreach (var network in TwoNode.Networks.All)
    Console.WriteLine($"  {network.Name,-16} {network.Driver,-8} {network.Subnet,-16} gateway {network.Gateway}"
        + (network.Driver == NetworkDriver.Overlay ? $" VNI {network.Vni} MTU {network.Mtu}" : ""));

Console.WriteLine("Services:");
foreach (var service in TwoNode.Services.All)
{
    Console.WriteLine($"  {service.Name} ({service.Image}): {service.Replicas} replicas, {service.Scheduler} scheduler");
    foreach (var vip in service.Vips) Console.WriteLine($"    VIP {vip.Address} on {vip.Network}");
    foreach (var port in service.Ports) Console.WriteLine($"    port {port} ({port.Mode})");
}

Console.WriteLine("Tasks:");
foreach (var task in TwoNode.Tasks.All)
{
    Console.WriteLine($"  {task.Name} on {task.Node} (weight {task.Weight})");
    foreach (var address in task.Sandbox.Addresses) Console.WriteLine($"    {address.Interface} {address.Address} on {address.Network} ({address.Mac})");
}

Console.WriteLine("Load balancers:");
foreach (var lb in TwoNode.LoadBalancers.All)
    Console.WriteLine($"  {lb.Node}/{lb.Namespace}: {lb.Service} VIP {lb.Vip} fwmark {lb.FwMark}");

Console.WriteLine("Provisioning files (what swarmdsl emit writes, compiled in):");
foreach (var file in TwoNode.Provisioning.Files)
    Console.WriteLine($"  {file.Path,-38} {file.Content.Split('\n').Length - 1,4} lines{(file.Executable ? ", executable" : "")}");

// Typed handles are ordinary values: the compiler checks every reference to them.
var ingress = TwoNode.Networks.Ingress;
var web1 = TwoNode.Tasks.Web1;
Console.WriteLine();
Console.WriteLine($"{web1.Name} lives on {web1.Node.Name}; its ingress address {web1.Sandbox.Addresses[0].Address} is in {ingress.Subnet}: "
    + ingress.Subnet.Contains(web1.Sandbox.Addresses[0].Address.Address));

// The attribute form yields the same model: the dumps are equal once the declaration places are left out.
static string WithoutPlaces(string dump) => System.Text.RegularExpressions.Regex.Replace(dump, @" @\S+", "");
Console.WriteLine($"YAML and attribute forms agree: {WithoutPlaces(TwoNode.ModelDump) == WithoutPlaces(TwoNodeDeclared.ModelDump)}");
// The seed article's packet lifecycle, through the compiled pipeline: the generator compiled every netfilter chain of the
// plan into C# (TwoNode.CompiledNetfilter, because this project references SwarmDsl.Runtime); CreateSimulation compiles the
// embedded YAML to its plan, checks the plan's fingerprint against the generated code and attaches it. The typed handles
// name the endpoints, so a typo is a compile error.
var simulation = TwoNode.CreateSimulation(seed: 1);
var from = TwoNode.Traffic.External;
var to = TwoNode.Traffic.Published(TwoNode.Nodes.Worker, TwoNode.PublishedPorts.Web8080Tcp);
var traces = simulation.Connect(from, to, count: 1);
Console.WriteLine();
Console.WriteLine($"Packet lifecycle {from} -> {to} (compiled pipeline, plan {TwoNode.PlanFingerprint}):");
Console.Write(TextTraceRenderer.Render(traces, from + " -> " + to, includeReplies: false));
// The interpreter walking the same plan with the same seed must tell the very same story.
var interpreted = TwoNode.CreateInterpretedSimulation(seed: 1).Connect(from, to, count: 1);
Console.WriteLine($"Compiled and interpreted traces identical: {TextTraceRenderer.Render(interpreted, from + " -> " + to, includeReplies: true) == TextTraceRenderer.Render(traces, from + " -> " + to, includeReplies: true)}");

if (args.Contains("--dumps"))
{
    Console.WriteLine();
    Console.Write(TwoNode.ModelDump);
    Console.WriteLine();
    Console.Write(TwoNode.PlanDump);
}
