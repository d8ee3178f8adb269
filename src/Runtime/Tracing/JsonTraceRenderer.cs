#if !NETSTANDARD2_0
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Tracing;

/// <summary>
/// Renders traces as JSON with stable field names in a fixed order (written field by field with
/// <see cref="Utf8JsonWriter"/>, no reflection): one object per packet trace, grouped by connection.
/// </summary>
public static class JsonTraceRenderer
{
    /// <summary>The schema version of the output; bump when a field changes meaning.</summary>
    public const int FormatVersion = 1;

    /// <summary>Renders a whole <c>trace</c> run.</summary>
    public static string Render(IReadOnlyList<ConnectionTrace> connections, string file, string from, string to, uint seed, string backend)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("formatVersion", FormatVersion);
            w.WriteString("file", file);
            w.WriteString("from", from);
            w.WriteString("to", to);
            w.WriteNumber("seed", seed);
            w.WriteString("backend", backend);
            w.WriteStartArray("connections");
            int delivered = 0, dropped = 0, other = 0;
            foreach (var c in connections)
            {
                w.WriteStartObject();
                w.WriteNumber("number", c.Number);
                w.WritePropertyName("request");
                WriteTrace(w, c.Request);
                w.WritePropertyName("reply");
                if (c.Reply is null) w.WriteNullValue();
                else WriteTrace(w, c.Reply);
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
            w.WriteNumber("connections", connections.Count);
            w.WriteNumber("delivered", delivered);
            w.WriteNumber("dropped", dropped);
            w.WriteNumber("loopedOrExited", other);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    /// <summary>Writes one packet trace object.</summary>
    public static void WriteTrace(Utf8JsonWriter w, PacketTrace t)
    {
        w.WriteStartObject();
        w.WriteString("label", t.Label);
        w.WritePropertyName("packet");
        WriteSnapshot(w, t.PacketIn);
        w.WriteStartArray("hops");
        foreach (var hop in t.Hops)
        {
            w.WriteStartObject();
            w.WriteString("node", hop.Node);
            w.WriteString("namespace", hop.Namespace);
            w.WriteString("kind", hop.NamespaceKind);
            w.WriteStartArray("steps");
            foreach (var s in hop.Steps) WriteStep(w, s);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        var d = t.Disposition;
        w.WriteStartObject("disposition");
        w.WriteString("kind", d.Kind.ToString());
        w.WriteString("where", d.Where);
        w.WriteString("owner", d.Owner);
        w.WriteString("socket", d.Socket);
        if (d.Cause is DropCause cause) w.WriteString("cause", cause.ToString()); else w.WriteNull("cause");
        w.WriteString("detail", d.Detail);
        w.WritePropertyName("final");
        WriteSnapshot(w, d.Final);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteSnapshot(Utf8JsonWriter w, HeaderSnapshot p)
    {
        w.WriteStartObject();
        w.WriteString("protocol", p.Protocol.Name());
        w.WriteString("source", p.Source.ToString());
        w.WriteNumber("sourcePort", p.SourcePort);
        w.WriteString("destination", p.Destination.ToString());
        w.WriteNumber("destinationPort", p.DestinationPort);
        w.WriteString("tcpFlags", p.Flags);
        if (p.IcmpType >= 0) { w.WriteNumber("icmpType", p.IcmpType); w.WriteNumber("icmpCode", p.IcmpCode); }
        if (p.IcmpMtu > 0) w.WriteNumber("icmpMtu", p.IcmpMtu);
        w.WriteNumber("ttl", p.Ttl);
        w.WriteNumber("length", p.Length);
        w.WriteString("mark", "0x" + p.Mark.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("ethSource", p.EthSource.ToString());
        w.WriteString("ethDestination", p.EthDestination.ToString());
        w.WriteString("summary", p.Summary());
        if (p.Quoted is not null)
        {
            w.WritePropertyName("quoted");
            WriteSnapshot(w, p.Quoted);
        }
        if (p.Inner is not null)
        {
            w.WriteNumber("vni", p.Vni);
            w.WritePropertyName("inner");
            WriteSnapshot(w, p.Inner);
        }
        w.WriteEndObject();
    }

    private static void WriteStep(Utf8JsonWriter w, TraceStep step)
    {
        w.WriteStartObject();
        w.WriteString("step", step.Kind);
        switch (step)
        {
            case ReceivedStep r:
                w.WriteString("device", r.Device);
                w.WritePropertyName("packet");
                WriteSnapshot(w, r.Packet);
                break;
            case NetfilterStep n:
                w.WriteString("hook", n.Hook);
                w.WriteString("table", n.Table);
                w.WriteString("chain", n.Chain);
                w.WriteNumber("rule", n.RuleNumber);
                w.WriteString("ruleText", n.RuleText);
                w.WriteString("verdict", n.Verdict);
                break;
            case ConntrackStep c:
                w.WriteString("state", c.State);
                w.WriteString("tuple", c.Tuple);
                w.WriteString("nat", c.Nat);
                break;
            case NatStep n:
                w.WriteString("nat", n.NatKind);
                w.WriteString("origin", n.Origin.ToString());
                w.WriteString("manip", n.Manip == NatManip.Source ? "src" : "dst");
                w.WriteString("before", n.Before);
                w.WriteString("after", n.After);
                break;
            case IpvsStep v:
                w.WriteString("backend", v.Backend);
                w.WriteString("service", v.Service);
                w.WriteString("scheduler", v.Scheduler);
                w.WriteString("destination", v.Destination);
                w.WriteString("task", v.Task);
                w.WriteString("reason", v.Reason);
                w.WriteString("forward", v.Forward);
                w.WriteBoolean("newConnection", v.NewConnection);
                break;
            case RouteStep r:
                w.WriteString("purpose", r.Purpose);
                w.WriteString("table", r.Table);
                w.WriteString("prefix", r.Prefix);
                w.WriteString("gateway", r.Gateway);
                w.WriteString("device", r.Device);
                w.WriteString("source", r.Source);
                break;
            case NeighborStep n:
                w.WriteString("device", n.Device);
                w.WriteString("address", n.Address.ToString());
                w.WriteString("mac", n.Mac);
                w.WriteString("how", n.How);
                break;
            case FdbStep f:
                w.WriteString("bridge", f.Bridge);
                w.WriteString("mac", f.Mac.ToString());
                w.WriteString("result", f.Result);
                w.WriteString("port", f.Port);
                break;
            case BridgeStep b:
                w.WriteString("bridge", b.Bridge);
                w.WriteString("inPort", b.InPort);
                w.WriteString("outPort", b.OutPort);
                break;
            case VethStep v:
                w.WriteString("device", v.Device);
                w.WriteString("peerNamespace", v.PeerNamespace);
                w.WriteString("peerDevice", v.PeerDevice);
                break;
            case VxlanEncapStep e:
                w.WriteString("device", e.Device);
                w.WriteNumber("vni", e.Vni);
                w.WriteString("outerSource", e.OuterSource.ToString());
                w.WriteString("outerDestination", e.OuterDestination.ToString());
                w.WriteNumber("sourcePort", e.SourcePort);
                w.WriteNumber("destinationPort", e.DestinationPort);
                w.WriteNumber("bytesAdded", e.BytesAdded);
                w.WriteNumber("innerFrameLength", e.InnerLength);
                w.WriteNumber("outerFrameLength", e.OuterLength);
                w.WriteNumber("underlayMtu", e.UnderlayMtu);
                break;
            case VxlanDecapStep d:
                w.WriteString("device", d.Device);
                w.WriteNumber("vni", d.Vni);
                w.WriteString("outerSource", d.OuterSource.ToString());
                w.WriteString("outerDestination", d.OuterDestination.ToString());
                w.WriteNumber("sourcePort", d.SourcePort);
                w.WriteNumber("destinationPort", d.DestinationPort);
                break;
            case SocketStep s:
                w.WriteString("socket", s.Description);
                w.WriteString("owner", s.Owner);
                w.WriteBoolean("found", s.Found);
                break;
            case FragmentStep f:
                w.WriteString("device", f.Device);
                w.WriteNumber("mtu", f.Mtu);
                w.WriteNumber("length", f.Length);
                w.WriteNumber("fragments", f.Fragments);
                break;
            case DropStep d:
                w.WriteString("cause", d.Cause.ToString());
                w.WriteString("detail", d.Detail);
                break;
        }
        w.WriteString("text", TextTraceRenderer.Describe(step));
        if (step.Span.IsKnown) w.WriteString("span", step.Span.ToShortString()); else w.WriteNull("span");
        w.WriteEndObject();
    }
}
#endif
