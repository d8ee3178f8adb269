using System;
using System.Collections.Generic;
using System.Linq;
using SwarmDsl.Collections;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using SwarmDsl.Generators.Model;

namespace SwarmDsl.Generators.Parsing;

/// <summary>Reads the emit settings: two MSBuild properties and one fact about the compilation's references.</summary>
internal static class EmitSettingsReader
{
    /// <summary>MSBuild property: embed the provisioning files (<c>true</c>, <c>false</c>, or <c>auto</c>, the default).</summary>
    public const string EmbedProvisioningProperty = "build_property.SwarmDslEmbedProvisioning";

    /// <summary>MSBuild property: embed the model and plan dumps (<c>true</c>, <c>false</c>, or <c>auto</c>, the default).</summary>
    public const string EmbedDumpsProperty = "build_property.SwarmDslEmbedDumps";

    /// <summary>MSBuild property: generate the compiled pipeline (<c>true</c>, <c>false</c>, or <c>auto</c>: below the size limit or for listed nodes).</summary>
    public const string CompilePipelineProperty = "build_property.SwarmDslCompilePipeline";

    /// <summary>MSBuild property: the full form of the typed handles (<c>true</c>, <c>false</c>, or <c>auto</c>: below the size limit).</summary>
    public const string FullHandlesProperty = "build_property.SwarmDslFullHandles";

    /// <summary>The assembly whose reference turns on the compiled pipeline.</summary>
    public const string RuntimeAssemblyName = "SwarmDsl.Runtime";

    /// <summary>The two embed modes from the global options (runtime not yet known).</summary>
    public static EmitSettings Read(AnalyzerConfigOptions global)
    {
        var problems = new List<string>();
        return new(Mode(global, EmbedProvisioningProperty, problems), Mode(global, EmbedDumpsProperty, problems), RuntimeReferenced: false,
            Mode(global, CompilePipelineProperty, problems), Mode(global, FullHandlesProperty, problems), problems.ToEquatableArray());
    }

    /// <summary>Whether <paramref name="compilation"/> references SwarmDsl.Runtime (names only: a cheap scan, a bool out).</summary>
    public static bool ReferencesRuntime(Compilation compilation)
        => compilation.ReferencedAssemblyNames.Any(a => string.Equals(a.Name, RuntimeAssemblyName, StringComparison.Ordinal));

    // Anything but true/false is the size-capped default: a bad value never fails a build, but one that is not empty or
    // "auto" (a typo, "yes", "1") is named in a SWARM1012 warning rather than read past.
    private static EmbedMode Mode(AnalyzerConfigOptions options, string key, List<string> problems)
    {
        if (!options.TryGetValue(key, out var value)) return EmbedMode.Auto;
        value = value.Trim();
        if (string.Equals(value, "true", StringComparison.OrdinalIgnoreCase)) return EmbedMode.Always;
        if (string.Equals(value, "false", StringComparison.OrdinalIgnoreCase)) return EmbedMode.Never;
        if (value.Length > 0 && !string.Equals(value, "auto", StringComparison.OrdinalIgnoreCase))
            problems.Add(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "{0} is '{1}', which is not true, false or auto: auto is used", key.Substring("build_property.".Length), value));
        return EmbedMode.Auto;
    }
}
