using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// What a lab verb does when it is interrupted (Ctrl-C, SIGTERM) before it ends: the runtime then stops the process without
/// running its <c>finally</c> blocks, so <c>verify</c> left its <c>nft monitor</c> processes and trace tables behind, and
/// <c>up</c> left half a lab without saying how to remove it. The action runs once, then the process ends as the signal
/// asks (exit 130 or 143).
/// </summary>
internal sealed class LabInterrupt : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = new();
    private Action? _action;

    private LabInterrupt(Action action)
    {
        _action = action;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (Interlocked.Exchange(ref _action, null) is not { } run) return;
                // Ended here, after the action, rather than by the runtime as the handler returns: the verb's own thread
                // keeps going meanwhile, and the action (under a LabGate) must have stopped it making anything new first.
                context.Cancel = true;
                run();
                Environment.Exit(context.Signal == PosixSignal.SIGINT ? 130 : 143);
            }));
    }

    /// <summary>Runs <paramref name="action"/> if the process is interrupted before the returned object is disposed.</summary>
    public static LabInterrupt OnInterrupt(Action action) => new(action);

    /// <inheritdoc/>
    public void Dispose()
    {
        Interlocked.Exchange(ref _action, null);
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
    }
}

/// <summary>
/// Lets a verb's threads make lab objects (trace tables, monitors) at once, until an interrupt closes the gate: it waits for
/// what is being made, then cleans up, and nothing is made after it.
/// </summary>
internal sealed class LabGate
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.SupportsRecursion);
    private bool _closed;

    /// <summary>Runs <paramref name="make"/> unless the gate is closed; whether it ran.</summary>
    public bool Run(Action make)
    {
        _lock.EnterReadLock();
        try
        {
            if (_closed) return false;
            make();
            return true;
        }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>Closes the gate once nothing is being made, then runs <paramref name="cleanup"/>.</summary>
    public void Close(Action cleanup)
    {
        _lock.EnterWriteLock();
        try
        {
            _closed = true;
            cleanup();
        }
        finally { _lock.ExitWriteLock(); }
    }
}
