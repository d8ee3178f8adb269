using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using SwarmDsl.Tests;

namespace SwarmDsl.Generators.Tests;

/// <summary>
/// The NuGet packages work for a real consumer: <c>dotnet pack</c> of the generator and the runtime, then a console project
/// in a temporary folder that restores them from a local feed folder (and nothing else), lists the example as
/// AdditionalFiles, builds with warnings as errors and runs the compiled pipeline. Breaking the YAML fails that build at the YAML line and column, and so does a false <c>expect:</c>. Slow (four real builds): filter it out with
/// <c>--filter Category!=Package</c> while iterating.
/// </summary>
[Trait("Category", "Package")]
public class PackageTests
{
    private const string Version = "0.1.0-localtest";

    [Fact]
    public void PackedGenerator_BuildsAConsumer_AndReportsYamlErrorsAtTheLine()
    {
        var work = Directory.CreateTempSubdirectory("swarmdsl-package-");
        try
        {
            var feed = Path.Combine(work.FullName, "feed");
            // --no-restore: the test project restored the generator already; a restore here could race other builds of the solution.
            Dotnet(Paths.Root, $"pack src/Generators -c Release --no-restore -o \"{feed}\" -p:PackageVersion={Version} --nologo", expectSuccess: true);

            var package = Path.Combine(feed, $"SwarmDsl.Generators.{Version}.nupkg");
            using (var zip = ZipFile.OpenRead(package))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("analyzers/dotnet/cs/SwarmDsl.Generators.dll", entries);
                Assert.Contains("analyzers/dotnet/cs/YamlDotNet.dll", entries);
                // Nothing else loads with the analyzer: the packet engine is compiled into it (AnalyzerDependencyTests).
                Assert.Equal(2, entries.Count(e => e.StartsWith("analyzers/", StringComparison.Ordinal)));
                Assert.Contains("build/SwarmDsl.Generators.props", entries);
                Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
                using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
                var text = nuspec.ReadToEnd();
                Assert.DoesNotContain("<dependency ", text, StringComparison.Ordinal);
                Assert.Contains("<developmentDependency>true</developmentDependency>", text, StringComparison.Ordinal);
            }

            // The runtime package (and the front end it depends on) for the compiled pipeline; YamlDotNet, the front end's one
            // dependency, comes from this machine's package cache so that the feed is all the consumer restores from.
            Dotnet(Paths.Root, $"pack src/Dsl -c Release --no-restore -o \"{feed}\" -p:PackageVersion={Version} --nologo", expectSuccess: true);
            Dotnet(Paths.Root, $"pack src/Runtime -c Release --no-restore -o \"{feed}\" -p:PackageVersion={Version} --nologo", expectSuccess: true);
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } packages
                ? packages
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            File.Copy(Path.Combine(cache, "yamldotnet", "18.1.0", "yamldotnet.18.1.0.nupkg"), Path.Combine(feed, "yamldotnet.18.1.0.nupkg"));

            var app = Path.Combine(work.FullName, "consumer");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <RootNamespace>Consumer</RootNamespace>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestorePackagesPath>{Path.Combine(work.FullName, "packages")}</RestorePackagesPath>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="SwarmDsl.Generators" Version="{Version}" />
                    <PackageReference Include="SwarmDsl.Runtime" Version="{Version}" />
                    <AdditionalFiles Include="two-node.swarm.yaml" />
                  </ItemGroup>
                </Project>
                """);
            File.Copy(Paths.Example, Path.Combine(app, "two-node.swarm.yaml"));
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using SwarmDsl;

                Console.WriteLine($"{Consumer.TwoNode.TopologyName}: {Consumer.TwoNode.Tasks.Web1.Sandbox.Addresses[0].Address} {Consumer.Small.Networks.Backend.Vni}");
                // The compiled pipeline (the runtime is referenced): the seed lifecycle through generated chains.
                var simulation = Consumer.TwoNode.CreateSimulation(seed: 1);
                var traces = simulation.Connect(Consumer.TwoNode.Traffic.External,
                    Consumer.TwoNode.Traffic.Published(Consumer.TwoNode.Nodes.Worker, Consumer.TwoNode.PublishedPorts.Web8080Tcp), count: 1);
                Console.WriteLine($"compiled pipeline: {traces[0].Request.Disposition.Kind} to {traces[0].Request.Disposition.Owner}, reply {traces[0].Reply?.Disposition.Kind}");

                namespace Consumer
                {
                    // A VNI below 4096 is warning SWARM0013; warnings are errors here, and the pragma is what lets the build pass.
                #pragma warning disable SWARM0013
                    [SwarmTopology("small")]
                    [Node("alpha", "10.1.0.2/24")]
                    [OverlayNetwork("backend", "10.20.0.0/24", Vni = 100)]
                #pragma warning restore SWARM0013
                    internal static partial class Small;
                }
                """);

            var ok = Dotnet(app, "build --nologo -p:UseSharedCompilation=false --disable-build-servers", expectSuccess: true);
            Assert.Contains("0 Warning(s)", ok, StringComparison.Ordinal);
            var ran = Dotnet(app, "run --no-build", expectSuccess: true);
            Assert.Contains("two-node: 10.255.0.5/16 100", ran, StringComparison.Ordinal);
            Assert.Contains("compiled pipeline: Delivered to web.", ran, StringComparison.Ordinal);
            Assert.Contains(", reply Delivered", ran, StringComparison.Ordinal);

            // Without the pragma the same warning fails the build (so the pragma, not luck, made it pass).
            var program = File.ReadAllText(Path.Combine(app, "Program.cs"));
            File.WriteAllText(Path.Combine(app, "Program.cs"), program.Replace("#pragma warning disable SWARM0013", "").Replace("#pragma warning restore SWARM0013", ""));
            var warned = Dotnet(app, "build --nologo -p:UseSharedCompilation=false --disable-build-servers", expectSuccess: false);
            Assert.Contains("error SWARM0013", warned, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(app, "Program.cs"), program);

            // A broken YAML fails the build with MSBuild's file(line,col) form pointing into the YAML.
            var yaml = File.ReadAllText(Path.Combine(app, "two-node.swarm.yaml"));
            File.WriteAllText(Path.Combine(app, "two-node.swarm.yaml"), yaml.Replace("vni: 4096", "vni: banana"));
            var failed = Dotnet(app, "build --nologo -p:UseSharedCompilation=false --disable-build-servers", expectSuccess: false);
            Assert.Contains("two-node.swarm.yaml(31,10): error SWARM0003: expected a whole number for 'vni', not 'banana'", failed, StringComparison.Ordinal);

            // A false expectation fails the build too: the generator simulates expect: (the packet engine runs inside the
            // compiler), and the error sits at the expect: entry with the reason swarmdsl check gives.
            File.WriteAllText(Path.Combine(app, "two-node.swarm.yaml"), yaml.Replace("\r\n", "\n")
                + "\nrules:\n  - node: worker\n    chain: FORWARD\n    rule: -p tcp --dport 8080 -j DROP\n    position: insert\n");
            var expectFailed = Dotnet(app, "build --nologo -p:UseSharedCompilation=false --disable-build-servers", expectSuccess: false);
            const string ExpectError = "two-node.swarm.yaml(63,5): error SWARM0020: expected external → worker:8080/tcp to reach web: connection 1 of 2 was dropped by FilterDrop at worker/host filter/FORWARD rule 1 (-A FORWARD -p tcp -m tcp --dport 8080 -j DROP) from two-node.swarm.yaml:70:11";
            Assert.True(expectFailed.Contains(ExpectError, StringComparison.Ordinal),
                "no SWARM0020 at the entry; the build said:\n" + string.Join("\n", expectFailed.Split('\n').Where(l => l.Contains("SWARM", StringComparison.Ordinal) || l.Contains("error", StringComparison.Ordinal))));
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Dotnet(string directory, string arguments, bool expectSuccess)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's MSBuild settings must not leak into the child build.
        start.Environment.Remove("MSBuildSDKsPath");
        start.Environment.Remove("MSBuildExtensionsPath");
        start.Environment.Remove("MSBUILD_EXE_PATH");
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {arguments} timed out\n{output}");
        }
        process.WaitForExit();
        var text = output.ToString();
        Assert.True((process.ExitCode == 0) == expectSuccess, $"dotnet {arguments} exited {process.ExitCode}\n{text}");
        return text;
    }
}
