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

# scan_links NS...: note which devices exist in each namespace (one ip call per namespace).
declare -A LINKS=()
scan_links() {
  local ns name
  LINKS=()
  for ns in "$@"; do
    if [[ -n "$ns" ]] && ! has_ns "$ns"; then continue; fi
    while read -r name; do
      LINKS["$ns/$name"]=1
    done < <(ipns "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
  done
}
has_link() { [[ -n "${LINKS["$1/$2"]:-}" ]]; }

# has_addr NS DEV CIDR: whether DEV carries CIDR.
has_addr() {
  local a
  while read -r a; do
    if [[ "$a" == "$3" ]]; then return 0; fi
  done < <(ipns "$1" -4 -o addr show dev "$2" 2>/dev/null | awk '{ print $4 }')
  return 1
}

# run_batch NS LINE...: one ip -batch in namespace NS.
run_batch() {
  local ns="$1"
  shift
  if (($# == 0)); then return 0; fi
  printf '%s\n' "$@" | ipns "$ns" -batch - || die "ip -batch failed in namespace ${ns:-host}"
}

# run_bridge_batch NS LINE...: one bridge -batch in namespace NS.
run_bridge_batch() {
  local ns="$1"
  shift
  if (($# == 0)); then return 0; fi
  if [[ -z "$ns" ]]; then
    printf '%s\n' "$@" | bridge -batch - || die "bridge -batch failed in namespace host"
  else
    printf '%s\n' "$@" | bridge -n "$ns" -batch - || die "bridge -batch failed in namespace $ns"
  fi
}

# State: values this node had before apply changed them (host sysctls, chain policies), restored by teardown.
# One line per value: KIND<TAB>KEY<TAB>VALUE.
remembered() {
  [[ -f "$STATE" ]] && awk -F'\t' -v k="$1" -v key="$2" '$1 == k && $2 == key { found = 1 } END { exit !found }' "$STATE"
}
remember() {
  if remembered "$1" "$2"; then return 0; fi
  mkdir -p "$STATE_DIR"
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STATE"
}

""";

    /// <summary>Functions only apply.sh needs.</summary>
    public const string Apply = """
CREATED=0
CHANGED=0

ensure_ns() {
  if has_ns "$1"; then return 0; fi
  ip netns add "$1" || die "cannot create namespace $1"
  CREATED=$((CREATED + 1))
}

# drop_stale NS DEV: delete a half-made device an interrupted run left behind.
drop_stale() {
  if has_link "$1" "$2"; then
    ipns "$1" link del dev "$2" 2>/dev/null || true
  fi
}

# set_sysctl NS KEY VALUE REQUIRED WHERE: set KEY in namespace NS. A missing key stops the script when REQUIRED is 1
# and is skipped with a warning otherwise. Values changed in the host namespace are remembered for teardown.
set_sysctl() {
  local ns="$1" key="$2" value="$3" required="$4" where="$5" current
  if ! current="$(in_ns "$ns" sysctl -n "$key" 2>/dev/null)"; then
    if [[ "$required" == 1 ]]; then die "sysctl $key does not exist in namespace ${ns:-host} ($where)"; fi
    warn "sysctl $key does not exist in namespace ${ns:-host}; skipped ($where)"
    return 0
  fi
  if [[ "$current" == "$value" ]]; then return 0; fi
  if [[ -z "$ns" ]]; then remember sysctl "$key" "$current"; fi
  if ! in_ns "$ns" sysctl -q -w "$key=$value"; then
    if [[ "$required" == 1 ]]; then die "cannot set sysctl $key=$value in namespace ${ns:-host} ($where)"; fi
    warn "cannot set sysctl $key=$value in namespace ${ns:-host}; skipped ($where)"
  fi
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
  local ns="$1" file="$2" saved input count
  saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace ${ns:-host}"
  input="$(awk -v mark="$IPT_MARK" '
    function note(t, c) { if (!((t, c) in named)) { named[t, c] = 1; order[t] = order[t] " " c } }
    pass == 1 && /^\*/ { t = substr($0, 2); if (!(t in file)) { file[t] = 1; tables = tables " " t } next }
    pass == 1 && /^:/ { c = substr($1, 2); note(t, c); if ($2 == "-") own[t, c] = 1; else policy[t, c] = $2; next }
    pass == 1 && /^-A / { note(t, $2); want[t, $2] = want[t, $2] $0 "\n"; n[t, $2]++; next }
    pass == 1 && /^-I / {
      c = $2; note(t, c); r = $0; sub(/^-I [^ ]+ [0-9]+ /, "", r)
      want[t, c] = want[t, c] "-A " c " " r "\n"; insert[t, c] = insert[t, c] $0 "\n"; n[t, c]++; next
    }
    pass == 2 && /^\*/ { t = substr($0, 2); live[t] = 1; ltables = ltables " " t; next }
    pass == 2 && /^:/ { c = substr($1, 2); exists[t, c] = 1; lpolicy[t, c] = $2; next }
    pass == 2 && /^-A / {
      c = $2; rules[t, c] = rules[t, c] $0 "\n"
      if (++k[t, c] <= n[t, c]) top[t, c] = top[t, c] $0 "\n"
      if (index($0, mark)) {
        if (!((t, c) in nm)) marked_chains[t] = marked_chains[t] " " c
        nm[t, c]++; del[t, c] = del[t, c] "-D" substr($0, 3) "\n"
      }
    }
    END {
      changed = 0
      split(tables ltables, all, " ")
      for (i = 1; i in all; i++) {
        t = all[i]
        if (t in done) continue
        done[t] = 1; decl = ""; dels = ""; adds = ""
        m = split(order[t], cs, " ")
        for (j = 1; j <= m; j++) {
          c = cs[j]
          if ((t, c) in own) {
            if ((t, c) in exists && rules[t, c] == want[t, c]) continue
            decl = decl ":" c " - [0:0]\n"; adds = adds want[t, c]; changed++
            continue
          }
          if ((t, c) in policy && lpolicy[t, c] != policy[t, c]) { decl = decl ":" c " " policy[t, c] " [0:0]\n"; changed++ }
          if (n[t, c] + nm[t, c] == 0 || (top[t, c] == want[t, c] && nm[t, c] == n[t, c])) continue
          dels = dels del[t, c]; adds = adds insert[t, c]; changed++
        }
        m = split(marked_chains[t], cs, " ")
        for (j = 1; j <= m; j++)
          if (!((t, cs[j]) in named)) { dels = dels del[t, cs[j]]; changed++ }
        if (decl dels adds != "") out = out "*" t "\n" decl dels adds "COMMIT\n"
      }
      printf "%d\n%s", changed, out
    }
  ' pass=1 "$file" pass=2 - <<<"$saved")" || die "cannot compare $file with the rules of namespace ${ns:-host}"
  count="${input%%$'\n'*}"
  if [[ "$count" == 0 ]]; then return 0; fi
  printf '%s\n' "${input#*$'\n'}" | in_ns "$ns" iptables-restore --noflush \
    || die "iptables-restore failed for $file in namespace ${ns:-host}"
  CHANGED=$((CHANGED + count))
}

# nft_apply NS FILE: load FILE (which replaces table ip swarmdsl atomically) unless the table already lists exactly as
# the file writes it; an unchanged table keeps its state (numgen counters, rule handles).
nft_apply() {
  local ns="$1" file="$2" want live
  want="$(<"$file")"
  want="table ip swarmdsl {${want#*$'\n'table ip swarmdsl \{}"
  if live="$(in_ns "$ns" nft list table ip swarmdsl 2>/dev/null)" && [[ "$live" == "$want" ]]; then return 0; fi
  in_ns "$ns" nft -f "$file" || die "nft -f failed for $file in namespace ${ns:-host}"
  CHANGED=$((CHANGED + 1))
}

# ipvs_same NS FILE: whether the namespace's IPVS services named in FILE hold exactly its lines (compared as sets, as
# ipvsadm-save lists them in kernel order); with -C first (a namespace we own) no other service may exist.
ipvs_same() {
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

drop_link() {
  if ! has_link "$1" "$2"; then return 0; fi
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
    esac
  done <"$STATE"
  if [[ -n "$policies" ]]; then
    printf '%s' "$policies" | iptables-restore --noflush || warn "cannot restore chain policies"
  fi
  rm -f "$STATE"
  rmdir "$STATE_DIR" 2>/dev/null || true
}

# ipt_remove NS OWNED: delete the rules carrying this topology's comment from chains it does not own, then flush and
# delete the chains it owns (OWNED: "table:chain ..."), in one iptables-restore --noflush.
ipt_remove() {
  local ns="$1" owned="$2" saved input
  saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace ${ns:-host}"
  input="$(awk -v mark="$IPT_MARK" -v owned="$owned" '
    BEGIN { n = split(owned, o, " "); for (i = 1; i <= n; i++) own[o[i]] = 1 }
    /^\*/ { t = substr($0, 2); d = ""; f = ""; x = ""; next }
    /^:/ { c = substr($1, 2); if ((t ":" c) in own) { f = f "-F " c "\n"; x = x "-X " c "\n" } next }
    /^-A / && index($0, mark) && !((t ":" $2) in own) { d = d "-D" substr($0, 3) "\n"; next }
    /^COMMIT/ { if (d f x != "") printf "*%s\n%s%s%sCOMMIT\n", t, d, f, x }
  ' <<<"$saved")"
  if [[ -n "$input" ]]; then
    printf '%s\n' "$input" | in_ns "$ns" iptables-restore --noflush || die "cannot remove iptables rules in namespace ${ns:-host}"
  fi
}

""";
}
