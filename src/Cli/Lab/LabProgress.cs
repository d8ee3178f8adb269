using System;
using System.Globalization;

namespace SwarmDsl.Cli.Lab;

/// <summary>Progress lines of long lab work: printed when the output is a terminal, silent when it is redirected (spec/cli.md).</summary>
internal sealed class LabProgress
{
    private readonly CliIo _io;
    private readonly bool _enabled;
    private int _done;

    public LabProgress(CliIo io, int total)
    {
        _io = io;
        Total = total;
        // Only the process's own console can be a terminal; a writer handed in by a caller (tests) is redirected output.
        _enabled = ReferenceEquals(io.Out, Console.Out) && !Console.IsOutputRedirected;
    }

    /// <summary>How many steps the work has.</summary>
    public int Total { get; set; }

    /// <summary>Steps finished so far.</summary>
    public int Done => _done;

    /// <summary>Announces the next step.</summary>
    public void Step(string what)
    {
        _done++;
        if (_enabled)
            _io.Out.WriteLine("[" + _done.ToString(CultureInfo.InvariantCulture) + "/" + Total.ToString(CultureInfo.InvariantCulture) + "] " + what);
    }

    /// <summary>A line shown only on a terminal.</summary>
    public void Note(string text)
    {
        if (_enabled) _io.Out.WriteLine("      " + text);
    }
}
