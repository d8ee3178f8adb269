#!/usr/bin/env bash
# Provisioning benchmark (docs/performance.md): one node of a topology with 1,000 published ports is applied in scratch
# network namespaces two ways, timed with hyperfine (Debian: apt-get install hyperfine):
#   batched   - the emitted apply.sh as is: one iptables-restore per namespace;
#   per rule  - the same apply.sh with ./iptables-restore first on PATH, which loads the same input the way Docker programs
#               rules: one iptables process per rule.
# Then the host namespace's rules alone, both ways. Before timing, both ways are run once and their rulesets compared.
#
# Usage: sudo bench/provisioning/run.sh        (RUNS=3 PORTS=1000 RESULTS=<folder for hyperfine exports>)
# Needs root. Everything it creates is named sdb<6 hex>-... (namespaces) or /tmp/sdb<6 hex>.* and is deleted on exit;
# the root namespace's links and firewall are never touched.
set -euo pipefail

RUNS="${RUNS:-3}"
PORTS="${PORTS:-1000}"
RESULTS="${RESULTS:-}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

if [[ $EUID -ne 0 ]]; then echo "run.sh: needs root (it creates network namespaces)" >&2; exit 2; fi
for tool in ip nsenter iptables iptables-save nft python3 hyperfine dotnet awk; do
  command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (hyperfine: apt-get install hyperfine)" >&2; exit 2; }
done
[[ "$RUNS" =~ ^[0-9]+$ && "$PORTS" =~ ^[0-9]+$ ]] || { echo "run.sh: RUNS and PORTS must be numbers" >&2; exit 2; }

PREFIX="sdb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
WORK="$(mktemp -d "/tmp/${PREFIX}.XXXXXX")"
NODE="${PREFIX}-node"
FABRIC="${PREFIX}-fabric"

delete_namespaces() {
  local ns
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^${PREFIX}-" || true); do ip netns del "$ns" 2>/dev/null || true; done
}
cleanup() { delete_namespaces; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r), $(iptables --version)"

echo "== topology: 2 nodes, 20 services, 20 tasks, $PORTS published ports; node-001's files (nftables load balancing: no IPVS needed)"
dotnet build -c Release "$ROOT/src/Cli" -v q --nologo >/dev/null
SWARMDSL=(dotnet "$ROOT/src/Cli/bin/Release/net10.0/swarmdsl.dll")
"${SWARMDSL[@]}" synth --name "ports$PORTS" --nodes 2 --overlays 1 --services 20 --tasks 20 --ports "$PORTS" -o "$WORK/topology.swarm.yaml"
"${SWARMDSL[@]}" emit "$WORK/topology.swarm.yaml" -o "$WORK/out" --node node-001 --lb nftables >/dev/null
FILES="$WORK/out/node-001"
ADDRESS="$(awk '/^  node-001:/ { n = 1 } n && /address:/ { print $2; exit }' "$WORK/topology.swarm.yaml")"
RULES="$(cat "$FILES"/iptables-*.rules | grep -c '^-[AI] ')"
HOST_RULES="$(grep -c '^-[AI] ' "$FILES/iptables-host.rules")"
IPT_FILES=("$FILES"/iptables-*.rules)
echo "   ${#IPT_FILES[@]} iptables files, $RULES rules ($HOST_RULES in the host namespace)"

# A fresh node before every timed run: its namespace with the underlay interface (a veth to a fabric namespace).
cat >"$WORK/fresh.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
for ns in \$(ip netns list | awk '{ print \$1 }' | grep '^${PREFIX}-' || true); do ip netns del "\$ns"; done
rm -rf '$WORK/state' && mkdir -p '$WORK/state'
ip netns add '$NODE'
ip netns add '$FABRIC'
ip -n '$NODE' link set lo up
ip -n '$FABRIC' link add f0 type veth peer name eth0 netns '$NODE'
ip -n '$FABRIC' link set f0 up
ip -n '$NODE' addr add '$ADDRESS' dev eth0
ip -n '$NODE' link set eth0 up
EOF

# apply.sh [per-rule]: node-001's emitted apply.sh inside the node namespace, as the lab runs it.
cat >"$WORK/apply.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
path="\$PATH"
if [[ "\${1:-}" == per-rule ]]; then path='$HERE':"\$PATH"; fi
nsenter --net='/run/netns/$NODE' -- env PATH="\$path" SWARMDSL_NETNS_PREFIX='$NODE-' SWARMDSL_STATE_DIR='$WORK/state' \
  bash '$FILES/apply.sh' >'$WORK/apply.log' 2>&1 || { cat '$WORK/apply.log' >&2; exit 1; }
EOF

# host-rules.sh [per-rule]: only the host namespace's rules file, loaded into the bare node namespace.
cat >"$WORK/host-rules.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
path="\$PATH"
if [[ "\${1:-}" == per-rule ]]; then path='$HERE':"\$PATH"; fi
nsenter --net='/run/netns/$NODE' -- env PATH="\$path" iptables-restore --noflush <'$FILES/iptables-host.rules'
EOF
chmod +x "$WORK/fresh.sh" "$WORK/apply.sh" "$WORK/host-rules.sh"

# Every namespace's ruleset (counters and comments of iptables-save itself dropped), to compare the two ways.
rulesets() {
  local ns
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^${PREFIX}-" | sort); do
    echo "## ${ns#"$PREFIX"-}"
    ip netns exec "$ns" iptables-save | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'
  done
}
echo "== check: both ways build the same rulesets"
"$WORK/fresh.sh" && "$WORK/apply.sh" && rulesets >"$WORK/batched.txt"
"$WORK/fresh.sh" && "$WORK/apply.sh" per-rule && rulesets >"$WORK/per-rule.txt"
if ! diff -q "$WORK/batched.txt" "$WORK/per-rule.txt" >/dev/null; then
  echo "run.sh: the per-rule way built a different ruleset:" >&2
  diff "$WORK/batched.txt" "$WORK/per-rule.txt" | head -20 >&2
  exit 1
fi
echo "   same rules: $(grep -c '^-A' "$WORK/batched.txt") across $(grep -c '^## ' "$WORK/batched.txt") namespaces"

export_args() { if [[ -n "$RESULTS" ]]; then mkdir -p "$RESULTS"; echo --export-markdown "$RESULTS/$1.md" --export-json "$RESULTS/$1.json"; fi; }

echo "== the node: apply.sh"
# shellcheck disable=SC2046
hyperfine --runs "$RUNS" --prepare "$WORK/fresh.sh" $(export_args node) \
  -n "apply.sh, batched (one iptables-restore per namespace)" "$WORK/apply.sh" \
  -n "apply.sh, one iptables process per rule" "$WORK/apply.sh per-rule"

echo "== the host namespace's $HOST_RULES rules alone"
# shellcheck disable=SC2046
hyperfine --runs "$RUNS" --prepare "$WORK/fresh.sh" $(export_args host-rules) \
  -n "host rules, one iptables-restore" "$WORK/host-rules.sh" \
  -n "host rules, one iptables process per rule" "$WORK/host-rules.sh per-rule"
