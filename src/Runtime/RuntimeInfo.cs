namespace SwarmDsl.Runtime;

/// <summary>Version information about the packet engine.</summary>
public static class RuntimeInfo
{
    /// <summary>The engine's name as traces print it.</summary>
    public const string Name = "swarmdsl-runtime";
}
