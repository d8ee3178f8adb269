using System;
using SwarmDsl.Net;

namespace SwarmDsl.Runtime.Packets;

/// <summary>TCP header flags (RFC 9293 bit positions).</summary>
[Flags]
public enum TcpFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>FIN.</summary>
    Fin = 0x01,
    /// <summary>SYN.</summary>
    Syn = 0x02,
    /// <summary>RST.</summary>
    Rst = 0x04,
    /// <summary>PSH.</summary>
    Psh = 0x08,
    /// <summary>ACK.</summary>
    Ack = 0x10,
    /// <summary>URG.</summary>
    Urg = 0x20,
}

/// <summary>The SCTP chunk types the engine sends (RFC 9260 §3.2): an association's start, and DATA.</summary>
public enum SctpChunk : byte
{
    /// <summary>DATA (0).</summary>
    Data = 0,
    /// <summary>INIT (1): the first packet of an association; its verification tag is 0.</summary>
    Init = 1,
    /// <summary>INIT ACK (2): the answer to INIT, carrying the state cookie.</summary>
    InitAck = 2,
    /// <summary>ABORT (6).</summary>
    Abort = 6,
    /// <summary>COOKIE ECHO (10): the initiator returns the cookie.</summary>
    CookieEcho = 10,
    /// <summary>COOKIE ACK (11): the association is up.</summary>
    CookieAck = 11,
}

/// <summary>Names of <see cref="SctpChunk"/>s.</summary>
public static class SctpChunks
{
    /// <summary>A chunk's name as traces and <c>tshark</c> show it (<c>INIT</c>, <c>INIT_ACK</c>, ...).</summary>
    public static string Name(SctpChunk chunk) => chunk switch
    {
        SctpChunk.Init => "INIT",
        SctpChunk.InitAck => "INIT_ACK",
        SctpChunk.Abort => "ABORT",
        SctpChunk.CookieEcho => "COOKIE_ECHO",
        SctpChunk.CookieAck => "COOKIE_ACK",
        _ => "DATA",
    };
}

/// <summary>ICMP types and codes the engine produces or interprets (RFC 792).</summary>
public static class IcmpTypes
{
    /// <summary>Echo reply.</summary>
    public const byte EchoReply = 0;
    /// <summary>Destination unreachable.</summary>
    public const byte DestinationUnreachable = 3;
    /// <summary>Echo request.</summary>
    public const byte EchoRequest = 8;
    /// <summary>Time exceeded.</summary>
    public const byte TimeExceeded = 11;
    /// <summary>Code of <see cref="DestinationUnreachable"/>: port unreachable.</summary>
    public const byte PortUnreachable = 3;
    /// <summary>Code of <see cref="DestinationUnreachable"/>: fragmentation needed and DF set.</summary>
    public const byte FragmentationNeeded = 4;
    /// <summary>Code of <see cref="DestinationUnreachable"/>: communication administratively prohibited (REJECT --reject-with icmp-admin-prohibited).</summary>
    public const byte AdminProhibited = 13;

    /// <summary>Whether an ICMP type is an error carrying the offending packet's header.</summary>
    public static bool IsError(byte type) => type == DestinationUnreachable || type == TimeExceeded || type == 12 || type == 4 || type == 5;
}

/// <summary>The IPv4 header and first 8 transport bytes of the packet an ICMP error is about (RFC 792: "internet header + 64 bits").</summary>
public struct EmbeddedHeader
{
    /// <summary>Source address of the offending packet.</summary>
    public Ipv4Address Source;
    /// <summary>Destination address of the offending packet.</summary>
    public Ipv4Address Destination;
    /// <summary>Its protocol.</summary>
    public IpProtocol Protocol;
    /// <summary>Its source port (TCP/UDP) or echo identifier (ICMP).</summary>
    public ushort SourcePort;
    /// <summary>Its destination port (TCP/UDP) or echo identifier (ICMP).</summary>
    public ushort DestinationPort;
    /// <summary>Its TTL as it was when the error was raised.</summary>
    public byte Ttl;
    /// <summary>Its IPv4 identification.</summary>
    public ushort Id;
    /// <summary>Its total length.</summary>
    public ushort TotalLength;
    /// <summary>Whether it had DF set.</summary>
    public bool DontFragment;
    /// <summary>For an embedded ICMP echo: its type.</summary>
    public byte IcmpType;
    /// <summary>For an embedded TCP segment: its sequence number (the first 8 bytes carry it).</summary>
    public uint Seq;
}

/// <summary>
/// The headers of one Ethernet/IPv4 frame as plain fields: what the kernel's skb header pointers would show. A value
/// type, so moving a packet through the engine copies no heap memory.
/// </summary>
public struct PacketHeaders
{
    /// <summary>Ethernet source.</summary>
    public MacAddress EthSource;
    /// <summary>Ethernet destination.</summary>
    public MacAddress EthDestination;
    /// <summary>IPv4 source.</summary>
    public Ipv4Address Source;
    /// <summary>IPv4 destination.</summary>
    public Ipv4Address Destination;
    /// <summary>Time to live.</summary>
    public byte Ttl;
    /// <summary>Type of service / DSCP byte.</summary>
    public byte Tos;
    /// <summary>Don't Fragment.</summary>
    public bool DontFragment;
    /// <summary>IPv4 identification.</summary>
    public ushort Id;
    /// <summary>Transport protocol.</summary>
    public IpProtocol Protocol;
    /// <summary>TCP/UDP source port; ICMP echo identifier for echo messages.</summary>
    public ushort SourcePort;
    /// <summary>TCP/UDP destination port; ICMP echo identifier for echo messages.</summary>
    public ushort DestinationPort;
    /// <summary>TCP flags.</summary>
    public TcpFlags Flags;
    /// <summary>SCTP: the packet's one chunk (DATA unless set). Its verification tag is <see cref="Seq"/>; an INIT's or INIT ACK's initiate tag is <see cref="Ack"/>.</summary>
    public SctpChunk Chunk;
    /// <summary>TCP sequence number.</summary>
    public uint Seq;
    /// <summary>TCP acknowledgement number.</summary>
    public uint Ack;
    /// <summary>ICMP type.</summary>
    public byte IcmpType;
    /// <summary>ICMP code.</summary>
    public byte IcmpCode;
    /// <summary>ICMP echo sequence number.</summary>
    public ushort IcmpSequence;
    /// <summary>ICMP frag-needed: the next-hop MTU (RFC 1191).</summary>
    public ushort IcmpNextHopMtu;
    /// <summary>For ICMP errors: the packet the error is about.</summary>
    public EmbeddedHeader Embedded;
    /// <summary>Transport payload bytes (TCP/UDP data, ICMP echo data). For a VXLAN outer packet: VXLAN header + inner frame.</summary>
    public int PayloadLength;

    /// <summary>The transport header length: TCP 20 (no options), UDP 8, ICMP 8 (+ 28 for an embedded header).</summary>
    public readonly int TransportHeaderLength => Protocol switch
    {
        IpProtocol.Tcp => 20,
        IpProtocol.Udp => 8,
        IpProtocol.Icmp => IcmpTypes.IsError(IcmpType) ? 8 + 28 : 8,
        IpProtocol.Sctp => 12,
        _ => 0,
    };

    /// <summary>The IPv4 total length.</summary>
    public readonly int TotalLength => 20 + TransportHeaderLength + PayloadLength;

    /// <summary>The length of the Ethernet frame (without FCS).</summary>
    public readonly int FrameLength => 14 + TotalLength;

    /// <summary>Whether the protocol has ports.</summary>
    public readonly bool HasPorts => Protocol == IpProtocol.Tcp || Protocol == IpProtocol.Udp || Protocol == IpProtocol.Sctp;

    /// <summary>Whether this is an ICMP error.</summary>
    public readonly bool IsIcmpError => Protocol == IpProtocol.Icmp && IcmpTypes.IsError(IcmpType);

    /// <summary>Whether this is an ICMP echo request or reply.</summary>
    public readonly bool IsIcmpEcho => Protocol == IpProtocol.Icmp && (IcmpType == IcmpTypes.EchoRequest || IcmpType == IcmpTypes.EchoReply);
}

/// <summary>
/// A packet in flight: its headers (the outer ones while VXLAN-encapsulated), the encapsulated inner frame, and the skb
/// metadata the kernel keeps beside it (mark, ingress device, IPVS property). One level of encapsulation is modelled,
/// which is what a VXLAN overlay over an IPv4 underlay needs.
/// </summary>
public struct Packet
{
    /// <summary>The headers the current device sees (outer while encapsulated).</summary>
    public PacketHeaders Headers;
    /// <summary>The inner frame while <see cref="Encapsulated"/>.</summary>
    public PacketHeaders Inner;
    /// <summary>Whether <see cref="Headers"/> is a VXLAN outer header around <see cref="Inner"/>.</summary>
    public bool Encapsulated;
    /// <summary>The VNI while encapsulated.</summary>
    public int Vni;
    /// <summary><c>skb-&gt;mark</c>; cleared when the packet crosses into another namespace.</summary>
    public uint Mark;
    /// <summary><c>skb-&gt;ipvs_property</c>: IPVS transmitted (or reverse-translated) this packet.</summary>
    public bool IpvsProperty;
    /// <summary>The device index (within the current namespace) the packet last arrived on; -1 for locally generated packets.</summary>
    public int IngressDevice;
}
