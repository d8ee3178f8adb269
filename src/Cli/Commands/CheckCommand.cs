using System.CommandLine;
using System.IO;
using System.Linq;
using SwarmDsl.Diagnostics;

namespace SwarmDsl.Cli.Commands;

/// <summary><c>swarmdsl check FILE...</c>: parse, validate, lower and evaluate <c>expect:</c>; MSBuild-format diagnostics.</summary>
internal static class CheckCommand
{
    public static Command Create(CliIo io)
    {
        var files = new Argument<string[]>("FILE") { Arity = ArgumentArity.OneOrMore, Description = "topology files (*.swarm.yaml)" };
        var cmd = new Command("check", "Parse, validate and lower topologies; print diagnostics as FILE(LINE,COL): error SWARMnnnn: message.") { files };
        cmd.SetAction(parse =>
        {
            int exit = Program.Ok;
            int errors = 0, warnings = 0, checkedFiles = 0;
            foreach (var file in parse.GetValue(files) ?? System.Array.Empty<string>())
            {
                var loaded = TopologyLoader.Load(file, io);
                if (loaded is null) { exit = Program.Failed; continue; }
                checkedFiles++;
                foreach (var d in loaded.Diagnostics)
                {
                    io.Out.WriteLine(d.ToString());
                    if (d.Severity == Severity.Error) errors++;
                    else if (d.Severity == Severity.Warning) warnings++;
                }
                if (loaded.HasErrors) exit = Program.Failed;
            }
            io.Out.WriteLine($"{checkedFiles} file{(checkedFiles == 1 ? "" : "s")} checked: {errors} error{(errors == 1 ? "" : "s")}, {warnings} warning{(warnings == 1 ? "" : "s")}");
            return exit;
        });
        return cmd;
    }
}
