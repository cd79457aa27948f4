"""The fast path of site.yml on the converged default lab, through `llmfleet deploy` as operators run it.

The scenario's inventory turns the fast path off (llmfleet_fast_path: false) so that Molecule's idempotence step
proves the full path; here it is turned on with `-e llmfleet_fast_path=true`:

* the first run finds no stamps: every host takes the full path (changed 0 apart from writing its stamp, 0600);
* the next run skips every layer on every host, changed=0;
* drift on two hosts (a hand edit of a sysctl.d file llmfleet wrote, a stopped node exporter) sends those two hosts
  down the full path with the drift named, repairs it, and leaves the third host on the fast path; the monitoring
  server's Prometheus config does not change although the GPU nodes' layers were skipped (their model servers come
  from their stamps);
* an inventory change (an extra variable) sends the host down the full path, the variable named.

`--full` and a disabled fast path are the scenario's converge and idempotence runs (llmfleet_fast_path: false).

Named test_zz_* to run after the verify tests and before test_zz_fleet_reliability.py.
"""

import json
import os
import subprocess
from pathlib import Path

from llmfleet import runner

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
INVENTORY = ROOT / "molecule" / "default" / "inventory.yml"
CLI = os.environ.get("LLMFLEET_CLI", "llmfleet")
LAB = "default"
HOSTS = ("mol-gpu1", "mol-gpu2", "mol-svc1", "mol-st1", "mol-st2", "mol-st3")
STAMP = "/var/lib/llmfleet/converge-stamp.json"
FAST = ("-e", "llmfleet_fast_path=true")
SKIP_TASK = "Skip every layer on the hosts that match their stamp"
REASON_TASK = "Say why the host takes the full path"


def sh(host, cmd):
    proc = subprocess.run(["docker", "exec", "%s-%s" % (LAB, host), "sh", "-c", cmd], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, (host, cmd, proc.stderr)
    return proc.stdout


def deploy(*args):
    env = dict(os.environ, LLMFLEET_ROOT=str(ROOT), NO_COLOR="1")
    env.pop("ANSIBLE_INVENTORY", None)
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([CLI, "deploy", "-i", str(INVENTORY), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=900, check=False)
    run_dir, summary = runner.latest_summary(ROOT / "runs")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary["failed_hosts"] == []
    return run_dir, summary


def fast_path_of(run_dir):
    """{host: "fast" | [reasons]} from the run's events, and the roles whose tasks ran per host."""
    path, roles = {}, {h: set() for h in HOSTS}
    events = run_dir / "artifacts" / "ansible" / "job_events"
    for f in sorted(events.glob("*.json")):
        ev = json.loads(f.read_text())
        data = ev.get("event_data") or {}
        host = data.get("host")
        if ev.get("event") != "runner_on_ok" or host not in roles:
            continue
        if data.get("role"):
            # pre-flight runs the plans (tasks/plan.yml) of the model_server role on every GPU node (with its burn-in
            # gate, tasks/burnin_gate.yml: a read of the node's verdict) and of the ceph role on every storage node:
            # they change nothing
            plan_only = any(f in (data.get("task_path") or "") for f in ("/tasks/plan.yml:", "/tasks/burnin_gate.yml:"))
            roles[host].add(data["role"] + (":plan" if plan_only else ""))
        if data.get("task") == SKIP_TASK:
            path[host] = "fast"
        elif data.get("task") == REASON_TASK:
            path[host] = [line for line in data["res"]["msg"][1:]]
    return path, roles


def changed_tasks(run_dir, host):
    """The tasks that reported a change on HOST in a run (its ansible-runner events)."""
    out = []
    for f in sorted((Path(run_dir) / "artifacts" / "ansible" / "job_events").glob("*.json")):
        data = json.loads(f.read_text()).get("event_data") or {}
        if data.get("host") == host and (data.get("res") or {}).get("changed") and data.get("task"):
            out.append("%s (%s)" % (data["task"], data.get("task_path", "?")))
    return out


def test_fast_path_skips_unchanged_hosts_and_repairs_drift():
    # 1. no stamps yet: every host takes the full path and records one. This is also the scenario's idempotence
    #    proof (molecule.yml has no idempotence step): the second full converge of site.yml, after Molecule's
    #    converge, changes nothing on any host but the stamp it writes.
    run_dir, summary = deploy(*FAST)
    path, _ = fast_path_of(run_dir)
    for host in HOSTS:
        assert path[host][0].startswith("no converge stamp"), (host, path[host])
        assert summary["hosts"][host]["changed"] == 1, (host, summary["hosts"][host], changed_tasks(run_dir, host))
        assert sh(host, "stat -c '%a %U' " + STAMP).split() == ["600", "root"]

    # 2. nothing changed: every host skips every layer
    run_dir, summary = deploy(*FAST)
    path, roles = fast_path_of(run_dir)
    assert path == {h: "fast" for h in HOSTS}, path
    assert summary["changed_total"] == 0
    plans = {"mol-gpu": {"model_server:plan"}, "mol-st": {"ceph:plan"}, "mol-svc": set()}
    assert roles == {h: {"preflight", "facts", "fast_path"} | plans[h.rstrip("0123456789")] for h in HOSTS}, roles

    # 3. drift on two hosts: those two take the full path, it is repaired, the third stays on the fast path
    conf = sh("mol-gpu1", "ls /etc/sysctl.d/*llmfleet*.conf").split()[0]
    original = sh("mol-gpu1", "cat " + conf)
    sh("mol-gpu1", "echo 'vm.swappiness = 60  # edited by hand' >> " + conf)
    sh("mol-svc1", "systemctl stop prometheus-node-exporter")
    prometheus_before = sh("mol-svc1", "sha256sum /etc/prometheus/prometheus.yml")
    run_dir, summary = deploy(*FAST)
    path, roles = fast_path_of(run_dir)
    assert path["mol-gpu2"] == "fast"
    assert summary["hosts"]["mol-gpu2"]["changed"] == 0
    assert any(conf + " (modified)" in r for r in path["mol-gpu1"]), path["mol-gpu1"]
    assert any("prometheus-node-exporter.service (no longer active)" in r for r in path["mol-svc1"]), path["mol-svc1"]
    assert {"common", "sysctl_tuning", "model_server", "monitoring"} <= roles["mol-gpu1"]
    assert sh("mol-gpu1", "cat " + conf) == original
    assert sh("mol-svc1", "systemctl is-active prometheus-node-exporter").strip() == "active"
    assert sh("mol-svc1", "sha256sum /etc/prometheus/prometheus.yml") == prometheus_before
    for host in ("mol-gpu1", "mol-svc1"):
        assert summary["hosts"][host]["changed"] >= 1, (host, summary["hosts"][host])

    # 4. repaired: every host is back on the fast path
    run_dir, summary = deploy(*FAST)
    assert fast_path_of(run_dir)[0] == {h: "fast" for h in HOSTS}
    assert summary["changed_total"] == 0

    # 5. an inventory change sends the host down the full path, naming the variable (on one host, to keep the
    #    test short: the digest is fleet-wide, see tests/unit/test_converge_stamp.py)
    run_dir, summary = deploy(*FAST, "-e", "llmfleet_serving_serial=2", "--limit", "mol-svc1")
    path, roles = fast_path_of(run_dir)
    assert "llmfleet_serving_serial (this host, added)" in path["mol-svc1"][0], path["mol-svc1"]
    assert "monitoring" in roles["mol-svc1"]
    assert summary["hosts"]["mol-svc1"]["changed"] == 1, summary["hosts"]  # its new stamp only
