using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Diagnostics;

namespace SwarmDsl.Tests.Diagnostics;

/// <summary>
/// One or more failing inputs for every diagnostic of the catalogue, each asserting the ID, the exact line and column of the
/// offending node, the severity, and a fragment of the message (which must say what to change).
/// </summary>
public class DiagnosticLocationTests
{
    /// <summary>A failing input: <see cref="Yaml"/> must report <see cref="Id"/> at <see cref="Line"/>:<see cref="Column"/>.</summary>
    public sealed record Case(string Id, string Name, string Yaml, int Line, int Column, string MessageContains)
    {
        public override string ToString() => $"{Id} {Name}";
    }

    // A valid topology most cases extend or edit; line numbers below count from its first line.
    private const string Base = """
        version: 1
        name: t
        nodes:
          a: { address: 10.0.0.1/24 }
          b: { address: 10.0.0.2/24 }
        networks:
          front: { driver: overlay, subnet: 10.1.0.0/24 }
        services:
          web:
            networks: [front]

        """;

    // Line 11 is the first line after Base.
    private static string With(string tail) => Base + tail;

    public static readonly Case[] Cases =
    {
        // ---- SWARM0001 malformed YAML ----
        new("SWARM0001", "tab indentation", "version: 1\nnodes:\n\ta: {}\n", 3, 1, "tab"),
        new("SWARM0001", "unclosed flow sequence", "version: 1\nname: t\nnodes: [a, b\n", 3, 8, "this '[' is never closed"),
        new("SWARM0001", "unclosed flow mapping, found lines later", "version: 1\nname: t\nnodes:\n  a: { address: 10.0.0.1/24\n  b: { address: 10.0.0.2/24 }\n", 4, 6, "this '{' is not closed properly"),
        new("SWARM0001", "a missing comma stays where it is", "version: 1\nname: t\nnodes: { a: 1 b: 2 }\n", 3, 16, "did not find expected ',' or '}'"),
        new("SWARM0001", "unclosed quote", "version: 1\nname: \"t\n", 2, 7, "malformed YAML"),
        new("SWARM0001", "key without a value on a continuation", "version: 1\nname: t\n  bad: indent\n", 3, 6, "malformed YAML"),
        new("SWARM0001", "unknown alias", "version: 1\nname: *nope\n", 2, 7, "unknown alias '*nope'"),
        new("SWARM0001", "two documents", "version: 1\nname: t\n---\nversion: 1\n", 3, 1, "only one YAML document"),
        new("SWARM0001", "a tag on a scalar (it would make 1500 the text \"1500\")", "version: 1\nname: !!str t\n", 2, 7, "YAML tags are not supported ('tag:yaml.org,2002:str')"),
        new("SWARM0001", "a tag on a mapping", "version: 1\nname: t\nnodes: !!seq\n  a: { address: 10.0.0.1/24 }\n", 3, 8, "YAML tags are not supported"),
        new("SWARM0009", "a collision inside an aliased value is reported at the alias", "version: 1\nname: t\nnodes:\n  a: &a { address: 10.0.0.1/24 }\n  b: *a\n", 5, 6, "already the address of node 'a'"),
        new("SWARM0001", "a merge key", "version: 1\nname: t\nnodes:\n  a: &a { address: 10.0.0.1/24 }\n  b:\n    <<: *a\n", 6, 5, "YAML merge keys ('<<') are not supported"),
        new("SWARM0001", "the non-specific tag (it makes 1500 the text \"1500\" too)", "version: 1\nname: t\nunderlay: { mtu: ! 1500 }\n", 3, 18, "YAML tags are not supported ('!')"),
        new("SWARM0001", "a local tag", "version: 1\nname: !foo t\n", 2, 7, "YAML tags are not supported ('!foo')"),
        new("SWARM0001", "nesting deeper than 64", "a: " + new string('[', 70) + new string(']', 70) + "\n", 1, 67, "nesting deeper than 64"),

        // ---- SWARM0002 unknown key ----
        new("SWARM0002", "misspelt top-level key", With("servcies: {}\n"), 11, 1, "did you mean 'services'?"),
        new("SWARM0002", "misspelt node key", Base.Replace("a: { address:", "a: { adress:"), 4, 8, "did you mean 'address'?"),
        new("SWARM0002", "unknown key lists the known ones", With("    colour: blue\n"), 11, 5, "known keys: image, replicas"),
        new("SWARM0002", "overlay-only key on a bridge", "version: 1\nname: t\nnetworks:\n  br: { driver: bridge, subnet: 10.9.0.0/24, vni: 5000 }\n", 4, 46, "'vni' applies only to overlay networks; network 'br' is a bridge"),
        new("SWARM0002", "bridge-only key on an overlay", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, icc: false }"), 7, 50, "'icc' applies only to bridge networks"),
        new("SWARM0002", "misspelt port key", With("    ports: [{ publshed: 80, target: 80 }]\n"), 11, 15, "did you mean 'published'?"),

        // ---- SWARM0003 wrong type ----
        new("SWARM0003", "mtu not a number", With("underlay: { mtu: big }\n"), 11, 18, "expected a whole number for 'mtu', not 'big'"),
        new("SWARM0003", "quoted number", With("underlay: { mtu: \"1500\" }\n"), 11, 18, "remove the quotes"),
        new("SWARM0003", "nodes as a list", "version: 1\nname: t\nnodes: [a, b]\n", 3, 8, "nodes must be a mapping"),
        new("SWARM0003", "role not in the enum", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1/24, role: manger }"), 4, 36, "did you mean 'manager'?"),
        new("SWARM0003", "address without prefix", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1 }"), 4, 17, "not an IPv4 address in CIDR form"),
        new("SWARM0003", "subnet with host bits", Base.Replace("subnet: 10.1.0.0/24", "subnet: 10.1.0.5/24"), 7, 37, "write 10.1.0.0/24"),
        new("SWARM0003", "networks as a string", Base.Replace("networks: [front]", "networks: front"), 10, 15, "networks must be a list"),
        new("SWARM0003", "boolean as a word", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, attachable: yes }"), 7, 62, "expected true or false, not 'yes'"),
        new("SWARM0003", "mapping key that is a list", "version: 1\nname: t\n[a]: 1\n", 3, 1, "a mapping key must be a plain name"),
        new("SWARM0003", "exposed port with an unknown protocol", With("    expose: [\"53/dns\"]\n"), 11, 14, "an exposed port must be a port such as 5432"),

        // ---- SWARM0004 duplicate key ----
        new("SWARM0004", "duplicate node", Base.Replace("  b: { address: 10.0.0.2/24 }", "  a: { address: 10.0.0.2/24 }"), 5, 3, "duplicate key 'a'"),
        new("SWARM0004", "duplicate key in a flow mapping", Base.Replace("{ driver: overlay,", "{ driver: overlay, driver: bridge,"), 7, 29, "duplicate key 'driver'"),
        new("SWARM0004", "network listed twice", Base.Replace("networks: [front]", "networks: [front, front]"), 10, 23, "lists network 'front' twice"),
        new("SWARM0004", "port exposed twice", With("    expose: [5432, \"5432/tcp\"]\n"), 11, 20, "exposes 5432/tcp twice"),

        // ---- SWARM0005 missing key ----
        new("SWARM0005", "empty file", "", 1, 1, "the file is empty"),
        new("SWARM0005", "comments only", "# nothing here\n", 1, 1, "the file is empty"),
        new("SWARM0005", "missing version", "name: t\n", 1, 1, "missing required key 'version'"),
        new("SWARM0005", "node without address", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { hostname: h }"), 4, 3, "node 'a' needs an 'address'"),
        new("SWARM0005", "network without driver", Base.Replace("{ driver: overlay, subnet: 10.1.0.0/24 }", "{ subnet: 10.1.0.0/24 }"), 7, 3, "needs a 'driver'"),
        new("SWARM0005", "service without networks", Base.Replace("    networks: [front]\n", "    replicas: 1\n"), 9, 3, "needs 'networks'"),
        new("SWARM0005", "port without target", With("    ports:\n      - published: 80\n"), 12, 9, "a port needs 'target'"),
        new("SWARM0005", "rule without chain", With("rules:\n  - rule: -j ACCEPT\n"), 12, 5, "a rule needs 'chain'"),

        // ---- SWARM0006 invalid name ----
        new("SWARM0006", "upper-case service", Base.Replace("  web:", "  Web:"), 9, 3, "names must match [a-z][a-z0-9_-]{0,31}"),
        new("SWARM0006", "shell metacharacters in a node name", Base.Replace("  b: {", "  \"b;rm -rf /\": {"), 5, 3, "invalid node name 'b;rm -rf /'"),
        new("SWARM0006", "33-character network name", Base.Replace("  front: {", "  " + new string('n', 33) + ": {").Replace("networks: [front]", "networks: [x]"), 7, 3, "invalid network name"),
        new("SWARM0006", "hostname with underscore", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1/24, hostname: my_host }"), 4, 40, "invalid hostname 'my_host'"),
        new("SWARM0006", "interface name too long", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1/24, interface: eth0123456789abcdef }"), 4, 41, "invalid interface name"),
        new("SWARM0006", "two tasks with one name", With("    replicas: 2\n    tasks:\n      - { node: a, name: w }\n      - { node: b, name: w }\n"), 14, 26, "task name 'w' is already used"),

        // ---- SWARM0007 unknown reference ----
        new("SWARM0007", "unknown network", Base.Replace("networks: [front]", "networks: [frnt]"), 10, 16, "unknown network 'frnt'; did you mean 'front'?"),
        new("SWARM0007", "task on an unknown node", With("    tasks: [{ node: c }]\n"), 11, 21, "unknown node 'c'"),
        new("SWARM0007", "placement on an unknown node", With("    placement: { nodes: [a, zz] }\n"), 11, 29, "unknown node 'zz'"),
        new("SWARM0007", "load-balancer address for an unknown node", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, loadBalancerAddresses: { q: 10.1.0.9 } }"), 7, 75, "unknown node 'q'"),
        new("SWARM0007", "vip on a network the service is not on", With("    vip: { other: 10.1.0.9 }\n"), 11, 12, "not attached to network 'other'"),
        new("SWARM0007", "rule on an unknown node", With("rules: [{ node: c, chain: DOCKER-USER, rule: -j RETURN }]\n"), 11, 17, "unknown node 'c'"),
        new("SWARM0007", "rule in an unknown namespace", With("rules: [{ namespace: nowhere, chain: DOCKER-USER, rule: -j RETURN }]\n"), 11, 22, "unknown namespace 'nowhere'"),
        new("SWARM0007", "expectation reaching an unknown service", With("expect: [{ from: external, to: a, reaches: api }]\n"), 11, 44, "unknown service 'api'"),

        // ---- SWARM0008 address outside its subnet ----
        new("SWARM0008", "node outside the underlay subnet", With("underlay: { subnet: 10.0.0.0/25 }\n").Replace("10.0.0.2/24", "10.0.0.200/24"), 5, 17, "outside the underlay subnet 10.0.0.0/25"),
        new("SWARM0008", "node address is the network address", Base.Replace("10.0.0.2/24", "10.0.0.0/24"), 5, 17, "network or broadcast address"),
        new("SWARM0008", "node address on loopback", Base.Replace("10.0.0.2/24", "127.0.0.5/8"), 5, 17, "'127.0.0.5/8' is not a usable host address: a loopback address is no source on the wire (martian)"),
        new("SWARM0008", "node address multicast", Base.Replace("10.0.0.2/24", "224.1.1.1/24"), 5, 17, "not a usable host address: a multicast address is no source address (martian)"),
        new("SWARM0008", "node address class E", Base.Replace("10.0.0.2/24", "240.0.0.1/24"), 5, 17, "not a usable host address: class E addresses are reserved (martian)"),
        new("SWARM0008", "node address in 0.0.0.0/8", Base.Replace("10.0.0.2/24", "0.0.0.5/8"), 5, 17, "not a usable host address: 0.0.0.0/8 is no source address (martian)"),
        new("SWARM0008", "node address the limited broadcast", Base.Replace("10.0.0.2/24", "255.255.255.255/32"), 5, 17, "not a usable host address: the limited broadcast is no source address (martian)"),
        new("SWARM0008", "a network subnet on loopback", Base.Replace("subnet: 10.1.0.0/24", "subnet: 127.1.0.0/24"), 7, 37, "subnet '127.1.0.0/24' holds addresses no host can use: a loopback address is no source on the wire (martian)"),
        new("SWARM0008", "a network subnet reaching into multicast", Base.Replace("subnet: 10.1.0.0/24", "subnet: 192.0.0.0/2"), 7, 37, "holds addresses no host can use: class E addresses are reserved (martian)"),
        new("SWARM0008", "the underlay subnet in 0.0.0.0/8", With("underlay: { subnet: 0.0.0.0/8 }\n"), 11, 21, "subnet '0.0.0.0/8' holds addresses no host can use"),
        new("SWARM0008", "gateway outside the subnet", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, gateway: 10.2.0.1 }"), 7, 59, "gateway 10.2.0.1 is not a host address of subnet 10.1.0.0/24"),
        new("SWARM0008", "pinned task address outside the network", With("    tasks: [{ node: a, address: 10.9.9.9 }]\n"), 11, 33, "10.9.9.9 is not a host address of network 'front'"),
        new("SWARM0008", "pinned vip is the broadcast address", With("    vip: 10.1.0.255\n"), 11, 10, "10.1.0.255 is not a host address"),

        // ---- SWARM0009 address collision ----
        new("SWARM0009", "two nodes with one address", Base.Replace("10.0.0.2/24", "10.0.0.1/24"), 5, 17, "already the address of node 'a'"),
        new("SWARM0009", "task address is the vip", With("    vip: 10.1.0.9\n    tasks: [{ node: a, address: 10.1.0.9 }]\n"), 12, 33, "10.1.0.9 is already the VIP of service 'web'"),
        new("SWARM0009", "vip is the gateway", With("    vip: 10.1.0.1\n"), 11, 10, "already the gateway of 'front'"),

        // ---- SWARM0010 overlapping subnets ----
        new("SWARM0010", "two overlays overlap", Base.Replace("services:", "  back: { driver: overlay, subnet: 10.1.0.128/25 }\nservices:"), 8, 36, "subnet 10.1.0.128/25 of network 'back' overlaps 10.1.0.0/24 of network 'front'"),
        new("SWARM0010", "overlay overlaps the underlay", With("underlay: { subnet: 10.1.0.0/16 }\n").Replace("10.0.0.1/24", "10.1.200.1/24").Replace("10.0.0.2/24", "10.1.200.2/24"), 7, 37, "overlaps the underlay subnet 10.1.0.0/16"),
        new("SWARM0010", "overlay overlaps a node's subnet", Base.Replace("subnet: 10.1.0.0/24", "subnet: 10.0.0.0/16"), 7, 37, "overlaps the underlay subnet 10.0.0.0/24 of node 'a'"),

        // ---- SWARM0011 VNI collision ----
        new("SWARM0011", "two overlays with one VNI", "version: 1\nname: t\nnetworks:\n  x: { driver: overlay, subnet: 10.1.0.0/24, vni: 5000 }\n  y: { driver: overlay, subnet: 10.2.0.0/24, vni: 5000 }\n", 5, 51, "VNI 5000 is already used by network 'x'"),

        // ---- SWARM0012 VNI out of range ----
        new("SWARM0012", "VNI 0", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 0 }"), 7, 55, "VNI 0 is out of range: use 1 to 16777215"),
        new("SWARM0012", "VNI above 24 bits", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 16777216 }"), 7, 55, "VNI 16777216 is out of range"),
        new("SWARM0012", "VNI beyond 64 bits", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 99999999999999999999999 }"), 7, 55, "VNI 99999999999999999999999 is out of range"),

        // ---- SWARM0013 VNI below 4096 (warning) ----
        new("SWARM0013", "VNI 256", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 256 }"), 7, 55, "below 4096"),

        // ---- SWARM0014 published port collision ----
        new("SWARM0014", "two services publish 80/tcp", With("    ports: [{ published: 80, target: 80 }]\n  api:\n    networks: [front]\n    ports: [{ published: 80, target: 8080 }]\n"), 14, 26, "already published on the ingress network by service 'web'"),
        new("SWARM0014", "one service publishes 80/tcp twice", With("    ports:\n      - { published: 80, target: 80 }\n      - { published: 80, target: 81 }\n"), 13, 22, "publishes 80/tcp twice"),
        new("SWARM0014", "ingress and host mode on one port", With("    ports: [{ published: 80, target: 80 }]\n  api:\n    networks: [front]\n    ports: [{ published: 80, target: 80, mode: host }]\n"), 11, 13, "published in ingress mode by 'web' and in host mode"),

        // ---- SWARM0015 dnsrr with ingress publishing ----
        new("SWARM0015", "dnsrr publishing in ingress mode", With("    endpointMode: dnsrr\n    ports: [{ published: 80, target: 80, mode: ingress }]\n"), 12, 48, "cannot publish in ingress mode"),
        new("SWARM0015", "dnsrr publishing with the default mode", With("    endpointMode: dnsrr\n    ports: [{ published: 80, target: 80 }]\n"), 12, 26, "use mode: host or endpointMode: vip"),

        // ---- SWARM0016 more pinned tasks than replicas ----
        new("SWARM0016", "two pinned tasks, one replica", With("    replicas: 1\n    tasks:\n      - { node: a }\n      - { node: b }\n"), 12, 5, "pins 2 tasks but has 1 replica"),
        new("SWARM0016", "two pinned tasks, default replicas", With("    tasks: [{ node: a }, { node: b }]\n"), 11, 5, "has 1 replica (the default)"),

        // ---- SWARM0017 global service pinned on missing nodes ----
        new("SWARM0017", "global task on an undeclared node", With("    mode: global\n    tasks: [{ node: c }]\n"), 12, 21, "global service 'web' runs one task on each declared node, but a task is pinned to unknown node 'c'"),
        new("SWARM0017", "global task on a node placement excludes", With("    mode: global\n    placement: { nodes: [a] }\n    tasks: [{ node: b }]\n"), 13, 21, "placement.nodes of service 'web' excludes"),
        new("SWARM0017", "global service pinned twice on one node", With("    mode: global\n    tasks: [{ node: a }, { node: a }]\n"), 12, 34, "node 'a' is pinned twice"),

        // ---- SWARM0018 overlay MTU too large (warning) ----
        new("SWARM0018", "overlay mtu equal to the underlay", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, mtu: 1500 }"), 7, 55, "overlay MTU 1500 + 50 bytes of VXLAN exceeds the underlay MTU 1500"),
        new("SWARM0018", "underlay lowered below the overlay", With("underlay: { mtu: 1400 }\n").Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, mtu: 1400 }"), 7, 55, "use at most 1350"),

        // ---- SWARM0019 unsupported scheduler ----
        new("SWARM0019", "fifo", With("    loadBalancing: { scheduler: fifo }\n"), 11, 33, "unsupported scheduler 'fifo'"),
        new("SWARM0019", "upper case", With("    loadBalancing:\n      scheduler: RR\n"), 12, 18, "use rr, wrr, lc, wlc, sh or dh"),

        // ---- SWARM0021 unsupported version ----
        new("SWARM0021", "version 2", Base.Replace("version: 1", "version: 2"), 1, 10, "version 2 is not supported"),
        new("SWARM0021", "version -1", Base.Replace("version: 1", "version: -1"), 1, 10, "version -1 is not supported"),
        new("SWARM0021", "version beyond an int", Base.Replace("version: 1", "version: 99999999999999999999"), 1, 10, "version 99999999999999999999 is not supported: this compiler reads version: 1"),

        // ---- SWARM0022 subnet exhausted ----
        new("SWARM0022", "a /29 with too many tasks", Base.Replace("10.1.0.0/24", "10.1.0.0/29") + "    replicas: 5\n", 7, 3, "no free address left"),
        new("SWARM0022", "no pool left for docker_gwbridge", Base.Replace("services:", "  big: { driver: bridge, subnet: 172.16.0.0/12 }\n  home: { driver: bridge, subnet: 192.168.0.0/16 }\nservices:"), 8, 34, "declare docker_gwbridge (driver: bridge) with a free subnet"),
        new("SWARM0022", "the derived ingress full", Base.Replace("10.1.0.0/24", "10.1.0.0/16") + "    replicas: 300\n    ports: [{ published: 80, target: 80 }]\n", 9, 3, "declare the network (networks: { ingress: { driver: overlay, ingress: true, subnet: ... } }) with a larger subnet"),
        new("SWARM0022", "no pool left for the derived ingress", Base.Replace("10.0.0.1/24", "10.0.0.1/8").Replace("10.0.0.2/24", "10.0.0.2/8").Replace("10.1.0.0/24", "192.168.1.0/24") + "    ports: [{ published: 80, target: 80 }]\n", 11, 13, "no /24 of Docker's pool 10.0.0.0/8 is free"),

        // ---- SWARM0023 out of range ----
        new("SWARM0023", "underlay mtu too large", With("underlay: { mtu: 70000 }\n"), 11, 18, "'mtu' 70000 is out of range: use 576 to 65535"),
        new("SWARM0023", "port 0", With("    ports: [{ published: 0, target: 80 }]\n"), 11, 26, "'published' 0 is out of range"),
        new("SWARM0023", "exposed port too large", With("    expose: [80, 65536]\n"), 11, 18, "exposed port 65536 is out of range"),
        new("SWARM0023", "negative replicas", With("    replicas: -1\n"), 11, 15, "'replicas' -1 is out of range"),
        new("SWARM0023", "dataPathPort 80", With("underlay: { dataPathPort: 80 }\n"), 11, 27, "use 1024 to 49151"),
        new("SWARM0023", "huge replicas", With("    replicas: 123456789012345678901234567890\n"), 11, 15, "'replicas' 123456789012345678901234567890 is out of range"),
        new("SWARM0023", "subnet /31", Base.Replace("10.1.0.0/24", "10.1.0.0/31"), 7, 37, "too small"),

        // ---- SWARM0024 invalid raw rule ----
        new("SWARM0024", "chain with a space", With("rules: [{ chain: \"DOCKER USER\", rule: -j RETURN }]\n"), 11, 18, "is not a chain name"),
        new("SWARM0024", "chain starting with a dash", With("rules: [{ chain: \"-X\", rule: -j RETURN }]\n"), 11, 18, "is not a chain name"),

        // ---- SWARM0025 service cannot join network ----
        new("SWARM0025", "service on a bridge network", Base.Replace("{ driver: overlay, subnet: 10.1.0.0/24 }", "{ driver: bridge, subnet: 10.1.0.0/24 }"), 10, 16, "cannot join bridge network 'front'"),
        new("SWARM0025", "docker_gwbridge as an overlay", Base.Replace("services:", "  docker_gwbridge: { driver: overlay, subnet: 172.18.0.0/16 }\nservices:"), 8, 30, "its driver must be bridge"),

        // ---- SWARM0026 ingress network ----
        new("SWARM0026", "two ingress networks", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, ingress: true }\n  mesh: { driver: overlay, subnet: 10.2.0.0/24, ingress: true }"), 8, 58, "second ingress network"),
        new("SWARM0026", "a network named ingress without ingress: true", Base.Replace("  front: {", "  ingress: {").Replace("networks: [front]", "networks: [ingress]") + "    ports: [{ published: 80, target: 80 }]\n", 7, 3, "add 'ingress: true'"),

        // ---- SWARM0027 host-mode port collision ----
        new("SWARM0027", "two tasks on one node with one host port", With("    replicas: 2\n    placement: { nodes: [a] }\n    ports: [{ published: 80, target: 80, mode: host }]\n"), 13, 13, "host-mode port 80/tcp on node 'a' is taken by task 'web.1'"),

        // ---- SWARM0028 invalid sysctl ----
        new("SWARM0028", "key without a dot", With("tuning:\n  sysctls:\n    somaxconn: 1024\n"), 13, 5, "is not a sysctl key"),
        new("SWARM0028", "value with shell syntax", With("tuning:\n  sysctls:\n    net.core.somaxconn: \"$(reboot)\"\n"), 13, 25, "sysctl value '$(reboot)'"),
        new("SWARM0028", "kernel.modprobe (code execution as root from apply.sh)", With("tuning:\n  sysctls:\n    kernel.modprobe: /tmp/evil\n"), 13, 5, "'kernel.modprobe' is not a networking sysctl"),
        new("SWARM0028", "node sysctl kernel.core_pattern", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1/24, sysctls: { kernel.core_pattern: /tmp/core } }"), 4, 41, "only keys under net."),
        new("SWARM0028", "node sysctl with a space in the key", Base.Replace("a: { address: 10.0.0.1/24 }", "a: { address: 10.0.0.1/24, sysctls: { \"net.core x\": 1 } }"), 4, 41, "is not a sysctl key"),

        // ---- SWARM0029 no placement ----
        new("SWARM0029", "replicated service without nodes", "version: 1\nname: t\nnetworks:\n  front: { driver: overlay, subnet: 10.1.0.0/24 }\nservices:\n  web:\n    networks: [front]\n", 6, 3, "service 'web' has no node to run on"),
        new("SWARM0029", "replicated task on a node placement excludes", With("    placement: { nodes: [a] }\n    tasks: [{ node: b }]\n"), 12, 21, "placement.nodes of service 'web' excludes: add the node"),
        new("SWARM0029", "global service without nodes", "version: 1\nname: t\nnetworks:\n  front: { driver: overlay, subnet: 10.1.0.0/24 }\nservices:\n  web:\n    mode: global\n    networks: [front]\n", 6, 3, "global service 'web' has no node to run on"),

        // ---- SWARM0030 unsupported combination ----
        new("SWARM0030", "replicas on a global service", With("    mode: global\n    replicas: 3\n"), 12, 15, "so 'replicas' does not apply"),
        new("SWARM0030", "vip on a service without networks", Base.Replace("networks: [front]", "networks: []\n    vip: 10.1.0.9"), 11, 10, "joins no network, so its 'vip' has nowhere to live"),
        new("SWARM0030", "task address on a service without networks", Base.Replace("networks: [front]", "networks: []\n    tasks: [{ node: a, address: 10.1.0.9 }]"), 11, 33, "this task 'address' has nowhere to live"),
        new("SWARM0030", "vip with dnsrr", With("    endpointMode: dnsrr\n    vip: 10.1.0.9\n"), 12, 10, "which has no VIP: remove 'vip'"),

        // ---- SWARM0031 invalid expectation ----
        new("SWARM0031", "unknown source", With("expect: [{ from: nowhere, to: a, reaches: web }]\n"), 11, 18, "from: 'nowhere' is not external"),
        new("SWARM0031", "bad port", With("expect: [{ from: external, to: \"a:99999/tcp\", reaches: web }]\n"), 11, 32, "to: '99999' is not a port"),
        new("SWARM0031", "a node with an empty namespace name", With("expect: [{ from: \"a/\", to: b, blocked: true }]\n"), 11, 18, "'a/' names no namespace"),
        new("SWARM0031", "a source service with no task", With("  empty:\n    replicas: 0\n    networks: [front]\nexpect: [{ from: empty, to: web, blocked: true }]\n"), 14, 18, "from: service 'empty' has no task to send from"),
        new("SWARM0031", "neither reaches nor blocked", With("expect:\n  - { from: external, to: a }\n"), 12, 5, "needs 'reaches: <service>' or 'blocked: true'"),
        new("SWARM0031", "both reaches and blocked", With("expect:\n  - { from: external, to: a, reaches: web, blocked: true }\n"), 12, 5, "cannot both reach a service and be blocked"),

        // ---- SWARM0040 name collision ----
        new("SWARM0040", "a node and a service with one name", Base.Replace("  web:", "  a:"), 9, 3, "'a' names both a node and a service"),
        new("SWARM0040", "a task name of another service's form", With("    tasks: [{ node: a, name: api.1 }]\n  api:\n    networks: [front]\n"), 11, 30, "has the form of a task of service 'api'"),

        // ---- SWARM0041 data path port published ----
        new("SWARM0041", "4789/udp through the routing mesh", With("    ports: [{ published: 4789, target: 53, protocol: udp }]\n"), 11, 26, "is the overlay's VXLAN data path port"),

        // ---- SWARM0045 VNI taken from the ingress network (warning) ----
        new("SWARM0045", "4096 pinned with a derived ingress network", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 4096 }") + "    ports: [{ published: 80, target: 80 }]\n",
            7, 55, "on a real swarm network 'front' could not be created with it; here 'ingress' takes 4097 instead"),
        new("SWARM0045", "4096 pinned with a declared ingress network", Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 4096 }\n  mesh: { driver: overlay, subnet: 10.2.0.0/24, ingress: true }"),
            7, 55, "here 'mesh' takes 4097 instead"),

        // ---- SWARM0042 underlay not on one link ----
        new("SWARM0042", "nodes on two subnets", Base.Replace("10.0.0.2/24", "10.0.2.2/24"), 5, 17, "are not on one subnet"),
    };

    public static IEnumerable<object[]> CaseData => Cases.Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(CaseData))]
    public void Reports_the_diagnostic_at_the_offending_node(Case c)
    {
        var result = TestInput.Compile(c.Yaml);
        var all = TestInput.Describe(result);
        var found = result.Diagnostics.Where(d => d.Id == c.Id).ToList();
        Assert.True(found.Count > 0, $"expected {c.Id} for '{c.Name}', got:\n{all}");
        var at = found.FirstOrDefault(d => d.Span.StartLine == c.Line && d.Span.StartColumn == c.Column);
        Assert.True(at is not null, $"expected {c.Id} at ({c.Line},{c.Column}) for '{c.Name}', got:\n{all}");
        Assert.Contains(c.MessageContains, at!.Message, StringComparison.Ordinal);
        Assert.Equal(TestInput.File, at.Span.File);
        var descriptor = DiagnosticDescriptors.All.Single(x => x.Id == c.Id);
        Assert.Equal(descriptor.Severity, at.Severity);
        // Every diagnostic, not only the expected one, is located.
        Assert.All(result.Diagnostics, d => Assert.True(d.Span.StartLine >= 1 && d.Span.StartColumn >= 1, d.ToString()));
        // Errors leave no model; warnings alone do.
        Assert.Equal(result.Diagnostics.Any(d => d.IsError), result.Topology is null);
    }

    [Fact]
    public void Every_diagnostic_of_the_catalogue_has_a_located_case()
    {
        var covered = Cases.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var missing = DiagnosticDescriptors.All.Select(d => d.Id)
            // The packet simulation reports these two (tests/Cli.Tests/ExpectCheckTests checks where); lowering, which knows each
            // host's devices, reports SWARM0044 (SysctlDeviceTests checks where).
            .Where(id => id != DiagnosticDescriptors.ExpectationFailed.Id && id != DiagnosticDescriptors.SysctlNotSimulated.Id
                && id != DiagnosticDescriptors.SysctlDeviceMissing.Id && !covered.Contains(id)).ToList();
        Assert.True(missing.Count == 0, "no failing input for: " + string.Join(", ", missing));
        Assert.All(Cases, c => Assert.Contains(DiagnosticDescriptors.All, d => d.Id == c.Id));
    }

    // SWARM0020 (ExpectationFailed) needs the packet engine, which this project does not reference: its located failing
    // inputs live in tests/Cli.Tests/ExpectCheckTests.cs and tests/Runtime.Tests/Insight.

    [Fact]
    public void Warnings_alone_still_give_a_topology()
    {
        var result = TestInput.Compile(Base.Replace("subnet: 10.1.0.0/24 }", "subnet: 10.1.0.0/24, vni: 256, mtu: 1500 }"));
        Assert.NotNull(result.Topology);
        Assert.Equal(new[] { "SWARM0013", "SWARM0018" }, result.Diagnostics.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.All(result.Diagnostics, d => Assert.Equal(Severity.Warning, d.Severity));
    }

    [Theory]
    // The ingress network's own VNI pinned (the example pins it to 4096), no ingress network at all, or another VNI.
    [InlineData("subnet: 10.1.0.0/24, vni: 4097 }\n  mesh: { driver: overlay, subnet: 10.2.0.0/24, ingress: true, vni: 4096 }")]
    [InlineData("subnet: 10.1.0.0/24, vni: 4096 }\n  mesh: { driver: overlay, subnet: 10.2.0.0/24, ingress: true, vni: 5000 }")]
    [InlineData("subnet: 10.1.0.0/24, vni: 4096 }")]
    [InlineData("subnet: 10.1.0.0/24, vni: 4097 }\n  mesh: { driver: overlay, subnet: 10.2.0.0/24, ingress: true }")]
    public void A_pinned_vni_that_leaves_ingress_its_own_is_not_reported(string network)
    {
        var result = TestInput.Compile(Base.Replace("subnet: 10.1.0.0/24 }", network));
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "SWARM0045");
        Assert.False(result.HasErrors, TestInput.Describe(result));
    }

    [Fact]
    public void Diagnostics_print_in_the_msbuild_canonical_form()
    {
        var result = TestInput.Compile(With("servcies: {}\n"));
        Assert.Equal("t.swarm.yaml(11,1): error SWARM0002: unknown key 'servcies' in the top level; did you mean 'services'?", result.Diagnostics.Single().ToString());
    }

    [Fact]
    public void Base_is_valid()
    {
        var result = TestInput.Compile(Base);
        Assert.False(result.HasErrors, TestInput.Describe(result));
        Assert.Empty(result.Diagnostics);
    }
}

/// <summary>One mistake gives one diagnostic: a misspelt or malformed required key is not also reported as missing.</summary>
public class OneMistakeOneDiagnosticTests
{
    private const string Base = """
        version: 1
        name: t
        nodes:
          a: { address: 10.0.0.1/24 }
        networks:
          front: { driver: overlay, subnet: 10.1.0.0/24 }
        services:
          web:
            networks: [front]
            ports: [{ published: 80, target: 80 }]
            tasks: [{ node: a }]

        """;

    [Theory]
    [InlineData("version: 1", "version: one", "SWARM0003")]
    [InlineData("version: 1", "verison: 1", "SWARM0002")]
    [InlineData("name: t", "nmae: t", "SWARM0002")]
    [InlineData("{ address: 10.0.0.1/24 }", "{ adress: 10.0.0.1/24 }", "SWARM0002")]
    [InlineData("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1 }", "SWARM0003")]
    [InlineData("driver: overlay", "driver: overlay2", "SWARM0003")]
    [InlineData("driver: overlay", "drvier: overlay", "SWARM0002")]
    [InlineData("subnet: 10.1.0.0/24", "subnt: 10.1.0.0/24", "SWARM0002")]
    [InlineData("networks: [front]", "netwroks: [front]", "SWARM0002")]
    [InlineData("published: 80", "publshed: 80", "SWARM0002")]
    [InlineData("target: 80", "taregt: 80", "SWARM0002")]
    [InlineData("{ node: a }", "{ nodes: a }", "SWARM0002")]
    public void A_single_mistake_is_reported_once(string find, string replace, string id)
    {
        var yaml = Base.Replace(find, replace);
        Assert.NotEqual(Base, yaml);
        var result = TestInput.Compile(yaml);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(id, d.Id);
    }
}

public class ByteOrderMarkTests
{
    [Fact]
    public void A_leading_bom_is_ignored_and_positions_stay_right()
    {
        var text = System.IO.File.ReadAllText(Paths.Example);
        var plain = TestInput.Compile(text);
        var bom = TestInput.Compile("\uFEFF" + text);
        Assert.Empty(bom.Diagnostics);
        Assert.Equal(plain.Topology, bom.Topology);
        var broken = TestInput.Compile("\uFEFFversion: 1\nname: t\nservcies: {}\n");
        var d = Assert.Single(broken.Diagnostics);
        Assert.Equal(("SWARM0002", 3, 1), (d.Id, d.Span.StartLine, d.Span.StartColumn));
    }
}

/// <summary>An entry whose key is not a plain name is reported as such; the mapping it stood in is not also "empty".</summary>
public class InvalidKeyIsNotAnAbsentEntryTests
{
    [Theory]
    [InlineData("nodes:\n  ? [a, b]\n  : {address: 10.0.0.1/24}\n", 4, 5, "a mapping key must be a plain name, not a list")]
    [InlineData("nodes:\n  ~: {address: 10.0.0.1/24}\n", 4, 3, "a mapping key must be a plain name, not null")]
    [InlineData("nodes: { a: { address: 10.0.0.1/24 } }\nnetworks:\n  ~: { driver: bridge, subnet: 10.1.0.0/16 }\n", 5, 3, "a mapping key must be a plain name, not null")]
    [InlineData("nodes: { a: { address: 10.0.0.1/24 } }\nservices:\n  ? { x: 1 }\n  : { networks: [] }\n", 5, 5, "a mapping key must be a plain name, not a mapping")]
    public void The_only_entry_with_a_bad_key_gives_one_diagnostic(string tail, int line, int column, string message)
    {
        var result = TestInput.Compile("version: 1\nname: t\n" + tail);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("SWARM0003", line, column), (d.Id, d.Span.StartLine, d.Span.StartColumn));
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_nodes_mapping_is_still_empty()
    {
        var result = TestInput.Compile("version: 1\nname: t\nnodes: {}\n");
        Assert.Equal("SWARM0005", Assert.Single(result.Diagnostics).Id);
    }
}

/// <summary>YAML 1.2 allows only printable characters in a stream (§5.1): anything else is one located SWARM0001, nothing compiled.</summary>
public class NonPrintableCharacterTests
{
    private const string Nodes = "version: 1\nname: t\nnodes:\n  a: {address: 10.0.0.1/24}\n";

    [Theory]
    [InlineData(Nodes + "  b\0: {address: 10.0.0.2/24}\n", 5, 4, "a NUL character is not allowed in YAML")]
    [InlineData("version: 1\nname: a\0b\nnodes:\n  a: {address: 10.0.0.1/24}\n", 2, 8, "a NUL character is not allowed in YAML")]
    [InlineData(Nodes + "# a comment \0 is no place either\n", 5, 13, "a NUL character is not allowed in YAML")]
    [InlineData(Nodes + "  b\u0007: {address: 10.0.0.2/24}\n", 5, 4, "the control character U+0007 is not allowed in YAML")]
    [InlineData(Nodes + "  b: {address: \"10.0.0.2/24\u001b\"}\n", 5, 28, "the control character U+001B is not allowed in YAML")]
    [InlineData(Nodes + "  b: {address: 10.0.0.2/24, hostname: \"h\u007f\"}\n", 5, 41, "U+007F is not allowed in YAML")]
    [InlineData(Nodes + "  b: {address: 10.0.0.2/24, hostname: \"h\u0090\"}\n", 5, 41, "U+0090 is not allowed in YAML")]
    [InlineData(Nodes + "  b: {address: 10.0.0.2/24, hostname: \"h\uFFFE\"}\n", 5, 41, "U+FFFE is not allowed in YAML")]
    // Located as YamlDotNet locates: lines end at a lone CR (and NEL), and a character beyond U+FFFF takes two columns.
    [InlineData("version: 1\rname: t\rnodes:\r  a: {address: 10.0.0.1/24}\r  b\u0007: {address: 10.0.0.2/24}\r", 5, 4, "U+0007 is not allowed in YAML")]
    [InlineData("version: 1\r\nname: t\u0085nodes:\n  a: {address: 10.0.0.1/24}\r\n  b\u0007: {address: 10.0.0.2/24}\n", 5, 4, "U+0007 is not allowed in YAML")]
    [InlineData(Nodes + "  b: {hostname: \"\U0001F600\", address: 10.0.0.2/24}\u0001\n", 5, 44, "U+0001 is not allowed in YAML")]
    public void A_character_yaml_forbids_is_a_located_error(string yaml, int line, int column, string message)
    {
        var result = TestInput.Compile(yaml);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("SWARM0001", line, column), (d.Id, d.Span.StartLine, d.Span.StartColumn));
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
        Assert.Null(result.Topology);
    }

    [Fact]
    public void A_lone_surrogate_is_a_located_error()
    {
        // Not in [InlineData]: attribute metadata cannot hold half a surrogate pair.
        A_character_yaml_forbids_is_a_located_error(Nodes + "  b: {address: 10.0.0.2/24, hostname: \"h\uD800\"}\n", 5, 41, "U+D800 is not allowed in YAML");
    }

    [Theory]
    [InlineData("name: \"t\"\t# a tab outside indentation\n")]
    [InlineData("name: t\r\n")]
    [InlineData("name: t # é ü — 😀 \u0085\n")]
    public void Printable_characters_are_accepted(string line)
    {
        var result = TestInput.Compile("version: 1\n" + line + "nodes:\n  a: {address: 10.0.0.1/24}\n");
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "SWARM0001");
    }
}
