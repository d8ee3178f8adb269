using System;
using System.CommandLine;
using System.Linq;
using SwarmDsl.Cli.Commands;

namespace SwarmDsl.Cli;

/// <summary>The <c>swarmdsl</c> entry point: verbs of spec/cli.md over the shared compiler.</summary>
public static class Program
{
    /// <summary>Exit code: success (or warnings only; a delivered trace).</summary>
    public const int Ok = 0;
    /// <summary>Exit code: errors in the input, or the operation failed.</summary>
    public const int Failed = 1;
    /// <summary>Exit code: the command line is wrong.</summary>
    public const int Usage = 2;

    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error, JitProfile.Start);

    /// <summary>Runs the command line with the given output streams (tests call this).</summary>
    public static int Run(string[] args, System.IO.TextWriter stdout, System.IO.TextWriter stderr) => Run(args, stdout, stderr, null);

    // parsed: called with the verb once the command line is known to be good, before the verb runs (the process's own
    // run starts its JIT profile there; a typo gets none).
    private static int Run(string[] args, System.IO.TextWriter stdout, System.IO.TextWriter stderr, Action<string>? parsed)
    {
        var io = new CliIo(stdout, stderr);
        var root = new RootCommand("swarmdsl: compile Docker Swarm style topologies into explainable, reproducible Linux dataplanes.");
        // Accepted by every verb; unexpected failures then print their detail (never for input errors, which are diagnostics).
        root.Options.Add(new Option<bool>("--verbose") { Description = "show details of unexpected failures", Recursive = true });
        root.Subcommands.Add(CheckCommand.Create(io));
        foreach (var extra in CommandCatalog.Extra(io)) root.Subcommands.Add(extra);

        try
        {
            // Every error is one line (spec/cli.md): where the usage is told goes on it, not on a line of its own.
            if (args.Length == 0)
            {
                stderr.WriteLine("swarmdsl: error: no command given (e.g. swarmdsl check FILE); see 'swarmdsl --help'");
                return Usage;
            }
            var parse = root.Parse(args);
            if (parse.Errors.Count > 0)
            {
                // "Required command was not provided" next to "Unrecognized command 'frob'" says the same thing twice, less clearly.
                var messages = parse.Errors.Select(e => OneLine(e.Message).TrimEnd('.')).Distinct(StringComparer.Ordinal).ToList();
                if (messages.Count > 1) messages.RemoveAll(m => m.StartsWith("Required command was not provided", StringComparison.Ordinal));
                stderr.WriteLine("swarmdsl: error: " + string.Join("; ", messages) + "; see '" + HelpCommand(parse.CommandResult) + "'");
                return Usage;
            }
            parsed?.Invoke(args[0]);
            var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
            return parse.Invoke(config);
        }
        catch (CliUsageException ex)
        {
            stderr.WriteLine("swarmdsl: error: " + OneLine(ex.Message));
            return Usage;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Never a stack trace: one line, and the exception type for bug reports only with --verbose.
            stderr.WriteLine("swarmdsl: error: " + OneLine(ex.Message));
            if (Array.IndexOf(args, "--verbose") >= 0) stderr.WriteLine(ex.ToString());
            return Failed;
        }
    }

    /// <summary>The help of the verb a command line got to (<c>swarmdsl lab up --help</c>; <c>swarmdsl --help</c> before any).</summary>
    private static string HelpCommand(System.CommandLine.Parsing.CommandResult result)
    {
        var verbs = new System.Collections.Generic.List<string>();
        for (var r = result; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            verbs.Insert(0, r.Command.Name);
        return "swarmdsl " + string.Concat(verbs.Select(v => v + " ")) + "--help";
    }

    /// <summary>
    /// A parser's message as one line in our words: no .NET type names ("System.UInt32"), no tab-indented lists.
    /// </summary>
    internal static string OneLine(string message)
    {
        if (NumberOptions.Readable(message) is { } number) return number;
        var text = System.Text.RegularExpressions.Regex.Replace(message.Trim(), @":\s*\r?\n\s*", ": ");
        return System.Text.RegularExpressions.Regex.Replace(text, @"\s*\r?\n\s*", ", ");
    }
}

/// <summary>The output streams of one run.</summary>
public sealed record CliIo(System.IO.TextWriter Out, System.IO.TextWriter Error);

/// <summary>A command-line mistake found after parsing (exit code 2).</summary>
public sealed class CliUsageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CliUsageException(string message) : base(message) { }
}
