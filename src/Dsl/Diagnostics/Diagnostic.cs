using System;
using System.Collections.Generic;
using System.Globalization;
using SwarmDsl.Text;

namespace SwarmDsl.Diagnostics;

/// <summary>How bad a diagnostic is.</summary>
public enum Severity
{
    /// <summary>Information only.</summary>
    Info,
    /// <summary>The topology works but probably not as intended.</summary>
    Warning,
    /// <summary>The topology cannot be compiled.</summary>
    Error,
}

/// <summary>One entry of the diagnostic catalogue: a stable ID, a title and a default severity.</summary>
public sealed record DiagnosticDescriptor(string Id, string Title, Severity Severity, string Fix);

/// <summary>A located message about the input. Value-equatable so it can flow through incremental pipelines.</summary>
public sealed record Diagnostic(string Id, Severity Severity, string Message, SourceSpan Span)
{
    /// <summary>Creates a diagnostic from its catalogue entry.</summary>
    public static Diagnostic Create(DiagnosticDescriptor descriptor, SourceSpan span, string message, Severity? severity = null)
        => new(descriptor.Id, severity ?? descriptor.Severity, OneLine(message), span);

    /// <summary>
    /// Messages quote values from the input; a newline or control character there would break the one-line
    /// <c>file(line,col): error ID: message</c> form that IDEs parse, so such characters are shown as <c>\uXXXX</c>.
    /// </summary>
    internal static string OneLine(string message)
    {
        int i = 0;
        while (i < message.Length && !NeedsEscape(message, i)) i++;
        if (i == message.Length) return message;
        var sb = new System.Text.StringBuilder(message.Length + 16);
        for (int j = 0; j < message.Length; j++)
        {
            if (NeedsEscape(message, j)) sb.Append("\\u").Append(((int)message[j]).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(message[j]);
        }
        return sb.ToString();
    }

    private static bool NeedsEscape(string s, int i)
    {
        var ch = s[i];
        if (char.IsControl(ch)) return true;
        // Bidirectional overrides could make a message read differently from what it says.
        if (ch is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069') return true;
        // Lone surrogates cannot be written as UTF-8.
        if (char.IsHighSurrogate(ch)) return i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]);
        if (char.IsLowSurrogate(ch)) return i == 0 || !char.IsHighSurrogate(s[i - 1]);
        return false;
    }

    /// <summary>Whether the diagnostic is an error.</summary>
    public bool IsError => Severity == Severity.Error;

    /// <summary>The MSBuild canonical form: <c>file(line,col): error SWARM0001: message</c>.</summary>
    public override string ToString()
    {
        var sev = Severity switch { Severity.Error => "error", Severity.Warning => "warning", _ => "info" };
        var where = Span.IsKnown ? Span.ToString() : (Span.File.Length > 0 ? Span.File : "swarmdsl");
        return string.Format(CultureInfo.InvariantCulture, "{0}: {1} {2}: {3}", where, sev, Id, Message);
    }
}

/// <summary>Collects diagnostics in the order they were found.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = new();

    /// <summary>All diagnostics so far.</summary>
    public IReadOnlyList<Diagnostic> Items => _items;

    /// <summary>Whether any error was reported.</summary>
    public bool HasErrors { get; private set; }

    /// <summary>Adds a diagnostic.</summary>
    public void Add(Diagnostic d)
    {
        _items.Add(d);
        if (d.IsError) HasErrors = true;
    }

    /// <summary>Reports <paramref name="descriptor"/> at <paramref name="span"/>.</summary>
    public void Report(DiagnosticDescriptor descriptor, SourceSpan span, string message, Severity? severity = null)
        => Add(Diagnostic.Create(descriptor, span, message, severity));

    /// <summary>Adds many.</summary>
    public void AddRange(IEnumerable<Diagnostic> ds) { foreach (var d in ds) Add(d); }

    /// <summary>The diagnostics sorted by file, line, column, then ID: the order users read them in.</summary>
    public IReadOnlyList<Diagnostic> Sorted()
    {
        var copy = new List<Diagnostic>(_items);
        copy.Sort((a, b) =>
        {
            int c = string.CompareOrdinal(a.Span.File, b.Span.File);
            if (c != 0) return c;
            c = a.Span.StartLine.CompareTo(b.Span.StartLine);
            if (c != 0) return c;
            c = a.Span.StartColumn.CompareTo(b.Span.StartColumn);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        });
        return copy;
    }
}
