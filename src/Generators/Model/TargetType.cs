using SwarmDsl.Collections;

namespace SwarmDsl.Generators.Model;

/// <summary>One type declaration the generated code is nested in: <c>partial {Keyword} {Name}</c>.</summary>
/// <param name="Keyword"><c>class</c>, <c>struct</c>, <c>record</c> or <c>record struct</c>.</param>
/// <param name="Name">The name with its type parameter list as written (<c>Outer&lt;T&gt;</c>).</param>
internal sealed record TypeDeclaration(string Keyword, string Name);

/// <summary>Where generated members go: a namespace and the chain of (partial) types, outermost first.</summary>
/// <param name="Namespace">The namespace, or empty for the global namespace.</param>
/// <param name="Types">The type declarations, outermost first; the last one receives the members.</param>
/// <param name="IsGeneratedType">Whether the generator declares the (innermost) type itself (YAML form) rather than extending the user's partial type.</param>
internal sealed record TargetType(string Namespace, EquatableArray<TypeDeclaration> Types, bool IsGeneratedType)
{
    /// <summary>The innermost type's name without type parameters.</summary>
    public string SimpleName
    {
        get
        {
            var name = Types[Types.Count - 1].Name;
            var lt = name.IndexOf('<');
            return lt < 0 ? name : name.Substring(0, lt);
        }
    }

    /// <summary>The full name, dotted (<c>App.Outer&lt;T&gt;.TwoNode</c>), for messages and hint names.</summary>
    public string FullName
    {
        get
        {
            var parts = new System.Collections.Generic.List<string>();
            if (Namespace.Length > 0) parts.Add(Namespace);
            foreach (var t in Types) parts.Add(t.Name);
            return string.Join(".", parts);
        }
    }
}
