using System.CommandLine;
using System.Linq;
using SwarmDsl.Diagnostics;
using SwarmDsl.Runtime.Insight;

namespace SwarmDsl.Cli.Commands;

/// <summary><c>swarmdsl check FILE...</c>: parse, validate, lower and evaluate <c>expect:</c>; MSBuild-format diagnostics.</summary>
internal static class CheckCommand
{
    public static Command Create(CliIo io)
    {
        var files = new Argument<string[]>("FILE") { Arity = ArgumentArity.OneOrMore, Description = "topology files (*.swarm.yaml)" };

        var noExpect = new Option<bool>("--no-expect") { Description = "do not simulate the expect: entries" };
        var cmd = new Command("check", "Parse, validate and lower topologies, simulate expect:; print diagnostics as FILE(LINE,COL): error SWARMnnnn: message.") { files, noExpect };
        cmd.SetAction(parse =>
        {
            // A variadic argument swallows unknown options ("--bogus") as file names; refuse them as usage errors instead. A
            // file whose name starts with '-' is still reachable as ./-name, or after "--" (as with every other verb).
            bool afterDoubleDash = false;
            foreach (var token in parse.Tokens)
            {
                if (token.Type == System.CommandLine.Parsing.TokenType.DoubleDash) afterDoubleDash = true;
                else if (!afterDoubleDash && token.Type == System.CommandLine.Parsing.TokenType.Argument && token.Value.Length > 1 && token.Value[0] == '-')
                    throw new CliUsageException($"unknown option '{token.Value}' (to check a file whose name starts with '-', write ./{token.Value} or put it after --)");
            }
            int exit = Program.Ok;
            int errors = 0, warnings = 0, checkedFiles = 0, unreadable = 0;
            foreach (var file in parse.GetValue(files) ?? System.Array.Empty<string>())
            {
                var loaded = TopologyLoader.Load(file, io);
                if (loaded is null) { exit = Program.Failed; unreadable++; continue; }
                checkedFiles++;
                var diagnostics = new System.Collections.Generic.List<Diagnostic>(loaded.Diagnostics);
                bool failed = loaded.HasErrors;
                if (!failed)
                {
                    var lowered = SwarmCompiler.Lower(loaded, TopologyLoader.Lowering());
                    diagnostics = new System.Collections.Generic.List<Diagnostic>(lowered.Diagnostics);
                    failed = lowered.HasErrors;
                    // Expectations are simulated only over a plan that lowered cleanly.
                    if (lowered.Plan is not null && loaded.Topology is not null && !parse.GetValue(noExpect))
                    {
                        var failures = ExpectationEvaluator.Evaluate(loaded.Topology, lowered.Plan);
                        diagnostics.AddRange(failures);
                        // Its SWARM0043 warnings (a sysctl the simulation does not model) leave the exit at "clean or warnings only".
                        failed |= failures.Any(d => d.IsError);
                    }
                }
                foreach (var d in diagnostics)
                {
                    io.Out.WriteLine(d.ToString());
                    if (d.Severity == Severity.Error) errors++;
                    else if (d.Severity == Severity.Warning) warnings++;
                }
                if (failed) exit = Program.Failed;
            }
            io.Out.WriteLine($"{Plural(checkedFiles, "file")} checked: {Plural(errors, "error")}, {Plural(warnings, "warning")}"
                + (unreadable > 0 ? $"; {Plural(unreadable, "file")} could not be read" : ""));
            return exit;
        });
        return cmd;
    }

    private static string Plural(int n, string word) =>
        n.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + word + (n == 1 ? "" : "s");
}
