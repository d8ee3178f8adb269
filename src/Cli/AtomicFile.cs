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
        string full, temp;
        try
        {
            full = Path.GetFullPath(path);
            temp = Path.Combine(Path.GetDirectoryName(full) ?? ".",
                "." + Path.GetFileName(full) + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp");
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            io.Error.WriteLine($"swarmdsl: error: cannot write '{path}': {ex.Message}");
            return false;
        }
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write)) write(fs);
            File.Move(temp, full, overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            try { File.Delete(temp); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            io.Error.WriteLine($"swarmdsl: error: cannot write '{path}': {ex.Message}");
            return false;
        }
    }

    /// <summary>The usage problem of <paramref name="path"/> given to <paramref name="option"/> (empty, or a directory), or null.</summary>
    public static string? Problem(string option, string path) =>
        path.Trim().Length == 0 ? option + " needs a file name"
        : Directory.Exists(path) ? $"{option} '{path}' is a directory: name a file to write"
        : null;
}
