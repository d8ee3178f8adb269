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
        var hosts = plan.Hosts.Where(h => nodes is null || nodes.Contains(h.Node)).ToList();
        var files = new List<EmittedFile>();
        foreach (var host in hosts)
        {
            var layout = new NodeLayout(plan, host);
            files.Add(new EmittedFile(host.Node + "/apply.sh", ScriptEmitter.Apply(plan, host), true));
            files.Add(new EmittedFile(host.Node + "/teardown.sh", ScriptEmitter.Teardown(plan, host), true));
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
        }
        files.Add(new EmittedFile("inventory.ini", AnsibleEmitter.Inventory(plan, hosts), false));
        files.Add(new EmittedFile("site.yml", AnsibleEmitter.Playbook(plan), false));
        return files.ToEquatableArray();
    }
}
