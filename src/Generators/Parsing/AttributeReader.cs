using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SwarmDsl.Collections;
using SwarmDsl.Generators.Emitting;
using SwarmDsl.Generators.Model;

namespace SwarmDsl.Generators.Parsing;

/// <summary>
/// The FAWMN transform: reads a <c>[SwarmTopology]</c> type's attributes into plain data (strings, numbers, locations).
/// It runs for every topology type on every compilation change, so it only extracts: validation and analysis happen in the
/// next, cached step. Nothing of the compilation (symbols, syntax nodes, semantic model) survives it.
/// </summary>
internal static class AttributeReader
{
    /// <summary>The topology attributes, by name without the <c>Attribute</c> suffix.</summary>
    public static readonly IReadOnlyCollection<string> Kinds = new[]
    {
        "SwarmTopology", "Underlay", "Node", "BridgeNetwork", "OverlayNetwork", "Service", "Publish", "Task", "Sysctl", "Rule", "Expect",
    };

    /// <summary>Whether FAWMN should look at <paramref name="node"/>: classes, structs and records (not interfaces).</summary>
    public static bool IsCandidate(SyntaxNode node) => node is ClassDeclarationSyntax or StructDeclarationSyntax or RecordDeclarationSyntax;

    /// <summary>The join key of a topology type (its fully qualified name).</summary>
    public static string KeyOf(ISymbol type) => type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);

    /// <summary>Reads the topology type of <paramref name="context"/>. Never throws but for cancellation.</summary>
    public static AttributeTopologyInput Read(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var decl = (TypeDeclarationSyntax)context.TargetNode;
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var key = KeyOf(type);
        var typeLocation = LocationInfo.Of(decl.SyntaxTree, decl.Identifier.Span);
        var target = new TargetType("", EquatableArray.Create(new TypeDeclaration("class", decl.Identifier.ValueText)), IsGeneratedType: false);
        string? nonPartial = null, fileLocal = null;
        try
        {
            target = ReadTarget(type, decl, out nonPartial, out fileLocal);
            var attributes = new List<AttributeSpec>();
            bool invalid = false;
            int topologyAttributes = 0;
            foreach (var attribute in type.GetAttributes())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var kind = KindOf(attribute.AttributeClass);
                if (kind is null) continue;
                if (kind == "SwarmTopology") topologyAttributes++;
                var spec = ReadAttribute(attribute, kind, typeLocation, ref invalid, cancellationToken);
                if (spec is not null) attributes.Add(spec);
            }
            // A repeated [SwarmTopology] is the compiler's CS0579; the generator stays quiet rather than guess.
            if (topologyAttributes != 1) invalid = true;
            return new AttributeTopologyInput(key, target, decl.SyntaxTree.FilePath, typeLocation, nonPartial, invalid, attributes.ToEquatableArray(), null, fileLocal);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            var failure = Diagnostics.DiagnosticMapping.InternalError(ex, "reading the attributes of " + target.FullName, typeLocation);
            return new AttributeTopologyInput(key, target, decl.SyntaxTree.FilePath, typeLocation, nonPartial, true, EquatableArray<AttributeSpec>.Empty, failure);
        }
    }

    /// <summary>The trees that declare the type, for diagnostics that must be suppressible with <c>#pragma</c>.</summary>
    public static SyntaxTreeSite ReadTrees(GeneratorAttributeSyntaxContext context)
    {
        var trees = new List<SyntaxTree> { context.TargetNode.SyntaxTree };
        foreach (var r in context.TargetSymbol.DeclaringSyntaxReferences)
            if (!trees.Contains(r.SyntaxTree)) trees.Add(r.SyntaxTree);
        return new SyntaxTreeSite(KeyOf(context.TargetSymbol), trees.ToEquatableArray());
    }

    private static string? KindOf(INamedTypeSymbol? cls)
    {
        if (cls is null || cls.ContainingType is not null || cls.ContainingNamespace is null) return null;
        if (cls.ContainingNamespace.ToDisplayString() != AttributeSource.Namespace) return null;
        const string suffix = "Attribute";
        if (!cls.Name.EndsWith(suffix, StringComparison.Ordinal)) return null;
        var kind = cls.Name.Substring(0, cls.Name.Length - suffix.Length);
        return Kinds.Contains(kind) ? kind : null;
    }

    private static TargetType ReadTarget(INamedTypeSymbol type, TypeDeclarationSyntax decl, out string? nonPartial, out string? fileLocal)
    {
        nonPartial = null;
        fileLocal = null;
        var types = new List<TypeDeclaration>();
        for (SyntaxNode? node = decl; node is not null; node = node.Parent)
        {
            if (node is not TypeDeclarationSyntax t) continue;
            var keyword = t switch
            {
                RecordDeclarationSyntax r => r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) ? "record struct" : "record",
                StructDeclarationSyntax => "struct",
                InterfaceDeclarationSyntax => "interface",
                _ => "class",
            };
            // As the declaration must be written again: a verbatim keyword keeps its @.
            var name = Emitting.Identifiers.Escaped(t.Identifier.ValueText);
            if (t.TypeParameterList is { } tps)
                name += "<" + string.Join(", ", tps.Parameters.Select(p => Emitting.Identifiers.Escaped(p.Identifier.ValueText))) + ">";
            if (!t.Modifiers.Any(SyntaxKind.PartialKeyword)) nonPartial = t.Identifier.ValueText;
            if (t.Modifiers.Any(SyntaxKind.FileKeyword)) fileLocal = t.Identifier.ValueText;
            types.Insert(0, new TypeDeclaration(keyword, name));
        }
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : "";
        return new TargetType(ns, types.ToEquatableArray(), IsGeneratedType: false);
    }

    private static AttributeSpec? ReadAttribute(AttributeData attribute, string kind, LocationInfo fallback, ref bool invalid, CancellationToken ct)
    {
        var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax;
        var location = syntax is null ? fallback : LocationInfo.Of(syntax);
        var nameLocation = syntax is null ? fallback : LocationInfo.Of(syntax.Name);
        var ctor = attribute.AttributeConstructor;
        if (ctor is null || attribute.AttributeClass is { TypeKind: TypeKind.Error })
        {
            invalid = true;
            return null;
        }

        // Which syntax wrote which parameter: positional arguments in order, `name:` ones by name, `Name =` ones by property.
        var byParameter = new Dictionary<string, AttributeArgumentSyntax>(StringComparer.Ordinal);
        var byProperty = new Dictionary<string, AttributeArgumentSyntax>(StringComparer.Ordinal);
        if (syntax?.ArgumentList is { } list)
        {
            int position = 0;
            foreach (var arg in list.Arguments)
            {
                if (arg.NameEquals is { } ne) byProperty[ne.Name.Identifier.ValueText] = arg;
                else if (arg.NameColon is { } nc) byParameter[nc.Name.Identifier.ValueText] = arg;
                else
                {
                    if (position < ctor.Parameters.Length) byParameter[ctor.Parameters[position].Name] = arg;
                    position++;
                }
            }
        }

        var arguments = new List<AttributeArgument>();
        for (int i = 0; i < ctor.Parameters.Length && i < attribute.ConstructorArguments.Length; i++)
        {
            var parameter = ctor.Parameters[i];
            // An optional parameter the user did not write is not part of the topology (Task's address).
            if (!byParameter.TryGetValue(parameter.Name, out var argSyntax) && parameter.IsOptional) continue;
            var value = Convert(attribute.ConstructorArguments[i], argSyntax?.Expression, location, ref invalid);
            var at = argSyntax is null ? location : LocationInfo.Of(argSyntax.Expression);
            arguments.Add(new AttributeArgument(parameter.Name, value, at));
        }
        foreach (var named in attribute.NamedArguments)
        {
            byProperty.TryGetValue(named.Key, out var argSyntax);
            var value = Convert(named.Value, argSyntax?.Expression, location, ref invalid);
            var at = argSyntax?.NameEquals is { } ne ? LocationInfo.Of(ne.Name) : location;
            arguments.Add(new AttributeArgument(named.Key, value, at));
        }
        return new AttributeSpec(kind, location, nameLocation, arguments.ToEquatableArray());
    }

    private static AttributeValue Convert(TypedConstant constant, ExpressionSyntax? expression, LocationInfo fallback, ref bool invalid)
    {
        var location = expression is null ? fallback : LocationInfo.Of(expression);
        switch (constant.Kind)
        {
            case TypedConstantKind.Error:
            case TypedConstantKind.Type:
                invalid = true;
                return Scalar(AttributeValueKind.Null, null, location, expression);
            case TypedConstantKind.Array:
            {
                if (constant.IsNull) return Scalar(AttributeValueKind.Null, null, location, expression);
                var elements = ElementsOf(expression);
                var items = new AttributeValue[constant.Values.Length];
                for (int i = 0; i < items.Length; i++)
                {
                    var element = elements is not null && elements.Count == items.Length ? elements[i] : null;
                    items[i] = Convert(constant.Values[i], element, location, ref invalid);
                }
                return new AttributeValue(AttributeValueKind.Array, null, location, -1, EquatableArray<AttributeValue>.Own(items));
            }
            case TypedConstantKind.Enum:
            {
                var member = constant.Type?.GetMembers().OfType<IFieldSymbol>()
                    .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, constant.Value));
                var text = member?.Name ?? System.Convert.ToString(constant.Value, CultureInfo.InvariantCulture);
                return Scalar(AttributeValueKind.Enum, text, location, expression);
            }
            default:
                return constant.Value switch
                {
                    null => Scalar(AttributeValueKind.Null, null, location, expression),
                    string s => Scalar(AttributeValueKind.String, s, location, expression),
                    bool b => Scalar(AttributeValueKind.Boolean, b ? "true" : "false", location, expression),
                    char c => Scalar(AttributeValueKind.String, c.ToString(), location, expression),
                    IFormattable f => Scalar(AttributeValueKind.Number, f.ToString(null, CultureInfo.InvariantCulture), location, expression),
                    var other => Scalar(AttributeValueKind.String, other.ToString(), location, expression),
                };
        }
    }

    private static AttributeValue Scalar(AttributeValueKind kind, string? text, LocationInfo location, ExpressionSyntax? expression)
        => new(kind, text, location, LiteralOffset(expression), EquatableArray<AttributeValue>.Empty);

    // How far into a string literal its value starts, when the source text is exactly the value between quotes.
    private static int LiteralOffset(ExpressionSyntax? expression)
    {
        if (expression is not LiteralExpressionSyntax { Token: var token } || !token.IsKind(SyntaxKind.StringLiteralToken)) return -1;
        if (token.Text == "\"" + token.ValueText + "\"") return 1;
        if (token.Text == "@\"" + token.ValueText + "\"") return 2;
        return -1;
    }

    private static IReadOnlyList<ExpressionSyntax>? ElementsOf(ExpressionSyntax? expression) => expression switch
    {
        CollectionExpressionSyntax c when c.Elements.All(e => e is ExpressionElementSyntax)
            => c.Elements.Select(e => ((ExpressionElementSyntax)e).Expression).ToList(),
        ArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions,
        ImplicitArrayCreationExpressionSyntax { Initializer: var init } => init.Expressions,
        _ => null,
    };
}
