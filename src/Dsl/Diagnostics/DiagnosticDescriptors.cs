using System.Collections.Generic;

namespace SwarmDsl.Diagnostics;

/// <summary>
/// The one catalogue of SwarmDsl diagnostics, shared by <c>swarmdsl check</c> and the source generator.
/// IDs are stable: never renumber, only add. <c>docs/diagnostics.md</c> documents each one (a test keeps them in step).
/// </summary>
public static class DiagnosticDescriptors
{
    /// <summary>SWARM0001: the file is not well-formed YAML.</summary>
    public static readonly DiagnosticDescriptor YamlSyntax = new("SWARM0001", "Malformed YAML", Severity.Error,
        "Fix the YAML syntax at the position shown (indent with spaces, close quotes and brackets).");
    /// <summary>SWARM0002: a key that the language does not have.</summary>
    public static readonly DiagnosticDescriptor UnknownKey = new("SWARM0002", "Unknown key", Severity.Error,
        "Remove the key or correct its spelling; the message suggests the nearest known key.");
    /// <summary>SWARM0003: a value of the wrong type or form.</summary>
    public static readonly DiagnosticDescriptor WrongType = new("SWARM0003", "Wrong type or form of value", Severity.Error,
        "Give a value of the type the message names (a number, a boolean, an address, a list, a mapping, one of the listed words).");
    /// <summary>SWARM0004: the same key twice in one mapping.</summary>
    public static readonly DiagnosticDescriptor DuplicateKey = new("SWARM0004", "Duplicate key", Severity.Error,
        "Keep one of the two keys; YAML mappings cannot repeat a key.");
    /// <summary>SWARM0005: a required key is missing.</summary>
    public static readonly DiagnosticDescriptor MissingKey = new("SWARM0005", "Missing required key", Severity.Error,
        "Add the key the message names.");
    /// <summary>SWARM0006: a name that cannot reach shell scripts and interface names safely.</summary>
    public static readonly DiagnosticDescriptor InvalidName = new("SWARM0006", "Invalid name", Severity.Error,
        "Use a name matching [a-z][a-z0-9_-]{0,31}: lower-case letter first, then letters, digits, '_' or '-'.");
    /// <summary>SWARM0007: a reference to a node, network or service that is not declared.</summary>
    public static readonly DiagnosticDescriptor UnknownReference = new("SWARM0007", "Unknown reference", Severity.Error,
        "Reference a declared node, network or service, or declare it.");
    /// <summary>SWARM0008: an address outside the subnet it must belong to.</summary>
    public static readonly DiagnosticDescriptor AddressOutsideSubnet = new("SWARM0008", "Address outside its subnet", Severity.Error,
        "Choose an address inside the subnet the message names (not its network or broadcast address); a node needs a unicast host address (not loopback, multicast, class E or in 0.0.0.0/8).");
    /// <summary>SWARM0009: two things share one address.</summary>
    public static readonly DiagnosticDescriptor AddressCollision = new("SWARM0009", "Address collision", Severity.Error,
        "Give each endpoint its own address.");
    /// <summary>SWARM0010: subnets overlap.</summary>
    public static readonly DiagnosticDescriptor OverlappingSubnets = new("SWARM0010", "Overlapping subnets", Severity.Error,
        "Choose disjoint subnets for networks and the underlay.");
    /// <summary>SWARM0011: two overlays share a VNI.</summary>
    public static readonly DiagnosticDescriptor VniCollision = new("SWARM0011", "VNI collision", Severity.Error,
        "Give each overlay network its own VNI, or omit vni to have one derived.");
    /// <summary>SWARM0012: a VNI outside 1–16777215.</summary>
    public static readonly DiagnosticDescriptor VniOutOfRange = new("SWARM0012", "VNI out of range", Severity.Error,
        "Use a VNI from 1 to 16777215 (Docker allocates from 4096).");
    /// <summary>SWARM0013: a VNI below 4096 (overlaps 802.1Q VLAN IDs; Docker never allocates it).</summary>
    public static readonly DiagnosticDescriptor VniLow = new("SWARM0013", "VNI below 4096", Severity.Warning,
        "Use a VNI of 4096 or more, as Docker does, unless you must match an existing network.");
    /// <summary>SWARM0014: two services publish the same port and protocol in ingress mode.</summary>
    public static readonly DiagnosticDescriptor PublishedPortCollision = new("SWARM0014", "Published port collision", Severity.Error,
        "Publish each port/protocol once across the cluster's ingress (or once per node in host mode).");
    /// <summary>SWARM0015: dnsrr with ingress publishing.</summary>
    public static readonly DiagnosticDescriptor DnsrrWithIngress = new("SWARM0015", "dnsrr cannot publish in ingress mode", Severity.Error,
        "Use endpointMode: vip, or publish with mode: host (Swarm refuses ingress ports with dnsrr).");
    /// <summary>SWARM0016: more pinned tasks than replicas.</summary>
    public static readonly DiagnosticDescriptor TooManyTasks = new("SWARM0016", "More pinned tasks than replicas", Severity.Error,
        "Raise replicas or pin fewer tasks.");
    /// <summary>SWARM0017: a global service task pinned to a node where it cannot run.</summary>
    public static readonly DiagnosticDescriptor GlobalTaskPlacement = new("SWARM0017", "Global service task on a missing node", Severity.Error,
        "Pin at most one task per node of a global service, on nodes allowed by its placement.");
    /// <summary>SWARM0018: overlay MTU + 50 above the underlay MTU.</summary>
    public static readonly DiagnosticDescriptor MtuTooLarge = new("SWARM0018", "Overlay MTU exceeds the underlay", Severity.Warning,
        "Set the overlay mtu to at most the underlay mtu minus 50 (VXLAN overhead), or raise the underlay mtu.");
    /// <summary>SWARM0019: a scheduler IPVS does not have.</summary>
    public static readonly DiagnosticDescriptor UnsupportedScheduler = new("SWARM0019", "Unsupported scheduler", Severity.Error,
        "Use one of rr, wrr, lc, wlc, sh, dh.");
    /// <summary>SWARM0020: an <c>expect:</c> entry that does not hold.</summary>
    public static readonly DiagnosticDescriptor ExpectationFailed = new("SWARM0020", "Expectation failed", Severity.Error,
        "Change the topology so the expectation holds, or correct the expectation; the message shows where the packet went.");
    /// <summary>SWARM0021: an unsupported language version.</summary>
    public static readonly DiagnosticDescriptor UnsupportedVersion = new("SWARM0021", "Unsupported version", Severity.Error,
        "Use version: 1.");
    /// <summary>SWARM0022: IPAM found no free address.</summary>
    public static readonly DiagnosticDescriptor SubnetExhausted = new("SWARM0022", "Subnet exhausted", Severity.Error,
        "Use a larger subnet or fewer endpoints.");
    /// <summary>SWARM0023: a number outside its allowed range.</summary>
    public static readonly DiagnosticDescriptor OutOfRange = new("SWARM0023", "Value out of range", Severity.Error,
        "Use a value inside the range the message names.");
    /// <summary>SWARM0024: a raw rule that cannot be parsed or placed.</summary>
    public static readonly DiagnosticDescriptor InvalidRule = new("SWARM0024", "Invalid raw rule", Severity.Error,
        "Write the rule in iptables syntax with the supported matches and targets (see docs/diagnostics.md).");
    /// <summary>SWARM0025: a service attached to a network it cannot join.</summary>
    public static readonly DiagnosticDescriptor InvalidAttachment = new("SWARM0025", "Service cannot join network", Severity.Error,
        "Attach services to overlay networks only; bridge networks are node-local.");
    /// <summary>SWARM0026: the ingress network is missing, repeated or misused.</summary>
    public static readonly DiagnosticDescriptor IngressNetwork = new("SWARM0026", "Ingress network problem", Severity.Error,
        "Declare at most one overlay network with ingress: true.");
    /// <summary>SWARM0027: the same host-mode port twice on one node.</summary>
    public static readonly DiagnosticDescriptor HostPortCollision = new("SWARM0027", "Host-mode port collision", Severity.Error,
        "Two tasks on one node cannot publish the same host-mode port and protocol; change the port or the placement.");
    /// <summary>SWARM0028: an invalid sysctl key or value.</summary>
    public static readonly DiagnosticDescriptor InvalidSysctl = new("SWARM0028", "Invalid sysctl", Severity.Error,
        "Use a dotted sysctl key under net. of letters, digits, '_' and '-' and a scalar value without spaces or quotes.");
    /// <summary>SWARM0029: a service with no replicas or no node to run on.</summary>
    public static readonly DiagnosticDescriptor NoPlacement = new("SWARM0029", "Service cannot be placed", Severity.Error,
        "Give the service a node to run on: fix placement.nodes, or declare nodes.");
    /// <summary>SWARM0030: an unsupported option combination in a valid file.</summary>
    public static readonly DiagnosticDescriptor Unsupported = new("SWARM0030", "Unsupported combination", Severity.Error,
        "Change the declaration as the message says.");
    /// <summary>SWARM0031: an expectation that references something unknown or is malformed.</summary>
    public static readonly DiagnosticDescriptor InvalidExpectation = new("SWARM0031", "Invalid expectation", Severity.Error,
        "Write from/to as external, a node, node:port/proto, a service or a task, and give either reaches or blocked.");
    /// <summary>SWARM0040: one name for two things (a node and a service, a task and a node or service, or a task that passes for another service's task).</summary>
    public static readonly DiagnosticDescriptor NameCollision = new("SWARM0040", "Name collision", Severity.Error,
        "Give each node, service and task a name of its own; a pinned task name must not look like another service's task (<service>.<number>).");
    /// <summary>SWARM0041: the VXLAN data path port published through the routing mesh.</summary>
    public static readonly DiagnosticDescriptor DataPathPortPublished = new("SWARM0041", "Data path port published", Severity.Warning,
        "Publish another port, or move the overlay's VXLAN port with underlay.dataPathPort.");
    /// <summary>SWARM0042: underlay addresses that are not on one link.</summary>
    public static readonly DiagnosticDescriptor UnderlayNotOnLink = new("SWARM0042", "Underlay not on one link", Severity.Warning,
        "Give every node an address and prefix that covers the other nodes (one subnet for the whole underlay), and leave room in it for the outside client.");

    /// <summary>SWARM0043: a sysctl the packet simulation does not model, in a topology whose expectations it evaluates.</summary>
    public static readonly DiagnosticDescriptor SysctlNotSimulated = new("SWARM0043", "Sysctl not simulated", Severity.Warning,
        "Know that trace, reach and expect: behave as if the sysctl were unset; state what it changes in an expectation of its own only when the simulation models it.");

    /// <summary>SWARM0044: a sysctl naming a device the node's host namespace will not have (apply.sh skips it).</summary>
    public static readonly DiagnosticDescriptor SysctlDeviceMissing = new("SWARM0044", "Sysctl names a missing device", Severity.Warning,
        "Name a device the node has (its underlay interface, docker_gwbridge, a bridge network's device), or all/default; set it per node under nodes.<name>.sysctls when only some nodes have it.");

    /// <summary>SWARM0045: an overlay pinned to VNI 4096 while the ingress network's VNI is derived (Swarm gives 4096 to ingress first).</summary>
    public static readonly DiagnosticDescriptor VniTakenFromIngress = new("SWARM0045", "VNI taken from the ingress network", Severity.Warning,
        "Pin another VNI (4097 or more) for this network, or pin the ingress network's VNI too, so the model matches what a real swarm can create.");

    /// <summary>Every descriptor, in ID order.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
    {
        YamlSyntax, UnknownKey, WrongType, DuplicateKey, MissingKey, InvalidName, UnknownReference, AddressOutsideSubnet,
        AddressCollision, OverlappingSubnets, VniCollision, VniOutOfRange, VniLow, PublishedPortCollision, DnsrrWithIngress,
        TooManyTasks, GlobalTaskPlacement, MtuTooLarge, UnsupportedScheduler, ExpectationFailed, UnsupportedVersion,
        SubnetExhausted, OutOfRange, InvalidRule, InvalidAttachment, IngressNetwork, HostPortCollision, InvalidSysctl,
        NoPlacement, Unsupported, InvalidExpectation, NameCollision, DataPathPortPublished, UnderlayNotOnLink, SysctlNotSimulated,
        SysctlDeviceMissing, VniTakenFromIngress,
    };
}
