"""A node that failed its burn-in serves nothing until a burn-in passes (issue 22 item 1): the model_server role's
gate (roles/model_server/tasks/burnin_gate.yml) run against localhost with a verdict file in a temporary directory,
and the plan's drain (module_utils/burnin.py drained_plan: a drained node's instances and its groups stop)."""

import json

import pytest
from localhost_play import run_role

from ansible_collections.llmfleet.baremetal.plugins.module_utils.burnin import (
    BurninError, drain_reason, drained_plan)


def gate(tmp_path, verdict=None, require=False, failed="drain"):
    result = tmp_path / "result.json"
    if verdict is not None:
        result.write_text(json.dumps(verdict))
    return run_role(tmp_path, "model_server", {"__model_server_burnin_result": str(result),
                                               "model_server_require_burnin": require,
                                               "model_server_burnin_failed": failed}, tasks_from="burnin_gate.yml")


FAILED = {"host": "localhost", "passed": False, "at": "2026-12-06T07:00:00+00:00", "measured": [],
          "violations": [{"host": "localhost", "gpu": 3, "check": "ecc_uncorrected_volatile", "expected": 0,
                          "found": 2}]}
WHY = ("its last burn-in (2026-12-06T07:00:00+00:00) failed - localhost GPU 3: ecc_uncorrected_volatile (expected 0, "
       "found 2)")


def test_a_failed_burn_in_drains_the_node_and_the_site_goes_on(tmp_path):
    proc = gate(tmp_path, FAILED)
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, out[-1500:]
    assert "DRAINED: localhost serves nothing" in out and WHY in out, out[-1500:]
    assert "llmfleet burnin -i INVENTORY --limit localhost" in out


def test_refuse_fails_the_plan_naming_every_violation(tmp_path):
    proc = gate(tmp_path, FAILED, failed="refuse")
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "localhost serves nothing: " + WHY in out, out[-1500:]


def test_a_passed_burn_in_or_none_serves_unless_required(tmp_path):
    proc = gate(tmp_path, dict(FAILED, passed=True, violations=[]))
    assert proc.returncode == 0 and "DRAINED" not in proc.stdout
    none = tmp_path / "none"
    none.mkdir()
    proc = gate(none)
    assert proc.returncode == 0 and "DRAINED" not in proc.stdout
    proc = gate(none, require=True, failed="refuse")
    assert proc.returncode != 0 and "no burn-in has passed on it" in " ".join(proc.stdout.split())


def test_drain_reason():
    assert drain_reason(FAILED, "localhost") == WHY + ". Fix the GPU and run `llmfleet burnin -i INVENTORY --limit localhost`"
    assert drain_reason(dict(FAILED, passed=True), "localhost") == ""
    assert drain_reason({}, "n1") == "" and drain_reason(None, "n1") == ""
    assert "model_server_require_burnin is true" in drain_reason(None, "n1", require=True)
    assert "no violation recorded" in drain_reason({"passed": False}, "n1")


LEADER = {"name": "split-leader", "group": "split", "host": "n1", "role": "leader", "enabled": True}
WORKER = {"name": "split-worker1", "group": "split", "host": "n2", "role": "worker", "enabled": True}
BY_HOST = {"n1": [LEADER], "n2": [WORKER]}


def test_a_drained_node_stops_its_instances_and_every_group_it_is_in():
    n1 = [{"name": "lab-0", "enabled": True}, LEADER]
    n2 = [{"name": "lab-0", "enabled": True}, WORKER]
    drained = {"n1": "", "n2": "burn-in failed"}
    # n2's own instance and its group member stop; on n1 the group's leader stops, its own instance serves
    assert drained_plan(n2, "n2", drained, BY_HOST) == [
        {"name": "lab-0", "enabled": False, "drained": "n2: burn-in failed"},
        dict(WORKER, enabled=False, drained="n2: burn-in failed")]
    assert drained_plan(n1, "n1", drained, BY_HOST) == [
        {"name": "lab-0", "enabled": True}, dict(LEADER, enabled=False, drained="n2: burn-in failed")]
    # nothing drained: the plan as it was
    assert drained_plan(n1, "n1", {"n1": "", "n2": ""}, BY_HOST) == n1
    assert drained_plan([], "n1", {}, None) == []


def test_drained_must_be_a_mapping():
    with pytest.raises(BurninError, match="drained must map host names"):
        drained_plan([], "n1", ["n2"])
