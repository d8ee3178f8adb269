using System;
using System.Linq;

namespace SwarmDsl.Tests.Lab;

/// <summary>
/// The example topology on the real kernel: <c>lab up</c>, no drift right after it, <c>verify</c> agreeing with the
/// simulation (answers, netfilter paths, over-MTU packet), a deleted rule that <c>diff</c> reports and <c>verify</c> notices,
/// then <c>lab down</c> leaving nothing with the prefix.
/// </summary>
public class LabExampleTests
{
    [LabFact]
    public void Up_diff_verify_drift_down_on_the_example()
    {
        var file = Paths.Example;
        LabHarness.UpTestDown(file, "two-node", 2, 10, 2, (prefix, up) =>
        {
            if (!System.IO.File.Exists("/proc/net/ip_vs"))
                Assert.Contains("no IPVS", up.Out, StringComparison.Ordinal);
            Assert.DoesNotContain("[1/", up.Out, StringComparison.Ordinal); // no progress lines when the output is not a terminal

            foreach (var node in new[] { "manager", "worker" })
            {
                var clean = LabHarness.Run("diff", file, node, "--live", "--prefix", prefix);
                Assert.True(clean.ExitCode == 0, clean.ToString());
                Assert.Contains("no drift: " + node + " matches the plan", clean.Out, StringComparison.Ordinal);
            }

            var verify = LabHarness.Run("lab", "verify", file, "--prefix", prefix);
            LabHarness.AssertAgrees(verify);
            Assert.Contains("manager:8080/tcp  web.1 web.2 web.1 web.2 | web.1 web.2 web.1 web.2   agree", verify.Out, StringComparison.Ordinal);
            Assert.Contains("worker:8080/tcp   web.1 web.2 web.1 web.2 | web.1 web.2 web.1 web.2   agree", verify.Out, StringComparison.Ordinal);
            Assert.Contains("→ nat DOCKER-INGRESS #1 accept", verify.Out, StringComparison.Ordinal);
            Assert.Contains("← filter DOCKER-INGRESS #2 accept", verify.Out, StringComparison.Ordinal); // the reply path
            Assert.Contains("kernel:     frag-needed (mtu 1450) (ICMP from 10.7.191.10 about the packet to 10.7.191.10:8080)", verify.Out, StringComparison.Ordinal);
            Assert.Contains("simulation: frag-needed (mtu 1450)", verify.Out, StringComparison.Ordinal);
            Assert.Contains("ICMP error source: kernel 10.7.191.10", verify.Out, StringComparison.Ordinal); // NAT rewrote it on the way back

            // Drift: the worker loses its routing-mesh DNAT rule for 8080.
            var worker = prefix + "worker";
            HostLinux.Run("ip", "netns", "exec", worker, "iptables", "-t", "nat", "-D", "DOCKER-INGRESS", "1").EnsureSuccess("delete the DNAT rule");
            var drift = LabHarness.Run("diff", file, "worker", "--live", "--prefix", prefix);
            Assert.True(drift.ExitCode == 4, drift.ToString());
            Assert.Contains("missing  iptables nat DOCKER-INGRESS: -A DOCKER-INGRESS -p tcp -m tcp --dport 8080", drift.Out, StringComparison.Ordinal);
            Assert.Contains("drift: 1 difference(s) in 1 namespace(s)", drift.Out, StringComparison.Ordinal);
            var managerStill = LabHarness.Run("diff", file, "manager", "--live", "--prefix", prefix);
            Assert.True(managerStill.ExitCode == 0, managerStill.ToString());

            // ... and the kernel now disagrees with the simulation of the plan, on the worker's port only.
            var broken = LabHarness.Run("lab", "verify", file, "--prefix", prefix, "--count", "2", "--no-trace");
            Assert.True(broken.ExitCode == 4, broken.ToString());
            Assert.Contains("manager:8080/tcp  web.1 web.2", broken.Out, StringComparison.Ordinal);
            Assert.Contains("first difference: worker:8080/tcp connection 1", broken.Out, StringComparison.Ordinal);
        });
    }
}
