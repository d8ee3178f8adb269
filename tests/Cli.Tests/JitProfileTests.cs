using System.Diagnostics;
using System.IO;
using System.Linq;
using SwarmDsl.Cli;
using SwarmDsl.Cli.Lab;

namespace SwarmDsl.Tests;

/// <summary>
/// The command line keeps a multicore-JIT profile per verb (<c>JitProfile</c>): a run writes it, the next one replays it,
/// and a directory that cannot be used, or the profile turned off, changes nothing but the speed.
/// </summary>
public sealed class JitProfileTests
{
    private static (int Exit, string Out, string Err) Swarmdsl(string? profile, string cache, params string[] args)
    {
        var self = LabContext.SelfCommand();
        var psi = new ProcessStartInfo(self[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in self.Skip(1).Concat(args)) psi.ArgumentList.Add(a);
        if (profile is null) psi.Environment.Remove(JitProfile.Variable);
        else psi.Environment[JitProfile.Variable] = profile;
        psi.Environment["XDG_CACHE_HOME"] = cache;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "swarmdsl did not exit");
        return (p.ExitCode, output, err.Result);
    }

    [Fact]
    public void A_run_records_its_verbs_profile_and_the_next_run_gives_the_same_output()
    {
        var dir = Path.Combine(Path.GetTempPath(), "swarmdsl-jit-" + System.Guid.NewGuid().ToString("N"));
        try
        {
            var cache = Path.Combine(dir, "xdg");
            var profiles = Path.Combine(dir, "profiles");
            var first = Swarmdsl(profiles, cache, "check", Paths.Example);
            Assert.Equal(0, first.Exit);
            var written = Path.Combine(profiles, "check.jitprofile");
            Assert.True(File.Exists(written) && new FileInfo(written).Length > 0, "no profile written");
            Assert.Equal(first, Swarmdsl(profiles, cache, "check", Paths.Example));
            // A profile cut short or overwritten (two runs writing at once, a full disk) is ignored by the runtime.
            File.WriteAllBytes(written, System.Linq.Enumerable.Range(0, 5000).Select(i => (byte)(i * 131 % 251)).ToArray());
            Assert.Equal(first, Swarmdsl(profiles, cache, "check", Paths.Example));
            // By default the profiles are a cache in $XDG_CACHE_HOME/swarmdsl.
            Assert.Equal(first, Swarmdsl(null, cache, "check", Paths.Example));
            Assert.True(File.Exists(Path.Combine(cache, "swarmdsl", "check.jitprofile")));
            Directory.Delete(cache, recursive: true);
            // Turned off, or pointed where nothing can be written: the same run, and no profile anywhere.
            Assert.Equal(first, Swarmdsl("0", cache, "check", Paths.Example));
            Assert.Equal(first, Swarmdsl("/proc/swarmdsl-cannot-exist/jit", cache, "check", Paths.Example));
            Assert.False(Directory.Exists(cache));
            // Only a verb the command line knows gets a profile: not a path, not a typo.
            Assert.Equal(2, Swarmdsl(profiles, cache, "../escape", Paths.Example).Exit);
            Assert.Equal(2, Swarmdsl(profiles, cache, "chek", Paths.Example).Exit);
            Assert.Equal(new[] { "check.jitprofile" }, Directory.GetFiles(profiles).Select(Path.GetFileName));
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
