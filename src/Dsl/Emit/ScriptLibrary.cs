namespace SwarmDsl.Emit;

/// <summary>
/// The bash functions apply.sh and teardown.sh share. Fixed text (no plan data), so it is reviewed once and shellchecked
/// with every emitted script.
/// </summary>
internal static class ScriptLibrary
{
    /// <summary>Messages, namespace access, the link scan, batches and saved state.</summary>
    public const string Common = """
die() { printf 'swarmdsl %s (node %s): error: %s\n' "$ACTION" "$NODE" "$*" >&2; exit 1; }
warn() { printf 'swarmdsl %s (node %s): warning: %s\n' "$ACTION" "$NODE" "$*" >&2; }

# in_ns NS CMD...: run CMD in namespace NS; "" is this script's own namespace (the node's host namespace).
in_ns() {
  local ns="$1"
  shift
  if [[ -z "$ns" ]]; then "$@"; else nsenter --net="/run/netns/$ns" -- "$@"; fi
}

# ipns NS ARGS...: ip in namespace NS.
ipns() {
  local ns="$1"
  shift
  if [[ -z "$ns" ]]; then ip "$@"; else ip -n "$ns" "$@"; fi
}

has_ns() { [[ -e "/run/netns/$1" ]]; }

# preflight TOOL...: stop, naming every missing tool.
preflight() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]} > 0)); then die "missing tools: ${missing[*]}"; fi
}

# LINKS["NS/DEV"] is 1 when device DEV exists in namespace NS (set by scan_links, kept up to date by apply as it
# makes and deletes devices); NEW_NS["NS"] is 1 for a namespace this run created (it holds only lo and no rules, so
# it is neither scanned nor compared).
declare -A LINKS=() NEW_NS=()

# scan_links NS...: note which devices exist in each namespace (one ip process per namespace, parsed in bash).
scan_links() {
  local ns out line
  for ns in "$@"; do
    if [[ -n "$ns" ]] && ! has_ns "$ns"; then continue; fi
    if is_new "$ns"; then
      LINKS["$ns/lo"]=1
      continue
    fi
    out="$(ipns "$ns" -o link show)" || die "cannot list the devices of namespace ${ns:-host}"
    # Lines read "7: name@peer: <FLAGS> ..."; device names hold neither ':' nor '@'.
    while [[ -n "$out" ]]; do
      line="${out%%$'\n'*}"
      if [[ "$out" == *$'\n'* ]]; then out="${out#*$'\n'}"; else out=""; fi
      line="${line#*: }"
      LINKS["$ns/${line%%[:@]*}"]=1
    done
  done
}
has_link() { [[ -n "${LINKS["$1/$2"]:-}" ]]; }
is_new() { [[ -n "$1" && -n "${NEW_NS["$1"]:-}" ]]; }

# has_addr NS DEV CIDR: whether DEV carries CIDR.
has_addr() {
  local out
  out="$(ipns "$1" -4 -o addr show dev "$2" 2>/dev/null)" || return 1
  [[ "$out" == *" inet $3 "* ]]
}

# run_batch NS LINE...: one ip -batch in namespace NS (the lines go in as a here-string: no extra process).
run_batch() {
  local ns="$1" IFS=$'\n'
  shift
  if (($# == 0)); then return 0; fi
  ipns "$ns" -batch - <<<"$*" || die "ip -batch failed in namespace ${ns:-host}"
}

# run_bridge_batch NS LINE...: one bridge -batch in namespace NS.
run_bridge_batch() {
  local ns="$1" IFS=$'\n'
  shift
  if (($# == 0)); then return 0; fi
  if [[ -z "$ns" ]]; then
    bridge -batch - <<<"$*" || die "bridge -batch failed in namespace host"
  else
    bridge -n "$ns" -batch - <<<"$*" || die "bridge -batch failed in namespace $ns"
  fi
}

# State: values this node had before apply changed them (host sysctls, chain policies), restored by teardown.
# One line per value: KIND<TAB>KEY<TAB>VALUE. The first value noted for a key is kept.
remembered() {
  local kind key value
  [[ -f "$STATE" ]] || return 1
  while IFS=$'\t' read -r kind key value; do
    if [[ "$kind" == "$1" && "$key" == "$2" ]]; then return 0; fi
  done <"$STATE"
  return 1
}
remember() {
  if remembered "$1" "$2"; then return 0; fi
  [[ -d "$STATE_DIR" ]] || mkdir -p "$STATE_DIR"
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STATE"
}

""";

    /// <summary>Functions only apply.sh needs.</summary>
    public const string Apply = """
CREATED=0
CHANGED=0

# make_ns NS...: create the namespaces that do not exist yet, in one ip -batch.
make_ns() {
  local ns lines=()
  for ns in "$@"; do
    if has_ns "$ns"; then continue; fi
    lines+=("netns add $ns")
    NEW_NS["$ns"]=1
    CREATED=$((CREATED + 1))
  done
  run_batch "" "${lines[@]}"
}

# drop_stale NS DEV: delete a half-made device an interrupted run left behind.
drop_stale() {
  if has_link "$1" "$2"; then
    ipns "$1" link del dev "$2" 2>/dev/null || true
    LINKS["$1/$2"]=""
  fi
}

# vxlan_is NS DEV VNI PORT: whether DEV is a VXLAN device with that VNI and destination port. A changed topology can move
# an overlay's VNI (a network removed before it renumbers the derived ones): such a device is made again, not kept.
vxlan_is() {
  local out
  out="$(ipns "$1" -d -o link show dev "$2" 2>/dev/null)" || return 1
  [[ "$out" == *" vxlan id $3 "* && "$out" == *" dstport $4 "* ]]
}

# made NS DEV: note a device the coming batch makes.
made() { LINKS["$1/$2"]=1; }

# set_sysctls NS (KEY VALUE REQUIRED WHERE)...: set the keys in namespace NS with one sysctl to read them all and one
# to write those that differ. A missing key stops the script when REQUIRED is 1 and is skipped with a warning otherwise.
# Values changed in the host namespace are remembered for teardown.
set_sysctls() {
  local ns="$1" out line i key value required where
  shift
  local -a keys=() writes=()
  local -A now=()
  for ((i = 1; i <= $#; i += 4)); do keys+=("${!i}"); done
  # "key = value" for every key that exists (-e: missing ones are left out); tabs inside values become spaces.
  out="$(in_ns "$ns" sysctl -e "${keys[@]}" 2>/dev/null)" || true
  while [[ -n "$out" ]]; do
    line="${out%%$'\n'*}"
    if [[ "$out" == *$'\n'* ]]; then out="${out#*$'\n'}"; else out=""; fi
    now["${line%% = *}"]="${line#* = }"
  done
  for ((i = 1; i <= $#; i += 4)); do
    key="${!i}" && value="${*:i+1:1}" && required="${*:i+2:1}" && where="${*:i+3:1}"
    if [[ -z "${now["$key"]+set}" ]]; then
      if [[ "$required" == 1 ]]; then die "sysctl $key does not exist in namespace ${ns:-host} ($where)"; fi
      warn "sysctl $key does not exist in namespace ${ns:-host}; skipped ($where)"
      continue
    fi
    if [[ "${now["$key"]//$'\t'/ }" == "$value" ]]; then continue; fi
    if [[ -z "$ns" ]]; then remember sysctl "$key" "${now["$key"]//$'\t'/ }"; fi
    writes+=("$key=$value")
  done
  if ((${#writes[@]} == 0)) || in_ns "$ns" sysctl -q -w "${writes[@]}" 2>/dev/null; then return 0; fi
  # Some write failed: find which, by reading the values again.
  for ((i = 1; i <= $#; i += 4)); do
    key="${!i}" && value="${*:i+1:1}" && required="${*:i+2:1}" && where="${*:i+3:1}"
    [[ -n "${now["$key"]+set}" ]] || continue
    if [[ "$(in_ns "$ns" sysctl -n "$key" 2>/dev/null)" == "$value" ]]; then continue; fi
    if [[ "$required" == 1 ]]; then die "cannot set sysctl $key=$value in namespace ${ns:-host} ($where)"; fi
    warn "cannot set sysctl $key=$value in namespace ${ns:-host}; skipped ($where)"
  done
}

# remember_policy TABLE CHAIN: note a built-in chain's policy before the rules file changes it.
remember_policy() {
  local policy
  policy="$(iptables-save -t "$1" | awk -v c=":$2" '$1 == c { print $2 }')"
  if [[ -n "$policy" ]]; then remember policy "$1/$2" "$policy"; fi
}

# ipt_apply NS FILE: make the namespace's rules what FILE says, changing only what differs, in one
# iptables-restore --noflush (none when nothing differs, so counters stay). Compared chain by chain with iptables-save:
# a chain FILE declares (ours) is flushed and refilled unless its rules are already exactly the file's; in a built-in
# chain our rules (found by their comment) must be the first ones, in order, else they are deleted and inserted again
# at the top; our rules in chains FILE no longer mentions (a changed topology) are deleted; a DROP policy is set unless
# already set. Foreign rules are never touched.
ipt_apply() {
  local ns="$1" file="$2" saved input
  if is_new "$ns"; then
    in_ns "$ns" iptables-restore --noflush <"$file" || die "iptables-restore failed for $file in namespace $ns"
    CHANGED=$((CHANGED + 1))
    return 0
  fi
  saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace ${ns:-host}"
  input="$(awk -v mark="$IPT_MARK" '
    function note(t, c) { if (!((t, c) in named)) { named[t, c] = 1; cs[t, ++nc[t]] = c } }
    function table(t) { if (!(t in seen)) { seen[t] = 1; ts[++nt] = t } }
    function touch(t) { if (!(t in busy)) { busy[t] = 1; nb++ } }
    pass == 1 && /^\*/ { t = substr($0, 2); table(t); next }
    pass == 1 && /^# shared / { shared[t, $3] = 1; next }
    pass == 1 && /^:/ {
      c = substr($1, 2); note(t, c)
      if ((t, c) in shared) ; else if ($2 == "-") own[t, c] = 1; else policy[t, c] = $2
      next
    }
    pass == 1 && /^-A / { c = $2; note(t, c); want[t, c, ++n[t, c]] = $0; next }
    pass == 1 && /^-I / {
      c = $2; note(t, c); r = $0; sub(/^-I [^ ]+ [0-9]+ /, "", r)
      want[t, c, ++n[t, c]] = "-A " c " " r; ins[t, c, n[t, c]] = $0; next
    }
    pass == 2 && /^\*/ { t = substr($0, 2); table(t); next }
    pass == 2 && /^:/ { c = substr($1, 2); exists[t, c] = 1; lpolicy[t, c] = $2; next }
    pass == 2 && /^-A / {
      c = $2; k = ++nl[t, c]
      if (k > n[t, c]) extra[t, c] = 1; else if ($0 != want[t, c, k]) differs[t, c] = 1
      if (index($0, mark)) {
        if (!((t, c) in nm)) ms[t, ++nmc[t]] = c
        mk[t, c, ++nm[t, c]] = $0
      }
    }
    END {
      # What each chain needs: "flush" (ours, refilled), "replace" (our rules in a built-in chain) or "delete".
      for (i = 1; i <= nt; i++) {
        t = ts[i]
        for (j = 1; j <= nc[t]; j++) {
          c = cs[t, j]
          if ((t, c) in own) {
            if (!((t, c) in exists) || (t, c) in differs || (t, c) in extra || nl[t, c] != n[t, c]) { act[t, c] = "flush"; touch(t) }
            continue
          }
          if ((t, c) in shared && !((t, c) in exists)) { create[t, c] = 1; touch(t) }
          if ((t, c) in policy && lpolicy[t, c] != policy[t, c]) { setpol[t, c] = 1; touch(t) }
          if (n[t, c] + nm[t, c] == 0 || (nl[t, c] >= n[t, c] && !((t, c) in differs) && nm[t, c] == n[t, c])) continue
          act[t, c] = "replace"; touch(t)
        }
        for (j = 1; j <= nmc[t]; j++) if (!((t, ms[t, j]) in named)) { act[t, ms[t, j]] = "delete"; touch(t) }
      }
      print nb + 0
      for (i = 1; i <= nt; i++) {
        t = ts[i]
        if (!(t in busy)) continue
        print "*" t
        for (j = 1; j <= nc[t]; j++) {
          c = cs[t, j]
          if (act[t, c] == "flush" || (t, c) in create) print ":" c " - [0:0]"
          if ((t, c) in setpol) print ":" c " " policy[t, c] " [0:0]"
        }
        for (j = 1; j <= nmc[t]; j++) {
          c = ms[t, j]
          if (act[t, c] == "replace" || act[t, c] == "delete") for (k = 1; k <= nm[t, c]; k++) print "-D" substr(mk[t, c, k], 3)
        }
        for (j = 1; j <= nc[t]; j++) {
          c = cs[t, j]
          if (act[t, c] == "flush") for (k = 1; k <= n[t, c]; k++) print want[t, c, k]
          if (act[t, c] == "replace") for (k = 1; k <= n[t, c]; k++) print ins[t, c, k]
        }
        print "COMMIT"
      }
    }
  ' pass=1 "$file" pass=2 - <<<"$saved")" || die "cannot compare $file with the rules of namespace ${ns:-host}"
  if [[ "${input%%$'\n'*}" == 0 ]]; then return 0; fi
  in_ns "$ns" iptables-restore --noflush <<<"${input#*$'\n'}" || die "iptables-restore failed for $file in namespace ${ns:-host}"
  CHANGED=$((CHANGED + 1))
}

# nft_apply NS FILE: load FILE (which replaces table ip swarmdsl atomically) unless the table already lists exactly as
# the file writes it; an unchanged table keeps its state (numgen counters, rule handles).
nft_apply() {
  local ns="$1" file="$2" want live
  if is_new "$ns"; then
    in_ns "$ns" nft -f "$file" || die "nft -f failed for $file in namespace $ns"
    CHANGED=$((CHANGED + 1))
    return 0
  fi
  want="$(<"$file")"
  want="table ip swarmdsl {${want#*$'\n'table ip swarmdsl \{}"
  if live="$(in_ns "$ns" nft list table ip swarmdsl 2>/dev/null)" && [[ "$live" == "$want" ]]; then return 0; fi
  in_ns "$ns" nft -f "$file" || die "nft -f failed for $file in namespace ${ns:-host}"
  CHANGED=$((CHANGED + 1))
}

# ipvs_same NS FILE: whether the namespace's IPVS services (none in a namespace this run created) named in FILE hold exactly its lines (compared as sets, as
# ipvsadm-save lists them in kernel order); with -C first (a namespace we own) no other service may exist.
ipvs_same() {
  if is_new "$1"; then return 1; fi
  in_ns "$1" ipvsadm-save -n 2>/dev/null | awk '
    pass == 1 && $0 == "-C" { strict = 1; next }
    pass == 1 && NF { want[$0]++; ids[$2 " " $3] = 1; n++; next }
    pass == 2 && NF && (strict || ($2 " " $3) in ids) { if (!($0 in want) || --want[$0] < 0) bad = 1; m++ }
    END { exit !(!bad && n == m) }
  ' pass=1 "$2" pass=2 -
}

""";

    /// <summary>Functions only teardown.sh needs.</summary>
    public const string Teardown = """
REMOVED=0

drop_ns() {
  if ! has_ns "$1"; then return 0; fi
  ip netns del "$1" || die "cannot delete namespace $1"
  REMOVED=$((REMOVED + 1))
}

# Host devices that were there before the first apply (a Docker host's own docker_gwbridge, say): left in place.
declare -A KEPT_LINKS=()

drop_link() {
  if ! has_link "$1" "$2"; then return 0; fi
  if [[ -z "$1" && -n "${KEPT_LINKS["$2"]:-}" ]]; then return 0; fi
  ipns "$1" link del dev "$2" 2>/dev/null || true
  REMOVED=$((REMOVED + 1))
}

# quietly CMD...: run CMD, ignoring failure (for objects that may already be gone).
quietly() { "$@" >/dev/null 2>&1 || true; }

# restore_state: put back the host values apply changed, then forget them.
restore_state() {
  local kind key value policies=""
  if [[ ! -f "$STATE" ]]; then return 0; fi
  while IFS=$'\t' read -r kind key value; do
    case "$kind" in
      sysctl)
        if sysctl -n "$key" >/dev/null 2>&1; then
          sysctl -q -w "$key=$value" || warn "cannot restore sysctl $key=$value"
        fi
        ;;
      policy) policies+="*${key%%/*}"$'\n'":${key#*/} $value [0:0]"$'\n'"COMMIT"$'\n' ;;
      link) if [[ "$value" == kept ]]; then KEPT_LINKS["$key"]=1; fi ;;
    esac
  done <"$STATE"
  if [[ -n "$policies" ]]; then
    printf '%s' "$policies" | iptables-restore --noflush || warn "cannot restore chain policies"
  fi
  rm -f "$STATE"
  rmdir "$STATE_DIR" 2>/dev/null || true
}

# ipt_remove NS OWNED SHARED: delete the rules carrying this topology's comment from chains it does not own and flush the
# chains it owns (OWNED: "table:chain ..."), in one iptables-restore --noflush; then delete each owned chain, and each
# shared one (SHARED, e.g. DOCKER-USER) left empty, one at a time: a chain something else still jumps to (or, shared, still
# holds the administrator's rules) stays, with a warning, instead of failing the whole teardown.
ipt_remove() {
  local ns="$1" owned="$2" shared="$3" saved input chain
  saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace ${ns:-host}"
  input="$(awk -v mark="$IPT_MARK" -v owned="$owned" '
    BEGIN { n = split(owned, o, " "); for (i = 1; i <= n; i++) own[o[i]] = 1 }
    /^\*/ { t = substr($0, 2); d = ""; f = ""; next }
    /^:/ { c = substr($1, 2); if ((t ":" c) in own) f = f "-F " c "\n"; next }
    /^-A / && index($0, mark) && !((t ":" $2) in own) { d = d "-D" substr($0, 3) "\n"; next }
    /^COMMIT/ { if (d f != "") printf "*%s\n%s%sCOMMIT\n", t, d, f }
  ' <<<"$saved")"
  if [[ -n "$input" ]]; then
    printf '%s\n' "$input" | in_ns "$ns" iptables-restore --noflush || die "cannot remove iptables rules in namespace ${ns:-host}"
  fi
  for chain in $owned $shared; do
    awk -v t="*${chain%%:*}" -v c=":${chain#*:}" '$0 == t { on = 1; next } /^\*/ { on = 0 } on && $1 == c { found = 1 } END { exit !found }' <<<"$saved" || continue
    printf '*%s\n-X %s\nCOMMIT\n' "${chain%%:*}" "${chain#*:}" | in_ns "$ns" iptables-restore --noflush 2>/dev/null \
      || warn "chain ${chain%%:*}/${chain#*:} kept in namespace ${ns:-host}: something still jumps to it, or it holds rules that are not ours"
  done
}

""";
}
