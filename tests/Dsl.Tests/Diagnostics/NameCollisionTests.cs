using System;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Net;

namespace SwarmDsl.Tests.Diagnostics;

/// <summary>
/// Names that would mean two things (a task and one of lowering's namespaces, a node and a service, a task and another
/// service's task, the outside client), device names the emitters would refuse, and shapes that are legal but defeat
/// themselves (the data path port published, nodes on two subnets, no nodes, dnsrr expect destinations). Each asserts the
/// ID, the severity and the line and column of the offending node.
/// </summary>
public class NameCollisionTests
{
    // Lines 1-12; what a case appends starts on line 13.
    private const string Base = """
        version: 1
        name: t
        nodes:
          m: { address: 10.1.1.10/24, role: manager }
          w: { address: 10.1.1.11/24 }
        networks:
          app: { driver: overlay, subnet: 10.9.0.0/24 }
        services:
          web:
            networks: [app]
            replicas: 2
            expose: [80]

        """;

    private static Diagnostic Single(string yaml, string id, int line, int column, string fragment)
    {
        var result = SwarmCompiler.CompileToPlan(TestInput.File, yaml);
        var all = string.Join("\n", result.Diagnostics.Select(d => d.ToString()));
        var d = result.Diagnostics.Where(x => x.Id == id).ToList();
        Assert.True(d.Count == 1, $"expected one {id}, got:\n{all}");
        Assert.Equal((line, column), (d[0].Span.StartLine, d[0].Span.StartColumn));
        Assert.Equal(TestInput.File, d[0].Span.File);
        Assert.Contains(fragment, d[0].Message, StringComparison.Ordinal);
        Assert.Equal(DiagnosticDescriptors.All.Single(x => x.Id == id).Severity, d[0].Severity);
        return d[0];
    }

    private static void Clean(string yaml)
    {
        var result = SwarmCompiler.CompileToPlan(TestInput.File, yaml);
        Assert.True(result.Diagnostics.Count == 0, string.Join("\n", result.Diagnostics.Select(d => d.ToString())));
        Assert.NotNull(result.Plan);
    }

    [Fact]
    public void Base_is_clean() => Clean(Base);

    // ---- A: a task name that is a namespace lowering makes ----

    [Theory]
    [InlineData("host", "the node's own (host) namespace")]
    [InlineData("ingress_sbox", "the ingress load balancer's namespace")]
    [InlineData("lb_app", "the load-balancer namespace of network 'app'")]
    [InlineData("lb_ingress", "the load-balancer namespace of network 'ingress'")]
    public void A_task_cannot_take_a_namespace_lowering_makes(string name, string what)
    {
        // lb_ingress: the derived ingress network counts as well (the port below makes one).
        var yaml = Base + "    ports: [{ published: 8080, target: 80 }]\n" + $"  api:\n    networks: [app]\n    tasks: [{{ node: w, name: {name} }}]\n";
        var d = Single(yaml, "SWARM0006", 16, 30, what);
        Assert.Equal(Severity.Error, d.Severity);
    }

    [Fact]
    public void A_task_name_that_merely_starts_like_a_namespace_is_fine()
        => Clean(Base + "  api:\n    networks: [app]\n    tasks: [{ node: w, name: lb_other }, ]\n".Replace(", ]", "]"));

    // ---- B: a task name that passes for another service's task ----

    [Fact]
    public void A_task_name_of_the_form_other_service_dot_number_is_refused()
        => Single(Base + "  api:\n    networks: [app]\n    tasks: [{ node: w, name: web.0 }]\n", "SWARM0040", 15, 30,
            "task name 'web.0' of service 'api' has the form of a task of service 'web'");

    [Fact]
    public void A_task_name_equal_to_a_derived_name_of_another_global_service_is_refused()
        => Single(Base + "  agent: { networks: [app], mode: global }\n  api:\n    networks: [app]\n    tasks: [{ node: w, name: agent.w }]\n",
            "SWARM0040", 16, 30, "is the name the tool gives a task of service 'agent'");

    [Fact]
    public void A_task_may_use_its_own_service_prefix_and_other_dotted_names()
        => Clean(Base + "  api:\n    networks: [app]\n    replicas: 2\n    tasks: [{ node: w, name: api.7 }, { node: m, name: web.backup }]\n");

    // ---- C: one name for two kinds, and the outside client's name ----

    [Fact]
    public void A_node_and_a_service_with_one_name_are_reported_at_the_second()
        => Single(Base + "  m: { networks: [app] }\n", "SWARM0040", 13, 3, "'m' names both a node and a service");

    [Fact]
    public void When_services_come_first_the_node_is_the_second()
    {
        var yaml = "version: 1\nname: t\nservices:\n  web: { networks: [app] }\nnetworks:\n  app: { driver: overlay, subnet: 10.9.0.0/24 }\nnodes:\n  m: { address: 10.1.1.10/24 }\n  web: { address: 10.1.1.11/24 }\n";
        Single(yaml, "SWARM0040", 9, 3, "'web' names both a node and a service");
    }

    [Fact]
    public void A_task_named_like_a_node_is_refused()
        => Single(Base + "  api:\n    networks: [app]\n    tasks: [{ node: w, name: m }]\n", "SWARM0040", 15, 30, "'m' names both a task of service 'api' and a node");

    [Fact]
    public void A_task_named_like_a_service_is_refused()
        => Single(Base + "  api:\n    networks: [app]\n    tasks: [{ node: w, name: web }]\n", "SWARM0040", 15, 30, "'web' names both a task of service 'api' and a service");

    [Fact]
    public void A_node_called_external_is_refused()
        => Single(Base.Replace("  w: {", "  external: {"), "SWARM0006", 5, 3, "a node cannot be called 'external'");

    [Fact]
    public void A_service_called_external_is_refused()
        => Single(Base + "  external: { networks: [app] }\n", "SWARM0006", 13, 3, "a service cannot be called 'external'");

    [Fact]
    public void A_task_called_external_is_refused()
        => Single(Base + "  api:\n    networks: [app]\n    tasks: [{ node: w, name: external }]\n", "SWARM0006", 15, 30, "a task cannot be called 'external'");

    // ---- D: interface names as the emitters accept them ----

    [Theory]
    [InlineData("a@b")]
    [InlineData("-eth0")]
    public void An_interface_name_the_emitter_would_refuse_is_refused(string name)
        => Single(Base.Replace("  w: { address: 10.1.1.11/24 }", $"  w: {{ address: 10.1.1.11/24, interface: \"{name}\" }}"), "SWARM0006", 5, 42, "invalid interface name");

    [Theory]
    [InlineData("lo", "the loopback device")]
    [InlineData("docker_gwbridge", "the bridge of network 'docker_gwbridge'")]
    [InlineData("br-local", "the bridge of network 'local'")]
    public void An_interface_named_like_a_device_of_the_node_namespace_is_refused(string name, string what)
        => Single(Base.Replace("  w: { address: 10.1.1.11/24 }", $"  w: {{ address: 10.1.1.11/24, interface: {name} }}")
            .Replace("networks:\n  app:", "networks:\n  local: { driver: bridge, subnet: 10.8.0.0/24 }\n  app:"), "SWARM0006", 5, 42, what);

    [Fact]
    public void Vlan_and_bond_interfaces_are_fine_and_emit()
    {
        var yaml = Base.Replace("  w: { address: 10.1.1.11/24 }", "  w: { address: 10.1.1.11/24, interface: bond0.100 }");
        Clean(yaml);
        var plan = SwarmCompiler.CompileToPlan(TestInput.File, yaml).Plan!;
        Assert.Contains(plan.Hosts.Single(h => h.Node == "w").Namespaces.SelectMany(n => n.Devices), d => d.Name == "bond0.100");
    }

    // ---- E: legal but self-defeating ----

    [Fact]
    public void Publishing_the_data_path_port_on_udp_warns_at_the_port()
        => Single(Base + "    ports: [{ published: 4789, target: 53, protocol: udp }]\n", "SWARM0041", 13, 26, "udp port 4789 is the overlay's VXLAN data path port");

    [Fact]
    public void Publishing_the_data_path_port_in_host_mode_warns_too()
        // The host's DOCKER chain DNATs it in PREROUTING, before the VXLAN socket sees it (a tester found reach showing it).
        => Single(Base + "    ports: [{ published: 4789, target: 53, protocol: udp, mode: host }]\n", "SWARM0041", 13, 26, "publishing it in host mode makes the DOCKER chain");

    [Fact]
    public void Publishing_a_moved_data_path_port_warns()
        => Single(Base.Replace("nodes:", "underlay: { dataPathPort: 5000 }\nnodes:") + "    ports: [{ published: 5000, target: 53, protocol: udp }]\n",
            "SWARM0041", 14, 26, "udp port 5000");

    [Theory]
    [InlineData("", "    ports: [{ published: 4789, target: 53 }]\n")]                       // tcp: no VXLAN there
    [InlineData("underlay: { dataPathPort: 5000 }\n", "    ports: [{ published: 4789, target: 53, protocol: udp }]\n")]
    public void Other_ports_do_not_warn(string underlay, string ports) => Clean(Base.Replace("nodes:", underlay + "nodes:") + ports);

    [Fact]
    public void Nodes_on_two_subnets_warn_at_the_second_address()
        => Single(Base.Replace("10.1.1.11/24", "10.1.2.11/24"), "SWARM0042", 5, 17, "node 'w' (10.1.2.11/24) and node 'm' (10.1.1.10/24) are not on one subnet");

    [Fact]
    public void Nodes_on_two_subnets_warn_with_an_underlay_subnet_too()
        => Single(Base.Replace("nodes:", "underlay: { subnet: 10.1.0.0/16 }\nnodes:").Replace("10.1.1.11/24", "10.1.2.11/24"), "SWARM0042", 6, 17, "are not on one subnet");

    [Fact]
    public void A_wider_prefix_that_holds_every_node_is_one_link()
        => Clean(Base.Replace("10.1.1.11/24", "10.1.1.11/16").Replace("  w: {", "  x: { address: 10.1.1.12/24 }\n  w: {"));

    [Fact]
    public void A_later_node_outside_an_earlier_narrower_prefix_warns()
        => Single(Base.Replace("10.1.1.11/24", "10.1.0.11/16"), "SWARM0042", 5, 17, "node 'w' (10.1.0.11/16) and node 'm'");

    [Theory]
    [InlineData("nodes: {}\n")]
    [InlineData("nodes:\n")]
    public void An_empty_nodes_is_an_error_at_the_key(string nodes)
        => Single("version: 1\nname: t\n" + nodes, "SWARM0005", 3, 1, "'nodes' is empty: a topology needs at least one node");

    // ---- F: the outside client on a link every node has ----

    [Fact]
    public void A_wider_underlay_puts_the_client_in_the_nodes_prefix()
    {
        var yaml = Base.Replace("nodes:", "underlay: { subnet: 10.1.0.0/16 }\nnodes:");
        Clean(yaml);
        Assert.Equal(Ipv4Address.Parse("10.1.1.254"), SwarmCompiler.CompileToPlan(TestInput.File, yaml).Plan!.Underlay.ExternalClient);
    }

    [Theory]
    [InlineData("", "10.1.1.254")]
    [InlineData("underlay: { subnet: 10.1.1.0/24 }\n", "10.1.1.254")]
    public void A_client_that_already_works_is_unchanged(string underlay, string client)
        => Assert.Equal(Ipv4Address.Parse(client), SwarmCompiler.CompileToPlan(TestInput.File, Base.Replace("nodes:", underlay + "nodes:")).Plan!.Underlay.ExternalClient);

    [Fact]
    public void The_first_node_prefix_that_works_for_every_node_is_taken()
    {
        // 10.1.255.254 and the top of m's /20 (10.1.15.254) are not on-link for w (/24), so w's prefix gives the client.
        var yaml = Base.Replace("nodes:", "underlay: { subnet: 10.1.0.0/16 }\nnodes:").Replace("10.1.1.10/24", "10.1.1.10/20");
        Clean(yaml);
        Assert.Equal(Ipv4Address.Parse("10.1.1.254"), SwarmCompiler.CompileToPlan(TestInput.File, yaml).Plan!.Underlay.ExternalClient);
    }

    [Fact]
    public void No_free_on_link_address_warns_at_the_underlay()
    {
        var yaml = Base.Replace("nodes:", "underlay: { subnet: 10.1.0.0/16 }\nnodes:").Replace("10.1.1.10/24", "10.1.1.1/30").Replace("10.1.1.11/24", "10.1.1.2/30");
        var d = Single(yaml, "SWARM0042", 3, 11, "no free address of the underlay is on-link for every node");
        Assert.Equal(Severity.Warning, d.Severity);
    }

    // ---- G: dnsrr services as expect destinations ----

    [Fact]
    public void A_dnsrr_service_as_destination_is_an_invalid_expectation()
    {
        var yaml = Base + "  dns: { networks: [app], endpointMode: dnsrr, replicas: 2, expose: [\"53/udp\"] }\nexpect:\n  - { from: web, to: \"dns:53/udp\", blocked: true }\n";
        Single(yaml, "SWARM0031", 15, 22, "service 'dns' uses endpointMode dnsrr, so it has no VIP to send to: address one of its tasks instead (e.g. 'dns.1')");
    }

    [Fact]
    public void A_dnsrr_service_as_source_and_its_tasks_as_destination_are_fine()
    {
        var yaml = Base + "  dns: { networks: [app], endpointMode: dnsrr, replicas: 2, expose: [\"53/udp\"] }\nexpect:\n  - { from: dns, to: \"dns.1:53/udp\", reaches: dns }\n";
        var result = TestInput.Compile(yaml);
        Assert.False(result.HasErrors, TestInput.Describe(result));
    }

    // ---- H: where duplicates are reported, and unknown protocols ----

    [Fact]
    public void A_written_name_equal_to_a_later_derived_name_is_reported_at_the_name()
        => Single(Base + "    tasks: [{ node: m, name: web.2 }]\n", "SWARM0006", 13, 30, "task name 'web.2' is already used by another task");

    [Fact]
    public void Two_written_names_are_reported_at_the_second_name()
        => Single(Base + "    tasks: [{ node: m, name: a }, { node: w, name: a }]\n", "SWARM0006", 13, 52, "task name 'a' is already used by another task");

    [Fact]
    public void An_unknown_protocol_is_named_as_such()
        => Single(Base + "expect:\n  - { from: web, to: \"m:80/xyz\", reaches: web }\n", "SWARM0031", 14, 22, "to: 'xyz' is not a protocol: use tcp, udp, sctp or icmp");

    // An echo with a port was checked as if the port were not there (trace refuses it: Simulation.TryResolve).
    [Fact]
    public void An_icmp_destination_with_a_port_is_an_invalid_expectation()
        => Single(Base + "expect:\n  - { from: web, to: \"m:80/icmp\", blocked: true }\n", "SWARM0031", 14, 22,
            "to: icmp has no port: write m:80/tcp (or /udp, /sctp), or leave the port out for an ICMP echo");

    [Fact]
    public void A_source_with_a_port_is_an_invalid_expectation()
        => Single(Base + "expect:\n  - { from: \"m:5000\", to: \"m:80/tcp\", blocked: true }\n", "SWARM0031", 14, 13,
            "from: a source sends from an ephemeral port; leave the port out");

    [Fact]
    public void An_icmp_echo_without_a_port_is_a_valid_expectation()
    {
        var result = TestInput.Compile(Base + "expect:\n  - { from: web, to: m, blocked: true }\n");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "SWARM0031");
    }
}
