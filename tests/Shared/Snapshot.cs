using System;
using System.IO;
using System.Runtime.CompilerServices;
using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace SwarmDsl.Tests;

/// <summary>
/// Snapshot assertions with Verify's conventions: <c>&lt;Class&gt;.&lt;Test&gt;.verified.txt</c> is committed next to the test file;
/// on a mismatch <c>.received.txt</c> is written beside it (git-ignored) and the failure shows a DiffPlex line diff.
/// Set <c>SWARMDSL_ACCEPT=1</c> (or Verify's <c>VERIFY_AUTOACCEPT=1</c>) to accept the received text as verified.
/// </summary>
public static class Snapshot
{
    /// <summary>Compares <paramref name="actual"/> with the verified snapshot named after the calling test.</summary>
    public static void Verify(string actual, string? name = null, string extension = "txt",
        [CallerFilePath] string sourceFile = "", [CallerMemberName] string member = "")
    {
        var dir = Path.GetDirectoryName(sourceFile)!;
        var cls = Path.GetFileNameWithoutExtension(sourceFile);
        var stem = Path.Combine(dir, "Snapshots", $"{cls}.{name ?? member}");
        var verified = $"{stem}.verified.{extension}";
        var received = $"{stem}.received.{extension}";
        var normalized = actual.Replace("\r\n", "\n");
        if (!normalized.EndsWith('\n')) normalized += "\n";

        var expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == normalized)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(verified)!);
        if (Accepting)
        {
            File.WriteAllText(verified, normalized, new UTF8Encoding(false));
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, normalized, new UTF8Encoding(false));
        throw new Xunit.Sdk.XunitException(expected is null
            ? $"No verified snapshot {Path.GetFileName(verified)}; wrote {Path.GetFileName(received)}. Review it and rename it, or run with SWARMDSL_ACCEPT=1."
            : $"Snapshot {Path.GetFileName(verified)} differs (received written beside it; SWARMDSL_ACCEPT=1 accepts):\n{Diff(expected, normalized)}");
    }

    private static bool Accepting =>
        Environment.GetEnvironmentVariable("SWARMDSL_ACCEPT") is "1" or "true" || Environment.GetEnvironmentVariable("VERIFY_AUTOACCEPT") is "1" or "true";

    /// <summary>A unified-style line diff, at most 80 changed lines.</summary>
    public static string Diff(string expected, string actual)
    {
        var model = InlineDiffBuilder.Diff(expected, actual, ignoreWhiteSpace: false);
        var sb = new StringBuilder();
        int shown = 0;
        for (int i = 0; i < model.Lines.Count && shown < 80; i++)
        {
            var line = model.Lines[i];
            if (line.Type == ChangeType.Unchanged) continue;
            sb.Append(line.Type switch { ChangeType.Inserted => "+ ", ChangeType.Deleted => "- ", _ => "~ " })
              .Append(line.Position?.ToString() ?? "?").Append(": ").AppendLine(line.Text);
            shown++;
        }
        return sb.ToString();
    }
}
