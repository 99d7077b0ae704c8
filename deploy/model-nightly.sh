#!/usr/bin/env bash
# The model-based test of requests and runs (tests/model.rs) with many more sequences than CI
# runs: random SOP commands, run controls and server crashes under `kolokasi serve` on the real
# lab, on SQLite and PostgreSQL. Usage: sudo bash deploy/model-nightly.sh [SEQUENCES] [SEED]
# (default 2000 per database and a random seed; a failure prints the seed that replays it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash deploy/lab/lab.sh up
bash deploy/lab/postgres.sh up
KOLOKASI_TEST_POSTGRES_URL="$(bash deploy/lab/postgres.sh url)"
export KOLOKASI_TEST_POSTGRES_URL
export KOLOKASI_MODEL_SEQUENCES="${1:-2000}"
[[ -n ${2:-} ]] && export KOLOKASI_MODEL_SEED="$2"
cargo test --locked --features test-hooks --test model -- --nocapture
