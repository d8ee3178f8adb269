using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace SwarmDsl.Tests.Emit;

/// <summary>
/// A node's dataplane as text (<see cref="EmitScenario.Dataplane"/>) with what differs between two correct builds of the
/// same plan taken out, so that two builds (in two labs, by two routes) can be compared for equality.
/// </summary>
public static class BuiltState
{
    // What differs between two correct builds of the same plan: interface indexes (and the peer indexes and netns ids
    // derived from them) and the random MACs of devices whose MAC the plan leaves to the kernel.
    private static readonly Regex IfIndex = new(@"(?m)^\d+: ", RegexOptions.Compiled);
    private static readonly Regex PeerIndex = new(@"@if\d+", RegexOptions.Compiled);
    private static readonly Regex NetnsId = new(@"link-netnsid \d+", RegexOptions.Compiled);

    private static readonly Regex BridgeId = new(@"8000\.[0-9a-f:]+", RegexOptions.Compiled);
    private static readonly Regex Ipv6Multicast = new(@"33:33:ff:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}", RegexOptions.Compiled);

    /// <summary>A node's dataplane without interface indexes, bridge ids and the lab's prefix (two builds happen in two labs).</summary>
    public static string Normalized(EmitLab lab, string node)
    {
        var text = IfIndex.Replace(EmitScenario.Dataplane(lab, node), "");
        text = NetnsId.Replace(PeerIndex.Replace(text, "@if"), "link-netnsid N");
        // Bridge ids and the IPv6 multicast entries of link-local addresses derive from kernel-chosen MACs.
        text = Ipv6Multicast.Replace(BridgeId.Replace(text, "8000.<bridge id>"), "33:33:ff:<from mac>");
        return text.Replace(lab.Scratch.Prefix, "<lab>", StringComparison.Ordinal);
    }

    private static string Masked(string text, IEnumerable<string> randomMacs)
    {
        foreach (var mac in randomMacs) text = text.Replace(mac, "<random mac>", StringComparison.Ordinal);
        return text;
    }

    /// <summary>MACs present now that the plan does not give (veth ends and bridges Docker leaves to the kernel).</summary>
    public static HashSet<string> RandomMacs(EmitLab lab)
    {
        var planned = new HashSet<string>(lab.Plan.Hosts.SelectMany(h => h.Namespaces).SelectMany(n => n.Devices)
            .SelectMany(d => d.Mac is Net.MacAddress m ? new[] { m.ToString() } : Array.Empty<string>()), StringComparer.Ordinal);
        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in lab.NodeNs.Keys)
            foreach (var ns in new[] { lab.NodeNs[node] }.Concat(lab.Created(node)))
                foreach (Match m in Regex.Matches(EmitScenario.Sh(ns, "ip", "-o", "link", "show"), @"link/ether ([0-9a-f:]{17})"))
                    if (!planned.Contains(m.Groups[1].Value)) found.Add(m.Groups[1].Value);
        return found;
    }

    /// <summary>
    /// <paramref name="normalized"/> with the random MACs masked, and neighbour and FDB listings, and each namespace's
    /// devices with their addresses, in sorted order (a device made again by a re-apply takes a later interface index than
    /// in a first build).
    /// </summary>
    public static string Canonical(string normalized, IEnumerable<string> randomMacs) =>
        SortSections(Masked(BridgePort.Replace(Learned.Replace(normalized, ""), "port <n>"), randomMacs));

    // A bridge numbers its ports in the order they were added: a port made again by a re-apply takes the next number.
    private static readonly Regex BridgePort = new(@"port_id 0x[0-9a-f]+ port_no 0x[0-9a-f]+ designated_port \d+", RegexOptions.Compiled);

    // FDB entries a bridge learned from traffic (not permanent: they age out) are not what apply built. Interfaces coming
    // up send IPv6 solicitations, so every build has some, and a port whose MAC a re-apply changed keeps the old one a while.
    private static readonly Regex Learned = new(@"(?m)^(?!.*permanent)[0-9a-f:]{17} dev \S+ (vlan \d+ )?master .*\n", RegexOptions.Compiled);

    // The sections listed in an order that is not the build's: neighbours and FDB entries in hash-table order, devices and
    // their addresses by interface index. Each entry (a line, with the indented lines under it) is sorted within its section.
    private static readonly HashSet<string> Unordered = new(StringComparer.Ordinal) { "-- links", "-- addresses", "-- neighbours", "-- fdb" };

    private static string SortSections(string text)
    {
        var result = new List<string>();
        var entries = new List<string>();
        bool sorting = false;
        void Flush()
        {
            entries.Sort(StringComparer.Ordinal);
            result.AddRange(entries);
            entries.Clear();
        }
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("--", StringComparison.Ordinal) || line.StartsWith("==", StringComparison.Ordinal))
            {
                Flush();
                result.Add(line);
                sorting = Unordered.Contains(line);
            }
            else if (!sorting) result.Add(line);
            else if (line.Length == 0) continue; // the listing's last newline: not part of its last entry
            else if (!char.IsWhiteSpace(line[0]) || entries.Count == 0) entries.Add(line);
            else entries[^1] += "\n" + line;
        }
        Flush();
        return string.Join("\n", result);
    }
}
