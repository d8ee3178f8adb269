using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Model;

/// <summary>
/// A place in a file as plain data (path, character span, 0-based line span): value-equatable and holding no syntax tree,
/// so it can sit in pipeline models (a Roslyn <see cref="Location"/> cannot).
/// </summary>
internal sealed record LocationInfo(string FilePath, TextSpan TextSpan, LinePositionSpan LineSpan)
{
    /// <summary>The place of <paramref name="node"/> in its tree.</summary>
    public static LocationInfo Of(SyntaxNode node) => Of(node.SyntaxTree, node.Span);

    /// <summary>The place of <paramref name="span"/> in <paramref name="tree"/>.</summary>
    public static LocationInfo Of(SyntaxTree tree, TextSpan span) => new(tree.FilePath, span, tree.GetLineSpan(span).Span);

    /// <summary>The compiler's 1-based span (end exclusive), as the YAML reader makes them.</summary>
    public SourceSpan ToSourceSpan() => new(FilePath, LineSpan.Start.Line + 1, LineSpan.Start.Character + 1, LineSpan.End.Line + 1, LineSpan.End.Character + 1);

    /// <summary>
    /// The part of a one-line location that starts <paramref name="offset"/> characters in and is <paramref name="length"/> long
    /// (a piece of a string literal such as the node in <c>"manager=10.255.0.2"</c>).
    /// </summary>
    public LocationInfo Slice(int offset, int length)
    {
        if (LineSpan.Start.Line != LineSpan.End.Line || offset < 0 || length < 0 || offset + length > TextSpan.Length) return this;
        var start = new LinePosition(LineSpan.Start.Line, LineSpan.Start.Character + offset);
        return new LocationInfo(FilePath, new TextSpan(TextSpan.Start + offset, length), new LinePositionSpan(start, new LinePosition(start.Line, start.Character + length)));
    }

    /// <summary>A location outside any syntax tree (how YAML diagnostics are reported).</summary>
    public Location ToExternalLocation() => Location.Create(FilePath, TextSpan, LineSpan);
}
