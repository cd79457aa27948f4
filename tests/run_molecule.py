"""Run the Molecule scenarios of `make test` in lanes side by side, each lane's scenarios one after another.

    run_molecule.py                      # the lanes of tests/ci_budget.yml, one after another
    run_molecule.py --parallel           # the lanes side by side (each lane's scenarios one after another)
    run_molecule.py SCENARIO [...]       # these scenarios, one after another

Each scenario logs to runs/molecule-<scenario>.log; the console gets one summary block per scenario when it ends
(the last 150 lines of its log when it failed), then a table of every scenario's wall time against its allotment
and the machine's busy CPU-seconds over the run. Exit 1 when any scenario failed. An overrun of an allotment is
printed, never a failure: a timed test is a flaky test.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUDGET = os.path.join(ROOT, "tests", "ci_budget.yml")
RUNS = os.path.join(ROOT, "runs")
# Molecule's announcement of each action of its test sequence: "INFO     [default > converge] Executing"
PHASE = re.compile(r"^INFO +\[[^ \]]+ > ([a-z_]+)\] Executing")
SUMMARY = re.compile(r"^(PLAY RECAP|[a-z0-9-]+ +: ok=)|passed|failed")
_print_lock = threading.Lock()


def busy_jiffies():
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stream:
        fields = [int(v) for v in stream.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def load_budget(path=BUDGET):
    with open(path) as stream:
        data = yaml.safe_load(stream)
    lanes = {name: [(row["scenario"], int(row["seconds"])) for row in rows] for name, rows in data["lanes"].items()}
    seen = [row[0] for rows in lanes.values() for row in rows]
    dupes = sorted({s for s in seen if seen.count(s) > 1})
    if dupes:
        raise SystemExit("%s: scenario(s) in more than one lane: %s" % (path, dupes))
    return data, lanes


def say(text):
    with _print_lock:
        print(text, flush=True)


def run_scenario(lane, scenario, allotted, results):
    log = os.path.join(RUNS, "molecule-%s.log" % scenario)
    free = subprocess.run(["df", "-h", "--output=avail", ROOT], capture_output=True, text=True,
                          check=False).stdout.split()[-1]
    say("== [%s] molecule test -s %s (log: runs/molecule-%s.log; disk free: %s)" % (lane, scenario, scenario, free))
    t0 = time.monotonic()
    phases = []  # (action, seconds since the scenario started) as Molecule announces each action
    with open(log, "w", buffering=1) as out:  # line-buffered: `tail -f` the log while it runs
        proc = subprocess.Popen(["molecule", "test", "-s", scenario], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        for raw in proc.stdout:
            out.write(raw.decode("utf-8", "replace"))
            found = PHASE.search(raw.decode("utf-8", "replace"))
            if found and (not phases or phases[-1][0] != found.group(1)):
                phases.append((found.group(1), time.monotonic() - t0))
        rc = proc.wait()
    took = time.monotonic() - t0
    ok = rc == 0
    results.append({"lane": lane, "scenario": scenario, "ok": ok, "seconds": took, "allotted": allotted})
    with open(log, errors="replace") as stream:
        lines = stream.read().splitlines()
    block = []
    if not ok:
        block.append("---- last 150 lines of runs/molecule-%s.log ----" % scenario)
        block += lines[-150:]
    summary = [ln for ln in lines if SUMMARY.search(ln) and not ln.startswith(("TASK", "FAILED - RETRYING"))]
    block += summary[-12:]
    spans = [(name, (phases[i + 1][1] if i + 1 < len(phases) else took) - start)
             for i, (name, start) in enumerate(phases)]
    if spans:
        block.append("phases of %s: %s" % (scenario, ", ".join("%s %.0fs" % span for span in spans)))
    over = "" if allotted is None or took <= allotted else " (OVER its allotment by %.0fs)" % (took - allotted)
    block.append("scenario %s: %s in %.0fs of %ss allotted%s [lane %s]" % (
        scenario, "passed" if ok else "FAILED", took, allotted if allotted is not None else "-", over, lane))
    say("\n".join(block))
    with open(os.path.join(RUNS, "molecule-times.txt"), "a") as stream:
        stream.write("scenario %s: %s in %.0fs (allotted %s, lane %s)%s\n" % (
            scenario, "passed" if ok else "FAILED", took, allotted, lane,
            "; " + ", ".join("%s %.0fs" % span for span in spans) if spans else ""))


def run_lane(lane, rows, results):
    for scenario, allotted in rows:
        run_scenario(lane, scenario, allotted, results)


def table(results, lanes, wall, busy_s, cpus):
    out = ["", "%-12s %-11s %-7s %8s %9s %8s" % ("scenario", "lane", "result", "seconds", "allotted", "margin")]
    order = [row[0] for rows in lanes.values() for row in rows]
    for r in sorted(results, key=lambda r: order.index(r["scenario"]) if r["scenario"] in order else 99):
        margin = "" if r["allotted"] is None else "%+.0f" % (r["allotted"] - r["seconds"])
        out.append("%-12s %-11s %-7s %8.0f %9s %8s" % (r["scenario"], r["lane"], "passed" if r["ok"] else "FAILED",
                                                       r["seconds"], r["allotted"] or "-", margin))
    for lane, rows in lanes.items():
        spent = sum(r["seconds"] for r in results if r["lane"] == lane)
        allotted = sum(row[1] for row in rows if row[1] is not None)
        out.append("lane %-9s %.0fs of %ss allotted" % (lane, spent, allotted or "-"))
    out.append("molecule wall time %.0fs; the machine was busy %.0f CPU-s of %.0f (%d CPUs, %.0f%%)" % (
        wall, busy_s, wall * cpus, cpus, 100.0 * busy_s / max(wall * cpus, 1)))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="run these, one after another, instead of the budget's lanes")
    parser.add_argument("--parallel", action="store_true", help="run the budget's lanes side by side")
    args = parser.parse_args(argv)
    data, lanes = load_budget()
    allot = {s: a for rows in lanes.values() for s, a in rows}
    if args.scenarios:
        lanes = {"serial": [(s, allot.get(s)) for s in args.scenarios]}
    os.makedirs(RUNS, exist_ok=True)
    open(os.path.join(RUNS, "molecule-times.txt"), "w").close()
    plan = "; ".join("%s: %s" % (name, " ".join(row[0] for row in rows)) for name, rows in lanes.items())
    say(("molecule lanes side by side: " if args.parallel else "molecule lanes, one after another: ") + plan)
    results = []
    b0, t0 = busy_jiffies(), time.monotonic()
    if args.parallel and not args.scenarios:
        threads = [threading.Thread(target=run_lane, args=(name, rows, results)) for name, rows in lanes.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for name, rows in lanes.items():
            run_lane(name, rows, results)
    wall = time.monotonic() - t0
    busy = (busy_jiffies()[0] - b0[0]) / os.sysconf("SC_CLK_TCK")
    say(table(results, lanes, wall, busy, os.cpu_count() or 1))
    failed = [r["scenario"] for r in results if not r["ok"]]
    if failed:
        say("failed scenarios: " + " ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
