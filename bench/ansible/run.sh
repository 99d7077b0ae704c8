#!/usr/bin/env bash
# kolokasi's CLI cycle side by side with Ansible and the plain-shell floor, on the lab, as whole
# processes, alternating, in one invocation:
#   bash bench/ansible/run.sh [--rounds N] [--json] [--kolokasi BIN] [--no-build]
# Each round runs, in this order:
#   kolokasi   the CLI cycle as operators run it, each command a fresh process (release build):
#              request submit, verify, capacity check, complete-form, approve, request start,
#              run start, request hardware, run start (→ live), request revoke,
#              approve-revocation, run start (→ decommissioned)
#   ansible    ansible-playbook provision.yml, then decommission.yml (two processes)
#   floor-seq  floor.sh provision, then decommission: OpenSSH + nsupdate, one device after another
#   floor-par  the same with the devices in parallel
# A warm-up round comes first and is not counted. Prints median, min and max per tool, the
# ratio, kolokasi's time per command, and the start-up cost of a process (`--version`) and of
# one that opens the store (`request show`). Needs root, the lab (`deploy/lab/lab.sh up`);
# runs setup.sh (ansible-core in a venv) if needed. Not a test: nothing is asserted on time.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
here="$repo/bench/ansible"
rounds=5 json=0 build=1 kolokasi="$repo/target/release/kolokasi"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --json) json=1; shift ;;
    --kolokasi) kolokasi="$2"; build=0; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: run.sh [--rounds N] [--json] [--kolokasi BIN] [--no-build]" >&2; exit 2 ;;
  esac
done
(( rounds >= 1 )) || { echo "run.sh: --rounds must be at least 1" >&2; exit 2; }
export PATH="$HOME/.cargo/bin:$PATH"
export KOLOKASI_BENCH_DIR="${KOLOKASI_BENCH_DIR:-/tmp/kolokasi-bench}"
bash "$here/setup.sh" >&2
if (( build )); then cargo build --quiet --release --locked --bin kolokasi; fi
[[ -x "$kolokasi" ]] || { echo "run.sh: no kolokasi binary at $kolokasi" >&2; exit 1; }
# shellcheck source=/dev/null
source "$KOLOKASI_BENCH_DIR/lab.env"
work="$(mktemp -d "$KOLOKASI_BENCH_DIR/run.XXXXXX")"
times="$work/times.tsv" log="$work/log"
: >"$times"
port="${KOLOKASI_BENCH_PORT:-r1p4}" vlan=120
ssh_sw() {
  # shellcheck disable=SC2086
  ssh -o BatchMode=yes -o ControlPath=none -i "$LAB_SSH_KEY" $LAB_SSH_OPTS -p "$LAB_SW_PORT" "$LAB_SSH_USER@$LAB_SW" "$@"
}
if ssh_sw "ovs-vsctl get Port $port external_ids" | grep -q 'request'; then
  echo "run.sh: switch port $port belongs to a request ($(ssh_sw "ovs-vsctl get Port $port external_ids")); free it or set KOLOKASI_BENCH_PORT" >&2
  exit 1
fi

now() { date +%s%N; }
record() { echo -e "$1\t$2\t$3\t$4" >>"$times"; } # tool round label ns
fail() { echo "run.sh: $1 failed (round $2); the last lines of $log:" >&2; tail -20 "$log" >&2; exit 1; }
ptr() { python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).reverse_pointer + ".")' "$1"; }

# --- kolokasi ---------------------------------------------------------------------------------
export KOLOKASI_DATABASE_URL="sqlite://$work/kolokasi.db"
export KOLOKASI_USE_LAB=1 KOLOKASI_INVENTORY_FILE="$here/datacenter-bench.yaml"
unset KOLOKASI_ACTOR KOLOKASI_ROLE KOLOKASI_UNIT KOLOKASI_SERVER KOLOKASI_CONFIG
unit="Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"
requester=(--actor budi --role requester --unit "$unit")
admin=(--actor admin.tik --role admin)
operator=(--actor pengelola --role operator)
inspector=(--actor pemeriksa --role inspector)
head_=(--actor kabid.tik --role head)
tr -dc 'A-Za-z0-9' </dev/urandom | head -c 20 >"$work/host-admin-password" || true

# One timed command: label, then the command; its output goes to the log ($work/last has it too).
k() {
  local round=$1 label=$2 a b
  shift 2
  a=$(now)
  "$kolokasi" "$@" >"$work/last" 2>&1 || { cat "$work/last" >>"$log"; fail "kolokasi $label" "$round"; }
  b=$(now)
  cat "$work/last" >>"$log"
  record kolokasi "$round" "$label" $((b - a))
}

kolokasi_cycle() {
  local round=$1 form="$work/form-$1.yaml" id
  sed "s/^domain: .*/domain: bench-k$1-$$.kaltimprov.go.id/" deploy/examples/colocation-request-lab.yaml >"$form"
  k "$round" submit request submit "$form" "${requester[@]}"
  id=$(awk '/ submitted /{print $1; exit}' "$work/last")
  k "$round" verify request verify "$id" "${admin[@]}" --reason "berkas lengkap"
  k "$round" capacity capacity check "$id" "${operator[@]}"
  k "$round" complete-form request complete-form "$id" "${requester[@]}"
  k "$round" approve request approve "$id" "${admin[@]}" --reason "kapasitas mencukupi" \
    --host-admin-user opd-admin --host-admin-password-file "$work/host-admin-password"
  k "$round" request-start request start "$id" "${operator[@]}"
  k "$round" run-start-1 run start "$id" "${operator[@]}"
  k "$round" hardware request hardware "$id" "${inspector[@]}" --serial "SN-BENCH-$1" --type-brand "Supermicro SYS-1029P" --port "$port"
  k "$round" run-start-2 run start "$id" "${operator[@]}"
  k "$round" revoke request revoke "$id" "${requester[@]}" --reason "benchmark selesai"
  k "$round" approve-revocation request approve-revocation "$id" "${head_[@]}"
  k "$round" run-start-3 run start "$id" "${operator[@]}"
  # Not timed: the request went live and came back (the engine refuses such moves by hand).
  "$kolokasi" --json request show "$id" "${admin[@]}" >"$work/last" 2>>"$log"
  grep -q '"state": *"decommissioned"' "$work/last" || { cat "$work/last" >>"$log"; fail "kolokasi cycle (request not decommissioned)" "$round"; }
  echo "$id" >"$work/last-id"
}

# --- ansible and the floor ----------------------------------------------------------------------
export ANSIBLE_CONFIG="$here/ansible.cfg" PYTHONWARNINGS=ignore
ansible_cycle() {
  local round=$1 ip4=198.51.100.241 ip6=2001:db8:100::f1 a b c cp="$work/cp-$1"
  mkdir -p "$cp"
  local ev="request=BENCH-A-$1 domain=bench-a$1-$$.kaltimprov.go.id ipv4=$ip4 ipv6=$ip6 ptr4=$(ptr $ip4) ptr6=$(ptr $ip6) port=$port vlan=$vlan"
  a=$(now)
  ANSIBLE_SSH_CONTROL_PATH_DIR="$cp" "$KOLOKASI_BENCH_DIR/venv/bin/ansible-playbook" -i "$KOLOKASI_BENCH_DIR/inventory.yml" "$here/provision.yml" -e "$ev" >>"$log" 2>&1 || fail "ansible provision" "$round"
  b=$(now)
  ANSIBLE_SSH_CONTROL_PATH_DIR="$cp" "$KOLOKASI_BENCH_DIR/venv/bin/ansible-playbook" -i "$KOLOKASI_BENCH_DIR/inventory.yml" "$here/decommission.yml" -e "$ev" >>"$log" 2>&1 || fail "ansible decommission" "$round"
  c=$(now)
  record ansible "$round" provision $((b - a))
  record ansible "$round" decommission $((c - b))
  # Ansible's multiplexed connections (ControlPersist) end with the round: each round starts cold.
  for s in "$cp"/*; do [[ -S "$s" ]] && ssh -o ControlPath="$s" -O exit placeholder >/dev/null 2>&1 || true; done
}

floor_cycle() {
  local round=$1 mode=$2 tool=floor-${2:0:3} ip4 ip6 a b c
  if [[ $mode == sequential ]]; then ip4=198.51.100.242 ip6=2001:db8:100::f2; else ip4=198.51.100.243 ip6=2001:db8:100::f3; fi
  export REQUEST="BENCH-F-$1" DOMAIN="bench-f$1-${mode:0:3}-$$.kaltimprov.go.id" IPV4=$ip4 IPV6=$ip6 PORT=$port VLAN=$vlan
  PTR4=$(ptr "$ip4") PTR6=$(ptr "$ip6")
  export PTR4 PTR6
  a=$(now)
  bash "$here/floor.sh" provision "$mode" >>"$log" 2>&1 || fail "$tool provision" "$round"
  b=$(now)
  bash "$here/floor.sh" decommission "$mode" >>"$log" 2>&1 || fail "$tool decommission" "$round"
  c=$(now)
  record "$tool" "$round" provision $((b - a))
  record "$tool" "$round" decommission $((c - b))
}

startup() {
  local i a b id
  id=$(cat "$work/last-id")
  for i in $(seq 1 "$rounds"); do
    a=$(now); "$kolokasi" --version >/dev/null; b=$(now); record startup "$i" version $((b - a))
    a=$(now); "$kolokasi" request show "$id" "${admin[@]}" >/dev/null; b=$(now); record startup "$i" request-show $((b - a))
  done
}

echo "run.sh: $rounds rounds (and a warm-up round) on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); log $log" >&2
for round in $(seq 0 "$rounds"); do
  kolokasi_cycle "$round"
  ansible_cycle "$round"
  floor_cycle "$round" sequential
  floor_cycle "$round" parallel
  echo "run.sh: round $round done$([[ $round == 0 ]] && echo ' (warm-up, not counted)')" >&2
done
startup
python3 "$here/summary.py" "$times" $([[ $json == 1 ]] && echo --json)
