using System;
using SwarmDsl.Plan;
using SwarmDsl.Runtime.Packets;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Runtime.Engine;

/// <summary>Collects the steps of one packet's walk; exists only while tracing, so the untraced walk allocates nothing.</summary>
internal sealed class TraceRecorder
{
    private TraceHop? _hop;
    private int _hopNamespace = -1;

    public TraceRecorder(PacketTrace trace, bool captureFrames, long clockMicroseconds)
    {
        Trace = trace;
        CaptureFrames = captureFrames;
        ClockMicroseconds = clockMicroseconds;
    }

    public PacketTrace Trace { get; }
    public bool CaptureFrames { get; }
    public long ClockMicroseconds { get; private set; }

    public void Enter(NamespaceRuntime ns)
    {
        if (ns.Index == _hopNamespace && _hop is not null) return;
        _hopNamespace = ns.Index;
        _hop = new TraceHop(ns.Node, ns.IsExternalClient ? "client " + ns.Name.Substring("client-".Length) : ns.Name, KindName(ns));
        Trace.Hops.Add(_hop);
    }

    public void Add(TraceStep step)
    {
        if (_hop is null) throw new InvalidOperationException("a step was recorded outside any hop");
        _hop.Steps.Add(step);
    }

    public void Frame(DeviceRuntime device, bool inbound, in Packet packet)
    {
        ClockMicroseconds += 10;
        if (!CaptureFrames) return;
        var bytes = new byte[FrameCodec.Length(packet)];
        FrameCodec.Write(packet, bytes);
        Trace.Frames.Add(new CapturedFrame(device.QualifiedName, inbound, ClockMicroseconds, bytes));
    }

    public static string KindName(NamespaceRuntime ns) => ns.IsExternalClient ? "client" : ns.Kind switch
    {
        NamespaceKind.Host => "host",
        NamespaceKind.IngressSandbox => "ingress-sandbox",
        NamespaceKind.LoadBalancer => "load-balancer",
        NamespaceKind.Overlay => "overlay",
        NamespaceKind.Task => "task",
        _ => "namespace",
    };
}
