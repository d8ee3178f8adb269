using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using SwarmDsl.Plan;

namespace SwarmDsl.Emit;

/// <summary>One file of the provisioning output, with its path relative to the output folder (always <c>/</c>-separated).</summary>
/// <param name="Path">Relative path, e.g. <c>manager/apply.sh</c>.</param>
/// <param name="Content">The text (LF line ends).</param>
/// <param name="Executable">Whether the file is a script to mark executable.</param>
public sealed record EmittedFile(string Path, string Content, bool Executable);

/// <summary>
/// The <c>emit</c> output (spec/cli.md): per node <c>&lt;node&gt;/apply.sh</c>, <c>&lt;node&gt;/teardown.sh</c>,
/// <c>iptables-&lt;ns&gt;.rules</c>, and <c>ipvs-&lt;ns&gt;.rules</c> or <c>nft-&lt;ns&gt;.nft</c>; plus Ansible
/// <c>inventory.ini</c> and <c>site.yml</c>. A pure function of the plan: same plan, same bytes.
/// </summary>
public static class ProvisioningEmitter
{
    /// <summary>The files for every node, or only for <paramref name="nodes"/> when given.</summary>
    public static EquatableArray<EmittedFile> Emit(DataplanePlan plan, IReadOnlyCollection<string>? nodes = null)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        var hosts = Hosts(plan, nodes);
        var files = new List<EmittedFile>();
        foreach (var host in hosts) files.AddRange(EmitNode(plan, host));
        files.AddRange(EmitAnsible(plan, hosts));
        return files.ToEquatableArray();
    }

    /// <summary>The hosts <see cref="Emit"/> writes for: every node, or only <paramref name="nodes"/>, in plan order.</summary>
    public static IReadOnlyList<HostPlan> Hosts(DataplanePlan plan, IReadOnlyCollection<string>? nodes = null)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        return plan.Hosts.Where(h => nodes is null || nodes.Contains(h.Node)).ToList();
    }

    /// <summary>
    /// One node's files, as <see cref="Emit"/> lists them: <c>apply.sh</c>, <c>teardown.sh</c>, then its restore files.
    /// Nodes do not depend on each other, so a caller may emit them one at a time (or several at once) and write each as
    /// it comes instead of holding every node's text.
    /// </summary>
    public static IReadOnlyList<EmittedFile> EmitNode(DataplanePlan plan, HostPlan host)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        if (host is null) throw new ArgumentNullException(nameof(host));
        var layout = new NodeLayout(plan, host);
        var files = new List<EmittedFile>
        {
            new(host.Node + "/apply.sh", ScriptEmitter.Apply(plan, host), true),
            new(host.Node + "/teardown.sh", ScriptEmitter.Teardown(plan, host), true),
        };
        foreach (var (ns, file, kind) in layout.DataFiles())
        {
            var content = kind switch
            {
                "iptables" => IptablesRestoreEmitter.Emit(plan, host, ns),
                "ipvs" => IpvsRestoreEmitter.Emit(ns),
                _ => NftablesEmitter.Emit(plan, host, ns),
            };
            files.Add(new EmittedFile(host.Node + "/" + file, content, false));
        }
        return files;
    }

    /// <summary>The Ansible <c>inventory.ini</c> (of <paramref name="hosts"/>) and <c>site.yml</c>, last in <see cref="Emit"/>.</summary>
    public static IReadOnlyList<EmittedFile> EmitAnsible(DataplanePlan plan, IReadOnlyList<HostPlan> hosts)
    {
        if (plan is null) throw new ArgumentNullException(nameof(plan));
        if (hosts is null) throw new ArgumentNullException(nameof(hosts));
        return new[]
        {
            new EmittedFile("inventory.ini", AnsibleEmitter.Inventory(plan, hosts), false),
            new EmittedFile("site.yml", AnsibleEmitter.Playbook(plan), false),
        };
    }
}
