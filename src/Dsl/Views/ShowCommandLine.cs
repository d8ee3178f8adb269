using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;

namespace SwarmDsl.Views;

/// <summary>What a shown command printed and how it exited.</summary>
/// <param name="ExitCode">The tool's exit code (2 for a command <c>show</c> does not answer).</param>
/// <param name="Output">Its standard output.</param>
/// <param name="Error">Its standard error.</param>
public sealed record ShowResult(int ExitCode, string Output, string Error)
{
    internal static ShowResult Ok(string output) => new(0, output, "");
    internal static ShowResult Fail(string error) => new(1, "", error.EndsWith("\n", StringComparison.Ordinal) ? error : error + "\n");
    // One line (spec/cli.md): the commands by name; their forms (Supported) are in show --help and with --verbose.
    internal static ShowResult Unsupported(string why) => new(2, "", "swarmdsl: error: " + why + "; show answers " + SupportedCommands + " (show --help lists their forms)\n");

    /// <summary>The commands <c>show</c> answers, by name.</summary>
    public const string SupportedCommands = "ip, bridge, brctl, iptables, iptables-save, ipvsadm, conntrack, netstat, sysctl";

    /// <summary>The line listing what <c>show</c> answers, with each command's forms.</summary>
    public const string Supported =
        "show answers: ip [-4] [-d] addr|link|route|neigh [show [dev] DEV], bridge fdb show [dev DEV], brctl show [BRIDGE], " +
        "brctl showmacs BRIDGE, iptables [-t TABLE] -L [CHAIN] -n [-v] [-x] [--line-numbers], iptables [-t TABLE] -S [CHAIN], " +
        "iptables-save [-c] [-t TABLE], ipvsadm -L -n [--stats|-c], conntrack -L [-p PROTO], sysctl [-n] KEY..., netstat -i";
}

/// <summary>
/// Reads a read-only Linux command line (<c>ip -d link show vxlan0</c>, <c>iptables -t nat -L -n -v</c>, ...) and answers it
/// from the plan with the matching view. Options are read the way the real tools read them (iproute2's prefix-matched
/// objects and verbs, iptables' bundled short options); anything else is refused with exit code 2 and the list of what is
/// supported, never guessed.
/// </summary>
public static class ShowCommandLine
{
    /// <summary>Runs <paramref name="command"/> in namespace <paramref name="ns"/> of <paramref name="host"/>.</summary>
    public static ShowResult Run(DataplanePlan plan, HostPlan host, NamespacePlan ns, IReadOnlyList<string> command, ShowOptions options)
    {
        if (command.Count == 0) return ShowResult.Unsupported("no command given");
        var links = LinkTable.Build(plan, host);
        var args = command.Skip(1).ToList();
        switch (command[0])
        {
            case "ip": return Ip(links, ns, args, options);
            case "bridge": return Bridge(links, ns, args);
            case "brctl": return Brctl(links, ns, args);
            case "iptables": return Iptables(plan, host, ns, args, options);
            case "iptables-save": return IptablesSave(plan, host, ns, args, options);
            case "ipvsadm": return Ipvsadm(host, ns, args, options);
            case "sysctl": return Sysctl(ns, args);
            case "netstat": return Netstat(links, ns, args, options);
            case "conntrack": return Conntrack(host, ns, args, options);
            default: return ShowResult.Unsupported($"'{command[0]}' is not a command show answers");
        }
    }

    /// <summary>iproute2's <c>matches</c>: <paramref name="word"/> is a non-empty prefix of <paramref name="full"/>.</summary>
    private static bool Matches(string word, string full) => word.Length > 0 && word.Length <= full.Length && full.StartsWith(word, StringComparison.Ordinal);

    private static ShowResult Ip(LinkTable links, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        bool ipv4 = false, details = false;
        int i = 0;
        for (; i < args.Count && args[i].StartsWith("-", StringComparison.Ordinal); i++)
        {
            var opt = args[i].TrimStart('-');
            if (opt == "4") ipv4 = true;
            else if (opt == "6") return ShowResult.Unsupported("IPv6 is not modelled");
            else if (opt.Length > 0 && Matches(opt, "details")) details = true;
            else return ShowResult.Unsupported($"ip option '{args[i]}' is not supported");
        }
        if (i >= args.Count) return ShowResult.Unsupported("ip needs an object (addr, link, route, neigh)");
        var obj = args[i++];
        // iproute2 looks objects up by prefix in its own table order: address, route, neighbor, link.
        string? kind = Matches(obj, "address") ? "addr" : Matches(obj, "route") ? "route"
            : Matches(obj, "neighbor") || Matches(obj, "neighbour") ? "neigh" : Matches(obj, "link") ? "link" : null;
        if (kind is null) return ShowResult.Unsupported($"'ip {obj}' is not supported");
        if (i < args.Count && (Matches(args[i], "show") || Matches(args[i], "list") || args[i] == "lst")) i++;
        string? device = null;
        while (i < args.Count)
        {
            if (args[i] == "dev" && i + 1 < args.Count) { device = args[i + 1]; i += 2; }
            else if (device is null && kind is "addr" or "link" && !args[i].StartsWith("-", StringComparison.Ordinal)) { device = args[i]; i++; }
            else return ShowResult.Unsupported($"'ip {obj}' argument '{args[i]}' is not supported");
        }
        var text = kind switch
        {
            "addr" => IpView.Addr(links, ns.Name, device, ipv4, options),
            "link" => IpView.Link(links, ns.Name, device, details, options),
            "route" => IpView.Route(links, ns.Name, device),
            _ => IpView.Neigh(links, ns.Name, device),
        };
        return text is null ? ShowResult.Fail($"Device \"{device}\" does not exist.") : ShowResult.Ok(text);
    }

    private static ShowResult Bridge(LinkTable links, NamespacePlan ns, List<string> args)
    {
        if (args.Count == 0 || !Matches(args[0], "fdb")) return ShowResult.Unsupported("only 'bridge fdb show' is supported");
        int i = 1;
        if (i < args.Count && (Matches(args[i], "show") || Matches(args[i], "list"))) i++;
        string? device = null;
        if (i + 1 < args.Count && args[i] == "dev") { device = args[i + 1]; i += 2; }
        if (i < args.Count) return ShowResult.Unsupported($"'bridge fdb' argument '{args[i]}' is not supported");
        var text = BridgeView.Fdb(links, ns.Name, device);
        return text is null ? ShowResult.Fail($"Cannot find device \"{device}\"") : ShowResult.Ok(text);
    }

    private static ShowResult Brctl(LinkTable links, NamespacePlan ns, List<string> args)
    {
        if (args.Count >= 1 && args[0] == "show" && args.Count <= 2)
        {
            var text = BridgeView.BrctlShow(links, ns.Name, args.Count == 2 ? args[1] : null);
            return text is null ? ShowResult.Fail($"bridge {args[1]} does not exist!") : ShowResult.Ok(text);
        }
        if (args.Count == 2 && args[0] == "showmacs")
        {
            var text = BridgeView.BrctlShowMacs(links, ns.Name, args[1]);
            return text is null ? ShowResult.Fail($"read of forward table failed: No such device") : ShowResult.Ok(text);
        }
        return ShowResult.Unsupported("only 'brctl show [BRIDGE]' and 'brctl showmacs BRIDGE' are supported");
    }

    private static ShowResult Iptables(DataplanePlan plan, HostPlan host, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        string table = "filter";
        bool list = false, rules = false, numeric = false, verbose = false, lineNumbers = false, exact = false;
        string? chain = null;
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            string? NextValue() => i + 1 < args.Count && !args[i + 1].StartsWith("-", StringComparison.Ordinal) ? args[++i] : null;
            switch (a)
            {
                case "-t": case "--table":
                    if (i + 1 >= args.Count) return ShowResult.Unsupported("-t needs a table");
                    table = args[++i];
                    continue;
                case "--list": list = true; chain = NextValue(); continue;
                case "--list-rules": rules = true; chain = NextValue(); continue;
                case "--numeric": numeric = true; continue;
                case "--verbose": verbose = true; continue;
                case "--line-numbers": lineNumbers = true; continue;
                case "--exact": exact = true; continue;
            }
            if (a.Length < 2 || a[0] != '-' || a[1] == '-') return ShowResult.Unsupported($"iptables argument '{a}' is not supported");
            // Bundled short options (-nvL): L and S take the chain as the next word; t the table.
            for (int k = 1; k < a.Length; k++)
            {
                switch (a[k])
                {
                    case 'n': numeric = true; break;
                    case 'v': verbose = true; break;
                    case 'x': exact = true; break;
                    case 'L': list = true; if (k == a.Length - 1) chain = NextValue(); break;
                    case 'S': rules = true; if (k == a.Length - 1) chain = NextValue(); break;
                    case 't':
                        if (k < a.Length - 1) table = a.Substring(k + 1);
                        else if (i + 1 < args.Count) table = args[++i];
                        else return ShowResult.Unsupported("-t needs a table");
                        k = a.Length;
                        break;
                    default: return ShowResult.Unsupported($"iptables option '-{a[k]}' is not supported (show is read-only)");
                }
            }
        }
        if (list == rules) return ShowResult.Unsupported("iptables needs exactly one of -L or -S");
        if (list)
        {
            // Without -n iptables resolves addresses and ports through DNS and /etc/services, which the plan cannot answer.
            if (!numeric) return ShowResult.Unsupported("iptables -L needs -n (names would come from DNS)");
            var text = IptablesView.List(plan, host, ns, table, chain, new IptablesListFormat(verbose, lineNumbers, exact), options, out var error);
            return text is null ? ShowResult.Fail(error!) : ShowResult.Ok(text);
        }
        var s = IptablesView.ListRules(plan, ns, table, chain, out var err);
        return s is null ? ShowResult.Fail(err!) : ShowResult.Ok(s);
    }

    private static ShowResult IptablesSave(DataplanePlan plan, HostPlan host, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        string? table = null;
        bool counters = false;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "-c" || args[i] == "--counters") counters = true;
            else if ((args[i] == "-t" || args[i] == "--table") && i + 1 < args.Count) table = args[++i];
            else if (args[i].StartsWith("-t", StringComparison.Ordinal) && args[i].Length > 2) table = args[i].Substring(2);
            else return ShowResult.Unsupported($"iptables-save argument '{args[i]}' is not supported");
        }
        var text = IptablesView.Save(plan, host, ns, table, counters, options, out var error);
        return text is null ? ShowResult.Fail(error!) : ShowResult.Ok(text);
    }

    private static ShowResult Ipvsadm(HostPlan host, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        var mode = IpvsListMode.Services;
        bool list = args.Count == 0; // bare ipvsadm lists
        foreach (var a in args)
        {
            switch (a)
            {
                case "-L": case "-l": case "--list": list = true; break;
                case "-Ln": case "-ln": list = true; break;
                case "-n": case "--numeric": break;
                case "--stats": mode = IpvsListMode.Statistics; break;
                case "-c": case "--connection": mode = IpvsListMode.Connections; break;
                default: return ShowResult.Unsupported($"ipvsadm argument '{a}' is not supported (show is read-only)");
            }
        }
        if (!list) return ShowResult.Unsupported("ipvsadm needs -L");
        return ShowResult.Ok(IpvsadmView.Render(host, ns, mode, options));
    }

    private static ShowResult Sysctl(NamespacePlan ns, List<string> args)
    {
        bool valueOnly = false;
        var keys = new List<string>();
        foreach (var a in args)
        {
            if (a == "-n" || a == "--values") valueOnly = true;
            else if (a.StartsWith("-", StringComparison.Ordinal) || a.Contains("=")) return ShowResult.Unsupported($"sysctl argument '{a}' is not supported (show is read-only)");
            else keys.Add(a);
        }
        if (keys.Count == 0) return ShowResult.Unsupported("sysctl needs a KEY");
        var output = new StringBuilder();
        var unset = new List<string>();
        foreach (var key in keys)
        {
            var s = ProcView.Sysctl(ns, key);
            if (s is null) { unset.Add(key); continue; }
            output.Append(valueOnly ? s.Value : s.Key + " = " + s.Value).Append('\n');
        }
        if (unset.Count == 0) return ShowResult.Ok(output.ToString());
        // Not sysctl's own "cannot stat /proc/sys/...: No such file or directory" (exit 255): the plan does not know the
        // kernel's keys, and a key it does not set (net.ipv4.tcp_syncookies) exists on every host with a value show cannot
        // give. So it is show's error, exit 1 as when show cannot answer, in one line for all the keys (spec/cli.md).
        var error = "swarmdsl: error: sysctl " + string.Join(", ", unset) + (unset.Count == 1 ? " is" : " are") + " not set by this topology in " + ns.Name
            + ", so show does not know " + (unset.Count == 1 ? "its value" : "their values") + " (the kernel's default or the host's)\n";
        return new ShowResult(1, output.ToString(), error);
    }

    private static ShowResult Conntrack(HostPlan host, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        IpProtocol? protocol = null;
        bool list = false;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "-L": case "--dump": list = true; break;
                case "-n": break;
                case "-p" or "--proto" when i + 1 < args.Count && IpProtocolNames.TryParse(args[i + 1], out var p):
                    protocol = p;
                    i++;
                    break;
                default: return ShowResult.Unsupported($"conntrack argument '{args[i]}' is not supported (show is read-only)");
            }
        }
        if (!list) return ShowResult.Unsupported("conntrack needs -L");
        var (output, error) = ProcView.Conntrack(host, ns, protocol, options);
        return new ShowResult(0, output, error);
    }

    private static ShowResult Netstat(LinkTable links, NamespacePlan ns, List<string> args, ShowOptions options)
    {
        if (args.Count == 0 || args.Any(a => a != "-i" && a != "-n" && a != "-in" && a != "-ni" && a != "--interfaces"))
            return ShowResult.Unsupported("only 'netstat -i' is supported");
        if (!args.Any(a => a.Contains("i"))) return ShowResult.Unsupported("only 'netstat -i' is supported");
        return ShowResult.Ok(ProcView.NetstatInterfaces(links, ns.Name, options));
    }
}
