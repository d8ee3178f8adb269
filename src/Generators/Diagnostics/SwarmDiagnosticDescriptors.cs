using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Catalog = SwarmDsl.Diagnostics.DiagnosticDescriptors;

namespace SwarmDsl.Generators.Diagnostics;

/// <summary>
/// The Roslyn descriptors of the SwarmDsl diagnostics: one per ID of the shared catalogue (<see cref="Catalog"/>), written
/// out with constant IDs and severities so the release-tracking analyzer can check them against AnalyzerReleases.*.md, plus
/// the C# front end's own IDs (SWARM1xxx). Titles and descriptions come from the catalogue; a test keeps IDs and severities
/// in step with it.
/// </summary>
internal static class SwarmDiagnosticDescriptors
{
    /// <summary>The category of every SwarmDsl diagnostic.</summary>
    public const string Category = "SwarmDsl";

    /// <summary>Every message is the compiler's own sentence (it says what to change).</summary>
    private const string MessageFormat = "{0}";

    /// <summary>SWARM0001: <see cref="Catalog.YamlSyntax"/>.</summary>
    public static readonly DiagnosticDescriptor YamlSyntax = new("SWARM0001", Catalog.YamlSyntax.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.YamlSyntax.Fix);
    /// <summary>SWARM0002: <see cref="Catalog.UnknownKey"/>.</summary>
    public static readonly DiagnosticDescriptor UnknownKey = new("SWARM0002", Catalog.UnknownKey.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.UnknownKey.Fix);
    /// <summary>SWARM0003: <see cref="Catalog.WrongType"/>.</summary>
    public static readonly DiagnosticDescriptor WrongType = new("SWARM0003", Catalog.WrongType.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.WrongType.Fix);
    /// <summary>SWARM0004: <see cref="Catalog.DuplicateKey"/>.</summary>
    public static readonly DiagnosticDescriptor DuplicateKey = new("SWARM0004", Catalog.DuplicateKey.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.DuplicateKey.Fix);
    /// <summary>SWARM0005: <see cref="Catalog.MissingKey"/>.</summary>
    public static readonly DiagnosticDescriptor MissingKey = new("SWARM0005", Catalog.MissingKey.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.MissingKey.Fix);
    /// <summary>SWARM0006: <see cref="Catalog.InvalidName"/>.</summary>
    public static readonly DiagnosticDescriptor InvalidName = new("SWARM0006", Catalog.InvalidName.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.InvalidName.Fix);
    /// <summary>SWARM0007: <see cref="Catalog.UnknownReference"/>.</summary>
    public static readonly DiagnosticDescriptor UnknownReference = new("SWARM0007", Catalog.UnknownReference.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.UnknownReference.Fix);
    /// <summary>SWARM0008: <see cref="Catalog.AddressOutsideSubnet"/>.</summary>
    public static readonly DiagnosticDescriptor AddressOutsideSubnet = new("SWARM0008", Catalog.AddressOutsideSubnet.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.AddressOutsideSubnet.Fix);
    /// <summary>SWARM0009: <see cref="Catalog.AddressCollision"/>.</summary>
    public static readonly DiagnosticDescriptor AddressCollision = new("SWARM0009", Catalog.AddressCollision.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.AddressCollision.Fix);
    /// <summary>SWARM0010: <see cref="Catalog.OverlappingSubnets"/>.</summary>
    public static readonly DiagnosticDescriptor OverlappingSubnets = new("SWARM0010", Catalog.OverlappingSubnets.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.OverlappingSubnets.Fix);
    /// <summary>SWARM0011: <see cref="Catalog.VniCollision"/>.</summary>
    public static readonly DiagnosticDescriptor VniCollision = new("SWARM0011", Catalog.VniCollision.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.VniCollision.Fix);
    /// <summary>SWARM0012: <see cref="Catalog.VniOutOfRange"/>.</summary>
    public static readonly DiagnosticDescriptor VniOutOfRange = new("SWARM0012", Catalog.VniOutOfRange.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.VniOutOfRange.Fix);
    /// <summary>SWARM0013: <see cref="Catalog.VniLow"/>.</summary>
    public static readonly DiagnosticDescriptor VniLow = new("SWARM0013", Catalog.VniLow.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.VniLow.Fix);
    /// <summary>SWARM0014: <see cref="Catalog.PublishedPortCollision"/>.</summary>
    public static readonly DiagnosticDescriptor PublishedPortCollision = new("SWARM0014", Catalog.PublishedPortCollision.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.PublishedPortCollision.Fix);
    /// <summary>SWARM0015: <see cref="Catalog.DnsrrWithIngress"/>.</summary>
    public static readonly DiagnosticDescriptor DnsrrWithIngress = new("SWARM0015", Catalog.DnsrrWithIngress.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.DnsrrWithIngress.Fix);
    /// <summary>SWARM0016: <see cref="Catalog.TooManyTasks"/>.</summary>
    public static readonly DiagnosticDescriptor TooManyTasks = new("SWARM0016", Catalog.TooManyTasks.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.TooManyTasks.Fix);
    /// <summary>SWARM0017: <see cref="Catalog.GlobalTaskPlacement"/>.</summary>
    public static readonly DiagnosticDescriptor GlobalTaskPlacement = new("SWARM0017", Catalog.GlobalTaskPlacement.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.GlobalTaskPlacement.Fix);
    /// <summary>SWARM0018: <see cref="Catalog.MtuTooLarge"/>.</summary>
    public static readonly DiagnosticDescriptor MtuTooLarge = new("SWARM0018", Catalog.MtuTooLarge.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.MtuTooLarge.Fix);
    /// <summary>SWARM0019: <see cref="Catalog.UnsupportedScheduler"/>.</summary>
    public static readonly DiagnosticDescriptor UnsupportedScheduler = new("SWARM0019", Catalog.UnsupportedScheduler.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.UnsupportedScheduler.Fix);
    /// <summary>SWARM0020: <see cref="Catalog.ExpectationFailed"/>.</summary>
    public static readonly DiagnosticDescriptor ExpectationFailed = new("SWARM0020", Catalog.ExpectationFailed.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.ExpectationFailed.Fix);
    /// <summary>SWARM0021: <see cref="Catalog.UnsupportedVersion"/>.</summary>
    public static readonly DiagnosticDescriptor UnsupportedVersion = new("SWARM0021", Catalog.UnsupportedVersion.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.UnsupportedVersion.Fix);
    /// <summary>SWARM0022: <see cref="Catalog.SubnetExhausted"/>.</summary>
    public static readonly DiagnosticDescriptor SubnetExhausted = new("SWARM0022", Catalog.SubnetExhausted.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.SubnetExhausted.Fix);
    /// <summary>SWARM0023: <see cref="Catalog.OutOfRange"/>.</summary>
    public static readonly DiagnosticDescriptor OutOfRange = new("SWARM0023", Catalog.OutOfRange.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.OutOfRange.Fix);
    /// <summary>SWARM0024: <see cref="Catalog.InvalidRule"/>.</summary>
    public static readonly DiagnosticDescriptor InvalidRule = new("SWARM0024", Catalog.InvalidRule.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.InvalidRule.Fix);
    /// <summary>SWARM0025: <see cref="Catalog.InvalidAttachment"/>.</summary>
    public static readonly DiagnosticDescriptor InvalidAttachment = new("SWARM0025", Catalog.InvalidAttachment.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.InvalidAttachment.Fix);
    /// <summary>SWARM0026: <see cref="Catalog.IngressNetwork"/>.</summary>
    public static readonly DiagnosticDescriptor IngressNetwork = new("SWARM0026", Catalog.IngressNetwork.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.IngressNetwork.Fix);
    /// <summary>SWARM0027: <see cref="Catalog.HostPortCollision"/>.</summary>
    public static readonly DiagnosticDescriptor HostPortCollision = new("SWARM0027", Catalog.HostPortCollision.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.HostPortCollision.Fix);
    /// <summary>SWARM0028: <see cref="Catalog.InvalidSysctl"/>.</summary>
    public static readonly DiagnosticDescriptor InvalidSysctl = new("SWARM0028", Catalog.InvalidSysctl.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.InvalidSysctl.Fix);
    /// <summary>SWARM0029: <see cref="Catalog.NoPlacement"/>.</summary>
    public static readonly DiagnosticDescriptor NoPlacement = new("SWARM0029", Catalog.NoPlacement.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.NoPlacement.Fix);
    /// <summary>SWARM0030: <see cref="Catalog.Unsupported"/>.</summary>
    public static readonly DiagnosticDescriptor Unsupported = new("SWARM0030", Catalog.Unsupported.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.Unsupported.Fix);
    /// <summary>SWARM0031: <see cref="Catalog.InvalidExpectation"/>.</summary>
    public static readonly DiagnosticDescriptor InvalidExpectation = new("SWARM0031", Catalog.InvalidExpectation.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.InvalidExpectation.Fix);
    /// <summary>SWARM0040: <see cref="Catalog.NameCollision"/>.</summary>
    public static readonly DiagnosticDescriptor NameCollision = new("SWARM0040", Catalog.NameCollision.Title, MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: Catalog.NameCollision.Fix);
    /// <summary>SWARM0041: <see cref="Catalog.DataPathPortPublished"/>.</summary>
    public static readonly DiagnosticDescriptor DataPathPortPublished = new("SWARM0041", Catalog.DataPathPortPublished.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.DataPathPortPublished.Fix);
    /// <summary>SWARM0042: <see cref="Catalog.UnderlayNotOnLink"/>.</summary>
    public static readonly DiagnosticDescriptor UnderlayNotOnLink = new("SWARM0042", Catalog.UnderlayNotOnLink.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.UnderlayNotOnLink.Fix);

    /// <summary>SWARM0043: <see cref="Catalog.SysctlNotSimulated"/>.</summary>
    public static readonly DiagnosticDescriptor SysctlNotSimulated = new("SWARM0043", Catalog.SysctlNotSimulated.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.SysctlNotSimulated.Fix);

    /// <summary>SWARM0044: <see cref="Catalog.SysctlDeviceMissing"/>.</summary>
    public static readonly DiagnosticDescriptor SysctlDeviceMissing = new("SWARM0044", Catalog.SysctlDeviceMissing.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.SysctlDeviceMissing.Fix);

    /// <summary>SWARM0045: <see cref="Catalog.VniTakenFromIngress"/>.</summary>
    public static readonly DiagnosticDescriptor VniTakenFromIngress = new("SWARM0045", Catalog.VniTakenFromIngress.Title, MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: Catalog.VniTakenFromIngress.Fix);

    /// <summary>SWARM1001: the <c>[SwarmTopology]</c> type (or a type containing it) is not <c>partial</c>.</summary>
    public static readonly DiagnosticDescriptor TypeNotPartial = new("SWARM1001", "Topology type must be partial", MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: "Add the partial modifier to the [SwarmTopology] type and every type containing it, so the generator can add its members.");

    /// <summary>SWARM1002: two topology files generate the same class.</summary>
    public static readonly DiagnosticDescriptor DuplicateClass = new("SWARM1002", "Two topologies generate the same class", MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: "Rename one of the files, or set the SwarmDslClassName (or SwarmDslNamespace) metadata on its AdditionalFiles item.");

    /// <summary>SWARM1003: the generator failed; a bug, reported instead of crashing the build (CS8785).</summary>
    public static readonly DiagnosticDescriptor InternalError = new("SWARM1003", "SwarmDsl generator internal error", MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: "The generator hit an unexpected condition. Please report it with the topology that triggers it.");

    /// <summary>SWARM1010: provisioning files or dumps were left out of a large topology's class (information).</summary>
    public static readonly DiagnosticDescriptor NotEmbedded = new("SWARM1010", "Large topology: text constants not embedded", MessageFormat, Category,
        DiagnosticSeverity.Info, isEnabledByDefault: true, description: "Above the automatic size limit the generator leaves the provisioning files and the model and plan dumps out of the generated class. Set the MSBuild property SwarmDslEmbedProvisioning or SwarmDslEmbedDumps to true to embed them anyway, or to false to silence this.");

    /// <summary>SWARM1011: <c>SwarmDslPipelineNodes</c> names a node the topology does not have.</summary>
    public static readonly DiagnosticDescriptor UnknownPipelineNode = new("SWARM1011", "SwarmDslPipelineNodes names an unknown node", MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: "Name nodes of the topology in the SwarmDslPipelineNodes metadata of its AdditionalFiles item, separated by commas (a ';' starts a comment in the .editorconfig the compiler reads the metadata from, so the rest of the list is lost). The tables of a node that is not listed stay interpreted.");

    /// <summary>SWARM1012: an MSBuild setting of the generator has a value it does not accept (the default is used).</summary>
    public static readonly DiagnosticDescriptor InvalidSetting = new("SWARM1012", "Invalid SwarmDsl build setting", MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: "Give SwarmDslEmbedProvisioning, SwarmDslEmbedDumps, SwarmDslCompilePipeline and SwarmDslFullHandles the value true, false or auto; SwarmDslClassName a C# identifier; SwarmDslNamespace a dotted C# namespace. A value the generator does not accept is replaced by the default, which this warning names.");

    /// <summary>SWARM1013: the topology class is named like a member the generator declares in it (CS0542).</summary>
    public static readonly DiagnosticDescriptor ReservedClassName = new("SWARM1013", "Topology class named like a generated member", MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: "Give the topology class a name other than the members the generator declares in it (Nodes, Services, Networks, Tasks, Underlay, Traffic, SourceText, PlanFingerprint, ...): rename the [SwarmTopology] type, or the YAML file, or set SwarmDslClassName on the file.");

    /// <summary>SWARM1014: the <c>[SwarmTopology]</c> type (or a type containing it) is file-local.</summary>
    public static readonly DiagnosticDescriptor FileLocalType = new("SWARM1014", "Topology type cannot be file-local", MessageFormat, Category,
        DiagnosticSeverity.Error, isEnabledByDefault: true, description: "Remove the file modifier from the [SwarmTopology] type and every type containing it: the generator adds the topology's members in a file of its own, where a file-local type cannot be named (it would declare another type of that name instead).");

    /// <summary>SWARM1015: a topology element attribute on a type without <c>[SwarmTopology]</c> (it does nothing).</summary>
    public static readonly DiagnosticDescriptor OrphanElement = new("SWARM1015", "Topology attribute without [SwarmTopology]", MessageFormat, Category,
        DiagnosticSeverity.Warning, isEnabledByDefault: true, description: "[Node], [Service], [OverlayNetwork] and the other element attributes describe the topology of the type's [SwarmTopology] attribute; on a type without one they are read by nothing. Add [SwarmTopology(\"name\")] to the type, or remove them.");

    /// <summary>Every descriptor, catalogue IDs first.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
    {
        YamlSyntax, UnknownKey, WrongType, DuplicateKey, MissingKey, InvalidName, UnknownReference, AddressOutsideSubnet,
        AddressCollision, OverlappingSubnets, VniCollision, VniOutOfRange, VniLow, PublishedPortCollision, DnsrrWithIngress,
        TooManyTasks, GlobalTaskPlacement, MtuTooLarge, UnsupportedScheduler, ExpectationFailed, UnsupportedVersion,
        SubnetExhausted, OutOfRange, InvalidRule, InvalidAttachment, IngressNetwork, HostPortCollision, InvalidSysctl,
        NoPlacement, Unsupported, InvalidExpectation, NameCollision, DataPathPortPublished, UnderlayNotOnLink, SysctlNotSimulated,
        SysctlDeviceMissing, VniTakenFromIngress, TypeNotPartial, DuplicateClass, InternalError, NotEmbedded, UnknownPipelineNode, InvalidSetting, ReservedClassName, FileLocalType, OrphanElement,
    };

    // After All: static initializers run in textual order.
    private static readonly Dictionary<string, DiagnosticDescriptor> ById = Index();

    /// <summary>The descriptor of <paramref name="id"/>, or null for an ID this generator does not know.</summary>
    public static DiagnosticDescriptor? Find(string id) => ById.TryGetValue(id, out var d) ? d : null;

    /// <summary>
    /// A descriptor for a catalogue ID added after this generator was built (a test fails until it is written out above,
    /// so this is a safety net: the diagnostic still reaches the user with its ID and severity).
    /// </summary>
    public static DiagnosticDescriptor Fallback(string id, DiagnosticSeverity severity)
        => new(id, id, MessageFormat, Category, severity, isEnabledByDefault: true);

    private static Dictionary<string, DiagnosticDescriptor> Index()
    {
        var map = new Dictionary<string, DiagnosticDescriptor>(System.StringComparer.Ordinal);
        foreach (var d in All) map[d.Id] = d;
        return map;
    }
}
