"""Issue 24's timed drill on the converged whole-site lab (single-gateway mode): mol-svc1 - the gateway, Prometheus and
Alertmanager - is destroyed with its disk (the container removed), a bare one is brought up at the same address,
and it is restored from its off-site backups (the lab's RGW on mol-st1) with playbooks/restore.yml.

Measured: the time from the destruction to the first authenticated request answered through the gateway again (RTO,
target 15 minutes), the audit lines recovered (every line up to the last backup: the recovery point), Prometheus's
history (a sample from before the destruction answers again). On the way: the bare host is refused by the backup
layer before its empty state could be backed up over its snapshots. Named test_zzy_* to run after the fleet tests
and before test_zzz_ceph.py.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import openai

from llmfleet import runner

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
INVENTORY = ROOT / "molecule" / "default" / "inventory.yml"
CLI = os.environ.get("LLMFLEET_CLI", "llmfleet")
HOST, CONTAINER = "mol-svc1", "default-mol-svc1"
SECRETS = ROOT / "lab" / "cache" / "secrets" / "molecule-default"
GATEWAY = "https://172.31.241.21/v1"
PROM = "https://172.31.241.21:9090"
RESULT = ROOT / "lab" / "cache" / "labs" / "default" / "restore-drill.json"


def env():
    e = dict(os.environ, LLMFLEET_ROOT=str(ROOT), NO_COLOR="1")
    e.pop("ANSIBLE_INVENTORY", None)
    e.pop("ANSIBLE_CONFIG", None)
    return e


def sh(cmd, check=True):
    proc = subprocess.run(["docker", "exec", CONTAINER, "sh", "-c", cmd], capture_output=True, text=True, timeout=300,
                          check=False)
    assert not check or proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc.stdout


def cli(*args, timeout=1200):
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=timeout,
                          check=False)


def client():
    key = (SECRETS / "gateway" / "keys" / "demo.key").read_text().strip()
    return openai.OpenAI(base_url=GATEWAY, api_key=key, max_retries=0, timeout=30,
                         http_client=openai.DefaultHttpxClient(verify=str(SECRETS / "gateway" / "ca.crt")))


def audit_ids():
    """Request ids of every audit line on the host."""
    out = sh("cat /srv/llmfleet-gateway/audit/*.jsonl 2>/dev/null || true")
    ids = set()
    for line in out.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        ids.add(rec.get("request_id") or rec.get("id") or line)
    return ids


def prom_query(query, at):
    password = (SECRETS / "monitoring" / "basic-auth-password").read_text().strip()
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert", str(SECRETS / "monitoring" / "ca.crt"), "-u",
                          "prometheus:" + password, "--data-urlencode", "query=" + query, "--data-urlencode",
                          "time=%.3f" % at, PROM + "/api/v1/query"], capture_output=True, text=True, check=False)
    return json.loads(out.stdout)["data"]["result"] if out.returncode == 0 and out.stdout.startswith("{") else None


def test_gateway_and_monitoring_host_destroyed_and_restored():
    # --- before: traffic in the audit log, backed up by the 5-minute set; Prometheus history backed up -------------
    c = client()
    for i in range(5):
        c.chat.completions.create(model="tiny", max_tokens=4, messages=[{"role": "user", "content": "drill %d" % i}])
    time.sleep(2)  # the audit line is written after the response
    before = audit_ids()
    assert len(before) >= 5, before
    sh("systemctl start llmfleet-backup@gateway-audit.service llmfleet-backup@prometheus.service")
    backed_up_at = time.time()
    # a sample from before the destruction (the lab scrapes every 5 s)
    sample_at = time.time() - 60
    history = prom_query("count(up)", sample_at)
    assert history, "Prometheus has no sample 60 s ago"
    metrics = sh("cat /var/lib/prometheus/node-exporter/llmfleet_backup_gateway_audit.prom "
                 "/var/lib/prometheus/node-exporter/llmfleet_backup_prometheus.prom")
    assert metrics.count("llmfleet_backup_last_run_success{") == 4 and " 0\n" not in metrics.split("rpo")[0], metrics
    sizes = {line.split("{")[1].split("}")[0]: int(float(line.rsplit(None, 1)[1])) for line in metrics.splitlines()
             if line.startswith("llmfleet_backup_last_size_bytes")}

    # --- the disaster: the host and its disk --------------------------------------------------------------------
    t_destroy = time.time()
    subprocess.run(["docker", "rm", "-f", "-v", CONTAINER], check=True, capture_output=True)
    up = cli("lab", "up", "-i", str(INVENTORY), "--name", "default", timeout=300)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    assert sh("ls /srv/llmfleet-gateway 2>/dev/null || true").strip() == ""  # a bare host
    t_bare = time.time()

    # --- the backup layer refuses the bare host before its empty state is backed up over its snapshots --------------
    refused = cli("deploy", "-i", str(INVENTORY), "--playbook", "playbooks/backup.yml", "--limit", HOST)
    assert refused.returncode != 0
    assert "%s has" % HOST in refused.stdout and "no backup configuration: it was rebuilt" in refused.stdout, \
        refused.stdout[-3000:]
    t_refused = time.time()

    # --- restore: the state, the site on the host, Prometheus -----------------------------------------------------
    restored = cli("deploy", "-i", str(INVENTORY), "--playbook", "playbooks/restore.yml", "--limit", HOST,
                   "-e", "restore_hosts=" + HOST)
    run_dir, summary = runner.latest_summary(ROOT / "runs")
    assert restored.returncode == 0, restored.stdout[-4000:] + restored.stderr[-2000:]
    assert summary["failed_hosts"] == []
    t_restored = time.time()
    answered = None
    while answered is None and time.time() - t_restored < 120:
        try:
            reply = client().chat.completions.create(model="tiny", max_tokens=4,
                                                     messages=[{"role": "user", "content": "after the drill"}])
            answered = time.time() if reply.choices else None
        except openai.APIError:
            time.sleep(1)
    assert answered, "no authenticated answer through the restored gateway 120 s after the restore"

    # --- what came back ------------------------------------------------------------------------------------------
    after = audit_ids()
    lost = before - after
    assert not lost, "audit lines lost: %s" % sorted(lost)[:5]
    history_after = prom_query("count(up)", sample_at)
    assert history_after == history, (history, history_after)
    rto = answered - t_destroy
    drill = {"rto_seconds": round(rto, 1), "rto_target_seconds": 900,
             "rebuild_seconds": round(t_bare - t_destroy, 1), "refusal_seconds": round(t_refused - t_bare, 1),
             "restore_playbook_seconds": round(t_restored - t_refused, 1),
             "first_answer_after_restore_seconds": round(answered - t_restored, 1),
             "rpo_seconds_measured": round(t_destroy - backed_up_at, 1), "audit_lines_before": len(before),
             "audit_lines_recovered": len(before & after), "prometheus_sample_recovered": history_after == history,
             "backup_sizes_bytes": sizes}
    RESULT.write_text(json.dumps(drill, indent=2, sort_keys=True) + "\n")
    print("\nrestore drill: %s" % json.dumps(drill, sort_keys=True))
    assert rto < 900, drill
