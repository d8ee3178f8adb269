using System;
using System.Globalization;
using SwarmDsl.Net;

namespace SwarmDsl.Semantics;

/// <summary>What a traffic source or destination names.</summary>
public enum TrafficEndpointKind
{
    /// <summary>A client outside the cluster, on the underlay.</summary>
    External,
    /// <summary>A node (its underlay address), optionally with a port.</summary>
    Node,
    /// <summary>A service: its VIP, or any of its tasks as a source.</summary>
    Service,
    /// <summary>One task (<c>web.1</c>).</summary>
    Task,
    /// <summary>A namespace of a node (<c>manager/ingress_sbox</c>).</summary>
    Namespace,
    /// <summary>A bare IPv4 address.</summary>
    Address,
}

/// <summary>
/// A source or destination of traffic as <c>trace</c>, <c>expect:</c> and <c>reach</c> write it:
/// <c>external</c>, <c>external:IP</c>, <c>NODE</c>, <c>NODE:PORT/PROTO</c>, <c>SERVICE</c>, <c>TASK</c>, <c>NODE/NAMESPACE</c>, <c>IP[:PORT]</c>.
/// </summary>
public sealed record TrafficEndpoint(TrafficEndpointKind Kind, string Text, string? Name, string? Namespace, Ipv4Address? Address, int? Port, IpProtocol Protocol)
{
    /// <summary>
    /// Parses and binds <paramref name="text"/> against the topology. Node names win over service names, which win over task names.
    /// </summary>
    public static bool TryParse(string text, Func<string, TrafficEndpointKind?> resolveName, out TrafficEndpoint endpoint, out string error)
    {
        endpoint = null!;
        error = "";
        var t = text.Trim();
        var proto = IpProtocol.Tcp;
        int? port = null;

        // Peel "/proto" only when it is a protocol (NODE/NAMESPACE also uses a slash).
        var slash = t.LastIndexOf('/');
        if (slash > 0 && IpProtocolNames.TryParse(t.Substring(slash + 1), out var p) && t.IndexOf(':') >= 0)
        {
            proto = p;
            t = t.Substring(0, slash);
        }
        var colon = t.IndexOf(':');
        string head = colon >= 0 ? t.Substring(0, colon) : t;
        if (colon >= 0)
        {
            var rest = t.Substring(colon + 1);
            if (head == "external")
            {
                if (!Ipv4Address.TryParse(rest, out var ext)) { error = $"'{rest}' is not an IPv4 address (write external:IP)"; return false; }
                endpoint = new TrafficEndpoint(TrafficEndpointKind.External, text, null, null, ext, null, proto);
                return true;
            }
            // "80/xyz": the slash was left on because 'xyz' is no protocol; say so rather than that '80/xyz' is no port.
            var restSlash = rest.IndexOf('/');
            if (restSlash > 0 && int.TryParse(rest.Substring(0, restSlash), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                error = $"'{rest.Substring(restSlash + 1)}' is not a protocol: use tcp, udp, sctp or icmp (as in {head}:{rest.Substring(0, restSlash)}/tcp)";
                return false;
            }
            if (!int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var pn) || pn < 1 || pn > 65535)
            {
                error = $"'{rest}' is not a port from 1 to 65535";
                return false;
            }
            port = pn;
        }
        if (head == "external")
        {
            endpoint = new TrafficEndpoint(TrafficEndpointKind.External, text, null, null, null, port, proto);
            return true;
        }
        if (Ipv4Address.TryParse(head, out var ip))
        {
            endpoint = new TrafficEndpoint(TrafficEndpointKind.Address, text, null, null, ip, port, proto);
            return true;
        }
        var ns = head.IndexOf('/');
        if (ns > 0)
        {
            var node = head.Substring(0, ns);
            if (resolveName(node) != TrafficEndpointKind.Node) { error = $"'{node}' is not a declared node"; return false; }
            if (ns == head.Length - 1) { error = $"'{head}' names no namespace: write {node}/NAMESPACE (host, ingress_sbox, a task, ...) or {node} for its host"; return false; }
            endpoint = new TrafficEndpoint(TrafficEndpointKind.Namespace, text, node, head.Substring(ns + 1), null, port, proto);
            return true;
        }
        var kind = resolveName(head);
        if (kind is null)
        {
            error = $"'{head}' is not external, an IPv4 address, or a declared node, service or task";
            return false;
        }
        endpoint = new TrafficEndpoint(kind.Value, text, head, null, null, port, proto);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Text;
}
