using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace SwarmDsl.Runtime.Engine;

/// <summary>
/// Reference identity for plan objects that lowering shares between namespaces (netstandard2.0 has no
/// <c>ReferenceEqualityComparer</c>): plan records compare by value, which would hash whole rule lists and IPVS services.
/// </summary>
/// <typeparam name="T">The plan type.</typeparam>
internal sealed class ReferenceComparer<T> : IEqualityComparer<T> where T : class
{
    public static readonly ReferenceComparer<T> Instance = new();

    public bool Equals(T? x, T? y) => ReferenceEquals(x, y);

    public int GetHashCode(T obj) => RuntimeHelpers.GetHashCode(obj);
}
