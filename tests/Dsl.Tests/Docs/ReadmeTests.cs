using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace SwarmDsl.Tests.Docs;

/// <summary>README.md tells a newcomer the truth: the packages and versions we pin, the commands CI runs.</summary>
public class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(Paths.Root, "README.md"));

    [Fact]
    public void The_dependency_table_lists_every_pinned_package_with_its_version()
    {
        var props = XDocument.Load(Path.Combine(Paths.Root, "Directory.Packages.props"));
        var pinned = props.Descendants("PackageVersion").Select(e => ((string)e.Attribute("Include")!, (string)e.Attribute("Version")!)).ToList();
        Assert.NotEmpty(pinned);
        foreach (var (package, version) in pinned)
        {
            // Either its own row (| package | version | why |) or named with its version inside another row.
            bool row = Regex.IsMatch(Readme, $@"^\| {Regex.Escape(package)} \| {Regex.Escape(version)} \| \S", RegexOptions.Multiline);
            bool mentioned = Readme.Contains($"{package} {version}", StringComparison.Ordinal);
            Assert.True(row || mentioned, $"README.md does not list {package} {version}");
        }
        foreach (Match m in Regex.Matches(Readme, @"^\| (?<p>[A-Za-z][\w.]+) \| (?<v>\d[\w.-]*) \|", RegexOptions.Multiline))
            Assert.Contains((m.Groups["p"].Value, m.Groups["v"].Value), pinned);
    }

    [Fact]
    public void Ci_runs_exactly_the_readme_test_command()
    {
        Assert.Contains("\ndotnet test SwarmDsl.sln\n", Readme, StringComparison.Ordinal);
        var ci = File.ReadAllText(Path.Combine(Paths.Root, ".ci", "run"));
        Assert.StartsWith("#!/usr/bin/env bash\n", ci, StringComparison.Ordinal);
        Assert.Contains("\ndotnet test SwarmDsl.sln 2>&1 | tee", ci, StringComparison.Ordinal);
        foreach (var tool in new[] { "iproute2", "iptables", "nftables", "conntrack", "shellcheck", "tshark", "graphviz" })
            Assert.Contains(tool, ci, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
            Assert.True((File.GetUnixFileMode(Path.Combine(Paths.Root, ".ci", "run")) & UnixFileMode.UserExecute) != 0, ".ci/run must be executable");
    }

    [Fact]
    public void The_first_command_names_a_real_example()
    {
        var m = Regex.Match(Readme, @"```sh\ndotnet run --project (?<proj>\S+) -- trace (?<file>\S+) --from external --to manager:8080/tcp", RegexOptions.CultureInvariant);
        Assert.True(m.Success);
        Assert.True(Directory.Exists(Path.Combine(Paths.Root, m.Groups["proj"].Value)));
        Assert.True(File.Exists(Path.Combine(Paths.Root, m.Groups["file"].Value)));
    }
}
