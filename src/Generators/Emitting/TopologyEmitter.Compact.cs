using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using SwarmDsl.Semantics;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// The compact form of the four large handle groups (addresses, namespaces, tasks, load balancers), used above the size
/// limit (<c>SwarmDslFullHandles</c>): on the 50-node <c>large</c> shape their full form is 38 M of the 39.5 M characters of
/// C# (25,000 load balancers alone are 25 M), which costs the generator seconds and csc far more.
/// <para>
/// Each group is a nested <c>Table</c> class whose items are built on first use from one <c>int[]</c> (compiled to a blob,
/// not to code) and one <c>string[]</c> of the distinct names, with references to nodes, networks and services as indices
/// into their <c>All</c> lists. Namespaces and tasks keep a typed member each (a property returning the table's item, so
/// the same object every time); addresses and load balancers are only in <c>All</c> (and in <c>SwarmNamespace.Addresses</c>).
/// The objects are the ones the full form creates, field for field (<c>CompileTests</c> compares the two).
/// </para>
/// </summary>
internal sealed partial class TopologyEmitter
{
    private const string TableClass = "Table";

    // Row index of each element in its group's table (compact form).
    private readonly Dictionary<EndpointModel, int> _addressIndex = new();
    private readonly Dictionary<(string Node, string Namespace), int> _namespaceIndex = new();

    private void WriteAddressesCompact()
    {
        using var _ = HandleClass("Addresses",
            "Every interface address the compiler assigned: task, load-balancer and gateway legs, per node and namespace. A large plan's addresses are only in <see cref=\"All\"/> (and in each namespace's <c>Addresses</c>); <c>&lt;SwarmDslFullHandles&gt;true&lt;/SwarmDslFullHandles&gt;</c> gives each a member.");
        var table = new CompactTable();
        var nodes = Indices(_t.Nodes.Select(n => n.Name));
        var networks = Indices(_t.Networks.Select(n => n.Name));
        foreach (var e in _t.Endpoints)
        {
            _addressIndex[e] = _addressIndex.Count;
            ulong mac = e.Mac.Value;
            table.Row(nodes[e.Node], table.S(e.Namespace), table.S(e.Interface), networks[e.Network],
                unchecked((int)e.Address.Address.Value), e.Address.PrefixLength, (int)(mac >> 32), unchecked((int)(uint)mac),
                (int)e.Kind, table.S(e.Owner), e.Pinned ? 1 : 0);
        }
        WriteTableAll("SwarmAddress");
        WriteTable(table, "SwarmAddress", 11, new[]
        {
            $"items[k] = new {Ns}SwarmAddress(Nodes.All[d[i]], s[d[i + 1]], s[d[i + 2]], Networks.All[d[i + 3]], Cidr(d[i + 4], d[i + 5]), Mac(d[i + 6], d[i + 7]),",
            $"    Kinds[d[i + 8]], s[d[i + 9]], d[i + 10] != 0);",
        }, usesCidr: true, extra: new[]
        {
            $"private static readonly {Ns}EndpointKind[] Kinds = {EnumArray<EndpointKind>("EndpointKind")};",
            "",
            "// aa:bb:cc:dd:ee:ff from the MAC's top 16 and low 32 bits.",
            "private static string Mac(int high, int low)",
            "{",
            "    long m = ((long)high << 32) | (uint)low;",
            "    var c = new char[17];",
            "    for (int b = 0; b < 6; b++)",
            "    {",
            "        int v = (int)(m >> (40 - 8 * b)) & 0xff;",
            "        c[b * 3] = \"0123456789abcdef\"[v >> 4];",
            "        c[b * 3 + 1] = \"0123456789abcdef\"[v & 15];",
            "        if (b < 5) c[b * 3 + 2] = ':';",
            "    }",
            "    return new string(c);",
            "}",
        });
    }

    private void WriteNamespacesCompact()
    {
        using var _ = HandleClass("Namespaces", "The network namespaces that hold addresses: ingress_sbox, lb_&lt;network&gt; and the task sandboxes, per node (a large plan's in compact form: one member each, built on first use).");
        var names = new UniqueNames("Namespaces", "All", TableClass);
        var table = new CompactTable();
        var nodes = Indices(_t.Nodes.Select(n => n.Name));
        var members = new List<string>();
        foreach (var (node, ns, endpoints) in Namespaces())
        {
            int index = _namespaceIndex[(node, ns)] = _namespaceIndex.Count;
            var id = _namespaces[(node, ns)] = names.Make($"{node}-{ns}");
            int kind = endpoints[0].Kind switch
            {
                EndpointKind.Task => 0,
                EndpointKind.NetworkLoadBalancer => 2,
                _ => 1,
            };
            var row = new List<int> { nodes[node], table.S(ns), kind, endpoints.Count };
            row.AddRange(endpoints.Select(e => _addressIndex[e]));
            table.Row(row.ToArray());
            members.Add($"public static {Ns}SwarmNamespace {id} => {TableClass}.Items[{I(index)}];");
        }
        foreach (var m in members) _w.WriteLine(m);
        _w.WriteLine();
        WriteTableAll("SwarmNamespace");
        WriteTable(table, "SwarmNamespace", -1, new[]
        {
            $"var addresses = new {Ns}SwarmAddress[d[i + 3]];",
            "for (int a = 0; a < addresses.Length; a++) addresses[a] = Addresses.All[d[i + 4 + a]];",
            $"items[k] = new {Ns}SwarmNamespace(Nodes.All[d[i]], s[d[i + 1]], new[] {{ {Ns}NamespaceKind.Task, {Ns}NamespaceKind.IngressSandbox, {Ns}NamespaceKind.LoadBalancer }}[d[i + 2]], addresses);",
            "i += 4 + addresses.Length;",
        });
    }

    private void WriteTasksCompact()
    {
        using var _ = HandleClass("Tasks", "The tasks (containers) the compiler placed, per service in slot order (a large plan's in compact form: one member each, built on first use).");
        var names = new UniqueNames("Tasks", "All", TableClass);
        var table = new CompactTable();
        var nodes = Indices(_t.Nodes.Select(n => n.Name));
        var services = Indices(_t.Services.Select(s => s.Name));
        int index = 0;
        foreach (var k in _t.Tasks)
        {
            var id = names.Make(k.Name);
            _w.WriteLine($"public static {Ns}SwarmTask {id} => {TableClass}.Items[{I(index++)}];");
            table.Row(table.S(k.Name), services[k.Service], k.Slot, nodes[k.Node], k.Weight, k.Pinned ? 1 : 0,
                _namespaceIndex.TryGetValue((k.Node, k.Name), out var ns) ? ns : -1);
        }
        _w.WriteLine();
        WriteTableAll("SwarmTask");
        WriteTable(table, "SwarmTask", 7, new[]
        {
            "var node = Nodes.All[d[i + 3]];",
            $"var sandbox = d[i + 6] >= 0 ? Namespaces.All[d[i + 6]] : new {Ns}SwarmNamespace(node, s[d[i]], {Ns}NamespaceKind.Task, global::System.Array.Empty<{Ns}SwarmAddress>());",
            $"items[k] = new {Ns}SwarmTask(s[d[i]], Services.All[d[i + 1]], d[i + 2], node, d[i + 4], d[i + 5] != 0, sandbox);",
        });
    }

    private void WriteLoadBalancersCompact()
    {
        using var _ = HandleClass("LoadBalancers",
            "The IPVS load balancers: one per service, network and node, selected by a firewall mark. A large plan's are only in <see cref=\"All\"/>; <c>&lt;SwarmDslFullHandles&gt;true&lt;/SwarmDslFullHandles&gt;</c> gives each a member.");
        // A service's balancer on a network is the same on every node but for the node (fwmark, VIP, namespace): each row
        // is (node, shape), the shapes a second list, which makes the table a tenth of the size.
        var table = new CompactTable();
        var nodes = Indices(_t.Nodes.Select(n => n.Name));
        var networks = Indices(_t.Networks.Select(n => n.Name));
        var services = Indices(_t.Services.Select(s => s.Name));
        var shapes = new Dictionary<(string Network, string Service, int FwMark, uint Vip, string Namespace), int>();
        var shapeRows = new List<int>();
        foreach (var lb in _t.LoadBalancers)
        {
            var key = (lb.Network, lb.Service, lb.FwMark, lb.Vip.Value, lb.Namespace);
            if (!shapes.TryGetValue(key, out var shape))
            {
                shapes[key] = shape = shapes.Count;
                shapeRows.AddRange(new[] { networks[lb.Network], services[lb.Service], lb.FwMark, unchecked((int)lb.Vip.Value), table.S(lb.Namespace) });
            }
            table.Row(nodes[lb.Node], shape);
        }
        WriteTableAll("SwarmLoadBalancer");
        WriteTable(table, "SwarmLoadBalancer", 2, new[]
        {
            "int p = d[i + 1] * 5;",
            $"items[k] = new {Ns}SwarmLoadBalancer(Nodes.All[d[i]], Networks.All[shapes[p]], Services.All[shapes[p + 1]], shapes[p + 2], Cidr(shapes[p + 3], 32).Address, s[shapes[p + 4]]);",
        }, usesCidr: true, prologue: "int[] shapes = { " + string.Join(", ", shapeRows.Select(I)) + " };");
    }

    private void WriteTableAll(string type)
    {
        _w.WriteLine("/// <summary>Every item, in model order (built on first use).</summary>");
        _w.WriteLine($"public static {ReadOnlyList}<{Ns}{type}> All => {TableClass}.Items;");
        _w.WriteLine();
    }

    /// <summary>
    /// The nested class holding a group's items: the data, and the loop that makes the items from it. <paramref name="width"/>
    /// is the row width, or -1 when <paramref name="body"/> advances <c>i</c> itself (variable-length rows).
    /// </summary>
    private void WriteTable(CompactTable table, string type, int width, string[] body, bool usesCidr = false, string[]? extra = null, string? prologue = null)
    {
        _w.WriteLine("// Rows of ints (indices into Nodes.All, Networks.All, Services.All, this group's names, and values), compiled to a blob.");
        using var _ = _w.Block($"private static class {TableClass}");
        // Helpers first: static fields initialise in text order, and Items' initialiser uses them.
        if (extra is not null)
        {
            foreach (var line in extra) _w.WriteLine(line);
            _w.WriteLine();
        }
        _w.WriteLine($"internal static readonly {Ns}{type}[] Items = Build();");
        _w.WriteLine();
        using (_w.Block($"private static {Ns}{type}[] Build()"))
        {
            if (prologue is not null) _w.WriteLine(prologue);
            _w.WriteLine("int[] d =");
            _w.WriteLine("{");
            // Several rows to a line: the indentation of one row per line would be a third of the text.
            _w.WriteIntRows(table.Rows, 160);
            _w.WriteLine("};");
            _w.WriteLine("string[] s =");
            _w.WriteLine("{");
            foreach (var chunk in Chunks(table.Strings, 10)) _w.WriteLine("    " + string.Join(", ", chunk.Select(Identifiers.Literal)) + ",");
            _w.WriteLine("};");
            _w.WriteLine($"var items = new {Ns}{type}[{I(table.Rows.Count)}];");
            using (_w.Block(width > 0 ? $"for (int i = 0, k = 0; k < items.Length; i += {I(width)}, k++)" : "for (int i = 0, k = 0; k < items.Length; k++)"))
                foreach (var line in body) _w.WriteLine(line);
            _w.WriteLine("return items;");
        }
        if (usesCidr)
        {
            _w.WriteLine();
            _w.WriteLine($"private static {Ns}SwarmCidr Cidr(int a, int prefix) => new {Ns}SwarmCidr((byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a, prefix);");
        }
    }

    // `new[] { E.A, E.B, ... }` for the model's enum T by name, so data can hold the model's numeric values.
    private static string EnumArray<T>(string generatedEnum) where T : struct, Enum
    {
        var values = (T[])Enum.GetValues(typeof(T));
        int max = values.Max(v => Convert.ToInt32(v, CultureInfo.InvariantCulture));
        var names = new string[max + 1];
        foreach (var v in values) names[Convert.ToInt32(v, CultureInfo.InvariantCulture)] = $"{Ns}{generatedEnum}.{v}";
        return "new[] { " + string.Join(", ", names.Select(n => n ?? "default")) + " }";
    }

    private static Dictionary<string, int> Indices(IEnumerable<string> names)
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in names) if (!d.ContainsKey(n)) d[n] = d.Count;
        return d;
    }

    private static IEnumerable<List<T>> Chunks<T>(IReadOnlyList<T> items, int size)
    {
        for (int i = 0; i < items.Count; i += size)
        {
            var chunk = new List<T>(size);
            for (int j = i; j < items.Count && j < i + size; j++) chunk.Add(items[j]);
            yield return chunk;
        }
    }

    /// <summary>A group's rows of ints and its distinct strings, in first-use order.</summary>
    private sealed class CompactTable
    {
        private readonly Dictionary<string, int> _strings = new(StringComparer.Ordinal);

        public List<int[]> Rows { get; } = new();

        public List<string> Strings { get; } = new();

        /// <summary>The index of <paramref name="text"/> in <see cref="Strings"/>.</summary>
        public int S(string text)
        {
            if (!_strings.TryGetValue(text, out var i))
            {
                _strings[text] = i = Strings.Count;
                Strings.Add(text);
            }
            return i;
        }

        public void Row(params int[] values) => Rows.Add(values);
    }
}
