using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Emit;
using SwarmDsl.Generators.Model;
using SwarmDsl.Net;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// Writes the C# of one topology: typed handles for every element of the analyzed model (nodes, networks, services, VIPs,
/// published ports, addresses, namespaces, tasks, load balancers, sysctls, rules, expectations) and the model dump, each
/// member documented and commented with the place it was declared. A pure function of <see cref="TopologySpec"/>: it never
/// sees the compilation, and its output depends on nothing else (ordinal, invariant, in model order).
/// </summary>
internal sealed partial class TopologyEmitter
{
    /// <summary>The generator's name and version for <c>[GeneratedCode]</c>.</summary>
    public static readonly string GeneratedCodeAttribute = string.Format(CultureInfo.InvariantCulture,
        "[global::System.CodeDom.Compiler.GeneratedCode(\"SwarmDsl.Generators\", \"{0}\")]",
        typeof(TopologyEmitter).Assembly.GetName().Version?.ToString() ?? "0.0.0.0");

    private const string Ns = "global::SwarmDsl.";
    private const string ReadOnlyList = "global::System.Collections.Generic.IReadOnlyList";

    private readonly TopologySpec _spec;
    private readonly Topology _t;
    private readonly SourceWriter _w;
    private readonly int _elements;
    private readonly bool _embedProvisioning;
    private readonly bool _embedDumps;
    // Above the size limit the large handle groups are written as data tables (TopologyEmitter.Compact.cs).
    private readonly bool _fullHandles;

    // Model name → generated member name, per handle class.
    private readonly Dictionary<string, string> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Service, string Network), string> _vips = new();
    private readonly Dictionary<PortModel, string> _ports = new();
    private readonly Dictionary<EndpointModel, string> _addresses = new();
    private readonly Dictionary<(string Node, string Namespace), string> _namespaces = new();

    /// <summary>The plan's size (<see cref="PlanSize.Elements"/>), counted once per emit.</summary>
    internal int Elements => _elements;

    private TopologyEmitter(TopologySpec spec, EmitSettings settings, System.Threading.CancellationToken cancellation)
    {
        _w = new SourceWriter(cancellation);
        _spec = spec;
        _t = spec.Topology;
        _elements = PlanSize.Elements(spec.Plan);
        _embedProvisioning = PlanSize.Embeds(settings.Provisioning, _elements);
        _embedDumps = PlanSize.Embeds(settings.Dumps, _elements);
        _fullHandles = PlanSize.Embeds(settings.Handles, _elements);
    }

    /// <summary>The hint name of <paramref name="spec"/>'s source.</summary>
    public static string HintNameOf(TopologySpec spec)
        => Identifiers.HintName(spec.Target.FullName, spec.Origin == TopologyOrigin.Yaml ? ".swarm.g.cs" : ".g.cs");

    /// <summary>The generated source of <paramref name="spec"/>.</summary>
    public static GeneratedSource Emit(TopologySpec spec) => Emit(spec, EmitSettings.Default, out _);

    /// <summary>
    /// The generated source of <paramref name="spec"/> under <paramref name="settings"/>; <paramref name="note"/> says what
    /// was left out when the size cap (<see cref="EmbedMode.Auto"/>) skipped text constants, else null.
    /// </summary>
    public static GeneratedSource Emit(TopologySpec spec, EmitSettings settings, out DiagnosticInfo? note)
        => Emit(spec, settings, out note, default);

    /// <summary>As <see cref="Emit(TopologySpec, EmitSettings, out DiagnosticInfo?)"/>, stopping soon after <paramref name="cancellation"/> is cancelled.</summary>
    public static GeneratedSource Emit(TopologySpec spec, EmitSettings settings, out DiagnosticInfo? note, System.Threading.CancellationToken cancellation)
    {
        var emitter = new TopologyEmitter(spec, settings, cancellation);
        var source = new GeneratedSource(HintNameOf(spec), emitter.Write());
        note = emitter.SkippedNote(settings);
        return source;
    }

    // Only the automatic cap speaks up: an explicit false is the user's own choice.
    private DiagnosticInfo? SkippedNote(EmitSettings settings)
    {
        var skipped = new List<string>();
        if (!_embedProvisioning && settings.Provisioning == EmbedMode.Auto) skipped.Add("the provisioning files (SwarmDslEmbedProvisioning)");
        if (!_embedDumps && settings.Dumps == EmbedMode.Auto) skipped.Add("ModelDump and PlanDump (SwarmDslEmbedDumps)");
        if (!_fullHandles && settings.Handles == EmbedMode.Auto) skipped.Add("the documented member of every address and load balancer (SwarmDslFullHandles: they are in Addresses.All and LoadBalancers.All)");
        if (settings.RuntimeReferenced && settings.Pipeline == EmbedMode.Auto && !PipelineEmitter.ShouldEmit(_spec, settings))
            skipped.Add("the compiled pipeline (SwarmDslCompilePipeline, or SwarmDslPipelineNodes on the file for some nodes)");
        if (skipped.Count == 0) return null;
        var message = string.Format(CultureInfo.InvariantCulture,
            "'{0}' has {1} dataplane elements, above the automatic limit of {2}: {3} are not embedded in class '{4}'; set the MSBuild property to true to embed them, or to false to silence this",
            _spec.SourceName, _elements, PlanSize.AutoEmbedLimit, string.Join(" and ", skipped), _spec.Target.FullName);
        return new DiagnosticInfo(Diagnostics.SwarmDiagnosticDescriptors.NotEmbedded.Id, SwarmDsl.Diagnostics.Severity.Info, message, null);
    }

    private string Write()
    {
        var target = _spec.Target;
        _w.WriteLine("// <auto-generated/>");
        _w.WriteLine($"// Generated by SwarmDsl.Generators from {Comment(_spec.SourceName)}: change the topology, not this file.");
        _w.WriteLine("#nullable enable");
        _w.WriteLine();
        var scopes = new List<SourceWriter.BlockScope>();
        if (target.Namespace.Length > 0) scopes.Add(_w.Block("namespace " + target.Namespace));
        for (int i = 0; i < target.Types.Count; i++)
        {
            var type = target.Types[i];
            bool innermost = i == target.Types.Count - 1;
            if (innermost && target.IsGeneratedType)
            {
                WriteTypeDocs();
                _w.WriteLine(GeneratedCodeAttribute);
                scopes.Add(_w.Block($"internal static partial class {type.Name}"));
            }
            else scopes.Add(_w.Block($"partial {type.Keyword} {type.Name}"));
        }
        WriteMembers();
        for (int i = scopes.Count - 1; i >= 0; i--) scopes[i].Dispose();
        return _w.ToString();
    }

    private void WriteTypeDocs()
    {
        _w.WriteLine("/// <summary>");
        _w.WriteLine($"/// The SwarmDsl topology <c>{Xml(_t.Name)}</c> from <c>{Xml(_spec.SourceName)}</c>: {Summary()}.");
        _w.WriteLine("/// </summary>");
        _w.WriteLine("/// <remarks>Every member is a value of the analyzed model: derived values (addresses, VNIs, fwmarks, names) are the ones the compiler chose.</remarks>");
    }

    private string Summary()
    {
        string N(int n, string one) => n.ToString(CultureInfo.InvariantCulture) + " " + one + (n == 1 ? "" : "s");
        return $"{N(_t.Nodes.Count, "node")}, {N(_t.Networks.Count, "network")}, {N(_t.Services.Count, "service")}, {N(_t.Tasks.Count, "task")}";
    }

    // Members declared directly in a user's type carry [GeneratedCode] themselves (the type is the user's, not ours).
    private void MemberAttribute()
    {
        if (!_spec.Target.IsGeneratedType) _w.WriteLine(GeneratedCodeAttribute);
    }

    private void WriteMembers()
    {
        Declared(_t.Span);
        _w.WriteLine($"/// <summary>The topology name (<c>name</c>): <c>{Xml(_t.Name)}</c>.</summary>");
        MemberAttribute();
        _w.WriteLine($"internal const string TopologyName = {Identifiers.Literal(_t.Name)};");
        _w.WriteLine();
        _w.WriteLine("/// <summary>The file the topology was declared in (name only).</summary>");
        MemberAttribute();
        _w.WriteLine($"internal const string SourceFile = {Identifiers.Literal(_spec.SourceName)};");
        _w.WriteLine();
        Declared(_t.Underlay.Span);
        _w.WriteLine($"/// <summary>The underlay: MTU {I(_t.Underlay.Mtu)}, VXLAN port {I(_t.Underlay.DataPathPort)}{(_t.Underlay.Subnet is { } us ? ", subnet " + us : "")}.</summary>");
        MemberAttribute();
        _w.WriteLine($"internal static readonly {Ns}SwarmUnderlay Underlay = new {Ns}SwarmUnderlay({I(_t.Underlay.Mtu)}, {(_t.Underlay.Subnet is { } s ? Cidr(s) : "null")}, {I(_t.Underlay.DataPathPort)});");

        WriteNodes();
        WriteNetworks();
        WriteVips();
        WritePorts();
        WriteServices();
        if (_fullHandles)
        {
            WriteAddresses();
            WriteNamespaces();
            WriteTasks();
            WriteLoadBalancers();
        }
        else
        {
            WriteAddressesCompact();
            WriteNamespacesCompact();
            WriteTasksCompact();
            WriteLoadBalancersCompact();
        }
        WriteSysctls();
        WriteRules();
        WriteExpectations();

        if (_embedProvisioning) WriteProvisioning();
        else NotEmbedded("Provisioning (the files swarmdsl emit writes)", "SwarmDslEmbedProvisioning");

        if (_embedDumps)
        {
            _w.WriteLine();
            _w.WriteLine("/// <summary>The analyzed model as <c>swarmdsl model</c> prints it: every derived value, marked (pinned) or (derived).</summary>");
            MemberAttribute();
            WriteTextConstant("ModelDump", TopologyDump.Render(_t));
            _w.WriteLine();
            _w.WriteLine("/// <summary>");
            _w.WriteLine("/// The dataplane plan as <c>SwarmDsl.Plan.PlanDump.Render</c> writes it: per host and namespace every device, address, route, neighbour and");
            _w.WriteLine("/// FDB entry, the iptables rules, the IPVS services and the sysctls, each with the declaration behind it.");
            _w.WriteLine("/// </summary>");
            MemberAttribute();
            _w.CheckCancelled();
            WriteTextConstant("PlanDump", Plan.PlanDump.Render(_spec.Plan));
        }
        else NotEmbedded("ModelDump and PlanDump (swarmdsl model, and PlanDump.Render of the plan)", "SwarmDslEmbedDumps");
        if (_spec.SourceText is { } yaml)
        {
            _w.WriteLine();
            _w.WriteLine($"/// <summary>The text of <c>{Xml(_spec.SourceName)}</c>, for <c>SwarmCompiler.CompileToPlan(SourceFile, SourceText)</c> and the packet simulation of SwarmDsl.Runtime.</summary>");
            MemberAttribute();
            WriteTextConstant("SourceText", yaml.Replace("\r\n", "\n"));
        }
    }

    // A member group left out: the generated file itself says why and how to get it back.
    private void NotEmbedded(string what, string property)
    {
        _w.WriteLine();
        _w.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "// {0}: not embedded. The plan has {1} elements; the automatic limit is {2}. <{3}>true</{3}> embeds them.",
            what, _elements, PlanSize.AutoEmbedLimit, property));
    }

    /// <summary>The files <c>swarmdsl emit</c> writes, as constants: per node a class with its scripts and restore files.</summary>
    private void WriteProvisioning()
    {
        // Node by node, as ProvisioningEmitter.Emit lists them, so that a cancelled build stops between nodes (a large plan's
        // files are built for seconds before the first line of them is written).
        var hosts = ProvisioningEmitter.Hosts(_spec.Plan);
        var files = new List<EmittedFile>();
        foreach (var host in hosts)
        {
            _w.CheckCancelled();
            files.AddRange(ProvisioningEmitter.EmitNode(_spec.Plan, host));
        }
        files.AddRange(ProvisioningEmitter.EmitAnsible(_spec.Plan, hosts));
        using var _ = HandleClass("Provisioning",
            "The provisioning files <c>swarmdsl emit</c> writes (IPVS backend): per node <c>apply.sh</c>, <c>teardown.sh</c> and the restore files they load; and the Ansible inventory and playbook.");
        var classes = new UniqueNames("Provisioning", "Files");
        var topLevel = new UniqueNames("Provisioning", "Files");
        // With each file's position in emit's order (a lookup by value would compare whole files, per file).
        var ids = new List<(EmittedFile File, string Id, int Index)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++) index[files[i].Path] = i;
        bool firstClass = true;
        foreach (var group in files.GroupBy(f => f.Path.IndexOf('/') < 0 ? "" : f.Path.Substring(0, f.Path.IndexOf('/'))))
        {
            if (group.Key.Length == 0) continue;
            var cls = classes.Make(group.Key);
            topLevel.Make(group.Key);
            if (!firstClass) _w.WriteLine();
            firstClass = false;
            _w.WriteLine($"/// <summary>The files of node <c>{Xml(group.Key)}</c> (<c>{Xml(group.Key)}/</c>).</summary>");
            using (_w.Block($"internal static class {cls}"))
            {
                var names = new UniqueNames(cls);
                bool first = true;
                foreach (var f in group)
                {
                    var name = f.Path.Substring(group.Key.Length + 1);
                    var id = names.Make(name);
                    ids.Add((f, cls + "." + id, index[f.Path]));
                    if (!first) _w.WriteLine();
                    first = false;
                    _w.WriteLine($"/// <summary><c>{Xml(f.Path)}</c>{(f.Executable ? " (executable)" : "")}.</summary>");
                    WriteTextConstant(id, f.Content, "public const");
                }
            }
        }
        foreach (var f in files.Where(f => f.Path.IndexOf('/') < 0))
        {
            var id = topLevel.Make(f.Path);
            ids.Add((f, id, index[f.Path]));
            _w.WriteLine();
            _w.WriteLine($"/// <summary><c>{Xml(f.Path)}</c>.</summary>");
            WriteTextConstant(id, f.Content, "public const");
        }
        _w.WriteLine();
        _w.WriteLine("/// <summary>Every file with its path relative to the output folder, in the order <c>swarmdsl emit</c> writes them.</summary>");
        _w.WriteLine($"public static {ReadOnlyList}<{Ns}SwarmFile> Files {{ get; }} = new {Ns}SwarmFile[]");
        _w.WriteLine("{");
        foreach (var (f, id) in ids.OrderBy(x => x.Index).Select(x => (x.File, x.Id)))
            _w.WriteLine($"    new {Ns}SwarmFile({Identifiers.Literal(f.Path)}, {id}, {B(f.Executable)}),");
        _w.WriteLine("};");
    }

    // ---- handle classes ---------------------------------------------------------------------------------------------

    private SourceWriter.BlockScope HandleClass(string name, string summary)
    {
        _w.WriteLine();
        _w.WriteLine($"/// <summary>{summary}</summary>");
        MemberAttribute();
        return _w.Block($"internal static class {name}");
    }

    private void WriteAll(string type, IEnumerable<string> members)
    {
        var list = members.ToList();
        _w.WriteLine($"/// <summary>Every item above, in model order.</summary>");
        _w.WriteLine($"public static {ReadOnlyList}<{Ns}{type}> All {{ get; }} = " + (list.Count == 0
            ? $"global::System.Array.Empty<{Ns}{type}>();"
            : $"new {Ns}{type}[] {{ {string.Join(", ", list)} }};"));
    }

    private void WriteNodes()
    {
        using var _ = HandleClass("Nodes", "The hosts of the swarm (<c>nodes</c>), in declaration order.");
        var names = new UniqueNames("Nodes", "All");
        foreach (var n in _t.Nodes)
        {
            var id = _nodes[n.Name] = names.Make(n.Name);
            Declared(n.Span);
            _w.WriteLine($"/// <summary>Node <c>{Xml(n.Name)}</c> (hostname <c>{Xml(n.Hostname)}</c>, {Lower(n.Role)}): underlay address {n.Address} on {Xml(n.Interface)}.</summary>");
            // Many labels as keys and values in turn: a pair's constructor per label made a node of 100,000 labels a 9 MB line
            // whose binding took the compiler seconds.
            var labels = n.Labels.IsEmpty
                ? "global::System.Array.Empty<global::System.Collections.Generic.KeyValuePair<string, string>>()"
                : n.Labels.Count > ManyLabels
                ? "new string[] { " + string.Join(", ", n.Labels.Select(l => Identifiers.Literal(l.Key) + ", " + Identifiers.Literal(l.Value))) + " }"
                : "new global::System.Collections.Generic.KeyValuePair<string, string>[] { " + string.Join(", ", n.Labels.Select(l =>
                    $"new global::System.Collections.Generic.KeyValuePair<string, string>({Identifiers.Literal(l.Key)}, {Identifiers.Literal(l.Value)})")) + " }";
            _w.WriteLine($"public static readonly {Ns}SwarmNode {id} = new {Ns}SwarmNode({Identifiers.Literal(n.Name)}, {Identifiers.Literal(n.Hostname)}, {Ns}NodeRole.{n.Role}, {Cidr(n.Address)}, {Identifiers.Literal(n.Interface)}, {labels});");
            _w.WriteLine();
        }
        WriteAll("SwarmNode", _t.Nodes.Select(n => _nodes[n.Name]));
    }

    private void WriteNetworks()
    {
        using var _ = HandleClass("Networks", "The networks (<c>networks</c>), in declaration order, then the ones the compiler derived.");
        var names = new UniqueNames("Networks", "All");
        foreach (var n in _t.Networks)
        {
            var id = _networks[n.Name] = names.Make(n.Name);
            Declared(n.Span);
            var what = n.IsOverlay
                ? $"Overlay network <c>{Xml(n.Name)}</c>: {n.Subnet}, gateway {n.Gateway}, VNI {I(n.Vni)}, MTU {I(n.Mtu)}{(n.Ingress ? ", the routing mesh's ingress network" : "")}{(n.Attachable ? ", attachable" : "")}"
                : $"Bridge network <c>{Xml(n.Name)}</c>: {n.Subnet}, gateway {n.Gateway}, icc {OnOff(n.Icc)}, masquerade {OnOff(n.Masquerade)}";
            _w.WriteLine($"/// <summary>{what}{(n.Implicit ? " (derived: the topology does not declare it)" : "")}.</summary>");
            _w.WriteLine($"public static readonly {Ns}SwarmNetwork {id} = new {Ns}SwarmNetwork({Identifiers.Literal(n.Name)}, {Ns}NetworkDriver.{n.Driver}, {Cidr(n.Subnet)}, {Ip(n.Gateway)}, {B(n.Icc)}, {B(n.Masquerade)}, {I(n.Vni)}, {I(n.Mtu)}, {B(n.Ingress)}, {B(n.Attachable)}, {B(n.Implicit)});");
            _w.WriteLine();
        }
        WriteAll("SwarmNetwork", _t.Networks.Select(n => _networks[n.Name]));
    }

    private void WriteVips()
    {
        using var _ = HandleClass("Vips", "The services' virtual IPs, one per service and network (none for dnsrr services).");
        var names = new UniqueNames("Vips", "All");
        var all = new List<string>();
        foreach (var s in _t.Services)
        {
            foreach (var v in s.Vips)
            {
                var id = _vips[(s.Name, v.Network)] = names.Make(s.Name + "-" + v.Network);
                all.Add(id);
                Declared(v.Span);
                _w.WriteLine($"/// <summary>VIP of <c>{Xml(s.Name)}</c> on <c>{Xml(v.Network)}</c>: {v.Address} ({Pinned(v.Pinned)}).</summary>");
                _w.WriteLine($"public static readonly {Ns}SwarmVip {id} = new {Ns}SwarmVip({Identifiers.Literal(s.Name)}, Networks.{_networks[v.Network]}, {Ip(v.Address)}, {B(v.Pinned)});");
                _w.WriteLine();
            }
        }
        WriteAll("SwarmVip", all);
    }

    private void WritePorts()
    {
        using var _ = HandleClass("PublishedPorts", "The published ports (<c>services.*.ports</c>).");
        var names = new UniqueNames("PublishedPorts", "All");
        var all = new List<string>();
        foreach (var s in _t.Services)
        {
            foreach (var p in s.Ports)
            {
                var id = _ports[p] = names.Make($"{s.Name}-{I(p.Published)}-{p.Protocol.Name()}");
                all.Add(id);
                Declared(p.Span);
                _w.WriteLine($"/// <summary>Port {I(p.Published)}/{p.Protocol.Name()} published by <c>{Xml(s.Name)}</c> in {Lower(p.Mode)} mode, to target port {I(p.Target)}.</summary>");
                _w.WriteLine($"public static readonly {Ns}SwarmPublishedPort {id} = new {Ns}SwarmPublishedPort({Identifiers.Literal(s.Name)}, {I(p.Published)}, {I(p.Target)}, {Ns}IpProtocol.{Protocol(p.Protocol)}, {Ns}PublishMode.{p.Mode});");
                _w.WriteLine();
            }
        }
        WriteAll("SwarmPublishedPort", all);
    }

    private void WriteServices()
    {
        using var _ = HandleClass("Services", "The services (<c>services</c>), in declaration order.");
        var names = new UniqueNames("Services", "All");
        foreach (var s in _t.Services)
        {
            var id = _services[s.Name] = names.Make(s.Name);
            Declared(s.Span);
            var parts = new List<string>
            {
                s.Mode == ServiceMode.Global ? "global" : $"{I(s.Replicas)} replica{(s.Replicas == 1 ? "" : "s")}",
                s.EndpointMode == EndpointMode.Dnsrr ? "DNS round robin" : $"IPVS {Lower(s.Scheduler)}",
            };
            parts.AddRange(s.Vips.Select(v => $"VIP {v.Address} on {Xml(v.Network)}"));
            parts.AddRange(s.Ports.Select(p => $"publishes {I(p.Published)}->{I(p.Target)}/{p.Protocol.Name()} ({Lower(p.Mode)})"));
            var image = s.Image is null ? "" : $" (<c>{Xml(s.Image)}</c>)";
            _w.WriteLine($"/// <summary>Service <c>{Xml(s.Name)}</c>{image}: {string.Join(", ", parts)}.</summary>");
            var networks = Array(Ns + "SwarmNetwork", s.Networks.Select(n => "Networks." + _networks[n]));
            var vips = Array(Ns + "SwarmVip", s.Vips.Select(v => "Vips." + _vips[(s.Name, v.Network)]));
            var ports = Array(Ns + "SwarmPublishedPort", s.Ports.Select(p => "PublishedPorts." + _ports[p]));
            _w.WriteLine($"public static readonly {Ns}SwarmService {id} = new {Ns}SwarmService({Identifiers.Literal(s.Name)}, {Identifiers.Literal(s.Image)}, {Ns}ServiceMode.{s.Mode}, {I(s.Replicas)}, {Ns}EndpointMode.{s.EndpointMode}, {Ns}Scheduler.{s.Scheduler},");
            _w.WriteLine($"    {networks}, {vips}, {ports});");
            _w.WriteLine();
        }
        WriteAll("SwarmService", _t.Services.Select(s => _services[s.Name]));
    }

    private void WriteAddresses()
    {
        using var _ = HandleClass("Addresses", "Every interface address the compiler assigned: task, load-balancer and gateway legs, per node and namespace.");
        var names = new UniqueNames("Addresses", "All");
        foreach (var e in _t.Endpoints)
        {
            var id = _addresses[e] = names.Make($"{e.Node}-{e.Namespace}-{e.Interface}");
            Declared(e.Span);
            _w.WriteLine($"/// <summary><c>{Xml(e.Node)}/{Xml(e.Namespace)}</c> {Xml(e.Interface)} on <c>{Xml(e.Network)}</c>: {e.Address}, MAC {e.Mac} ({Describe(e.Kind)}, {Pinned(e.Pinned)}).</summary>");
            _w.WriteLine($"public static readonly {Ns}SwarmAddress {id} = new {Ns}SwarmAddress(Nodes.{_nodes[e.Node]}, {Identifiers.Literal(e.Namespace)}, {Identifiers.Literal(e.Interface)}, Networks.{_networks[e.Network]}, {Cidr(e.Address)}, {Identifiers.Literal(e.Mac.ToString())}, {Ns}EndpointKind.{e.Kind}, {Identifiers.Literal(e.Owner)}, {B(e.Pinned)});");
            _w.WriteLine();
        }
        WriteAll("SwarmAddress", _t.Endpoints.Select(e => _addresses[e]));
    }

    private IEnumerable<(string Node, string Namespace, List<EndpointModel> Endpoints)> Namespaces()
    {
        var order = new List<(string, string)>();
        var byKey = new Dictionary<(string, string), List<EndpointModel>>();
        foreach (var e in _t.Endpoints)
        {
            var key = (e.Node, e.Namespace);
            if (!byKey.TryGetValue(key, out var list))
            {
                byKey[key] = list = new List<EndpointModel>();
                order.Add(key);
            }
            list.Add(e);
        }
        return order.Select(k => (k.Item1, k.Item2, byKey[k]));
    }

    private void WriteNamespaces()
    {
        using var _ = HandleClass("Namespaces", "The network namespaces that hold addresses: ingress_sbox, lb_&lt;network&gt; and the task sandboxes, per node.");
        var names = new UniqueNames("Namespaces", "All");
        var all = new List<string>();
        foreach (var (node, ns, endpoints) in Namespaces())
        {
            var id = _namespaces[(node, ns)] = names.Make($"{node}-{ns}");
            all.Add(id);
            var kind = endpoints[0].Kind switch
            {
                EndpointKind.Task => "Task",
                EndpointKind.NetworkLoadBalancer => "LoadBalancer",
                _ => "IngressSandbox",
            };
            _w.WriteLine($"/// <summary>Namespace <c>{Xml(ns)}</c> on <c>{Xml(node)}</c>: {string.Join(", ", endpoints.Select(e => $"{Xml(e.Interface)} {e.Address}"))}.</summary>");
            _w.WriteLine($"public static readonly {Ns}SwarmNamespace {id} = new {Ns}SwarmNamespace(Nodes.{_nodes[node]}, {Identifiers.Literal(ns)}, {Ns}NamespaceKind.{kind}, {Array(Ns + "SwarmAddress", endpoints.Select(e => "Addresses." + _addresses[e]))});");
            _w.WriteLine();
        }
        WriteAll("SwarmNamespace", all);
    }

    private void WriteTasks()
    {
        using var _ = HandleClass("Tasks", "The tasks (containers) the compiler placed, per service in slot order.");
        var names = new UniqueNames("Tasks", "All");
        var ids = new List<string>();
        // Each task's addresses, grouped once (a scan per task is tasks × endpoints: seconds on a large topology).
        var bySandbox = new Dictionary<(string Node, string Namespace), List<EndpointModel>>();
        foreach (var e in _t.Endpoints)
        {
            if (!bySandbox.TryGetValue((e.Node, e.Namespace), out var list)) bySandbox[(e.Node, e.Namespace)] = list = new List<EndpointModel>();
            list.Add(e);
        }
        foreach (var k in _t.Tasks)
        {
            var id = names.Make(k.Name);
            ids.Add(id);
            Declared(k.Span);
            var addresses = (bySandbox.TryGetValue((k.Node, k.Name), out var own) ? own : new List<EndpointModel>()).Select(e => $"{Xml(e.Interface)} {e.Address}");
            _w.WriteLine($"/// <summary>Task <c>{Xml(k.Name)}</c> of <c>{Xml(k.Service)}</c> on <c>{Xml(k.Node)}</c> (slot {I(k.Slot)}, weight {I(k.Weight)}, {Pinned(k.Pinned)}): {string.Join(", ", addresses)}.</summary>");
            var sandbox = _namespaces.TryGetValue((k.Node, k.Name), out var nsId) ? "Namespaces." + nsId
                : $"new {Ns}SwarmNamespace(Nodes.{_nodes[k.Node]}, {Identifiers.Literal(k.Name)}, {Ns}NamespaceKind.Task, global::System.Array.Empty<{Ns}SwarmAddress>())";
            _w.WriteLine($"public static readonly {Ns}SwarmTask {id} = new {Ns}SwarmTask({Identifiers.Literal(k.Name)}, Services.{_services[k.Service]}, {I(k.Slot)}, Nodes.{_nodes[k.Node]}, {I(k.Weight)}, {B(k.Pinned)}, {sandbox});");
            _w.WriteLine();
        }
        WriteAll("SwarmTask", ids);
    }

    private void WriteLoadBalancers()
    {
        using var _ = HandleClass("LoadBalancers", "The IPVS load balancers: one per service, network and node, selected by a firewall mark.");
        var names = new UniqueNames("LoadBalancers", "All");
        var ids = new List<string>();
        foreach (var lb in _t.LoadBalancers)
        {
            var id = names.Make($"{lb.Node}-{lb.Service}-{lb.Network}");
            ids.Add(id);
            Declared(lb.Span);
            _w.WriteLine($"/// <summary>Load balancer of <c>{Xml(lb.Service)}</c> on <c>{Xml(lb.Network)}</c> in <c>{Xml(lb.Node)}/{Xml(lb.Namespace)}</c>: fwmark {I(lb.FwMark)} (0x{lb.FwMark.ToString("x", CultureInfo.InvariantCulture)}) for VIP {lb.Vip}.</summary>");
            _w.WriteLine($"public static readonly {Ns}SwarmLoadBalancer {id} = new {Ns}SwarmLoadBalancer(Nodes.{_nodes[lb.Node]}, Networks.{_networks[lb.Network]}, Services.{_services[lb.Service]}, {I(lb.FwMark)}, {Ip(lb.Vip)}, {Identifiers.Literal(lb.Namespace)});");
            _w.WriteLine();
        }
        WriteAll("SwarmLoadBalancer", ids);
    }

    private void WriteSysctls()
    {
        using var _ = HandleClass("Sysctls", "The sysctls (<c>tuning.sysctls</c> for every node, <c>nodes.*.sysctls</c> for one).");
        WriteList("SwarmSysctl", _t.Sysctls.Select(s =>
            ($"new {Ns}SwarmSysctl({Identifiers.Literal(s.Node)}, {Identifiers.Literal(s.Key)}, {Identifiers.Literal(s.Value)})", s.Span)));
    }

    private void WriteRules()
    {
        using var _ = HandleClass("Rules", "The raw netfilter rules (<c>rules</c>), in declaration order.");
        WriteList("SwarmRule", _t.Rules.Select(r =>
            ($"new {Ns}SwarmRule({Identifiers.Literal(r.Node)}, {Identifiers.Literal(r.Namespace)}, {Ns}NetfilterTable.{Identifiers.ToPascalCase(r.Table, "Filter")}, {Identifiers.Literal(r.Chain)}, {Identifiers.Literal(r.Rule)}, {Ns}RulePosition.{r.Position})", r.Span)));
    }

    private void WriteExpectations()
    {
        using var _ = HandleClass("Expectations", "The expectations (<c>expect</c>) the compiler checked.");
        WriteList("SwarmExpectation", _t.Expectations.Select(x =>
            ($"new {Ns}SwarmExpectation({Identifiers.Literal(x.From.Text)}, {Identifiers.Literal(x.To.Text)}, {Identifiers.Literal(x.Reaches)}, {B(x.Blocked)})", x.Span)));
    }

    // A list whose items have no names of their own; each item says where it was declared.
    private void WriteList(string type, IEnumerable<(string Item, SourceSpan Span)> entries)
    {
        var items = entries.ToList();
        _w.WriteLine("/// <summary>Every item, in declaration order.</summary>");
        if (items.Count == 0)
        {
            _w.WriteLine($"public static {ReadOnlyList}<{Ns}{type}> All {{ get; }} = global::System.Array.Empty<{Ns}{type}>();");
            return;
        }
        _w.WriteLine($"public static {ReadOnlyList}<{Ns}{type}> All {{ get; }} = new {Ns}{type}[]");
        _w.WriteLine("{");
        foreach (var (item, span) in items)
            _w.WriteLine($"    {item}, // {(span.IsKnown ? Comment(span.ToShortString()) : "derived")}");
        _w.WriteLine("};");
    }

    /// <summary>Above this many labels a node's are generated as keys and values in turn.</summary>
    internal const int ManyLabels = 16;

    // ---- text constants -------------------------------------------------------------------------------------------

    /// <summary>A multi-line text as a constant: one literal per line, concatenated, so the generated file reads like the text.</summary>
    private void WriteTextConstant(string name, string text, string modifiers = "internal const")
    {
        var lines = text.Split('\n');
        int count = text.EndsWith("\n", StringComparison.Ordinal) ? lines.Length - 1 : lines.Length;
        if (count == 0)
        {
            _w.WriteLine($"{modifiers} string {name} = \"\";");
            return;
        }
        _w.WriteLine($"{modifiers} string {name} =");
        for (int i = 0; i < count; i++)
        {
            bool last = i == count - 1;
            var line = last && lines.Length == count ? lines[i] : lines[i] + "\n";
            _w.WriteLine("    " + Identifiers.Literal(line) + (last ? ";" : " +"));
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private void Declared(SourceSpan span)
        => _w.WriteLine(span.IsKnown ? $"// Source: {Comment(span.ToShortString())}." : "// Derived by the compiler (no declaration).");

    private static string Array(string type, IEnumerable<string> items)
    {
        var list = items.ToList();
        return list.Count == 0 ? $"global::System.Array.Empty<{type}>()" : $"new {type}[] {{ {string.Join(", ", list)} }}";
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string B(bool value) => value ? "true" : "false";

    private static string OnOff(bool value) => value ? "on" : "off";

    private static string Pinned(bool pinned) => pinned ? "pinned" : "derived";

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static string Ip(Ipv4Address a) => $"new {Ns}SwarmIPv4({I(a[0])}, {I(a[1])}, {I(a[2])}, {I(a[3])})";

    private static string Cidr(Ipv4Cidr c) => $"new {Ns}SwarmCidr({I(c.Address[0])}, {I(c.Address[1])}, {I(c.Address[2])}, {I(c.Address[3])}, {I(c.PrefixLength)})";

    private static string Protocol(IpProtocol p) => p switch
    {
        IpProtocol.Udp => "Udp",
        IpProtocol.Sctp => "Sctp",
        _ => "Tcp",
    };

    private static string Describe(EndpointKind kind) => kind switch
    {
        EndpointKind.Task => "task",
        EndpointKind.IngressLoadBalancer => "ingress load balancer",
        EndpointKind.IngressGateway => "ingress_sbox's gateway leg",
        _ => "network load balancer",
    };

    /// <summary>Text for an XML doc comment: markup escaped, control characters (which would end the comment) replaced.</summary>
    private static string Xml(string text) => Comment(text).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>Text for a line or XML doc comment (<see cref="SourceWriter.CommentText"/>).</summary>
    internal static string Comment(string text) => SourceWriter.CommentText(text);
}
