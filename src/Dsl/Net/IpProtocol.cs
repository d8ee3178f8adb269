namespace SwarmDsl.Net;

/// <summary>IP protocol numbers (IANA), as the kernel matches them.</summary>
public enum IpProtocol : byte
{
    /// <summary>ICMP (1).</summary>
    Icmp = 1,
    /// <summary>TCP (6).</summary>
    Tcp = 6,
    /// <summary>UDP (17).</summary>
    Udp = 17,
    /// <summary>SCTP (132).</summary>
    Sctp = 132,
}

/// <summary>Names of protocols as iptables and the DSL write them.</summary>
public static class IpProtocolNames
{
    /// <summary>tcp, udp, sctp, icmp.</summary>
    public static string Name(this IpProtocol p) => p switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Sctp => "sctp",
        IpProtocol.Icmp => "icmp",
        _ => ((byte)p).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Parses tcp, udp, sctp, icmp.</summary>
    public static bool TryParse(string? s, out IpProtocol p)
    {
        switch (s)
        {
            case "tcp": p = IpProtocol.Tcp; return true;
            case "udp": p = IpProtocol.Udp; return true;
            case "sctp": p = IpProtocol.Sctp; return true;
            case "icmp": p = IpProtocol.Icmp; return true;
            default: p = default; return false;
        }
    }
}
