using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using SwarmDsl.Emit;
using SwarmDsl.Plan;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// The emitted Ansible inventory and playbook, run for real with <c>ansible-playbook</c> against this machine: each node
/// of the example is a lab namespace, reached with <c>ansible_connection=local</c> and entered by the playbook with
/// <c>nsenter --net</c> and <c>SWARMDSL_NETNS_PREFIX</c> (the host variables <c>swarmdsl_netns</c>/<c>swarmdsl_netns_prefix</c>
/// of a second inventory given after the emitted one). The playbook must build what apply.sh builds when run directly,
/// report no change the second time, and its teardown play must leave nothing.
/// </summary>
public class AnsiblePlaybookTests
{
    private static ProcessResult Playbook(EmitLab lab, string overlay, params string[] extra)
    {
        var tmp = lab.Tree.PathOf("ansible-tmp");
        Directory.CreateDirectory(tmp);
        var config = lab.Tree.PathOf("ansible.cfg");
        File.WriteAllText(config, "[defaults]\nretry_files_enabled = False\n");
        var args = new List<string> { "-i", lab.Tree.PathOf("inventory.ini"), "-i", overlay, lab.Tree.PathOf("site.yml") };
        args.AddRange(extra);
        return HostLinux.Run("ansible-playbook", args, env: new Dictionary<string, string>
        {
            ["ANSIBLE_CONFIG"] = config,
            ["ANSIBLE_LOCAL_TEMP"] = tmp,
            ["ANSIBLE_REMOTE_TEMP"] = tmp,
            ["ANSIBLE_NOCOLOR"] = "1",
            ["ANSIBLE_FORCE_COLOR"] = "0",
        }, timeoutMs: 600_000);
    }

    // PLAY RECAP line of a host: "manager : ok=2 changed=1 unreachable=0 failed=0 ...".
    private static int Recap(ProcessResult r, string host, string what)
    {
        var m = Regex.Match(r.StdOut, "(?m)^" + Regex.Escape(host) + @"\s+:.*\b" + what + @"=(\d+)");
        Assert.True(m.Success, $"no PLAY RECAP {what} for {host}:\n{r.StdOut}");
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [NetnsFact("ansible-playbook", "ip", "bridge", "iptables-save", "iptables-restore", "nsenter", "nft", "sysctl", "bash", "awk", "python3")]
    public void The_playbook_builds_what_apply_builds_reports_no_change_again_and_tears_down()
    {
        var compiled = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example), new SwarmDsl.Lowering.LoweringOptions(LoadBalancerBackend.Nftables));
        Assert.NotNull(compiled.Plan);
        var plan = compiled.Plan!;
        var nodes = plan.Hosts.Select(h => h.Node).ToList();

        // The reference: apply.sh run directly in a lab of its own (so both start from fresh namespaces).
        var direct = new Dictionary<string, string>(StringComparer.Ordinal);
        var macs = new HashSet<string>(StringComparer.Ordinal);
        using (var reference = EmitLab.FromPlan(plan))
        {
            foreach (var node in nodes)
            {
                var r = reference.Run(node, "apply.sh");
                Assert.True(r.ExitCode == 0, $"apply {node}: {r.StdErr}");
            }
            macs.UnionWith(BuiltState.RandomMacs(reference));
            foreach (var node in nodes) direct[node] = BuiltState.Normalized(reference, node);
        }

        using var lab = EmitLab.FromPlan(plan);
        // The lab's side of the inventory: every node is this machine, its namespace entered by the playbook.
        var remote = lab.Tree.PathOf("remote");
        var state = lab.Tree.PathOf("state");
        var overlay = lab.Tree.PathOf("lab.ini");
        File.WriteAllText(overlay, "[" + AnsibleEmitter.Group(plan) + "]\n" + string.Concat(nodes.Select(n =>
            $"{n} ansible_connection=local ansible_become=false ansible_python_interpreter=/usr/bin/python3 swarmdsl_netns={lab.NodeNs[n]} "
            + $"swarmdsl_netns_prefix={lab.Prefix(n)} swarmdsl_dir={remote} swarmdsl_state_dir={state}\n")));

        var apply = Playbook(lab, overlay);
        Assert.True(apply.ExitCode == 0, $"ansible-playbook (apply) failed:\n{apply.StdOut}\n{apply.StdErr}");
        foreach (var node in nodes)
        {
            Assert.Equal(0, Recap(apply, node, "failed"));
            Assert.True(Recap(apply, node, "changed") >= 2, $"{node}: the copy and apply.sh should report a change:\n{apply.StdOut}");
            Assert.True(File.Exists(Path.Combine(remote, node, "apply.sh")), "apply.sh not copied for " + node);
        }
        macs.UnionWith(BuiltState.RandomMacs(lab));
        foreach (var node in nodes)
        {
            var viaAnsible = BuiltState.Canonical(BuiltState.Normalized(lab, node), macs);
            var reference = BuiltState.Canonical(direct[node], macs);
            if (viaAnsible != reference)
                Assert.Fail($"the playbook built node {node} differently from apply.sh:\n{Snapshot.Diff(reference, viaAnsible)}");
        }

        // A second run changes nothing: the files are the same and apply.sh creates nothing.
        var again = Playbook(lab, overlay);
        Assert.True(again.ExitCode == 0, $"ansible-playbook (second apply) failed:\n{again.StdOut}\n{again.StdErr}");
        foreach (var node in nodes) Assert.True(Recap(again, node, "changed") == 0, $"{node}: second run reported a change:\n{again.StdOut}");

        // The teardown play removes everything apply made, the copied folders and the saved state.
        var teardown = Playbook(lab, overlay, "--tags", "teardown");
        Assert.True(teardown.ExitCode == 0, $"ansible-playbook (teardown) failed:\n{teardown.StdOut}\n{teardown.StdErr}");
        foreach (var host in plan.Hosts)
        {
            var node = host.Node;
            Assert.True(Recap(teardown, node, "changed") >= 1, $"{node}: teardown reported no change:\n{teardown.StdOut}");
            Assert.Empty(lab.Created(node));
            var links = EmitScenario.Sh(lab.NodeNs[node], "ip", "-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(": ")[1].Split('@')[0]).OrderBy(x => x, StringComparer.Ordinal);
            Assert.Equal(new[] { host.UnderlayInterface, "lo" }.OrderBy(x => x, StringComparer.Ordinal), links);
            Assert.DoesNotContain("swarmdsl", EmitScenario.Sh(lab.NodeNs[node], "iptables-save"), StringComparison.Ordinal);
            Assert.DoesNotContain("swarmdsl", EmitScenario.Sh(lab.NodeNs[node], "nft", "list", "ruleset"), StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(remote, node)), "copied folder left for " + node);
        }
        Assert.False(Directory.Exists(state) && Directory.EnumerateFileSystemEntries(state).Any(), "state left in " + state);
    }
}
