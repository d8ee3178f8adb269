using System;
using System.Globalization;

namespace SwarmDsl.Text;

/// <summary>
/// Where a declaration stands in its file: 1-based start and end line and column, as YAML editors and
/// MSBuild's canonical error format count them.
/// </summary>
public readonly record struct SourceSpan(string File, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    /// <summary>A span for things that have no declaration (implicit objects).</summary>
    public static SourceSpan None { get; } = new("", 0, 0, 0, 0);

    /// <summary>Whether this span points at a real place.</summary>
    public bool IsKnown => StartLine > 0;

    /// <summary>A zero-width span at one position.</summary>
    public static SourceSpan At(string file, int line, int column) => new(file, line, column, line, column);

    /// <summary>The file name without directories, for comments that must not leak local paths.</summary>
    public string FileName => System.IO.Path.GetFileName(File);

    /// <summary><c>two-node.swarm.yaml:31:9</c>: the form used in rule comments and traces.</summary>
    public string ToShortString() => IsKnown
        ? string.Format(CultureInfo.InvariantCulture, "{0}:{1}:{2}", FileName, StartLine, StartColumn)
        : "(derived)";

    /// <summary><c>file(line,col)</c>: the MSBuild canonical location.</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}({1},{2})", File, StartLine, StartColumn);
}
