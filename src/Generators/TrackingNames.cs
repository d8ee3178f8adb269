namespace SwarmDsl.Generators;

/// <summary>Names of the pipeline steps, for <c>WithTrackingName</c> and the incrementality tests.</summary>
internal static class TrackingNames
{
    /// <summary>The emit settings: MSBuild properties and whether SwarmDsl.Runtime is referenced.</summary>
    public const string EmitSettings = nameof(EmitSettings);

    /// <summary>A <c>*.swarm.yaml</c> file read as text, with its target class.</summary>
    public const string ReadYaml = nameof(ReadYaml);

    /// <summary>A YAML topology compiled to the analyzed model and diagnostics.</summary>
    public const string CompileYaml = nameof(CompileYaml);

    /// <summary>The YAML files whose class another file already generates.</summary>
    public const string DuplicateClasses = nameof(DuplicateClasses);

    /// <summary>The YAML files whose class is already a type of the project that the generated class cannot extend.</summary>
    public const string UserTypeClashes = nameof(UserTypeClashes);

    /// <summary>Element attributes on a type without <c>[SwarmTopology]</c>.</summary>
    public const string OrphanElements = nameof(OrphanElements);

    /// <summary>The C# source of a YAML topology.</summary>
    public const string EmitYaml = nameof(EmitYaml);

    /// <summary>A <c>[SwarmTopology]</c> type's attributes read into plain data.</summary>
    public const string ReadAttributes = nameof(ReadAttributes);

    /// <summary>An attribute topology compiled to the analyzed model and diagnostics.</summary>
    public const string CompileAttributes = nameof(CompileAttributes);

    /// <summary>The syntax trees of a topology type (diagnostics only).</summary>
    public const string AttributeTrees = nameof(AttributeTrees);

    /// <summary>The C# source of an attribute topology.</summary>
    public const string EmitAttributes = nameof(EmitAttributes);

    /// <summary>A YAML topology's model and plan with placeholders for source locations, and the real locations.</summary>
    public const string PrepareExpectYaml = nameof(PrepareExpectYaml);

    /// <summary>A YAML topology's <c>expect:</c> entries simulated on the location-free model (the failed ones as verdicts).</summary>
    public const string ExpectYaml = nameof(ExpectYaml);

    /// <summary>A YAML topology's verdicts as diagnostics at the entries, naming declarations where they are written.</summary>
    public const string LocateExpectYaml = nameof(LocateExpectYaml);

    /// <summary>An attribute topology's model and plan with placeholders for source locations, and the real locations.</summary>
    public const string PrepareExpectAttributes = nameof(PrepareExpectAttributes);

    /// <summary>An attribute topology's <c>[Expect]</c> entries simulated on the location-free model (the failed ones as verdicts).</summary>
    public const string ExpectAttributes = nameof(ExpectAttributes);

    /// <summary>An attribute topology's verdicts as diagnostics at the <c>[Expect]</c> attributes, naming declarations where they are written.</summary>
    public const string LocateExpectAttributes = nameof(LocateExpectAttributes);
}
