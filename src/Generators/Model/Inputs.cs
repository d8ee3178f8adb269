using Microsoft.CodeAnalysis;
using SwarmDsl.Collections;

namespace SwarmDsl.Generators.Model;

/// <summary>Project-wide settings read from MSBuild properties.</summary>
/// <param name="RootNamespace">The project's root namespace (<c>build_property.RootNamespace</c>); empty for none.</param>
internal sealed record GeneratorOptions(string RootNamespace);

/// <summary>One <c>*.swarm.yaml</c> additional file as text, with the class it generates.</summary>
/// <param name="Path">The file's path.</param>
/// <param name="Text">Its contents (null when the file could not be read).</param>
/// <param name="Target">The class to generate.</param>
/// <param name="PipelineNodes">The nodes whose tables the compiled pipeline covers (<c>SwarmDslPipelineNodes</c> metadata, sorted, ';'-joined); empty: every node.</param>
/// <param name="SettingProblems">SWARM1012 for a class name or namespace metadata the generator could not use.</param>
internal sealed record YamlSource(string Path, string? Text, TargetType Target, string PipelineNodes = "",
    EquatableArray<DiagnosticInfo> SettingProblems = default);

/// <summary>The kind of a constant attribute argument.</summary>
internal enum AttributeValueKind
{
    /// <summary><c>null</c>.</summary>
    Null,
    /// <summary>A string.</summary>
    String,
    /// <summary>A number (its invariant text).</summary>
    Number,
    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,
    /// <summary>An enum member (its name, or the number when no member has the value).</summary>
    Enum,
    /// <summary>An array (see <see cref="AttributeValue.Items"/>).</summary>
    Array,
}

/// <summary>A constant attribute argument, or one element of an array argument.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Text">Its text: the string, the invariant number, <c>true</c>/<c>false</c>, the enum member name.</param>
/// <param name="Location">Where the value is written.</param>
/// <param name="LiteralOffset">
/// For a string literal whose source text is exactly its value between quotes, how many characters the quote takes
/// (1 for <c>"..."</c>, 2 for <c>@"..."</c>), so parts of the value can be located; otherwise -1.
/// </param>
/// <param name="Items">The elements of an array.</param>
internal sealed record AttributeValue(AttributeValueKind Kind, string? Text, LocationInfo Location, int LiteralOffset, EquatableArray<AttributeValue> Items);

/// <summary>A constructor or named argument of a topology attribute.</summary>
/// <param name="Name">The parameter or property name as declared (<c>name</c>, <c>Hostname</c>).</param>
/// <param name="Value">The value.</param>
/// <param name="NameLocation">Where the property name is written (the value itself for positional arguments).</param>
internal sealed record AttributeArgument(string Name, AttributeValue Value, LocationInfo NameLocation);

/// <summary>One topology attribute as written, with every argument the user gave (and only those).</summary>
/// <param name="Kind">The attribute's name without the suffix (<c>Node</c>, <c>OverlayNetwork</c>).</param>
/// <param name="Location">The whole attribute (<c>Node("manager", ...)</c>).</param>
/// <param name="NameLocation">The attribute name.</param>
/// <param name="Arguments">The arguments, constructor ones first.</param>
internal sealed record AttributeSpec(string Kind, LocationInfo Location, LocationInfo NameLocation, EquatableArray<AttributeArgument> Arguments)
{
    /// <summary>The argument named <paramref name="name"/> (ordinal, case-insensitive so constructor and property names both match).</summary>
    public AttributeArgument? Find(string name)
    {
        foreach (var a in Arguments)
            if (string.Equals(a.Name, name, System.StringComparison.OrdinalIgnoreCase)) return a;
        return null;
    }
}

/// <summary>
/// A <c>[SwarmTopology]</c> type as extracted from the compilation: strings, numbers and locations only (no symbols, no
/// syntax), so unrelated edits leave it equal and every later step cached.
/// </summary>
/// <param name="Key">The type's fully qualified name (joins it with its <see cref="SyntaxTreeSite"/>).</param>
/// <param name="Target">The type that receives the members.</param>
/// <param name="FilePath">The file holding the <c>[SwarmTopology]</c> attribute.</param>
/// <param name="TypeLocation">The type's name in its declaration (for diagnostics about the type itself).</param>
/// <param name="NonPartialType">A type of the chain that is not <c>partial</c>, or null.</param>
/// <param name="HasInvalidArguments">Whether some attribute did not bind (the compiler reports that; the generator stays quiet).</param>
/// <param name="Attributes">The topology attributes in declaration order, <c>[SwarmTopology]</c> included.</param>
/// <param name="Failure">An internal error met while reading, if any.</param>
/// <param name="FileLocalType">A type of the chain declared <c>file</c>, or null.</param>
internal sealed record AttributeTopologyInput(string Key, TargetType Target, string FilePath, LocationInfo TypeLocation, string? NonPartialType,
    bool HasInvalidArguments, EquatableArray<AttributeSpec> Attributes, DiagnosticInfo? Failure, string? FileLocalType = null);

/// <summary>
/// The syntax trees that declare one topology type, kept apart from the models: diagnostics at attribute arguments are
/// reported in these trees so that <c>#pragma warning disable SWARMnnnn</c> applies to them (a location outside a tree
/// cannot be suppressed). Only the diagnostics output reads this; a tree's equality is identity, which unrelated edits keep.
/// </summary>
/// <param name="TypeName">The type's full name (the join key).</param>
/// <param name="Trees">The trees.</param>
internal sealed record SyntaxTreeSite(string TypeName, EquatableArray<SyntaxTree> Trees);

/// <summary>Whether a group of text constants (provisioning files, dumps) is written into the generated class.</summary>
internal enum EmbedMode
{
    /// <summary>Only when the plan is small (<see cref="Emitting.PlanSize.AutoEmbedLimit"/>): the default.</summary>
    Auto,
    /// <summary>Always, whatever the size (<c>true</c>).</summary>
    Always,
    /// <summary>Never (<c>false</c>).</summary>
    Never,
}

/// <summary>
/// Project-wide settings of the emit step: the MSBuild properties <c>SwarmDslEmbedProvisioning</c> and
/// <c>SwarmDslEmbedDumps</c>, and whether the consumer references SwarmDsl.Runtime (then the compiled pipeline is emitted).
/// Scalars only, so the emit steps stay cached across edits.
/// </summary>
/// <param name="Provisioning">Whether <c>Provisioning</c> (every file <c>swarmdsl emit</c> writes) is embedded.</param>
/// <param name="Dumps">Whether <c>ModelDump</c> and <c>PlanDump</c> are embedded.</param>
/// <param name="RuntimeReferenced">Whether the compilation references the SwarmDsl.Runtime assembly.</param>
/// <param name="Pipeline">Whether the compiled pipeline is generated (<c>SwarmDslCompilePipeline</c>; only with the runtime).</param>
/// <param name="Handles">
/// Whether the handles have their full form (<c>SwarmDslFullHandles</c>): a documented member per address, namespace, task
/// and load balancer. Otherwise (above the limit by default) those four groups are data tables, with a plain member per
/// namespace and task and none per address and load balancer (they are in <c>All</c>).
/// </param>
/// <param name="Problems">What SWARM1012 says of each property value the generator did not accept.</param>
internal sealed record EmitSettings(EmbedMode Provisioning, EmbedMode Dumps, bool RuntimeReferenced, EmbedMode Pipeline = EmbedMode.Auto,
    EmbedMode Handles = EmbedMode.Auto, EquatableArray<string> Problems = default)
{
    /// <summary>The defaults: embed when small, no runtime.</summary>
    public static EmitSettings Default { get; } = new(EmbedMode.Auto, EmbedMode.Auto, false);
}
