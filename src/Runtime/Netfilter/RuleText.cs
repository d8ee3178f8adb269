using System.Globalization;
using SwarmDsl.Plan;

namespace SwarmDsl.Runtime.Netfilter;

/// <summary>Rule text for traces: iptables-save's form via <see cref="IptablesSyntax"/>, without the ownership comment (the trace shows the YAML span beside it).</summary>
internal static class RuleText
{
    public static string Format(string chain, NetfilterRule rule) => IptablesSyntax.Format(rule, chain, null);

    public static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);
}
