#!/usr/bin/env bash
# Installs ansible-core (pinned, from PyPI) into a virtualenv outside the repository and writes
# the Ansible inventory, known_hosts and the TSIG key file for nsupdate from the lab's
# lab.json. No collections: the playbooks use ansible.builtin only. Idempotent; needs the lab
# (`deploy/lab/lab.sh up`) and python3 with venv.
#   bash bench/ansible/setup.sh            # venv in $KOLOKASI_BENCH_DIR (default /tmp/kolokasi-bench)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ANSIBLE_CORE_VERSION="2.19.14"
work="${KOLOKASI_BENCH_DIR:-/tmp/kolokasi-bench}"
lab="${KOLOKASI_LAB_DIR:-/tmp/kolokasi-lab}/lab.json"
[[ -f "$lab" ]] || { echo "setup: $lab is missing: start the lab first (bash deploy/lab/lab.sh up, as root)" >&2; exit 1; }
mkdir -p "$work"
venv="$work/venv"
# The distribution's python: the shims of a user's pyenv may point anywhere.
python="${KOLOKASI_BENCH_PYTHON:-/usr/bin/python3}"
installed="$("$venv/bin/ansible-playbook" --version 2>/dev/null | head -1 || true)"
if [[ "$installed" != *"core $ANSIBLE_CORE_VERSION"* ]]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION"
fi
"$python" "$here/lab_inventory.py" "$lab" "$work"
echo "setup: ansible-core $ANSIBLE_CORE_VERSION in $venv, inventory $work/inventory.yml"
