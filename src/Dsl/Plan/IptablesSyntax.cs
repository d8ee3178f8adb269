using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using SwarmDsl.Collections;
using SwarmDsl.Net;

namespace SwarmDsl.Plan;

/// <summary>
/// The iptables text form of a <see cref="NetfilterRule"/>, exactly as <c>iptables-save</c> (1.8, nf_tables backend) prints
/// it, and a parser for the rules users write in the YAML <c>rules:</c> escape hatch.
/// </summary>
/// <remarks>
/// iptables-save prints <c>-s</c>, <c>-d</c>, <c>-i</c>, <c>-o</c>, <c>-p</c> first, then the match modules in rule order,
/// then the target. The nf_tables backend turns tcp/udp port matches into native payload expressions and, when reading them
/// back, folds every port test of one protocol into the first <c>-m tcp</c> (<c>--sport</c> before <c>--dport</c>); the
/// formatter does the same so its output is a fixpoint of <c>iptables-restore</c> + <c>iptables-save</c> (the test suite
/// checks this against the real tool).
/// </remarks>
public static class IptablesSyntax
{
    /// <summary>The longest comment <c>-m comment</c> takes (XT_MAX_COMMENT_LEN 256 including the NUL), in bytes.</summary>
    public const int MaxCommentBytes = 255;

    /// <summary>The longest <c>--log-prefix</c> the LOG target takes (29 characters plus the NUL).</summary>
    public const int MaxLogPrefixLength = 29;

    /// <summary>The longest chain name iptables accepts.</summary>
    public const int MaxChainNameLength = 28;

    /// <summary>
    /// <c>-A CHAIN matches [-m comment --comment C] target</c>, as iptables-save prints it. <paramref name="comment"/> is
    /// printed as given (the caller keeps it within <see cref="MaxCommentBytes"/>); null prints no comment.
    /// </summary>
    public static string Format(NetfilterRule rule, string chain, string? comment)
    {
        if (rule is null) throw new ArgumentNullException(nameof(rule));
        var sb = new StringBuilder(96);
        sb.Append("-A ").Append(chain);
        AppendBody(sb, rule.Matches, rule.Target, comment);
        return sb.ToString();
    }

    /// <summary>The rule without <c>-A CHAIN</c>: the form <see cref="TryParse"/> reads (and <c>iptables -S</c> prints after the chain).</summary>
    public static string FormatBody(EquatableArray<RuleMatch> matches, RuleTarget target, string? comment = null)
    {
        var sb = new StringBuilder(96);
        AppendBody(sb, matches, target, comment);
        return sb.Length > 0 && sb[0] == ' ' ? sb.ToString(1, sb.Length - 1) : sb.ToString();
    }

    private static void AppendBody(StringBuilder sb, EquatableArray<RuleMatch> matches, RuleTarget target, string? comment)
    {
        // The fixed header iptables-save prints before any module: -s, -d, -i, -o, -p.
        foreach (var m in matches) if (m is AddressMatch { Direction: Direction.Source } a) AppendAddress(sb, a, "-s");
        foreach (var m in matches) if (m is AddressMatch { Direction: Direction.Destination } a) AppendAddress(sb, a, "-d");
        foreach (var m in matches) if (m is InterfaceMatch { Input: true } i) AppendInterface(sb, i, "-i");
        foreach (var m in matches) if (m is InterfaceMatch { Input: false } i) AppendInterface(sb, i, "-o");
        foreach (var m in matches)
            if (m is ProtocolMatch p) sb.Append(p.Negated ? " ! -p " : " -p ").Append(p.Protocol.Name());

        var folded = new HashSet<IpProtocol>();
        for (int i = 0; i < matches.Count; i++)
        {
            switch (matches[i])
            {
                case PortMatch port when port.Protocol is IpProtocol.Tcp or IpProtocol.Udp:
                    if (!folded.Add(port.Protocol)) break; // already printed with the first match of its protocol
                    sb.Append(" -m ").Append(port.Protocol.Name());
                    foreach (var dir in new[] { Direction.Source, Direction.Destination })
                        for (int j = i; j < matches.Count; j++)
                            if (matches[j] is PortMatch other && other.Protocol == port.Protocol && other.Direction == dir)
                                AppendPorts(sb, other);
                    break;
                case PortMatch port:
                    sb.Append(" -m ").Append(port.Protocol.Name());
                    AppendPorts(sb, port);
                    break;
                case MultiportMatch mp:
                    sb.Append(" -m multiport").Append(mp.Negated ? " !" : "").Append(mp.Direction == Direction.Source ? " --sports " : " --dports ");
                    for (int k = 0; k < mp.Ports.Count; k++)
                    {
                        if (k > 0) sb.Append(',');
                        sb.Append(mp.Ports[k].ToString(CultureInfo.InvariantCulture));
                    }
                    break;
                case AddrTypeMatch at:
                    sb.Append(" -m addrtype").Append(at.Negated ? " !" : "").Append(at.Direction == Direction.Source ? " --src-type " : " --dst-type ")
                      .Append(AddressTypeName(at.Type));
                    break;
                case ConntrackMatch ct:
                    sb.Append(" -m conntrack").Append(ct.Negated ? " !" : "").Append(" --ctstate ").Append(FormatCtStates(ct.States));
                    break;
                case MarkMatch mark:
                    sb.Append(" -m mark").Append(mark.Negated ? " !" : "").Append(" --mark ").Append(Hex(mark.Value));
                    if (mark.Mask != uint.MaxValue) sb.Append('/').Append(Hex(mark.Mask));
                    break;
                case IpvsMatch ipvs:
                    sb.Append(" -m ipvs").Append(ipvs.Negated ? " !" : "").Append(" --ipvs");
                    break;
                case IcmpTypeMatch icmp:
                    sb.Append(" -m icmp").Append(icmp.Negated ? " !" : "").Append(" --icmp-type ")
                      .Append(icmp.Type == 255 ? "any" : icmp.Type.ToString(CultureInfo.InvariantCulture));
                    break;
                case StatisticMatch st when st.Random:
                    sb.Append(" -m statistic --mode random").Append(st.Negated ? " !" : "").Append(" --probability ")
                      .Append(FormatProbability(ProbabilityToKernel(st.Probability)));
                    break;
                case StatisticMatch st:
                    sb.Append(" -m statistic --mode nth").Append(st.Negated ? " !" : "").Append(" --every ")
                      .Append(st.Every.ToString(CultureInfo.InvariantCulture)).Append(" --packet ").Append(st.Packet.ToString(CultureInfo.InvariantCulture));
                    break;
            }
        }

        if (comment is not null) sb.Append(" -m comment --comment ").Append(Quote(comment));
        AppendTarget(sb, target);
    }

    private static void AppendAddress(StringBuilder sb, AddressMatch a, string flag)
    {
        // iptables drops a 0.0.0.0/0 match (it matches everything) and masks host bits away.
        if (a.Prefix.PrefixLength == 0 && !a.Negated) return;
        sb.Append(a.Negated ? " ! " : " ").Append(flag).Append(' ').Append(a.Prefix.Subnet.ToString());
    }

    private static void AppendInterface(StringBuilder sb, InterfaceMatch i, string flag)
        => sb.Append(i.Negated ? " ! " : " ").Append(flag).Append(' ').Append(i.Interface);

    private static void AppendPorts(StringBuilder sb, PortMatch p)
    {
        // libxt_tcp/udp print nothing for the full range unless it is inverted.
        if (p.From == 0 && p.To == 65535 && !p.Negated) return;
        sb.Append(p.Negated ? " !" : "").Append(p.Direction == Direction.Source ? " --sport " : " --dport ")
          .Append(p.From.ToString(CultureInfo.InvariantCulture));
        if (p.To != p.From) sb.Append(':').Append(p.To.ToString(CultureInfo.InvariantCulture));
    }

    private static void AppendTarget(StringBuilder sb, RuleTarget target)
    {
        switch (target)
        {
            case AcceptTarget: sb.Append(" -j ACCEPT"); break;
            case DropTarget: sb.Append(" -j DROP"); break;
            case ReturnTarget: sb.Append(" -j RETURN"); break;
            case RejectTarget r: sb.Append(" -j REJECT --reject-with ").Append(r.TcpReset ? "tcp-reset" : "icmp-port-unreachable"); break;
            case JumpTarget j: sb.Append(" -j ").Append(j.Chain); break;
            case GotoTarget g: sb.Append(" -g ").Append(g.Chain); break;
            case DnatTarget d: sb.Append(" -j DNAT --to-destination ").Append(d.Address.ToString()); AppendPort(sb, d.Port); break;
            case SnatTarget s: sb.Append(" -j SNAT --to-source ").Append(s.Address.ToString()); AppendPort(sb, s.Port); break;
            case MasqueradeTarget: sb.Append(" -j MASQUERADE"); break;
            case RedirectTarget r: sb.Append(" -j REDIRECT --to-ports ").Append(r.Port.ToString(CultureInfo.InvariantCulture)); break;
            case MarkTarget m: sb.Append(" -j MARK --set-xmark ").Append(Hex(m.Value)).Append('/').Append(Hex(m.Mask)); break;
            case LogTarget l:
                sb.Append(" -j LOG");
                if (l.Prefix.Length > 0) sb.Append(" --log-prefix ").Append(Quote(l.Prefix));
                break;
            case TraceTarget: sb.Append(" -j TRACE"); break;
            default: throw new ArgumentOutOfRangeException(nameof(target), target?.GetType().Name, "unknown rule target");
        }
    }

    private static void AppendPort(StringBuilder sb, int? port)
    {
        if (port is int p) sb.Append(':').Append(p.ToString(CultureInfo.InvariantCulture));
    }

    private static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>The conntrack states in the order libxt_conntrack prints them: <c>INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT</c>.</summary>
    public static string FormatCtStates(CtState states)
    {
        var parts = new List<string>(7);
        foreach (var (flag, name) in CtStateNames) if ((states & flag) != 0) parts.Add(name);
        return string.Join(",", parts);
    }

    private static readonly (CtState Flag, string Name)[] CtStateNames =
    {
        (CtState.Invalid, "INVALID"), (CtState.New, "NEW"), (CtState.Related, "RELATED"), (CtState.Established, "ESTABLISHED"),
        (CtState.Untracked, "UNTRACKED"), (CtState.Snat, "SNAT"), (CtState.Dnat, "DNAT"),
    };

    /// <summary>LOCAL, UNICAST, BROADCAST, MULTICAST.</summary>
    public static string AddressTypeName(AddressType t) => t switch
    {
        AddressType.Local => "LOCAL",
        AddressType.Unicast => "UNICAST",
        AddressType.Broadcast => "BROADCAST",
        _ => "MULTICAST",
    };

    /// <summary>
    /// The kernel's fixed-point form of a <c>--probability</c>: <c>lround(0x80000000 * p)</c>, compared with 31 random bits
    /// (libxt_statistic).
    /// </summary>
    public static uint ProbabilityToKernel(double probability)
    {
        if (double.IsNaN(probability) || probability <= 0) return 0;
        if (probability >= 1) return 0x80000000u;
        return (uint)Math.Round(0x80000000 * probability, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// <c>printf("%.11f", k / 2^31)</c> computed exactly in integers (the quotient has up to 31 binary digits, so a double
    /// formatter could round an exact tie differently from glibc, which rounds ties to even).
    /// </summary>
    public static string FormatProbability(uint kernelValue)
    {
        // k / 2^31 * 10^11 = k * 5^11 / 2^20.
        ulong n = kernelValue * 48828125UL;
        ulong whole = n >> 20, rem = n & ((1UL << 20) - 1), half = 1UL << 19;
        if (rem > half || (rem == half && (whole & 1) == 1)) whole++;
        const ulong scale = 100_000_000_000UL;
        return (whole / scale).ToString(CultureInfo.InvariantCulture) + "." + (whole % scale).ToString("D11", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Quotes a string argument as iptables-save does (<c>xtables_save_string</c>): bare when it is non-empty and only
    /// letters, digits, <c>_</c> and <c>-</c>; otherwise in double quotes with <c>"</c>, <c>\</c> and <c>'</c> escaped by a backslash.
    /// </summary>
    public static string Quote(string value)
    {
        if (value is null) throw new ArgumentNullException(nameof(value));
        bool bare = value.Length > 0;
        foreach (var c in value)
            if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-')) { bare = false; break; }
        if (bare) return value;
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            if (c is '"' or '\\' or '\'') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Parsing the rules: escape hatch.
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Parses one rule written in iptables syntax without <c>-A CHAIN</c> (e.g. <c>-p tcp --dport 22 -j ACCEPT</c>) into plan
    /// matches and a target. Accepts the spellings people use (implicit <c>-m tcp</c>, long option names,
    /// <c>--set-mark</c>, <c>--to</c>, <c>-m state</c>) and rejects, with a message naming the problem, anything the plan
    /// cannot express exactly or that could not be loaded safely. Never throws.
    /// </summary>
    public static bool TryParse(string text, out EquatableArray<RuleMatch> matches, out RuleTarget? target, out string error)
    {
        matches = EquatableArray<RuleMatch>.Empty;
        target = null;
        if (text is null) { error = "the rule is empty"; return false; }
        if (!Tokenize(text, out var tokens, out error)) return false;
        if (tokens.Count == 0) { error = "the rule is empty"; return false; }
        var parser = new RuleParser(tokens);
        if (!parser.Run(out error)) return false;
        matches = parser.Matches.ToEquatableArray();
        target = parser.Target;
        error = "";
        return true;
    }

    /// <summary>Splits like iptables-restore (and a shell): whitespace separates, "…" and '…' group, \ escapes inside "…".</summary>
    private static bool Tokenize(string text, out List<string> tokens, out string error)
    {
        tokens = new List<string>();
        error = "";
        var cur = new StringBuilder();
        bool inToken = false;
        char quote = '\0';
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsControl(c) && c != '\t' && !(c == ' '))
            {
                error = "the rule contains a control character (U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) + "); write it on one line";
                return false;
            }
            if (quote == '\0')
            {
                if (c == ' ' || c == '\t')
                {
                    if (inToken) { tokens.Add(cur.ToString()); cur.Clear(); inToken = false; }
                }
                else if (c == '"' || c == '\'') { quote = c; inToken = true; }
                else if (c == '\\') { error = "a backslash outside quotes is not supported"; return false; }
                else if (c is ';' or '|' or '&' or '`' or '$' or '<' or '>' or '#')
                {
                    error = "'" + c + "' is not part of iptables syntax; quote it if it belongs to a value";
                    return false;
                }
                else { cur.Append(c); inToken = true; }
            }
            else if (c == quote) quote = '\0';
            else if (quote == '"' && c == '\\')
            {
                if (i + 1 >= text.Length) { error = "the rule ends inside a quoted string"; return false; }
                cur.Append(text[++i]);
            }
            else cur.Append(c);
        }
        if (quote != '\0') { error = "unterminated " + (quote == '"' ? "double" : "single") + " quote"; return false; }
        if (inToken) tokens.Add(cur.ToString());
        return true;
    }

    /// <summary>A recursive-descent reader over the tokens of one rule, in iptables' option grammar.</summary>
    private sealed class RuleParser
    {
        private readonly List<string> _t;
        private int _pos;
        private string? _module;        // the module whose options we are reading (explicit -m or implicit)
        private ProtocolMatch? _protocol;
        private int _moduleInstance;   // counts explicit -m, so options repeat only in separate modules
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public RuleParser(List<string> tokens) => _t = tokens;

        public List<RuleMatch> Matches { get; } = new();
        public RuleTarget? Target { get; private set; }

        private static readonly string[] Modules =
            { "tcp", "udp", "sctp", "icmp", "multiport", "conntrack", "state", "mark", "addrtype", "statistic", "ipvs" };

        private static readonly HashSet<string> KnownUnsupportedTargets = new(StringComparer.Ordinal)
        {
            "AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK", "CONNSECMARK", "CT", "DSCP", "ECN", "HMARK", "IDLETIMER",
            "LED", "NETMAP", "NFLOG", "NFQUEUE", "NOTRACK", "QUEUE", "RATEEST", "SECMARK", "SET", "SYNPROXY", "TCPMSS",
            "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TTL", "ULOG",
        };

        public bool Run(out string error)
        {
            while (_pos < _t.Count)
            {
                bool negated = false;
                var tok = _t[_pos];
                if (tok == "!")
                {
                    negated = true;
                    _pos++;
                    if (_pos >= _t.Count) { error = "'!' at the end of the rule negates nothing"; return false; }
                    tok = _t[_pos];
                    if (tok == "!") { error = "'! !' is not allowed"; return false; }
                }
                _pos++;
                if (!Option(tok, negated, out error)) return false;
            }
            if (Target is null)
            {
                error = "the rule has no target: end it with -j ACCEPT, -j DROP, -j REJECT, -j RETURN, -j LOG, -j CHAIN or similar";
                return false;
            }
            error = "";
            return true;
        }

        private bool Value(string option, out string value, out string error)
        {
            if (_pos >= _t.Count || (_t[_pos].StartsWith("-", StringComparison.Ordinal) && _t[_pos].Length > 1 && !IsNumberLike(_t[_pos])) || _t[_pos] == "!")
            {
                value = "";
                error = option + " needs a value";
                if (_pos < _t.Count && _t[_pos] == "!") error += " (write '! " + option + " VALUE', with the '!' before the option)";
                return false;
            }
            value = _t[_pos++];
            error = "";
            return true;
        }

        private static bool IsNumberLike(string s) => s.Length > 1 && s[0] == '-' && char.IsDigit(s[1]);

        private bool Once(string key, string shown, out string error)
        {
            if (!_seen.Add(key)) { error = shown + " is given twice"; return false; }
            error = "";
            return true;
        }

        private bool Option(string tok, bool negated, out string error)
        {
            switch (tok)
            {
                case "-A": case "--append": case "-I": case "--insert": case "-D": case "--delete": case "-R": case "--replace":
                    error = "write the rule without '" + tok + " CHAIN': the chain comes from where the rule stands in the YAML";
                    return false;
                case "-t": case "--table": case "-N": case "--new-chain": case "-F": case "--flush": case "-X": case "--delete-chain":
                case "-P": case "--policy": case "-Z": case "--zero": case "-E": case "--rename-chain":
                    error = "'" + tok + "' is a command, not part of a rule; the table and chain come from the YAML";
                    return false;
                case "-s": case "--source": case "--src":
                    return Address(tok, Direction.Source, negated, out error);
                case "-d": case "--destination": case "--dst":
                    return Address(tok, Direction.Destination, negated, out error);
                case "-i": case "--in-interface":
                    return Interface(tok, true, negated, out error);
                case "-o": case "--out-interface":
                    return Interface(tok, false, negated, out error);
                case "-p": case "--protocol":
                    return Protocol(tok, negated, out error);
                case "-m": case "--match":
                    return Module(tok, negated, out error);
                case "-j": case "--jump":
                    return Jump(tok, negated, goTo: false, out error);
                case "-g": case "--goto":
                    return Jump(tok, negated, goTo: true, out error);
                case "-4": case "--ipv4":
                    if (negated) { error = "'!' cannot negate " + tok; return false; }
                    error = "";
                    return true;
                case "-f": case "--fragment":
                    error = "fragment matches (" + tok + ") are not supported";
                    return false;
                case "-c": case "--set-counters":
                    error = "counters (" + tok + ") are not supported";
                    return false;
            }
            if (tok.StartsWith("--", StringComparison.Ordinal)) return ModuleOption(tok, negated, out error);
            error = tok.StartsWith("-", StringComparison.Ordinal)
                ? "unsupported option '" + tok + "'"
                : "unexpected '" + tok + "' (values follow their option, e.g. --dport 22)";
            return false;
        }

        private bool Address(string tok, Direction dir, bool negated, out string error)
        {
            if (!Once(dir == Direction.Source ? "-s" : "-d", dir == Direction.Source ? "-s" : "-d", out error)) return false;
            if (!Value(tok, out var v, out error)) return false;
            if (!ParsePrefix(v, out var cidr))
            {
                error = tok + " '" + v + "' is not an IPv4 address or prefix (a.b.c.d, a.b.c.d/n or a.b.c.d/mask; host names and lists are not supported)";
                return false;
            }
            if (cidr.PrefixLength == 0)
            {
                if (negated) { error = "! " + tok + " 0.0.0.0/0 matches no packet"; return false; }
                return true; // matches everything: iptables drops it too
            }
            Matches.Add(new AddressMatch(dir, cidr.Subnet, negated));
            return true;
        }

        private static bool ParsePrefix(string v, out Ipv4Cidr cidr)
        {
            cidr = default;
            int slash = v.IndexOf('/');
            if (slash < 0)
            {
                if (!Ipv4Address.TryParse(v, out var a)) return false;
                cidr = new Ipv4Cidr(a, 32);
                return true;
            }
            if (!Ipv4Address.TryParse(v.Substring(0, slash), out var addr)) return false;
            var len = v.Substring(slash + 1);
            if (Ipv4Address.TryParse(len, out var mask))
            {
                // A dotted mask must be contiguous ones.
                uint inv = ~mask.Value;
                if ((inv & (inv + 1)) != 0) return false;
                int n = 0;
                for (uint m = mask.Value; m != 0; m <<= 1) n++;
                cidr = new Ipv4Cidr(addr, n);
                return true;
            }
            return Ipv4Cidr.TryParse(v, out cidr);
        }

        private bool Interface(string tok, bool input, bool negated, out string error)
        {
            if (!Once(input ? "-i" : "-o", input ? "-i" : "-o", out error)) return false;
            if (!Value(tok, out var v, out error)) return false;
            var stem = v.EndsWith("+", StringComparison.Ordinal) ? v.Substring(0, v.Length - 1) : v;
            bool ok = v.Length <= 15 && (stem.Length > 0 || v == "+");
            foreach (var c in stem)
                if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.')) ok = false;
            if (!ok)
            {
                error = tok + " '" + v + "' is not an interface name (1-15 letters, digits, '_', '-', '.', optionally ending in '+')";
                return false;
            }
            if (v == "+")
            {
                if (negated) { error = "! " + tok + " + matches no packet"; return false; }
                return true; // any interface
            }
            Matches.Add(new InterfaceMatch(input, v, negated));
            return true;
        }

        private bool Protocol(string tok, bool negated, out string error)
        {
            if (!Once("-p", "-p", out error)) return false;
            if (!Value(tok, out var v, out error)) return false;
            IpProtocol p;
            switch (v.ToLowerInvariant())
            {
                case "tcp": case "6": p = IpProtocol.Tcp; break;
                case "udp": case "17": p = IpProtocol.Udp; break;
                case "sctp": case "132": p = IpProtocol.Sctp; break;
                case "icmp": case "1": p = IpProtocol.Icmp; break;
                case "all": case "0":
                    if (negated) { error = "! -p all matches no packet"; return false; }
                    return true;
                default:
                    error = "unsupported protocol '" + v + "' (tcp, udp, sctp, icmp or all)";
                    return false;
            }
            _protocol = new ProtocolMatch(p, negated);
            Matches.Add(_protocol);
            return true;
        }

        private bool Module(string tok, bool negated, out string error)
        {
            if (negated) { error = "'!' cannot negate " + tok + "; put it before the module's option"; return false; }
            if (!Value(tok, out var name, out error)) return false;
            if (name == "comment")
            {
                error = "-m comment is not allowed: swarmdsl writes each rule's comment itself (it names the YAML line)";
                return false;
            }
            if (Array.IndexOf(Modules, name) < 0)
            {
                error = "unsupported match module '" + name + "' (supported: tcp, udp, sctp, icmp, multiport, conntrack, state, mark, addrtype, statistic, ipvs)";
                return false;
            }
            switch (name)
            {
                case "tcp": case "udp": case "sctp":
                    if (!RequireProtocol("-m " + name, name, out error)) return false;
                    break;
                case "icmp":
                    if (_protocol is not { Protocol: IpProtocol.Icmp, Negated: false }) { error = "-m icmp needs -p icmp before it"; return false; }
                    break;
                case "multiport":
                    if (!RequireProtocol("-m multiport", null, out error)) return false;
                    break;
            }
            _module = name;
            _moduleInstance++;
            int next = _pos < _t.Count && _t[_pos] == "!" ? _pos + 1 : _pos;
            bool hasOption = next < _t.Count && IsOptionOf(name, _t[next]);
            if (!hasOption)
            {
                // "-m tcp" alone matches every tcp packet (the full port range); other modules need their option.
                if (name is not ("tcp" or "udp" or "sctp")) { error = "-m " + name + " needs " + RequiredOption(name); return false; }
                IpProtocolNames.TryParse(name, out var proto);
                Matches.Add(new PortMatch(proto, Direction.Destination, 0, 65535));
            }
            error = "";
            return true;
        }

        private static string RequiredOption(string module) => module switch
        {
            "icmp" => "--icmp-type",
            "multiport" => "--dports or --sports",
            "conntrack" => "--ctstate",
            "state" => "--state",
            "mark" => "--mark",
            "addrtype" => "--src-type or --dst-type",
            "statistic" => "--mode random --probability P or --mode nth --every N --packet P",
            "ipvs" => "--ipvs",
            _ => "an option",
        };

        private static bool IsOptionOf(string module, string tok) => module switch
        {
            "tcp" or "udp" or "sctp" => tok is "--dport" or "--sport" or "--destination-port" or "--source-port",
            "icmp" => tok == "--icmp-type",
            "multiport" => tok is "--dports" or "--sports" or "--destination-ports" or "--source-ports" or "--ports",
            "conntrack" => tok == "--ctstate",
            "state" => tok == "--state",
            "mark" => tok == "--mark",
            "addrtype" => tok is "--src-type" or "--dst-type" or "--limit-iface-in" or "--limit-iface-out",
            "statistic" => tok is "--mode" or "--probability" or "--every" or "--packet",
            "ipvs" => tok == "--ipvs",
            _ => false,
        };

        private bool RequireProtocol(string what, string? only, out string error)
        {
            error = "";
            if (_protocol is { Negated: false } p && p.Protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp
                && (only is null || p.Protocol.Name() == only))
                return true;
            error = what + " needs " + (only is null ? "-p tcp, -p udp or -p sctp" : "-p " + only) + " before it";
            return false;
        }

        private bool ModuleOption(string tok, bool negated, out string error)
        {
            // An option with no -m loads its protocol's module implicitly (-p tcp --dport 22), as iptables does.
            string? module = _module is not null && IsOptionOf(_module, tok) ? _module : null;
            if (module is null)
            {
                if (tok is "--dport" or "--sport" or "--destination-port" or "--source-port")
                {
                    if (!RequireProtocol(tok, null, out error)) return false;
                    module = _protocol!.Protocol.Name();
                }
                else if (tok == "--icmp-type")
                {
                    if (_protocol is not { Protocol: IpProtocol.Icmp, Negated: false }) { error = "--icmp-type needs -p icmp before it"; return false; }
                    module = "icmp";
                }
                else
                {
                    error = "unsupported option '" + tok + "'" + (_module is null ? "" : " for -m " + _module);
                    foreach (var m in Modules)
                        if (IsOptionOf(m, tok)) { error = tok + " belongs to -m " + m + "; write -m " + m + " before it"; break; }
                    if (tok.StartsWith("--to", StringComparison.Ordinal) || tok.StartsWith("--set", StringComparison.Ordinal)
                        || tok.StartsWith("--log", StringComparison.Ordinal) || tok.StartsWith("--reject", StringComparison.Ordinal))
                        error += " (target options go right after -j TARGET)";
                    return false;
                }
                _module = module;
            }
            switch (module)
            {
                case "tcp": case "udp": case "sctp": return Ports(module, tok, negated, out error);
                case "icmp": return Icmp(tok, negated, out error);
                case "multiport": return Multiport(tok, negated, out error);
                case "conntrack": case "state": return States(module, tok, negated, out error);
                case "mark": return Mark(tok, negated, out error);
                case "addrtype": return AddrType(tok, negated, out error);
                case "statistic": return Statistic(tok, negated, out error);
                case "ipvs":
                    if (tok != "--ipvs") break;
                    Matches.Add(new IpvsMatch(negated));
                    error = "";
                    _module = null;
                    return true;
            }
            error = "unsupported option '" + tok + "'";
            return false;
        }

        private bool Ports(string module, string tok, bool negated, out string error)
        {
            var dir = tok is "--sport" or "--source-port" ? Direction.Source : Direction.Destination;
            var shown = dir == Direction.Source ? "--sport" : "--dport";
            // tcp/udp: the nf_tables backend keeps one value per direction for the whole rule; sctp: one per -m sctp.
            var key = module == "sctp" ? module + "#" + _moduleInstance.ToString(CultureInfo.InvariantCulture) + shown : module + shown;
            if (!Once(key, shown, out error)) return false;
            if (!Value(tok, out var v, out error)) return false;
            if (!ParsePortRange(v, out int from, out int to))
            {
                error = tok + " '" + v + "' is not a port or range (N or N:M, 0-65535; service names are not supported)";
                return false;
            }
            if (negated && from == 0 && to == 65535) { error = "! " + tok + " 0:65535 matches no packet"; return false; }
            IpProtocolNames.TryParse(module, out var proto);
            Matches.Add(new PortMatch(proto, dir, from, to, negated));
            return true;
        }

        private static bool ParsePortRange(string v, out int from, out int to)
        {
            from = 0; to = 65535;
            int colon = v.IndexOf(':');
            if (colon < 0)
            {
                if (!ParsePort(v, out from)) return false;
                to = from;
                return true;
            }
            var a = v.Substring(0, colon);
            var b = v.Substring(colon + 1);
            if (a.Length == 0 && b.Length == 0) return false;
            if (a.Length > 0 && !ParsePort(a, out from)) return false;
            if (b.Length > 0 && !ParsePort(b, out to)) return false;
            return from <= to;
        }

        private static bool ParsePort(string s, out int port)
        {
            port = 0;
            if (s.Length == 0 || s.Length > 5) return false;
            foreach (var c in s) if (c < '0' || c > '9') return false;
            port = int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
            return port <= 65535;
        }

        private static readonly Dictionary<string, int> IcmpNames = new(StringComparer.Ordinal)
        {
            ["any"] = 255, ["echo-reply"] = 0, ["pong"] = 0, ["destination-unreachable"] = 3, ["source-quench"] = 4, ["redirect"] = 5,
            ["echo-request"] = 8, ["ping"] = 8, ["router-advertisement"] = 9, ["router-solicitation"] = 10, ["time-exceeded"] = 11,
            ["ttl-exceeded"] = 11, ["parameter-problem"] = 12, ["timestamp-request"] = 13, ["timestamp-reply"] = 14,
            ["address-mask-request"] = 17, ["address-mask-reply"] = 18,
        };

        private bool Icmp(string tok, bool negated, out string error)
        {
            if (!Once("--icmp-type#" + _moduleInstance.ToString(CultureInfo.InvariantCulture), "--icmp-type", out error)) return false;
            if (!Value(tok, out var v, out error)) return false;
            int type;
            if (IcmpNames.TryGetValue(v.ToLowerInvariant(), out var named)) type = named;
            else if (v.Length is > 0 and <= 3 && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out type) && type <= 255) { }
            else
            {
                error = "--icmp-type '" + v + "' is not supported (a type number 0-255, 'any', or a name such as echo-request; codes like 3/1 are not supported)";
                return false;
            }
            if (negated && type == 255) { error = "! --icmp-type any matches no packet"; return false; }
            Matches.Add(new IcmpTypeMatch(type, negated));
            _module = null;
            return true;
        }

        private bool Multiport(string tok, bool negated, out string error)
        {
            if (tok == "--ports") { error = "-m multiport --ports (either direction) is not supported; use --dports or --sports"; return false; }
            var dir = tok is "--sports" or "--source-ports" ? Direction.Source : Direction.Destination;
            if (!Value(tok, out var v, out error)) return false;
            var parts = v.Split(',');
            if (parts.Length > 15) { error = tok + " takes at most 15 ports"; return false; }
            var ports = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (parts[i].IndexOf(':') >= 0) { error = tok + " port ranges ('" + parts[i] + "') are not supported; list the ports"; return false; }
                if (!ParsePort(parts[i], out ports[i])) { error = tok + " '" + parts[i] + "' is not a port number"; return false; }
            }
            Matches.Add(new MultiportMatch(dir, EquatableArray<int>.Own(ports), negated));
            _module = null;
            return true;
        }

        private bool States(string module, string tok, bool negated, out string error)
        {
            if (!Value(tok, out var v, out error)) return false;
            CtState states = CtState.None;
            foreach (var part in v.Split(','))
            {
                CtState s = part.ToUpperInvariant() switch
                {
                    "INVALID" => CtState.Invalid,
                    "NEW" => CtState.New,
                    "RELATED" => CtState.Related,
                    "ESTABLISHED" => CtState.Established,
                    "UNTRACKED" => CtState.Untracked,
                    "SNAT" when module == "conntrack" => CtState.Snat,
                    "DNAT" when module == "conntrack" => CtState.Dnat,
                    _ => CtState.None,
                };
                if (s == CtState.None)
                {
                    error = tok + " '" + part + "' is not a state (INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED" + (module == "conntrack" ? ", SNAT, DNAT)" : ")");
                    return false;
                }
                states |= s;
            }
            Matches.Add(new ConntrackMatch(states, negated));
            _module = null;
            return true;
        }

        private bool Mark(string tok, bool negated, out string error)
        {
            if (!Value(tok, out var v, out error)) return false;
            if (!ParseValueMask(v, out uint value, out uint? mask))
            {
                error = "--mark '" + v + "' is not VALUE or VALUE/MASK (32-bit numbers, decimal or 0x hex)";
                return false;
            }
            Matches.Add(new MarkMatch(value, mask ?? uint.MaxValue, negated));
            _module = null;
            return true;
        }

        private bool AddrType(string tok, bool negated, out string error)
        {
            if (tok is "--limit-iface-in" or "--limit-iface-out") { error = "-m addrtype " + tok + " is not supported"; return false; }
            var dir = tok == "--src-type" ? Direction.Source : Direction.Destination;
            if (!Value(tok, out var v, out error)) return false;
            AddressType type;
            switch (v.ToUpperInvariant())
            {
                case "LOCAL": type = AddressType.Local; break;
                case "UNICAST": type = AddressType.Unicast; break;
                case "BROADCAST": type = AddressType.Broadcast; break;
                case "MULTICAST": type = AddressType.Multicast; break;
                default:
                    error = tok + " '" + v + "' is not supported (LOCAL, UNICAST, BROADCAST or MULTICAST; one type)";
                    return false;
            }
            Matches.Add(new AddrTypeMatch(dir, type, negated));
            // -m addrtype --src-type A --dst-type B: both options belong to one module; keep reading its options.
            return true;
        }

        private bool Statistic(string tok, bool negated, out string error)
        {
            if (tok != "--mode") { error = "-m statistic needs --mode first"; return false; }
            if (negated) { error = "--mode cannot be negated; negate --probability or --every"; return false; }
            if (!Value(tok, out var mode, out error)) return false;
            bool NextOption(string name, out bool neg, out string val, out string err)
            {
                neg = false; val = "";
                if (_pos < _t.Count && _t[_pos] == "!") { neg = true; _pos++; }
                if (_pos >= _t.Count || _t[_pos] != name) { err = "-m statistic --mode " + mode + " needs " + name; return false; }
                _pos++;
                return Value(name, out val, out err);
            }
            if (mode == "random")
            {
                if (!NextOption("--probability", out var neg, out var p, out error)) return false;
                // double.TryParse takes "NaN" and "Infinity" whatever the style, and NaN fails every comparison: test the range
                // so that NaN lands outside it.
                if (!double.TryParse(p, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var prob) || !(prob >= 0 && prob <= 1))
                {
                    error = "--probability '" + p + "' is not a number between 0 and 1";
                    return false;
                }
                Matches.Add(new StatisticMatch(true, prob, 0, 0, neg));
            }
            else if (mode == "nth")
            {
                if (!NextOption("--every", out var neg, out var e, out error)) return false;
                if (!int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var every) || every < 1)
                {
                    error = "--every '" + e + "' is not a positive number";
                    return false;
                }
                if (_pos < _t.Count && _t[_pos] == "!") { error = "--packet cannot be negated; negate --every"; return false; }
                if (!NextOption("--packet", out _, out var pk, out error)) return false;
                if (!int.TryParse(pk, NumberStyles.None, CultureInfo.InvariantCulture, out var packet) || packet >= every)
                {
                    error = "--packet '" + pk + "' must be a number from 0 to " + (every - 1).ToString(CultureInfo.InvariantCulture);
                    return false;
                }
                Matches.Add(new StatisticMatch(false, 0, every, packet, neg));
            }
            else
            {
                error = "--mode '" + mode + "' is not random or nth";
                return false;
            }
            _module = null;
            return true;
        }

        private static bool ParseValueMask(string v, out uint value, out uint? mask)
        {
            mask = null;
            int slash = v.IndexOf('/');
            if (slash < 0) return ParseUInt(v, out value);
            if (!ParseUInt(v.Substring(0, slash), out value)) return false;
            if (!ParseUInt(v.Substring(slash + 1), out var m)) return false;
            mask = m;
            return true;
        }

        private static bool ParseUInt(string s, out uint value)
        {
            value = 0;
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                var hex = s.Substring(2);
                if (hex.Length is 0 or > 8) return false;
                foreach (var c in hex) if (!Uri.IsHexDigit(c)) return false;
                return uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
            }
            if (s.Length is 0 or > 10 || (s.Length > 1 && s[0] == '0')) return false; // a leading 0 would be octal to iptables
            foreach (var c in s) if (c < '0' || c > '9') return false;
            return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }

        private bool Jump(string tok, bool negated, bool goTo, out string error)
        {
            if (negated) { error = "'!' cannot negate " + tok; return false; }
            if (Target is not null) { error = "the rule has two targets"; return false; }
            if (!Value(tok, out var name, out error)) return false;
            _module = null;
            if (goTo) return UserChain(tok, name, goTo: true, out error);
            switch (name)
            {
                case "ACCEPT": return Plain(new AcceptTarget(), out error);
                case "DROP": return Plain(new DropTarget(), out error);
                case "RETURN": return Plain(new ReturnTarget(), out error);
                case "MASQUERADE": return Plain(new MasqueradeTarget(), out error);
                case "TRACE": return Plain(new TraceTarget(), out error);
                case "REJECT": return Reject(out error);
                case "DNAT": return Nat(dnat: true, out error);
                case "SNAT": return Nat(dnat: false, out error);
                case "REDIRECT": return Redirect(out error);
                case "MARK": return MarkTarget(out error);
                case "LOG": return Log(out error);
            }
            if (KnownUnsupportedTargets.Contains(name)) { error = "unsupported target " + name; return false; }
            return UserChain(tok, name, goTo: false, out error);
        }

        private bool UserChain(string tok, string name, bool goTo, out string error)
        {
            bool ok = name.Length is > 0 and <= MaxChainNameLength && name[0] != '-';
            foreach (var c in name)
                if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.')) ok = false;
            if (!ok)
            {
                error = tok + " '" + name + "' is not a chain name (1-28 letters, digits, '_', '-', '.')";
                return false;
            }
            if (name is "INPUT" or "OUTPUT" or "FORWARD" or "PREROUTING" or "POSTROUTING")
            {
                error = tok + " " + name + ": a built-in chain cannot be a jump target";
                return false;
            }
            Target = goTo ? new GotoTarget(name) : new JumpTarget(name);
            return NoTargetOptions(name, out error);
        }

        private bool Plain(RuleTarget t, out string error)
        {
            Target = t;
            return NoTargetOptions(TargetName(t), out error);
        }

        private static string TargetName(RuleTarget t) => t switch
        {
            AcceptTarget => "ACCEPT", DropTarget => "DROP", ReturnTarget => "RETURN", MasqueradeTarget => "MASQUERADE", TraceTarget => "TRACE", _ => "the target",
        };

        private bool NoTargetOptions(string name, out string error)
        {
            if (_pos < _t.Count && _t[_pos].StartsWith("--", StringComparison.Ordinal))
            {
                error = "unsupported option '" + _t[_pos] + "' for " + name;
                return false;
            }
            error = "";
            return true;
        }

        /// <summary>Reads the target's options: "--name value" pairs until the next non-target token.</summary>
        private bool TargetOptions(string target, HashSet<string> allowed, Dictionary<string, string> values, out string error)
        {
            while (_pos < _t.Count && _t[_pos].StartsWith("--", StringComparison.Ordinal))
            {
                var opt = _t[_pos++];
                if (!allowed.Contains(opt)) { error = "unsupported option '" + opt + "' for " + target; return false; }
                if (values.ContainsKey(opt)) { error = opt + " is given twice"; return false; }
                if (_pos >= _t.Count) { error = opt + " needs a value"; return false; }
                values[opt] = _t[_pos++];
            }
            error = "";
            return true;
        }

        private bool HasPortProtocol => _protocol is { Negated: false } p && p.Protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp;

        private bool Reject(out string error)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!TargetOptions("REJECT", new HashSet<string>(StringComparer.Ordinal) { "--reject-with" }, values, out error)) return false;
            bool reset = false;
            if (values.TryGetValue("--reject-with", out var with))
            {
                switch (with)
                {
                    case "icmp-port-unreachable": case "port-unreach": break;
                    case "tcp-reset": case "tcp-rst":
                        if (_protocol is not { Protocol: IpProtocol.Tcp, Negated: false }) { error = "--reject-with tcp-reset needs -p tcp"; return false; }
                        reset = true;
                        break;
                    default:
                        error = "--reject-with '" + with + "' is not supported (icmp-port-unreachable or tcp-reset)";
                        return false;
                }
            }
            Target = new RejectTarget(reset);
            return true;
        }

        private bool Nat(bool dnat, out string error)
        {
            var name = dnat ? "DNAT" : "SNAT";
            var full = dnat ? "--to-destination" : "--to-source";
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!TargetOptions(name, new HashSet<string>(StringComparer.Ordinal) { full, "--to" }, values, out error)) return false;
            if (values.Count > 1) { error = name + " takes one " + full; return false; }
            if (values.Count == 0) { error = name + " needs " + full + " IP[:PORT]"; return false; }
            string v = values.TryGetValue(full, out var f) ? f : values["--to"];
            int colon = v.IndexOf(':');
            var ipText = colon < 0 ? v : v.Substring(0, colon);
            if (!Ipv4Address.TryParse(ipText, out var ip))
            {
                error = full + " '" + v + "' is not IP or IP:PORT (address ranges and port ranges are not supported)";
                return false;
            }
            int? port = null;
            if (colon >= 0)
            {
                if (!ParsePort(v.Substring(colon + 1), out var p) || p == 0)
                {
                    error = full + " '" + v + "' is not IP or IP:PORT (address ranges and port ranges are not supported)";
                    return false;
                }
                if (!HasPortProtocol) { error = name + " to a port needs -p tcp, -p udp or -p sctp"; return false; }
                port = p;
            }
            Target = dnat ? new DnatTarget(ip, port) : new SnatTarget(ip, port);
            return true;
        }

        private bool Redirect(out string error)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!TargetOptions("REDIRECT", new HashSet<string>(StringComparer.Ordinal) { "--to-ports", "--to-port" }, values, out error)) return false;
            if (values.Count != 1) { error = "REDIRECT needs one --to-ports PORT"; return false; }
            string v = values.TryGetValue("--to-ports", out var a) ? a : values["--to-port"];
            if (!ParsePort(v, out var port) || port == 0) { error = "--to-ports '" + v + "' is not a port (ranges are not supported)"; return false; }
            if (!HasPortProtocol) { error = "REDIRECT --to-ports needs -p tcp, -p udp or -p sctp"; return false; }
            Target = new RedirectTarget(port);
            return true;
        }

        private bool MarkTarget(out string error)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            var allowed = new HashSet<string>(StringComparer.Ordinal) { "--set-mark", "--set-xmark", "--and-mark", "--or-mark", "--xor-mark" };
            if (!TargetOptions("MARK", allowed, values, out error)) return false;
            if (values.Count != 1) { error = "MARK needs exactly one of --set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark"; return false; }
            foreach (var kv in values)
            {
                if (!ParseValueMask(kv.Value, out var value, out var mask) || (mask is not null && kv.Key is not ("--set-mark" or "--set-xmark")))
                {
                    error = kv.Key + " '" + kv.Value + "' is not " + (kv.Key is "--set-mark" or "--set-xmark" ? "VALUE or VALUE/MASK" : "a 32-bit VALUE");
                    return false;
                }
                // libxt_MARK turns every form into (value, mask) with mark' = (mark & ~mask) ^ value.
                Target = kv.Key switch
                {
                    "--set-xmark" => new MarkTarget(value, mask ?? uint.MaxValue),
                    "--set-mark" => new MarkTarget(value, mask is uint m ? m | value : uint.MaxValue),
                    "--and-mark" => new MarkTarget(0, ~value),
                    "--or-mark" => new MarkTarget(value, value),
                    _ => new MarkTarget(value, 0),
                };
            }
            return true;
        }

        private bool Log(out string error)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            if (!TargetOptions("LOG", new HashSet<string>(StringComparer.Ordinal) { "--log-prefix" }, values, out error)) return false;
            var prefix = values.TryGetValue("--log-prefix", out var p) ? p : "";
            if (prefix.Length > MaxLogPrefixLength) { error = "--log-prefix is longer than " + MaxLogPrefixLength.ToString(CultureInfo.InvariantCulture) + " characters"; return false; }
            foreach (var c in prefix)
                if (c < ' ' || c > '~' || c is '"' or '\\' or '\'' or '`' or '$')
                {
                    error = "--log-prefix may hold only printable ASCII without quotes, backslashes, '`' and '$'";
                    return false;
                }
            Target = new LogTarget(prefix);
            return true;
        }
    }
}
