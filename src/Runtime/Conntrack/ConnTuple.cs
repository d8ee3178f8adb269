using System;
using SwarmDsl.Net;
using SwarmDsl.Runtime.Packets;

namespace SwarmDsl.Runtime.Conntrack;

/// <summary>
/// A conntrack tuple (<c>struct nf_conntrack_tuple</c>): addresses, protocol and the layer-4 identifiers. For ICMP
/// echo the identifier travels in <see cref="SourcePort"/> and <see cref="DestinationPort"/> is 0, so inverting a
/// request tuple gives the reply's tuple.
/// </summary>
public readonly struct ConnTuple : IEquatable<ConnTuple>
{
    /// <summary>Creates a tuple.</summary>
    public ConnTuple(IpProtocol protocol, Ipv4Address source, ushort sourcePort, Ipv4Address destination, ushort destinationPort)
    {
        Protocol = protocol;
        Source = source;
        SourcePort = sourcePort;
        Destination = destination;
        DestinationPort = destinationPort;
    }

    /// <summary>The protocol.</summary>
    public IpProtocol Protocol { get; }
    /// <summary>The source address.</summary>
    public Ipv4Address Source { get; }
    /// <summary>The source port (or ICMP echo id).</summary>
    public ushort SourcePort { get; }
    /// <summary>The destination address.</summary>
    public Ipv4Address Destination { get; }
    /// <summary>The destination port (0 for ICMP).</summary>
    public ushort DestinationPort { get; }

    /// <summary>The tuple of a packet (<c>nf_ct_get_tuple</c>).</summary>
    public static ConnTuple Of(in PacketHeaders h)
    {
        if (h.Protocol == IpProtocol.Icmp) return new ConnTuple(IpProtocol.Icmp, h.Source, h.SourcePort, h.Destination, 0);
        return new ConnTuple(h.Protocol, h.Source, h.SourcePort, h.Destination, h.DestinationPort);
    }

    /// <summary>The tuple of the packet embedded in an ICMP error, as the offending packet's own tuple.</summary>
    public static ConnTuple OfEmbedded(in EmbeddedHeader e)
    {
        if (e.Protocol == IpProtocol.Icmp) return new ConnTuple(IpProtocol.Icmp, e.Source, e.SourcePort, e.Destination, 0);
        return new ConnTuple(e.Protocol, e.Source, e.SourcePort, e.Destination, e.DestinationPort);
    }

    /// <summary><c>nf_ct_invert_tuple</c>.</summary>
    public ConnTuple Invert() => Protocol == IpProtocol.Icmp
        ? new ConnTuple(Protocol, Destination, SourcePort, Source, 0)
        : new ConnTuple(Protocol, Destination, DestinationPort, Source, SourcePort);

    /// <summary>This tuple with another source.</summary>
    public ConnTuple WithSource(Ipv4Address address, ushort port) => new(Protocol, address, port, Destination, DestinationPort);

    /// <summary>This tuple with another destination (ICMP keeps its 0).</summary>
    public ConnTuple WithDestination(Ipv4Address address, ushort port) => new(Protocol, Source, SourcePort, address, Protocol == IpProtocol.Icmp ? (ushort)0 : port);

    /// <inheritdoc/>
    public bool Equals(ConnTuple other) => Source.Value == other.Source.Value && Destination.Value == other.Destination.Value
        && SourcePort == other.SourcePort && DestinationPort == other.DestinationPort && Protocol == other.Protocol;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ConnTuple t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        unchecked
        {
            uint h = Source.Value * 0x9E3779B1u;
            h ^= Destination.Value + 0x7F4A7C15u + (h << 6) + (h >> 2);
            h ^= ((uint)SourcePort << 16 | DestinationPort) + 0x165667B1u + (h << 6) + (h >> 2);
            h ^= (uint)Protocol;
            return (int)h;
        }
    }

    /// <summary><c>tcp 10.0.0.1:40000 → 10.0.0.2:80</c> (or <c>icmp 10.0.0.1 → 10.0.0.2 id 7</c>).</summary>
    public override string ToString() => Protocol == IpProtocol.Icmp
        ? $"icmp {Source} → {Destination} id {SourcePort.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
        : $"{Protocol.Name()} {Source}:{SourcePort.ToString(System.Globalization.CultureInfo.InvariantCulture)} → {Destination}:{DestinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}
