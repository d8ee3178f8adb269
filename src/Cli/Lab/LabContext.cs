using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Semantics;

namespace SwarmDsl.Cli.Lab;

/// <summary>One topology compiled for the lab: the plan (for the chosen load-balancer backend), its topology, and the lab's names.</summary>
internal sealed class LabContext
{
    private LabContext(string file, DataplanePlan plan, Topology topology, LabNames names)
    {
        File = file;
        Plan = plan;
        Topology = topology;
        Names = names;
    }

    /// <summary>The topology file (absolute path).</summary>
    public string File { get; }
    public DataplanePlan Plan { get; }
    public Topology Topology { get; }
    public LabNames Names { get; }

    /// <summary>Compiles <paramref name="file"/> for <paramref name="backend"/>; null after printing why when it cannot be.</summary>
    public static LabContext? Load(string file, LoadBalancerBackend backend, LabNames names, CliIo io)
    {
        var loaded = TopologyLoader.Load(file, io);
        if (loaded is null) return null;
        var lowered = SwarmCompiler.Lower(loaded, TopologyLoader.Lowering(backend));
        foreach (var d in lowered.Diagnostics)
            if (d.IsError) io.Error.WriteLine(d.ToString());
        if (lowered.Plan is null || lowered.Topology is null) return null;
        if (!names.TryPlanNamespaces(lowered.Plan, out _, out var error))
        {
            io.Error.WriteLine("swarmdsl: error: " + error);
            return null;
        }
        return new LabContext(Path.GetFullPath(file), lowered.Plan, lowered.Topology, names);
    }

    /// <summary>Whether this kernel has IPVS (<c>/proc/net/ip_vs</c> exists once the ip_vs module is loaded).</summary>
    public static bool KernelHasIpvs => System.IO.File.Exists("/proc/net/ip_vs");

    /// <summary>The lab namespace of a plan namespace.</summary>
    public string Netns(HostPlan host, NamespacePlan ns) => Names.Namespace(host.Node, ns.Name);

    /// <summary>Every lab namespace with its node and plan namespace (fabric and client have no plan namespace).</summary>
    public IEnumerable<(string Netns, HostPlan? Host, NamespacePlan? Namespace)> AllNamespaces()
    {
        yield return (Names.Fabric, null, null);
        foreach (var h in Plan.Hosts)
            foreach (var ns in h.Namespaces)
                yield return (Names.Namespace(h.Node, ns.Name), h, ns);
        yield return (Names.Client, null, null);
    }

    /// <summary>
    /// How to start this program again (the responders are <c>swarmdsl lab serve</c>): the apphost beside the assembly, or
    /// <c>dotnet swarmdsl.dll</c> when the program runs inside another host (tests), or the executable itself when it
    /// was published as one file (Native AOT), where assemblies have no location.
    /// </summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        // The native program (no JIT) is its own executable, whatever else lies beside it.
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled && Environment.ProcessPath is { } native)
            return new[] { native };
        // Beside the executable or the host's own assemblies (tests); Assembly.Location is empty in a single-file program.
        var dll = Path.Combine(AppContext.BaseDirectory, typeof(Program).Assembly.GetName().Name + ".dll");
        var dir = Path.GetDirectoryName(dll) ?? ".";
        var apphost = Path.Combine(dir, Path.GetFileNameWithoutExtension(dll));
        if (System.IO.File.Exists(apphost) && System.IO.File.Exists(Path.Combine(dir, Path.GetFileNameWithoutExtension(dll) + ".runtimeconfig.json")))
            return new[] { apphost };
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(dotnet))
        {
            var self = Environment.ProcessPath;
            dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
        return new[] { dotnet, dll };
    }

    /// <summary>Every published port of the topology: (service, port) in declaration order.</summary>
    public IEnumerable<(ServiceModel Service, PortModel Port)> PublishedPorts()
        => Topology.Services.SelectMany(s => s.Ports.Select(p => (s, p)));
}
