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

# want WORD...: make WORD... the set wanted() asks (a set, not a list: an overlay namespace of a large topology has
# thousands of neighbours, and scanning a list for each would be quadratic).
declare -A WANT=()
want() {
  local x
  WANT=()
  for x in "$@"; do if [[ -n "$x" ]]; then WANT["$x"]=1; fi; done
}
wanted() { [[ -n "$1" && -n "${WANT["$1"]:-}" ]]; }

# preflight TOOL...: stop, naming every missing tool.
preflight() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]} > 0)); then die "missing tools: ${missing[*]}"; fi
}

# LINKS["NS/DEV"] is 1 when device DEV exists in namespace NS (set by scan_links, kept up to date by apply as it
# makes and deletes devices), LINK_MAC["NS/DEV"] its MAC as scanned; NEW_NS["NS"] is 1 for a namespace this run
# created (it holds only lo and no rules, so it is neither scanned nor compared). L3["NS"] lists, one per line, what
# the scan found there: "a DEV CIDR" (IPv4 addresses), "r DEST" (routes ip added: proto boot), "n ADDR DEV"
# (permanent neighbours); NS_LINKS["NS"] the devices scanned there, space-separated. A changed topology's leftovers are
# found in them (prune_links, prune_before, prune_after).
declare -A LINKS=() LINK_MAC=() LINK_IDX=() LINK_PEER=() NS_LINKS=() NEW_NS=() L3=()

# scan_links NS...: note what exists in each namespace (one ip process per namespace, parsed in bash).
scan_links() {
  local ns key out line name rest what
  local -a lines=()
  # "7: name@peer: <FLAGS> ... link/ether MAC ..." (device names hold neither ':' nor '@'), "7: name    inet CIDR ...",
  # "ADDR dev DEV lladdr MAC PERMANENT", "DEST [via GW] dev DEV ...".
  local re_link='^([0-9]+): ([^:@ ]+)(@[^:]*)?: <' re_addr='^[0-9]+: ([^ ]+) +inet ([0-9./]+) '
  local re_neigh='^([0-9.]+) dev ([^ ]+) lladdr .*PERMANENT' re_route='^(default|[0-9./]+) '
  for ns in "$@"; do
    if [[ -n "$ns" ]] && ! has_ns "$ns"; then continue; fi
    if is_new "$ns"; then
      LINKS["$ns/lo"]=1
      continue
    fi
    # Addresses, routes and neighbours only where prune_before and prune_after may look (an overlay namespace of a large
    # topology lists thousands of neighbours).
    what=$'link show'
    if owned "$ns"; then what+=$'\naddr show\nroute show proto boot\nneigh show nud permanent'; fi
    out="$(ipns "$ns" -o -4 -batch - <<<"$what")" || die "cannot list the devices of namespace ${ns:-host}"
    key="${ns:--}" # the host namespace ("") is "-" here: an empty subscript is an error
    L3["$key"]=""
    NS_LINKS["$key"]=""
    # One mapfile, then the lines: cutting the first line off a listing of thousands of lines copies the rest each time.
    mapfile -t lines <<<"$out"
    for line in "${lines[@]}"; do
      if [[ "$line" =~ $re_link ]]; then
        name="${BASH_REMATCH[2]}"
        LINKS["$ns/$name"]=1
        # shellcheck disable=SC2034 # read by apply (paired), not by teardown
        LINK_IDX["$ns/$name"]="${BASH_REMATCH[1]}"
        # shellcheck disable=SC2034 # read by apply (paired), not by teardown
        if [[ "${BASH_REMATCH[3]}" == @if* ]]; then LINK_PEER["$ns/$name"]="${BASH_REMATCH[3]#@if}"; fi
        NS_LINKS["$key"]+="$name "
        rest="${line#*link/ether }"
        # shellcheck disable=SC2034 # read by apply (mac_differs), not by teardown
        if [[ "$rest" != "$line" ]]; then LINK_MAC["$ns/$name"]="${rest%% *}"; fi
      elif [[ "$line" =~ $re_addr ]]; then
        L3["$key"]+="a ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'
      elif [[ "$line" =~ $re_neigh ]]; then
        L3["$key"]+="n ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'
      elif [[ "$line" =~ $re_route ]]; then
        L3["$key"]+="r ${BASH_REMATCH[1]}"$'\n'
      fi
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

# State: values this node had before apply changed them (host sysctls, chain policies), restored by teardown, and
# what apply made (namespaces, host bridges, nftables tables), so that a changed topology's leftovers are found.
# One line per value: KIND<TAB>KEY<TAB>VALUE. The first value noted for a key is kept. Read once into JOURNAL
# ("KIND<TAB>KEY" -> VALUE).
declare -A JOURNAL=()
JOURNAL_READ=""
load_journal() {
  local kind key value
  if [[ -n "$JOURNAL_READ" ]]; then return 0; fi
  JOURNAL_READ=1
  [[ -f "$STATE" ]] || return 0
  while IFS=$'\t' read -r kind key value; do
    if [[ -z "${JOURNAL["$kind"$'\t'"$key"]+set}" ]]; then JOURNAL["$kind"$'\t'"$key"]="$value"; fi
  done <"$STATE"
}
remembered() {
  load_journal
  [[ -n "${JOURNAL["$1"$'\t'"$2"]+set}" ]]
}
remember() {
  if remembered "$1" "$2"; then return 0; fi
  make_state_dir
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STATE"
  JOURNAL["$1"$'\t'"$2"]="$3"
}
# forget KIND KEY: drop a remembered value (what it stood for is gone).
forget() {
  remembered "$1" "$2" || return 0
  unset "JOURNAL[$1"$'\t'"$2]"
  awk -F '\t' -v k="$1" -v key="$2" '!($1 == k && $2 == key)' "$STATE" >"$STATE.new" && mv -f "$STATE.new" "$STATE"
}
# make_state_dir: the state directory, made if missing and then marked in itself (every topology and node of the host
# shares it), so that the last teardown removes it only when we made it, never one the administrator made beforehand.
make_state_dir() {
  if [[ ! -d "$STATE_DIR" ]]; then
    mkdir -p "$STATE_DIR"
    : >"$STATE_DIR/.made-by-swarmdsl"
  fi
}
# rejournal KIND KEY VALUE: set a remembered value in one rewrite of the state file (forget, then remember, would leave a
# moment without it, which an interrupted run would take for an older apply's journal).
rejournal() {
  if ! remembered "$1" "$2"; then remember "$1" "$2" "$3"; return 0; fi
  awk -F '\t' -v OFS='\t' -v k="$1" -v key="$2" -v v="$3" '$1 == k && $2 == key { $3 = v } { print }' "$STATE" >"$STATE.new" \
    && mv -f "$STATE.new" "$STATE"
  JOURNAL["$1"$'\t'"$2"]="$3"
}
# lock_node: one apply or teardown of this topology's node at a time (an Ansible run beside a manual one would interleave
# their changes and their journal writes); the lock is held by the script's file descriptor 9 until it exits.
lock_node() {
  make_state_dir
  exec 9>"$STATE.lock" || die "cannot open the lock $STATE.lock"
  flock -n 9 || die "another apply or teardown of node $NODE is running (it holds $STATE.lock)"
}
# owned NS: whether apply made namespace NS in an earlier run (everything in it is then ours).
owned() {
  load_journal
  [[ -n "$1" && "${JOURNAL["netns"$'\t'"$1"]:-}" == made ]] && ! is_new "$1"
}

DROPPED=0
# ipt_over_nft: whether iptables here is iptables-nft and nft is there to list what it made.
ipt_over_nft() { [[ "$(iptables -V 2>/dev/null)" == *nf_tables* ]] && command -v nft >/dev/null 2>&1; }

# drop_made_base_chains NS: iptables-nft makes the ip tables and base chains a rules file names when they are missing,
# and keeps them once our rules are gone. Delete those apply's files made (journal "iptmade": "table" and "table/chain"
# entries, noted by note_made before each load) that are now empty with policy accept; then such a table that holds
# nothing else (DROPPED counts them). A chain holding any rule (ours are gone by now, so someone else's) or whose policy
# is drop stays, and so does every table and chain apply did not make.
drop_made_base_chains() {
  local ns="$1" key="${1:--}" made entry t c listing chains
  DROPPED=0
  remembered iptmade "$key" || return 0
  ipt_over_nft || return 0
  made="${JOURNAL["iptmade"$'\t'"$key"]}"
  for entry in $made; do
    [[ "$entry" == */* ]] || continue
    t="${entry%%/*}" c="${entry#*/}"
    listing="$(in_ns "$ns" nft list table ip "$t" 2>/dev/null)" || continue
    chains=$'\n'"$(nft_chains_of <<<"$listing")"$'\n'
    if [[ "$chains" == *$'\n'"empty $c"$'\n'* ]] && in_ns "$ns" nft delete chain ip "$t" "$c" 2>/dev/null; then DROPPED=$((DROPPED + 1)); fi
  done
  for t in $made; do
    [[ "$t" != */* ]] || continue
    listing="$(in_ns "$ns" nft list table ip "$t" 2>/dev/null)" || continue
    if [[ -z "$(nft_chains_of <<<"$listing")" ]] && in_ns "$ns" nft delete table ip "$t" 2>/dev/null; then DROPPED=$((DROPPED + 1)); fi
  done
}

# nft_chains_of: from one table's "nft list table" text, "empty CHAIN" for a base chain without rules whose policy is
# accept, "busy CHAIN" for any other chain, and "other" for each set, map or other object. Every line inside a chain but
# its type and comment is a rule (nft indents some with a space more, e.g. one whose first match is a comment).
nft_chains_of() {
  awk '
    /^\tchain / { c = $2; base = 0; accept = 0; rules = 0; on = 1; next }
    on && /^\t}/ { print ((base && accept && !rules) ? "empty " : "busy ") c; on = 0; next }
    on && /^\t\ttype .* hook / { base = 1; if ($0 ~ /policy accept;/) accept = 1; next }
    on && /^\t\tcomment / { next }
    on && /^\t\t/ { rules++; next }
    !on && /^\t[a-z]/ { print "other" }
  '
}

# journaled KIND VALUE: the keys of that kind remembered with that value, one per line.
journaled() {
  local entry
  load_journal
  for entry in "${!JOURNAL[@]}"; do
    if [[ "${entry%%$'\t'*}" == "$1" && "${JOURNAL["$entry"]}" == "$2" ]]; then printf '%s\n' "${entry#*$'\t'}"; fi
  done
}

# put_sysctl KEY VALUE: write a host value back; false when it did not take (some sysctl versions exit 0 on a failed
# write, after printing to stderr, so it is read back).
put_sysctl() {
  sysctl -q -w "$1=$2" >/dev/null 2>&1 || true
  local now
  now="$(sysctl -n "$1" 2>/dev/null)" || return 1
  [[ "${now//$'\t'/ }" == "$2" ]]
}

""";

    /// <summary>Functions only apply.sh needs.</summary>
    public const string Apply = """
CREATED=0
CHANGED=0

# make_ns NS...: create the namespaces that do not exist yet, in one ip -batch. Each is remembered as made by apply, or
# kept when it was there before the first apply: only those made are ever pruned or deleted.
make_ns() {
  local ns lines=()
  for ns in "$@"; do
    if has_ns "$ns"; then
      remember netns "$ns" kept
      continue
    fi
    # Remembered before it is made: an apply that stops half way still has it pruned or torn down later.
    remember netns "$ns" made
    lines+=("netns add $ns")
    NEW_NS["$ns"]=1
    CREATED=$((CREATED + 1))
  done
  run_batch "" "${lines[@]}"
}

# A changed topology's leftovers. Re-apply makes the node what a first apply of the new topology would make: what an
# earlier apply made and the plan no longer has is removed; what was there before the first apply is never touched.
PRUNED=0
RESCAN=""

# stale KIND -- KEY...: what an earlier apply remembered making (KIND KEY made) that is not among KEY..., one per line.
# The "--" lets a node with no KEY still pass an argument (shellcheck SC2120).
stale() {
  local kind="$1" key
  shift 2
  want "$@"
  while IFS= read -r key; do
    if [[ -n "$key" ]] && ! wanted "$key"; then printf '%s\n' "$key"; fi
  done <<<"$(journaled "$kind" made)"
}

# prune_namespaces -- NS...: delete the namespaces an earlier apply made that are not among NS (with all they hold).
prune_namespaces() {
  local ns
  while IFS= read -r ns; do
    [[ -n "$ns" ]] || continue
    if has_ns "$ns"; then ip netns del "$ns" || die "cannot delete namespace $ns, which the topology no longer has"; PRUNED=$((PRUNED + 1)); fi
    forget netns "$ns"
  done <<<"$(stale netns "$@")"
}

# prune_host_links -- DEV...: delete the host devices an earlier apply made (bridges) that are not among DEV.
prune_host_links() {
  local dev
  while IFS= read -r dev; do
    [[ -n "$dev" ]] || continue
    if ip link show dev "$dev" >/dev/null 2>&1; then ip link del dev "$dev" || die "cannot delete device $dev, which the topology no longer has"; PRUNED=$((PRUNED + 1)); fi
    forget link "$dev"
  done <<<"$(stale link "$@")"
}

# prune_links NS DEV...: in a namespace an earlier apply made, delete the devices that are not among DEV (lo stays).
# Deleting one end of a veth pair deletes the other, maybe in a namespace already scanned: rescan_links then lists again.
prune_links() {
  local ns="$1" dev
  shift
  owned "$ns" || return 0
  want "$@"
  for dev in ${NS_LINKS["$ns"]:-}; do
    if [[ "$dev" == lo ]] || wanted "$dev"; then continue; fi
    ipns "$ns" link del dev "$dev" 2>/dev/null || true
    PRUNED=$((PRUNED + 1))
    RESCAN=1
  done
}

# rescan_links NS...: scan again after prune_links deleted devices.
rescan_links() {
  if [[ -z "$RESCAN" ]]; then return 0; fi
  LINKS=()
  LINK_MAC=()
  LINK_IDX=()
  LINK_PEER=()
  scan_links "$@"
}

# mac_differs NS DEV MAC: whether DEV, found by the scan in a namespace an earlier apply made, has another MAC (devices
# made by this run get theirs when made).
mac_differs() {
  owned "$1" || return 1
  [[ -n "${LINK_MAC["$1/$2"]:-}" && "${LINK_MAC["$1/$2"]}" != "$3" ]]
}

# paired NSA DEVA NSB DEVB: whether the two devices the scan found are each other's veth peer (each one's @ifN is the
# other's index). A changed topology can leave both ends in place but paired otherwise (a service's networks reordered:
# eth0 plugged into the other overlay): such a pair is made again. True when either end was not scanned.
paired() {
  local a="${1}/${2}" b="${3}/${4}"
  [[ -z "${LINK_IDX["$a"]:-}" || -z "${LINK_IDX["$b"]:-}" ]] && return 0
  [[ "${LINK_PEER["$a"]:-}" == "${LINK_IDX["$b"]}" && "${LINK_PEER["$b"]:-}" == "${LINK_IDX["$a"]}" ]]
}

# prune_before NS "DEV CIDR"...: in a namespace an earlier apply made, delete the IPv4 addresses not listed, before the
# listed ones are added (deleting a subnet's first address after adding a second one in that subnet would take both).
prune_before() {
  local ns="$1" kind a b line
  shift
  owned "$ns" || return 0
  want "$@"
  local -a lines=()
  while read -r kind a b; do
    # lo keeps 127.0.0.1/8, which the kernel gives it.
    if [[ "$kind" == a && "$a" != lo ]] && ! wanted "$a $b"; then lines+=("address del $b dev $a"); fi
  done <<<"${L3["$ns"]:-}"
  if ((${#lines[@]} == 0)); then return 0; fi
  PRUNED=$((PRUNED + ${#lines[@]}))
  local IFS=$'\n'
  ipns "$ns" -force -batch - <<<"${lines[*]}" >/dev/null 2>&1 || true
}

# prune_host_bridge DEV CIDR...: the IPv4 addresses of a host bridge apply made, or found there before the first apply,
# that are neither listed nor (a found one) its own from before: gone before the listed ones are added (a changed
# subnet of docker_gwbridge).
prune_host_bridge() {
  local dev="$1" line addr own
  shift
  load_journal
  own="${JOURNAL["link"$'\t'"$dev"]:-}"
  [[ "$own" == made || "$own" == kept ]] || return 0
  has_link "" "$dev" || return 0
  local -a had=()
  if [[ "$own" == kept ]]; then read -r -a had <<<"${JOURNAL["linkaddrs"$'\t'"$dev"]:-}"; fi
  set -- "$@" "${had[@]}"
  want "$@"
  while IFS= read -r line; do
    [[ "$line" == *" inet "* ]] || continue
    line="${line#* inet }"
    addr="${line%% *}"
    if ! wanted "$addr"; then
      ip address del "$addr" dev "$dev" 2>/dev/null || true
      PRUNED=$((PRUNED + 1))
    fi
  done <<<"$(ip -o -4 addr show dev "$dev" 2>/dev/null)"
}

# prune_after NS "r DEST"|"n ADDR DEV"...: in a namespace an earlier apply made, delete the routes it added and the
# permanent neighbours that are not listed (those listed were just replaced).
prune_after() {
  local ns="$1" kind a b
  shift
  owned "$ns" || return 0
  want "$@"
  local -a lines=()
  while read -r kind a b; do
    if [[ "$kind" == r ]] && ! wanted "r $a"; then lines+=("route del $a"); fi
    if [[ "$kind" == n ]] && ! wanted "n $a $b"; then lines+=("neigh del $a dev $b"); fi
  done <<<"${L3["$ns"]:-}"
  if ((${#lines[@]} == 0)); then return 0; fi
  PRUNED=$((PRUNED + ${#lines[@]}))
  local IFS=$'\n'
  ipns "$ns" -force -batch - <<<"${lines[*]}" >/dev/null 2>&1 || true
}

# prune_fdb NS DEV MAC...: in a namespace an earlier apply made, delete the permanent entries of VXLAN device DEV
# whose MAC is not listed.
prune_fdb() {
  local ns="$1" dev="$2" mac rest dst
  shift 2
  owned "$ns" || return 0
  want "$@"
  local -a lines=()
  while read -r mac rest; do
    [[ "$rest" == *" self permanent"* && "$rest" != *master* ]] || continue
    if wanted "$mac"; then continue; fi
    dst=""
    if [[ "$rest" == *"dst "* ]]; then dst="${rest#*dst }" && dst=" dst ${dst%% *}"; fi
    lines+=("fdb del $mac dev $dev$dst self")
  done <<<"$(bridge -n "$ns" fdb show dev "$dev" 2>/dev/null)"
  if ((${#lines[@]} == 0)); then return 0; fi
  PRUNED=$((PRUNED + ${#lines[@]}))
  local IFS=$'\n'
  bridge -n "$ns" -force -batch - <<<"${lines[*]}" >/dev/null 2>&1 || true
}

# prune_ipt -- NS...: remove this topology's rules (and its chains) from the namespaces an earlier apply loaded rules into
# that are not among NS (the host is "-"): the plan has no rules there any more, so ipt_apply is not called for them.
prune_ipt() {
  local ns table
  while IFS= read -r ns; do
    [[ -n "$ns" ]] || continue
    if [[ "$ns" == - ]]; then ns=""; fi
    if [[ -z "$ns" ]] || has_ns "$ns"; then
      ipt_apply "$ns" /dev/null
      if [[ -z "$ns" ]]; then
        drop_made_base_chains ""
        PRUNED=$((PRUNED + DROPPED))
        forget iptmade -
      fi
      # In a namespace apply made, the tables iptables made for those rules go too, when nothing is left in them (a first
      # apply of the plan makes none there); iptables-nft keeps a table once made, nft can delete it.
      if owned "$ns" && command -v nft >/dev/null 2>&1; then
        for table in $(in_ns "$ns" iptables-save | awk '/^\*/ { t = substr($0, 2); keep[t] = 0; order[++n] = t } /^-A / { keep[t] = 1 } END { for (i = 1; i <= n; i++) if (!keep[order[i]]) print order[i] }'); do
          in_ns "$ns" nft delete table ip "$table" 2>/dev/null || true
        done
      fi
    fi
    forget ipt "${ns:--}"
  done <<<"$(stale ipt "$@")"
}

# prune_nft -- NS...: delete table ip swarmdsl from the namespaces an earlier apply loaded it into that are not among NS
# (the host is "-").
prune_nft() {
  local ns
  while IFS= read -r ns; do
    [[ -n "$ns" ]] || continue
    if [[ "$ns" == - ]]; then ns=""; fi
    if [[ -z "$ns" ]] || has_ns "$ns"; then
      if in_ns "$ns" nft delete table ip swarmdsl 2>/dev/null; then PRUNED=$((PRUNED + 1)); fi
    fi
    forget nft "${ns:--}"
  done <<<"$(stale nft "$@")"
}

# restore_unwanted KIND KEY...: put back the host values of KIND (sysctl, policy) an earlier apply changed and the plan
# no longer sets, as teardown would.
restore_unwanted() {
  local kind="$1" entry key value
  shift
  want "$@"
  load_journal
  for entry in "${!JOURNAL[@]}"; do
    [[ "${entry%%$'\t'*}" == "$kind" ]] || continue
    key="${entry#*$'\t'}"
    if wanted "$key"; then continue; fi
    value="${JOURNAL["$entry"]}"
    case "$kind" in
      sysctl) put_sysctl "$key" "$value" || warn "cannot put sysctl $key back to $value" ;;
      policy) printf '*%s\n:%s %s [0:0]\nCOMMIT\n' "${key%%/*}" "${key#*/}" "$value" | iptables-restore -w --noflush || warn "cannot put the policy of $key back to $value" ;;
    esac
    PRUNED=$((PRUNED + 1))
    forget "$kind" "$key"
  done
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

# remember_link_state DEV: note, once, the MTU, up state and IPv4 addresses of a host device that was there before the
# first apply (a Docker host's own docker_gwbridge), which apply is about to configure: teardown puts them back.
remember_link_state() {
  local out mtu flags up=down addrs="" line
  if remembered linkstate "$1"; then return 0; fi
  out="$(ip -o link show dev "$1")" || return 0
  mtu="${out#* mtu }" && mtu="${mtu%% *}"
  flags="${out#*<}" && flags="${flags%%>*}"
  if [[ ",$flags," == *",UP,"* ]]; then up=up; fi
  while IFS= read -r line; do
    [[ "$line" == *" inet "* ]] || continue
    line="${line#* inet }"
    addrs+="${line%% *} "
  done <<<"$(ip -o -4 addr show dev "$1")"
  remember linkaddrs "$1" "${addrs% }"
  remember linkstate "$1" "$mtu $up"
}

# made NS DEV: note a device the coming batch makes.
made() { LINKS["$1/$2"]=1; }

# set_sysctls NS (KEY VALUE MODE WHERE)...: set the keys in namespace NS with one sysctl to read them all and one to
# write those that differ. A missing key stops the script when MODE is 1 and is skipped with a warning otherwise; MODE
# raise writes only over a lower whole number (Docker's overlay driver never lowers the neighbour thresholds).
# Values changed in the host namespace are remembered for teardown.
set_sysctls() {
  local ns="$1" out line i key value required where
  shift
  local -a keys=() writes=()
  local -A now=() fresh=()
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
    if [[ "$required" == raise && "${now["$key"]}" =~ ^[0-9]{1,18}$ ]] && ((10#${now["$key"]} >= 10#$value)); then continue; fi
    # Journaled before the write (a run killed after it still restores); forgotten below if the write does not take.
    if [[ -z "$ns" ]] && ! remembered sysctl "$key"; then
      remember sysctl "$key" "${now["$key"]//$'\t'/ }"
      fresh["$key"]=1
    fi
    writes+=("$key=$value")
  done
  if ((${#writes[@]} == 0)); then return 0; fi
  in_ns "$ns" sysctl -q -w "${writes[@]}" >/dev/null 2>&1 || true
  # Read back what was written: some sysctl versions exit 0 when a write fails ("Invalid argument").
  local -a written=()
  for line in "${writes[@]}"; do written+=("${line%%=*}"); done
  out="$(in_ns "$ns" sysctl -e "${written[@]}" 2>/dev/null)" || true
  now=()
  while [[ -n "$out" ]]; do
    line="${out%%$'\n'*}"
    if [[ "$out" == *$'\n'* ]]; then out="${out#*$'\n'}"; else out=""; fi
    now["${line%% = *}"]="${line#* = }"
  done
  for ((i = 1; i <= $#; i += 4)); do
    key="${!i}" && value="${*:i+1:1}" && required="${*:i+2:1}" && where="${*:i+3:1}"
    [[ -n "${now["$key"]+set}" ]] || continue
    if [[ "${now["$key"]//$'\t'/ }" == "$value" ]]; then continue; fi
    if [[ "$required" == raise && "${now["$key"]}" =~ ^[0-9]{1,18}$ ]] && ((10#${now["$key"]} >= 10#$value)); then continue; fi
    # Unchanged, so teardown has nothing to put back (it would overwrite a later change of the administrator's).
    if [[ -n "${fresh["$key"]:-}" ]]; then forget sysctl "$key"; fi
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

# note_made FILE LISTING: add to the journal's "iptmade" the ip tables and built-in chains FILE names that LISTING
# (nft list chains ip) lacks: iptables-restore will make them.
note_made() {
  local made old
  made="$(awk '
    function made(k) { if (!(k in have) && !(k in out)) { out[k] = 1; printf "%s ", k } }
    pass == 1 && $1 == "table" && $2 == "ip" { t = $3; have[t] = 1; next }
    pass == 1 && $1 == "chain" { have[t "/" $2] = 1; next }
    pass == 2 && /^\*/ { t = substr($0, 2); made(t); next }
    pass == 2 && /^:/ { c = substr($1, 2); if ($2 == "-") user[t "/" c] = 1; else made(t "/" c); next }
    pass == 2 && /^-[AI] / && !((t "/" $2) in user) { made(t "/" $2) }
  ' pass=1 - pass=2 "$1" <<<"$2")" || return 0
  [[ -n "$made" ]] || return 0
  load_journal
  old="${JOURNAL["iptmade"$'\t'-]:-}"
  rejournal iptmade - "$old$made"
}

# note_mine FILE LISTING: of the user chains the host's FILE declares (ours, and shared ones like DOCKER-USER), set
# FOUND_CHAINS to those LISTING (iptables-save) already has that no apply of ours made ("table/chain ..."): a Docker
# host's own DOCKER, DOCKER-INGRESS or DOCKER-USER, which apply must not flush and teardown must not delete. Those
# missing are added to the journal's "iptmine" before the load makes them. On a host an older apply journaled without
# "iptmine", an existing chain counts as ours only when it holds rules and all of them are ours.
FOUND_CHAINS=""
note_mine() {
  local mine lists legacy=""
  load_journal
  if remembered ipt - && ! remembered iptmine -; then legacy=1; fi
  mine="${JOURNAL["iptmine"$'\t'-]:-}"
  # One line, "MADE<TAB>FOUND" (two lines would lose the second when it is empty).
  lists="$(awk -v mine=" $mine " -v legacy="$legacy" -v mark="$IPT_MARK" '
    pass == 1 && /^\*/ { t = substr($0, 2); next }
    pass == 1 && /^:/ && $2 == "-" { k = t "/" substr($1, 2); if (!(k in decl)) { decl[k] = 1; order[++n] = k }; next }
    pass == 2 && /^\*/ { t = substr($0, 2); next }
    pass == 2 && /^:/ { have[t "/" substr($1, 2)] = 1; next }
    pass == 2 && /^-A / { k = t "/" $2; if (index($0, mark)) ours[k] = 1; else theirs[k] = 1; next }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (index(mine, " " k " ")) continue
        if (!(k in have) || (legacy && (k in ours) && !(k in theirs))) made = made k " "; else found = found k " "
      }
      printf "%s\t%s\n", made, found
    }
  ' pass=1 "$1" pass=2 - <<<"$2")" || die "cannot compare $1 with the host's chains"
  FOUND_CHAINS="${lists#*$'\t'}"
  # Noted even when nothing is new, so that a later apply does not take this journal for an older one's.
  if [[ -n "${lists%%$'\t'*}" ]] || ! remembered iptmine -; then rejournal iptmine - "$mine${lists%%$'\t'*}"; fi
}
# mine_has TABLE/CHAIN: whether an apply of ours made that host chain.
mine_has() {
  load_journal
  [[ " ${JOURNAL["iptmine"$'\t'-]:-} " == *" $1 "* ]]
}
# mine_forget TABLE/CHAIN: the host chain is gone.
mine_forget() {
  local mine
  remembered iptmine - || return 0
  mine=" ${JOURNAL["iptmine"$'\t'-]} "
  mine="${mine/ "$1" / }"
  rejournal iptmine - "${mine# }"
}

# ipt_apply NS FILE: make the namespace's rules what FILE says, changing only what differs, in one
# iptables-restore --noflush (none when nothing differs, so counters stay). Compared chain by chain with iptables-save:
# a chain FILE declares (ours) is flushed and refilled unless its rules are already exactly the file's; in a built-in
# chain our rules (found by their comment) must be the first ones, in order, else they are deleted and inserted again
# at the top; our rules in chains FILE no longer mentions (a changed topology) are deleted; a DROP policy is set unless
# already set. Foreign rules are never touched.
ipt_apply() {
  local ns="$1" file="$2" saved input
  # What iptables-nft is about to make for the host's file, so that teardown deletes only that (nothing when nft cannot
  # list what is there).
  if [[ -z "$ns" ]] && ipt_over_nft && saved="$(nft list chains ip 2>/dev/null)"; then note_made "$file" "$saved"; fi
  # Which of the host's chains are ours, read before this apply is journaled (an older apply's journal is told by it).
  FOUND_CHAINS=""
  if [[ -z "$ns" ]]; then
    saved="$(iptables-save)" || die "iptables-save failed in namespace host"
    note_mine "$file" "$saved"
  fi
  remember ipt "${ns:--}" made
  if is_new "$ns"; then
    in_ns "$ns" iptables-restore -w --noflush <"$file" || die "iptables-restore failed for $file in namespace $ns"
    CHANGED=$((CHANGED + 1))
    return 0
  fi
  if [[ -n "$ns" ]]; then saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace $ns"; fi
  input="$(awk -v mark="$IPT_MARK" -v found=" $FOUND_CHAINS " '
    function note(t, c) { if (!((t, c) in named)) { named[t, c] = 1; cs[t, ++nc[t]] = c } }
    function table(t) { if (!(t in seen)) { seen[t] = 1; ts[++nt] = t } }
    function touch(t) { if (!(t in busy)) { busy[t] = 1; nb++ } }
    pass == 1 && /^\*/ { t = substr($0, 2); table(t); next }
    pass == 1 && /^# shared / { shared[t, $3] = 1; next }
    pass == 1 && /^:/ {
      c = substr($1, 2); note(t, c)
      # A chain the host had before our first apply is managed as a shared one: our rules at its top, never flushed.
      if ($2 == "-" && index(found, " " t "/" c " ")) shared[t, c] = 1
      if ((t, c) in shared) ; else if ($2 == "-") own[t, c] = 1; else policy[t, c] = $2
      next
    }
    pass == 1 && /^-A / {
      c = $2; note(t, c)
      # In a chain the host had (the DOCKER-INGRESS of a Docker host), our closing unconditional RETURN would hide the
      # rules below ours: left out (the end of the chain returns all the same).
      if ((t, c) in shared && $0 ~ /^-A [^ ]+ (-m comment --comment "[^"]*" )?-j RETURN$/) next
      want[t, c, ++n[t, c]] = $0
      if ((t, c) in shared) { r = $0; sub(/^-A [^ ]+ /, "", r); ins[t, c, n[t, c]] = "-I " c " " n[t, c] " " r }
      next
    }
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
        for (j = 1; j <= nmc[t]; j++) {
          c = ms[t, j]
          if ((t, c) in named) continue
          act[t, c] = "delete"; touch(t)
          # A user chain ("-" policy) that held only our rules: ours, left empty by the deletes; removed after the restore.
          if (lpolicy[t, c] == "-" && nl[t, c] == nm[t, c]) stale = stale " " t ":" c
        }
      }
      print (nb + 0) stale
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
  # The first line: how many tables change, then the chains of ours the file no longer declares ("table:chain").
  local head="${input%%$'\n'*}" chain
  if [[ "${head%% *}" == 0 ]]; then return 0; fi
  in_ns "$ns" iptables-restore -w --noflush <<<"${input#*$'\n'}" || die "iptables-restore failed for $file in namespace ${ns:-host}"
  CHANGED=$((CHANGED + 1))
  # One at a time, as teardown does: one that something else still jumps to stays, with a warning.
  for chain in ${head#* }; do
    [[ "$chain" == *:* ]] || continue
    # On the host, only a chain an apply of ours made (a Docker host's own chain that held only our rules stays).
    if [[ -z "$ns" ]] && ! mine_has "${chain%%:*}/${chain#*:}"; then continue; fi
    if printf '*%s\n-X %s\nCOMMIT\n' "${chain%%:*}" "${chain#*:}" | in_ns "$ns" iptables-restore -w --noflush 2>/dev/null; then
      PRUNED=$((PRUNED + 1))
      if [[ -z "$ns" ]]; then mine_forget "${chain%%:*}/${chain#*:}"; fi
    else
      warn "chain ${chain%%:*}/${chain#*:} kept in namespace ${ns:-host}: the topology no longer has it, but something still jumps to it"
    fi
  done
}

# nft_apply NS FILE: load FILE (which replaces table ip swarmdsl atomically) unless the table already lists exactly as
# the file writes it; an unchanged table keeps its state (numgen counters, rule handles).
nft_apply() {
  local ns="$1" file="$2" want live
  remember nft "${ns:--}" made
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
  # One that was there before the first apply stays (what apply put in it stays with it, as on a kept host bridge).
  if [[ -n "${KEPT_NS["$1"]:-}" ]]; then return 0; fi
  ip netns del "$1" || die "cannot delete namespace $1"
  REMOVED=$((REMOVED + 1))
}

# Host devices that were there before the first apply (a Docker host's own docker_gwbridge, say): left in place.
declare -A KEPT_LINKS=() KEPT_NS=() LINK_STATE=() LINK_ADDRS=()
# Namespaces and host devices apply remembers making (also those of a topology's earlier version that a re-apply did
# not get to remove).
MADE_NS=()
MADE_LINKS=()

drop_link() {
  if ! has_link "$1" "$2"; then return 0; fi
  if [[ -z "$1" && -n "${KEPT_LINKS["$2"]:-}" ]]; then
    restore_link "$2"
    return 0
  fi
  ipns "$1" link del dev "$2" 2>/dev/null || true
  REMOVED=$((REMOVED + 1))
}

# restore_kept DEV: a host device the first apply found (remembered kept) is put back as it was; any other is left alone
# (one apply made went with MADE_LINKS; one no apply remembers is not ours).
restore_kept() {
  if [[ -n "${KEPT_LINKS["$1"]:-}" ]] && has_link "" "$1"; then restore_link "$1"; fi
}

# restore_link DEV: put a kept host device back as the first apply found it: its MTU, its IPv4 addresses (those apply
# added go) and its up state.
restore_link() {
  local state="${LINK_STATE["$1"]:-}" addr line
  if [[ -z "$state" ]]; then return 0; fi
  local -a had=()
  read -r -a had <<<"${LINK_ADDRS["$1"]:-}"
  want "${had[@]}"
  while IFS= read -r line; do
    [[ "$line" == *" inet "* ]] || continue
    line="${line#* inet }"
    addr="${line%% *}"
    if ! wanted "$addr"; then quietly ip address del "$addr" dev "$1"; fi
  done <<<"$(ip -o -4 addr show dev "$1" 2>/dev/null)"
  for addr in "${had[@]}"; do quietly ip address add "$addr" dev "$1"; done
  quietly ip link set dev "$1" mtu "${state%% *}"
  if [[ "${state#* }" == down ]]; then quietly ip link set dev "$1" down; fi
}


# quietly CMD...: run CMD, ignoring failure (for objects that may already be gone).
quietly() { "$@" >/dev/null 2>&1 || true; }

# restore_state: put back the host values apply changed, and read what it made and kept (forget_state drops the file).
restore_state() {
  local kind key value policies=""
  if [[ ! -f "$STATE" ]]; then return 0; fi
  while IFS=$'\t' read -r kind key value; do
    case "$kind" in
      sysctl)
        if sysctl -n "$key" >/dev/null 2>&1; then
          put_sysctl "$key" "$value" || warn "cannot restore sysctl $key=$value"
        fi
        ;;
      policy) policies+="*${key%%/*}"$'\n'":${key#*/} $value [0:0]"$'\n'"COMMIT"$'\n' ;;
      link) if [[ "$value" == kept ]]; then KEPT_LINKS["$key"]=1; else MADE_LINKS+=("$key"); fi ;;
      linkstate) LINK_STATE["$key"]="$value" ;;
      linkaddrs) LINK_ADDRS["$key"]="$value" ;;
      netns) if [[ "$value" == made ]]; then MADE_NS+=("$key"); else KEPT_NS["$key"]=1; fi ;;
    esac
  done <"$STATE"
  if [[ -n "$policies" ]]; then
    printf '%s' "$policies" | iptables-restore -w --noflush || warn "cannot restore chain policies"
  fi
}

# forget_state: drop the state file once teardown has removed everything (kept until then, so a teardown that stops
# part way still knows, when run again, which host bridges apply made).
forget_state() {
  local left
  rm -f "$STATE" "$STATE.lock"
  [[ -f "$STATE_DIR/.made-by-swarmdsl" ]] || return 0
  left=$(find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name .made-by-swarmdsl -print -quit 2>/dev/null || true)
  if [[ -z "$left" ]]; then
    rm -f "$STATE_DIR/.made-by-swarmdsl"
    rmdir "$STATE_DIR" 2>/dev/null || true
  fi
}

# ipt_remove NS OWNED SHARED: delete the rules carrying this topology's comment, in one iptables-restore --noflush; a chain
# it owns (OWNED: "table:chain ...") whose rules all carry the comment is flushed instead (quicker than thousands of -D).
# A chain of that name holding rules that are not ours (a Docker host's DOCKER-INGRESS, met by a teardown without an
# apply) loses only our rules. Then each chain of ours is deleted one at a time (on the host, only those an apply made:
# see below): a chain something else still jumps to, or that still holds rules that are not ours, stays, with a
# warning, instead of failing the whole teardown.
ipt_remove() {
  local ns="$1" owned="$2" shared="$3" saved input chain
  saved="$(in_ns "$ns" iptables-save)" || die "iptables-save failed in namespace ${ns:-host}"
  input="$(awk -v mark="$IPT_MARK" -v owned="$owned" '
    BEGIN { n = split(owned, o, " "); for (i = 1; i <= n; i++) own[o[i]] = 1 }
    /^\*/ { t = substr($0, 2); split("", chains); split("", foreign); split("", dels); nc = 0; next }
    /^:/ { c = substr($1, 2); chains[++nc] = c; next }
    /^-A / {
      if (!index($0, mark)) { foreign[$2] = 1; next }
      dels[$2] = dels[$2] "-D" substr($0, 3) "\n"
      next
    }
    /^COMMIT/ {
      out = ""
      for (i = 1; i <= nc; i++) {
        c = chains[i]
        if ((t ":" c) in own && !(c in foreign)) { if (c in dels) out = out "-F " c "\n" }
        else if (c in dels) out = out dels[c]
      }
      if (out != "") printf "*%s\n%sCOMMIT\n", t, out
    }
  ' <<<"$saved")"
  if [[ -n "$input" ]]; then
    printf '%s\n' "$input" | in_ns "$ns" iptables-restore -w --noflush || die "cannot remove iptables rules in namespace ${ns:-host}"
  fi
  # The chains to delete: in a namespace apply made, the plan's; on the host only those an apply of ours made (journal
  # "iptmine", which also holds a chain an earlier version of the topology made); with an older apply's journal, the
  # plan's; with none, those of the plan that held our rules and nothing else. A Docker host's own chains stay.
  local chains="$owned $shared"
  if [[ -z "$ns" ]]; then
    load_journal
    if remembered iptmine -; then
      chains="${JOURNAL["iptmine"$'\t'-]}"
      chains="${chains//\//:}"
    elif ! remembered ipt -; then
      chains="$(awk -v mark="$IPT_MARK" -v list=" $owned $shared " '
        /^\*/ { t = substr($0, 2); next }
        /^-A / { k = t ":" $2; if (index($0, mark)) ours[k] = 1; else theirs[k] = 1 }
        END { n = split(list, l, " "); for (i = 1; i <= n; i++) if ((l[i] in ours) && !(l[i] in theirs)) printf "%s ", l[i] }
      ' <<<"$saved")"
    fi
  fi
  for chain in $chains; do
    awk -v t="*${chain%%:*}" -v c=":${chain#*:}" '$0 == t { on = 1; next } /^\*/ { on = 0 } on && $1 == c { found = 1 } END { exit !found }' <<<"$saved" || continue
    printf '*%s\n-X %s\nCOMMIT\n' "${chain%%:*}" "${chain#*:}" | in_ns "$ns" iptables-restore -w --noflush 2>/dev/null \
      || warn "chain ${chain%%:*}/${chain#*:} kept in namespace ${ns:-host}: something still jumps to it, or it holds rules that are not ours"
  done
}

""";
}
