using System;
using System.IO;
using System.Runtime;

namespace SwarmDsl.Cli;

/// <summary>
/// Multicore JIT for the command line (<see cref="ProfileOptimization"/>): each run of a verb records which methods it
/// compiled, and the next run of that verb compiles them on another core while the first one reads the topology. A reach
/// question about one service of a 1,000-service topology is JIT-bound for a third of its time; the profile takes
/// 0.2 s off it (docs/insight.md, session 10). The profiles are a cache: <c>$SWARMDSL_JIT_PROFILE</c> names their directory
/// (<c>0</c> turns them off), else <c>$XDG_CACHE_HOME/swarmdsl</c> or <c>~/.cache/swarmdsl</c> (the local application
/// data folder on Windows). Nothing fails when the directory cannot be made or written: the run is only not faster.
/// </summary>
internal static class JitProfile
{
    /// <summary>The environment variable that names the profiles' directory, or turns them off with <c>0</c>.</summary>
    public const string Variable = "SWARMDSL_JIT_PROFILE";

    /// <summary>Starts recording (and, when a profile exists, replaying) the profile of <paramref name="verb"/>, a verb the command line parsed.</summary>
    public static void Start(string verb)
    {
        // The natively published program has no JIT: no profile to record, and nothing to write into the user's cache.
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled) return;
        // The verb names the file: only a plain word, never a path.
        if (verb.Length is 0 or > 16) return;
        foreach (var c in verb) if (c is < 'a' or > 'z') return;
        // lab starts a responder process per namespace at once (`lab serve`): no profile for them to race over.
        if (verb == "lab") return;
        var setting = Environment.GetEnvironmentVariable(Variable);
        if (setting == "0") return;
        try
        {
            var directory = string.IsNullOrEmpty(setting) ? DefaultDirectory() : setting;
            if (directory is null) return;
            Directory.CreateDirectory(directory);
            ProfileOptimization.SetProfileRoot(directory);
            ProfileOptimization.StartProfile(verb + ".jitprofile");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // A read-only home or an odd path: run without the profile.
        }
    }

    private static string? DefaultDirectory()
    {
        if (Environment.OSVersion.Platform == PlatformID.Win32NT)
        {
            var local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            return string.IsNullOrEmpty(local) ? null : Path.Combine(local, "swarmdsl");
        }
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(cache) && Path.IsPathRooted(cache)) return Path.Combine(cache, "swarmdsl");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", "swarmdsl");
    }
}
