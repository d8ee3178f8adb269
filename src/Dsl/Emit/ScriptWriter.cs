using System.Text;

namespace SwarmDsl.Emit;

/// <summary>Builds a script line by line with two-space indentation (LF line ends, as bash needs).</summary>
internal sealed class ScriptWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public ScriptWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', 2 * _indent).Append(text);
        _sb.Append('\n');
        return this;
    }

    /// <summary>A <c>#</c> comment (kept on one line).</summary>
    public ScriptWriter Comment(string text) => Line("# " + Shell.CommentText(text));

    /// <summary>Writes raw text (already formatted, several lines) as is.</summary>
    public ScriptWriter Raw(string text)
    {
        _sb.Append(text);
        return this;
    }

    public ScriptWriter Indent() { _indent++; return this; }
    public ScriptWriter Outdent() { _indent--; return this; }

    public override string ToString() => _sb.ToString();
}
