using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Text;

namespace SwarmDsl.Plan;

/// <summary>An iptables table (<c>raw</c>, <c>mangle</c>, <c>nat</c>, <c>filter</c>) of one namespace.</summary>
/// <param name="Name">Table name.</param>
/// <param name="Chains">Built-in chains first in the kernel's order, then user chains in creation order.</param>
public sealed record NetfilterTable(string Name, EquatableArray<NetfilterChain> Chains);

/// <summary>A chain.</summary>
/// <param name="Name">Chain name.</param>
/// <param name="BuiltIn">Whether it is a built-in (hooked) chain.</param>
/// <param name="Policy">The policy of a built-in chain (ACCEPT or DROP); null for user chains.</param>
/// <param name="Rules">Rules in evaluation order.</param>
/// <param name="Shared">
/// A user chain that belongs to the host's administrator as much as to the topology (Docker's <c>DOCKER-USER</c>, which
/// Docker creates for the administrator's own rules and never flushes): provisioning creates it only when missing and
/// manages only its own rules there. No effect on packets.
/// </param>
public sealed record NetfilterChain(string Name, bool BuiltIn, Verdict? Policy, EquatableArray<NetfilterRule> Rules, bool Shared = false);

/// <summary>Terminal verdicts of a chain policy.</summary>
public enum Verdict { /** <summary>ACCEPT.</summary> */ Accept, /** <summary>DROP.</summary> */ Drop }

/// <summary>
/// One rule: all <paramref name="Matches"/> must hold for <paramref name="Target"/> to apply. <paramref name="Origin"/> says
/// which declaration produced it; emitters turn it into the <c>-m comment --comment "swarmdsl:&lt;topology&gt;:&lt;origin&gt;"</c> marker.
/// </summary>
/// <param name="Matches">Matches in iptables-save order.</param>
/// <param name="Target">The target.</param>
/// <param name="Origin">What made the rule, e.g. <c>services.web.ports[0]</c> or <c>bridge docker_gwbridge</c>.</param>
/// <param name="Span">The declaration behind it.</param>
public sealed record NetfilterRule(EquatableArray<RuleMatch> Matches, RuleTarget Target, string Origin, SourceSpan Span);

/// <summary>Which side of the packet a match looks at.</summary>
public enum Direction { /** <summary>Source.</summary> */ Source, /** <summary>Destination.</summary> */ Destination }

/// <summary>Address types of <c>-m addrtype</c>.</summary>
public enum AddressType { /** <summary>LOCAL.</summary> */ Local, /** <summary>UNICAST.</summary> */ Unicast, /** <summary>BROADCAST.</summary> */ Broadcast, /** <summary>MULTICAST.</summary> */ Multicast }

/// <summary>Conntrack states of <c>-m conntrack --ctstate</c> (flags).</summary>
[System.Flags]
public enum CtState
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary>NEW.</summary>
    New = 1,
    /// <summary>ESTABLISHED.</summary>
    Established = 2,
    /// <summary>RELATED.</summary>
    Related = 4,
    /// <summary>INVALID.</summary>
    Invalid = 8,
    /// <summary>UNTRACKED.</summary>
    Untracked = 16,
    /// <summary>DNAT (a ctstate pseudo-state).</summary>
    Dnat = 32,
    /// <summary>SNAT (a ctstate pseudo-state).</summary>
    Snat = 64,
}

/// <summary>A rule match. The closed set below is what the plan uses and what the Runtime evaluates.</summary>
/// <param name="Negated">Whether the match is inverted with <c>!</c>.</param>
public abstract record RuleMatch(bool Negated);

/// <summary><c>-p tcp</c>.</summary>
public sealed record ProtocolMatch(IpProtocol Protocol, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-s CIDR</c> / <c>-d CIDR</c>.</summary>
public sealed record AddressMatch(Direction Direction, Ipv4Cidr Prefix, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-i IF</c> / <c>-o IF</c> (a trailing <c>+</c> is a prefix wildcard).</summary>
/// <param name="Input">True for <c>-i</c>, false for <c>-o</c>.</param>
/// <param name="Interface">Interface name.</param>
/// <param name="Negated">Inverted.</param>
public sealed record InterfaceMatch(bool Input, string Interface, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m tcp --dport 8080</c> / <c>--sport</c>, or a range <c>--dport 1000:2000</c>. <see cref="Protocol"/> names the match module.</summary>
public sealed record PortMatch(IpProtocol Protocol, Direction Direction, int From, int To, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m multiport --dports a,b,c</c>.</summary>
public sealed record MultiportMatch(Direction Direction, EquatableArray<int> Ports, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m addrtype --src-type/--dst-type TYPE</c>.</summary>
public sealed record AddrTypeMatch(Direction Direction, AddressType Type, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m conntrack --ctstate S1,S2</c>.</summary>
public sealed record ConntrackMatch(CtState States, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m mark --mark V/M</c>.</summary>
public sealed record MarkMatch(uint Value, uint Mask, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m ipvs --ipvs</c>: the packet belongs to an IPVS connection.</summary>
public sealed record IpvsMatch(bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m icmp --icmp-type T</c>.</summary>
public sealed record IcmpTypeMatch(int Type, bool Negated = false) : RuleMatch(Negated);

/// <summary><c>-m statistic --mode random --probability P</c> or <c>--mode nth --every N --packet P</c>.</summary>
public sealed record StatisticMatch(bool Random, double Probability, int Every, int Packet, bool Negated = false) : RuleMatch(Negated);

/// <summary>A rule target.</summary>
public abstract record RuleTarget;

/// <summary><c>-j ACCEPT</c>.</summary>
public sealed record AcceptTarget : RuleTarget;

/// <summary><c>-j DROP</c>.</summary>
public sealed record DropTarget : RuleTarget;

/// <summary><c>-j REJECT</c> (icmp-port-unreachable, or tcp-reset).</summary>
public sealed record RejectTarget(bool TcpReset = false) : RuleTarget;

/// <summary><c>-j RETURN</c>.</summary>
public sealed record ReturnTarget : RuleTarget;

/// <summary><c>-j CHAIN</c>.</summary>
public sealed record JumpTarget(string Chain) : RuleTarget;

/// <summary><c>-g CHAIN</c>.</summary>
public sealed record GotoTarget(string Chain) : RuleTarget;

/// <summary><c>-j DNAT --to-destination IP[:PORT]</c>.</summary>
public sealed record DnatTarget(Ipv4Address Address, int? Port) : RuleTarget;

/// <summary><c>-j SNAT --to-source IP[:PORT]</c>.</summary>
public sealed record SnatTarget(Ipv4Address Address, int? Port) : RuleTarget;

/// <summary><c>-j MASQUERADE</c>.</summary>
public sealed record MasqueradeTarget : RuleTarget;

/// <summary><c>-j REDIRECT --to-ports PORT</c>.</summary>
public sealed record RedirectTarget(int Port) : RuleTarget;

/// <summary><c>-j MARK --set-xmark V/M</c> (<c>--set-mark V</c> is V/0xffffffff).</summary>
public sealed record MarkTarget(uint Value, uint Mask) : RuleTarget;

/// <summary><c>-j LOG --log-prefix P</c>.</summary>
public sealed record LogTarget(string Prefix) : RuleTarget;

/// <summary><c>-j TRACE</c> (raw table; feeds <c>nft monitor trace</c>).</summary>
public sealed record TraceTarget : RuleTarget;
