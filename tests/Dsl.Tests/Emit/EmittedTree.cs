using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using SwarmDsl.Emit;

namespace SwarmDsl.Tests.Emit;

/// <summary>Emitted files written to a scratch folder (deleted on Dispose).</summary>
public sealed class EmittedTree : IDisposable
{
    /// <summary>Adopts an existing folder (deleted on Dispose).</summary>
    public EmittedTree(string root) => Root = root;

    public EmittedTree(IEnumerable<EmittedFile> files)
    {
        Root = Path.Combine(Path.GetTempPath(), "swarmdsl-emit-" + Guid.NewGuid().ToString("N"));
        foreach (var f in files)
        {
            var path = Path.Combine(Root, f.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, f.Content, new UTF8Encoding(false));
            if (f.Executable && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }

    public string Root { get; }

    public string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
