using System;
using System.IO;
using System.Linq;
using SwarmDsl.Emit;

namespace SwarmDsl.Tests.Emit;

/// <summary>apply.sh's <c>set_sysctls</c> run by bash against a stand-in <c>sysctl</c> (no kernel is touched).</summary>
public class SysctlScriptTests
{
    /// <summary>
    /// A raise-only key (Docker's neighbour thresholds) is written only over a lower value; other keys whenever they differ.
    /// Found by an audit: apply lowered a host's gc_thresh1 of 16384 to 8192.
    /// </summary>
    [NetnsFact("bash")]
    public void A_raise_only_sysctl_is_never_lowered()
    {
        var dir = Directory.CreateTempSubdirectory("swarmdsl-sysctl-");
        try
        {
            var writes = Path.Combine(dir.FullName, "writes");
            var script = string.Join("\n",
                "set -euo pipefail",
                "ACTION=apply NODE=test STATE_DIR=" + Shell.QuoteAlways(dir.FullName) + " STATE=" + Shell.QuoteAlways(Path.Combine(dir.FullName, "state")) + " IPT_MARK=x",
                ScriptLibrary.Common,
                ScriptLibrary.Apply,
                "declare -A FAKE=([net.ipv4.neigh.default.gc_thresh1]=16384 [net.ipv4.neigh.default.gc_thresh2]=1024 [net.ipv4.neigh.default.gc_thresh3]=65536 [net.ipv4.ip_forward]=0)",
                // sysctl -e KEY... prints 'key = value' for those that exist; sysctl -q -w KEY=VALUE... sets them.
                "sysctl() {",
                "  if [[ $1 == -e ]]; then shift; for k; do if [[ -n \"${FAKE[$k]+x}\" ]]; then printf '%s = %s\\n' \"$k\" \"${FAKE[$k]}\"; fi; done; return 0; fi",
                "  shift 2; for kv; do FAKE[\"${kv%%=*}\"]=\"${kv#*=}\"; printf '%s\\n' \"$kv\" >>" + Shell.QuoteAlways(writes) + "; done",
                "}",
                "set_sysctls '' net.ipv4.neigh.default.gc_thresh1 8192 raise here net.ipv4.neigh.default.gc_thresh2 49152 raise here \\",
                "  net.ipv4.neigh.default.gc_thresh3 65536 raise here net.ipv4.ip_forward 1 1 here",
                "");
            var r = HostLinux.Run("bash", new[] { "-s" }, script);
            Assert.True(r.ExitCode == 0, r.StdErr);
            Assert.Equal(new[] { "net.ipv4.neigh.default.gc_thresh2=49152", "net.ipv4.ip_forward=1" },
                File.ReadAllLines(writes).Where(l => l.Length > 0));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
