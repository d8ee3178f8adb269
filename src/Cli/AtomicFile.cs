using System;
using System.Globalization;
using System.IO;

namespace SwarmDsl.Cli;

/// <summary>Writes one output file whole or not at all, for the verbs that write a single file (<c>trace --pcap</c>, <c>synth -o</c>).</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="write"/>: into a temporary file beside it, then moved over it, so a
    /// failure leaves neither a half-written file nor a spoiled old one. On failure says why on stderr and returns false.
    /// </summary>
    public static bool TryWrite(string path, Action<Stream> write, CliIo io)
    {
        string target, temp;
        try
        {
            target = Path.GetFullPath(path);
            // Through a symbolic link to the file it names (the link stays a link).
            if (new FileInfo(target).LinkTarget is not null && !Special(target) && new FileInfo(target).ResolveLinkTarget(returnFinalTarget: true) is { } final)
                target = final.FullName;
            temp = Path.Combine(Path.GetDirectoryName(target) ?? ".", "." + Path.GetFileName(target) + "." + Path.GetRandomFileName() + ".tmp");
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            io.Error.WriteLine($"swarmdsl: error: cannot write '{path}': {ex.Message}");
            return false;
        }
        try
        {
            // A pipe, a device or /dev/fd/N (--pcap >(tshark -r -)), or an empty file: written in place, as there is nothing
            // to keep whole (and renaming over a FIFO would replace it with a file nobody reads).
            if (Special(target) || new FileInfo(target) is { Exists: true, Length: 0 })
            {
                using var direct = new FileStream(target, FileMode.Create, FileAccess.Write);
                write(direct);
                return true;
            }
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write)) write(fs);
            if (!OperatingSystem.IsWindows() && File.Exists(target)) File.SetUnixFileMode(temp, File.GetUnixFileMode(target));
            File.Move(temp, target, overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            try { File.Delete(temp); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            io.Error.WriteLine($"swarmdsl: error: cannot write '{path}': {ex.Message}");
            return false;
        }
    }

    // Paths of the kernel's own files (/dev/stdout, /dev/fd/63, /proc/self/fd/1): never replaced by a rename.
    private static bool Special(string full) =>
        full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal);

    /// <summary>The usage problem of <paramref name="path"/> given to <paramref name="option"/> (empty, or a directory), or null.</summary>
    public static string? Problem(string option, string path) =>
        path.Trim().Length == 0 ? option + " needs a file name"
        : Directory.Exists(path) ? $"{option} '{path}' is a directory: name a file to write"
        : null;
}
