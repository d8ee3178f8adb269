using System;
using System.IO;

namespace SwarmDsl.Tests;

/// <summary>Locations in the repository, found from the test assembly's folder.</summary>
public static class Paths
{
    /// <summary>The repository root (the folder holding SwarmDsl.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>examples/two-node.swarm.yaml</summary>
    public static string Example => Path.Combine(Root, "examples", "two-node.swarm.yaml");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SwarmDsl.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find SwarmDsl.sln above " + AppContext.BaseDirectory);
    }
}
