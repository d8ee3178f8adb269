using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace SwarmDsl.Cli.Lab;

/// <summary>A responder process the lab started.</summary>
/// <param name="Task">The task it answers for.</param>
/// <param name="Netns">The namespace it runs in.</param>
/// <param name="Pid">Its process id.</param>
/// <param name="StartTicks">Its start time (field 22 of /proc/PID/stat), so a reused pid is never mistaken for it.</param>
internal sealed record ResponderRecord(string Task, string Netns, int Pid, long StartTicks);

/// <summary>
/// The state directory of one lab (<c>/run/swarmdsl-lab/&lt;P&gt;/</c>) and its journal: one line per thing <c>up</c> made,
/// appended and flushed before the next step, so <c>down</c> can undo an <c>up</c> that failed or was killed at any point.
/// Lines are <c>KIND&lt;TAB&gt;VALUE...</c>: <c>owner</c>, <c>topology</c>, <c>backend</c>, <c>node</c>, <c>netns</c>, <c>responder</c>, <c>complete</c>.
/// </summary>
internal sealed class LabJournal
{
    private readonly List<string[]> _lines = new();

    private LabJournal(LabNames names)
    {
        Names = names;
    }

    public LabNames Names { get; }

    public string Dir => Names.StateDir;
    public string JournalPath => Path.Combine(Dir, "journal");
    public string EmitDir => Path.Combine(Dir, "emit");
    public string ScriptStateDir => Path.Combine(Dir, "apply-state");
    public string ResponderDir => Path.Combine(Dir, "responders");
    public string TraceDir => Path.Combine(Dir, "traces");

    /// <summary>Whether a journal exists for this prefix.</summary>
    public bool Exists => File.Exists(JournalPath);

    /// <summary>
    /// Reads the journal (empty when there is none). Another lab's journal can vanish while it is read (its <c>down</c>
    /// removes its state directory as ours looks at the other labs): that reads as no journal, not as an error.
    /// </summary>
    public static LabJournal Open(LabNames names)
    {
        var j = new LabJournal(names);
        string[] lines;
        try { lines = File.ReadAllLines(j.JournalPath); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return j; }
        foreach (var line in lines)
            if (line.Length > 0) j._lines.Add(line.Split('\t'));
        return j;
    }

    /// <summary>Starts a fresh journal (the directory is created; an old journal is replaced).</summary>
    public static LabJournal Create(LabNames names)
    {
        var j = new LabJournal(names);
        Directory.CreateDirectory(j.Dir);
        File.WriteAllText(j.JournalPath, "");
        return j;
    }

    /// <summary>Appends one record and flushes it to disk before returning.</summary>
    public void Add(string kind, params string[] values)
    {
        foreach (var v in values)
            if (v.Contains('\t') || v.Contains('\n')) throw new ArgumentException("journal values cannot hold tabs or newlines: " + v);
        var fields = new[] { kind }.Concat(values).ToArray();
        using (var fs = new FileStream(JournalPath, FileMode.Append, FileAccess.Write))
        using (var w = new StreamWriter(fs))
        {
            w.Write(string.Join("\t", fields) + "\n");
            w.Flush();
            fs.Flush(flushToDisk: true);
        }
        _lines.Add(fields);
    }

    private IEnumerable<string[]> Of(string kind) => _lines.Where(l => l[0] == kind);

    /// <summary>The topology file <c>up</c> built.</summary>
    public string? Topology => Of("topology").Select(l => l.Length > 1 ? l[1] : null).LastOrDefault();

    /// <summary>The load-balancer backend <c>up</c> used (<c>ipvs</c> or <c>nftables</c>).</summary>
    public string? Backend => Of("backend").Select(l => l.Length > 1 ? l[1] : null).LastOrDefault();

    /// <summary>The nodes of the topology.</summary>
    public IReadOnlyList<string> Nodes => Of("node").Where(l => l.Length > 1).Select(l => l[1]).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The namespaces <c>up</c> made (or was about to make).</summary>
    public IReadOnlyList<string> Namespaces => Of("netns").Where(l => l.Length > 1).Select(l => l[1]).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Whether <c>up</c> finished.</summary>
    public bool Complete => Of("complete").Any();

    /// <summary>The <c>up</c> process that wrote the journal: pid and start time.</summary>
    public (int Pid, long StartTicks)? Owner => Of("owner").Where(l => l.Length >= 3)
        .Select(l => ((int, long)?)(int.Parse(l[1], CultureInfo.InvariantCulture), long.Parse(l[2], CultureInfo.InvariantCulture))).LastOrDefault();

    /// <summary>The responders <c>up</c> started.</summary>
    public IReadOnlyList<ResponderRecord> Responders => Of("responder").Where(l => l.Length >= 5)
        .Select(l => new ResponderRecord(l[1], l[2], int.Parse(l[3], CultureInfo.InvariantCulture), long.Parse(l[4], CultureInfo.InvariantCulture))).ToList();
}
