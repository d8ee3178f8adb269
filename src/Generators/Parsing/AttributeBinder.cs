using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SwarmDsl.Collections;
using SwarmDsl.Diagnostics;
using SwarmDsl.Generators.Diagnostics;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Model;
using SwarmDsl.Syntax;
using SwarmDsl.Text;
using Catalog = SwarmDsl.Diagnostics.DiagnosticDescriptors;

namespace SwarmDsl.Generators.Parsing;

/// <summary>
/// The C# front end. It writes the attributes as the topology language's own syntax tree — the tree a YAML file with the
/// same content would give, every scalar located at its attribute argument — and hands it to the same
/// <see cref="YamlBinder"/> and <see cref="SwarmCompiler.Analyze"/> as the YAML front end. So both forms are validated by
/// the same code, with the same messages, and produce the same <see cref="Semantics.TopologyDeclaration"/> and model.
/// Only what YAML cannot express needs its own checks here: references from one attribute to another element
/// (<c>[Publish("web", ...)]</c> to <c>[Service("web")]</c>) and <c>"key=value"</c> strings.
/// </summary>
internal sealed class AttributeBinder
{
    private enum Shape { Value, KeyValues }

    private readonly record struct KeyMap(string Argument, string Key, Shape Shape = Shape.Value, string? Parent = null);

    // Argument (constructor parameter or property) → YAML key, per attribute. Names, the service/node references and
    // sysctls are structural and handled in code.
    private static readonly Dictionary<string, KeyMap[]> Maps = new(StringComparer.Ordinal)
    {
        ["Underlay"] = new KeyMap[] { new("Mtu", "mtu"), new("Subnet", "subnet"), new("DataPathPort", "dataPathPort") },
        ["Node"] = new KeyMap[]
        {
            new("address", "address"), new("Hostname", "hostname"), new("Role", "role"), new("Interface", "interface"),
            new("Labels", "labels", Shape.KeyValues),
        },
        ["BridgeNetwork"] = new KeyMap[] { new("subnet", "subnet"), new("Gateway", "gateway"), new("Icc", "icc"), new("Masquerade", "masquerade") },
        ["OverlayNetwork"] = new KeyMap[]
        {
            new("subnet", "subnet"), new("Gateway", "gateway"), new("Vni", "vni"), new("Mtu", "mtu"), new("Ingress", "ingress"),
            new("Attachable", "attachable"), new("LoadBalancerAddresses", "loadBalancerAddresses", Shape.KeyValues),
        },
        ["Service"] = new KeyMap[]
        {
            new("Image", "image"), new("Replicas", "replicas"), new("Mode", "mode"), new("Networks", "networks"), new("Vip", "vip"),
            new("Vips", "vip", Shape.KeyValues), new("EndpointMode", "endpointMode"), new("Scheduler", "scheduler", Parent: "loadBalancing"),
            new("PlacementNodes", "nodes", Parent: "placement"), new("Expose", "expose"),
        },
        ["Publish"] = new KeyMap[] { new("published", "published"), new("target", "target"), new("Protocol", "protocol"), new("Mode", "mode") },
        ["Task"] = new KeyMap[] { new("node", "node"), new("address", "address"), new("Weight", "weight"), new("Name", "name") },
        ["Rule"] = new KeyMap[]
        {
            new("Node", "node"), new("Namespace", "namespace"), new("Table", "table"), new("chain", "chain"), new("rule", "rule"),
            new("Position", "position"),
        },
        ["Expect"] = new KeyMap[] { new("from", "from"), new("to", "to"), new("Reaches", "reaches"), new("Blocked", "blocked") },
    };

    /// <summary>
    /// Every YAML key the attribute form writes, per element as <see cref="LanguageKeys.ByElement"/> names them (a test holds
    /// the two equal, so a key added to the language cannot be forgotten here).
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyCollection<string>> KeysByElement { get; } = BuildKeysByElement();

    private static IReadOnlyDictionary<string, IReadOnlyCollection<string>> BuildKeysByElement()
    {
        IReadOnlyCollection<string> Keys(string attribute, Func<KeyMap, bool> where, params string[] structural)
            => Maps[attribute].Where(where).Select(m => m.Parent ?? m.Key).Concat(structural).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToArray();
        IReadOnlyCollection<string> Nested(string attribute, string parent)
            => Maps[attribute].Where(m => m.Parent == parent).Select(m => m.Key).ToArray();
        bool All(KeyMap _) => true;
        return new Dictionary<string, IReadOnlyCollection<string>>(StringComparer.Ordinal)
        {
            // SwarmTopology writes version and name; the other top-level keys collect the element attributes.
            ["topology"] = new[] { "version", "name", "underlay", "nodes", "networks", "services", "tuning", "expect", "rules" },
            ["underlay"] = Keys("Underlay", All),
            ["node"] = Keys("Node", All, "sysctls"),
            ["network"] = Keys("BridgeNetwork", All, "driver").Union(Keys("OverlayNetwork", All, "driver")).ToArray(),
            ["service"] = Keys("Service", All, "ports", "tasks"),
            ["port"] = Keys("Publish", All),
            ["loadBalancing"] = Nested("Service", "loadBalancing"),
            ["task"] = Keys("Task", All),
            ["placement"] = Nested("Service", "placement"),
            ["tuning"] = new[] { "sysctls" },
            ["rule"] = Keys("Rule", All),
            ["expect"] = Keys("Expect", All),
        };
    }

    private readonly AttributeTopologyInput _input;
    private readonly DiagnosticBag _diagnostics = new();
    private readonly Dictionary<SourceSpan, LocationInfo> _locations = new();

    private AttributeBinder(AttributeTopologyInput input) => _input = input;

    /// <summary>Compiles one topology type. Never throws but for cancellation.</summary>
    public static TopologyResult Compile(AttributeTopologyInput input, CancellationToken cancellationToken)
    {
        try
        {
            if (input.Failure is { } failure) return new TopologyResult(input.Key, null, EquatableArray.Create(failure));
            if (input.NonPartialType is { } name)
            {
                var message = $"type '{name}' must be partial: the generator adds the topology's members to '{input.Target.SimpleName}'"
                    + (name == input.Target.SimpleName ? "" : $", which is nested in '{name}'");
                return new TopologyResult(input.Key, null, EquatableArray.Create(
                    new DiagnosticInfo(SwarmDiagnosticDescriptors.TypeNotPartial.Id, Severity.Error, message, input.TypeLocation)));
            }
            if (input.FileLocalType is { } local)
                return new TopologyResult(input.Key, null, EquatableArray.Create(new DiagnosticInfo(SwarmDiagnosticDescriptors.FileLocalType.Id, Severity.Error,
                    $"type '{local}' is file-local: the generator adds the topology's members in a file of its own, where it cannot be named (it would declare another '{input.Target.SimpleName}'); remove 'file'",
                    input.TypeLocation)));
            if (Identifiers.ReservedClassName(input.Target.SimpleName, "rename the type") is { } reserved)
                return new TopologyResult(input.Key, null, EquatableArray.Create(
                    new DiagnosticInfo(SwarmDiagnosticDescriptors.ReservedClassName.Id, Severity.Error, reserved, input.TypeLocation)));
            if (input.HasInvalidArguments) return new TopologyResult(input.Key, null, EquatableArray<DiagnosticInfo>.Empty);

            var binder = new AttributeBinder(input);
            var root = binder.BuildTree();
            cancellationToken.ThrowIfCancellationRequested();
            var declaration = YamlBinder.Bind(input.FilePath, root, binder._diagnostics);
            var result = SwarmCompiler.Lower(SwarmCompiler.Analyze(declaration, binder._diagnostics));
            var diagnostics = result.Diagnostics.Select(d => new DiagnosticInfo(d.Id, d.Severity, d.Message, binder.Locate(d.Span))).ToEquatableArray();
            var spec = result.Topology is { } topology && result.Plan is { } plan && !result.HasErrors
                ? new TopologySpec(input.Target, TopologyOrigin.Attributes, Identifiers.FileName(input.FilePath), topology, plan)
                : null;
            return new TopologyResult(input.Key, spec, diagnostics,
                spec is null ? default : spec.Topology.Expectations.SelectMany(x => new[] { binder.Locate(x.Span), binder.Locate(x.FromSpan), binder.Locate(x.ToSpan) }).ToEquatableArray());
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            return new TopologyResult(input.Key, null, EquatableArray.Create(DiagnosticMapping.InternalError(ex, "compiling " + input.Target.FullName, input.TypeLocation)));
        }
    }

    private LocationInfo Locate(SourceSpan span) => _locations.TryGetValue(span, out var l) ? l : _input.TypeLocation;

    private SourceSpan Span(LocationInfo location)
    {
        var span = location.ToSourceSpan();
        if (!_locations.ContainsKey(span)) _locations[span] = location;
        return span;
    }

    private void Report(DiagnosticDescriptor descriptor, LocationInfo at, string message) => _diagnostics.Report(descriptor, Span(at), message);

    // ---- the tree -------------------------------------------------------------------------------------------------

    private sealed class MappingBuilder
    {
        private readonly AttributeBinder _owner;
        private readonly LocationInfo _location;
        private readonly List<YamlEntry> _entries = new();
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

        public MappingBuilder(AttributeBinder owner, LocationInfo location)
        {
            _owner = owner;
            _location = location;
        }

        public bool IsEmpty => _entries.Count == 0;

        public LocationInfo Location => _location;

        /// <summary>Adds <c>key: value</c>; a key written twice is SWARM0004, as in YAML.</summary>
        public void Add(YamlScalar key, YamlNode value, LocationInfo keyLocation, string duplicateMessage)
        {
            if (_index.ContainsKey(key.Value))
            {
                _owner.Report(Catalog.DuplicateKey, keyLocation, duplicateMessage);
                return;
            }
            _index[key.Value] = _entries.Count;
            _entries.Add(new YamlEntry(key, value));
        }

        public void Add(string key, LocationInfo keyLocation, YamlNode value)
            => Add(new YamlScalar(key, true, _owner.Span(keyLocation)), value, keyLocation, $"'{key}' is given twice");

        public YamlMapping Build() => new(_entries.ToArray(), _owner.Span(_location));
    }

    private YamlNode BuildTree()
    {
        var attributes = _input.Attributes;
        var topology = attributes.First(a => a.Kind == "SwarmTopology");
        var root = new MappingBuilder(this, topology.Location);

        var version = topology.Find("Version");
        root.Add("version", version?.NameLocation ?? topology.NameLocation,
            version is null ? new YamlScalar("1", true, Span(topology.NameLocation)) : Scalar(version.Value));
        if (topology.Find("name") is { } name) root.Add("name", name.NameLocation, Scalar(name.Value));

        foreach (var underlay in attributes.Where(a => a.Kind == "Underlay"))
            root.Add("underlay", underlay.NameLocation, Element(underlay).Build());

        // Elements by name, in declaration order; the builders stay open so ports, tasks and sysctls can join them.
        var nodes = new MappingBuilder(this, topology.Location);
        var nodeElements = Named(attributes.Where(a => a.Kind == "Node"), "node", nodes);
        var networks = new MappingBuilder(this, topology.Location);
        Named(attributes.Where(a => a.Kind is "BridgeNetwork" or "OverlayNetwork"), "network", networks);
        var services = new MappingBuilder(this, topology.Location);
        var serviceElements = Named(attributes.Where(a => a.Kind == "Service"), "service", services);

        var ports = new Dictionary<string, List<YamlNode>>(StringComparer.Ordinal);
        var tasks = new Dictionary<string, List<YamlNode>>(StringComparer.Ordinal);
        foreach (var a in attributes.Where(a => a.Kind is "Publish" or "Task"))
        {
            var service = Reference(a, "service", "service", serviceElements.InOrder.Select(e => e.Key.Value));
            if (service is null) continue;
            var into = a.Kind == "Publish" ? ports : tasks;
            if (!into.TryGetValue(service, out var list)) into[service] = list = new List<YamlNode>();
            list.Add(Element(a).Build());
        }
        foreach (var service in serviceElements.InOrder)
        {
            if (ports.TryGetValue(service.Key.Value, out var p)) service.Add("ports", service.Location, new YamlSequence(p, Span(service.Location)));
            if (tasks.TryGetValue(service.Key.Value, out var t)) service.Add("tasks", service.Location, new YamlSequence(t, Span(service.Location)));
        }

        var clusterSysctls = new MappingBuilder(this, topology.Location);
        var nodeSysctls = new Dictionary<string, MappingBuilder>(StringComparer.Ordinal);
        foreach (var a in attributes.Where(a => a.Kind == "Sysctl"))
        {
            var target = clusterSysctls;
            if (a.Find("Node") is not null)
            {
                var node = Reference(a, "Node", "node", nodeElements.InOrder.Select(e => e.Key.Value));
                if (node is null) continue;
                if (!nodeSysctls.TryGetValue(node, out target)) nodeSysctls[node] = target = new MappingBuilder(this, a.Location);
            }
            if (a.Find("key") is not { } key || a.Find("value") is not { } value) continue;
            if (key.Value.Kind != AttributeValueKind.String)
            {
                Report(Catalog.WrongType, key.Value.Location, "expected a sysctl key such as net.core.rmem_max, not " + Describe(key.Value));
                continue;
            }
            target.Add(new YamlScalar(key.Value.Text!, false, Span(key.Value.Location)), Scalar(value.Value), key.Value.Location,
                $"sysctl '{key.Value.Text}' is set twice" + (target == clusterSysctls ? "" : " on this node"));
        }
        foreach (var node in nodeElements.InOrder)
            if (nodeSysctls.TryGetValue(node.Key.Value, out var sysctls)) node.Add("sysctls", sysctls.Location, sysctls.Build());

        foreach (var node in nodeElements.InOrder) nodes.Add(node.Key, node.Build(), node.KeyLocation, "");
        foreach (var service in serviceElements.InOrder) services.Add(service.Key, service.Build(), service.KeyLocation, "");
        if (!nodes.IsEmpty) root.Add("nodes", topology.NameLocation, nodes.Build());
        if (!networks.IsEmpty) root.Add("networks", topology.NameLocation, networks.Build());
        if (!services.IsEmpty) root.Add("services", topology.NameLocation, services.Build());
        if (!clusterSysctls.IsEmpty)
        {
            var tuning = new MappingBuilder(this, topology.Location);
            tuning.Add("sysctls", topology.NameLocation, clusterSysctls.Build());
            root.Add("tuning", topology.NameLocation, tuning.Build());
        }
        var rules = attributes.Where(a => a.Kind == "Rule").Select(a => (YamlNode)Element(a).Build()).ToList();
        if (rules.Count > 0) root.Add("rules", topology.NameLocation, new YamlSequence(rules, Span(topology.Location)));
        var expectations = attributes.Where(a => a.Kind == "Expect").Select(a => (YamlNode)Element(a).Build()).ToList();
        if (expectations.Count > 0) root.Add("expect", topology.NameLocation, new YamlSequence(expectations, Span(topology.Location)));
        return root.Build();
    }

    /// <summary>A named element still being built (a node, a service), with the key it will be written under.</summary>
    private sealed class NamedElement
    {
        public NamedElement(YamlScalar key, LocationInfo keyLocation, LocationInfo location, MappingBuilder body)
        {
            Key = key;
            KeyLocation = keyLocation;
            Location = location;
            Body = body;
        }

        public YamlScalar Key { get; }
        public LocationInfo KeyLocation { get; }
        public LocationInfo Location { get; }
        public MappingBuilder Body { get; }

        public void Add(string key, LocationInfo at, YamlNode value) => Body.Add(key, at, value);

        public YamlMapping Build() => Body.Build();
    }

    /// <summary>Named elements (nodes, services) in declaration order, still open for ports, tasks and sysctls.</summary>
    private sealed class ElementSet
    {
        public List<NamedElement> InOrder { get; } = new();
        public Dictionary<string, NamedElement> ByName { get; } = new(StringComparer.Ordinal);
    }

    // Nodes and services stay open (returned) for ports, tasks and sysctls; networks are complete and go straight into
    // their mapping. A name declared twice is SWARM0004, as a repeated YAML key is.
    private ElementSet Named(IEnumerable<AttributeSpec> attributes, string what, MappingBuilder into)
    {
        var result = new ElementSet();
        foreach (var a in attributes)
        {
            if (a.Find("name") is not { } name) continue;
            if (name.Value.Kind != AttributeValueKind.String)
            {
                Report(Catalog.WrongType, name.Value.Location, $"expected a {what} name, not {Describe(name.Value)}");
                continue;
            }
            var key = new YamlScalar(name.Value.Text!, false, Span(name.Value.Location));
            var body = Element(a);
            var duplicate = $"{what} '{name.Value.Text}' is declared twice";
            if (a.Kind is "BridgeNetwork" or "OverlayNetwork")
            {
                body.Add("driver", a.NameLocation, new YamlScalar(a.Kind == "BridgeNetwork" ? "bridge" : "overlay", true, Span(a.NameLocation)));
                into.Add(key, body.Build(), name.Value.Location, duplicate);
                continue;
            }
            if (result.ByName.ContainsKey(key.Value))
            {
                Report(Catalog.DuplicateKey, name.Value.Location, duplicate);
                continue;
            }
            var element = new NamedElement(key, name.Value.Location, a.Location, body);
            result.ByName[key.Value] = element;
            result.InOrder.Add(element);
        }
        return result;
    }

    /// <summary>The mapping of one attribute's arguments (the element's keys), in the order the language lists them.</summary>
    private MappingBuilder Element(AttributeSpec attribute)
    {
        var body = new MappingBuilder(this, attribute.Location);
        if (!Maps.TryGetValue(attribute.Kind, out var maps)) return body;
        // Keys under a sub-mapping (loadBalancing.scheduler, placement.nodes) are gathered first and added after the others.
        var nested = new List<(string Parent, LocationInfo At, MappingBuilder Body)>();
        foreach (var map in maps)
        {
            if (attribute.Find(map.Argument) is not { } arg) continue;
            var value = map.Shape == Shape.KeyValues ? KeyValues(arg.Value, attribute.Kind, map.Argument) : Scalar(arg.Value);
            if (map.Parent is null)
            {
                body.Add(map.Key, arg.NameLocation, value);
                continue;
            }
            var index = nested.FindIndex(n => n.Parent == map.Parent);
            if (index < 0)
            {
                nested.Add((map.Parent, arg.NameLocation, new MappingBuilder(this, arg.NameLocation)));
                index = nested.Count - 1;
            }
            nested[index].Body.Add(map.Key, arg.NameLocation, value);
        }
        foreach (var (parent, at, nestedBody) in nested) body.Add(parent, at, nestedBody.Build());
        return body;
    }

    private string? Reference(AttributeSpec attribute, string argument, string what, IEnumerable<string> declared)
    {
        if (attribute.Find(argument) is not { } arg) return null;
        if (arg.Value.Kind != AttributeValueKind.String)
        {
            Report(Catalog.WrongType, arg.Value.Location, $"expected a {what} name, not {Describe(arg.Value)}");
            return null;
        }
        var name = arg.Value.Text!;
        var known = declared.ToList();
        if (known.Contains(name)) return name;
        var near = LanguageKeys.Nearest(name, known);
        Report(Catalog.UnknownReference, arg.Value.Location, $"[{attribute.Kind}] names {what} '{name}', which no [{(what == "node" ? "Node" : "Service")}] declares"
            + (near is not null ? $"; did you mean '{near}'?" : known.Count > 0 ? $"; declared {what}s: {string.Join(", ", known)}" : ""));
        return null;
    }

    /// <summary>A value as the YAML scalar (or list) it stands for: strings quoted, numbers, booleans and enum words plain.</summary>
    private YamlNode Scalar(AttributeValue value)
    {
        var span = Span(value.Location);
        return value.Kind switch
        {
            AttributeValueKind.Null => new YamlScalar("", true, span),
            AttributeValueKind.String => new YamlScalar(value.Text ?? "", false, span),
            AttributeValueKind.Enum => new YamlScalar((value.Text ?? "").ToLowerInvariant(), true, span),
            AttributeValueKind.Array => new YamlSequence(value.Items.Select(Scalar).ToArray(), span),
            _ => new YamlScalar(value.Text ?? "", true, span),
        };
    }

    /// <summary><c>["manager=10.255.0.2", ...]</c> as the mapping <c>{manager: 10.255.0.2, ...}</c>, each part located in its literal.</summary>
    private YamlNode KeyValues(AttributeValue value, string kind, string argument)
    {
        // An example of this argument's own pairs: a label, a network's VIP, a node's load-balancer address.
        var example = argument switch
        {
            "Labels" => "\"zone=east\"",
            "Vips" => "\"front=10.0.1.5\"",
            _ => "\"manager=10.255.0.2\"",
        };
        if (value.Kind != AttributeValueKind.Array) return Scalar(value);
        var mapping = new MappingBuilder(this, value.Location);
        foreach (var item in value.Items)
        {
            var text = item.Text;
            var eq = text?.IndexOf('=') ?? -1;
            if (item.Kind != AttributeValueKind.String || text is null || eq <= 0)
            {
                Report(Catalog.WrongType, item.Location, $"expected \"key=value\" (e.g. {example}), not {Describe(item)}");
                continue;
            }
            var keyLocation = item.LiteralOffset >= 0 ? item.Location.Slice(item.LiteralOffset, eq) : item.Location;
            var valueLocation = item.LiteralOffset >= 0 ? item.Location.Slice(item.LiteralOffset + eq + 1, text.Length - eq - 1) : item.Location;
            var key = text.Substring(0, eq);
            mapping.Add(new YamlScalar(key, false, Span(keyLocation)), new YamlScalar(text.Substring(eq + 1), false, Span(valueLocation)), keyLocation,
                $"'{key}' is given twice in this [{kind}] list");
        }
        return mapping.Build();
    }

    private static string Describe(AttributeValue value) => value.Kind switch
    {
        AttributeValueKind.Null => "null",
        AttributeValueKind.Array => "an array",
        AttributeValueKind.String => "\"" + value.Text + "\"",
        _ => value.Text ?? "",
    };
}
