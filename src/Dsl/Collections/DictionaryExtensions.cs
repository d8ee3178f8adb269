using System.Collections.Generic;

namespace SwarmDsl.Collections;

/// <summary>netstandard2.0 lacks <c>GetValueOrDefault</c> on dictionaries.</summary>
internal static class DictionaryExtensions
{
    public static TValue GetValueOrDefault<TKey, TValue>(this Dictionary<TKey, TValue> d, TKey key, TValue fallback = default!) where TKey : notnull
        => d.TryGetValue(key, out var v) ? v : fallback;
}
