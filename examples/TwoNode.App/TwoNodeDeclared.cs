using SwarmDsl;

namespace SwarmDsl.Examples;

/// <summary>
/// examples/two-node.swarm.yaml written in the C# form of the language. The generator analyzes both with the same compiler;
/// a test (tests/Generators.Tests, FormEquivalenceTests) proves they give the same model.
/// </summary>
[SwarmTopology("two-node", Version = 1)]
[Underlay(Mtu = 1500)]
[Node("manager", "10.7.191.10/24", Hostname = "i-xah31y1o", Role = NodeRole.Manager, Interface = "eth0")]
[Node("worker", "10.7.191.9/24", Hostname = "i-hqsrcwx6", Role = NodeRole.Worker)]
[BridgeNetwork("docker_gwbridge", "172.18.0.0/16", Gateway = "172.18.0.1", Icc = false, Masquerade = true)]
[OverlayNetwork("ingress", "10.255.0.0/16", Ingress = true, Gateway = "10.255.0.1", Vni = 4096, Mtu = 1450,
    LoadBalancerAddresses = ["manager=10.255.0.2", "worker=10.255.0.3"])]
[Service("web", Image = "nginx:alpine", Replicas = 2, Networks = ["ingress"], Vip = "10.255.0.4", Scheduler = Scheduler.Wrr)]
[Publish("web", 8080, 80, Protocol = IpProtocol.Tcp, Mode = PublishMode.Ingress)]
[Task("web", "manager", "10.255.0.5")]
[Task("web", "worker", "10.255.0.6", Weight = 1)]
[Sysctl("net.core.rmem_max", 26214400)]
[Sysctl("net.core.wmem_max", 26214400)]
[Expect("external", "manager:8080/tcp", Reaches = "web")]
[Expect("external", "worker:8080/tcp", Reaches = "web")]
internal static partial class TwoNodeDeclared;
