using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmDsl.Emit;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>
/// One host of a plan built on this machine by the emitted <c>apply.sh</c>, so the real tools' output can be held against the
/// views. The host namespace is <c>PREFIX-host</c> (the script runs in it through nsenter), the script's namespaces get
/// <c>SWARMDSL_NETNS_PREFIX=PREFIX-</c>, and the underlay NIC is a veth into <c>PREFIX-ul</c> carrying the node's address.
/// Two things are fixed before the script runs and after it, because the views leave them out or the kernel draws them at
/// random: IPv6 is off in every namespace before any device exists (the views do not model it), and devices whose MAC the
/// kernel drew get the views' stable MAC (bridges excepted: they take their lowest port's, as in the kernel), after which the
/// plan's static neighbours, which a MAC change flushes, are put back.
/// </summary>
internal sealed class AppliedHost
{
    private readonly ScratchNamespaces _scratch;

    public AppliedHost(ScratchNamespaces scratch, DataplanePlan plan, string node)
    {
        _scratch = scratch;
        Plan = plan;
        Host = plan.Hosts.Single(h => h.Node == node);
    }

    public DataplanePlan Plan { get; }
    public HostPlan Host { get; }

    /// <summary>The sysctls the script could set here (namespace, key); global keys stay the init namespace's.</summary>
    public HashSet<(string Namespace, string Key)> SetSysctls { get; } = new();

    public ShowOptions Options => new()
    {
        NetnsPrefix = _scratch.Prefix + "-",
        HostNetnsName = _scratch.Prefix + "-host",
        PossibleCpus = PossibleCpus(),
    };

    public string Netns(string planNamespace) => _scratch.Prefix + "-" + planNamespace;

    /// <summary>num_possible_cpus(), from sysfs ("0-1").</summary>
    public static int PossibleCpus()
    {
        int count = 0;
        foreach (var part in File.ReadAllText("/sys/devices/system/cpu/possible").Trim().Split(','))
        {
            var ends = part.Split('-');
            count += ends.Length == 2 ? int.Parse(ends[1]) - int.Parse(ends[0]) + 1 : 1;
        }
        return count;
    }

    private static void NoIpv6(string netns) =>
        ScratchNamespaces.Exec(netns, "sysctl", new[] { "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1" })
            .EnsureSuccess("disable IPv6 in " + netns);

    public void Apply()
    {
        foreach (var ns in Host.Namespaces)
        {
            HostLinux.Run("ip", "netns", "add", Netns(ns.Name)).EnsureSuccess("ip netns add");
            NoIpv6(Netns(ns.Name));
        }
        var underlay = _scratch.Create("ul");
        NoIpv6(underlay);
        var hostNs = Netns("host");
        HostLinux.Run("ip", "-n", hostNs, "link", "set", "lo", "up").EnsureSuccess("lo up");
        HostLinux.Run("ip", "-n", hostNs, "link", "add", Host.UnderlayInterface, "type", "veth", "peer", "name", "ul-" + Host.Node, "netns", underlay)
            .EnsureSuccess("underlay veth");
        HostLinux.Run("ip", "-n", hostNs, "addr", "add", Host.UnderlayAddress.ToString(), "brd", "+", "dev", Host.UnderlayInterface).EnsureSuccess("underlay address");
        HostLinux.Run("ip", "-n", hostNs, "link", "set", Host.UnderlayInterface, "up").EnsureSuccess("underlay up");
        HostLinux.Run("ip", "-n", underlay, "link", "set", "ul-" + Host.Node, "up").EnsureSuccess("underlay peer up");

        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-show-" + _scratch.Prefix);
        try
        {
            foreach (var f in ProvisioningEmitter.Emit(Plan, new[] { Host.Node }))
            {
                var path = Path.Combine(dir, f.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, f.Content);
            }
            // The state apply keeps for teardown goes with the scripts (no teardown runs: the namespaces are deleted), not to
            // the machine's /run/swarmdsl, where every run of the suite left one file per node.
            var apply = HostLinux.Run("nsenter", new[] { "--net=/run/netns/" + hostNs, "env", "SWARMDSL_NETNS_PREFIX=" + _scratch.Prefix + "-",
                "SWARMDSL_STATE_DIR=" + Path.Combine(dir, "state"), "bash", Path.Combine(dir, Host.Node, "apply.sh") });
            apply.EnsureSuccess("apply.sh");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }

        var links = LinkTable.Build(Plan, Host);
        foreach (var ns in Host.Namespaces)
        {
            foreach (var link in links.Links(ns.Name).Where(l => l.Device.Mac is null && l.Device.Kind is not (DeviceKind.Bridge or DeviceKind.Loopback)))
                HostLinux.Run("ip", "-n", Netns(ns.Name), "link", "set", "dev", link.Name, "address", link.Mac.ToString()).EnsureSuccess("pin MAC of " + link.Name);
            // A MAC change flushes the device's neighbour entries, permanent ones too: put back the ones the script added.
            foreach (var n in ns.Neighbors)
                HostLinux.Run("ip", "-n", Netns(ns.Name), "neigh", "replace", n.Address.ToString(), "lladdr", n.Mac.ToString(), "dev", n.Device, "nud", "permanent")
                    .EnsureSuccess("neighbour " + n.Address);
            foreach (var s in ns.Sysctls)
            {
                var back = ScratchNamespaces.Exec(Netns(ns.Name), "sysctl", new[] { "-n", s.Key });
                if (back.ExitCode == 0 && back.StdOut.Trim() == s.Value) SetSysctls.Add((ns.Name, s.Key));
            }
        }
    }
}
