using System.Linq;
using System.Text;
using SwarmDsl.Plan;
using SwarmDsl.Views;

namespace SwarmDsl.Tests.Views;

/// <summary>Every view of every namespace of every host, for the example (both backends) and the hand-made plan.</summary>
public class ShowViewSnapshotTests
{
    private static readonly string[][] Commands =
    {
        new[] { "ip", "addr" },
        new[] { "ip", "-4", "addr" },
        new[] { "ip", "-d", "link" },
        new[] { "ip", "route" },
        new[] { "ip", "neigh" },
        new[] { "bridge", "fdb", "show" },
        new[] { "brctl", "show" },
        new[] { "iptables-save" },
        new[] { "iptables", "-t", "filter", "-L", "-n", "-v", "--line-numbers" },
        new[] { "iptables", "-t", "nat", "-L", "-n", "-v" },
        new[] { "iptables", "-t", "mangle", "-S" },
        new[] { "ipvsadm", "-L", "-n" },
        new[] { "netstat", "-i" },
    };

    private static string RenderAll(DataplanePlan plan)
    {
        var sb = new StringBuilder();
        foreach (var host in plan.Hosts)
        {
            foreach (var ns in host.Namespaces)
            {
                foreach (var command in Commands)
                {
                    var result = ShowCommandLine.Run(plan, host, ns, command, ShowOptions.Default);
                    sb.Append("### ").Append(host.Node).Append('/').Append(ns.Name).Append(" $ ").Append(string.Join(" ", command))
                      .Append(" (exit ").Append(result.ExitCode).Append(")\n");
                    sb.Append(result.Output).Append(result.Error);
                }
                var links = LinkTable.Build(plan, host);
                foreach (var br in links.Links(ns.Name).Where(l => l.Device.Kind == DeviceKind.Bridge))
                {
                    sb.Append("### ").Append(host.Node).Append('/').Append(ns.Name).Append(" $ brctl showmacs ").Append(br.Name).Append('\n');
                    sb.Append(ShowCommandLine.Run(plan, host, ns, new[] { "brctl", "showmacs", br.Name }, ShowOptions.Default).Output);
                }
                foreach (var s in ns.Sysctls)
                    sb.Append(ShowCommandLine.Run(plan, host, ns, new[] { "sysctl", s.Key }, ShowOptions.Default).Output);
            }
        }
        return sb.ToString();
    }

    [Fact]
    public void Example_ipvs() => Snapshot.Verify(RenderAll(ExamplePlans.Ipvs()));

    [Fact]
    public void Example_nftables() => Snapshot.Verify(RenderAll(ExamplePlans.Nftables()));

    [Fact]
    public void Hand_made_plan() => Snapshot.Verify(RenderAll(HandMadePlans.Lab()));

    [Fact]
    public void Views_are_deterministic()
    {
        Assert.Equal(RenderAll(ExamplePlans.Ipvs()), RenderAll(ExamplePlans.Ipvs()));
    }

    [Fact]
    public void Lab_naming_prints_named_namespaces_and_cpu_queues()
    {
        var plan = ExamplePlans.Ipvs();
        var host = plan.Hosts[0];
        var sbox = host.Namespaces.Single(n => n.Name == "ingress_sbox");
        var options = new ShowOptions { NetnsPrefix = "lab-", HostNetnsName = "lab-manager", PossibleCpus = 4 };
        var text = ShowCommandLine.Run(plan, host, sbox, new[] { "ip", "-d", "link", "show", "eth1" }, options).Output;
        Assert.Contains(" link-netns lab-manager ", text);
        Assert.Contains("numtxqueues 4 numrxqueues 4", text);
        var unnamed = ShowCommandLine.Run(plan, host, sbox, new[] { "ip", "link", "show", "eth1" }, ShowOptions.Default).Output;
        Assert.Matches(@" link-netnsid \d+\n$", unnamed);
    }
}
