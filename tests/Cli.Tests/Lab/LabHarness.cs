using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using SwarmDsl.Cli;
using SwarmDsl.Cli.Lab;

namespace SwarmDsl.Tests.Lab;

/// <summary>What one <c>swarmdsl</c> run printed.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}

/// <summary>Runs the lab verbs in-process and checks that a prefix left nothing behind.</summary>
public static class LabHarness
{
    /// <summary>The tools the lab tests need (the lab itself checks the same list and more).</summary>
    public static readonly string[] Tools = { "ip", "bridge", "nsenter", "setsid", "bash", "awk", "sysctl", "iptables-save", "iptables-restore", "nft", "conntrack", "unshare", "stat" };

    /// <summary>The second topology: three nodes, several overlays, TCP and UDP ingress ports, a host-mode port.</summary>
    public static string Overlays => Path.Combine(Paths.Root, "tests", "Cli.Tests", "Lab", "TestData", "lab-overlays.swarm.yaml");

    /// <summary>A prefix no other test uses: <c>sdt</c> + 6 hex digits + <c>-</c>.</summary>
    public static string NewPrefix() => HostLinux.UniquePrefix() + "-";

    public static CliRun Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return new CliRun(code, o.ToString(), e.ToString());
    }

    /// <summary>
    /// Everything of <paramref name="prefix"/> still on the machine: namespaces named with it, processes whose command line
    /// names it (responders, monitors, nsenter), links in this namespace named with it, the state directory.
    /// </summary>
    public static IReadOnlyList<string> Residue(string prefix)
    {
        var left = new List<string>();
        left.AddRange(HostCommand.ListNetns().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Select(n => "namespace " + n));
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            if (cmdline.Contains(prefix, StringComparison.Ordinal) && !IsZombie(dir)) left.Add("process " + pid.ToString(CultureInfo.InvariantCulture) + ": " + cmdline.Trim());
        }
        left.AddRange(LabDown.RootLinks().Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).Select(l => "link " + l));
        var state = new LabNames(prefix).StateDir;
        if (Directory.Exists(state)) left.Add("state directory " + state);
        return left;
    }

    private static bool IsZombie(string procDir)
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(procDir, "stat"));
            return stat.Substring(stat.LastIndexOf(')') + 2, 1) == "Z";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return true;
        }
    }

    /// <summary>verify ran and the kernel and the simulation agree on everything it compared (exit 0).</summary>
    public static void AssertAgrees(CliRun verify)
    {
        Xunit.Assert.True(verify.ExitCode == 0, verify.ToString());
        Xunit.Assert.Contains("the kernel and the simulation agree", verify.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// The life of one lab: <c>lab up</c> of <paramref name="file"/> under a fresh prefix (checking the summary it prints),
    /// <paramref name="test"/> with that prefix and the up output, then <c>lab down</c> even when the test fails, checking
    /// that it removed every namespace and responder process and left nothing with the prefix.
    /// </summary>
    public static void UpTestDown(string file, string topology, int nodes, int namespaces, int responders, Action<string, CliRun> test)
    {
        var prefix = NewPrefix();
        CliRun down;
        try
        {
            var up = Run("lab", "up", file, "--prefix", prefix);
            Xunit.Assert.True(up.ExitCode == 0, up.ToString());
            Xunit.Assert.Contains(FormattableString.Invariant($"is up: {topology}, {nodes} node(s), {namespaces} namespace(s), {responders} responder(s)"), up.Out, StringComparison.Ordinal);
            test(prefix, up);
        }
        finally
        {
            down = Down(file, prefix);
        }
        Xunit.Assert.True(down.ExitCode == 0, down.ToString());
        Xunit.Assert.Contains(FormattableString.Invariant($"removed {namespaces} namespace(s) and {responders} process(es)"), down.Out, StringComparison.Ordinal);
        Xunit.Assert.Empty(Residue(prefix));
    }

    /// <summary><c>lab down</c> in a finally block: never throws, so the test's own failure stays visible.</summary>
    public static CliRun Down(string file, string prefix)
    {
        try { return Run("lab", "down", file, "--prefix", prefix); }
        catch (Exception ex) { return new CliRun(-1, "", ex.ToString()); }
    }
}

/// <summary>A fact that needs the real kernel and every tool in <see cref="LabHarness.Tools"/>; skipped otherwise.</summary>
public sealed class LabFactAttribute : Xunit.FactAttribute
{
    /// <summary>Skips unless root on Linux with every lab tool.</summary>
    public LabFactAttribute()
    {
        var why = HostLinux.WhyNot(LabHarness.Tools);
        if (why is not null) Skip = why;
    }
}
