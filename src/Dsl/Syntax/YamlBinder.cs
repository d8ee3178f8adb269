using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Net;
using SwarmDsl.Semantics;
using SwarmDsl.Text;

namespace SwarmDsl.Syntax;

/// <summary>
/// Turns the YAML syntax tree into a <see cref="TopologyDeclaration"/>: checks every key and the type and form of every value,
/// with a located diagnostic for each problem. It does not resolve references; <see cref="TopologyAnalyzer"/> does.
/// </summary>
public sealed class YamlBinder
{
    private readonly DiagnosticBag _d;
    private readonly TopologyDeclaration _t;

    private YamlBinder(string file, DiagnosticBag diagnostics)
    {
        _d = diagnostics;
        _t = new TopologyDeclaration { File = file };
    }

    /// <summary>Binds <paramref name="root"/> (null for an empty or unreadable document).</summary>
    public static TopologyDeclaration Bind(string file, YamlNode? root, DiagnosticBag diagnostics)
    {
        var b = new YamlBinder(file, diagnostics);
        b.BindTopology(file, root);
        return b._t;
    }

    private void BindTopology(string file, YamlNode? root)
    {
        if (root is null || root is YamlScalar { IsNull: true })
        {
            _t.Span = SourceSpan.At(file, 1, 1);
            _d.Report(DiagnosticDescriptors.MissingKey, _t.Span, "the file is empty: a topology needs at least 'version: 1' and 'name'");
            return;
        }
        _t.Span = root.Span;
        var m = Mapping(root, "the topology");
        if (m is null) return;
        foreach (var e in Entries(m, LanguageKeys.Topology, "the top level"))
        {
            switch (e.Key.Value)
            {
                // Any whole number binds; the analyzer names the supported version (SWARM0021).
                case "version":
                    // Only version 1 exists: a number too large for an int is unsupported too, not "use -2147483648 to 2147483647".
                    if (e.Value is YamlScalar { IsPlain: true } vs && LooksLikeWholeNumber(vs.Value)
                        && !int.TryParse(vs.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                        _d.Report(DiagnosticDescriptors.UnsupportedVersion, vs.Span, $"version {Printable(vs.Value)} is not supported: this compiler reads version: 1");
                    else _t.Version = Int(e, int.MinValue, int.MaxValue);
                    break;
                case "name": _t.Name = Name(e.Value, "topology name"); break;
                case "underlay": BindUnderlay(e.Value); break;
                case "nodes":
                    // Written but empty: nothing could run and the outside client would have no underlay to stand on. An entry
                    // with a bad key was written (and reported), so it does not make the mapping empty.
                    if (e.Value is YamlScalar { IsNull: true } || e.Value is YamlMapping { Entries.Count: 0, HasInvalidKeys: false })
                        _d.Report(DiagnosticDescriptors.MissingKey, e.Key.Span, "'nodes' is empty: a topology needs at least one node (e.g. manager: { address: 10.7.191.10/24, role: manager })");
                    ForEachNamed(e.Value, "nodes", BindNode);
                    break;
                case "networks": ForEachNamed(e.Value, "networks", BindNetwork); break;
                case "services": ForEachNamed(e.Value, "services", BindService); break;
                case "tuning":
                    var tm = Mapping(e.Value, "tuning");
                    if (tm is null) break;
                    foreach (var te in Entries(tm, LanguageKeys.Tuning, "tuning"))
                        BindSysctls(te.Value, null);
                    break;
                case "rules": ForEachItem(e.Value, "rules", BindRule); break;
                case "expect": ForEachItem(e.Value, "expect", BindExpect); break;
            }
        }
        if (_t.Version is null && !HasKey(m, "version")) _d.Report(DiagnosticDescriptors.MissingKey, KeyAnchor(m), "missing required key 'version' (write 'version: 1')");
        if (_t.Name is null && !HasKey(m, "name")) _d.Report(DiagnosticDescriptors.MissingKey, KeyAnchor(m), "missing required key 'name'");
    }

    private static SourceSpan KeyAnchor(YamlMapping m) => m.Entries.Count > 0 ? m.Entries[0].Key.Span : m.Span;

    private void BindUnderlay(YamlNode node)
    {
        var m = Mapping(node, "underlay");
        if (m is null) return;
        _t.Underlay.Span = m.Span;
        foreach (var e in Entries(m, LanguageKeys.Underlay, "underlay"))
        {
            switch (e.Key.Value)
            {
                case "mtu": _t.Underlay.Mtu = Int(e, 576, 65535); break;
                case "subnet": _t.Underlay.Subnet = Cidr(e.Value, subnet: true); break;
                case "dataPathPort": _t.Underlay.DataPathPort = Int(e, 1024, 49151); break;
            }
        }
    }

    private void BindNode(Located<string> name, YamlNode node)
    {
        var n = new NodeDeclaration { Name = name };
        _t.Nodes.Add(n);
        var m = Mapping(node, "node", name.Value);
        if (m is null) return;
        foreach (var e in Entries(m, LanguageKeys.Node, "node", name.Value))
        {
            switch (e.Key.Value)
            {
                case "hostname": n.Hostname = Hostname(e.Value); break;
                case "role": n.Role = Enum(e.Value, "role", ("manager", NodeRole.Manager), ("worker", NodeRole.Worker)); break;
                case "address": n.Address = Cidr(e.Value, subnet: false); break;
                case "interface": n.Interface = InterfaceName(e.Value); break;
                case "labels":
                    var lm = Mapping(e.Value, "labels");
                    if (lm is null) break;
                    foreach (var le in lm.Entries)
                    {
                        var v = ScalarText(le.Value, "a label value");
                        if (v is not null) n.Labels.Add((new Located<string>(le.Key.Value, le.Key.Span), v.Value));
                    }
                    break;
                case "sysctls": BindSysctls(e.Value, name.Value); break;
            }
        }
        if (n.Address is null && !HasKey(m, "address")) _d.Report(DiagnosticDescriptors.MissingKey, name.Span, $"node '{name.Value}' needs an 'address' (its underlay address in CIDR form, e.g. 10.7.191.10/24)");
    }

    private void BindNetwork(Located<string> name, YamlNode node)
    {
        var n = new NetworkDeclaration { Name = name };
        _t.Networks.Add(n);
        var m = Mapping(node, "network", name.Value);
        if (m is null) return;
        var entries = Entries(m, LanguageKeys.Network, "network", name.Value).ToList();
        foreach (var e in entries)
        {
            switch (e.Key.Value)
            {
                case "driver": n.Driver = Enum(e.Value, "driver", ("bridge", NetworkDriver.Bridge), ("overlay", NetworkDriver.Overlay)); break;
                case "subnet": n.Subnet = Cidr(e.Value, subnet: true); break;
                case "gateway": n.Gateway = Ip(e.Value); break;
                case "icc": n.Icc = Bool(e.Value); break;
                case "masquerade": n.Masquerade = Bool(e.Value); break;
                case "vni": n.Vni = IntNode(e.Value, 1, TopologyAnalyzer.MaxVni, "vni", DiagnosticDescriptors.VniOutOfRange, "VNI"); break;
                case "mtu": n.Mtu = Int(e, 68, 65535); break;
                case "ingress": n.Ingress = Bool(e.Value); break;
                case "attachable": n.Attachable = Bool(e.Value); break;
                case "loadBalancerAddresses":
                    var lm = Mapping(e.Value, "loadBalancerAddresses");
                    if (lm is null) break;
                    foreach (var le in lm.Entries)
                    {
                        var ip = Ip(le.Value);
                        if (ip is not null) n.LoadBalancerAddresses.Add((new Located<string>(le.Key.Value, le.Key.Span), ip.Value));
                    }
                    break;
            }
        }
        if (n.Driver is null)
        {
            // A driver that is present but wrong was reported already; only a missing one is reported here.
            if (!HasKey(m, "driver")) _d.Report(DiagnosticDescriptors.MissingKey, name.Span, $"network '{name.Value}' needs a 'driver' (bridge or overlay)");
            return;
        }
        var wrong = n.Driver.Value.Value == NetworkDriver.Bridge ? LanguageKeys.OverlayOnly : LanguageKeys.BridgeOnly;
        foreach (var e in entries.Where(e => wrong.Contains(e.Key.Value)))
            _d.Report(DiagnosticDescriptors.UnknownKey, e.Key.Span,
                $"'{e.Key.Value}' applies only to {(n.Driver.Value.Value == NetworkDriver.Bridge ? "overlay" : "bridge")} networks; network '{name.Value}' is {(n.Driver.Value.Value == NetworkDriver.Bridge ? "a bridge" : "an overlay")}");
        if (n.Subnet is null && !HasKey(m, "subnet")) _d.Report(DiagnosticDescriptors.MissingKey, name.Span, $"network '{name.Value}' needs a 'subnet' (e.g. 10.0.1.0/24)");
    }

    private void BindService(Located<string> name, YamlNode node)
    {
        var s = new ServiceDeclaration { Name = name };
        _t.Services.Add(s);
        var m = Mapping(node, "service", name.Value);
        if (m is null) return;
        foreach (var e in Entries(m, LanguageKeys.Service, "service", name.Value))
        {
            switch (e.Key.Value)
            {
                case "image": s.Image = ScalarText(e.Value, "an image name"); break;
                case "replicas": s.Replicas = Int(e, 0, 100000); break;
                case "mode": s.Mode = Enum(e.Value, "mode", ("replicated", ServiceMode.Replicated), ("global", ServiceMode.Global)); break;
                case "networks":
                    s.NetworksSpan = e.Key.Span;
                    var seq = Sequence(e.Value, "networks");
                    if (seq is null) break;
                    foreach (var item in seq.Items)
                    {
                        var nn = Name(item, "network name");
                        if (nn is not null) s.Networks.Add(nn.Value);
                    }
                    break;
                case "vip":
                    if (e.Value is YamlMapping vm)
                    {
                        foreach (var ve in vm.Entries)
                        {
                            var ip = Ip(ve.Value);
                            if (ip is not null) s.Vips.Add((new Located<string>(ve.Key.Value, ve.Key.Span), ip.Value));
                        }
                    }
                    else s.Vip = Ip(e.Value);
                    break;
                case "endpointMode": s.EndpointMode = Enum(e.Value, "endpointMode", ("vip", EndpointMode.Vip), ("dnsrr", EndpointMode.Dnsrr)); break;
                case "ports": ForEachItem(e.Value, "ports", item => BindPort(s, item)); break;
                case "expose": ForEachItem(e.Value, "expose", item => BindExpose(s, item)); break;
                case "loadBalancing":
                    var lb = Mapping(e.Value, "loadBalancing");
                    if (lb is null) break;
                    foreach (var le in Entries(lb, LanguageKeys.LoadBalancing, "loadBalancing"))
                    {
                        var sched = ScalarText(le.Value, "a scheduler");
                        if (sched is null) break;
                        Scheduler? v = sched.Value.Value switch
                        {
                            "rr" => Semantics.Scheduler.Rr, "wrr" => Semantics.Scheduler.Wrr, "lc" => Semantics.Scheduler.Lc,
                            "wlc" => Semantics.Scheduler.Wlc, "sh" => Semantics.Scheduler.Sh, "dh" => Semantics.Scheduler.Dh, _ => null,
                        };
                        if (v is null)
                            _d.Report(DiagnosticDescriptors.UnsupportedScheduler, sched.Value.Span, $"unsupported scheduler '{sched.Value.Value}': use rr, wrr, lc, wlc, sh or dh");
                        else s.Scheduler = new Located<Scheduler>(v.Value, sched.Value.Span);
                    }
                    break;
                case "tasks":
                    s.TasksSpan = e.Key.Span;
                    ForEachItem(e.Value, "tasks", item => BindTask(s, item));
                    break;
                case "placement":
                    var pm = Mapping(e.Value, "placement");
                    if (pm is null) break;
                    foreach (var pe in Entries(pm, LanguageKeys.Placement, "placement"))
                    {
                        var seq2 = Sequence(pe.Value, "placement.nodes");
                        if (seq2 is null) break;
                        foreach (var item in seq2.Items)
                        {
                            var nn = Name(item, "node name");
                            if (nn is not null) s.PlacementNodes.Add(nn.Value);
                        }
                    }
                    break;
            }
        }
        if (s.NetworksSpan is null && !HasKey(m, "networks")) _d.Report(DiagnosticDescriptors.MissingKey, name.Span, $"service '{name.Value}' needs 'networks' (the overlay networks it joins, e.g. [ingress])");
    }

    private void BindPort(ServiceDeclaration s, YamlNode node)
    {
        var m = Mapping(node, "a port");
        if (m is null) return;
        var p = new PortDeclaration { Span = m.Span };
        s.Ports.Add(p);
        foreach (var e in Entries(m, LanguageKeys.Port, "a port"))
        {
            switch (e.Key.Value)
            {
                case "published": p.Published = Int(e, 1, 65535); break;
                case "target": p.Target = Int(e, 1, 65535); break;
                case "protocol": p.Protocol = Enum(e.Value, "protocol", ("tcp", IpProtocol.Tcp), ("udp", IpProtocol.Udp), ("sctp", IpProtocol.Sctp)); break;
                case "mode": p.Mode = Enum(e.Value, "mode", ("ingress", PublishMode.Ingress), ("host", PublishMode.Host)); break;
            }
        }
        if (p.Published is null && !HasKey(m, "published")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "a port needs 'published' (the port clients connect to)");
        if (p.Target is null && !HasKey(m, "target")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "a port needs 'target' (the port the task listens on)");
    }

    // `expose` items are compose's form: a port (5432) or a port and a protocol ("53/udp").
    private void BindExpose(ServiceDeclaration s, YamlNode node)
    {
        if (node is not YamlScalar sc || sc.IsNull)
        {
            _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"an exposed port must be a port such as 5432 or \"53/udp\", not {node.KindName}");
            return;
        }
        var text = sc.Value;
        int slash = text.IndexOf('/');
        var portText = slash < 0 ? text : text.Substring(0, slash);
        var protoText = slash < 0 ? "tcp" : text.Substring(slash + 1);
        IpProtocol? proto = protoText switch { "tcp" => IpProtocol.Tcp, "udp" => IpProtocol.Udp, "sctp" => IpProtocol.Sctp, _ => null };
        if (portText.Length == 0 || portText.Length > 9 || !portText.All(c => c >= '0' && c <= '9') || proto is null)
        {
            _d.Report(DiagnosticDescriptors.WrongType, sc.Span, $"an exposed port must be a port such as 5432 or \"53/udp\" (protocol tcp, udp or sctp), not '{Printable(text)}'");
            return;
        }
        int port = int.Parse(portText, NumberStyles.None, CultureInfo.InvariantCulture);
        if (port < 1 || port > 65535)
        {
            _d.Report(DiagnosticDescriptors.OutOfRange, sc.Span, $"exposed port {port} is out of range: use 1 to 65535");
            return;
        }
        s.Expose.Add(new ExposeDeclaration { Span = sc.Span, Port = port, Protocol = proto.Value });
    }

    private void BindTask(ServiceDeclaration s, YamlNode node)
    {
        var m = Mapping(node, "a task");
        if (m is null) return;
        var t = new TaskDeclaration { Span = m.Span };
        s.Tasks.Add(t);
        foreach (var e in Entries(m, LanguageKeys.Task, "a task"))
        {
            switch (e.Key.Value)
            {
                case "node": t.Node = Name(e.Value, "node name"); break;
                case "address": t.Address = Ip(e.Value); break;
                case "weight": t.Weight = Int(e, 0, 65535); break;
                case "name": t.Name = TaskName(e.Value); break;
            }
        }
        if (t.Node is null && !HasKey(m, "node")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "a task needs 'node' (where it runs)");
    }

    private void BindSysctls(YamlNode node, string? nodeName)
    {
        var m = Mapping(node, "sysctls");
        if (m is null) return;
        foreach (var e in m.Entries)
        {
            var key = e.Key.Value;
            if (!IsSysctlKey(key))
            {
                _d.Report(DiagnosticDescriptors.InvalidSysctl, e.Key.Span, $"'{key}' is not a sysctl key (dotted words such as net.core.rmem_max)");
                continue;
            }
            // apply.sh runs as root: kernel.core_pattern or kernel.modprobe would be code execution, vm.* and fs.* the whole
            // machine's business. A networking topology sets networking keys only.
            if (!key.StartsWith("net.", StringComparison.Ordinal))
            {
                _d.Report(DiagnosticDescriptors.InvalidSysctl, e.Key.Span, $"'{key}' is not a networking sysctl: SwarmDsl is a networking toolkit and sets only keys under net. (such as net.core.rmem_max); set other kernel parameters outside the topology");
                continue;
            }
            var v = ScalarText(e.Value, "a sysctl value");
            if (v is null) continue;
            if (!IsSysctlValue(v.Value.Value))
            {
                _d.Report(DiagnosticDescriptors.InvalidSysctl, v.Value.Span, $"sysctl value '{v.Value.Value}' must be non-empty and may hold only letters, digits, '.', '_', '-', ':', '/' and single spaces");
                continue;
            }
            _t.Sysctls.Add(new SysctlDeclaration { Node = nodeName, Key = new Located<string>(key, e.Key.Span), Value = v.Value });
        }
    }

    internal static bool IsSysctlKey(string key)
    {
        if (key.Length == 0 || key.Length > 128 || key[0] == '.' || key[key.Length - 1] == '.' || key.Contains("..")) return false;
        if (!key.Contains('.')) return false;
        foreach (var ch in key)
            if (!(ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '_' or '-')) return false;
        return true;
    }

    internal static bool IsSysctlValue(string value)
    {
        if (value.Length == 0 || value.Length > 256 || value[0] == ' ' || value[value.Length - 1] == ' ') return false;
        foreach (var ch in value)
            if (!(ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '_' or '-' or ':' or '/' or ' ')) return false;
        return !value.Contains("  ");
    }

    private void BindRule(YamlNode node)
    {
        var m = Mapping(node, "a rule");
        if (m is null) return;
        var r = new RuleDeclaration { Span = m.Span };
        _t.Rules.Add(r);
        foreach (var e in Entries(m, LanguageKeys.Rule, "a rule"))
        {
            switch (e.Key.Value)
            {
                case "node": r.Node = Name(e.Value, "node name"); break;
                case "namespace": r.Namespace = ScalarText(e.Value, "a namespace name"); break;
                case "table": r.Table = Enum(e.Value, "table", ("filter", "filter"), ("nat", "nat"), ("mangle", "mangle"), ("raw", "raw")); break;
                case "chain": r.Chain = ScalarText(e.Value, "a chain name"); break;
                case "rule": r.Rule = ScalarText(e.Value, "a rule in iptables syntax"); break;
                case "position": r.Position = Enum(e.Value, "position", ("append", RulePosition.Append), ("insert", RulePosition.Insert)); break;
            }
        }
        if (r.Rule is null && !HasKey(m, "rule")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "a rule needs 'rule' (the rule in iptables syntax, e.g. '-p tcp --dport 22 -j ACCEPT')");
        if (r.Chain is null && !HasKey(m, "chain")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "a rule needs 'chain' (e.g. DOCKER-USER)");
    }

    private void BindExpect(YamlNode node)
    {
        var m = Mapping(node, "an expectation");
        if (m is null) return;
        var x = new ExpectDeclaration { Span = m.Span };
        _t.Expectations.Add(x);
        foreach (var e in Entries(m, LanguageKeys.Expect, "an expectation"))
        {
            switch (e.Key.Value)
            {
                case "from": x.From = ScalarText(e.Value, "a traffic source"); break;
                case "to": x.To = ScalarText(e.Value, "a traffic destination"); break;
                case "reaches": x.Reaches = Name(e.Value, "service name"); break;
                case "blocked": x.Blocked = Bool(e.Value); break;
            }
        }
        if (x.From is null && !HasKey(m, "from")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "an expectation needs 'from' (external, a node, a service or a task)");
        if (x.To is null && !HasKey(m, "to")) _d.Report(DiagnosticDescriptors.MissingKey, m.Span, "an expectation needs 'to' (e.g. manager:8080/tcp)");
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    /// <summary>
    /// Whether <paramref name="key"/> is present, or a misspelling of it was already reported (then "missing 'published'" next to
    /// "unknown key 'publshed'; did you mean 'published'?" would only repeat the same mistake).
    /// </summary>
    private bool HasKey(YamlMapping m, string key) => m.Find(key) is not null || _suggested.Contains((m, key));

    private readonly HashSet<(YamlMapping, string)> _suggested = new();

    // The place a message names is "<where>" or "<where> '<name>'" (service 'web'), put into words only for a message.
    private static string Where(string where, string? name) => name is null ? where : $"{where} '{name}'";

    private IEnumerable<YamlEntry> Entries(YamlMapping m, string[] known, string where, string? name = null)
    {
        foreach (var e in m.Entries)
        {
            if (Array.IndexOf(known, e.Key.Value) >= 0)
            {
                yield return e;
                continue;
            }
            var near = LanguageKeys.Nearest(e.Key.Value, known);
            if (near is not null) _suggested.Add((m, near));
            _d.Report(DiagnosticDescriptors.UnknownKey, e.Key.Span, near is null
                ? $"unknown key '{e.Key.Value}' in {Where(where, name)}; known keys: {string.Join(", ", known)}"
                : $"unknown key '{e.Key.Value}' in {Where(where, name)}; did you mean '{near}'?");
        }
    }

    private void ForEachNamed(YamlNode node, string what, Action<Located<string>, YamlNode> bind)
    {
        if (node is YamlScalar { IsNull: true }) return;
        var m = Mapping(node, what);
        if (m is null) return;
        var nameWhat = what.TrimEnd('s') + " name";
        foreach (var e in m.Entries)
        {
            var name = Name(e.Key, nameWhat);
            if (name is null) continue;
            bind(name.Value, e.Value);
        }
    }

    private void ForEachItem(YamlNode node, string what, Action<YamlNode> bind)
    {
        if (node is YamlScalar { IsNull: true }) return;
        var seq = Sequence(node, what);
        if (seq is null) return;
        foreach (var item in seq.Items) bind(item);
    }

    private YamlMapping? Mapping(YamlNode node, string what, string? name = null)
    {
        if (node is YamlMapping m) return m;
        _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"{Where(what, name)} must be a mapping (key: value lines), not {node.KindName}");
        return null;
    }

    private YamlSequence? Sequence(YamlNode node, string what)
    {
        if (node is YamlSequence s) return s;
        _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"{what} must be a list ('- item' lines or [a, b]), not {node.KindName}");
        return null;
    }

    // "a " and what a name is (a network name) are joined only for a message.
    private Located<string>? ScalarText(YamlNode node, string what, string article = "")
    {
        if (node is YamlScalar s && !s.IsNull) return new Located<string>(s.Value, s.Span);
        _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"expected {article}{what}, not {node.KindName}");
        return null;
    }

    private Located<int>? Int(YamlEntry e, int min, int max) => IntNode(e.Value, min, max, e.Key.Value);

    /// <summary>Whether <paramref name="text"/> is written as a decimal whole number (an optional sign, then digits).</summary>
    private static bool LooksLikeWholeNumber(string text)
    {
        int i = text.Length > 0 && (text[0] == '+' || text[0] == '-') ? 1 : 0;
        if (i == text.Length) return false;
        for (; i < text.Length; i++) if (text[i] < '0' || text[i] > '9') return false;
        return true;
    }

    private Located<int>? IntNode(YamlNode node, int min, int max, string? key = null, DiagnosticDescriptor? rangeDescriptor = null, string? what = null)
    {
        var forKey = key is null ? "" : " for '" + key + "'";
        if (node is not YamlScalar s || s.IsNull)
        {
            _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"expected a whole number{forKey}, not {node.KindName}");
            return null;
        }
        if (!s.IsPlain)
        {
            // A quoted number is a string in YAML; say so rather than "not '1500'", which reads like a contradiction.
            _d.Report(DiagnosticDescriptors.WrongType, s.Span, LooksLikeWholeNumber(s.Value)
                ? $"expected a whole number{forKey}, not the quoted string '{Printable(s.Value)}': remove the quotes"
                : $"expected a whole number{forKey}, not '{Printable(s.Value)}'");
            return null;
        }
        if (!LooksLikeWholeNumber(s.Value))
        {
            _d.Report(DiagnosticDescriptors.WrongType, s.Span, $"expected a whole number{forKey}, not '{Printable(s.Value)}'");
            return null;
        }
        // Digits that do not fit in 64 bits are still a number, just far out of range.
        bool fits = long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v);
        if (!fits || v < min || v > max)
        {
            var shown = fits ? v.ToString(CultureInfo.InvariantCulture) : Printable(s.Value);
            _d.Report(rangeDescriptor ?? DiagnosticDescriptors.OutOfRange, s.Span,
                $"{what ?? (key is null ? "value" : "'" + key + "'")} {shown} is out of range: use {min} to {max}");
            return null;
        }
        return new Located<int>((int)v, s.Span);
    }

    private Located<bool>? Bool(YamlNode node)
    {
        if (node is YamlScalar { IsPlain: true } s)
        {
            switch (s.Value)
            {
                case "true": case "True": case "TRUE": return new Located<bool>(true, s.Span);
                case "false": case "False": case "FALSE": return new Located<bool>(false, s.Span);
            }
        }
        var shown = node switch
        {
            YamlScalar { IsNull: true } => "null",
            YamlScalar { IsPlain: false } q when q.Value is "true" or "false" => $"the quoted string '{q.Value}': remove the quotes",
            YamlScalar sc => $"'{Printable(sc.Value)}'",
            _ => node.KindName,
        };
        _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"expected true or false, not {shown}");
        return null;
    }

    private Located<T>? Enum<T>(YamlNode node, string key, params (string Word, T Value)[] words)
    {
        if (node is YamlScalar s && !s.IsNull)
        {
            foreach (var (w, v) in words) if (w == s.Value) return new Located<T>(v, s.Span);
            var near = LanguageKeys.Nearest(s.Value, words.Select(x => x.Word));
            _d.Report(DiagnosticDescriptors.WrongType, s.Span, $"'{s.Value}' is not a valid {key}: use {string.Join(" or ", words.Select(x => x.Word))}{(near is null ? "" : $" (did you mean '{near}'?)")}");
            return null;
        }
        _d.Report(DiagnosticDescriptors.WrongType, node.Span, $"expected {string.Join(" or ", words.Select(x => x.Word))} for '{key}', not {node.KindName}");
        return null;
    }

    private Located<Ipv4Cidr>? Cidr(YamlNode node, bool subnet)
    {
        var t = ScalarText(node, subnet ? "a subnet in CIDR form (10.0.1.0/24)" : "an address in CIDR form (10.7.191.10/24)");
        if (t is null) return null;
        if (!Ipv4Cidr.TryParse(t.Value.Value, out var c))
        {
            _d.Report(DiagnosticDescriptors.WrongType, t.Value.Span, $"'{t.Value.Value}' is not an IPv4 {(subnet ? "subnet" : "address")} in CIDR form (e.g. {(subnet ? "10.0.1.0/24" : "10.7.191.10/24")})");
            return null;
        }
        if (subnet && !c.IsNetworkAddress)
        {
            _d.Report(DiagnosticDescriptors.WrongType, t.Value.Span, $"subnet '{t.Value.Value}' has host bits set: write {c.Subnet}");
            return null;
        }
        if (subnet && c.PrefixLength > 30)
        {
            _d.Report(DiagnosticDescriptors.OutOfRange, t.Value.Span, $"subnet '{t.Value.Value}' is too small: use a prefix of /30 or shorter");
            return null;
        }
        if (!subnet && (c.PrefixLength == 0 || c.PrefixLength > 32 || (c.PrefixLength <= 30 && (c.Address == c.Network || c.Address == c.Broadcast))))
        {
            _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, t.Value.Span, $"'{t.Value.Value}' is the network or broadcast address of its subnet (or has /0): use a host address");
            return null;
        }
        // A subnet whose hosts Linux drops as martian (loopback, multicast, 0/8, class E): its first or last host is one, as
        // those ranges lie at /8 and /4 boundaries.
        if (subnet && c.PrefixLength > 0 && (c.FirstHost.WhyNoSource() ?? c.LastHost.WhyNoSource()) is { } martian)
        {
            _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, t.Value.Span, $"subnet '{t.Value.Value}' holds addresses no host can use: {martian}; use a private range such as 10.0.0.0/24");
            return null;
        }
        // A node's address is a source on the underlay: one Linux drops as martian would carry no VXLAN and no client.
        if (!subnet && c.Address.WhyNoSource() is { } why)
        {
            _d.Report(DiagnosticDescriptors.AddressOutsideSubnet, t.Value.Span, $"'{t.Value.Value}' is not a usable host address: {why}; use a unicast address such as 10.7.191.10/24");
            return null;
        }
        return new Located<Ipv4Cidr>(c, t.Value.Span);
    }

    private Located<Ipv4Address>? Ip(YamlNode node)
    {
        var t = ScalarText(node, "an IPv4 address");
        if (t is null) return null;
        if (!Ipv4Address.TryParse(t.Value.Value, out var a))
        {
            _d.Report(DiagnosticDescriptors.WrongType, t.Value.Span, $"'{t.Value.Value}' is not an IPv4 address (e.g. 10.0.0.5)");
            return null;
        }
        return new Located<Ipv4Address>(a, t.Value.Span);
    }

    /// <summary>The name rule of dsl.md §2: names reach shell scripts and interface names.</summary>
    public static bool IsValidName(string s)
    {
        if (s.Length < 1 || s.Length > 32 || s[0] < 'a' || s[0] > 'z') return false;
        foreach (var ch in s) if (!(ch is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-')) return false;
        return true;
    }

    /// <summary>Task names may also hold dots (<c>web.1</c>).</summary>
    public static bool IsValidTaskName(string s)
    {
        if (s.Length < 1 || s.Length > 40 || s[0] < 'a' || s[0] > 'z' || s.EndsWith(".", StringComparison.Ordinal)) return false;
        foreach (var ch in s) if (!(ch is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '-' or '.')) return false;
        return true;
    }

    private Located<string>? Name(YamlNode node, string what)
    {
        var t = ScalarText(node, what, "a ");
        if (t is null) return null;
        if (!IsValidName(t.Value.Value))
        {
            _d.Report(DiagnosticDescriptors.InvalidName, t.Value.Span, $"invalid {what} '{Printable(t.Value.Value)}': names must match [a-z][a-z0-9_-]{{0,31}} (they reach shell scripts and interface names)");
            return null;
        }
        return t;
    }

    private Located<string>? TaskName(YamlNode node)
    {
        var t = ScalarText(node, "a task name");
        if (t is null) return null;
        if (!IsValidTaskName(t.Value.Value))
        {
            _d.Report(DiagnosticDescriptors.InvalidName, t.Value.Span, $"invalid task name '{Printable(t.Value.Value)}': use lower-case letters, digits, '_', '-' and '.', starting with a letter, at most 40 characters");
            return null;
        }
        return t;
    }

    private Located<string>? Hostname(YamlNode node)
    {
        var t = ScalarText(node, "a hostname");
        if (t is null) return null;
        var v = t.Value.Value;
        bool ok = v.Length is > 0 and <= 253 && v.Split('.').All(l => l.Length is > 0 and <= 63 && l[0] != '-' && l[l.Length - 1] != '-'
            && l.All(ch => ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-'));
        if (!ok)
        {
            _d.Report(DiagnosticDescriptors.InvalidName, t.Value.Span, $"invalid hostname '{Printable(v)}': use letters, digits and '-' in dot-separated labels (RFC 1123)");
            return null;
        }
        return t;
    }

    private Located<string>? InterfaceName(YamlNode node)
    {
        var t = ScalarText(node, "an interface name");
        if (t is null) return null;
        var v = t.Value.Value;
        // IFNAMSIZ is 16 including the terminator; '/' and whitespace are refused by the kernel; we also refuse shell metacharacters.
        // The same set the emitters accept for device names (NodeLayout.CheckName, ScriptEmitter.CheckWord): no '@', which
        // ip(8) reads as "name@link", and no leading '-', which it reads as an option.
        bool ok = v.Length is > 0 and <= 15 && v != "." && v != ".." && v[0] != '-' && v.All(ch => ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-' or '.');
        if (!ok)
        {
            _d.Report(DiagnosticDescriptors.InvalidName, t.Value.Span, $"invalid interface name '{Printable(v)}': 1 to 15 letters, digits, '_', '-' or '.', not starting with '-'");
            return null;
        }
        return t;
    }

    private static string Printable(string s)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var ch in s.Length > 40 ? s.Substring(0, 40) + "…" : s)
            sb.Append(char.IsControl(ch) ? "\\u" + ((int)ch).ToString("x4", CultureInfo.InvariantCulture) : ch.ToString());
        return sb.ToString();
    }
}
