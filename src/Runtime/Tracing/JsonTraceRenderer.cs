#if !NETSTANDARD2_0
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using SwarmDsl.Net;
using SwarmDsl.Syntax;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>
/// Renders traces as JSON with stable field names in a fixed order (written field by field with
/// <see cref="Utf8JsonWriter"/>, no reflection): one object per packet trace, grouped by connection.
/// </summary>
public static class JsonTraceRenderer
{
    /// <summary>
    /// The schema version of the output; bump when a field changes meaning. 2: a connection's <c>reply</c> and the summary's
    /// <c>repliesLost</c> are there only when replies were asked for (<c>trace --reply</c>). 3: an <c>Fdb</c> step names the
    /// device whose table was looked up as <c>device</c> (it was <c>bridge</c>, and held the VXLAN device for a VXLAN FDB).
    /// 4: an SCTP packet names its chunk in <c>sctpChunk</c> (an association starts with INIT and INIT_ACK; before, every
    /// SCTP packet was one DATA chunk).
    /// </summary>
    public const int FormatVersion = 4;

    /// <summary>Renders a whole <c>trace</c> run with every connection's reply (as <c>trace --reply</c>).</summary>
    public static string Render(IReadOnlyList<ConnectionTrace> connections, string file, string from, string to, uint seed, string backend)
        => Render(connections, file, from, to, seed, backend, includeReplies: true);

    /// <summary>
    /// Renders a whole <c>trace</c> run. With <paramref name="includeReplies"/> each connection carries its <c>reply</c>
    /// (null when none was sent) and the summary counts the replies that were lost, as the text summary does; without, the
    /// replies were not asked about and neither appears. Each step with a span also has <c>declaration</c>, its path in
    /// <paramref name="declarations"/> (<c>services.web.ports[0]</c>), or null.
    /// </summary>
    public static string Render(IReadOnlyList<ConnectionTrace> connections, string file, string from, string to, uint seed, string backend, bool includeReplies,
        DeclarationPaths? declarations = null)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            WriteFields(w, ("formatVersion", FormatVersion), ("file", file), ("from", from), ("to", to), ("seed", seed), ("backend", backend));
            w.WriteStartArray("connections");
            int delivered = 0, dropped = 0, other = 0, lostReplies = 0;
            foreach (var c in connections)
            {
                w.WriteStartObject();
                w.WriteNumber("number", c.Number);
                w.WritePropertyName("request");
                WriteTrace(w, c.Request, declarations);
                if (includeReplies)
                {
                    w.WritePropertyName("reply");
                    if (c.Reply is null) w.WriteNullValue();
                    else WriteTrace(w, c.Reply, declarations);
                    if (TraceSummary.IsReplyLost(c)) lostReplies++;
                }
                w.WriteEndObject();
                switch (c.Request.Disposition.Kind)
                {
                    case DispositionKind.Delivered: delivered++; break;
                    case DispositionKind.Dropped: dropped++; break;
                    default: other++; break;
                }
            }
            w.WriteEndArray();
            w.WriteStartObject("summary");
            WriteFields(w, ("connections", connections.Count), ("delivered", delivered), ("dropped", dropped), ("loopedOrExited", other));
            if (includeReplies) WriteFields(w, ("repliesLost", lostReplies));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    /// <summary>Writes one packet trace object (each step's declaration path from <paramref name="declarations"/>, when given).</summary>
    public static void WriteTrace(Utf8JsonWriter w, PacketTrace t, DeclarationPaths? declarations = null)
    {
        w.WriteStartObject();
        w.WriteString("label", t.Label);
        WriteSnapshot(w, "packet", t.PacketIn);
        w.WriteStartArray("hops");
        foreach (var hop in t.Hops)
        {
            w.WriteStartObject();
            WriteFields(w, ("node", hop.Node), ("namespace", hop.Namespace), ("kind", hop.NamespaceKind));
            w.WriteStartArray("steps");
            foreach (var s in hop.Steps) WriteStep(w, s, declarations);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        var d = t.Disposition;
        w.WriteStartObject("disposition");
        WriteFields(w, ("kind", d.Kind.ToString()), ("where", d.Where), ("owner", d.Owner), ("socket", d.Socket), ("cause", d.Cause?.ToString()), ("detail", d.Detail));
        WriteSnapshot(w, "final", d.Final);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Writes <paramref name="p"/> as the property <paramref name="name"/>; nothing when it is null.</summary>
    private static void WriteSnapshot(Utf8JsonWriter w, string name, HeaderSnapshot? p)
    {
        if (p is null) return;
        w.WritePropertyName(name);
        w.WriteStartObject();
        WriteFields(w, ("protocol", p.Protocol.Name()), ("source", p.Source.ToString()), ("sourcePort", p.SourcePort),
            ("destination", p.Destination.ToString()), ("destinationPort", p.DestinationPort), ("tcpFlags", p.Protocol == IpProtocol.Sctp ? "" : p.Flags));
        // An SCTP packet's chunk (INIT, INIT_ACK, ...; HeaderSnapshot keeps it where TCP keeps its flags).
        if (p.Protocol == IpProtocol.Sctp) WriteFields(w, ("sctpChunk", p.Flags));
        if (p.IcmpType >= 0) WriteFields(w, ("icmpType", p.IcmpType), ("icmpCode", p.IcmpCode));
        if (p.IcmpMtu > 0) WriteFields(w, ("icmpMtu", p.IcmpMtu));
        WriteFields(w, ("ttl", p.Ttl), ("length", p.Length), ("mark", "0x" + p.Mark.ToString("x", System.Globalization.CultureInfo.InvariantCulture)),
            ("ethSource", p.EthSource.ToString()), ("ethDestination", p.EthDestination.ToString()), ("summary", p.Summary()));
        WriteSnapshot(w, "quoted", p.Quoted);
        if (p.Inner is not null) WriteFields(w, ("vni", p.Vni));
        WriteSnapshot(w, "inner", p.Inner);
        w.WriteEndObject();
    }

    private static void WriteStep(Utf8JsonWriter w, TraceStep step, DeclarationPaths? declarations)
    {
        w.WriteStartObject();
        w.WriteString("step", step.Kind);
        switch (step)
        {
            case ReceivedStep r:
                w.WriteString("device", r.Device);
                WriteSnapshot(w, "packet", r.Packet);
                break;
            case NetfilterStep n:
                WriteFields(w, ("hook", n.Hook), ("table", n.Table), ("chain", n.Chain), ("rule", n.RuleNumber), ("ruleText", n.RuleText), ("verdict", n.Verdict));
                break;
            case ConntrackStep c:
                WriteFields(w, ("state", c.State), ("tuple", c.Tuple), ("nat", c.Nat));
                break;
            case NatStep n:
                WriteFields(w, ("nat", n.NatKind), ("origin", n.Origin.ToString()), ("manip", n.Manip == NatManip.Source ? "src" : "dst"), ("before", n.Before), ("after", n.After));
                break;
            case IpvsStep v:
                WriteFields(w, ("backend", v.Backend), ("service", v.Service), ("scheduler", v.Scheduler), ("destination", v.Destination),
                    ("task", v.Task), ("reason", v.Reason), ("forward", v.Forward), ("newConnection", v.NewConnection));
                break;
            case RouteStep r:
                WriteFields(w, ("purpose", r.Purpose), ("table", r.Table), ("prefix", r.Prefix), ("gateway", r.Gateway), ("device", r.Device), ("source", r.Source));
                break;
            case NeighborStep n:
                WriteFields(w, ("device", n.Device), ("address", n.Address.ToString()), ("mac", n.Mac), ("how", n.How));
                break;
            case FdbStep f:
                WriteFields(w, ("device", f.Device), ("mac", f.Mac.ToString()), ("result", f.Result), ("port", f.Port));
                break;
            case BridgeStep b:
                WriteFields(w, ("bridge", b.Bridge), ("inPort", b.InPort), ("outPort", b.OutPort));
                break;
            case VethStep v:
                WriteFields(w, ("device", v.Device), ("peerNamespace", v.PeerNamespace), ("peerDevice", v.PeerDevice));
                break;
            case VxlanEncapStep e:
                WriteVxlanHeader(w, e.Device, e.Vni, e.OuterSource, e.OuterDestination, e.SourcePort, e.DestinationPort);
                WriteFields(w, ("bytesAdded", e.BytesAdded), ("innerFrameLength", e.InnerLength), ("outerFrameLength", e.OuterLength), ("underlayMtu", e.UnderlayMtu));
                break;
            case VxlanDecapStep d:
                WriteVxlanHeader(w, d.Device, d.Vni, d.OuterSource, d.OuterDestination, d.SourcePort, d.DestinationPort);
                break;
            case SocketStep s:
                WriteFields(w, ("socket", s.Description), ("owner", s.Owner), ("found", s.Found));
                break;
            case FragmentStep f:
                WriteFields(w, ("device", f.Device), ("mtu", f.Mtu), ("length", f.Length), ("fragments", f.Fragments));
                break;
            case DropStep d:
                WriteFields(w, ("cause", d.Cause.ToString()), ("detail", d.Detail));
                break;
        }
        // "declaration" follows "span" and is null where it is (no span) or where the file's paths do not name the place.
        WriteFields(w, ("text", TextTraceRenderer.Describe(step)), ("span", step.Span.IsKnown ? step.Span.ToShortString() : null),
            ("declaration", declarations?.PathOf(step.Span)));
        w.WriteEndObject();
    }

    /// <summary>The outer-header fields both VXLAN steps carry, in the order encap and decap print them.</summary>
    private static void WriteVxlanHeader(Utf8JsonWriter w, string device, int vni, Ipv4Address outerSource, Ipv4Address outerDestination, int sourcePort, int destinationPort) =>
        WriteFields(w, ("device", device), ("vni", vni), ("outerSource", outerSource.ToString()), ("outerDestination", outerDestination.ToString()),
            ("sourcePort", sourcePort), ("destinationPort", destinationPort));

    /// <summary>Writes scalar properties in the given order: every flat field of the format goes through here.</summary>
    private static void WriteFields(Utf8JsonWriter w, params (string Name, JsonScalar Value)[] fields)
    {
        foreach (var (name, value) in fields) value.WriteTo(w, name);
    }

    /// <summary>One scalar field value: text (null writes JSON <c>null</c>), a whole number or a flag.</summary>
    private readonly struct JsonScalar
    {
        private enum ScalarKind : byte { Text, Number, Flag }

        private readonly ScalarKind kind;
        private readonly string? text;
        private readonly long number;

        private JsonScalar(ScalarKind kind, string? text, long number)
        {
            this.kind = kind;
            this.text = text;
            this.number = number;
        }

        public static implicit operator JsonScalar(string? text) => new(ScalarKind.Text, text, 0);

        public static implicit operator JsonScalar(long number) => new(ScalarKind.Number, null, number);

        public static implicit operator JsonScalar(bool flag) => new(ScalarKind.Flag, null, flag ? 1 : 0);

        public void WriteTo(Utf8JsonWriter w, string name)
        {
            switch (kind)
            {
                case ScalarKind.Number: w.WriteNumber(name, number); break;
                case ScalarKind.Flag: w.WriteBoolean(name, number != 0); break;
                default: w.WriteString(name, text); break;
            }
        }
    }
}
#endif
