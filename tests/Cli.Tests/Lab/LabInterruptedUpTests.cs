using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using SwarmDsl.Cli.Lab;

namespace SwarmDsl.Tests.Lab;

/// <summary>
/// <c>lab down</c> after an <c>up</c> that did not finish: one stopped after a number of steps
/// (<c>SWARMDSL_LAB_STOP_AFTER</c>), one killed while its apply scripts were running (the scripts, left orphaned, keep
/// working inside the lab's namespaces until down ends them). Both runs of up are separate processes, as on a terminal.
/// </summary>
public class LabInterruptedUpTests
{
    private static Process StartUp(string prefix, IReadOnlyDictionary<string, string> env)
    {
        var self = LabContext.SelfCommand();
        var psi = new ProcessStartInfo(self[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in self.Skip(1).Concat(new[] { "lab", "up", Paths.Example, "--prefix", prefix })) psi.ArgumentList.Add(a);
        foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        return p;
    }

    [NetnsFact("ip", "bridge", "nsenter", "setsid", "bash", "awk", "sysctl", "iptables-save", "iptables-restore", "nft", "conntrack", "unshare", "stat")]
    public void Down_removes_what_an_up_stopped_after_four_steps_made()
    {
        var prefix = LabHarness.NewPrefix();
        CliRun down;
        try
        {
            using var up = StartUp(prefix, new Dictionary<string, string> { [LabUp.StopAfterVariable] = "4" });
            var stderr = up.StandardError.ReadToEndAsync();
            up.StandardOutput.ReadToEnd();
            Assert.True(up.WaitForExit(120_000), "up did not stop");
            Assert.Equal(1, up.ExitCode);
            Assert.Contains("stopped after 4 step(s)", stderr.Result, StringComparison.Ordinal);
            // emit, fabric, manager, worker: the client and the scripts never ran.
            Assert.Equal(new[] { prefix + "fabric", prefix + "manager", prefix + "worker" },
                HostCommand.ListNetns().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToArray());
            var verify = LabHarness.Run("lab", "verify", Paths.Example, "--prefix", prefix);
            Assert.Equal(1, verify.ExitCode);
            Assert.Contains("is not up", verify.Err, StringComparison.Ordinal);
        }
        finally
        {
            down = LabHarness.Down(Paths.Example, prefix);
        }
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Contains("removed 3 namespace(s)", down.Out, StringComparison.Ordinal);
        Assert.Empty(LabHarness.Residue(prefix));
    }

    [NetnsFact("ip", "bridge", "nsenter", "setsid", "bash", "awk", "sysctl", "iptables-save", "iptables-restore", "nft", "conntrack", "unshare", "stat")]
    public void Down_removes_what_an_up_killed_while_applying_made()
    {
        var prefix = LabHarness.NewPrefix();
        CliRun down;
        bool sawScriptWork = false;
        try
        {
            using var up = StartUp(prefix, new Dictionary<string, string>());
            up.BeginOutputReadLine();
            up.BeginErrorReadLine();
            // Wait until the apply scripts have made some of their namespaces, then kill up alone (SIGKILL: no cleanup);
            // its scripts live on, orphaned, inside the node namespaces.
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (DateTime.UtcNow < deadline && !up.HasExited)
            {
                if (HostCommand.ListNetns().Any(n => n.StartsWith(prefix + "manager-", StringComparison.Ordinal) || n.StartsWith(prefix + "worker-", StringComparison.Ordinal)))
                {
                    sawScriptWork = true;
                    break;
                }
                Thread.Sleep(20);
            }
            Assert.True(sawScriptWork, "the apply scripts never started");
            up.Kill(entireProcessTree: false);
            up.WaitForExit(10_000);
        }
        finally
        {
            down = LabHarness.Down(Paths.Example, prefix);
        }
        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Matches(@"removed \d+ namespace\(s\)", down.Out);
        Assert.Empty(LabHarness.Residue(prefix));
        // Nothing comes back after down: an orphaned script, had it survived, would go on making namespaces.
        Thread.Sleep(1500);
        Assert.Empty(LabHarness.Residue(prefix));
    }
}
