using System;
using System.Collections.Generic;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Insight;

/// <summary>Sources that get exactly the same rows from one destination (at one address), and those rows.</summary>
/// <param name="Destination">The destination, as in <see cref="ReachRow.Destination"/>.</param>
/// <param name="Address">The address probed.</param>
/// <param name="Sources">The sources, in table order.</param>
/// <param name="Rows">The first source's rows; every other source's rows are these with its own name as the source.</param>
public sealed record ReachGroup(string Destination, Ipv4Address Address, IReadOnlyList<string> Sources, IReadOnlyList<ReachRow> Rows);

/// <summary>
/// Folds a reach table by destination: pairs whose rows are equal but for the source (protocol, ports, result, service and
/// the whole explanation) become one group. In a routing mesh every node answers every other node and the outside world
/// the same way, so a 100-node table of ~28 million rows folds to a few hundred thousand. Only equal rows fold: a source
/// whose explanation names another task or rule stays apart.
/// </summary>
public sealed class ReachGrouping
{
    private readonly Dictionary<string, List<Group>> _byDestination = new(StringComparer.Ordinal);
    private readonly List<string> _destinations = new();

    private sealed class Group
    {
        public Group(Ipv4Address address, IReadOnlyList<ReachRow> rows, int hash)
        {
            Address = address;
            Rows = rows;
            Hash = hash;
        }

        public Ipv4Address Address { get; }
        public IReadOnlyList<ReachRow> Rows { get; }
        public int Hash { get; }
        public List<string> Sources { get; } = new();
    }

    /// <summary>Adds one pair's rows (as <see cref="ReachAnalysis"/> hands them on); a pair without rows adds nothing.</summary>
    public void Add(ReachAnalysis.Pair pair, IReadOnlyList<ReachRow> rows)
    {
        if (rows is null) throw new ArgumentNullException(nameof(rows));
        if (rows.Count == 0) return;
        if (!_byDestination.TryGetValue(pair.Destination, out var groups))
        {
            _byDestination[pair.Destination] = groups = new List<Group>();
            _destinations.Add(pair.Destination);
        }
        int hash = Hash(rows);
        foreach (var g in groups)
            if (g.Hash == hash && SameButSource(g.Rows, rows))
            {
                g.Sources.Add(pair.Source);
                return;
            }
        var group = new Group(rows[0].Address, rows, hash);
        group.Sources.Add(pair.Source);
        groups.Add(group);
    }

    /// <summary>The groups: destinations in the order they first came, each one's groups in the order they first came.</summary>
    public IReadOnlyList<ReachGroup> Groups()
    {
        var result = new List<ReachGroup>();
        foreach (var d in _destinations)
            foreach (var g in _byDestination[d])
                result.Add(new ReachGroup(d, g.Address, g.Sources.ToArray(), g.Rows));
        return result;
    }

    private static int Hash(IReadOnlyList<ReachRow> rows)
    {
        // Only a shortcut before the row-by-row comparison: any mix will do (no System.HashCode on netstandard2.0).
        unchecked
        {
            int h = rows.Count;
            foreach (var r in rows)
            {
                h = h * 31 + (int)r.Address.Value;
                h = h * 31 + r.FromPort;
                h = h * 31 + r.ToPort;
                h = h * 31 + Text(r.Result);
                if (r.Cause is not null) h = h * 31 + Text(r.Cause);
            }
            return h;
        }

        // A text by its length and three of its characters: equal texts hash alike, and a row's explanation is long (hashing
        // every character of 26 million explanations was two thirds of the fold's own time).
        static int Text(string s) => s.Length == 0 ? 0 : unchecked(((s.Length * 31 + s[0]) * 31 + s[s.Length / 2]) * 31 + s[s.Length - 1]);
    }

    private static bool SameButSource(IReadOnlyList<ReachRow> a, IReadOnlyList<ReachRow> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
        {
            var x = a[i];
            var y = b[i];
            if (x.Destination != y.Destination || x.Address != y.Address || x.Protocol != y.Protocol || x.FromPort != y.FromPort
                || x.ToPort != y.ToPort || x.Result != y.Result || x.Service != y.Service || x.Cause != y.Cause || !x.Backends.Equals(y.Backends)) return false;
        }
        return true;
    }
}
