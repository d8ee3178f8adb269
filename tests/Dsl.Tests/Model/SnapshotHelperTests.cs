using System;
using System.IO;

namespace SwarmDsl.Tests.Model;

/// <summary>The snapshot helper itself: a snapshot test that cannot fail proves nothing.</summary>
[Collection(nameof(SnapshotHelperTests))]
public sealed class SnapshotHelperTests : IDisposable
{
    // The helper finds snapshots beside the calling source file; pointing it at a fake file in a temp folder keeps these tests
    // out of the real Snapshots folder.
    private readonly string _dir = Directory.CreateTempSubdirectory("swarmdsl-snapshot-").FullName;
    private string Source => Path.Combine(_dir, "Fake.cs");
    private string Verified => Path.Combine(_dir, "Snapshots", "Fake.case.verified.txt");
    private string Received => Path.Combine(_dir, "Snapshots", "Fake.case.received.txt");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void WriteVerified(string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Verified)!);
        File.WriteAllText(Verified, text);
    }

    [Fact]
    public void A_match_passes_and_removes_a_stale_received_file()
    {
        WriteVerified("a\nb\n");
        File.WriteAllText(Received, "old");
        Snapshot.Verify("a\r\nb", name: "case", sourceFile: Source);
        Assert.False(File.Exists(Received));
    }

    [Fact]
    public void A_mismatch_fails_writes_received_and_shows_a_diff()
    {
        WriteVerified("line one\nline two\nline three\n");
        var ex = Assert.ThrowsAny<Exception>(() => Snapshot.Verify("line one\nline 2\nline three\n", name: "case", sourceFile: Source));
        Assert.Contains("Fake.case.verified.txt differs", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Contains("- ?: line two", StringComparison.Ordinal) || ex.Message.Contains("- 2: line two", StringComparison.Ordinal), ex.Message);
        Assert.Contains("+ 2: line 2", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("line one", ex.Message, StringComparison.Ordinal);
        Assert.Equal("line one\nline 2\nline three\n", File.ReadAllText(Received));
        Assert.Equal("line one\nline two\nline three\n", File.ReadAllText(Verified));
    }

    [Fact]
    public void A_missing_snapshot_fails_and_writes_received()
    {
        var ex = Assert.ThrowsAny<Exception>(() => Snapshot.Verify("new", name: "case", sourceFile: Source));
        Assert.Contains("No verified snapshot Fake.case.verified.txt", ex.Message, StringComparison.Ordinal);
        Assert.Equal("new\n", File.ReadAllText(Received));
        Assert.False(File.Exists(Verified));
    }

    [Fact]
    public void Accepting_writes_the_verified_file()
    {
        // Environment variables are process-wide: this class runs in its own non-parallel collection.
        var before = Environment.GetEnvironmentVariable("SWARMDSL_ACCEPT");
        try
        {
            Environment.SetEnvironmentVariable("SWARMDSL_ACCEPT", "1");
            WriteVerified("old\n");
            Snapshot.Verify("new", name: "case", sourceFile: Source);
            Assert.Equal("new\n", File.ReadAllText(Verified));
            Assert.False(File.Exists(Received));
        }
        finally
        {
            Environment.SetEnvironmentVariable("SWARMDSL_ACCEPT", before);
        }
    }
}

/// <summary>Runs alone: <see cref="SnapshotHelperTests"/> sets SWARMDSL_ACCEPT, which would make other snapshot tests accept.</summary>
[CollectionDefinition(nameof(SnapshotHelperTests), DisableParallelization = true)]
public sealed class SnapshotHelperCollection;
