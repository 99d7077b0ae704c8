#!/usr/bin/env python3
"""Summarises run.sh's timings (TSV: tool, round, label, nanoseconds); round 0 is the warm-up.

Usage: summary.py TIMES_TSV [--json]
"""
import json
import statistics
import sys
from collections import defaultdict

# What "provisioning alone" is for each tool: kolokasi from `request start` to live.
PROVISIONING = {
    "kolokasi": ["request-start", "run-start-1", "hardware", "run-start-2"],
    "ansible": ["provision"],
    "floor-seq": ["provision"],
    "floor-par": ["provision"],
}
TOOLS = ["kolokasi", "ansible", "floor-seq", "floor-par"]
NAMES = {
    "kolokasi": "kolokasi CLI cycle (SOP 1-5, provisioning, decommission; 12 processes)",
    "ansible": "Ansible (provision.yml + decommission.yml; 2 processes)",
    "floor-seq": "shell floor, devices one after another (ssh + nsupdate)",
    "floor-par": "shell floor, devices in parallel",
}


def stats(values):
    return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values), "runs": len(values)}


def main(path, as_json):
    rows = defaultdict(lambda: defaultdict(dict))  # tool -> round -> label -> seconds
    with open(path) as f:
        for line in f:
            tool, rnd, label, ns = line.rstrip("\n").split("\t")
            rows[tool][int(rnd)][label] = int(ns) / 1e9
    counted = {t: {r: v for r, v in rows[t].items() if r > 0 or t == "startup"} for t in rows}
    out = {"tools": {}, "kolokasi_commands_ms": {}, "startup_ms": {}}
    for tool in TOOLS:
        rounds = counted.get(tool, {})
        if not rounds:
            continue
        out["tools"][tool] = {
            "cycle": stats([sum(v.values()) for v in rounds.values()]),
            "provisioning": stats([sum(v[l] for l in PROVISIONING[tool]) for v in rounds.values()]),
        }
    labels = list(next(iter(counted["kolokasi"].values())).keys()) if counted.get("kolokasi") else []
    for label in labels:
        out["kolokasi_commands_ms"][label] = round(1000 * statistics.median(v[label] for v in counted["kolokasi"].values()), 1)
    for label in ("version", "request-show"):
        values = [v[label] for v in counted.get("startup", {}).values() if label in v]
        if values:
            out["startup_ms"][label] = {k: round(1000 * x, 1) if k != "runs" else x for k, x in stats(values).items()}
    t = out["tools"]
    if "kolokasi" in t and "ansible" in t:
        out["ratio_ansible_over_kolokasi"] = round(t["ansible"]["cycle"]["median_s"] / t["kolokasi"]["cycle"]["median_s"], 2)
        out["ratio_ansible_over_kolokasi_provisioning"] = round(t["ansible"]["provisioning"]["median_s"] / t["kolokasi"]["provisioning"]["median_s"], 2)
    if "kolokasi" in t and "floor-par" in t:
        out["ratio_kolokasi_over_floor_parallel"] = round(t["kolokasi"]["cycle"]["median_s"] / t["floor-par"]["cycle"]["median_s"], 2)
    if as_json:
        print(json.dumps(out, indent=1))
        return
    print("whole cycle, median (min-max) over %d rounds:" % t.get("kolokasi", {}).get("cycle", {}).get("runs", 0))
    for tool in TOOLS:
        if tool in t:
            c, p = t[tool]["cycle"], t[tool]["provisioning"]
            print(f"  {NAMES[tool]:<74} {c['median_s']:6.3f} s ({c['min_s']:.3f}-{c['max_s']:.3f}); provisioning {p['median_s']:.3f} s ({p['min_s']:.3f}-{p['max_s']:.3f})")
    for key in ("ratio_ansible_over_kolokasi", "ratio_ansible_over_kolokasi_provisioning", "ratio_kolokasi_over_floor_parallel"):
        if key in out:
            print(f"  {key.replace('_', ' ')}: {out[key]}x")
    if out["kolokasi_commands_ms"]:
        print("kolokasi per command, median ms: " + ", ".join(f"{k} {v}" for k, v in out["kolokasi_commands_ms"].items()))
    for label, s in out["startup_ms"].items():
        print(f"process start, `kolokasi {'--version' if label == 'version' else 'request show'}`: {s['median_s']} ms ({s['min_s']}-{s['max_s']})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], "--json" in sys.argv[2:])
