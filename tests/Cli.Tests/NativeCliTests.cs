using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;

namespace SwarmDsl.Tests;

/// <summary>
/// Publishes the command line with Native AOT (as the README's install does) into a temporary folder, once for the class,
/// without writing into the source tree's bin or obj folders.
/// </summary>
public sealed class NativeCliFixture : IDisposable
{
    private readonly Lazy<string> _executable;

    /// <summary>The folder everything is published into; removed when the class is done.</summary>
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "swarmdsl-aot-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>Starts nothing: the first test that needs the executable publishes it.</summary>
    public NativeCliFixture() => _executable = new Lazy<string>(Publish);

    /// <summary>The published native executable.</summary>
    public string Executable => _executable.Value;

    private string Publish()
    {
        var output = Path.Combine(Folder, "out");
        var run = NativeCliTests.Start(Dotnet(), new[]
        {
            "publish", Path.Combine(Paths.Root, "src", "Cli", "SwarmDsl.Cli.csproj"), "-c", "Release",
            "--artifacts-path", Path.Combine(Folder, "artifacts"), "-o", output, "-nologo", "--disable-build-servers",
        }, TimeSpan.FromMinutes(15));
        Assert.True(run.Exit == 0, "dotnet publish failed:\n" + run.Out + run.Err);
        // Trim or AOT warnings mean some code may behave otherwise when published: they fail the publish here.
        Assert.DoesNotContain("warning IL", run.Out, StringComparison.Ordinal);
        var exe = Path.Combine(output, "swarmdsl");
        Assert.True(File.Exists(exe), "no native executable at " + exe + ":\n" + run.Out);
        // No managed assembly beside it: this is the native program, not a framework-dependent one.
        Assert.False(File.Exists(Path.Combine(output, "swarmdsl.dll")), "swarmdsl.dll was published: not Native AOT");
        return exe;
    }

    private static string Dotnet()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return string.IsNullOrEmpty(host) ? "dotnet" : host;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try { if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// The natively published <c>swarmdsl</c> does what the JIT-compiled command line does: byte for byte the same output and
/// exit code for every verb on the example (and a file with errors), help included, the same emitted files, and on the
/// real kernel <c>lab</c> (which starts copies of itself as responders) and <c>diff</c> of what it built. Trimming or AOT
/// compilation that dropped or changed code would show here.
/// </summary>
public sealed class NativeCliTests : IClassFixture<NativeCliFixture>
{
    private readonly NativeCliFixture _fixture;

    /// <summary>Gets the published executable from the fixture.</summary>
    public NativeCliTests(NativeCliFixture fixture) => _fixture = fixture;

    internal static (int Exit, string Out, string Err) Start(string program, IEnumerable<string> args, TimeSpan timeout,
        IDictionary<string, string>? environment = null)
    {
        // Nothing into the user's cache, no telemetry; then the test's own settings.
        var env = new Dictionary<string, string> { ["SWARMDSL_JIT_PROFILE"] = "0", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        if (environment is not null) foreach (var kv in environment) env[kv.Key] = kv.Value;
        var r = HostLinux.Run(program, args, env: env, timeoutMs: (int)timeout.TotalMilliseconds);
        return (r.ExitCode, r.StdOut, r.StdErr);
    }

    private (int Exit, string Out, string Err) Native(params string[] args) => Start(_fixture.Executable, args, TimeSpan.FromMinutes(2));

    private (int Exit, string Out, string Err) Native(IDictionary<string, string> environment, params string[] args) =>
        Start(_fixture.Executable, args, TimeSpan.FromMinutes(2), environment);

    private void AssertSame(params string[] args)
    {
        var expected = CliRun.Run(args);
        // Help names the program it runs in: the test host, in process.
        expected = (expected.Exit, expected.Out.Replace("testhost", "swarmdsl", StringComparison.Ordinal), expected.Err.Replace("testhost", "swarmdsl", StringComparison.Ordinal));
        var actual = Native(args);
        var what = "swarmdsl " + string.Join(" ", args);
        Assert.True(expected.Exit == actual.Exit, $"{what}: exit {actual.Exit}, in process {expected.Exit}\n{actual.Err}");
        Assert.Equal(expected.Out, actual.Out);
        Assert.Equal(expected.Err, actual.Err);
    }

    [ToolFact("clang")]
    public void Every_verb_prints_what_the_jit_build_prints()
    {
        var example = Paths.Example;
        AssertSame("trace", example, "--from", "external", "--to", "manager:8080/tcp", "--reply", "--count", "2");
        AssertSame("trace", example, "--from", "external", "--to", "worker:8080/tcp", "--json");
        AssertSame("reach", example);
        AssertSame("reach", example, "--json");
        AssertSame("reach", example, "--group", "--lb", "nftables");
        AssertSame("check", example);
        AssertSame("model", example);
        AssertSame("graph", example, "--trace-from", "external", "--trace-to", "manager:8080/tcp");
        AssertSame("graph", example, "--format", "mermaid");
        AssertSame("show", example, "manager", "ingress_sbox", "--from", "external", "--to", "manager:8080/tcp", "--count", "2", "--", "ipvsadm", "-L", "-n", "--stats");
        AssertSame("show", example, "worker", "host", "--", "iptables-save");
        AssertSame("synth", "--nodes", "3", "--services", "4");
        AssertSame("reach", "/nonexistent/x.swarm.yaml");
        AssertSame("--help");
        AssertSame("reach", "--help");
        // In process, --version is the test host's.
        Assert.StartsWith(typeof(SwarmDsl.Cli.Program).Assembly.GetName().Version!.ToString(3) + "+", Native("--version").Out, StringComparison.Ordinal);
    }

    [ToolFact("clang")]
    public void A_file_with_errors_gets_the_same_located_diagnostics()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-aot-check-").FullName;
        try
        {
            var bad = Path.Combine(dir, "bad.swarm.yaml");
            File.WriteAllText(bad, File.ReadAllText(Paths.Example).Replace("10.7.191.9", "10.7.191.999", StringComparison.Ordinal)
                + "expect:\n  - from: external\n    to: nowhere:1/tcp\n    reaches: true\n");
            var expected = CliRun.Run("check", bad);
            Assert.NotEqual(0, expected.Exit);
            Assert.Contains("error SWARM", expected.Out + expected.Err, StringComparison.Ordinal);
            AssertSame("check", bad);
            AssertSame("trace", bad, "--from", "external", "--to", "manager:8080/tcp");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The multicore-JIT profile is the JIT build's: the native program has no JIT and writes no profile.</summary>
    [ToolFact("clang")]
    public void The_native_program_writes_no_jit_profile()
    {
        var cache = Directory.CreateTempSubdirectory("swarmdsl-aot-cache-").FullName;
        try
        {
            var environment = new Dictionary<string, string> { ["SWARMDSL_JIT_PROFILE"] = "", ["XDG_CACHE_HOME"] = cache };
            var run = Native(environment, "reach", Paths.Example);
            Assert.True(run.Exit == 0, run.Err);
            Assert.Empty(Directory.GetFileSystemEntries(cache));
            // The JIT build does write one there with the same settings (else this test would pass for nothing).
            var self = SwarmDsl.Cli.Lab.LabContext.SelfCommand();
            var jit = Start(self[0], self.Skip(1).Concat(new[] { "reach", Paths.Example }), TimeSpan.FromMinutes(2), environment);
            Assert.True(jit.Exit == 0, jit.Err);
            Assert.True(File.Exists(Path.Combine(cache, "swarmdsl", "reach.jitprofile")), "the JIT build wrote no profile");
        }
        finally { Directory.Delete(cache, recursive: true); }
    }

    [ToolFact("clang")]
    public void Emit_writes_the_same_files()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-aot-emit-").FullName;
        try
        {
            var jit = Path.Combine(dir, "jit");
            var native = Path.Combine(dir, "native");
            var expected = CliRun.Run("emit", Paths.Example, "-o", jit);
            var actual = Native("emit", Paths.Example, "-o", native);
            Assert.Equal(0, expected.Exit);
            Assert.True(actual.Exit == 0, actual.Err);
            Assert.Equal(expected.Out.Replace(jit, "OUT", StringComparison.Ordinal), actual.Out.Replace(native, "OUT", StringComparison.Ordinal));
            Assert.Equal(Files(jit), Files(native));
        }
        finally { Directory.Delete(dir, recursive: true); }

        static List<string> Files(string root) => Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// <c>lab</c> starts the program again for every responder (<c>swarmdsl lab serve</c>): a native program has no
    /// assembly on disk to start with <c>dotnet</c>, so it must start itself. Built on the real kernel, then removed.
    /// </summary>
    [NativeLabFact]
    public void Lab_up_verify_down_runs_its_responders_as_the_native_program()
    {
        var prefix = Lab.LabHarness.NewPrefix();
        try
        {
            var up = Native("lab", "up", Paths.Example, "--prefix", prefix);
            Assert.True(up.Exit == 0, up.Out + up.Err);
            var verify = Native("lab", "verify", Paths.Example, "--prefix", prefix, "--count", "2", "--no-trace");
            Assert.True(verify.Exit == 0, verify.Out + verify.Err);
            // The answers come from the responders, which are this executable started again.
            Assert.Contains("manager:8080/tcp  web.1 web.2 | web.1 web.2   agree", verify.Out, StringComparison.Ordinal);
            Assert.Contains("verify: the kernel and the simulation agree", verify.Out, StringComparison.Ordinal);
            // diff reads the live namespaces the native lab built: as the JIT build reads them.
            foreach (var node in new[] { "manager", "worker" })
                AssertSame("diff", Paths.Example, node, "--live", "--prefix", prefix);
            var down = Native("lab", "down", Paths.Example, "--prefix", prefix);
            Assert.True(down.Exit == 0, down.Out + down.Err);
        }
        finally
        {
            // Whatever happened above, nothing with the prefix is left (the in-process lab removes what the native one made).
            Lab.LabHarness.Down(Paths.Example, prefix);
            Assert.Empty(Lab.LabHarness.Residue(prefix));
        }
    }
}

/// <summary>A lab fact (root, the real kernel, every lab tool) that also needs clang to publish the native program.</summary>
public sealed class NativeLabFactAttribute : FactAttribute
{
    /// <summary>Skips, saying why, unless the lab can run and clang is installed.</summary>
    public NativeLabFactAttribute()
    {
        var why = HostLinux.WhyNot(Lab.LabHarness.Tools) ?? (HostLinux.HasTool("clang") ? null : "needs clang");
        if (why is not null) Skip = why;
    }
}
