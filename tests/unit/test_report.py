"""llmfleet report: built from run artifacts only, one topology picture per GPU node, replay labelled."""

import json
import shutil
from pathlib import Path

import pytest

from llmfleet import report

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "gpu"


def _preflight(host, snapshot, host_facts, violations=()):
    return {"schema": "llmfleet.preflight_report/v1", "host": host, "passed": not violations,
            "gpu_source": "replay", "replay_of": {"file": "tests/fixtures/gpu/h200x2/snapshot.json"},
            "violations": list(violations), "warnings": [], "checks": ["gpu_count"],
            "host_facts": host_facts, "gpu_facts": snapshot}


@pytest.fixture()
def runs(tmp_path):
    snap = json.loads((FIX / "h200x2" / "snapshot.json").read_text())
    hf = json.loads((FIX / "h200x2" / "host.json").read_text())
    old = tmp_path / "20260101-000000-000000-preflight"
    new = tmp_path / "20260102-000000-000000-site"
    old.mkdir()
    new.mkdir()
    (old / "preflight-gpu1.json").write_text(json.dumps(_preflight("gpu1", snap, hf, [{"check": "ecc", "gpu": 0}])))
    (new / "preflight-gpu1.json").write_text(json.dumps(_preflight("gpu1", snap, hf)))
    (new / "preflight-svc1.json").write_text(json.dumps({"host": "svc1", "passed": True, "violations": [], "host_facts": hf}))
    plan = [{"name": "tp2-0", "unit": "llmfleet-model-tp2-0.service", "engine": "llama_cpp", "model": "tiny",
             "gpus": [0, 1], "cpus": "0-1", "systemd": {"CPUAffinity": "0-1"}}]
    (new / "events.json").write_text(json.dumps([
        {"event": "runner_on_ok", "event_data": {"host": "gpu1", "task": "Plan this host's model servers",
                                                 "res": {"ansible_facts": {"__model_server_plan": plan}}}},
        {"event": "runner_on_ok", "event_data": {"host": "gpu2", "task": "Keep the model servers of a skipped GPU node",
                                                 "res": {"ansible_facts": {"llmfleet_model_servers": plan}}}},
        {"event": "runner_on_ok", "event_data": {"host": "gpu1", "task": "something else", "res": {}}}]))
    (new / "summary.json").write_text(json.dumps({"playbook": "site.yml", "check": False,
                                                  "hosts": {"gpu1": {"ok": 9, "changed": 0, "failures": 0, "unreachable": 0}}}))
    return tmp_path


def test_latest_report_wins(runs):
    reps = report.latest_reports(["gpu1", "svc1"], runs)
    assert reps["gpu1"]["passed"] is True and reps["gpu1"]["_run"].endswith("-site")


def test_topology_dot_draws_nvswitch_bond_of_real_h200x2():
    snap = json.loads((FIX / "h200x2" / "snapshot.json").read_text())
    dot = report.topology_dot("gpu1", {"gpu_facts": snap, "host_facts": {}}, instances=[{"name": "tp2", "gpus": [0, 1]}])
    assert "nvswitch" in dot and "gpu0 -- nvswitch" in dot and "gpu1 -- nvswitch" in dot
    assert "18 links" in dot and "serves: tp2" in dot


@pytest.mark.skipif(not shutil.which("dot"), reason="graphviz not installed")
def test_html_has_one_picture_per_gpu_node_and_says_replay(runs, tmp_path):
    model = report.fleet_model({"gpu1": {"group_names": ["gpu_nodes"]}, "svc1": {"group_names": ["monitoring"]}}, runs)
    for m in model["hosts"].values():
        if m.get("topology_dot"):
            m["topology_svg"] = report.render_svg(m["topology_dot"])
    page = report.render_html(model)
    assert page.count("<svg") == 1
    assert "REPLAYED" in page and "replay of tests/fixtures/gpu/h200x2/snapshot.json" in page
    assert model["hosts"]["gpu1"]["deploy"]["changed"] == 0


def test_model_server_instances_come_from_the_last_deploy(runs):
    model = report.fleet_model({"gpu1": {"group_names": ["gpu_nodes"]}}, runs)
    servers = model["hosts"]["gpu1"]["model_servers"]
    assert servers == [{"name": "tp2-0", "unit": "llmfleet-model-tp2-0.service", "engine": "llama_cpp", "model": "tiny",
                        "gpus": [0, 1], "cpus": "0-1", "port": None}]
    dot = model["hosts"]["gpu1"]["topology_dot"]
    assert '"inst0" -- gpu0' in dot and '"inst0" -- gpu1' in dot and "model server tp2-0" in dot


def test_instances_of_a_host_on_the_fast_path_come_from_its_stamp(runs):
    deploy = report.latest_deploy(runs)
    assert report.deploy_instances(deploy, runs)["gpu2"][0]["unit"] == "llmfleet-model-tp2-0.service"


def test_the_facts_the_report_reads_are_set_where_the_contract_says():
    # docs/shared-facts.md: the model_server role and the fast path set llmfleet_model_servers, the role's plan
    # __model_server_plan; the report finds them by fact name, whatever the task is called
    root = Path(__file__).resolve().parents[2]
    assert "    llmfleet_model_servers:" in (root / "roles" / "model_server" / "tasks" / "configure.yml").read_text()
    assert "    llmfleet_model_servers:" in (root / "roles" / "fast_path" / "tasks" / "check.yml").read_text()
    assert "    __model_server_plan:" in (root / "roles" / "model_server" / "tasks" / "plan.yml").read_text()
    assert report.PLAN_FACTS == ("llmfleet_model_servers", "__model_server_plan")


def test_a_group_is_drawn_across_its_nodes(tmp_path):
    run = tmp_path / "20260103-000000-000000-site"
    run.mkdir()
    leader = {"name": "split-leader", "unit": "llmfleet-model-split-leader.service", "engine": "llama_cpp",
              "model": "tiny", "gpus": [0, 1], "cpus": "", "port": 8111, "group": "split", "role": "leader", "rank": 0,
              "members": ["gpu1", "gpu2"], "listen": "10.0.0.1", "fabric": "tcp"}
    worker = dict(leader, name="split-worker1", unit="llmfleet-model-split-worker1.service", role="worker", rank=1,
                  port=50052, listen="10.0.0.2")
    replica = {"name": "lab-0", "unit": "llmfleet-model-lab-0.service", "engine": "llama_cpp", "model": "tiny",
               "gpus": [], "cpus": "", "port": 8101}
    (run / "events.json").write_text(json.dumps([
        {"event": "runner_on_ok", "event_data": {"host": h, "task": "Plan this host's model servers",
                                                 "res": {"ansible_facts": {"__model_server_plan": plan}}}}
        for h, plan in (("gpu2", [replica, worker]), ("gpu1", [replica, leader]))]))
    (run / "summary.json").write_text(json.dumps({"playbook": "site.yml", "check": False, "hosts": {}}))
    model = report.fleet_model({"gpu1": {"group_names": ["gpu_nodes"]}, "gpu2": {"group_names": ["gpu_nodes"]}}, tmp_path)
    grp = model["model_groups"]["split"]
    assert [(m["host"], m["role"], m["rank"]) for m in grp["members"]] == [("gpu1", "leader", 0), ("gpu2", "worker", 1)]
    assert '"split/gpu1" -- "split/gpu2" [label="RPC (TCP)"' in model["groups_dot"]
    assert "lab-0" not in model["groups_dot"]
    page = report.render_html(model)
    assert "Model-server groups across nodes" in page and "llmfleet-model-split-worker1.service" in page
