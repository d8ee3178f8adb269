using System;
using System.Collections.Generic;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Model;
using SwarmDsl.Text;
using DslDiagnostic = SwarmDsl.Diagnostics.Diagnostic;
using Severity = SwarmDsl.Diagnostics.Severity;

namespace SwarmDsl.Generators.Diagnostics;

/// <summary>Turns compiler diagnostics into pipeline data and pipeline data into Roslyn diagnostics.</summary>
internal static class DiagnosticMapping
{
    /// <summary>
    /// Maps diagnostics located in YAML text: the 1-based line/column spans of the YAML reader become 0-based
    /// <see cref="LinePositionSpan"/>s, and the character span is computed from the same text so both agree.
    /// </summary>
    public static EquatableArray<DiagnosticInfo> FromYaml(IReadOnlyList<DslDiagnostic> diagnostics, string path, string text)
    {
        if (diagnostics.Count == 0) return EquatableArray<DiagnosticInfo>.Empty;
        var source = SourceText.From(text);
        var result = new DiagnosticInfo[diagnostics.Count];
        for (int i = 0; i < diagnostics.Count; i++)
        {
            var d = diagnostics[i];
            result[i] = new DiagnosticInfo(d.Id, d.Severity, d.Message, Locate(d.Span, path, source));
        }
        return EquatableArray<DiagnosticInfo>.Own(result);
    }

    /// <summary>Where each of <paramref name="spans"/> lies in the YAML <paramref name="text"/> (see <see cref="Locate"/>).</summary>
    public static EquatableArray<LocationInfo> LocateAll(IEnumerable<SourceSpan> spans, string path, string text)
    {
        var source = SourceText.From(text);
        var result = new List<LocationInfo>();
        foreach (var span in spans) result.Add(Locate(span, path, source));
        return result.ToEquatableArray();
    }

    /// <summary>Where <paramref name="span"/> lies in <paramref name="source"/>, clamped to the text (the file start when unknown).</summary>
    public static LocationInfo Locate(SourceSpan span, string path, SourceText source)
    {
        var lines = source.Lines;
        LinePosition Clamp(int line1, int column1)
        {
            if (line1 < 1) return new LinePosition(0, 0);
            int line = Math.Min(line1 - 1, lines.Count - 1);
            var l = lines[line];
            int col = Math.Max(0, Math.Min(column1 - 1, l.End - l.Start));
            return new LinePosition(line, col);
        }
        var start = Clamp(span.StartLine, span.StartColumn);
        var end = span.EndLine < 1 ? start : Clamp(span.EndLine, span.EndColumn);
        if (end < start) end = start;
        var lineSpan = new LinePositionSpan(start, end);
        return new LocationInfo(path, lines.GetTextSpan(lineSpan), lineSpan);
    }

    /// <summary>The internal-error diagnostic for an exception the generator did not expect.</summary>
    public static DiagnosticInfo InternalError(Exception ex, string what, LocationInfo? location)
    {
        var first = FirstLine(ex.Message);
        var message = string.Format(CultureInfo.InvariantCulture,
            "the SwarmDsl generator failed while {0}: {1}: {2}; no code was generated for it. This is a bug in the generator; please report it with the topology.",
            what, ex.GetType().FullName, first);
        return new DiagnosticInfo(SwarmDiagnosticDescriptors.InternalError.Id, Severity.Error, message, location);
    }

    private static string FirstLine(string s)
    {
        var nl = s.IndexOfAny(new[] { '\r', '\n' });
        return nl < 0 ? s : s.Substring(0, nl);
    }

    /// <summary>The Roslyn diagnostic for <paramref name="info"/> at <paramref name="location"/>, with the severity the compiler chose.</summary>
    public static Diagnostic ToRoslyn(DiagnosticInfo info, Location location)
    {
        var severity = info.Severity switch
        {
            Severity.Error => DiagnosticSeverity.Error,
            Severity.Warning => DiagnosticSeverity.Warning,
            _ => DiagnosticSeverity.Info,
        };
        var descriptor = SwarmDiagnosticDescriptors.Find(info.Id) ?? SwarmDiagnosticDescriptors.Fallback(info.Id, severity);
        return Diagnostic.Create(descriptor, location, severity, additionalLocations: null, properties: null, info.Message);
    }

    /// <summary>
    /// The Roslyn location of <paramref name="location"/>: inside the matching syntax tree when there is one (so pragmas and
    /// editors apply), else an external-file location (YAML), else none.
    /// </summary>
    public static Location ToLocation(LocationInfo? location, IReadOnlyList<SyntaxTree>? trees)
    {
        if (location is null) return Location.None;
        if (trees is not null)
        {
            foreach (var tree in trees)
            {
                if (!string.Equals(tree.FilePath, location.FilePath, StringComparison.Ordinal)) continue;
                var length = tree.Length;
                if (location.TextSpan.End > length) break;
                return Location.Create(tree, location.TextSpan);
            }
        }
        return location.FilePath.Length == 0 ? Location.None : location.ToExternalLocation();
    }
}
