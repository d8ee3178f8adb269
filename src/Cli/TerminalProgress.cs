using System;
using System.Globalization;
using System.IO;

namespace SwarmDsl.Cli;

/// <summary>
/// A counter of long work ("reach: 120/4,950 pairs", "emit: 12/50 nodes") redrawn in place on a terminal a few times a
/// second and erased at the end; silent when the stream is redirected (spec/cli.md). Steps may come from several threads.
/// </summary>
internal sealed class TerminalProgress
{
    /// <summary>How often the line is redrawn at most: often enough to look alive, rarely enough to cost nothing.</summary>
    public const int IntervalMilliseconds = 250;

    private readonly TextWriter _terminal;
    private readonly bool _enabled;
    private readonly string _prefix;
    private readonly string _suffix;
    private readonly Func<long> _milliseconds;
    private readonly object _gate = new();
    private int _done;
    private long _shownAt = -1;

    /// <summary>
    /// A counter of <paramref name="total"/> <paramref name="unit"/> written to <paramref name="terminal"/> when
    /// <paramref name="enabled"/>, as <c>VERB: N/TOTAL UNIT</c>; <paramref name="milliseconds"/> is the clock (tests pass
    /// their own).
    /// </summary>
    public TerminalProgress(TextWriter terminal, bool enabled, string verb, int total, string unit, Func<long>? milliseconds = null)
    {
        _terminal = terminal;
        _enabled = enabled;
        _prefix = "\r" + verb + ": ";
        _suffix = "/" + total.ToString("N0", CultureInfo.InvariantCulture) + " " + unit;
        if (milliseconds is null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            milliseconds = () => clock.ElapsedMilliseconds;
        }
        _milliseconds = milliseconds;
    }

    /// <summary>
    /// Whether <paramref name="writer"/> is this process's own stderr on a terminal. A writer handed in by a caller (tests)
    /// is redirected output.
    /// </summary>
    public static bool IsTerminalError(TextWriter writer) => ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>Counts one unit done, and redraws the line when it was last drawn long enough ago.</summary>
    public void Step()
    {
        if (!_enabled) return;
        lock (_gate)
        {
            _done++;
            var now = _milliseconds();
            if (_shownAt >= 0 && now - _shownAt < IntervalMilliseconds) return;
            _shownAt = now;
            _terminal.Write(_prefix + _done.ToString("N0", CultureInfo.InvariantCulture) + _suffix);
            _terminal.Flush();
        }
    }

    /// <summary>Erases the line, so what is printed next starts on a clean one.</summary>
    public void Clear()
    {
        if (!_enabled) return;
        lock (_gate)
        {
            if (_shownAt < 0) return;
            _terminal.Write("\r\u001b[K");
            _terminal.Flush();
            _shownAt = -1;
        }
    }
}
