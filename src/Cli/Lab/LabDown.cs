using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// <c>swarmdsl lab down</c>: removes every namespace, process and link of one lab prefix, and nothing else. It works from the
/// journal <c>up</c> wrote and, independently, by scanning the named namespaces for the lab's names (<c>&lt;P&gt;fabric</c>,
/// <c>&lt;P&gt;client</c>, <c>&lt;P&gt;&lt;node&gt;</c>, <c>&lt;P&gt;&lt;node&gt;-*</c>), so it also cleans up after an <c>up</c>
/// that failed, was killed, or whose journal is gone. Processes go first (any process inside a lab namespace, and the
/// responders by pid), then the namespaces, which take their links, rules and sockets with them.
/// </summary>
internal static class LabDown
{
    /// <summary>What <c>down</c> removed, and anything it could not.</summary>
    public sealed record Result(int Namespaces, int Processes, IReadOnlyList<string> Residue);

    /// <summary>Runs <c>down</c>; <paramref name="nodes"/> are the topology's nodes when the file could be compiled.</summary>
    public static int Run(LabNames names, IReadOnlyCollection<string> nodes, CliIo io)
    {
        var result = Remove(names, nodes);
        if (result.Residue.Count > 0)
        {
            foreach (var r in result.Residue) io.Error.WriteLine("swarmdsl: error: lab down: still there: " + r);
            return Program.Failed;
        }
        io.Out.WriteLine(result.Namespaces == 0 && result.Processes == 0
            ? $"lab {names.Prefix}: nothing to remove"
            : $"lab {names.Prefix} is down: removed {result.Namespaces.ToString(CultureInfo.InvariantCulture)} namespace(s) and {result.Processes.ToString(CultureInfo.InvariantCulture)} process(es)");
        return Program.Ok;
    }

    /// <summary>Removes everything of the lab; the residue lists what is still there afterwards.</summary>
    public static Result Remove(LabNames names, IReadOnlyCollection<string> nodes)
    {
        var journal = LabJournal.Open(names);
        // 0. An up still at work would go on making namespaces behind our back: stop it first (its scripts, running inside
        //    the lab's namespaces, are found below).
        int processes = 0;
        if (!journal.Complete && journal.Owner is { } owner && owner.Pid != Environment.ProcessId)
            processes += LabProcesses.End(new[] { (owner.Pid, owner.StartTicks) });
        var allNodes = nodes.Concat(journal.Nodes).Distinct(StringComparer.Ordinal).ToList();
        // Names can be ambiguous between labs whose prefixes extend each other: lab "p-" with node "n1" owns "p-n1-*", which
        // is also lab "p-n1-"'s whole name space. What another lab's journal lists is that lab's.
        var others = OtherLabsNamespaces(names);
        List<string> Ours() => HostCommand.ListNetns().Where(n => !others.Contains(n) && (names.Owns(n, allNodes) || journal.Namespaces.Contains(n))).ToList();

        // 1. Processes: the responders (pid and start time from the journal, pid files of an up that died before journaling
        //    them), and anything else running inside a lab namespace (a verify's nft monitors, the scripts of an up that was
        //    killed, a user's shell). Repeated until none is left, as a script ended mid-way may have started another.
        var pids = new Dictionary<int, long>();
        foreach (var r in journal.Responders) pids[r.Pid] = r.StartTicks;
        if (Directory.Exists(journal.ResponderDir))
            foreach (var f in Directory.EnumerateFiles(journal.ResponderDir, "*.pid"))
                if (int.TryParse(SafeRead(f).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !pids.ContainsKey(pid)
                    && IsResponder(pid, journal.ResponderDir))
                    pids[pid] = -1;
        for (int round = 0; round < 5; round++)
        {
            foreach (var (pid, _) in LabProcesses.InNamespaces(Ours()))
                if (!pids.ContainsKey(pid)) pids[pid] = LabProcesses.StartTicks(pid);
            if (pids.Count == 0) break;
            processes += LabProcesses.End(pids.Select(kv => (kv.Key, kv.Value)).ToList());
            pids.Clear();
        }
        var ours = Ours();

        // 2. Namespaces, the ones the scripts made before the nodes', the fabric last.
        int removed = 0;
        var order = ours.OrderBy(n => n == names.Fabric ? 3 : n == names.Client ? 2 : allNodes.Any(node => names.Node(node) == n) ? 1 : 0)
            .ThenBy(n => n, StringComparer.Ordinal).ToList();
        foreach (var n in order)
        {
            var r = HostCommand.Run("ip", "netns", "del", n);
            if (r.Ok) removed++;
        }

        // 3. What is left: namespaces, processes, and links in this (root) namespace named with the prefix (the lab never
        //    makes any there; one would be a bug worth reporting, and removing it is not ours to decide).
        var residue = new List<string>();
        var left = HostCommand.ListNetns().Where(n => !others.Contains(n) && (names.Owns(n, allNodes) || journal.Namespaces.Contains(n))).ToList();
        residue.AddRange(left.Select(n => "namespace " + n));
        foreach (var (pid, netns) in LabProcesses.InNamespaces(left))
            residue.Add("process " + pid.ToString(CultureInfo.InvariantCulture) + " in " + netns);
        foreach (var link in RootLinks().Where(l => l.StartsWith(names.Prefix, StringComparison.Ordinal)))
            residue.Add("link " + link + " in the root namespace");
        if (residue.Count == 0 && Directory.Exists(journal.Dir))
        {
            try { Directory.Delete(journal.Dir, recursive: true); }
            catch (IOException ex) { residue.Add("state directory " + journal.Dir + ": " + ex.Message); }
        }
        return new Result(removed, processes, residue);
    }

    /// <summary>The prefixes of the other labs on this machine (those with a state directory).</summary>
    public static IReadOnlyList<string> OtherLabs(LabNames names)
    {
        if (!Directory.Exists(LabNames.StateRoot)) return Array.Empty<string>();
        return Directory.EnumerateDirectories(LabNames.StateRoot).Select(Path.GetFileName)
            .Where(p => p is { Length: > 0 } && p != names.Prefix && LabNames.IsValidPrefix(p, out _)).Select(p => p!)
            .OrderBy(p => p, StringComparer.Ordinal).ToList();
    }

    /// <summary>Every namespace the journals of the other labs list.</summary>
    private static HashSet<string> OtherLabsNamespaces(LabNames names)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prefix in OtherLabs(names))
        {
            var other = new LabNames(prefix);
            var journal = LabJournal.Open(other);
            result.UnionWith(journal.Namespaces);
            result.Add(other.Fabric);
            result.Add(other.Client);
            foreach (var node in journal.Nodes) result.Add(other.Node(node));
        }
        return result;
    }

    /// <summary>Link names in this process's namespace.</summary>
    public static IReadOnlyList<string> RootLinks()
    {
        var r = HostCommand.Run("ip", "-o", "link", "show");
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ")).Where(p => p.Length > 1).Select(p => p[1].Split('@')[0]).ToList();
    }

    /// <summary>Whether <paramref name="pid"/> is a <c>lab serve</c> of this state directory (its command line names the pid file there).</summary>
    private static bool IsResponder(int pid, string responderDir)
    {
        var cmdline = SafeRead("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/cmdline").Split('\0');
        return cmdline.Contains("serve") && cmdline.Any(a => a.StartsWith(responderDir + "/", StringComparison.Ordinal));
    }

    private static string SafeRead(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return ""; }
    }
}
