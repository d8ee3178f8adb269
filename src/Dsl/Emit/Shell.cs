using System;
using System.Text;

namespace SwarmDsl.Emit;

/// <summary>Quoting for words printed into bash scripts (the result reads back as exactly the original string).</summary>
public static class Shell
{
    /// <summary>
    /// One shell word: bare when it holds only characters no shell treats specially (letters, digits, <c>_@%+=:,./-</c>),
    /// otherwise in single quotes with each <c>'</c> written <c>'\''</c>. The empty string is <c>''</c>.
    /// </summary>
    public static string Quote(string word)
    {
        if (word is null) throw new ArgumentNullException(nameof(word));
        if (IsBare(word)) return word;
        return "'" + word.Replace("'", "'\\''") + "'";
    }

    /// <summary>Whether <paramref name="word"/> can be printed without quotes.</summary>
    public static bool IsBare(string word)
    {
        if (word.Length == 0) return false;
        foreach (var c in word)
            if (!(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '@' or '%' or '+' or '=' or ':' or ',' or '.' or '/' or '-'))
                return false;
        return true;
    }

    /// <summary>
    /// Text to place between double quotes (next to expansions such as <c>${P}</c>): <c>\</c>, <c>$</c>, <c>`</c> and
    /// <c>"</c> are escaped with a backslash (bash does not expand <c>!</c> in scripts).
    /// </summary>
    public static string EscapeInDoubleQuotes(string text)
    {
        if (text is null) throw new ArgumentNullException(nameof(text));
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\\' or '$' or '`' or '"') sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>The plan's source file name without folders (comments must not leak local paths), fit for a comment line.</summary>
    public static string SourceName(Plan.DataplanePlan plan) => CommentText(System.IO.Path.GetFileName(plan.SourceFile));

    /// <summary>A <c>#</c> comment line's text with line breaks and control characters replaced, so it stays one line.</summary>
    public static string CommentText(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text) sb.Append(char.IsControl(c) ? ' ' : c);
        return sb.ToString();
    }
}
