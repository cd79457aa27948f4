"""Backups (issue 24, docs/backup.md): the plan each host gets from its groups, the refusals that name variable and
host, and the host-side runner's pieces (restic's summary, metrics, environment files, a run against a recording
restic)."""

import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils.backup_plan import plan_backup  # noqa: E402

# the runner is a host script (no .py): load it by path
_loader = importlib.machinery.SourceFileLoader("llmfleet_backup", str(ROOT / "roles" / "backup" / "files" / "llmfleet-backup"))
_spec = importlib.util.spec_from_loader("llmfleet_backup", _loader)
runner = importlib.util.module_from_spec(_spec)
_loader.exec_module(runner)

OFFSITE = "s3:https://backup.example.net/llmfleet"


def names(plan):
    return [s["name"] for s in plan["sets"]]


def test_sets_follow_the_hosts_roles():
    gw = plan_backup("gw1", ["gateway"], offsite_repository=OFFSITE)
    assert names(gw) == ["gateway-audit", "gateway-state"] and gw["problems"] == []
    audit, state = gw["sets"]
    assert audit["paths"] == ["/srv/llmfleet-gateway/audit"] and audit["rpo_seconds"] == 300
    assert audit["on_calendar"] == "*:0/5" and audit["requires_mount"] is None
    assert state["exclude"] == ["/srv/llmfleet-gateway/audit", "/srv/llmfleet-gateway/lost+found"]
    assert state["rpo_seconds"] == 86400
    mon = plan_backup("mon1", ["monitoring"], offsite_repository=OFFSITE)
    assert names(mon) == ["prometheus"]
    assert mon["sets"][0]["restore_stop"] == ["prometheus.service"]
    assert names(plan_backup("st1", ["ceph_first_mon"], offsite_repository=OFFSITE)) == ["ceph-mon"]
    assert names(plan_backup("gpu1", [], offsite_repository=OFFSITE)) == []
    both = plan_backup("svc1", ["gateway", "monitoring"], offsite_repository=OFFSITE)
    assert names(both) == ["gateway-audit", "gateway-state", "prometheus"]


def test_ha_sets_run_only_where_the_state_volume_is_mounted():
    plan = plan_backup("gw1", ["gateway"], gateway_ha=True, gateway_state_dir="/srv/gw/", offsite_repository=OFFSITE)
    assert {s["requires_mount"] for s in plan["sets"]} == {"/srv/gw"}


def test_every_set_goes_local_and_off_site_under_the_hosts_own_path():
    plan = plan_backup("gw1", ["gateway"], offsite_repository=OFFSITE + "/", offsite_env_file="/etc/x.env")
    assert plan["repositories"] == [
        {"name": "local", "url": "/var/backups/llmfleet/restic"},
        {"name": "offsite", "url": OFFSITE + "/gw1", "env_file": "/etc/x.env"}]
    assert plan["retention"] == {"daily": 7, "weekly": 4, "monthly": 6}


@pytest.mark.parametrize("kwargs, needle", [
    ({}, "gw1: backup_offsite_repository is empty: a backup kept only on the host it protects is lost with it"),
    ({"offsite_repository": "ftp://x/y"}, "gw1: backup_offsite_repository='ftp://x/y' is not a restic repository"),
    ({"offsite_repository": OFFSITE, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0},
     "gw1: backup_keep_daily/weekly/monthly are all 0"),
    ({"offsite_repository": OFFSITE, "keep_weekly": "often"}, "gw1: backup_keep_weekly='often' must be a whole number"),
    ({"offsite_repository": OFFSITE, "exclude_sets": ["audit"]}, "gw1: backup_exclude_sets: 'audit' is no backup set"),
    ({"offsite_repository": OFFSITE, "schedules": {"gateway-audit": "weekly"}},
     "backup_schedules.gateway-audit='weekly': one of 5min, daily, hourly"),
    ({"offsite_repository": OFFSITE, "local_repository": "restic"}, "gw1: backup_local_repository='restic' must be an "
                                                                    "absolute path"),
], ids=["no-offsite", "bad-offsite", "keep-nothing", "bad-keep", "unknown-set", "bad-schedule", "relative-local"])
def test_refusals_name_variable_and_host(kwargs, needle):
    problems = plan_backup("gw1", ["gateway"], **kwargs)["problems"]
    assert any(needle in p for p in problems), problems


def test_excluded_set_and_own_schedule():
    plan = plan_backup("gw1", ["gateway"], offsite_repository=OFFSITE, exclude_sets=["gateway-state"],
                       schedules={"gateway-audit": "hourly"})
    assert names(plan) == ["gateway-audit"] and plan["sets"][0]["rpo_seconds"] == 3600


def test_summary_and_metrics():
    out = "\n".join([json.dumps({"message_type": "status", "percent_done": 0.5}),
                     json.dumps({"message_type": "summary", "snapshot_id": "abcdef0123", "total_bytes_processed": 4096,
                                 "data_added": 100, "total_duration": 1.5})])
    summary = runner.summary_of(out)
    assert summary["snapshot_id"] == "abcdef0123"
    with pytest.raises(RuntimeError):
        runner.summary_of("not json")
    text = runner.metric_lines("gateway-audit", 300, {"local": dict(summary, finished=1000.0), "offsite": None})
    assert 'llmfleet_backup_last_run_success{set="gateway-audit",repository="local"} 1' in text
    assert 'llmfleet_backup_last_run_success{set="gateway-audit",repository="offsite"} 0' in text
    assert 'llmfleet_backup_last_success_timestamp_seconds{set="gateway-audit",repository="local"} 1000' in text
    assert 'llmfleet_backup_last_size_bytes{set="gateway-audit",repository="local"} 4096' in text
    assert 'llmfleet_backup_rpo_seconds{set="gateway-audit"} 300' in text
    assert 'llmfleet_backup_active{set="gateway-audit"} 1' in text
    assert "offsite" not in text.split("llmfleet_backup_last_success_timestamp_seconds")[1].split("# HELP")[0]


def test_run_against_a_recording_restic(tmp_path, monkeypatch):
    """A run: every repository initialised once, backed up with the set's tag and excludes, forgotten by the
    retention policy; a failing repository is reported in the metrics and keeps its last good time."""
    (tmp_path / "tf").mkdir()
    env_file = tmp_path / "offsite.env"
    env_file.write_text("AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=S=K\n# comment\n")
    cfg = {"host": "gw1", "password_file": "/etc/pw", "textfile_dir": str(tmp_path / "tf"), "retention": {"daily": 7},
           "sets": plan_backup("gw1", ["gateway"], offsite_repository=OFFSITE)["sets"],
           "repositories": [{"name": "local", "url": "/r"}, {"name": "offsite", "url": OFFSITE + "/gw1",
                                                             "env_file": str(env_file)}]}
    calls = []

    class Proc:
        def __init__(self, rc, out="", err=""):
            self.returncode, self.stdout, self.stderr = rc, out, err

    def fake_run(argv, env=None, **_kw):
        calls.append((argv, env))
        if argv[1] == "cat":
            return Proc(1)  # no repository yet
        if argv[1] == "backup" and env["RESTIC_REPOSITORY"].startswith("s3:"):
            return Proc(1, err="Fatal: unable to open repository")
        if argv[1] == "backup":
            return Proc(0, json.dumps({"message_type": "summary", "snapshot_id": "0123456789", "total_bytes_processed": 10,
                                       "data_added": 10, "total_duration": 0.2}))
        return Proc(0)

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    assert runner.run(cfg, "gateway-state") == 1
    backups = [(a, e) for a, e in calls if a[1] == "backup"]
    assert backups[0][0][-1] == "/srv/llmfleet-gateway" and "--exclude" in backups[0][0]
    assert backups[0][0][backups[0][0].index("--tag", 6) + 1] == "gateway-state"
    assert backups[1][1]["AWS_SECRET_ACCESS_KEY"] == "S=K" and "S=K" not in " ".join(backups[1][0])
    assert all(e["RESTIC_PASSWORD_FILE"] == "/etc/pw" for _a, e in calls)
    assert [a[1] for a, _e in calls].count("init") == 2
    forget = next(a for a, _e in calls if a[1] == "forget")
    assert forget[forget.index("--keep-daily") + 1] == "7" and "--prune" in forget
    text = (tmp_path / "tf" / "llmfleet_backup_gateway_state.prom").read_text()
    assert 'last_run_success{set="gateway-state",repository="offsite"} 0' in text
    assert 'last_run_success{set="gateway-state",repository="local"} 1' in text


def test_ha_standby_node_reports_inactive(tmp_path):
    (tmp_path / "tf").mkdir()
    cfg = {"host": "gw2", "password_file": "/p", "textfile_dir": str(tmp_path / "tf"), "repositories": [],
           "sets": plan_backup("gw2", ["gateway"], gateway_ha=True, gateway_state_dir=str(tmp_path / "not-mounted"),
                               offsite_repository=OFFSITE)["sets"]}
    assert runner.run(cfg, "gateway-audit") == 0
    metrics = (tmp_path / "tf" / "llmfleet_backup_gateway_audit.prom").read_text()
    assert 'llmfleet_backup_active{set="gateway-audit"} 0' in metrics
