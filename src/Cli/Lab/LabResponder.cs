using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmDsl.Cli.Lab;

/// <summary>
/// The application of a lab task (<c>swarmdsl lab serve</c>): listens on every target port of the task, TCP and UDP, on
/// all addresses of the namespace it was started in, and answers every connection or datagram with the task's name and a
/// newline. It writes its pid file once every socket is bound (that is how <c>up</c> knows it is ready) and removes it on SIGTERM.
/// </summary>
internal static class LabResponder
{
    /// <summary>Runs until SIGTERM; returns the exit code.</summary>
    public static int Serve(string name, IReadOnlyList<int> tcp, IReadOnlyList<int> udp, string? pidFile, CliIo io)
    {
        var answer = Encoding.ASCII.GetBytes(name + "\n");
        var listeners = new List<Socket>();
        var datagrams = new List<Socket>();
        try
        {
            foreach (var port in tcp)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                s.Bind(new IPEndPoint(IPAddress.Any, port));
                s.Listen(128);
                listeners.Add(s);
            }
            foreach (var port in udp)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(IPAddress.Any, port));
                datagrams.Add(s);
            }
        }
        catch (SocketException ex)
        {
            io.Error.WriteLine("swarmdsl: error: lab serve " + name + ": cannot listen: " + ex.Message);
            foreach (var s in listeners.Concat(datagrams)) s.Dispose();
            return Program.Failed;
        }

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
        var loops = listeners.Select(l => AcceptLoop(l, answer, stop.Token))
            .Concat(datagrams.Select(d => DatagramLoop(d, answer, stop.Token))).ToList();
        if (pidFile is not null)
        {
            // Written last and renamed into place: a pid file that exists means every port is bound.
            var tmp = pidFile + ".tmp";
            File.WriteAllText(tmp, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
            File.Move(tmp, pidFile, overwrite: true);
        }
        try
        {
            Task.WaitAll(loops.ToArray());
        }
        catch (AggregateException)
        {
            // Cancelled on SIGTERM.
        }
        foreach (var s in listeners.Concat(datagrams)) s.Dispose();
        if (pidFile is not null && File.Exists(pidFile)) File.Delete(pidFile);
        return Program.Ok;
    }

    private static async Task AcceptLoop(Socket listener, byte[] answer, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await client.SendAsync(answer, SocketFlags.None, stop).ConfigureAwait(false);
                        client.Shutdown(SocketShutdown.Send);
                    }
                    catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                    {
                        // The client went away; nothing to answer.
                    }
                }
            }, CancellationToken.None);
        }
    }

    private static async Task DatagramLoop(Socket socket, byte[] answer, CancellationToken stop)
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stop).ConfigureAwait(false);
                await socket.SendToAsync(answer, SocketFlags.None, r.RemoteEndPoint, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { }
        }
    }
}
