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

/// <summary>A [Theory] that is skipped, with the reason, as <see cref="NetnsFactAttribute"/> is.</summary>
public sealed class NetnsTheoryAttribute : TheoryAttribute
{
    /// <summary>Skips unless root on Linux with every tool in <paramref name="tools"/>.</summary>
    public NetnsTheoryAttribute(params string[] tools)
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

/// <summary>
/// An underlay for node namespaces: one namespace per node holding the node's underlay interface with its address, joined
/// by a bridge in a fabric namespace, plus optional client namespaces on the same segment. Everything is created inside
/// <see cref="ScratchNamespaces"/> (so it carries its prefix and is deleted with it); the root namespace is not touched.
/// </summary>
public sealed class UnderlayFabric
{
    private readonly ScratchNamespaces _scratch;
    private int _ports;

    public UnderlayFabric(ScratchNamespaces scratch)
    {
        _scratch = scratch;
        Fabric = scratch.Create("fabric");
        HostLinux.Run("ip", "-n", Fabric, "link", "add", "br0", "type", "bridge").EnsureSuccess("fabric bridge");
        HostLinux.Run("ip", "-n", Fabric, "link", "set", "br0", "up").EnsureSuccess("fabric bridge up");
    }

    /// <summary>The fabric namespace.</summary>
    public string Fabric { get; }

    /// <summary>Creates namespace <c>PREFIX-name</c> with interface <paramref name="iface"/> carrying <paramref name="cidr"/> on the fabric.</summary>
    public string AddNode(string name, string iface, string cidr, int mtu = 1500)
    {
        var ns = _scratch.Create(name);
        var port = "f" + (_ports++).ToString(System.Globalization.CultureInfo.InvariantCulture);
        HostLinux.Run("ip", "-n", Fabric, "link", "add", port, "mtu", mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "type", "veth",
            "peer", "name", iface, "netns", ns).EnsureSuccess("fabric veth for " + name);
        HostLinux.Run("ip", "-n", Fabric, "link", "set", port, "master", "br0", "up").EnsureSuccess("fabric port up");
        HostLinux.Run("ip", "-n", ns, "link", "set", iface, "mtu", mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "up").EnsureSuccess("node link up");
        HostLinux.Run("ip", "-n", ns, "addr", "add", cidr, "dev", iface).EnsureSuccess("node address");
        return ns;
    }

    /// <summary>Runs <paramref name="script"/> with bash inside namespace <paramref name="ns"/> entered with nsenter --net (as the lab does).</summary>
    public static ProcessResult RunScript(string ns, string script, IReadOnlyDictionary<string, string> env)
        => HostLinux.Run("nsenter", new[] { "--net=/run/netns/" + ns, "--", "bash", script }, env: env, timeoutMs: 300_000);
}
