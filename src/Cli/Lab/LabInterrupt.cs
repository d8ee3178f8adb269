using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// An interrupt (Ctrl-C, SIGTERM) asked of a lab verb. Left to the runtime, it stopped the process at once without running
/// any <c>finally</c>: <c>verify</c> left its <c>nft monitor</c> processes and trace tables behind, and <c>up</c> said nothing of
/// the half-built lab. Cleaning up from the signal handler raced with the verb's own thread (a tester saw crashes and a
/// false "checks differ" report), so the first signal only asks: the verb finishes the step it is in, cleans up on its own
/// thread, and exits 130 (SIGINT) or 143 (SIGTERM). A second signal ends the process at once.
/// </summary>
internal sealed class LabInterrupt : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = new();
    private int _exitCode;

    private LabInterrupt(Action<string>? onFirst)
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                int code = context.Signal == PosixSignal.SIGINT ? 130 : 143;
                if (Interlocked.CompareExchange(ref _exitCode, code, 0) != 0) return; // the second one: the default, ending the process
                context.Cancel = true;
                onFirst?.Invoke("interrupted: stopping after this step (interrupt again to stop at once)");
            }));
    }

    /// <summary>Watches for an interrupt until disposed; <paramref name="say"/> is told when the first one arrives.</summary>
    public static LabInterrupt Watch(Action<string>? say = null) => new(say);

    /// <summary>Whether an interrupt was asked for.</summary>
    public bool Requested => Volatile.Read(ref _exitCode) != 0;

    /// <summary>The exit code the interrupt asks for (130 or 143), or 0.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
    }
}
