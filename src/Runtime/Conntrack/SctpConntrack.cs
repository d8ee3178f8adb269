using SwarmDsl.Runtime.Packets;

namespace SwarmDsl.Runtime.Conntrack;

/// <summary>SCTP connection tracking states (<c>enum sctp_conntrack</c>), as far as the engine's chunks lead.</summary>
public enum CtSctpState
{
    /// <summary>Not SCTP (or nothing seen yet).</summary>
    None,
    /// <summary>CLOSED: an INIT was seen (nothing answered yet), or the association was aborted.</summary>
    Closed,
    /// <summary>COOKIE_WAIT: the INIT was answered by an INIT ACK.</summary>
    CookieWait,
    /// <summary>COOKIE_ECHOED: the initiator echoed the cookie.</summary>
    CookieEchoed,
    /// <summary>ESTABLISHED: the cookie was acknowledged.</summary>
    Established,
}

/// <summary>
/// nf_conntrack_proto_sctp.c for the chunks the engine sends: which chunk may start an entry (<c>sctp_new</c>), the
/// state each chunk leads to in each direction (<c>sctp_conntracks</c>), and the timeout of each state
/// (<c>sctp_timeouts</c> of current kernels: ESTABLISHED 210 s since the 2023 rework of SCTP tracking, 5 days before it). A DATA chunk changes no state and starts no entry: a packet
/// that opens with one is INVALID, so NAT never sees it (a real association always begins with INIT).
/// </summary>
public static class SctpConntrack
{
    /// <summary>The state a new entry starts in for <paramref name="first"/> (its verification tag <paramref name="vtag"/>); false when the chunk cannot start one.</summary>
    public static bool TryNew(SctpChunk first, uint vtag, out CtSctpState state)
    {
        state = CtSctpState.None;
        switch (first)
        {
            // Sec 8.5.1 (A): an INIT's verification tag must be 0.
            case SctpChunk.Init: if (vtag != 0) return false; state = CtSctpState.Closed; return true;
            // Out of the blue, but kernel-valid starts (sctp_conntracks[ORIGINAL][..][sNO] is sCL).
            case SctpChunk.InitAck:
            case SctpChunk.CookieEcho: state = CtSctpState.Closed; return true;
            // DATA keeps NONE (invalid); COOKIE ACK and ABORT out of the blue are discarded (Sec 8.4).
            default: return false;
        }
    }

    /// <summary>The state after <paramref name="chunk"/> in <paramref name="dir"/>; false when the kernel finds it invalid (no change, no refresh).</summary>
    public static bool TryNext(CtSctpState state, CtDirection dir, SctpChunk chunk, out CtSctpState next)
    {
        next = state;
        // DATA (and SACK) "do not change the state".
        if (chunk == SctpChunk.Data) return true;
        // From NONE every chunk the engine sends leads to CLOSED in the original direction, and is invalid in the reply's.
        if (state == CtSctpState.None)
        {
            if (dir != CtDirection.Original) return false;
            next = CtSctpState.Closed;
            return true;
        }
        next = chunk switch
        {
            SctpChunk.Abort => CtSctpState.Closed,
            SctpChunk.InitAck when state == CtSctpState.Closed && dir == CtDirection.Reply => CtSctpState.CookieWait,
            // sCW → sCE and sCE → sES in both directions (the reply rows keep those columns).
            SctpChunk.CookieEcho when state == CtSctpState.CookieWait => CtSctpState.CookieEchoed,
            SctpChunk.CookieAck when state == CtSctpState.CookieEchoed => CtSctpState.Established,
            _ => state,
        };
        return true;
    }

    /// <summary><c>sctp_timeouts</c> (seconds).</summary>
    public static int TimeoutSeconds(CtSctpState state) => state switch
    {
        CtSctpState.CookieWait => 3,
        CtSctpState.CookieEchoed => 3,
        CtSctpState.Established => 210,
        _ => 10, // CLOSED, and timeouts[0] (a new entry) is CLOSED's
    };

    /// <summary>The name <c>conntrack -L</c> prints (<c>sctp_conntrack_names</c>).</summary>
    public static string Name(CtSctpState state) => state switch
    {
        CtSctpState.Closed => "CLOSED",
        CtSctpState.CookieWait => "COOKIE_WAIT",
        CtSctpState.CookieEchoed => "COOKIE_ECHOED",
        CtSctpState.Established => "ESTABLISHED",
        _ => "NONE",
    };
}
