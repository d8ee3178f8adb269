using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using SwarmDsl.Net;

namespace SwarmDsl.Cli.Lab;

/// <summary>A live link as <c>ip -j -d link show</c> reports it.</summary>
internal sealed record LiveLink(string Name, string Kind, int Mtu, string? Master, string Mac, bool Up, int? VxlanId, int? VxlanPort,
    bool? Learning, bool? Proxy, bool? L2Miss, bool? L3Miss);

/// <summary>A live IPv4 route of the main table.</summary>
internal sealed record LiveRoute(Ipv4Cidr Destination, Ipv4Address? Gateway, string Device);

/// <summary>A live static neighbour entry.</summary>
internal sealed record LiveNeighbor(string Device, Ipv4Address Address, string Mac);

/// <summary>A live permanent FDB entry with a remote (VXLAN) destination.</summary>
internal sealed record LiveFdb(string Device, string Mac, string? Destination);

/// <summary>
/// The live state of one network namespace, read with one shell per namespace (<c>ip -j</c>, <c>bridge -j</c>,
/// <c>iptables-save</c>, <c>nft -j</c>, <c>ipvsadm -S -n</c>, <c>sysctl</c>) so that reading a node costs one process per
/// namespace, not one per tool.
/// </summary>
internal sealed class LiveNamespace
{
    private const string Reader = """
        section() { printf '\n@@swarmdsl %s\n' "$1"; }
        has() { command -v "$1" >/dev/null 2>&1; }
        section link; ip -j -d link show
        section addr; ip -j -4 addr show
        section route; ip -j -4 route show table main
        section neigh; ip -j -4 neigh show nud permanent
        section fdb; if has bridge; then bridge -j fdb show; fi
        section iptables; if has iptables-save; then iptables-save 2>/dev/null; fi
        section nft; if has nft; then nft -j list table ip swarmdsl 2>/dev/null; fi
        section ipvs; if [ -e /proc/net/ip_vs ] && has ipvsadm; then ipvsadm -S -n 2>/dev/null; fi
        section sysctl
        for k in "$@"; do
          w=rw; if [ ! -w "/proc/sys/$(printf '%s' "$k" | tr . /)" ]; then w=ro; fi
          if v="$(sysctl -n "$k" 2>/dev/null)"; then printf '%s\t%s\t%s\n' "$k" "$w" "$v"; else printf '%s\t%s\t@missing\n' "$k" "$w"; fi
        done
        exit 0
        """;

    private LiveNamespace() { }

    /// <summary>A namespace known only by its sysctl values (tests of the drift rules).</summary>
    internal static LiveNamespace WithSysctls(IEnumerable<KeyValuePair<string, string?>> values)
    {
        var live = new LiveNamespace();
        foreach (var (key, value) in values) live.Sysctls[key] = value;
        return live;
    }

    public List<LiveLink> Links { get; } = new();
    public List<(string Device, Ipv4Cidr Address)> Addresses { get; } = new();
    public List<LiveRoute> Routes { get; } = new();
    public List<LiveNeighbor> Neighbors { get; } = new();
    public List<LiveFdb> Fdb { get; } = new();

    /// <summary><c>iptables-save</c> output.</summary>
    public string IptablesSave { get; private set; } = "";

    /// <summary><c>nft -j list table ip swarmdsl</c> output (empty when the table does not exist).</summary>
    public string NftJson { get; private set; } = "";

    /// <summary><c>ipvsadm -S -n</c> output, or null when the kernel has no IPVS here.</summary>
    public string? Ipvs { get; private set; }

    /// <summary>The sysctls this namespace can read but not change (settings of the initial namespace only, like <c>net.core.rmem_max</c>).</summary>
    public HashSet<string> ReadOnlySysctls { get; } = new(StringComparer.Ordinal);

    /// <summary>sysctl values by key (null when the key does not exist here).</summary>
    public Dictionary<string, string?> Sysctls { get; } = new(StringComparer.Ordinal);

    /// <summary>Reads namespace <paramref name="netns"/> (null: this process's own); null with an error when the shell fails.</summary>
    public static LiveNamespace? Read(string? netns, IEnumerable<string> sysctlKeys, out string error)
    {
        var args = new[] { "-c", Reader, "sh" }.Concat(sysctlKeys).ToList();
        var r = netns is null ? HostCommand.Run("sh", args) : HostCommand.InNetns(netns, "sh", args);
        error = r.Ok ? "" : r.LastLine();
        if (!r.Ok) return null;
        var sections = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var text = new System.Text.StringBuilder();
        foreach (var line in r.StdOut.Split('\n'))
        {
            if (line.StartsWith("@@swarmdsl ", StringComparison.Ordinal))
            {
                if (current is not null) sections[current] = text.ToString();
                current = line.Substring("@@swarmdsl ".Length).Trim();
                text.Clear();
            }
            else if (current is not null) text.Append(line).Append('\n');
        }
        if (current is not null) sections[current] = text.ToString();
        string Section(string name) => sections.TryGetValue(name, out var s) ? s.Trim() : "";

        var live = new LiveNamespace();
        try
        {
            live.ParseLinks(Section("link"));
            live.ParseAddresses(Section("addr"));
            live.ParseRoutes(Section("route"));
            live.ParseNeighbors(Section("neigh"));
            live.ParseFdb(Section("fdb"));
        }
        catch (JsonException ex)
        {
            error = "cannot read the JSON of ip/bridge: " + ex.Message;
            return null;
        }
        live.IptablesSave = Section("iptables");
        live.NftJson = Section("nft");
        live.Ipvs = sections.ContainsKey("ipvs") && Section("ipvs").Length > 0 ? Section("ipvs") : null;
        foreach (var line in Section("sysctl").Split('\n'))
        {
            var parts = line.Split('\t', 3);
            if (parts.Length < 3) continue;
            live.Sysctls[parts[0]] = parts[2] == "@missing" ? null : parts[2];
            if (parts[1] == "ro") live.ReadOnlySysctls.Add(parts[0]);
        }
        return live;
    }

    private static IEnumerable<JsonElement> Array(string json)
    {
        if (json.Length == 0) yield break;
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) yield break;
        foreach (var e in doc.RootElement.EnumerateArray()) yield return e.Clone();
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static int? Int(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static IEnumerable<string> Strings(JsonElement e, string name)
    {
        if (e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array)
            foreach (var x in v.EnumerateArray())
                if (x.ValueKind == JsonValueKind.String) yield return x.GetString()!;
    }

    private void ParseLinks(string json)
    {
        foreach (var l in Array(json))
        {
            var name = Str(l, "ifname") ?? "";
            string kind = Str(l, "link_type") == "loopback" ? "loopback" : "";
            int? id = null, port = null;
            bool? learning = null, proxy = null, l2 = null, l3 = null;
            if (l.TryGetProperty("linkinfo", out var info))
            {
                kind = Str(info, "info_kind") ?? kind;
                if (info.TryGetProperty("info_data", out var data) && data.ValueKind == JsonValueKind.Object && kind == "vxlan")
                {
                    id = Int(data, "id");
                    port = Int(data, "port");
                    learning = Bool(data, "learning");
                    proxy = Bool(data, "proxy");
                    l2 = Bool(data, "l2miss");
                    l3 = Bool(data, "l3miss");
                }
            }
            Links.Add(new LiveLink(name, kind, Int(l, "mtu") ?? 0, Str(l, "master"), Str(l, "address") ?? "", Strings(l, "flags").Contains("UP"),
                id, port, learning, proxy, l2, l3));
        }
    }

    private void ParseAddresses(string json)
    {
        foreach (var l in Array(json))
        {
            var dev = Str(l, "ifname") ?? "";
            if (!l.TryGetProperty("addr_info", out var infos) || infos.ValueKind != JsonValueKind.Array) continue;
            foreach (var a in infos.EnumerateArray())
                if (Str(a, "family") == "inet" && Ipv4Address.TryParse(Str(a, "local"), out var ip) && Int(a, "prefixlen") is int len)
                    Addresses.Add((dev, new Ipv4Cidr(ip, len)));
        }
    }

    private void ParseRoutes(string json)
    {
        foreach (var r in Array(json))
        {
            var dst = Str(r, "dst") ?? "";
            Ipv4Cidr cidr;
            if (dst == "default") cidr = new Ipv4Cidr(Ipv4Address.Any, 0);
            else if (!Ipv4Cidr.TryParse(dst.Contains('/') ? dst : dst + "/32", out cidr)) continue;
            Ipv4Address? gw = Ipv4Address.TryParse(Str(r, "gateway"), out var g) ? g : null;
            Routes.Add(new LiveRoute(cidr, gw, Str(r, "dev") ?? ""));
        }
    }

    private void ParseNeighbors(string json)
    {
        foreach (var n in Array(json))
            if (Ipv4Address.TryParse(Str(n, "dst"), out var ip))
                Neighbors.Add(new LiveNeighbor(Str(n, "dev") ?? "", ip, (Str(n, "lladdr") ?? "").ToLowerInvariant()));
    }

    private void ParseFdb(string json)
    {
        foreach (var f in Array(json))
        {
            if (Str(f, "state") != "permanent" || !Strings(f, "flags").Contains("self")) continue;
            Fdb.Add(new LiveFdb(Str(f, "ifname") ?? "", (Str(f, "mac") ?? "").ToLowerInvariant(), Str(f, "dst")));
        }
    }

    /// <summary>A number as text, invariant.</summary>
    public static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
