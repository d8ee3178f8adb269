using System.Collections.Generic;
using System.CommandLine;

namespace SwarmDsl.Cli.Commands;

/// <summary>The verbs besides <c>check</c>; each verb lives in its own file and is listed here.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> Extra(CliIo io)
    {
        yield return ModelCommand.Create(io);
        yield return ShowCommand.Create(io);
        yield return GraphCommand.Create(io);
        yield return TraceCommand.Create(io);
        yield return EmitCommand.Create(io);
        yield return LabCommand.Create(io);
        yield return DiffCommand.Create(io);
        yield return ReachCommand.Create(io);
        yield return SynthCommand.Create(io);
    }
}
