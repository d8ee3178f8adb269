using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using SwarmDsl.Diagnostics;
using SwarmDsl.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace SwarmDsl.Syntax;

/// <summary>
/// Reads YAML text into a <see cref="YamlNode"/> tree that keeps the line and column of every key and value.
/// Built on YamlDotNet's event parser; never throws for bad input (every problem is a located SWARM0001/SWARM0004).
/// </summary>
public static class YamlSyntaxReader
{
    /// <summary>Deeper nesting than this is refused: no topology needs it, and it keeps hostile input bounded.</summary>
    public const int MaxDepth = 64;

    /// <summary>How many nodes aliases may copy to the place they are written (beyond it, an alias shares its anchor's nodes).</summary>
    private const int RelocationBudget = 100_000;

    /// <summary>Parses <paramref name="text"/> (the contents of <paramref name="file"/>); returns the root, or null on a fatal error.</summary>
    public static YamlNode? Read(string file, string text, DiagnosticBag diagnostics, CancellationToken cancellationToken = default)
    {
        // A leading BOM is legal YAML (editors on Windows write one), but YamlDotNet reading a string takes it for text and
        // turns the first line into a junk key. It occupies no column, so dropping it keeps every position right.
        if (text.Length > 0 && text[0] == '\uFEFF') text = text.Substring(1);
        // YAML allows only printable characters (1.2 §5.1); YamlDotNet drops a NUL silently (a key "b\0" became "b") and
        // trips over other control characters with unclear messages, so the first one is reported where it is.
        var bad = FindNonPrintable(text, out var indentationTab);
        if (bad is { } b)
        {
            var what = b.Char == 0 ? "a NUL character"
                : b.Char < 0x20 || b.Char is >= 0x7F and <= 0x9F ? "the control character U+" + b.Char.ToString("X4", CultureInfo.InvariantCulture)
                : "the character U+" + b.Char.ToString("X4", CultureInfo.InvariantCulture);
            diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SourceSpan.At(file, b.Line, b.Column),
                what + " is not allowed in YAML (only printable characters are): remove it");
            return null;
        }
        // A tab used for indentation gets a clearer message from us than from YamlDotNet.
        if (indentationTab is { } t)
        {
            diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SourceSpan.At(file, t.Line, t.Column),
                "a tab is used for indentation; YAML allows only spaces there");
            return null;
        }
        try
        {
            return ReadCore(file, text, diagnostics, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (LocatedYamlException ex)
        {
            diagnostics.Report(DiagnosticDescriptors.YamlSyntax, ex.Span, ex.Message);
            return null;
        }
        catch (YamlException ex)
        {
            var line = Math.Max(1, (int)ex.Start.Line);
            var col = Math.Max(1, (int)ex.Start.Column);
            diagnostics.Report(DiagnosticDescriptors.YamlSyntax, new SourceSpan(file, line, col, Math.Max(line, (int)ex.End.Line), Math.Max(1, (int)ex.End.Column)),
                "malformed YAML: " + CleanMessage(ex.Message));
            return null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // YamlDotNet may throw non-YAML exceptions on pathological input; it is still the user's input, not our bug to crash on.
            diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SourceSpan.At(file, 1, 1), "malformed YAML: " + CleanMessage(ex.Message));
            return null;
        }
    }

    private static string CleanMessage(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; our location already says that.
        var idx = message.IndexOf("): ", StringComparison.Ordinal);
        var m = message.StartsWith("(Line:", StringComparison.Ordinal) && idx >= 0 ? message.Substring(idx + 3) : message;
        m = m.Replace("\r", " ").Replace("\n", " ").Trim();
        return m.Length == 0 ? "syntax error" : char.ToLowerInvariant(m[0]) + m.Substring(1);
    }

    /// <summary>
    /// The first character outside YAML's printable set (tab, LF, CR, U+0020–U+007E, NEL, U+00A0–U+D7FF, U+E000–U+FFFD and
    /// paired surrogates), with its line and column counted as YamlDotNet counts them (<see cref="LineBreak"/>; a surrogate
    /// pair is two columns), so that it names the place every other diagnostic would; and the first tab used for
    /// indentation (<paramref name="indentationTab"/>), found in the same pass over the text.
    /// </summary>
    private static (int Line, int Column, int Char)? FindNonPrintable(string text, out (int Line, int Column)? indentationTab)
    {
        indentationTab = null;
        int line = 1, col = 1;
        bool atIndent = true;
        for (int i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            // Most of a file is printable ASCII, which holds no line break and no tab.
            if (ch is >= ' ' and <= '~')
            {
                if (ch != ' ') atIndent = false;
                col++;
                continue;
            }
            if (LineBreak(text, i) is > 0 and var width) { line++; col = 1; atIndent = true; i += width - 1; continue; }
            if (atIndent)
            {
                if (ch == '\t') indentationTab ??= (line, col);
                else if (ch != '\uFEFF') atIndent = false;
            }
            bool printable = ch == '\t' || ch is >= '\u00A0' and <= '\uD7FF' || ch is >= '\uE000' and <= '\uFFFD';
            if (!printable && char.IsHighSurrogate(ch) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                col++;
                printable = true;
            }
            if (!printable) return (line, col, ch);
            col++;
        }
        return null;
    }

    // The length of the line break at text[i] (CR LF is one break), 0 where there is none: YamlDotNet ends lines at CR, LF,
    // NEL, LS and PS, and the lines counted here must be its lines.
    private static int LineBreak(string text, int i) => text[i] switch
    {
        '\r' => i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1,
        '\n' or '\u0085' or '\u2028' or '\u2029' => 1,
        _ => 0,
    };

    private sealed class LocatedYamlException : Exception
    {
        public LocatedYamlException(SourceSpan span, string message) : base(message) => Span = span;
        public SourceSpan Span { get; }
    }

    private sealed class Frame
    {
        // A mapping's frame holds entries, a list's items: only what its kind needs is made (a 1,000-service file has
        // thousands of small collections, and each frame used to make a list of each kind and a set of keys).
        public Frame(bool isMapping, SourceSpan start)
        {
            IsMapping = isMapping;
            Start = start;
            if (isMapping) Entries = new List<YamlEntry>();
            else Items = new List<YamlNode>();
        }
        public bool IsMapping;
        public bool IsFlow;
        public SourceSpan Start;
        public string? Anchor;
        public List<YamlEntry> Entries = null!;
        public List<YamlNode> Items = null!;
        public YamlScalar? PendingKey;
        public bool HasInvalidKeys;
        // The keys of Entries, made only for a mapping large enough that scanning them for a duplicate costs more.
        private HashSet<string>? _keys;
        private const int ScanLimit = 8;

        /// <summary>Whether <paramref name="key"/> is the key of an entry already.</summary>
        public bool HasKey(string key)
        {
            if (_keys is not null) return _keys.Contains(key);
            foreach (var e in Entries)
                if (e.Key.Value == key) return true;
            return false;
        }

        public void AddEntry(YamlEntry entry)
        {
            Entries.Add(entry);
            if (_keys is not null) _keys.Add(entry.Key.Value);
            else if (Entries.Count > ScanLimit)
            {
                _keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (var e in Entries) _keys.Add(e.Key.Value);
            }
        }
    }

    private static YamlNode? ReadCore(string file, string text, DiagnosticBag diagnostics, CancellationToken ct)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        var stack = new Stack<Frame>();
        YamlNode? root = null;
        int documents = 0;
        int relocated = 0;
        var last = SourceSpan.None;

        // An unclosed '[' or '{' is found only where the parser gives up, often lines later or at the end of the file; point at
        // the bracket instead, which is where the fix goes.
        bool MoveNext()
        {
            try
            {
                return parser.MoveNext();
            }
            catch (YamlException ex) when (stack.Count > 0 && stack.Peek().IsFlow && ex.Start.Line > stack.Peek().Start.StartLine
                && ex.Message.IndexOf("did not find expected ','", StringComparison.Ordinal) >= 0)
            {
                var open = stack.Peek().Start;
                var bracket = stack.Peek().IsMapping ? "{" : "[";
                throw new LocatedYamlException(open, $"malformed YAML: this '{bracket}' is never closed (the parser expected ',' or '{(bracket == "{" ? "}" : "]")}' before line {ex.Start.Line.ToString(CultureInfo.InvariantCulture)}, column {ex.Start.Column.ToString(CultureInfo.InvariantCulture)})");
            }
            catch (Exception ex) when (ex is not YamlException and not OperationCanceledException and not OutOfMemoryException)
            {
                // YamlDotNet occasionally fails with a non-YAML exception (an internal state error) on broken input. Point at
                // the innermost open flow bracket, the usual culprit, or else where parsing last succeeded.
                var flow = stack.FirstOrDefault(f => f.IsFlow);
                if (flow is not null)
                    throw new LocatedYamlException(flow.Start, $"malformed YAML: this '{(flow.IsMapping ? "{" : "[")}' is not closed properly");
                throw new LocatedYamlException(last.IsKnown ? last : SourceSpan.At(file, 1, 1), "malformed YAML: the parser cannot continue after this point");
            }
        }

        // A tag changes what a node means (`!!str 1500` is the text "1500", which the language reads as a mistake when it is
        // quoted); the language has no tags, so one is an error rather than silently read past.
        void NoTag(TagName tag, ParsingEvent e)
        {
            if (!tag.IsEmpty)
                diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SpanOf(e), $"YAML tags are not supported ('{tag.Value}'): write the value without it");
        }

        // What an alias stands for, placed where the alias is written: a mistake inside the copied value (an address that
        // collides only in the second use) is reported at the use, not at the anchor. Copies are counted, so an alias bomb
        // (aliases of aliases, doubling at each level) shares its nodes past the budget instead of growing the tree.
        YamlNode AtAlias(YamlNode target, SourceSpan at)
        {
            if (relocated >= RelocationBudget) return target;
            switch (target)
            {
                case YamlScalar sc:
                    relocated++;
                    return new YamlScalar(sc.Value, sc.IsPlain, at);
                case YamlMapping m:
                {
                    relocated++;
                    var entries = new List<YamlEntry>(m.Entries.Count);
                    foreach (var e in m.Entries) entries.Add(new YamlEntry((YamlScalar)AtAlias(e.Key, at), AtAlias(e.Value, at)));
                    return new YamlMapping(entries, at, m.HasInvalidKeys);
                }
                case YamlSequence q:
                {
                    relocated++;
                    var items = new List<YamlNode>(q.Items.Count);
                    foreach (var i in q.Items) items.Add(AtAlias(i, at));
                    return new YamlSequence(items, at);
                }
                default:
                    return target;
            }
        }

        SourceSpan SpanOf(ParsingEvent e) => new(file, (int)e.Start.Line, (int)e.Start.Column, (int)e.End.Line, (int)e.End.Column);

        // Adds a finished node to its parent; returns false when the document is broken beyond repair.
        bool Add(YamlNode node)
        {
            if (stack.Count == 0)
            {
                root ??= node;
                return true;
            }
            var top = stack.Peek();
            if (!top.IsMapping)
            {
                top.Items.Add(node);
                return true;
            }
            if (top.PendingKey is null)
            {
                if (node is not YamlScalar key || key.IsNull)
                {
                    diagnostics.Report(DiagnosticDescriptors.WrongType, node.Span, "a mapping key must be a plain name, not " + node.KindName);
                    top.PendingKey = new YamlScalar("\0invalid", true, node.Span);
                    top.HasInvalidKeys = true;
                    return true;
                }
                top.PendingKey = key;
                return true;
            }
            var k = top.PendingKey;
            top.PendingKey = null;
            if (k.Value == "\0invalid") return true;
            // YAML 1.1's merge key: the language reads every key as written, so say what it is rather than "unknown key".
            if (k.Value == "<<" && k.IsPlain)
            {
                diagnostics.Report(DiagnosticDescriptors.YamlSyntax, k.Span, "YAML merge keys ('<<') are not supported: write the keys out (an alias '*name' may stand for a whole value)");
                return true;
            }
            if (top.HasKey(k.Value))
            {
                diagnostics.Report(DiagnosticDescriptors.DuplicateKey, k.Span, $"duplicate key '{k.Value}' in this mapping: keep one of them (the first is at line {First(k.Value).StartLine.ToString(System.Globalization.CultureInfo.InvariantCulture)}, column {First(k.Value).StartColumn.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
                return true;
            }
            top.AddEntry(new YamlEntry(k, node));
            return true;

            SourceSpan First(string key) => top.Entries.First(x => x.Key.Value == key).Key.Span;
        }

        while (MoveNext())
        {
            ct.ThrowIfCancellationRequested();
            var ev = parser.Current!;
            if (ev.Start.Line > 0) last = SpanOf(ev);
            switch (ev)
            {
                case StreamStart or StreamEnd or DocumentEnd or Comment:
                    break;
                case DocumentStart ds:
                    if (ds.IsImplicit && documents > 0 || !ds.IsImplicit && documents > 0)
                    {
                        diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SpanOf(ev), "only one YAML document is allowed per topology file");
                        return root;
                    }
                    documents++;
                    break;
                case Scalar s:
                {
                    NoTag(s.Tag, ev);
                    var node = new YamlScalar(s.Value, s.Style == ScalarStyle.Plain, SpanOf(ev));
                    if (!s.Anchor.IsEmpty) anchors[s.Anchor.Value] = node;
                    Add(node);
                    break;
                }
                case AnchorAlias alias:
                    if (!anchors.TryGetValue(alias.Value.Value, out var target))
                    {
                        diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SpanOf(ev), $"unknown alias '*{alias.Value.Value}'");
                        return null;
                    }
                    Add(AtAlias(target, SpanOf(ev)));
                    break;
                case MappingStart ms:
                    NoTag(ms.Tag, ev);
                    if (stack.Count >= MaxDepth) { diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SpanOf(ev), $"nesting deeper than {MaxDepth} levels"); return null; }
                    stack.Push(new Frame(true, SpanOf(ev)) { Anchor = ms.Anchor.IsEmpty ? null : ms.Anchor.Value, IsFlow = ms.Style == MappingStyle.Flow });
                    break;
                case SequenceStart ss:
                    NoTag(ss.Tag, ev);
                    if (stack.Count >= MaxDepth) { diagnostics.Report(DiagnosticDescriptors.YamlSyntax, SpanOf(ev), $"nesting deeper than {MaxDepth} levels"); return null; }
                    stack.Push(new Frame(false, SpanOf(ev)) { Anchor = ss.Anchor.IsEmpty ? null : ss.Anchor.Value, IsFlow = ss.Style == SequenceStyle.Flow });
                    break;
                case MappingEnd or SequenceEnd:
                {
                    var f = stack.Pop();
                    var end = SpanOf(ev);
                    // YamlDotNet places a flow collection's end event on its closing bracket, with no width: the node ends
                    // after the bracket. A block collection's end (the next token) and an implicit pair's (`[a: 1]`, ended
                    // by the sequence's ',' or ']') stay where they are.
                    long at = ev.Start.Index;
                    if (f.IsFlow && at >= 0 && at < text.Length && text[(int)at] == (f.IsMapping ? '}' : ']'))
                        end = SourceSpan.At(file, end.StartLine, end.StartColumn + 1);
                    var span = new SourceSpan(file, f.Start.StartLine, f.Start.StartColumn, end.EndLine, end.EndColumn);
                    YamlNode node = f.IsMapping ? new YamlMapping(f.Entries, span, f.HasInvalidKeys) : new YamlSequence(f.Items, span);
                    if (f.Anchor is not null) anchors[f.Anchor] = node;
                    Add(node);
                    break;
                }
            }
        }
        return root;
    }
}
