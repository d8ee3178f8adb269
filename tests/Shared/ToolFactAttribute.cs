using Xunit;

namespace SwarmDsl.Tests;

/// <summary>A [Fact] skipped, with the reason, when a tool it runs is not installed.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    /// <summary>Skips unless every tool is on PATH.</summary>
    public ToolFactAttribute(params string[] tools)
    {
        foreach (var t in tools) if (!HostLinux.HasTool(t)) { Skip = "needs " + t; break; }
    }
}
