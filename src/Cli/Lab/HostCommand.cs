using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace SwarmDsl.Cli.Lab;

/// <summary>What a program printed and how it exited.</summary>
/// <param name="ExitCode">The exit code (127 when the program could not be started, 124 after a timeout).</param>
/// <param name="StdOut">Standard output.</param>
/// <param name="StdErr">Standard error.</param>
internal sealed record CommandResult(int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Whether the program exited 0.</summary>
    public bool Ok => ExitCode == 0;

    /// <summary>The last non-empty line of stderr (or stdout), for one-line error messages.</summary>
    public string LastLine()
    {
        foreach (var text in new[] { StdErr, StdOut })
        {
            var line = text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
            if (line is not null) return line;
        }
        return "exit code " + ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// Runs the host's tools (ip, nft, nsenter, ...) with arguments passed as a vector, never through a shell, so names that
/// come from YAML are never parsed as shell text.
/// </summary>
internal static class HostCommand
{
    /// <summary>Runs <paramref name="file"/> and waits for it (killing it after <paramref name="timeoutMs"/>).</summary>
    public static CommandResult Run(string file, IEnumerable<string> args, string? stdin = null,
        IReadOnlyDictionary<string, string>? env = null, int timeoutMs = 60_000)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        }
        catch (Win32Exception ex)
        {
            return new CommandResult(127, "", "cannot run " + file + ": " + ex.Message);
        }
        using (p)
        {
            var so = p.StandardOutput.ReadToEndAsync();
            var se = p.StandardError.ReadToEndAsync();
            try
            {
                if (stdin is not null) p.StandardInput.Write(stdin);
                p.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program exited without reading its input; its exit code says what happened.
            }
            if (!p.WaitForExit(timeoutMs))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.WaitForExit();
                return new CommandResult(124, so.Result, se.Result + "\n" + file + " did not finish in " + (timeoutMs / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture) + " s");
            }
            p.WaitForExit();
            return new CommandResult(p.ExitCode, so.Result, se.Result);
        }
    }

    /// <summary>Runs a program with arguments.</summary>
    public static CommandResult Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>Runs a program inside network namespace <paramref name="netns"/> (entered with <c>nsenter --net</c>, no private mount namespace).</summary>
    public static CommandResult InNetns(string netns, string file, IEnumerable<string> args, string? stdin = null,
        IReadOnlyDictionary<string, string>? env = null, int timeoutMs = 60_000)
        => Run("nsenter", new[] { "--net=" + NetnsPath(netns), "--", file }.Concat(args), stdin, env, timeoutMs);

    /// <summary>Runs a program inside a network namespace.</summary>
    public static CommandResult InNetns(string netns, string file, params string[] args) => InNetns(netns, file, (IEnumerable<string>)args);

    /// <summary>The bind mount <c>ip netns</c> keeps for a named namespace.</summary>
    public static string NetnsPath(string netns) => "/run/netns/" + netns;

    /// <summary>Whether <paramref name="tool"/> is an executable on PATH (or in /usr/sbin, /sbin).</summary>
    public static bool HasTool(string tool)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }))
            if (File.Exists(Path.Combine(dir, tool))) return true;
        return false;
    }

    /// <summary>The named network namespaces (<c>ip netns list</c>), sorted ordinally.</summary>
    public static IReadOnlyList<string> ListNetns()
    {
        // /run/netns holds one bind-mounted file per named namespace; reading it avoids parsing ip's "(id: N)" suffixes.
        if (!Directory.Exists("/run/netns")) return Array.Empty<string>();
        return Directory.EnumerateFiles("/run/netns").Select(Path.GetFileName).OfType<string>()
            .OrderBy(n => n, StringComparer.Ordinal).ToList();
    }
}
