using System;
using System.Collections;
using System.Linq;
using System.Reflection;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Tests.Support;

/// <summary>Compares two model graphs (records, arrays, values) field by field, by reflection.</summary>
public static class ModelGraph
{
    /// <summary>
    /// The path of the first difference between <paramref name="a"/> and <paramref name="b"/>, or null when they are equal.
    /// <paramref name="spans"/> judges each pair of source spans (null: alike; else the difference); <paramref name="skip"/>
    /// leaves fields out.
    /// </summary>
    public static string? FirstDifference(object? a, object? b, string path, Func<SourceSpan, SourceSpan, string, string?> spans,
        Func<Type, FieldInfo, bool>? skip = null)
    {
        if (a is SourceSpan sa && b is SourceSpan sb) return spans(sa, sb, path);
        if (a is null || b is null) return a is null && b is null ? null : path;
        if (a.GetType() != b.GetType()) return $"{path} ({a.GetType().Name} vs {b.GetType().Name})";
        var type = a.GetType();
        if (type.IsPrimitive || type.IsEnum || a is string) return Equals(a, b) ? null : $"{path}: '{a}' vs '{b}'";
        if (a is IEnumerable ea && b is IEnumerable eb)
        {
            var la = ea.Cast<object?>().ToList();
            var lb = eb.Cast<object?>().ToList();
            if (la.Count != lb.Count) return $"{path}: {la.Count} vs {lb.Count} items";
            for (int i = 0; i < la.Count; i++)
                if (FirstDifference(la[i], lb[i], $"{path}[{i}]", spans, skip) is { } d) return d;
            return null;
        }
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (skip?.Invoke(t, field) == true) continue;
                if (FirstDifference(field.GetValue(a), field.GetValue(b), $"{path}.{field.Name}", spans, skip) is { } d) return d;
            }
        return null;
    }
}
