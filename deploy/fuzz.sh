#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time with cargo fuzz (libFuzzer +
# AddressSanitizer). Not part of CI's default path: `bash deploy/fuzz.sh [SECONDS]` (default 300
# per target), two targets at a time on this 2-core machine. Crashes land in fuzz/artifacts/.
#
# The machine has one stable toolchain; cargo fuzz needs nightly flags (-Zsanitizer), which the
# stable compiler accepts with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

targets=(request_form playbook server_spec inventory forwarded)

# Seed corpora from the real files the parsers read.
mkdir -p fuzz/corpus/{request_form,playbook,server_spec,inventory,forwarded}
cp deploy/examples/*request*.yaml fuzz/corpus/request_form/
cp playbooks/*.yaml fuzz/corpus/playbook/
cp deploy/examples/datacenter.yaml fuzz/corpus/inventory/
printf 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"\0006.6.6.6, 198.51.100.7, 10.0.0.3\000https' >fuzz/corpus/forwarded/seed
for f in deploy/examples/*request*.yaml; do
    python3 - "$f" > "fuzz/corpus/server_spec/$(basename "$f").spec" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
servers = doc.get("servers") or [doc.get("server")]
print(yaml.safe_dump(servers[0]), end="")
PY
done 2>/dev/null || true

cargo fuzz build   # release + debug assertions + AddressSanitizer, all targets

run() {
    local t=$1 rc
    local log="fuzz/artifacts/$t.log"
    mkdir -p "fuzz/artifacts/$t"
    cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 \
        -max_len=65536 >"$log" 2>&1 && rc=0 || rc=$?
    local line
    line=$(grep -E "^(#[0-9]+\s+DONE|Done [0-9]+ runs)" "$log" | tail -1)
    echo "$t: exit $rc; ${line:-see $log}"
    return $rc
}

status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do run "$t" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
done
exit $status
