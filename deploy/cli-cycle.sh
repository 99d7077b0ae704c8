#!/usr/bin/env bash
# Times one request's whole cycle through the CLI, every command a fresh process, on the local
# lab (KOLOKASI_USE_LAB=1): SOP steps 1-5, provisioning (gate, hardware, the rest), revocation
# and decommissioning. Prints each command's wall time and the totals.
# Usage: deploy/cli-cycle.sh [BINARY] [DATABASE_URL]   (default: target/release/kolokasi, a fresh SQLite file)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/kolokasi}
DIR=$(mktemp -d /tmp/kolokasi-cycle.XXXXXX)
export KOLOKASI_DATABASE_URL=${2:-sqlite://$DIR/k.db}
export KOLOKASI_USE_LAB=1
UNIT="Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"
NAME="cyc$RANDOM$RANDOM"
sed "s/^domain: sipd.kaltimprov.go.id/domain: $NAME.kaltimprov.go.id/" deploy/examples/colocation-request-lab.yaml >"$DIR/form.yaml"
now() { date +%s%N; }
declare -a LABELS TIMES
step() { # label, then the command's arguments
  local label=$1; shift
  local t0; t0=$(now)
  "$BIN" "$@" >"$DIR/out" 2>"$DIR/err" || { echo "FAILED: $label"; cat "$DIR/out" "$DIR/err"; exit 1; }
  local ms=$(( ($(now) - t0) / 1000000 ))
  LABELS+=("$label"); TIMES+=("$ms")
  printf '%-28s %6d ms\n' "$label" "$ms"
}
"$BIN" request list >/dev/null 2>&1  # creates the store and its key (not timed)
step submit request submit "$DIR/form.yaml" --actor budi --role requester --unit "$UNIT" --json
ID=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$DIR/out" | head -1)
step verify request verify "$ID" --actor admin.tik --role admin --reason lengkap
step capacity capacity check "$ID" --actor pengelola --role operator
step complete-form request complete-form "$ID" --actor budi --role requester --unit "$UNIT"
t0=$(now); echo 'sandi-host-admin-2026' | "$BIN" request approve "$ID" --actor admin.tik --role admin --reason ok --host-admin-user root --host-admin-password-stdin >/dev/null
ms=$(( ($(now) - t0) / 1000000 )); LABELS+=(approve); TIMES+=("$ms"); printf '%-28s %6d ms\n' approve "$ms"
step "run start (to the gate)" run start "$ID" --actor pengelola --role operator
step hardware request hardware "$ID" --serial SN-1 --type-brand Supermicro --port r1p1 --actor pemeriksa --role inspector
step "run start (to live)" run start "$ID" --actor pengelola --role operator
step revoke request revoke "$ID" --reason "tidak dipakai lagi" --actor budi --role requester --unit "$UNIT"
step approve-revocation request approve-revocation "$ID" --actor admin.tik --role admin --reason setuju
step "run start (decommission)" run start "$ID" --actor pengelola --role operator
total=0; prov=0
for i in "${!TIMES[@]}"; do total=$((total + TIMES[i])); case "${LABELS[i]}" in "run start (to the gate)"|hardware|"run start (to live)") prov=$((prov + TIMES[i]));; esac; done
printf '%-28s %6d ms\n%-28s %6d ms\n' "whole cycle" "$total" "provisioning (start→live)" "$prov"
[ -n "${KEEP:-}" ] || rm -rf "$DIR"; echo "$DIR $ID"
