#!/usr/bin/env python3
"""Writes what the Ansible playbooks and the shell floor need from the lab's lab.json.

Usage: lab_inventory.py LAB_JSON OUT_DIR

OUT_DIR/inventory.yml   hosts sw and fw (the stock sshd, port 2222), srv (customer server srv1)
OUT_DIR/known_hosts     their pinned host keys (StrictHostKeyChecking stays on)
OUT_DIR/tsig.key        the lab's TSIG key as an nsupdate key file (mode 0600, never committed)
OUT_DIR/lab.env         the same facts as shell variables, for floor.sh and run.sh
"""
import json
import os
import shlex
import sys


def host(lab, name):
    h = lab["hosts"][name]
    return h["address"], int(h["ssh_port"]), h["host_key"]


def main(lab_path, out):
    with open(lab_path) as f:
        lab = json.load(f)
    stock = lab.get("stock_sshd")
    if not stock:
        sys.exit("lab_inventory: the lab has no stock-sshd profile: run `bash deploy/lab/lab.sh up` to add it")
    sw = host(lab, stock["switch_host"])
    fw = host(lab, stock["firewall_host"])
    srv = host(lab, "srv1")
    known = "".join(f"[{a}]:{p} {k}\n" if p != 22 else f"{a} {k}\n" for a, p, k in (sw, fw, srv))
    with open(os.path.join(out, "known_hosts"), "w") as f:
        f.write(known)
    key_file = lab["ssh"]["private_key_file"]
    ssh_args = f"-o UserKnownHostsFile={out}/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    common = {
        "ansible_user": lab["ssh"]["user"],
        "ansible_ssh_private_key_file": key_file,
        "ansible_ssh_common_args": ssh_args,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    inventory = {
        "all": {
            "hosts": {
                "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                "sw": {"ansible_host": sw[0], "ansible_port": sw[1], **common},
                "fw": {"ansible_host": fw[0], "ansible_port": fw[1], **common},
                "srv": {"ansible_host": srv[0], "ansible_port": srv[1], **common},
            },
            "vars": {
                "dns_server": lab["bind"]["server"].split(":")[0],
                "dns_port": int(lab["bind"]["server"].split(":")[1]),
                "tsig_key_file": f"{out}/tsig.key",
                "zone_forward": lab["zones"]["forward"],
                "zone_reverse_v4": lab["zones"]["reverse_v4"],
                "zone_reverse_v6": lab["zones"]["reverse_v6"],
            },
        }
    }
    # JSON is YAML: no YAML library needed on the controller for writing it.
    with open(os.path.join(out, "inventory.yml"), "w") as f:
        json.dump(inventory, f, indent=1)
        f.write("\n")
    with open(lab["bind"]["tsig_secret_file"]) as f:
        secret = f.read().strip()
    fd = os.open(os.path.join(out, "tsig.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'key "{lab["bind"]["tsig_key_name"]}" {{ algorithm {lab["bind"]["tsig_algorithm"]}; secret "{secret}"; }};\n')
    env = {
        "LAB_SSH_KEY": key_file,
        "LAB_SSH_USER": lab["ssh"]["user"],
        "LAB_SSH_OPTS": ssh_args,
        "LAB_SW": f"{sw[0]}", "LAB_SW_PORT": str(sw[1]),
        "LAB_FW": f"{fw[0]}", "LAB_FW_PORT": str(fw[1]),
        "LAB_SRV": f"{srv[0]}", "LAB_SRV_PORT": str(srv[1]),
        "LAB_DNS": inventory["all"]["vars"]["dns_server"],
        "LAB_DNS_PORT": str(inventory["all"]["vars"]["dns_port"]),
        "LAB_TSIG_KEY_FILE": f"{out}/tsig.key",
        "LAB_ZONE": lab["zones"]["forward"],
        "LAB_ZONE_V4": lab["zones"]["reverse_v4"],
        "LAB_ZONE_V6": lab["zones"]["reverse_v6"],
    }
    with open(os.path.join(out, "lab.env"), "w") as f:
        f.writelines(f"{k}={shlex.quote(v)}\n" for k, v in env.items())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
