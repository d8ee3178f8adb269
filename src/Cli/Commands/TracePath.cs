using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Tracing;
using SwarmDsl.Views;

namespace SwarmDsl.Cli.Commands;

/// <summary>The devices a traced packet crossed, in order, for the graph overlay.</summary>
internal static class TracePath
{
    /// <summary>
    /// Reads the path out of a packet's trace: the device it was received on in each namespace, the bridges it crossed and
    /// the port it left by, the veth or VXLAN device it was sent through, and the underlay segment between hosts.
    /// </summary>
    public static List<PathHop> From(DataplanePlan plan, PacketTrace trace)
    {
        var path = new List<PathHop>();
        foreach (var hop in trace.Hops)
        {
            if (hop.Node == "external") path.Add(new PathHop("", "external", ""));
            foreach (var step in hop.Steps)
            {
                switch (step)
                {
                    case ReceivedStep r when hop.Node != "external": // the client is one vertex, added with its hop
                        path.Add(new PathHop(hop.Node, hop.Namespace, r.Device));
                        break;
                    case BridgeStep b when b.Bridge == "underlay":
                        // The underlay's ports are named node:device (external:eth0 for the client).
                        path.Add(Port(plan, b.InPort));
                        path.Add(new PathHop("", "underlay", ""));
                        path.Add(Port(plan, b.OutPort));
                        break;
                    case BridgeStep b:
                        path.Add(new PathHop(hop.Node, hop.Namespace, b.Bridge));
                        path.Add(new PathHop(hop.Node, hop.Namespace, b.OutPort));
                        break;
                    case VethStep v:
                        path.Add(new PathHop(hop.Node, hop.Namespace, v.Device));
                        break;
                    case VxlanEncapStep e:
                        path.Add(new PathHop(hop.Node, hop.Namespace, e.Device));
                        break;
                }
            }
        }
        // A packet that never got past its sender's own namespace (dropped on the way out) crossed no device: the
        // namespace, as a hop without a device, still says where it stayed.
        if (path.Count == 0 && trace.Hops.Count > 0) path.Add(new PathHop(trace.Hops[0].Node, trace.Hops[0].Namespace, ""));
        return path;
    }

    private static PathHop Port(DataplanePlan plan, string port)
    {
        var colon = port.IndexOf(':');
        var node = colon < 0 ? port : port.Substring(0, colon);
        var device = colon < 0 ? "" : port.Substring(colon + 1);
        if (node == "external") return new PathHop("", "external", "");
        var host = plan.Hosts.FirstOrDefault(h => h.Node == node);
        var ns = host?.Namespaces.FirstOrDefault(n => n.Devices.Any(d => d.Name == device && d.Kind == DeviceKind.Physical))?.Name ?? "host";
        return new PathHop(node, ns, device);
    }
}
