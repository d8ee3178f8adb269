using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmDsl.Net;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Bridging;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Text;

namespace SwarmDsl.Generators.Emitting;

/// <summary>
/// Emits <c>CompiledForwarding</c>: each namespace's main routing table as a longest-prefix decision over constants
/// (an <c>if</c> per prefix, a <c>switch</c> for runs of equal length) returning the route index, each bridge's permanent
/// FDB entries and each VXLAN device's static remote VTEPs as a <c>switch</c> on the MAC, with the <c>ip route</c> /
/// <c>bridge fdb</c> text and the YAML location above each. The tables are not derived here: they are read off the
/// Runtime's own loaded cluster (<see cref="ForwardingView"/>), so the kernel's additions (connected routes, local entries
/// of bridge ports) are the Runtime's knowledge, printed. A pure function of the plan; no Roslyn types (tests link it).
/// </summary>
internal static class ForwardingEmitter
{
    private const string Engine = "global::SwarmDsl.Runtime.Engine.";
    private const string Bridging = "global::SwarmDsl.Runtime.Bridging.";

    /// <summary>At least this many routes of one prefix length in a row become a <c>switch</c> on the masked address.</summary>
    internal const int MinSwitchRun = 4;

    /// <summary>The nested class source (no namespace, no usings), indented for the writer's current level.</summary>
    /// <param name="w">The writer.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="className">The class name.</param>
    /// <param name="publicType">Public (a library of its own) or internal (nested in a topology class).</param>
    /// <param name="attributeLine">An attribute line written after the class's docs (<c>[GeneratedCode]</c>), or null.</param>
    /// <param name="nodes">The nodes to compile (the others keep the Runtime's tables), or null for every node.</param>
    /// <param name="fingerprint">
    /// A C# constant expression for the plan's fingerprint already in the source (the pipeline's
    /// <c>CompiledNetfilter.Fingerprint</c>: hashing a large plan costs a noticeable share of the generator's run), or null
    /// to compute it here.
    /// </param>
    public static void Write(SourceWriter w, DataplanePlan plan, string className, bool publicType, string? attributeLine = null, ISet<string>? nodes = null, string? fingerprint = null)
    {
        var views = ForwardingView.Of(plan, nodes);

        // Identical route lists (every task sandbox of a network holds the same few routes) share one method.
        var routeMethods = new List<(NamespaceForwarding First, int SharedBy)>();
        var routeByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        var routeEntries = new List<(string Key, int Method)>();
        var bridgeEntries = new List<(string Key, NamespaceForwarding Ns, string Device, IReadOnlyList<EffectiveFdbEntry> Entries)>();
        var vxlanEntries = new List<(string Key, NamespaceForwarding Ns, string Device, IReadOnlyList<EffectiveVxlanEntry> Entries)>();
        foreach (var v in views)
        {
            if (v.Routes.Count > 0)
            {
                var content = RouteContent(v.Routes);
                if (!routeByContent.TryGetValue(content, out var m))
                {
                    m = routeMethods.Count;
                    routeByContent[content] = m;
                    routeMethods.Add((v, 0));
                }
                routeMethods[m] = (routeMethods[m].First, routeMethods[m].SharedBy + 1);
                routeEntries.Add((v.Node + "/" + v.Name, m));
            }
            foreach (var (bridge, entries) in v.Bridges)
                if (entries.Count > 0) bridgeEntries.Add((v.Node + "/" + v.Name + "/" + bridge, v, bridge, entries));
            foreach (var (device, entries) in v.Vxlans)
                if (entries.Count > 0) vxlanEntries.Add((v.Node + "/" + v.Name + "/" + device, v, device, entries));
        }

        w.WriteLine("/// <summary>");
        w.WriteLine("/// The plan's forwarding lookups compiled to code: each namespace's main table as a prefix decision, each bridge's");
        w.WriteLine("/// permanent FDB entries and each VXLAN device's static remote VTEPs as a switch on the MAC. Attach with");
        w.WriteLine("/// <c>Cluster.AttachForwarding(new " + className + "())</c> on a simulation built from the same plan; learned FDB entries stay state.");
        if (nodes is not null)
            w.WriteLine("/// Compiled for " + NetfilterEmitter.Xml(string.Join(", ", nodes.OrderBy(n => n, StringComparer.Ordinal))) + " only (SwarmDslPipelineNodes): every other node keeps the Runtime's tables.");
        w.WriteLine("/// </summary>");
        if (attributeLine is not null) w.WriteLine(attributeLine);
        using (w.Block((publicType ? "public" : "internal") + " sealed class " + className + " : " + Engine + "ICompiledForwarding"))
        {
            w.WriteLine(NetfilterEmitter.JitNote);
            w.WriteLine("/// <summary>The fingerprint of the plan this code was generated from (<c>AttachForwarding</c> refuses any other plan).</summary>");
            w.WriteLine("public const string Fingerprint = " + (fingerprint ?? NetfilterEmitter.Lit(PlanFingerprint.Compute(plan))) + ";");
            w.WriteLine();
            w.WriteLine("/// <inheritdoc />");
            w.WriteLine("public string PlanFingerprint => Fingerprint;");
            w.WriteLine();
            WriteLookupByName(w, "public " + Engine + "CompiledRouteLookup? Routes(string node, string namespaceName)", "node + \"/\" + namespaceName",
                routeEntries.Select(e => (e.Key, RouteMethod(e.Method))));
            w.WriteLine();
            WriteLookupByName(w, "public " + Engine + "CompiledFdbLookup? BridgeFdb(string node, string namespaceName, string bridge)",
                "node + \"/\" + namespaceName + \"/\" + bridge", bridgeEntries.Select((e, i) => (e.Key, BridgeMethod(i))));
            w.WriteLine();
            WriteLookupByName(w, "public " + Engine + "CompiledVxlanFdbLookup? VxlanFdb(string node, string namespaceName, string device)",
                "node + \"/\" + namespaceName + \"/\" + device", vxlanEntries.Select((e, i) => (e.Key, VxlanMethod(i))));
            for (int m = 0; m < routeMethods.Count; m++)
            {
                w.WriteLine();
                WriteRoutes(w, RouteMethod(m), routeMethods[m].First, routeMethods[m].SharedBy);
            }
            for (int i = 0; i < bridgeEntries.Count; i++)
            {
                w.WriteLine();
                WriteBridge(w, BridgeMethod(i), bridgeEntries[i].Ns, bridgeEntries[i].Device, bridgeEntries[i].Entries);
            }
            for (int i = 0; i < vxlanEntries.Count; i++)
            {
                w.WriteLine();
                WriteVxlan(w, VxlanMethod(i), vxlanEntries[i].Ns, vxlanEntries[i].Device, vxlanEntries[i].Entries);
            }
        }
    }

    private static string RouteMethod(int i) => "Routes" + i.ToString(CultureInfo.InvariantCulture);
    // An interface member that hands out the generated method of a namespace (or device) by name, null for any other.
    private static void WriteLookupByName(SourceWriter w, string signature, string key, IEnumerable<(string Key, string Method)> entries)
    {
        w.WriteLine("/// <inheritdoc />");
        w.WriteLine(NetfilterEmitter.Unoptimized);
        using (w.Block(signature))
        using (w.Block("switch (" + key + ")"))
        {
            foreach (var (k, method) in entries) w.WriteLine("case " + NetfilterEmitter.Lit(k) + ": return " + method + ";");
            w.WriteLine("default: return null;");
        }
    }

    private static string BridgeMethod(int i) => "BridgeFdb" + i.ToString(CultureInfo.InvariantCulture);
    private static string VxlanMethod(int i) => "VxlanFdb" + i.ToString(CultureInfo.InvariantCulture);

    /// <summary>What decides a route list's code: each route's prefix and index, in lookup order.</summary>
    private static string RouteContent(IReadOnlyList<EffectiveRoute> routes)
    {
        var sb = new StringBuilder();
        foreach (var r in routes)
            sb.Append(r.Route.Destination.Subnet.ToString()).Append('=').Append(r.Index.ToString(CultureInfo.InvariantCulture)).Append(';');
        return sb.ToString();
    }

    private static void WriteRoutes(SourceWriter w, string method, NamespaceForwarding ns, int sharedBy)
    {
        w.WriteLine("/// <summary>" + NetfilterEmitter.Xml(ns.Node + "/" + ns.Name) + ": the main table, longest prefix first; returns the route's index"
            + (sharedBy > 1 ? " (also serves " + (sharedBy - 1).ToString(CultureInfo.InvariantCulture) + (sharedBy == 2 ? " other namespace" : " other namespaces") + " with the very same prefixes)" : "") + ".</summary>");
        w.WriteLine(NetfilterEmitter.Optimized);
        using (w.Block("private int " + method + "(uint d)"))
        {
            var routes = ns.Routes;
            bool returnsAlways = false;
            for (int i = 0; i < routes.Count;)
            {
                int length = routes[i].Route.Destination.PrefixLength;
                int end = i;
                while (end < routes.Count && routes[end].Route.Destination.PrefixLength == length) end++;
                if (length == 0)
                {
                    // The default route: everything left. Only one /0 can be in the table.
                    RouteComment(w, routes[i].Route);
                    w.WriteLine("return " + I(routes[i].Index) + ";");
                    returnsAlways = true;
                    break;
                }
                uint mask = uint.MaxValue << (32 - length);
                string masked = length == 32 ? "d" : "(d & " + NetfilterEmitter.Hex(mask) + ")";
                if (end - i >= MinSwitchRun)
                {
                    using (w.Block("switch (" + masked + ")"))
                    {
                        for (int j = i; j < end; j++)
                        {
                            RouteComment(w, routes[j].Route);
                            w.WriteLine("case " + NetfilterEmitter.Hex(routes[j].Route.Destination.Network.Value & mask) + ": return " + I(routes[j].Index) + ";");
                        }
                    }
                }
                else
                {
                    for (int j = i; j < end; j++)
                    {
                        RouteComment(w, routes[j].Route);
                        w.WriteLine("if (" + masked + " == " + NetfilterEmitter.Hex(routes[j].Route.Destination.Network.Value & mask) + ") return " + I(routes[j].Index) + ";");
                    }
                }
                i = end;
            }
            if (!returnsAlways) w.WriteLine("return -1;");
        }
    }

    /// <summary>The route as <c>ip route</c> prints it, and its YAML location when it has one.</summary>
    private static void RouteComment(SourceWriter w, RoutePlan r)
    {
        var dst = r.Destination.Subnet;
        var sb = new StringBuilder("// ");
        sb.Append(dst.PrefixLength == 0 ? "default" : dst.PrefixLength == 32 ? dst.Address.ToString() : dst.ToString());
        if (r.Gateway is { } gw) sb.Append(" via ").Append(gw.ToString());
        sb.Append(" dev ").Append(r.Device);
        if (r.Origin == RouteOrigin.Kernel) sb.Append(" proto kernel");
        if (r.Gateway is null) sb.Append(" scope link");
        if (r.PreferredSource is { } src) sb.Append(" src ").Append(src.ToString());
        w.WriteLine(Comment(sb.ToString()));
        Location(w, r.Span);
    }

    // A switch of more cases is split into methods of at most this many, chosen by a binary decision on the MAC: an
    // overlay's FDB holds an entry per remote endpoint (10,000 on `large`), and methods that size kept the JIT's tier-1
    // queue busy for longer than a benchmark run, so the pipeline ran unoptimised tier-0 code (6.4 µs a packet, not 0.9).
    private const int MaxCasesPerMethod = 256;

    private static void WriteBridge(SourceWriter w, string method, NamespaceForwarding ns, string bridge, IReadOnlyList<EffectiveFdbEntry> entries)
    {
        var summary = NetfilterEmitter.Xml(ns.Node + "/" + ns.Name + " " + bridge) + ": the permanent FDB entries (local and static); learned ones stay in the table";
        WriteSplit(w, method, summary, Bridging + "FdbEntry", entries, e => e.Mac.Value, (name, part) =>
        {
            // Each case only sets the port and kind: an overlay's FDB holds thousands of entries, and a constructor call per
            // case made the source several times longer.
            w.WriteLine("int port;");
            w.WriteLine("bool local;");
            using (w.Block("switch (mac)"))
            {
                foreach (var e in part)
                {
                    bool local = e.Entry.Kind == FdbEntryKind.Local;
                    w.WriteLine(Comment("// " + e.Mac + " dev " + e.PortName + " master " + bridge + (local ? " permanent" : " static")));
                    Location(w, e.Span);
                    w.WriteLine("case " + Mac(e.Mac) + ": port = " + I(e.Entry.Port) + "; local = " + (local ? "true" : "false") + "; break;");
                }
                w.WriteLine("default: entry = default; return false;");
            }
            w.WriteLine("entry = new " + Bridging + "FdbEntry(port, local ? " + Bridging + "FdbEntryKind.Local : " + Bridging + "FdbEntryKind.Static, 0L);");
            w.WriteLine("return true;");
        });
    }

    private static void WriteVxlan(SourceWriter w, string method, NamespaceForwarding ns, string device, IReadOnlyList<EffectiveVxlanEntry> entries)
    {
        var summary = NetfilterEmitter.Xml(ns.Node + "/" + ns.Name + " " + device) + ": the static remote VTEPs; learned ones stay in the table";
        WriteSplit(w, method, summary, Bridging + "VxlanFdbEntry", entries, e => e.Mac.Value, (name, part) =>
        {
            w.WriteLine("uint vtep;");
            using (w.Block("switch (mac)"))
            {
                foreach (var e in part)
                {
                    w.WriteLine(Comment("// " + e.Mac + " dev " + device + " dst " + e.RemoteVtep + " self permanent"));
                    Location(w, e.Span);
                    w.WriteLine("case " + Mac(e.Mac) + ": vtep = " + NetfilterEmitter.Hex(e.RemoteVtep.Value) + "; break;");
                }
                w.WriteLine("default: entry = default; return false;");
            }
            w.WriteLine("entry = new " + Bridging + "VxlanFdbEntry(new global::SwarmDsl.Net.Ipv4Address(vtep), true, 0L);");
            w.WriteLine("return true;");
        });
    }

    /// <summary>
    /// <c>private bool METHOD(ulong mac, out ENTRY entry)</c> over <paramref name="entries"/>: one method whose body
    /// <paramref name="body"/> writes when they are few, else methods <c>METHOD_0</c>, <c>METHOD_1</c>, … of at most
    /// <see cref="MaxCasesPerMethod"/> entries in MAC order, and METHOD choosing one by comparing the MAC with their first ones.
    /// </summary>
    private static void WriteSplit<T>(SourceWriter w, string method, string summary, string entryType, IReadOnlyList<T> entries,
        Func<T, ulong> mac, Action<string, List<T>> body)
    {
        string Signature(string name) => "private bool " + name + "(ulong mac, out " + entryType + " entry)";
        var sorted = new List<T>(entries);
        sorted.Sort((a, b) => mac(a).CompareTo(mac(b)));
        if (sorted.Count <= MaxCasesPerMethod)
        {
            w.WriteLine("/// <summary>" + summary + ".</summary>");
            w.WriteLine(NetfilterEmitter.Optimized);
            using (w.Block(Signature(method))) body(method, sorted);
            return;
        }
        int parts = (sorted.Count + MaxCasesPerMethod - 1) / MaxCasesPerMethod;
        w.WriteLine("/// <summary>" + summary + ": " + I(sorted.Count) + " entries in " + I(parts) + " methods of at most "
            + I(MaxCasesPerMethod) + ", chosen by the MAC (methods the JIT optimises in good time).</summary>");
        w.WriteLine(NetfilterEmitter.Optimized);
        using (w.Block(Signature(method))) WriteChoice(w, method, sorted, mac, 0, parts);
        for (int p = 0; p < parts; p++)
        {
            var name = method + "_" + I(p);
            var part = sorted.GetRange(p * MaxCasesPerMethod, Math.Min(MaxCasesPerMethod, sorted.Count - p * MaxCasesPerMethod));
            w.WriteLine();
            w.WriteLine("/// <summary>" + summary + ": part " + I(p + 1) + " of " + I(parts) + ", " + Mac(new MacAddress(mac(part[0])))
                + " to " + Mac(new MacAddress(mac(part[part.Count - 1]))) + ".</summary>");
            w.WriteLine(NetfilterEmitter.Optimized);
            using (w.Block(Signature(name))) body(name, part);
        }
    }

    // Parts [from, to) by a binary decision on their first MACs.
    private static void WriteChoice<T>(SourceWriter w, string method, List<T> sorted, Func<T, ulong> mac, int from, int to)
    {
        if (to - from == 1)
        {
            w.WriteLine("return " + method + "_" + I(from) + "(mac, out entry);");
            return;
        }
        int mid = (from + to) / 2;
        using (w.Block("if (mac < " + Mac(new MacAddress(mac(sorted[mid * MaxCasesPerMethod]))) + ")")) WriteChoice(w, method, sorted, mac, from, mid);
        WriteChoice(w, method, sorted, mac, mid, to);
    }

    private static void Location(SourceWriter w, SourceSpan span)
    {
        if (span.IsKnown) w.WriteLine(Comment("// " + span.ToShortString()));
    }

    private static string Mac(MacAddress mac) => "0x" + mac.Value.ToString("X12", CultureInfo.InvariantCulture) + "UL";

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A one-line comment: every character that could end the line (C# also ends one at U+0085, U+2028, U+2029) becomes a space.</summary>
    private static string Comment(string text) => SourceWriter.CommentText(text);
}
