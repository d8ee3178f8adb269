using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;

namespace SwarmDsl.Tests;

/// <summary>The result of running a program.</summary>
public sealed record ProcessResult(int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Throws with both streams when the exit code is not 0.</summary>
    public ProcessResult EnsureSuccess(string what)
    {
        if (ExitCode != 0) throw new Xunit.Sdk.XunitException($"{what} failed with exit code {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}");
        return this;
    }
}

/// <summary>Facts about the machine the tests run on, and a way to run its tools.</summary>
public static class HostLinux
{
    /// <summary>Whether the test process is root (needed for network namespaces).</summary>
    public static bool IsRoot => OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess;

    /// <summary>Whether <paramref name="tool"/> is an executable on PATH.</summary>
    public static bool HasTool(string tool)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(new[] { "/usr/sbin", "/sbin" }))
            if (File.Exists(Path.Combine(dir, tool))) return true;
        return false;
    }

    /// <summary>Why a namespace test cannot run here (null when it can).</summary>
    public static string? WhyNot(IEnumerable<string> tools)
    {
        if (!OperatingSystem.IsLinux()) return "needs Linux";
        if (!IsRoot) return "needs root (creates network namespaces)";
        var missing = tools.Where(t => !HasTool(t)).ToList();
        return missing.Count == 0 ? null : "needs " + string.Join(", ", missing);
    }

    /// <summary>Runs a program with arguments (no shell), optional stdin and extra environment, with a timeout.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, string? stdin = null,
        IReadOnlyDictionary<string, string>? env = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, so.Result, se.Result);
    }

    /// <summary>Runs a program with the given arguments.</summary>
    public static ProcessResult Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>A fresh prefix for objects a test creates: <c>sdt</c> + 6 random hex digits.</summary>
    public static string UniquePrefix() => "sdt" + Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
}

/// <summary>A [Fact] that is skipped, with the reason, when the host cannot build network namespaces or lacks a tool.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    /// <summary>Skips unless root on Linux with every tool in <paramref name="tools"/>.</summary>
    public NetnsFactAttribute(params string[] tools)
    {
        var why = HostLinux.WhyNot(tools.Length == 0 ? new[] { "ip" } : tools);
        if (why is not null) Skip = why;
    }
}

/// <summary>
/// Network namespaces created by one test, all named with one unique prefix, and deleted (with anything else carrying the
/// prefix) on Dispose, even after a failure.
/// </summary>
public sealed class ScratchNamespaces : IDisposable
{
    /// <summary>Creates the set with a fresh prefix.</summary>
    public ScratchNamespaces() => Prefix = HostLinux.UniquePrefix();

    /// <summary>The prefix every namespace of this test starts with.</summary>
    public string Prefix { get; }

    /// <summary>Creates <c>PREFIX-suffix</c> and returns its name.</summary>
    public string Create(string suffix)
    {
        var name = Prefix + "-" + suffix;
        HostLinux.Run("ip", "netns", "add", name).EnsureSuccess("ip netns add " + name);
        HostLinux.Run("ip", "-n", name, "link", "set", "lo", "up").EnsureSuccess("lo up in " + name);
        return name;
    }

    /// <summary>Runs a command inside namespace <paramref name="ns"/> (with <c>ip netns exec</c>).</summary>
    public static ProcessResult Exec(string ns, string file, IEnumerable<string> args, string? stdin = null)
        => HostLinux.Run("ip", new[] { "netns", "exec", ns, file }.Concat(args), stdin);

    /// <summary>Every namespace now present whose name starts with the prefix.</summary>
    public IReadOnlyList<string> Existing()
    {
        var r = HostLinux.Run("ip", "netns", "list");
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0])
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var ns in Existing()) HostLinux.Run("ip", "netns", "del", ns);
    }
}
