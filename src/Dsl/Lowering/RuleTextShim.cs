using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Lowering;

/// <summary>
/// Parses the text of a raw rule (<c>rules[].rule</c>) into plan matches and a target. Lowering calls only
/// <see cref="TryParse"/>, whose signature is that of the canonical <c>SwarmDsl.Plan.IptablesSyntax.TryParse</c> being written
/// elsewhere; once that lands, this file reduces to a one-line forward (or is deleted and the call renamed).
/// Accepts the subset the plan can express: <c>-p -s -d -i -o</c> (each with <c>!</c>), <c>-m tcp|udp|sctp --dport/--sport</c>,
/// <c>multiport</c>, <c>addrtype</c>, <c>conntrack</c>/<c>state</c>, <c>mark</c>, <c>ipvs</c>, <c>icmp</c>, <c>statistic</c>,
/// and the targets of <see cref="RuleTarget"/>.
/// </summary>
internal static class RuleText
{
    public static bool TryParse(string text, out EquatableArray<RuleMatch> matches, out RuleTarget target, out string error)
    {
        var p = new Parser(text);
        var ok = p.Run();
        matches = ok ? p.Matches.ToEquatableArray() : EquatableArray<RuleMatch>.Empty;
        target = ok ? p.Target! : new AcceptTarget();
        error = ok ? "" : p.Error;
        return ok;
    }

    private sealed class Parser
    {
        private readonly List<string> _tokens;
        private int _i;
        private IpProtocol? _protocol;
        private string? _module;

        public Parser(string text)
        {
            _tokens = Tokenize(text, out var err);
            Error = err ?? "";
        }

        public List<RuleMatch> Matches { get; } = new();
        public RuleTarget? Target { get; private set; }
        public string Error { get; private set; }

        public bool Run()
        {
            if (Error.Length > 0) return false;
            while (_i < _tokens.Count)
            {
                bool negated = false;
                if (_tokens[_i] == "!")
                {
                    negated = true;
                    _i++;
                    if (_i >= _tokens.Count) return Fail("'!' must be followed by an option");
                }
                var opt = _tokens[_i++];
                if (!Option(opt, negated)) return false;
            }
            if (Target is null) return Fail("the rule has no target: end it with -j ACCEPT, -j DROP, -j <chain>, …");
            return Finish();
        }

        private bool Fail(string message)
        {
            if (Error.Length == 0) Error = message;
            return false;
        }

        private string? Value(string opt)
        {
            if (_i < _tokens.Count && _tokens[_i] != "!") return _tokens[_i++];
            Fail($"'{opt}' needs a value");
            return null;
        }

        private bool Option(string opt, bool negated)
        {
            if (Target is not null && !opt.StartsWith("--", System.StringComparison.Ordinal))
                return Fail($"'{opt}' comes after the target: put matches before -j/-g");
            switch (opt)
            {
                case "-A": case "-I": case "-D": case "-N": case "-t": case "--append": case "--insert": case "--table":
                    return Fail($"'{opt}' is not part of a rule: give the chain, table and position as the keys 'chain', 'table' and 'position'");
                case "-p": case "--protocol":
                {
                    var v = Value(opt);
                    if (v is null) return false;
                    if (!IpProtocolNames.TryParse(v.ToLowerInvariant(), out var proto)) return Fail($"unknown protocol '{v}': use tcp, udp, sctp or icmp");
                    _protocol = proto;
                    Matches.Add(new ProtocolMatch(proto, negated));
                    return true;
                }
                case "-s": case "--source": case "-d": case "--destination":
                {
                    var v = Value(opt);
                    if (v is null) return false;
                    if (!ParsePrefix(v, out var prefix)) return Fail($"'{v}' is not an IPv4 address or CIDR");
                    Matches.Add(new AddressMatch(opt is "-s" or "--source" ? Direction.Source : Direction.Destination, prefix, negated));
                    return true;
                }
                case "-i": case "--in-interface": case "-o": case "--out-interface":
                {
                    var v = Value(opt);
                    if (v is null) return false;
                    if (!IsInterfaceName(v)) return Fail($"'{v}' is not an interface name (at most 15 letters, digits, '_', '-', '.', optionally ending in '+')");
                    Matches.Add(new InterfaceMatch(opt is "-i" or "--in-interface", v, negated));
                    return true;
                }
                case "-m": case "--match":
                {
                    if (negated) return Fail("'!' cannot negate -m");
                    var v = Value(opt);
                    if (v is null) return false;
                    switch (v)
                    {
                        case "tcp": case "udp": case "sctp": case "multiport": case "addrtype": case "conntrack": case "state":
                        case "mark": case "icmp": case "statistic": case "ipvs":
                            _module = v;
                            return true;
                        default:
                            return Fail($"match module '{v}' is not supported: use tcp, udp, sctp, multiport, addrtype, conntrack, state, mark, ipvs, icmp or statistic");
                    }
                }
                case "-j": case "--jump": case "-g": case "--goto":
                {
                    if (negated) return Fail($"'!' cannot negate {opt}");
                    if (Target is not null) return Fail("a rule has one target");
                    var v = Value(opt);
                    if (v is null) return false;
                    return ParseTarget(v, opt is "-g" or "--goto");
                }
                case "--dport": case "--destination-port": case "--sport": case "--source-port":
                {
                    var proto = _module switch { "tcp" => IpProtocol.Tcp, "udp" => IpProtocol.Udp, "sctp" => IpProtocol.Sctp, _ => _protocol };
                    if (proto is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp))
                        return Fail($"'{opt}' needs -p tcp, -p udp or -p sctp before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    if (!ParsePortRange(v, out var from, out var to)) return Fail($"'{v}' is not a port or port range (1-65535, 'from:to')");
                    var dir = opt is "--dport" or "--destination-port" ? Direction.Destination : Direction.Source;
                    Matches.Add(new PortMatch(proto.Value, dir, from, to, negated));
                    return true;
                }
                case "--dports": case "--sports":
                {
                    if (_module != "multiport") return Fail($"'{opt}' needs -m multiport before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    var ports = new List<int>();
                    foreach (var part in v.Split(','))
                    {
                        if (!ParsePort(part, out var port)) return Fail($"'{part}' is not a port (1-65535)");
                        ports.Add(port);
                    }
                    Matches.Add(new MultiportMatch(opt == "--dports" ? Direction.Destination : Direction.Source, ports.ToEquatableArray(), negated));
                    return true;
                }
                case "--src-type": case "--dst-type":
                {
                    if (_module != "addrtype") return Fail($"'{opt}' needs -m addrtype before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    AddressType type;
                    switch (v)
                    {
                        case "LOCAL": type = AddressType.Local; break;
                        case "UNICAST": type = AddressType.Unicast; break;
                        case "BROADCAST": type = AddressType.Broadcast; break;
                        case "MULTICAST": type = AddressType.Multicast; break;
                        default: return Fail($"address type '{v}' is not supported: use LOCAL, UNICAST, BROADCAST or MULTICAST");
                    }
                    Matches.Add(new AddrTypeMatch(opt == "--src-type" ? Direction.Source : Direction.Destination, type, negated));
                    return true;
                }
                case "--ctstate": case "--state":
                {
                    if (!(_module == "conntrack" && opt == "--ctstate") && !(_module == "state" && opt == "--state"))
                        return Fail($"'{opt}' needs -m {(opt == "--ctstate" ? "conntrack" : "state")} before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    var states = CtState.None;
                    foreach (var part in v.Split(','))
                    {
                        switch (part)
                        {
                            case "NEW": states |= CtState.New; break;
                            case "ESTABLISHED": states |= CtState.Established; break;
                            case "RELATED": states |= CtState.Related; break;
                            case "INVALID": states |= CtState.Invalid; break;
                            case "UNTRACKED": states |= CtState.Untracked; break;
                            case "DNAT" when opt == "--ctstate": states |= CtState.Dnat; break;
                            case "SNAT" when opt == "--ctstate": states |= CtState.Snat; break;
                            default: return Fail($"unknown conntrack state '{part}'");
                        }
                    }
                    Matches.Add(new ConntrackMatch(states, negated));
                    return true;
                }
                case "--mark":
                {
                    if (_module != "mark") return Fail("'--mark' needs -m mark before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    if (!ParseMark(v, out var value, out var mask)) return Fail($"'{v}' is not a mark (value or value/mask)");
                    Matches.Add(new MarkMatch(value, mask, negated));
                    return true;
                }
                case "--ipvs":
                    if (_module != "ipvs") return Fail("'--ipvs' needs -m ipvs before it");
                    Matches.Add(new IpvsMatch(negated));
                    return true;
                case "--icmp-type":
                {
                    if (_module != "icmp" && _protocol != IpProtocol.Icmp) return Fail("'--icmp-type' needs -p icmp before it");
                    var v = Value(opt);
                    if (v is null) return false;
                    int type = v switch { "echo-reply" => 0, "destination-unreachable" => 3, "echo-request" => 8, "time-exceeded" => 11, _ => -1 };
                    if (type < 0 && !(int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out type) && type <= 255))
                        return Fail($"'{v}' is not an ICMP type (a number or echo-request, echo-reply, destination-unreachable, time-exceeded)");
                    Matches.Add(new IcmpTypeMatch(type, negated));
                    return true;
                }
                case "--mode":
                    return Statistic(negated);
                default:
                    if (Target is not null) return TargetOption(opt);
                    return Fail($"unknown option '{opt}'");
            }
        }

        private bool Statistic(bool negated)
        {
            if (_module != "statistic") return Fail("'--mode' needs -m statistic before it");
            var mode = Value("--mode");
            if (mode is null) return false;
            if (mode == "random")
            {
                if (_i + 1 >= _tokens.Count || _tokens[_i] != "--probability") return Fail("'--mode random' needs '--probability P'");
                _i++;
                var v = _tokens[_i++];
                if (!double.TryParse(v, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var prob) || prob < 0 || prob > 1)
                    return Fail($"'{v}' is not a probability between 0 and 1");
                Matches.Add(new StatisticMatch(true, prob, 0, 0, negated));
                return true;
            }
            if (mode == "nth")
            {
                if (_i + 1 >= _tokens.Count || _tokens[_i] != "--every") return Fail("'--mode nth' needs '--every N'");
                _i++;
                if (!int.TryParse(_tokens[_i++], NumberStyles.None, CultureInfo.InvariantCulture, out var every) || every < 1)
                    return Fail("'--every' needs a positive number");
                int packet = 0;
                if (_i + 1 < _tokens.Count && _tokens[_i] == "--packet")
                {
                    _i++;
                    if (!int.TryParse(_tokens[_i++], NumberStyles.None, CultureInfo.InvariantCulture, out packet) || packet >= every)
                        return Fail("'--packet' needs a number below --every");
                }
                Matches.Add(new StatisticMatch(false, 0, every, packet, negated));
                return true;
            }
            return Fail($"statistic mode '{mode}' is not supported: use random or nth");
        }

        private string _targetName = "";

        private bool ParseTarget(string name, bool isGoto)
        {
            _targetName = name;
            if (isGoto)
            {
                if (!IsChain(name)) return Fail($"'{name}' is not a chain name");
                Target = new GotoTarget(name);
                return true;
            }
            switch (name)
            {
                case "ACCEPT": Target = new AcceptTarget(); return true;
                case "DROP": Target = new DropTarget(); return true;
                case "RETURN": Target = new ReturnTarget(); return true;
                case "REJECT": Target = new RejectTarget(); return true;
                case "MASQUERADE": Target = new MasqueradeTarget(); return true;
                case "TRACE": Target = new TraceTarget(); return true;
                case "LOG": Target = new LogTarget(""); return true;
                // These need an option; a placeholder until it is read (checked at the end of the rule).
                case "DNAT": case "SNAT": case "REDIRECT": case "MARK":
                    Target = new ReturnTarget();
                    _needsOption = true;
                    return true;
                default:
                    if (!IsChain(name)) return Fail($"'{name}' is not a target or chain name");
                    Target = new JumpTarget(name);
                    return true;
            }
        }

        private bool _needsOption;

        private bool TargetOption(string opt)
        {
            var v = Value(opt);
            if (v is null) return false;
            switch (_targetName, opt)
            {
                case ("DNAT", "--to-destination"):
                case ("SNAT", "--to-source"):
                {
                    if (!ParseHostPort(v, out var addr, out var port)) return Fail($"'{v}' is not IP or IP:port");
                    Target = _targetName == "DNAT" ? new DnatTarget(addr, port) : new SnatTarget(addr, port);
                    _needsOption = false;
                    return true;
                }
                case ("REDIRECT", "--to-ports"):
                case ("REDIRECT", "--to-port"):
                {
                    if (!ParsePort(v, out var port)) return Fail($"'{v}' is not a port (1-65535)");
                    Target = new RedirectTarget(port);
                    _needsOption = false;
                    return true;
                }
                case ("MARK", "--set-mark"):
                case ("MARK", "--set-xmark"):
                {
                    if (!ParseMark(v, out var value, out var mask)) return Fail($"'{v}' is not a mark (value or value/mask)");
                    Target = new MarkTarget(value, mask);
                    _needsOption = false;
                    return true;
                }
                case ("REJECT", "--reject-with"):
                    if (v is "tcp-reset") { Target = new RejectTarget(true); return true; }
                    if (v is "icmp-port-unreachable") { Target = new RejectTarget(false); return true; }
                    return Fail($"'--reject-with {v}' is not supported: use tcp-reset or icmp-port-unreachable");
                case ("LOG", "--log-prefix"):
                    Target = new LogTarget(v);
                    return true;
                default:
                    return Fail($"'{opt}' is not an option of target {_targetName}");
            }
        }

        public bool Finish() => !_needsOption || Fail($"target {_targetName} needs its option ({_targetName switch { "DNAT" => "--to-destination", "SNAT" => "--to-source", "REDIRECT" => "--to-ports", _ => "--set-mark" }})");

        private static bool IsChain(string s) => Semantics.TopologyAnalyzer.IsChainName(s);

        private static bool IsInterfaceName(string s)
        {
            if (s.Length == 0 || s.Length > InterfaceNames.MaxLength) return false;
            for (int k = 0; k < s.Length; k++)
            {
                char ch = s[k];
                bool ok = ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '-' or '.' || (ch == '+' && k == s.Length - 1);
                if (!ok) return false;
            }
            return true;
        }

        private static bool ParsePrefix(string s, out Ipv4Cidr prefix)
        {
            if (s.IndexOf('/') >= 0) return Ipv4Cidr.TryParse(s, out prefix);
            prefix = default;
            if (!Ipv4Address.TryParse(s, out var a)) return false;
            prefix = new Ipv4Cidr(a, 32);
            return true;
        }

        private static bool ParsePort(string s, out int port)
            => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

        private static bool ParsePortRange(string s, out int from, out int to)
        {
            to = 0;
            var colon = s.IndexOf(':');
            if (colon < 0)
            {
                var ok = ParsePort(s, out from);
                to = from;
                return ok;
            }
            return ParsePort(s.Substring(0, colon), out from) && ParsePort(s.Substring(colon + 1), out to) && from <= to;
        }

        private static bool ParseHostPort(string s, out Ipv4Address address, out int? port)
        {
            port = null;
            var colon = s.IndexOf(':');
            if (colon < 0) return Ipv4Address.TryParse(s, out address);
            if (!Ipv4Address.TryParse(s.Substring(0, colon), out address)) return false;
            if (!ParsePort(s.Substring(colon + 1), out var p)) return false;
            port = p;
            return true;
        }

        private static bool ParseMark(string s, out uint value, out uint mask)
        {
            mask = 0xFFFF_FFFFu;
            var slash = s.IndexOf('/');
            if (slash < 0) return ParseUInt(s, out value);
            return ParseUInt(s.Substring(0, slash), out value) & ParseUInt(s.Substring(slash + 1), out mask);
        }

        private static bool ParseUInt(string s, out uint v)
        {
            if (s.StartsWith("0x", System.StringComparison.OrdinalIgnoreCase))
                return uint.TryParse(s.Substring(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v) && s.Length > 2;
            return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        }

        private static List<string> Tokenize(string text, out string? error)
        {
            error = null;
            var tokens = new List<string>();
            int i = 0;
            while (i < text.Length)
            {
                if (text[i] is ' ' or '\t') { i++; continue; }
                var sb = new System.Text.StringBuilder();
                if (text[i] == '"')
                {
                    int end = text.IndexOf('"', i + 1);
                    if (end < 0)
                    {
                        error = "a double quote is not closed";
                        return tokens;
                    }
                    sb.Append(text, i + 1, end - i - 1);
                    i = end + 1;
                }
                else
                {
                    while (i < text.Length && text[i] is not (' ' or '\t')) sb.Append(text[i++]);
                }
                tokens.Add(sb.ToString());
            }
            if (tokens.Count == 0) error = "the rule is empty";
            return tokens;
        }
    }
}
