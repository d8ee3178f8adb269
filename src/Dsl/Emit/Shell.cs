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
        return QuoteAlways(word);
    }

    /// <summary>
    /// One shell word in single quotes whatever it holds (each <c>'</c> written <c>'\''</c>): for values that must not be
    /// bare even when no shell would mind, see <see cref="Assign"/>.
    /// </summary>
    public static string QuoteAlways(string word)
    {
        if (word is null) throw new ArgumentNullException(nameof(word));
        return "'" + word.Replace("'", "'\\''") + "'";
    }

    /// <summary>
    /// A variable assignment <c>NAME='value'</c>, the value always in single quotes. A bare value that starts with the name
    /// of a variable the script sets followed by <c>-</c>, <c>+</c> or <c>*</c> (a node <c>kind-worker</c>, <c>a-1</c> or
    /// <c>ns-1</c> where the script has <c>kind</c>, <c>a</c> and <c>ns</c>) is what shellcheck takes for arithmetic written
    /// without <c>$((..))</c> (SC2100), so every assignment the emitters write goes through here.
    /// </summary>
    public static string Assign(string variable, string value)
    {
        if (variable is null) throw new ArgumentNullException(nameof(variable));
        bool name = variable.Length > 0 && variable[0] is not (>= '0' and <= '9');
        foreach (var c in variable) name &= c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_';
        if (!name) throw new ArgumentException($"'{variable}' is not a shell variable name", nameof(variable));
        return variable + "=" + QuoteAlways(value);
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
