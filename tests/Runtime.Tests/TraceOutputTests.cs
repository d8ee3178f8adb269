using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using SwarmDsl.Cli;
using SwarmDsl.Runtime.Engine;
using SwarmDsl.Runtime.Tracing;

namespace SwarmDsl.Tests;

/// <summary>The <c>trace</c> verb and its renderings: exit codes, JSON, pcapng read back by tshark.</summary>
public class TraceOutputTests
{
    private static (int Exit, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Trace_of_the_example_is_delivered_and_exits_0()
    {
        var (exit, output, err) = Cli("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--reply", "--count", "2");
        Assert.True(exit == 0, err);
        Assert.Contains("── manager · host netns ──", output);
        Assert.Contains("DNAT  10.7.191.10:8080 → 172.18.0.2:8080", output);
        Assert.Contains("ipvs FWM 256 wrr schedules → 10.255.0.5:8080 (web.1, Masq)", output);
        Assert.Contains("ipvs FWM 256 wrr schedules → 10.255.0.6:8080 (web.2, Masq)", output);
        Assert.Contains("vxlan0 VNI 4096: outer 10.7.191.10 → 10.7.191.9:4789", output);
        Assert.Contains("REDIRECT  10.255.0.6:8080 → 10.255.0.6:80", output);
        Assert.Contains("reply  tcp 10.255.0.6:80", output);
        Assert.EndsWith("2 connections: 2 delivered (web.1 ×1, web.2 ×1)\n", output);
    }

    [Fact]
    public void A_dropped_trace_exits_3_and_bad_endpoints_exit_2()
    {
        var (exit, output, _) = Cli("trace", Paths.Example, "--from", "external", "--to", "manager:9999/tcp");
        Assert.Equal(3, exit);
        Assert.Contains("DROPPED (NoListener)", output);
        var (bad, _, err) = Cli("trace", Paths.Example, "--from", "nowhere", "--to", "manager:8080/tcp");
        Assert.Equal(2, bad);
        Assert.StartsWith("swarmdsl: error: --from nowhere:", err);
        var (count, _, err2) = Cli("trace", Paths.Example, "--from", "external", "--to", "manager", "--count", "0");
        Assert.Equal(2, count);
        Assert.Contains("--count", err2);
        var (missing, _, _) = Cli("trace", "/nonexistent.swarm.yaml", "--from", "external", "--to", "manager");
        Assert.Equal(1, missing);
    }

    [Fact]
    public void Json_has_one_object_per_trace_with_stable_fields()
    {
        var (exit, output, err) = Cli("trace", Paths.Example, "--from", "external", "--to", "worker:8080/tcp", "--json", "--count", "2", "--lb", "nftables", "--seed", "5");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal(new[] { "formatVersion", "file", "from", "to", "seed", "backend", "connections", "summary" }, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("nftables", root.GetProperty("backend").GetString());
        var first = root.GetProperty("connections")[0];
        var request = first.GetProperty("request");
        Assert.Equal(new[] { "label", "packet", "hops", "disposition" }, request.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Delivered", request.GetProperty("disposition").GetProperty("kind").GetString());
        var steps = request.GetProperty("hops").EnumerateArray().SelectMany(h => h.GetProperty("steps").EnumerateArray()).ToList();
        Assert.Contains(steps, s => s.GetProperty("step").GetString() == "VxlanEncap" && s.GetProperty("vni").GetInt32() == 4096);
        // The bridge's FDB and then the VXLAN device's, each under the device looked up.
        var fdbs = steps.Where(s => s.GetProperty("step").GetString() == "Fdb").ToList();
        Assert.Contains(fdbs, s => s.GetProperty("device").GetString() == "br0" && s.GetProperty("port").GetString() == "vxlan0");
        Assert.Contains(fdbs, s => s.GetProperty("device").GetString() == "vxlan0" && s.GetProperty("port").GetString() == "dst 10.7.191.10");
        Assert.All(fdbs, s => Assert.False(s.TryGetProperty("bridge", out _)));
        Assert.Contains(steps, s => s.GetProperty("step").GetString() == "Netfilter" && s.GetProperty("span").GetString() == "two-node.swarm.yaml:44:9");
        // Replies were not asked for (no --reply): none is there.
        Assert.False(first.TryGetProperty("reply", out _));
        Assert.Equal(2, root.GetProperty("summary").GetProperty("delivered").GetInt32());
    }

    [Fact]
    public void Every_step_from_a_declaration_names_it_in_text_and_json()
    {
        var (exit, text, err) = Cli("trace", Paths.Example, "--from", "external", "--to", "worker:8080/tcp", "--reply");
        Assert.True(exit == 0, err);
        Assert.Contains("-j DNAT --to-destination 172.18.0.2:8080  → DNAT  @two-node.swarm.yaml:44:9 (services.web.ports[0])\n", text);
        Assert.Contains("@two-node.swarm.yaml:14:3 (nodes.worker)\n", text);
        var located = text.Split('\n').Where(l => l.Contains("  @", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(located);
        Assert.All(located, l => Assert.Matches(@"  @two-node\.swarm\.yaml:\d+:\d+ \((nodes|networks|services|underlay)[A-Za-z0-9_.\[\]-]*\)$", l));

        (exit, var json, err) = Cli("trace", Paths.Example, "--from", "external", "--to", "worker:8080/tcp", "--reply", "--json");
        Assert.True(exit == 0, err);
        using var doc = JsonDocument.Parse(json);
        var steps = doc.RootElement.GetProperty("connections").EnumerateArray()
            .SelectMany(c => new[] { c.GetProperty("request"), c.GetProperty("reply") })
            .SelectMany(t => t.GetProperty("hops").EnumerateArray()).SelectMany(h => h.GetProperty("steps").EnumerateArray()).ToList();
        foreach (var step in steps)
        {
            // The new field follows "span" (the existing fields keep their names and order) and is there exactly when it is.
            var names = step.EnumerateObject().Select(p => p.Name).ToList();
            Assert.Equal(new[] { "text", "span", "declaration" }, names.Skip(names.Count - 3));
            Assert.Equal(step.GetProperty("span").ValueKind, step.GetProperty("declaration").ValueKind);
        }
        Assert.Contains(steps, s => s.GetProperty("span").GetString() == "two-node.swarm.yaml:44:9" && s.GetProperty("declaration").GetString() == "services.web.ports[0]");
        Assert.Contains(steps, s => s.GetProperty("declaration").GetString() == "services.web.tasks[1]");
    }

    [Fact]
    public void Without_the_files_paths_a_step_shows_its_place_alone()
    {
        // The C# attribute form has no YAML: its spans point into C#, and a step there prints no parenthesis.
        var plan = SwarmCompiler.CompileToPlan(Paths.Example, File.ReadAllText(Paths.Example)).Plan!;
        var sim = new Simulation(plan);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        var trace = sim.Connect(flow, 1)[0].Request;
        var dnat = trace.Hops.SelectMany(h => h.Steps).First(s => s is NetfilterStep { Verdict: "DNAT" });
        Assert.Equal("two-node.swarm.yaml:44:9", TextTraceRenderer.Location(dnat, null));
        Assert.Equal("two-node.swarm.yaml:44:9", TextTraceRenderer.Location(dnat, SwarmDsl.Syntax.DeclarationPaths.Empty));
        Assert.Contains("→ DNAT  @two-node.swarm.yaml:44:9\n", TextTraceRenderer.Render(trace), StringComparison.Ordinal);
        Assert.Null(TextTraceRenderer.Location(trace.Hops[0].Steps.First(s => !s.Span.IsKnown), null));
    }

    [ToolFact("tshark")]
    public void Pcapng_dissects_cleanly_in_tshark_with_the_vni()
    {
        var file = Path.Combine(Path.GetTempPath(), "sdt" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".pcapng");
        try
        {
            var (exit, _, err) = Cli("trace", Paths.Example, "--from", "external", "--to", "manager:8080/tcp", "--count", "2", "--reply", "--pcap", file);
            Assert.True(exit == 0, err);
            var run = HostLinux.Run("tshark", "-r", file, "-V", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE")
                .EnsureSuccess("tshark -r");
            var text = run.StdOut;
            Assert.DoesNotContain("Malformed", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("[Expert Info (Error", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Bad]", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Status: Bad", text, StringComparison.Ordinal);
            Assert.Contains("VXLAN Network Identifier (VNI): 4096", text);
            Assert.Contains("[Checksum Status: Good]", text);
            Assert.Contains("Interface name: manager/ingress_sbox/eth1", text);
        }
        finally
        {
            if (File.Exists(file)) File.Delete(file);
        }
    }

    [ToolFact("tshark")]
    public void Sctp_frames_dissect_as_an_association_start_with_a_correct_crc32c()
    {
        // Found by a black-box tester (session 18): SCTP frames had no chunk and a zero checksum, and tshark called every one malformed.
        // Session 20: they were DATA chunks, which Linux's conntrack refuses to start an entry with; an association starts with
        // INIT (verification tag 0) and INIT ACK (the INIT's initiate tag as its verification tag, and a state cookie).
        var dir = Path.Combine(Path.GetTempPath(), "sdt" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(dir);
        try
        {
            var yaml = Path.Combine(dir, "sctp.swarm.yaml");
            File.WriteAllText(yaml, ExamplePlans.Sctp);
            var file = Path.Combine(dir, "sctp.pcapng");
            var (exit, _, err) = Cli("trace", yaml, "--from", "external", "--to", "a:3868/sctp", "--reply", "--pcap", file);
            Assert.True(exit == 0, err);
            var text = HostLinux.Run("tshark", "-r", file, "-V", "-o", "sctp.checksum:CRC-32C").EnsureSuccess("tshark -r").StdOut;
            Assert.DoesNotContain("Malformed", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("[Expert Info (Error", text, StringComparison.Ordinal);
            Assert.DoesNotContain("incorrect", text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Chunk type: DATA (0)", text, StringComparison.Ordinal);
            Assert.Contains("Chunk type: INIT (1)", text, StringComparison.Ordinal);
            Assert.Contains("Chunk type: INIT_ACK (2)", text, StringComparison.Ordinal);
            Assert.Contains("Verification tag: 0x00000000", text, StringComparison.Ordinal);
            Assert.Contains("State cookie parameter", text, StringComparison.Ordinal);
            var tags = System.Text.RegularExpressions.Regex.Matches(text, @"Initiate tag: (0x[0-9a-f]{8})").Select(m => m.Groups[1].Value).Distinct().ToList();
            Assert.Equal(2, tags.Count);
            Assert.Contains("Verification tag: " + tags[0], text, StringComparison.Ordinal); // INIT ACK carries the INIT's tag
            Assert.Contains("[correct]", text, StringComparison.Ordinal);
            // Inside the tunnel too: the VXLAN legs carry the same chunk.
            Assert.Contains("VXLAN Network Identifier (VNI)", text, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Pcapng_has_one_interface_per_device_crossed()
    {
        var sim = new Simulation(ExamplePlans.Ipvs);
        Assert.True(sim.TryResolve("external", "manager:8080/tcp", out var flow, out _));
        var c = sim.Connect(flow, 1, captureFrames: true).Single();
        var frames = c.Request.Frames;
        Assert.Contains(frames, f => f.Interface == "manager/host/eth0" && f.Inbound);
        Assert.Contains(frames, f => f.Interface == "manager/ingress_sbox/eth1" && f.Inbound);
        using var ms = new MemoryStream();
        PcapngWriter.Write(ms, new[] { ("request", c.Request) });
        var bytes = ms.ToArray();
        Assert.Equal(new byte[] { 0x0A, 0x0D, 0x0D, 0x0A }, bytes.Take(4));
        int idb = 0, epb = 0;
        for (int at = 0; at < bytes.Length;)
        {
            uint type = BitConverter.ToUInt32(bytes, at);
            int len = (int)BitConverter.ToUInt32(bytes, at + 4);
            Assert.Equal(len, (int)BitConverter.ToUInt32(bytes, at + len - 4)); // trailing block length
            if (type == 1) idb++;
            if (type == 6) epb++;
            at += len;
        }
        Assert.Equal(frames.Select(f => f.Interface).Distinct().Count(), idb);
        Assert.Equal(frames.Count, epb);
    }
}
