using System.CommandLine;
using SwarmDsl.Semantics;

namespace SwarmDsl.Cli.Commands;

/// <summary><c>swarmdsl model FILE</c>: the analyzed topology with every derived value (VNIs, addresses, fwmarks, names).</summary>
internal static class ModelCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("FILE") { Description = "topology file" };
        var cmd = new Command("model", "Print the analyzed topology: every derived value, marked pinned or derived.") { file };
        cmd.SetAction(parse =>
        {
            var loaded = TopologyLoader.Load(parse.GetValue(file)!, io);
            if (loaded is null) return Program.Failed;
            foreach (var d in loaded.Diagnostics) io.Error.WriteLine(d.ToString());
            if (loaded.Topology is null) return Program.Failed;
            io.Out.Write(TopologyDump.Render(loaded.Topology));
            return Program.Ok;
        });
        return cmd;
    }
}
