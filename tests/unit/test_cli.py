"""The llmfleet wrapper: argument handling, inventory reading, recap maths, clear errors."""

import json
import os
import stat
from pathlib import Path

import pytest

from llmfleet import cli, lab, runner
from llmfleet.errors import LlmfleetError

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_snapshot_without_gpu_exits_zero(tmp_path, capsys):
    out = tmp_path / "snap.json"
    assert cli.main(["gpu", "snapshot", "-o", str(out)]) == 0
    snap = json.loads(out.read_text())
    assert snap["schema"] == "llmfleet.gpu_snapshot/v1"
    if not snap["nvml_available"]:
        assert snap["reason"]


def test_deploy_missing_inventory_is_a_clear_error(tmp_path, capsys):
    rc = cli.main(["deploy", "-i", str(tmp_path / "nope")])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_lab_inventory_merges_group_vars_like_ansible():
    hosts = lab.lab_hosts(lab.load_inventory(ROOT / "inventories" / "lab"))
    assert {"lab-gpu1", "lab-gpu2", "lab-svc1", "lab-st1", "lab-st2", "lab-st3"} <= set(hosts)
    for hv in hosts.values():
        assert hv["llmfleet_lab_kind"] == "container"
        assert hv["llmfleet_lab_network"] == "172.31.240.0/24"
    assert set(hosts["lab-svc1"]["group_names"]) >= {"ha_gateways", "monitoring"}
    # the demo's Ceph: each storage host gets a loop device and the Ceph packages' image from `llmfleet lab up`
    for st in ("lab-st1", "lab-st2", "lab-st3"):
        assert "storage_nodes" in hosts[st]["group_names"]
        assert hosts[st]["llmfleet_lab_loop_files"] == [{"size_gb": 4}]
        assert "ceph-osd" in hosts[st]["llmfleet_lab_image_packages"]


def test_lab_inventory_without_lab_hosts_is_refused(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    web1: {ansible_host: 10.0.0.1}\n")
    with pytest.raises(LlmfleetError, match="no lab hosts"):
        lab.up(inv, name="unit-empty", log=lambda m: None)


def test_container_hosts_outside_the_lab_network_are_refused():
    from llmfleet import lab_container

    with pytest.raises(LlmfleetError, match="outside llmfleet_lab_network"):
        lab_container._subnet({"h1": {"llmfleet_lab_network": "172.31.250.0/24", "ansible_host": "10.1.1.1"}})


def test_recap_translates_runner_stats():
    stats = {"ok": {"a": 5, "b": 3}, "changed": {"a": 1}, "failures": {"b": 1}, "dark": {"c": 1}, "skipped": {}}
    r = runner.recap(stats)
    assert r["a"]["ok"] == 5 and r["a"]["changed"] == 1 and r["a"]["failures"] == 0
    assert r["b"]["failures"] == 1
    assert r["c"]["unreachable"] == 1


def test_progress_counts_events_and_reports_failures(capsys):
    from rich.console import Console

    p = runner.Progress(Console(width=200))
    p.handle({"event": "runner_on_start", "event_data": {"host": "h", "task": "t1"}})
    p.handle({"event": "runner_on_ok", "event_data": {"host": "h", "task": "t1", "res": {"changed": True}}})
    p.handle({"event": "runner_on_failed", "event_data": {"host": "h", "task": "t2", "res": {"msg": "boom"}}})
    assert p.hosts["h"]["ok"] == 1 and p.hosts["h"]["changed"] == 1 and p.hosts["h"]["failures"] == 1
    out = capsys.readouterr().out
    assert "FAILED h: t2: boom" in out


def test_preflight_table_lists_every_violation(tmp_path):
    (tmp_path / "preflight-a.json").write_text(json.dumps({"host": "a", "violations": [], "checks": ["gpu_count"]}))
    (tmp_path / "preflight-b.json").write_text(json.dumps({
        "host": "b", "gpu_source": "replay", "replay_of": {"file": "x.json"},
        "violations": [{"gpu": None, "check": "gpu_count", "expected": 8, "found": 2, "message": "m1"},
                       {"gpu": 0, "check": "ecc", "expected": False, "found": True, "message": "m2"}]}))
    reports = cli.preflight_reports(tmp_path)
    assert set(reports) == {"a", "b"}
    table = cli.preflight_table(reports)
    assert table.row_count == 3


def test_forks_sized_to_the_inventory():
    assert runner.forks_for(1) == 5
    assert runner.forks_for(8) == 8
    assert runner.forks_for(400) == 50
    assert len(runner.load_inventory(runner.paths.ROOT / "inventories" / "lab")) == 6  # what forks_for is given


def test_latest_summary_follows_the_latest_link(tmp_path):
    old, new = tmp_path / "20260101-000000-1-site", tmp_path / "20260101-000001-2-site"
    for d, rc in ((old, 2), (new, 0)):
        d.mkdir()
        (d / "summary.json").write_text(json.dumps({"rc": rc}))
    (tmp_path / "latest").symlink_to(new.name)
    run_dir, summary = runner.latest_summary(tmp_path)
    assert run_dir == new and summary == {"rc": 0}
    (tmp_path / "latest").unlink()
    with pytest.raises(FileNotFoundError):
        runner.latest_summary(tmp_path)


def test_deploy_extra_vars_and_full():
    assert cli.deploy_extravars(["llmfleet_fast_path=true", "n=3", "hosts=[a, b]", "empty="]) == {
        "llmfleet_fast_path": True, "n": 3, "hosts": ["a", "b"], "empty": ""}
    assert cli.deploy_extravars(None, full=True) == {"llmfleet_fast_path": False}
    assert cli.deploy_extravars(["llmfleet_fast_path=true"], full=True) == {"llmfleet_fast_path": False}


def test_deploy_extra_vars_without_a_name_is_a_clear_error(capsys):
    assert cli.main(["deploy", "-i", str(ROOT / "inventories" / "lab"), "-e", "no-equals-sign"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_lab_images_builds_each_kind_once_and_starts_nothing(monkeypatch, capsys):
    """`llmfleet lab images` (make test's background warm-up): one image call per kind of the lab, no host started."""
    from llmfleet import lab_container, lab_vm

    calls = []
    monkeypatch.setattr(lab_container, "ensure_image", lambda ctx: calls.append(("container", ctx.lab_name)))
    monkeypatch.setattr(lab_container, "ensure_package_image",
                        lambda ctx, pkgs: calls.append(("container+packages", tuple(sorted(pkgs)))))
    monkeypatch.setattr(lab_vm, "ensure_images", lambda ctx, group: calls.append(("vm", tuple(sorted(group)))))
    for backend in (lab_container, lab_vm):
        monkeypatch.setattr(backend, "up", lambda *a, **k: pytest.fail("lab images started a host"))
    rc = cli.main(["lab", "images", "-i", str(ROOT / "molecule" / "node_vm" / "inventory.yml"), "--name", "unit-images"])
    assert rc == 0
    assert calls == [("vm", ("rdma1", "rdma2"))]
    assert "vm image ready for rdma1, rdma2" in capsys.readouterr().out
    calls.clear()
    assert cli.main(["lab", "images", "-i", str(ROOT / "inventories" / "lab"), "--name", "unit-images"]) == 0
    assert calls == [("container", "unit-images"),
                     ("container+packages", ("ceph-common", "ceph-mgr", "ceph-mon", "ceph-osd", "radosgw"))]


def test_run_directory_and_its_records_are_private(tmp_path, monkeypatch):
    """Issue 21 item 2: a run's directory is 0700 and events.json/summary.json 0600 whatever the umask (the events
    carry task results; they were 0755/0644)."""
    import sys
    import types

    class FakeRun:
        stats = {"ok": {"h1": 1}, "changed": {}, "failures": {}, "dark": {}, "skipped": {}}
        status, rc, events = "successful", 0, [{"event": "playbook_on_stats", "stdout": ""}]

    fake = types.ModuleType("ansible_runner")
    fake.run = lambda **kw: FakeRun()
    monkeypatch.setitem(sys.modules, "ansible_runner", fake)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  vars: {llmfleet_lab: true}\n  hosts:\n    h1: {}\n")
    old = os.umask(0o022)
    try:
        summary = runner.run_playbook(inventory, playbook="site.yml", run_root=tmp_path / "runs")
    finally:
        os.umask(old)
    run_dir = Path(summary["run_dir"])
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    for name in ("events.json", "summary.json"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o600, name
