using System;
using System.Text;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// An indentation-aware text builder for generated C#: four spaces per level, <c>\n</c> line ends whatever the host,
/// multi-line strings re-indented line by line, and blocks that close themselves (<see cref="Block(string)"/>) so braces balance.
/// </summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    // Checked every few thousand lines: a large topology's code takes seconds to write, and an edit in the IDE cancels it.
    private readonly System.Threading.CancellationToken _cancellation;
    private int _lines;

    /// <summary>A writer that stops (OperationCanceledException) soon after <paramref name="cancellation"/> is cancelled.</summary>
    public SourceWriter(System.Threading.CancellationToken cancellation = default) => _cancellation = cancellation;

    /// <summary>The current indentation level.</summary>
    public int Indentation { get; private set; }

    /// <summary>Stops (OperationCanceledException) if the writer's token is cancelled: before work that writes nothing for long.</summary>
    public void CheckCancelled() => _cancellation.ThrowIfCancellationRequested();

    /// <summary>Writes <paramref name="text"/> as one or more lines at the current indentation (empty lines stay empty).</summary>
    public void WriteLine(string text = "")
    {
        if (text.Length == 0)
        {
            _sb.Append('\n');
            return;
        }
        int start = 0;
        while (start <= text.Length)
        {
            int nl = text.IndexOf('\n', start);
            if ((++_lines & 4095) == 0) _cancellation.ThrowIfCancellationRequested();
            var line = nl < 0 ? text.Substring(start) : text.Substring(start, nl - start);
            if (line.EndsWith("\r", StringComparison.Ordinal)) line = line.Substring(0, line.Length - 1);
            if (line.Length > 0) _sb.Append(' ', Indentation * 4).Append(line);
            _sb.Append('\n');
            if (nl < 0) break;
            start = nl + 1;
        }
    }

    /// <summary>
    /// Writes the values of <paramref name="rows"/> as int literals, each as <c> N,</c>, several rows to a line after three
    /// spaces (a line ends after the row that takes it to <paramref name="lineWidth"/> characters), straight into the text:
    /// a large topology's compact tables are millions of values, and a string per value was most of the emitter's garbage.
    /// </summary>
    public void WriteIntRows(System.Collections.Generic.IEnumerable<int[]> rows, int lineWidth)
    {
        int line = -1; // where the open line's text starts (after its indentation), -1 when none is open
        foreach (var row in rows)
        {
            foreach (var v in row)
            {
                if (line < 0)
                {
                    _sb.Append(' ', Indentation * 4);
                    line = _sb.Length;
                    _sb.Append("   ");
                }
                _sb.Append(' ');
                AppendInvariant(v);
                _sb.Append(',');
            }
            if (line < 0 || _sb.Length - line < lineWidth) continue;
            _sb.Append('\n');
            line = -1;
        }
        if (line >= 0) _sb.Append('\n');
    }

    private readonly char[] _digits = new char[11];

    // int.ToString(InvariantCulture) without the string.
    private void AppendInvariant(int value)
    {
        if (value == int.MinValue)
        {
            _sb.Append("-2147483648");
            return;
        }
        if (value < 0)
        {
            _sb.Append('-');
            value = -value;
        }
        int at = _digits.Length;
        do
        {
            _digits[--at] = (char)('0' + value % 10);
            value /= 10;
        }
        while (value != 0);
        _sb.Append(_digits, at, _digits.Length - at);
    }

    /// <summary>Writes <paramref name="header"/>, an opening brace, and indents until the returned scope is disposed.</summary>
    public BlockScope Block(string header)
    {
        WriteLine(header);
        WriteLine("{");
        Indentation++;
        return new BlockScope(this);
    }

    /// <summary>Opens a bare block (a scope of its own).</summary>
    public BlockScope Block()
    {
        WriteLine("{");
        Indentation++;
        return new BlockScope(this);
    }

    /// <summary>Closes a block opened by <see cref="Block(string)"/>.</summary>
    public readonly struct BlockScope : IDisposable
    {
        private readonly SourceWriter _writer;

        internal BlockScope(SourceWriter writer) => _writer = writer;

        /// <summary>Writes the closing brace.</summary>
        public void Dispose()
        {
            _writer.Indentation--;
            _writer.WriteLine("}");
        }
    }

    /// <summary>The text written so far; every block must be closed.</summary>
    public override string ToString()
    {
        if (Indentation != 0) throw new InvalidOperationException("unbalanced blocks in generated source");
        return _sb.ToString();
    }

    /// <summary>
    /// Text for a line or XML doc comment: control characters replaced so the comment cannot end early, and what XML 1.0
    /// cannot hold (U+FFFE, U+FFFF, a lone surrogate) replaced by U+FFFD, so a documentation build (CS1570) takes any value.
    /// </summary>
    internal static string CommentText(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (char.IsControl(ch) || ch is '\u2028' or '\u2029' or '\u0085') sb.Append(' ');
            else if (ch is '\uFFFE' or '\uFFFF') sb.Append('\uFFFD');
            else if (char.IsHighSurrogate(ch) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) sb.Append(ch).Append(text[++i]);
            else if (char.IsSurrogate(ch)) sb.Append('\uFFFD');
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
