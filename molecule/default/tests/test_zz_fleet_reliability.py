"""Fleet reliability on the converged default lab, through the `llmfleet deploy` CLI (ansible-runner), as operators
run it.  Named test_zz_* so that it runs after the other verify tests (it stops and restarts a lab host).

* `--check --diff` on the converged lab: changed=0, nothing failed;
* no generated secret (monitoring CA/host keys, the scrape password and its hash) in any artifact or log of
  the runs made here, `--diff` included;
* a host stopped in the middle of a deploy: the other hosts finish, the deploy exits non-zero naming the host;
  once it is back, a re-run limited to it converges it.
"""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from llmfleet import runner

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
INVENTORY = ROOT / "molecule" / "default" / "inventory.yml"
CLI = os.environ.get("LLMFLEET_CLI", "llmfleet")
LAB = "default"
VICTIM, VICTIM_ADDR = "mol-gpu2", "172.31.241.12"
OTHERS = ("mol-gpu1", "mol-svc1", "mol-st1", "mol-st2", "mol-st3")
SECRETS = ROOT / "lab" / "cache" / "secrets" / "molecule-default"
RUNS = ROOT / "runs"


def cli_env():
    """The environment an operator's `llmfleet deploy` gets: not molecule's inventory or ansible.cfg."""
    env = dict(os.environ, LLMFLEET_ROOT=str(ROOT), NO_COLOR="1")
    env.pop("ANSIBLE_INVENTORY", None)
    env.pop("ANSIBLE_CONFIG", None)
    return env


def deploy(*args, timeout=900):
    return subprocess.run([CLI, "deploy", "-i", str(INVENTORY), *args], capture_output=True, text=True, env=cli_env(),
                          cwd=ROOT, timeout=timeout, check=False)


def latest_summary():
    return runner.latest_summary(RUNS)


def secret_strings():
    """Every generated secret of the site, as strings that would betray it in a log."""
    out = set()
    for f in SECRETS.rglob("*"):
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        if f.name == "cluster.json":  # Ceph: fsid, cephx keys, S3 keys (roles/ceph)
            data = json.loads(text)
            out.update(v for v in data.get("keys", {}).values() if len(v) >= 20)
            out.update(user["secret_key"] for user in data.get("s3", {}).values())
        elif "PRIVATE KEY" in text:
            out.update(line for line in text.splitlines() if len(line) >= 40 and "-----" not in line)
        elif f.suffix in (".pass", ".hash", ".key", "") or "password" in f.name:
            value = text.strip()
            if len(value) >= 12 and "\n" not in value:
                out.add(value)
    return out


@pytest.fixture(scope="module")
def runs():
    """Run dirs of the deploys made by this module (scanned for secrets at the end)."""
    return []


def test_check_diff_on_the_converged_lab_changes_nothing(runs):
    proc = deploy("--check", "--diff")
    run_dir, summary = latest_summary()
    runs.append(run_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary["check"] is True
    assert summary["failed_hosts"] == []
    assert summary["changed_total"] == 0, {h: s["changed"] for h, s in summary["hosts"].items()}


def _wait_ssh(addr, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((addr, 22), timeout=2) as sock:
                if sock.recv(16).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(1)
    return False


def _victim_events(run_dir):
    events = run_dir / "artifacts" / "ansible" / "job_events"
    n = 0
    for f in events.glob("*.json") if events.is_dir() else ():
        try:
            ev = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if ev.get("event") == "runner_on_ok" and (ev.get("event_data") or {}).get("host") == VICTIM:
            n += 1
    return n


def test_host_stopped_mid_deploy_fails_alone_and_rejoins(runs):
    before = set(RUNS.iterdir())
    # ANSIBLE_TIMEOUT: the stopped host's SSH connect gives up after 10 s instead of ansible.cfg's 30 s (an operator
    # may set it the same way); the other hosts answer on the lab bridge in well under a second
    proc = subprocess.Popen([CLI, "deploy", "-i", str(INVENTORY)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(cli_env(), ANSIBLE_TIMEOUT="10"), cwd=ROOT)
    container = "%s-%s" % (LAB, VICTIM)
    try:
        # stop the host once the deploy has done real work on it (past pre-flight and into the common role)
        deadline = time.time() + 600
        run_dir = None
        while time.time() < deadline and proc.poll() is None:
            new = sorted(set(RUNS.iterdir()) - before - {RUNS / "latest"})
            run_dir = new[-1] if new else None
            if run_dir is not None and _victim_events(run_dir) >= 25:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the deploy ended before the host could be stopped"
        stopped_after = _victim_events(run_dir)
        subprocess.run(["docker", "stop", "-t", "5", container], check=True, capture_output=True)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["docker", "start", container], check=False, capture_output=True)
    run_dir, summary = latest_summary()
    runs.append(run_dir)
    assert proc.returncode != 0, out[-3000:]
    assert VICTIM in out and "unreachable" in out.lower(), out[-3000:]
    assert summary["failed_hosts"] == [VICTIM], summary["failed_hosts"]
    for host in OTHERS:
        stats = summary["hosts"][host]
        assert stats["failures"] == 0 and stats["unreachable"] == 0, (host, stats)
    print("stopped %s after %d tasks on it; the others finished: %s"
          % (VICTIM, stopped_after, {h: summary["hosts"][h] for h in OTHERS}))

    # the host comes back: the operator re-runs the deploy on it alone (the others finished above) and it converges
    # (a whole-site re-run would add 80-140 s to the CI budget and prove again what the --check run above proved)
    assert _wait_ssh(VICTIM_ADDR, 180), "%s did not answer SSH after docker start" % VICTIM
    proc = deploy("--limit", VICTIM)
    run_dir, summary = latest_summary()
    runs.append(run_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary["failed_hosts"] == []
    assert VICTIM in summary["hosts"] and not set(OTHERS) & set(summary["hosts"]), summary["hosts"]
    assert summary["hosts"][VICTIM]["failures"] == 0 and summary["hosts"][VICTIM]["ok"] > 25, summary["hosts"]
    print("re-run on %s: %s" % (VICTIM, summary["hosts"][VICTIM]))


def test_no_secret_in_any_artifact(runs):
    secrets = secret_strings()
    assert len(secrets) >= 3, "expected the monitoring CA/host keys and scrape password in %s" % SECRETS
    assert runs, "no deploy ran"
    leaks = []
    for run_dir in runs:
        for f in run_dir.rglob("*"):
            if not f.is_file():
                continue
            text = f.read_text(errors="replace")
            for s in secrets:
                if s in text:
                    leaks.append("%s: %s..." % (f.relative_to(ROOT), s[:6]))
    assert not leaks, leaks[:10]
