using System;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Engine;

namespace SwarmDsl.Runtime.Netfilter;

/// <summary>
/// How a compiled chain ended: <see cref="Continue"/> when it fell off its end or hit RETURN (the caller goes on with its
/// next rule; a base chain then applies its policy), otherwise the verdict that ends the table.
/// </summary>
public enum ChainResult : byte
{
    /// <summary>The chain ended without a verdict (end of chain or RETURN).</summary>
    Continue,
    /// <summary>ACCEPT (also a NAT target that bound the connection).</summary>
    Accept,
    /// <summary>DROP (also a NAT target that could not bind, or a DROP policy).</summary>
    Drop,
    /// <summary>REJECT.</summary>
    Reject,
    /// <summary>Jumps nested deeper than the kernel's stack.</summary>
    ChainLoop,
}

/// <summary>Evaluates one netfilter table of one namespace for a hook: the compiled form of <c>ipt_do_table</c>.</summary>
/// <param name="context">The packet and the interpreter's match and target code.</param>
/// <param name="hook">The hook being traversed.</param>
public delegate ChainResult CompiledTableEntry(NetfilterContext context, NetfilterHook hook);

/// <summary>
/// Compiled netfilter control flow for the namespaces of one plan (the generator's <c>CompiledNetfilter</c>).
/// Only which rule matches, jumps, returns and policies are compiled; every target runs the interpreter's own code through
/// <see cref="NetfilterContext"/>, so NAT bindings, marks, conntrack and traces are the interpreter's.
/// </summary>
public interface ICompiledNetfilter
{
    /// <summary>
    /// <see cref="SwarmDsl.Plan.PlanFingerprint.Compute"/> of the plan the code was generated from: code for another plan
    /// names other chains and rules, so <see cref="Engine.Cluster.AttachNetfilter"/> refuses it.
    /// </summary>
    string PlanFingerprint { get; }

    /// <summary>The compiled table, or null to keep the interpreter for it.</summary>
    /// <param name="node">The node (<see cref="NamespaceRuntime.Node"/>).</param>
    /// <param name="namespaceName">The namespace name (<see cref="NamespaceRuntime.Name"/>).</param>
    /// <param name="table">raw, mangle, nat or filter.</param>
    CompiledTableEntry? Table(string node, string namespaceName, string table);
}

/// <summary>
/// What compiled rules see of the packet being walked, and the interpreter's code for everything with state or side
/// effects. Chains and rules are named by their position in the plan: chain index in the table, rule index in the chain
/// (zero-based, counting every plan rule).
/// </summary>
public sealed class NetfilterContext
{
    private readonly PacketWalker _w;

    internal NetfilterContext(PacketWalker walker) => _w = walker;

    /// <summary>The IP protocol of the current headers.</summary>
    public IpProtocol Protocol => _w.Packet.Headers.Protocol;

    /// <summary>The source address as a host-order integer.</summary>
    public uint Source => _w.Packet.Headers.Source.Value;

    /// <summary>The destination address as a host-order integer.</summary>
    public uint Destination => _w.Packet.Headers.Destination.Value;

    /// <summary>Whether the protocol has ports (TCP, UDP, SCTP).</summary>
    public bool HasPorts => _w.Packet.Headers.HasPorts;

    /// <summary>The source port.</summary>
    public int SourcePort => _w.Packet.Headers.SourcePort;

    /// <summary>The destination port.</summary>
    public int DestinationPort => _w.Packet.Headers.DestinationPort;

    /// <summary>The ICMP type.</summary>
    public int IcmpType => _w.Packet.Headers.IcmpType;

    /// <summary><c>skb-&gt;mark</c>.</summary>
    public uint Mark => _w.Packet.Mark;

    /// <summary><c>skb-&gt;ipvs_property</c>.</summary>
    public bool IpvsProperty => _w.Packet.IpvsProperty;

    /// <summary>The incoming interface name; empty when there is none.</summary>
    public string InInterface => _w.NetfilterInterface(input: true);

    /// <summary>The outgoing interface name; empty when there is none.</summary>
    public string OutInterface => _w.NetfilterInterface(input: false);

    /// <summary>The interpreter's match (not negated) for matches with state: addrtype, conntrack, statistic.</summary>
    public bool Match(int chain, int rule, int match) => _w.CompiledNetfilterMatch(chain, rule, match);

    /// <summary>Counts a matched rule and runs its target (ACCEPT, DROP, REJECT, NAT, MARK, LOG, TRACE) as the interpreter does, with its trace step.</summary>
    public ChainResult Target(int chain, int rule) => _w.CompiledNetfilterTarget(chain, rule);

    /// <summary>Counts and traces a RETURN rule; the compiled chain then returns <see cref="ChainResult.Continue"/>.</summary>
    public void Return(int chain, int rule) => _w.CompiledNetfilterReturn(chain, rule);

    /// <summary>Counts and traces a jump; false when the jump would nest deeper than the kernel allows (the rule becomes decisive).</summary>
    public bool Jump(int chain, int rule, int depth) => _w.CompiledNetfilterJump(chain, rule, depth);

    /// <summary>Counts and traces a goto.</summary>
    public void Goto(int chain, int rule) => _w.CompiledNetfilterGoto(chain, rule);

    /// <summary>The base chain's policy for the current hook, traced as the interpreter traces it.</summary>
    public ChainResult Policy() => _w.CompiledNetfilterPolicy();
}
