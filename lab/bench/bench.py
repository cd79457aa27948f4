#!/usr/bin/env python3
"""`make bench`: site.yml on container labs of 1, 4 and 8 GPU nodes (replaying the recorded H200 x2 / H100
snapshots), measured through `llmfleet deploy` as an operator runs it.

For every size and every repetition: a fresh lab (`llmfleet lab up`), the first converge, a no-op re-run (the fast
path: every host unchanged since the first converge skips every layer), then `llmfleet preflight`; in the first
repetition also a no-op re-run with `--full` (every layer re-run, for comparison).  The lab is taken down between
repetitions so that every first converge starts from the same blank hosts.  Prints a table of medians and writes
runs/bench/bench.json and runs/bench/bench.md.

Targets (issue #9): no-op re-run <= 0.25 x first converge with changed=0; 8 hosts <= 2 x the time of 1 host.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from llmfleet import runner

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[2]))
CLI = os.environ.get("LLMFLEET_CLI", str(ROOT / ".venv" / "bin" / "llmfleet"))
OUT = ROOT / "runs" / "bench"
FIXTURES = ("h200x2", "h100x1")


def write_inventory(size):
    """A lab inventory of `size` GPU nodes on its own docker network; group_vars from inventories/lab."""
    name = "bench%d" % size
    inv = ROOT / "lab" / "cache" / "bench" / name
    (inv / "group_vars").mkdir(parents=True, exist_ok=True)
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    lab_all = yaml.safe_load((ROOT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    lab_all.update({
        "llmfleet_lab_network": "172.31.%d.0/24" % (250 + size % 5),
        "llmfleet_site_name": name,
        "ansible_ssh_private_key_file": "%s/lab/cache/labs/%s/ssh/id_ed25519" % (ROOT, name),
    })
    (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(lab_all))
    gpu = (ROOT / "inventories" / "lab" / "group_vars" / "gpu_nodes.yml").read_text()
    (inv / "group_vars" / "gpu_nodes.yml").write_text(gpu)
    hosts = {}
    for i in range(size):
        host = "%s-gpu%d" % (name, i + 1)
        hosts[host] = {"ansible_host": "172.31.%d.%d" % (250 + size % 5, 11 + i)}
        src = "lab-gpu1.yml" if FIXTURES[i % 2] == "h200x2" else "lab-gpu2.yml"
        (inv / "host_vars" / (host + ".yml")).write_text((ROOT / "inventories" / "lab" / "host_vars" / src).read_text())
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"gpu_nodes": {"hosts": hosts}}}}))
    return name, inv


def busy_cpu_s():
    """CPU-seconds this machine has spent busy (all CPUs; /proc/stat), to see what bounds a run on a small box."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run(*args, timeout=3600):
    env = dict(os.environ, LLMFLEET_ROOT=str(ROOT), NO_COLOR="1")
    t0 = time.monotonic()
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)
    return time.monotonic() - t0, proc


FAST_TASK = "Skip every layer on the hosts that match their stamp"


def fast_hosts(run_dir):
    """Hosts that took the fast path in a run (site.yml's group_by task returned ok for them)."""
    hosts = set()
    for f in (run_dir / "artifacts" / "ansible" / "job_events").glob("*.json"):
        ev = json.loads(f.read_text())
        data = ev.get("event_data") or {}
        if ev.get("event") == "runner_on_ok" and data.get("task") == FAST_TASK:
            hosts.add(data.get("host"))
    return len(hosts)


def deploy(inv, *extra):
    cpu0 = busy_cpu_s()
    seconds, proc = run("deploy", "-i", str(inv), *extra)
    cpu = busy_cpu_s() - cpu0
    run_dir, summary = runner.latest_summary(ROOT / "runs")
    if proc.returncode != 0:
        raise SystemExit("deploy failed on %s: %s\n%s" % (inv, summary.get("failed_hosts"), proc.stdout[-3000:]))
    return seconds, summary["changed_total"], fast_hosts(run_dir), cpu


def bench_size(size, runs):
    name, inv = write_inventory(size)
    rows = []
    for rep in range(runs):
        run("lab", "down", "-i", str(inv), "--name", name)
        _, proc = run("lab", "up", "-i", str(inv), "--name", name)
        if proc.returncode != 0:
            raise SystemExit("lab up failed for %s:\n%s%s" % (name, proc.stdout[-3000:], proc.stderr[-2000:]))
        first, first_changed, _, first_cpu = deploy(inv)
        noop, noop_changed, noop_fast, noop_cpu = deploy(inv)
        row = {"hosts": size, "rep": rep + 1, "first_s": round(first, 1), "first_changed": first_changed,
               "first_cpu_s": round(first_cpu, 1), "noop_s": round(noop, 1), "noop_changed": noop_changed,
               "noop_fast_hosts": noop_fast, "noop_cpu_s": round(noop_cpu, 1)}
        if rep == 0:
            full, full_changed, _, _ = deploy(inv, "--full")
            row.update(full_noop_s=round(full, 1), full_noop_changed=full_changed)
        pre, proc = run("preflight", "-i", str(inv))
        row.update(preflight_s=round(pre, 1), preflight_rc=proc.returncode)
        rows.append(row)
        print("  %s run %d: first %.1f s (changed %d, %.0f CPU-s busy), no-op %.1f s (changed %d, %d/%d hosts on the fast path)%s, "
              "preflight %.1f s" % (name, rep + 1, first, first_changed, first_cpu, noop, noop_changed, noop_fast, size,
                                    ", no-op --full %.1f s (changed %d)" % (row["full_noop_s"], row["full_noop_changed"])
                                    if "full_noop_s" in row else "", pre), flush=True)
    run("lab", "down", "-i", str(inv), "--name", name)
    return rows


def table(rows, sizes):
    med = {}
    for size in sizes:
        r = [x for x in rows if x["hosts"] == size]
        med[size] = {k: statistics.median(x[k] for x in r) for k in ("first_s", "first_cpu_s", "noop_s", "noop_cpu_s", "preflight_s")}
        med[size]["noop_changed_max"] = max(x["noop_changed"] for x in r)
        med[size]["noop_fast_hosts_min"] = min(x["noop_fast_hosts"] for x in r)
        med[size]["full_noop_s"] = next(x["full_noop_s"] for x in r if "full_noop_s" in x)
        med[size]["full_noop_changed"] = next(x["full_noop_changed"] for x in r if "full_noop_s" in x)
        med[size]["runs"] = len(r)
    base = med[sizes[0]]
    lines = ["| hosts | runs | first converge (median s) | no-op re-run, fast path (median s) | no-op / first "
             "| no-op changed | hosts on the fast path | no-op --full (1 run, s) | first vs %d host(s) "
             "| no-op vs %d host(s) | pre-flight per host (s) | busy CPU-s, first / no-op (median) "
             "| CPU floor on %d CPUs, first / no-op (s) |" % (sizes[0], sizes[0], os.cpu_count()),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        m = med[size]
        lines.append("| %d | %d | %.1f | %.1f | %.2f | %d | %d/%d | %.1f (changed %d) | %.2fx | %.2fx | %.2f "
                     "| %.0f / %.0f | %.0f / %.1f |" % (
            size, m["runs"], m["first_s"], m["noop_s"], m["noop_s"] / m["first_s"], m["noop_changed_max"],
            m["noop_fast_hosts_min"], size, m["full_noop_s"], m["full_noop_changed"], m["first_s"] / base["first_s"],
            m["noop_s"] / base["noop_s"], m["preflight_s"] / size, m["first_cpu_s"], m["noop_cpu_s"],
            m["first_cpu_s"] / os.cpu_count(), m["noop_cpu_s"] / os.cpu_count()))
    return med, "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["bash", str(ROOT / "lab" / "serving" / "prepare.sh")], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.monotonic()
    for size in args.sizes:
        print("bench: %d host(s), %d run(s)" % (size, args.runs), flush=True)
        rows += bench_size(size, args.runs)
    med, md = table(rows, args.sizes)
    (OUT / "bench.json").write_text(json.dumps({"rows": rows, "medians": med,
                                                "wall_s": round(time.monotonic() - t0, 1)}, indent=2))
    (OUT / "bench.md").write_text(md + "\n")
    print(md)
    ok = all(m["noop_changed_max"] == 0 and m["noop_s"] <= 0.25 * m["first_s"] for m in med.values())
    print("target no-op <= 0.25 x first converge with changed=0: %s" % ("met" if ok else "NOT met"))
    for key, what in (("first_s", "first converge"), ("noop_s", "no-op re-run")):
        ratio = med[args.sizes[-1]][key] / med[args.sizes[0]][key]
        print("target %d hosts <= 2 x %d host(s), %s: %.2fx, %s" % (args.sizes[-1], args.sizes[0], what, ratio,
                                                                    "met" if ratio <= 2 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
