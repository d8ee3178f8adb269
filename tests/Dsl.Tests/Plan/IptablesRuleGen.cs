using System.Collections.Generic;
using System.Linq;
using CsCheck;
using SwarmDsl.Collections;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Tests.Plan;

/// <summary>A rule placed in a table and chain where iptables accepts it.</summary>
public sealed record PlacedRule(string Table, string Chain, NetfilterRule Rule, string? Comment)
{
    public override string ToString() => $"{Table} {IptablesSyntax.Format(Rule, Chain, Comment)}";
}

/// <summary>
/// Random rules that iptables-restore accepts: every match and target type of the plan, placed in a chain where the
/// target and interface matches are legal, with the dependencies iptables enforces (ports need -p tcp/udp/sctp, etc.).
/// </summary>
public static class IptablesRuleGen
{
    public const string JumpChain = "SDT-JUMP";
    public const string GotoChain = "SDT-GOTO";

    private static readonly (string Table, string Chain, bool In, bool Out)[] Places =
    {
        ("filter", "FORWARD", true, true),
        ("mangle", "FORWARD", true, true),
        ("nat", "PREROUTING", true, false),
        ("nat", "POSTROUTING", false, true),
        ("raw", "PREROUTING", true, false),
    };

    public static readonly Gen<Ipv4Cidr> Prefix =
        from a in Gen.UInt
        from len in Gen.Int[1, 32]
        select new Ipv4Cidr(new Ipv4Address(a), len).Subnet;

    public static readonly Gen<string> Interface =
        from first in Gen.Char["abcdefghijklmnopqrstuvwxyz"]
        from stem in Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_-."].Array[0, 13]
        from plus in Gen.Bool
        select first + new string(stem) + (plus ? "+" : "");

    public static readonly Gen<string> LogPrefix =
        Gen.Char["abcXYZ019 :._-/=,+*@%!?[](){}~^;|&<>#"].Array[0, IptablesSyntax.MaxLogPrefixLength].Select(a => new string(a));

    /// <summary>Printable ASCII, quotes and backslashes included (only the formatter sees comments; TryParse rejects them).</summary>
    public static readonly Gen<string> Comment = Gen.Char[' ', '~'].Array[0, 80].Select(a => new string(a));

    private static Gen<RuleMatch> PortGen(IpProtocol p) =>
        from dir in Gen.OneOfConst(Direction.Source, Direction.Destination)
        from a in Gen.Int[0, 65535]
        from span in Gen.OneOf(Gen.Const(0), Gen.Int[0, 2000], Gen.Const(65535))
        from neg in Gen.Bool
        let to = System.Math.Min(65535, a + span)
        let full = a == 0 && to == 65535
        select (RuleMatch)new PortMatch(p, dir, a, to, neg && !full);

    private static Gen<RuleMatch> MultiportGen =>
        from dir in Gen.OneOfConst(Direction.Source, Direction.Destination)
        from ports in Gen.Int[0, 65535].Array[1, 15]
        from neg in Gen.Bool
        select (RuleMatch)new MultiportMatch(dir, EquatableArray<int>.Own(ports), neg);

    private static readonly Gen<RuleMatch> Conntrack =
        from s in Gen.Int[1, 127]
        from neg in Gen.Bool
        select (RuleMatch)new ConntrackMatch((CtState)s, neg);

    private static readonly Gen<RuleMatch> Mark =
        from v in Gen.UInt
        from m in Gen.OneOf(Gen.Const(uint.MaxValue), Gen.UInt)
        from neg in Gen.Bool
        select (RuleMatch)new MarkMatch(v, m, neg);

    private static readonly Gen<RuleMatch> AddrType =
        from dir in Gen.OneOfConst(Direction.Source, Direction.Destination)
        from t in Gen.OneOfConst(AddressType.Local, AddressType.Unicast, AddressType.Broadcast, AddressType.Multicast)
        from neg in Gen.Bool
        select (RuleMatch)new AddrTypeMatch(dir, t, neg);

    private static readonly Gen<RuleMatch> Statistic = Gen.OneOf(
        from p in Gen.Double[0, 1]
        from neg in Gen.Bool
        select (RuleMatch)new StatisticMatch(true, p, 0, 0, neg),
        from every in Gen.Int[1, 1000]
        from packet in Gen.Int[0, every - 1]
        from neg in Gen.Bool
        select (RuleMatch)new StatisticMatch(false, 0, every, packet, neg));

    private static readonly Gen<RuleMatch> Icmp =
        from t in Gen.Int[0, 255]
        from neg in Gen.Bool
        select (RuleMatch)new IcmpTypeMatch(t, neg && t != 255);

    private static Gen<RuleMatch[]> Modules(IpProtocol? proto)
    {
        var options = new List<Gen<RuleMatch>> { Conntrack, Mark, AddrType, Statistic };
        if (proto is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp)
        {
            options.Add(PortGen(proto.Value));
            options.Add(PortGen(proto.Value));
            options.Add(MultiportGen);
        }
        if (proto is IpProtocol.Icmp) options.Add(Icmp);
        return Gen.OneOf(options.ToArray()).Array[0, 4].Select(ms =>
        {
            // One --sport and one --dport per tcp/udp rule: the nf_tables backend keeps one value per direction.
            var seen = new HashSet<(IpProtocol, Direction)>();
            return ms.Where(m => m is not PortMatch p || p.Protocol == IpProtocol.Sctp || seen.Add((p.Protocol, p.Direction))).ToArray();
        });
    }

    private static Gen<RuleTarget> Target(string table, string chain, IpProtocol? proto)
    {
        bool ports = proto is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp;
        var port = Gen.Int[1, 65535];
        var ip = Gen.UInt.Select(v => new Ipv4Address(v));
        var common = new List<Gen<RuleTarget>> { Gen.Const<RuleTarget>(new AcceptTarget()), Gen.Const<RuleTarget>(new ReturnTarget()) };
        switch (table, chain)
        {
            case ("filter", _):
                common.Add(Gen.Const<RuleTarget>(new DropTarget()));
                common.Add(Gen.Const<RuleTarget>(new RejectTarget(false)));
                if (proto == IpProtocol.Tcp) common.Add(Gen.Const<RuleTarget>(new RejectTarget(true)));
                common.Add(LogPrefix.Select(p => (RuleTarget)new LogTarget(p)));
                common.Add(Gen.Const<RuleTarget>(new JumpTarget(JumpChain)));
                common.Add(Gen.Const<RuleTarget>(new GotoTarget(GotoChain)));
                break;
            case ("mangle", _):
                common.Add(from v in Gen.UInt from m in Gen.UInt select (RuleTarget)new MarkTarget(v, m));
                break;
            case ("nat", "PREROUTING"):
                common.Add(from a in ip from p in port select (RuleTarget)new DnatTarget(a, ports ? p : null));
                if (ports) common.Add(port.Select(p => (RuleTarget)new RedirectTarget(p)));
                break;
            case ("nat", _):
                common.Add(from a in ip from p in port select (RuleTarget)new SnatTarget(a, ports ? p : null));
                common.Add(Gen.Const<RuleTarget>(new MasqueradeTarget()));
                break;
            case ("raw", _):
                common.Add(Gen.Const<RuleTarget>(new TraceTarget()));
                common.Add(Gen.Const<RuleTarget>(new DropTarget()));
                break;
        }
        return Gen.OneOf(common.ToArray());
    }

    private static Gen<T?> Maybe<T>(Gen<T> g) where T : class => Gen.OneOf(Gen.Const<T?>((T?)null), g.Select(x => (T?)x));

    /// <summary>A rule with no comment and its place.</summary>
    public static readonly Gen<PlacedRule> Rule =
        from place in Gen.OneOfConst(Places)
        from proto in Gen.OneOfConst<IpProtocol?>(null, IpProtocol.Tcp, IpProtocol.Udp, IpProtocol.Sctp, IpProtocol.Icmp)
        from protoNeg in Gen.Bool
        from src in Maybe(from p in Prefix from n in Gen.Bool select (RuleMatch)new AddressMatch(Direction.Source, p, n))
        from dst in Maybe(from p in Prefix from n in Gen.Bool select (RuleMatch)new AddressMatch(Direction.Destination, p, n))
        from iif in Maybe(from i in Interface from n in Gen.Bool select (RuleMatch)new InterfaceMatch(true, i, n))
        from oif in Maybe(from i in Interface from n in Gen.Bool select (RuleMatch)new InterfaceMatch(false, i, n))
        from negProto in Gen.Const(protoNeg)
        from modules in Modules(negProto ? null : proto)
        from target in Target(place.Table, place.Chain, negProto ? null : proto)
        from order in Gen.Int[0, 1000]
        let header = new[]
        {
            src, dst, place.In ? iif : null, place.Out ? oif : null,
            proto is IpProtocol p ? new ProtocolMatch(p, negProto) : null,
        }.Where(m => m is not null).Select(m => m!).ToArray()
        // Header matches may sit anywhere in the list: iptables-save prints them first regardless.
        let all = Interleave(header, modules, order)
        select new PlacedRule(place.Table, place.Chain, new NetfilterRule(EquatableArray<RuleMatch>.Own(all), target, "gen", SourceSpan.None), null);

    /// <summary>A rule with a random comment.</summary>
    public static readonly Gen<PlacedRule> CommentedRule =
        from r in Rule
        from c in Gen.OneOf(Gen.Const<string?>((string?)null), Comment.Select(s => (string?)s))
        select r with { Comment = c };

    private static RuleMatch[] Interleave(RuleMatch[] header, RuleMatch[] modules, int seed)
    {
        var result = new List<RuleMatch>(modules);
        var rnd = new System.Random(seed);
        foreach (var h in header) result.Insert(rnd.Next(result.Count + 1), h);
        return result.ToArray();
    }
}
