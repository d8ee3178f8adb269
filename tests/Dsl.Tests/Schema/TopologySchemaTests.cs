using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using Json.Schema;
using SwarmDsl.Net;
using SwarmDsl.Semantics;
using SwarmDsl.Syntax;

namespace SwarmDsl.Tests.Schema;

/// <summary>
/// schema/swarm-topology.schema.json is what editors (yaml-language-server) check while users type. These tests prove it accepts
/// the example, refuses what the compiler refuses, and declares exactly the keys the compiler knows (no drift either way).
/// </summary>
public class TopologySchemaTests
{
    private static readonly string SchemaPath = Path.Combine(Paths.Root, "schema", "swarm-topology.schema.json");
    private static readonly JsonObject SchemaJson = (JsonObject)JsonNode.Parse(File.ReadAllText(SchemaPath))!;
    private static readonly JsonSchema Schema = JsonSchema.FromText(File.ReadAllText(SchemaPath));

    private static EvaluationResults Evaluate(string yaml) =>
        Schema.Evaluate(TestInput.YamlToJson(yaml), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static string Errors(EvaluationResults r) => string.Join("\n",
        (r.Details ?? Array.Empty<EvaluationResults>()).Concat(new[] { r })
            .Where(d => d.Errors is not null)
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));

    [Fact]
    public void Schema_is_a_valid_draft_07_schema()
    {
        Assert.Equal("http://json-schema.org/draft-07/schema#", (string?)SchemaJson["$schema"]);
        var meta = MetaSchemas.Draft7.Evaluate(SchemaJson, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(meta.IsValid, Errors(meta));
    }

    [Fact]
    public void Example_validates()
    {
        var r = Evaluate(File.ReadAllText(Paths.Example));
        Assert.True(r.IsValid, Errors(r));
    }

    [Fact]
    public void Three_node_topology_validates()
    {
        var r = Evaluate(File.ReadAllText(TestInput.ThreeNodePath));
        Assert.True(r.IsValid, Errors(r));
    }

    [Fact]
    public void The_example_points_editors_at_this_schema()
    {
        var first = File.ReadLines(Paths.Example).First();
        Assert.Equal("# yaml-language-server: $schema=../schema/swarm-topology.schema.json", first);
    }

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

        """;

    /// <summary>Documents an editor must flag; the compiler must refuse each of them too.</summary>
    public static TheoryData<string, string> Invalid => new()
    {
        { "unknown top-level key", Base + "servics: {}\n" },
        { "misspelt node key", Base.Replace("{ address: 10.0.0.1/24 }", "{ adress: 10.0.0.1/24 }") },
        { "missing version", Base.Replace("version: 1\n", "") },
        { "version 2", Base.Replace("version: 1", "version: 2") },
        { "upper-case service name", Base.Replace("  web:", "  Web:") },
        { "name too long", Base.Replace("  web:", "  " + new string('w', 33) + ":") },
        { "bad role", Base.Replace("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1/24, role: boss }") },
        { "address without prefix", Base.Replace("10.0.0.1/24", "10.0.0.1") },
        { "loopback node address", Base.Replace("10.0.0.1/24", "127.0.0.5/8") },
        { "multicast node address", Base.Replace("10.0.0.1/24", "224.1.1.1/24") },
        { "class E node address", Base.Replace("10.0.0.1/24", "240.0.0.1/24") },
        { "node address in 0.0.0.0/8", Base.Replace("10.0.0.1/24", "0.0.0.5/8") },
        { "limited broadcast node address", Base.Replace("10.0.0.1/24", "255.255.255.255/32") },
        { "address with leading zero", Base.Replace("10.0.0.1/24", "10.0.0.01/24") },
        { "subnet as a number", Base.Replace("subnet: 10.1.0.0/24", "subnet: 10") },
        { "vni out of range", Base.Replace("subnet: 10.1.0.0/24", "subnet: 10.1.0.0/24, vni: 16777216") },
        { "icc on an overlay", Base.Replace("subnet: 10.1.0.0/24", "subnet: 10.1.0.0/24, icc: false") },
        { "vni on a bridge", Base.Replace("driver: overlay, subnet: 10.1.0.0/24", "driver: bridge, subnet: 10.1.0.0/24, vni: 5000") },
        { "unknown driver", Base.Replace("driver: overlay", "driver: macvlan") },
        { "replicas on a global service", Base + "    mode: global\n    replicas: 2\n" },
        { "vip with dnsrr", Base + "    endpointMode: dnsrr\n    vip: 10.1.0.9\n" },
        { "vip map with a bad address", Base + "    vip: { front: 10.1.0.300 }\n" },
        { "port without target", Base + "    ports: [{ published: 80 }]\n" },
        { "port 70000", Base + "    ports: [{ published: 70000, target: 80 }]\n" },
        { "icmp port", Base + "    ports: [{ published: 80, target: 80, protocol: icmp }]\n" },
        { "unknown scheduler", Base + "    loadBalancing: { scheduler: fifo }\n" },
        { "networks as a string", Base.Replace("networks: [front]", "networks: front") },
        { "task name with a capital", Base + "    tasks: [{ node: a, name: Web.1 }]\n" },
        { "sysctl key without a dot", Base + "tuning: { sysctls: { somaxconn: 1024 } }\n" },
        { "sysctl key outside net.", Base + "tuning: { sysctls: { kernel.modprobe: /tmp/evil } }\n" },
        { "sysctl value with a dollar", Base + "tuning: { sysctls: { net.core.somaxconn: \"$(id)\" } }\n" },
        { "rule without chain", Base + "rules: [{ rule: -j ACCEPT }]\n" },
        { "rule chain with a space", Base + "rules: [{ chain: A B, rule: -j ACCEPT }]\n" },
        { "expect both reaches and blocked", Base + "expect: [{ from: external, to: web, reaches: web, blocked: true }]\n" },
        { "expect neither reaches nor blocked", Base + "expect: [{ from: external, to: web }]\n" },
        { "interface too long", Base.Replace("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1/24, interface: averyveryverylongname0 }") },
        { "interface with '@'", Base.Replace("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1/24, interface: \"a@b\" }") },
        { "interface with a leading '-'", Base.Replace("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1/24, interface: \"-eth0\" }") },
        { "interface lo", Base.Replace("{ address: 10.0.0.1/24 }", "{ address: 10.0.0.1/24, interface: lo }") },
        { "empty nodes", Base.Replace("nodes:\n  a: { address: 10.0.0.1/24 }\n", "nodes: {}\n") },
        { "dataPathPort below 1024", Base + "underlay: { dataPathPort: 80 }\n" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_documents_fail_in_the_editor_and_the_compiler(string why, string yaml)
    {
        var r = Evaluate(yaml);
        Assert.False(r.IsValid, $"the schema accepted a document with {why}");
        var c = TestInput.Compile(yaml);
        Assert.True(c.HasErrors, $"the compiler accepted a document with {why}:\n{TestInput.Describe(c)}");
    }

    [Fact]
    public void The_base_of_the_invalid_documents_is_valid()
    {
        var r = Evaluate(Base);
        Assert.True(r.IsValid, Errors(r));
        var c = TestInput.Compile(Base);
        Assert.False(c.HasErrors, TestInput.Describe(c));
    }

    // ---- no drift ------------------------------------------------------------------------------------------------

    /// <summary>The schema object that describes <paramref name="element"/> (an element name of LanguageKeys.ByElement).</summary>
    private static JsonObject ElementSchema(string element) => element == "topology"
        ? SchemaJson
        : (JsonObject)(SchemaJson["definitions"]?[element] ?? throw new Xunit.Sdk.XunitException($"the schema has no definitions/{element}"));

    private static SortedSet<string> PropertyNames(JsonObject schema) =>
        new(((JsonObject?)schema["properties"])?.Select(p => p.Key) ?? Enumerable.Empty<string>(), StringComparer.Ordinal);

    [Fact]
    public void Every_element_declares_exactly_the_keys_the_compiler_knows()
    {
        foreach (var (element, keys) in LanguageKeys.ByElement)
        {
            var schema = ElementSchema(element);
            var inSchema = PropertyNames(schema);
            var inCompiler = new SortedSet<string>(keys, StringComparer.Ordinal);
            Assert.True(inSchema.SetEquals(inCompiler),
                $"element '{element}': only in the schema: [{string.Join(", ", inSchema.Except(inCompiler))}]; only in LanguageKeys: [{string.Join(", ", inCompiler.Except(inSchema))}]");
            Assert.False(schema["additionalProperties"]?.GetValue<bool>() ?? true, $"element '{element}' must set additionalProperties: false");
        }
    }

    [Fact]
    public void Every_keyed_element_of_the_schema_is_known_to_the_compiler()
    {
        // The other direction: an object element in the schema that LanguageKeys does not list would never be drift-checked.
        var elements = ((JsonObject)SchemaJson["definitions"]!)
            .Where(d => d.Value is JsonObject o && o["properties"] is not null)
            .Select(d => d.Key)
            .Append("topology")
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(LanguageKeys.ByElement.Keys.OrderBy(k => k, StringComparer.Ordinal), elements.OrderBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public void Driver_specific_keys_match_the_binder()
    {
        static SortedSet<string> Forbidden(JsonObject network, string driver)
        {
            var branch = ((JsonArray)network["allOf"]!).OfType<JsonObject>()
                .Single(b => (string?)b["if"]?["properties"]?["driver"]?["const"] == driver);
            var props = (JsonObject)branch["then"]!["properties"]!;
            Assert.All(props, p => Assert.False(p.Value!.GetValue<bool>()));
            return new SortedSet<string>(props.Select(p => p.Key), StringComparer.Ordinal);
        }
        var network = ElementSchema("network");
        Assert.Equal(LanguageKeys.OverlayOnly.OrderBy(k => k, StringComparer.Ordinal), Forbidden(network, "bridge"));
        Assert.Equal(LanguageKeys.BridgeOnly.OrderBy(k => k, StringComparer.Ordinal), Forbidden(network, "overlay"));
    }

    private static string[] EnumOf(params string[] path)
    {
        JsonNode node = SchemaJson;
        foreach (var p in path) node = node[p] ?? throw new Xunit.Sdk.XunitException("no " + string.Join("/", path));
        return ((JsonArray)node["enum"]!).Select(v => (string)v!).ToArray();
    }

    private static string[] Words<T>() where T : struct, Enum => Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();

    [Fact]
    public void Enums_match_the_model()
    {
        Assert.Equal(Words<NodeRole>().Order(), EnumOf("definitions", "node", "properties", "role").Order());
        Assert.Equal(Words<NetworkDriver>().Order(), EnumOf("definitions", "network", "properties", "driver").Order());
        Assert.Equal(Words<ServiceMode>().Order(), EnumOf("definitions", "service", "properties", "mode").Order());
        Assert.Equal(Words<EndpointMode>().Order(), EnumOf("definitions", "service", "properties", "endpointMode").Order());
        Assert.Equal(Words<PublishMode>().Order(), EnumOf("definitions", "port", "properties", "mode").Order());
        Assert.Equal(Words<Scheduler>().Order(), EnumOf("definitions", "loadBalancing", "properties", "scheduler").Order());
        Assert.Equal(Words<RulePosition>().Order(), EnumOf("definitions", "rule", "properties", "position").Order());
        // Ports carry tcp, udp and sctp; icmp is a protocol of traces, not of published ports.
        Assert.Equal(new[] { "sctp", "tcp", "udp" }, EnumOf("definitions", "port", "properties", "protocol").Order());
    }

    [Fact]
    public void Every_enum_word_of_the_schema_is_accepted_by_the_compiler()
    {
        // One document per word, through the real compiler: the schema never offers a value the binder refuses.
        foreach (var role in EnumOf("definitions", "node", "properties", "role"))
            AssertCompiles(Base.Replace("{ address: 10.0.0.1/24 }", $"{{ address: 10.0.0.1/24, role: {role} }}"));
        foreach (var s in EnumOf("definitions", "loadBalancing", "properties", "scheduler"))
            AssertCompiles(Base + $"    loadBalancing: {{ scheduler: {s} }}\n");
        foreach (var p in EnumOf("definitions", "port", "properties", "protocol"))
            AssertCompiles(Base + $"    ports: [{{ published: 80, target: 80, protocol: {p} }}]\n");
        foreach (var m in EnumOf("definitions", "port", "properties", "mode"))
            AssertCompiles(Base + $"    ports: [{{ published: 80, target: 80, mode: {m} }}]\n");
        foreach (var m in EnumOf("definitions", "service", "properties", "mode"))
            AssertCompiles(Base + $"    mode: {m}\n");
        foreach (var m in EnumOf("definitions", "service", "properties", "endpointMode"))
            AssertCompiles(Base + $"    endpointMode: {m}\n");
        foreach (var t in EnumOf("definitions", "rule", "properties", "table"))
            foreach (var pos in EnumOf("definitions", "rule", "properties", "position"))
                AssertCompiles(Base + $"rules: [{{ table: {t}, chain: DOCKER-USER, rule: -j RETURN, position: {pos} }}]\n");

        static void AssertCompiles(string yaml)
        {
            var c = TestInput.Compile(yaml);
            Assert.False(c.HasErrors, yaml + "\n" + TestInput.Describe(c));
        }
    }
}
