using SwarmDsl.Diagnostics;

namespace SwarmDsl.Generators.Model;

/// <summary>
/// A diagnostic as data: ID, severity, message and place. Roslyn's <see cref="Microsoft.CodeAnalysis.Diagnostic"/> has no
/// value equality (roslyn#68291), so pipelines carry this and build the Roslyn diagnostic only when reporting it.
/// </summary>
internal sealed record DiagnosticInfo(string Id, Severity Severity, string Message, LocationInfo? Location);
