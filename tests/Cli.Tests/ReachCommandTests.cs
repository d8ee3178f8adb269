using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary><c>swarmdsl reach</c>: the table and the JSON of the example.</summary>
public sealed class ReachCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public void The_example_table_shows_8080_reaching_web_and_the_rest_blocked_with_the_cause()
    {
        var (exit, stdout, stderr) = Run("reach", Paths.Example);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("SOURCE", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("external  manager (10.7.191.10)  tcp    8080 ", StringComparison.Ordinal) && l.EndsWith("reaches web", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("external  worker (10.7.191.9)    tcp    8080 ", StringComparison.Ordinal) && l.EndsWith("reaches web", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("external  worker (10.7.191.9)    tcp    8081-65535", StringComparison.Ordinal)
            && l.Contains("blocked: dropped by NoListener at worker/host", StringComparison.Ordinal));
    }

    /// <summary>
    /// The process's own output is written otherwise than a writer handed in (a buffer of its own; JSON as the writer's
    /// bytes): the real program prints what the command prints in process, table, JSON and groups alike.
    /// </summary>
    [Fact]
    public async System.Threading.Tasks.Task The_real_process_prints_what_the_command_prints_in_process()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "swarmdsl.dll");
        Assert.True(File.Exists(dll), dll);
        foreach (var options in new[] { new string[0], new[] { "--json" }, new[] { "--group" }, new[] { "--group", "--json" } })
        {
            var args = new[] { "reach", Paths.Example }.Concat(options).ToArray();
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment[JitProfile.Variable] = "0"; // a test writes nothing into the user's cache
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new System.Threading.CancellationTokenSource(TimeSpan.FromSeconds(120));
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, string.Join(" ", args) + ": " + await stderr);
            Assert.Equal(Run(args).Out, await stdout);
        }
    }

    [Fact]
    public void The_table_is_aligned_though_it_is_written_before_every_row_is_known()
    {
        // Widths come from the pairs (names, each destination's longest address), not from rows, which are streamed.
        var (exit, stdout, _) = Run("reach", Paths.Example);
        Assert.Equal(0, exit);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0];
        var columns = new[] { "DESTINATION", "PROTO", "PORTS", "RESULT" }.Select(h => header.IndexOf(h, StringComparison.Ordinal)).ToArray();
        Assert.All(columns, c => Assert.True(c > 0));
        Assert.True(lines.Length > 20);
        foreach (var line in lines.Skip(1))
            foreach (var c in columns)
            {
                // Two spaces end the column before; the column starts with a character.
                Assert.True(line.Length > c && line[c - 1] == ' ' && line[c - 2] == ' ' && line[c] != ' ', line);
            }
    }

    [Fact]
    public void Group_folds_the_example_by_destination_and_its_json_expands_to_the_table()
    {
        var (exit, stdout, stderr) = Run("reach", Paths.Example, "--group");
        Assert.Equal((0, ""), (exit, stderr));
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // external, manager and worker get the same answer from each node: one group, its sources as a run.
        Assert.Contains("manager (10.7.191.10) from external .. worker (3 sources)", lines);
        Assert.Contains(lines, l => l.StartsWith("  tcp    8080 ", StringComparison.Ordinal) && l.EndsWith("reaches web", StringComparison.Ordinal));

        var plain = JsonDocument.Parse(Run("reach", Paths.Example, "--json").Out).RootElement.GetProperty("rows").EnumerateArray()
            .Select(r => string.Join(" ", r.GetProperty("source").GetString(), r.GetProperty("destination").GetString(), r.GetProperty("address").GetString(),
                r.GetProperty("protocol").GetString(), r.GetProperty("fromPort").GetInt32(), r.GetProperty("toPort").GetInt32(), r.GetProperty("result").GetString(),
                r.GetProperty("cause").ToString()))
            .OrderBy(x => x, StringComparer.Ordinal).ToList();
        var (gexit, gout, _) = Run("reach", Paths.Example, "--group", "--json");
        Assert.Equal(0, gexit);
        var expanded = JsonDocument.Parse(gout).RootElement.GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("sources").EnumerateArray().SelectMany(s => g.GetProperty("rows").EnumerateArray().Select(r => string.Join(" ",
                s.GetString(), g.GetProperty("destination").GetString(), g.GetProperty("address").GetString(), r.GetProperty("protocol").GetString(),
                r.GetProperty("fromPort").GetInt32(), r.GetProperty("toPort").GetInt32(), r.GetProperty("result").GetString(), r.GetProperty("cause").ToString()))))
            .OrderBy(x => x, StringComparer.Ordinal).ToList();
        Assert.Equal(plain, expanded);
    }

    [Fact]
    public void Json_has_stable_fields_and_the_same_rows()
    {
        var (exit, stdout, _) = Run("reach", Paths.Example, "--json");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("two-node.swarm.yaml", doc.RootElement.GetProperty("file").GetString());
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        var web = rows.Where(r => r.GetProperty("service").ValueKind == JsonValueKind.String && r.GetProperty("source").GetString() == "external").ToList();
        Assert.Equal(2, web.Count);
        Assert.All(web, r =>
        {
            Assert.Equal("tcp", r.GetProperty("protocol").GetString());
            Assert.Equal(8080, r.GetProperty("fromPort").GetInt32());
            Assert.Equal(8080, r.GetProperty("toPort").GetInt32());
            Assert.Equal(JsonValueKind.Null, r.GetProperty("cause").ValueKind);
        });
        Assert.All(rows.Where(r => r.GetProperty("result").GetString() == "blocked"), r => Assert.Equal(JsonValueKind.String, r.GetProperty("cause").ValueKind));
        Assert.Equal(stdout, Run("reach", Paths.Example, "--json").Out); // deterministic
    }

    [Theory]
    [InlineData("--to", "worker")]
    [InlineData("--from", "manager")]
    [InlineData("--from", "external")]
    public void From_and_to_keep_the_rows_of_one_source_or_destination_unchanged(string option, string name)
    {
        // The rows of the kept pairs, explanation included: equal to the full table's (every pair starts from the loaded state).
        static string[] Keys(string json, Func<JsonElement, bool> keep) => JsonDocument.Parse(json).RootElement.GetProperty("rows").EnumerateArray()
            .Where(keep)
            .Select(r => string.Join(" ", r.GetProperty("source").GetString(), r.GetProperty("destination").GetString(), r.GetProperty("protocol").GetString(),
                r.GetProperty("fromPort").GetInt32(), r.GetProperty("toPort").GetInt32(), r.GetProperty("result").GetString(), r.GetProperty("cause").ToString()))
            .ToArray();
        string field = option == "--to" ? "destination" : "source";
        var full = Keys(Run("reach", Paths.Example, "--json").Out, r => r.GetProperty(field).GetString() == name);
        var (exit, stdout, stderr) = Run("reach", Paths.Example, "--json", option, name);
        Assert.Equal((0, ""), (exit, stderr));
        var filtered = Keys(stdout, _ => true);
        Assert.NotEmpty(filtered);
        Assert.Equal(full, filtered);
    }

    [Theory]
    [InlineData("--to", "nosuch", "--to 'nosuch' is not a destination")]
    [InlineData("--from", "web.1", "--from 'web.1' is not a source")]
    // web is on the ingress network only: no service shares a network with it (it is reached through the nodes' port).
    [InlineData("--from", "web", "--from 'web' is not a source")]
    public void An_unknown_source_or_destination_is_a_usage_error(string option, string name, string message)
    {
        var (exit, stdout, stderr) = Run("reach", Paths.Example, option, name);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("swarmdsl: error: " + message, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_without_tasks_or_a_pair_that_is_never_probed_is_a_usage_error()
    {
        var path = TopologyFile("""
            version: 1
            name: idle
            nodes:
              m: { address: 10.1.1.10/24, role: manager }
              w: { address: 10.1.1.11/24 }
            networks:
              app: { driver: overlay, subnet: 10.9.0.0/24 }
            services:
              client: { networks: [app], expose: [22] }
              idle: { networks: [app], replicas: 0 }
            """);
        try
        {
            // A service with no task sends nothing, and no node balances its VIP (Docker programs it with the first task).
            var (exit, stdout, stderr) = Run("reach", path, "--from", "idle");
            Assert.Equal((2, ""), (exit, stdout));
            Assert.Contains("--from 'idle' is not a source", stderr, StringComparison.Ordinal);
            (exit, stdout, stderr) = Run("reach", path, "--from", "client", "--to", "idle");
            Assert.Equal((2, ""), (exit, stdout));
            Assert.Contains("--to 'idle': the service has no task (replicas 0, or no node it may run on), so no node balances its VIP", stderr, StringComparison.Ordinal);
            (exit, stdout, _) = Run("reach", path, "--from", "client");
            Assert.Equal(0, exit);
            Assert.DoesNotContain("idle", stdout, StringComparison.Ordinal);
            // Nodes are probed toward nodes only.
            (exit, stdout, stderr) = Run("reach", path, "--from", "m", "--to", "client");
            Assert.Equal((2, ""), (exit, stdout));
            Assert.Contains("no pair goes from 'm' to 'client'", stderr, StringComparison.Ordinal);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Every_backend_names_the_backend_that_answers_otherwise_and_a_rule_in_one_task_needs_no_option()
    {
        // web has a task on each node; the one on c drops tcp port 80.
        var path = TopologyFile(File.ReadAllText(Path.Combine(Paths.Root, "tests", "Runtime.Tests", "Insight", "Topologies", "mixed.swarm.yaml")));
        var uniform = TopologyFile(File.ReadAllText(Path.Combine(Paths.Root, "tests", "Runtime.Tests", "Insight", "Topologies", "mixed.swarm.yaml"))
            .Replace("namespace: web.3", "namespace: host", StringComparison.Ordinal).Replace("node: c,", "", StringComparison.Ordinal));
        try
        {
            // A raw rule in one task: its service's classes are probed on each backend without being asked (a tester's find:
            // the row said "reaches" while the expectation on the same flow failed), and the note says which services.
            var (exit, stdout, stderr) = Run("reach", path, "--from", "api", "--to", "web");
            Assert.Equal(0, exit);
            Assert.Contains("swarmdsl: note: probed on each backend: web (a raw rule is in one of their tasks); raw rules elsewhere or per-node sysctls can still", stderr, StringComparison.Ordinal);
            Assert.Contains("  80           varies by backend: blocked (web.3), reaches web (", stdout, StringComparison.Ordinal);
            var unasked = stdout;
            (exit, stdout, stderr) = Run("reach", path, "--from", "api", "--to", "web", "--every-backend");
            Assert.Equal((0, ""), (exit, stderr));
            Assert.Contains("  80           varies by backend: blocked (web.3), reaches web (", stdout, StringComparison.Ordinal);
            Assert.Equal(unasked, stdout);
            // A rule placed alike on every node leaves the rows to the balancer's pick, and the note says so.
            (exit, stdout, stderr) = Run("reach", uniform, "--from", "api", "--to", "web");
            Assert.Equal(0, exit);
            Assert.Contains("swarmdsl: note: raw rules or per-node sysctls can make a service's backends answer differently", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("varies by backend", stdout, StringComparison.Ordinal);
            // In JSON each way the backends ended is spelled out.
            (exit, stdout, stderr) = Run("reach", path, "--from", "api", "--to", "web", "--every-backend", "--json");
            Assert.Equal((0, ""), (exit, stderr));
            using var doc = System.Text.Json.JsonDocument.Parse(stdout);
            var row = doc.RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("protocol").GetString() == "tcp" && r.GetProperty("fromPort").GetInt32() == 80);
            var ways = row.GetProperty("backends").EnumerateArray().ToList();
            Assert.Equal(2, ways.Count);
            Assert.Equal(("blocked", "web.3"), (ways[0].GetProperty("result").GetString(), string.Join(",", ways[0].GetProperty("tasks").EnumerateArray().Select(t => t.GetString()))));
            Assert.StartsWith("dropped by FilterDrop at c/web.3", ways[0].GetProperty("cause").GetString(), StringComparison.Ordinal);
            Assert.Equal("web", ways[1].GetProperty("service").GetString());
            Assert.Equal(2, ways[1].GetProperty("tasks").GetArrayLength());
            // Rows whose backends agree carry no "backends".
            Assert.All(doc.RootElement.GetProperty("rows").EnumerateArray().Where(r => r.GetProperty("fromPort").GetInt32() != 80), r => Assert.False(r.TryGetProperty("backends", out _)));
        }
        finally { File.Delete(path); File.Delete(uniform); }
    }

    [Fact]
    public void Nothing_to_probe_and_a_destination_nobody_shares_a_network_with_are_said_as_such_and_one_backend_needs_no_note()
    {
        var empty = TopologyFile("version: 1\nname: empty\n");
        var lone = TopologyFile("""
            version: 1
            name: lone
            nodes:
              n1: { address: 10.1.1.10/24, role: manager }
            networks:
              net: { driver: overlay, subnet: 10.10.0.0/24 }
            services:
              s: { networks: [net], expose: [80] }
              idle: { networks: [net], replicas: 0 }
            rules:
              - { node: n1, table: filter, chain: INPUT, rule: "-p tcp --dport 22 -j ACCEPT" }
            """);
        try
        {
            var (exit, stdout, stderr) = Run("reach", empty);
            Assert.Equal((2, ""), (exit, stdout));
            Assert.Contains("the topology has nothing to probe: it has no nodes", stderr, StringComparison.Ordinal);
            // idle is a VIP service without tasks: nothing balances it, so only s is probed, from s.
            (exit, stdout, stderr) = Run("reach", lone, "--to", "s");
            Assert.Equal((0, ""), (exit, stderr)); // a raw rule, but every service has one task at most: no note
            Assert.Contains("s       s (", stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(empty);
            File.Delete(lone);
        }
        var nobody = TopologyFile("""
            version: 1
            name: nobody
            nodes:
              n1: { address: 10.1.1.10/24 }
            networks:
              net: { driver: overlay, subnet: 10.10.0.0/24 }
            services:
              s: { networks: [net], replicas: 0 }
            """);
        try
        {
            var (exit, _, stderr) = Run("reach", nobody, "--to", "s");
            Assert.Equal(2, exit);
            Assert.Contains("--to 's': the service has no task", stderr, StringComparison.Ordinal);
        }
        finally { File.Delete(nobody); }
    }

    [Fact]
    public void A_topology_with_errors_gets_its_located_diagnostics_and_no_table()
    {
        // Found by a tester (session 10): reach returned 1 and printed nothing for an analysis error.
        var broken = TopologyFile("""
            version: 1
            name: broken
            nodes:
              n1: { address: 10.1.1.10/24 }
            networks:
              net: { driver: overlay, subnet: 10.10.0.0/24 }
            services:
              api: { networks: [net] }
              web: { networks: [net], tasks: [ { node: n1, name: api.0 } ] }
            """);
        try
        {
            var (exit, stdout, stderr) = Run("reach", broken);
            Assert.Equal((1, ""), (exit, stdout));
            Assert.Matches(@"\(\d+,\d+\): error SWARM0040: task name 'api\.0'", stderr);
        }
        finally { File.Delete(broken); }
    }

    [Theory]
    [InlineData("--seed", "-1", "swarmdsl: error: --seed must be a whole number from 0 to 4294967295, not '-1'")]
    [InlineData("--lb", "foo", "swarmdsl: error: Argument 'foo' not recognized. Must be one of: 'ipvs', 'nftables'")]
    public void A_value_the_parser_refuses_is_one_line_in_our_words(string option, string value, string line)
    {
        // Not "as expected type 'System.UInt32'", nor a tab-indented list (found by a tester).
        var (exit, stdout, stderr) = Run("reach", Paths.Example, option, value);
        Assert.Equal((2, ""), (exit, stdout));
        Assert.Equal(line + "; see 'swarmdsl reach --help'\n", stderr);
    }

    // A topology written to a file of its own (the caller deletes it).
    /// <summary>
    /// A row names the declaration that discarded the packet: a REJECT reached through a jump by its own chain and text,
    /// as a DROP is (it said "filter FORWARD rule 1 (rules[0])", FORWARD's jump to DOCKER-USER), and forwarding switched
    /// off by the sysctl's line, not the node's (both found by a tester).
    /// </summary>
    [Fact]
    public void A_blocked_row_names_the_rejecting_rule_and_the_sysctl_that_disabled_forwarding()
    {
        var rejecting = TopologyFile("version: 1\nname: trej\nnodes:\n  m1: { role: manager, address: 10.50.0.11/24 }\n  w1: { address: 10.50.0.12/24 }\n"
            + "services:\n  hm:\n    networks: []\n    ports: [ { published: 3000, target: 3000, mode: host } ]\n    tasks: [ { node: w1 } ]\n"
            + "rules:\n  - { node: w1, chain: DOCKER-USER, rule: \"-p tcp --dport 3000 -j REJECT --reject-with tcp-reset\" }\n");
        var noForwarding = TopologyFile("version: 1\nname: tfw\nnodes:\n  m1:\n    address: 10.70.0.11/24\n  w1:\n    address: 10.70.0.12/24\n"
            + "    sysctls:\n      net.ipv4.ip_forward: 0\nservices:\n  web:\n    networks: []\n    ports: [ { published: 80, target: 80 } ]\n");
        try
        {
            var (exit, stdout, _) = Run("reach", rejecting, "--from", "external", "--to", "w1");
            Assert.Equal(0, exit);
            Assert.Contains("blocked: dropped by Rejected at w1/host filter/DOCKER-USER rule 1 (-A DOCKER-USER -p tcp -m tcp --dport 3000 -j REJECT --reject-with tcp-reset) from "
                + Path.GetFileName(rejecting) + ":12:43", stdout, StringComparison.Ordinal);
            (exit, stdout, _) = Run("reach", noForwarding, "--from", "external", "--to", "w1");
            Assert.Equal(0, exit);
            Assert.Contains("dropped by ForwardingDisabled at w1/host: net.ipv4.ip_forward is 0 in w1/host and 172.18.0.2 is not local from "
                + Path.GetFileName(noForwarding) + ":9:7", stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(rejecting);
            File.Delete(noForwarding);
        }
    }

    /// <summary>
    /// With no free underlay address for the outside client (SWARM0022), nothing is simulated from a client at 0.0.0.0:
    /// reach leaves its rows out and says so, <c>--from external</c> and <c>trace --from external</c> are usage errors
    /// (a tester saw rows reading "no route to 0.0.0.0").
    /// </summary>
    [Fact]
    public void No_external_client_means_no_external_rows()
    {
        var full = TopologyFile("version: 1\nname: t30\nnodes:\n  a: { address: 172.31.255.254/30 }\n  b: { address: 172.31.255.253/30 }\n"
            + "services:\n  web:\n    networks: []\n    ports: [ { published: 8080, target: 80 } ]\n");
        try
        {
            var (exit, stdout, stderr) = Run("reach", full);
            Assert.Equal(0, exit);
            Assert.Contains("swarmdsl: note: external is not probed: the underlay subnet 172.31.255.252/30 has no address left for the external client (SWARM0022)", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("\nexternal ", stdout, StringComparison.Ordinal);
            Assert.Contains("reaches web", stdout, StringComparison.Ordinal);
            (exit, _, stderr) = Run("reach", full, "--from", "external");
            Assert.Equal(2, exit);
            Assert.Contains("swarmdsl: error: --from external: the underlay subnet 172.31.255.252/30 has no address left", stderr, StringComparison.Ordinal);
            (exit, _, stderr) = Run("trace", full, "--from", "external", "--to", "a:8080/tcp");
            Assert.Equal(2, exit);
            Assert.Contains("has no address left for the external client (SWARM0022)", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(full);
        }
    }

    private static string TopologyFile(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), "swarmdsl-reach-" + Guid.NewGuid().ToString("N") + ".swarm.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }
}
