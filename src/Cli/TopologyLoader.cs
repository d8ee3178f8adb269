using System;
using System.Globalization;
using System.IO;
using System.Text;
using SwarmDsl.Diagnostics;
using SwarmDsl.Lowering;
using SwarmDsl.Plan;
using SwarmDsl.Text;

namespace SwarmDsl.Cli;

/// <summary>Reads and compiles a topology file, turning I/O problems into one clear line.</summary>
internal static class TopologyLoader
{
    /// <summary>The largest topology file we read (a 1,000-service topology is well under this).</summary>
    private const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>
    /// How the command line lowers: with <paramref name="backend"/>, one node per processor at a time (the plan is the same;
    /// on two processors a 100-node topology lowers in 0.92 of the time: lowering allocates, and the collector stops both).
    /// </summary>
    public static LoweringOptions Lowering(LoadBalancerBackend backend = LoadBalancerBackend.Ipvs) =>
        new(backend) { Parallelism = Environment.ProcessorCount };

    /// <summary>
    /// Compiles <paramref name="file"/>; null (after printing one line to stderr) when it cannot be read. Bytes that are not
    /// UTF-8 are a located SWARM0001 of the file, reported as its other errors are.
    /// </summary>
    public static CompilationResult? Load(string file, CliIo io)
    {
        string text;
        if (string.IsNullOrWhiteSpace(file)) { io.Error.WriteLine("swarmdsl: error: the topology file name is empty"); return null; }
        byte[] bytes = Array.Empty<byte>();
        int length = 0;
        try
        {
            var info = new FileInfo(file);
            if (Directory.Exists(file)) { io.Error.WriteLine($"swarmdsl: error: '{file}' is a directory, not a topology file"); return null; }
            if (!info.Exists) { io.Error.WriteLine($"swarmdsl: error: cannot read '{file}': no such file"); return null; }
            if (info.Length > MaxBytes) { io.Error.WriteLine($"swarmdsl: error: '{file}' is larger than {MaxBytes / (1024 * 1024)} MiB"); return null; }
            // Read at most MaxBytes + 1: a device or pipe may report length 0 and never end (/dev/zero).
            var buffer = new MemoryStream();
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                var chunk = new byte[81920];
                int n;
                while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
                {
                    buffer.Write(chunk, 0, n);
                    if (buffer.Length > MaxBytes) { io.Error.WriteLine($"swarmdsl: error: '{file}' is larger than {MaxBytes / (1024 * 1024)} MiB"); return null; }
                }
            }
            bytes = buffer.GetBuffer();
            length = (int)buffer.Length;
            text = new UTF8Encoding(false, true).GetString(bytes, 0, length);
        }
        catch (DecoderFallbackException)
        {
            return SwarmCompiler.Unreadable(file, NotUtf8(file, bytes.AsSpan(0, length)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            io.Error.WriteLine($"swarmdsl: error: cannot read '{file}': {ex.Message}");
            return null;
        }
        return SwarmCompiler.Compile(file, text);
    }

    /// <summary>SWARM0001 at the first byte that is not UTF-8 (line and column counted as for any other diagnostic).</summary>
    internal static Diagnostic NotUtf8(string file, ReadOnlySpan<byte> bytes)
    {
        int at = 0;
        while (at < bytes.Length && System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out int used) == System.Buffers.OperationStatus.Done) at += used;
        // Lines and columns as the YAML reader counts them: LF, CRLF and a lone CR end a line; a BOM is not a column.
        int line = 1, lineStart = bytes.StartsWith(new byte[] { 0xEF, 0xBB, 0xBF }) ? 3 : 0;
        for (int i = lineStart; i < at; i++)
            if (bytes[i] == (byte)'\n' || (bytes[i] == (byte)'\r' && (i + 1 >= bytes.Length || bytes[i + 1] != (byte)'\n')))
            {
                line++;
                lineStart = i + 1;
            }
        int column = 1 + Encoding.UTF8.GetCharCount(bytes[lineStart..at]);
        var what = at < bytes.Length ? "byte 0x" + bytes[at].ToString("x2", CultureInfo.InvariantCulture) : "the last bytes";
        return Diagnostic.Create(DiagnosticDescriptors.YamlSyntax, SourceSpan.At(file, line, column),
            $"malformed YAML: {what} is not UTF-8 (a topology file is UTF-8 text; convert it, e.g. with iconv -t UTF-8)");
    }
}
