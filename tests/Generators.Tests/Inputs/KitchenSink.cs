using SwarmDsl;

namespace Consumer.App
{
    /// <summary>Inputs/kitchen-sink.swarm.yaml as attributes: every property of every attribute at least once.</summary>
    [SwarmTopology("kitchen-sink", Version = 1)]
    [Underlay(Mtu = 9000, Subnet = "192.168.10.0/24", DataPathPort = 4790)]
    [Node("m1", "192.168.10.11/24", Hostname = "mgr-1", Role = NodeRole.Manager, Interface = "ens3", Labels = ["zone=a", "rack=r1"])]
    [Node("w1", "192.168.10.21/24", Labels = ["zone=b"])]
    [Sysctl("net.ipv4.ip_forward", 1, Node = "m1")]
    [BridgeNetwork("docker_gwbridge", "172.30.0.0/16", Gateway = "172.30.0.254", Icc = true, Masquerade = false)]
    [OverlayNetwork("edge", "10.10.0.0/24", Ingress = true, Gateway = "10.10.0.1", Vni = 5000, Mtu = 8950, LoadBalancerAddresses = ["m1=10.10.0.2"])]
    [OverlayNetwork("backend", "10.20.0.0/24", Attachable = true)]
    [Service("api", Image = "example/api:1", Replicas = 2, Mode = ServiceMode.Replicated, Networks = ["backend"],
        Vips = ["edge=10.10.0.100", "backend=10.20.0.100"], EndpointMode = EndpointMode.Vip, Scheduler = Scheduler.Lc, PlacementNodes = ["m1", "w1"])]
    [Publish("api", 8443, 443, Protocol = IpProtocol.Tcp, Mode = PublishMode.Ingress)]
    [Publish("api", 5353, 53, Protocol = IpProtocol.Udp, Mode = PublishMode.Host)]
    [Task("api", "m1", "10.20.0.50", Weight = 5, Name = "api.primary")]
    [Service("cache", Image = "redis", Mode = ServiceMode.Global, Networks = ["backend"], EndpointMode = EndpointMode.Dnsrr, Expose = ["6379", "6380/udp"])]
    [Sysctl("net.core.somaxconn", 4096)]
    [Rule("DOCKER-USER", "-p tcp --dport 22 -j ACCEPT", Node = "m1", Namespace = "host", Table = NetfilterTable.Filter, Position = RulePosition.Insert)]
    [Expect("external", "m1:8443/tcp", Reaches = "api")]
    [Expect("cache", "api:9/tcp", Blocked = true)]
    internal static partial class KitchenSinkDeclared;
}
