#!/usr/bin/env bash
# Runs a sample co-location request end to end on a fresh embedded SQLite store and the local
# lab (started first; needs root). Extra arguments go to `kolokasi demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash deploy/lab/lab.sh up >/dev/null
cargo run --quiet --release -- demo "$@"
