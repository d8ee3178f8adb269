using System.IO;
using SwarmDsl.Cli;

namespace SwarmDsl.Tests;

/// <summary>Runs the command line in process and captures what it prints.</summary>
internal static class CliRun
{
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var exit = Program.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
