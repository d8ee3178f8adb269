using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// The processes of a lab, found through <c>/proc</c>: by the pid files and journal of <c>up</c>, and by the network
/// namespace they run in (any process inside one of the lab's namespaces belongs to the lab, whoever started it).
/// Processes are signalled by pid only, after checking that the pid still is the process the lab means.
/// </summary>
internal static class LabProcesses
{
    /// <summary>Field 22 of <c>/proc/PID/stat</c> (start time in clock ticks), or -1 when the process is gone.</summary>
    public static long StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var rest = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
            return long.Parse(rest[19], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return -1;
        }
    }

    /// <summary>The inode of a process's network namespace (<c>/proc/PID/ns/net</c> links to <c>net:[INODE]</c>), or 0.</summary>
    private static ulong ProcessNetnsInode(string procNetPath)
    {
        try
        {
            var target = new FileInfo(procNetPath).LinkTarget;
            if (target is null) return 0;
            var open = target.IndexOf('[');
            var close = target.IndexOf(']');
            return open >= 0 && close > open && ulong.TryParse(target.AsSpan(open + 1, close - open - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var ino) ? ino : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Every process whose network namespace is one of <paramref name="netns"/> (by namespace inode).</summary>
    public static IReadOnlyList<(int Pid, string Netns)> InNamespaces(IEnumerable<string> netns)
    {
        // One stat for all namespaces: "PATH INODE" per line.
        var byInode = new Dictionary<ulong, string>();
        var list = netns.ToList();
        if (list.Count > 0)
        {
            var r = HostCommand.Run("stat", new[] { "-L", "-c", "%n %i" }.Concat(list.Select(HostCommand.NetnsPath)));
            foreach (var line in r.StdOut.Split('\n'))
            {
                var space = line.LastIndexOf(' ');
                if (space <= 0 || !ulong.TryParse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var ino)) continue;
                var path = line.Substring(0, space);
                if (path.StartsWith("/run/netns/", StringComparison.Ordinal)) byInode[ino] = path.Substring("/run/netns/".Length);
            }
        }
        var found = new List<(int, string)>();
        if (byInode.Count == 0) return found;
        int self = Environment.ProcessId;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == self) continue;
            var ino = ProcessNetnsInode(Path.Combine(dir, "ns", "net"));
            if (ino != 0 && byInode.TryGetValue(ino, out var name)) found.Add((pid, name));
        }
        return found.OrderBy(p => p.Item1).ToList();
    }

    /// <summary>
    /// Ends <paramref name="pids"/>: SIGTERM, up to two seconds' grace, then SIGKILL. A pid whose start time no longer
    /// matches (ExpectedStart, when not -1) is a different process and is left alone. Returns how many ended.
    /// </summary>
    public static int End(IReadOnlyCollection<(int Pid, long ExpectedStart)> pids)
    {
        var live = pids.Where(p => StartTicks(p.Pid) is var s && s >= 0 && (p.ExpectedStart < 0 || s == p.ExpectedStart)).ToList();
        foreach (var p in live) Signal(p.Pid, "TERM");
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline && live.Any(p => Alive(p)))
            Thread.Sleep(50);
        foreach (var p in live.Where(Alive)) Signal(p.Pid, "KILL");
        deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline && live.Any(p => Alive(p)))
            Thread.Sleep(50);
        return live.Count(p => !Alive(p));
    }

    private static bool Alive((int Pid, long ExpectedStart) p)
    {
        var s = StartTicks(p.Pid);
        if (s < 0 || (p.ExpectedStart >= 0 && s != p.ExpectedStart)) return false;
        // A zombie (exited, not yet reaped by its parent) is gone as far as the lab is concerned.
        try
        {
            var stat = File.ReadAllText("/proc/" + p.Pid.ToString(CultureInfo.InvariantCulture) + "/stat");
            return stat.Substring(stat.LastIndexOf(')') + 2, 1) != "Z";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static void Signal(int pid, string signal)
        => HostCommand.Run("kill", "-s", signal, pid.ToString(CultureInfo.InvariantCulture));
}
