"""A node that failed its burn-in serves nothing until a burn-in passes (issue 22 item 1): the model_server role's
gate (roles/model_server/tasks/burnin_gate.yml) run against localhost with a verdict file in a temporary directory."""

import json

from localhost_play import run_role


def gate(tmp_path, verdict=None, require=False):
    result = tmp_path / "result.json"
    if verdict is not None:
        result.write_text(json.dumps(verdict))
    return run_role(tmp_path, "model_server", {"__model_server_burnin_result": str(result),
                                               "model_server_require_burnin": require}, tasks_from="burnin_gate.yml")


FAILED = {"host": "localhost", "passed": False, "at": "2026-12-06T07:00:00+00:00", "measured": [],
          "violations": [{"host": "localhost", "gpu": 3, "check": "ecc_uncorrected_volatile", "expected": 0,
                          "found": 2}]}


def test_a_failed_burn_in_keeps_the_node_out(tmp_path):
    proc = gate(tmp_path, FAILED)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert ("localhost serves nothing: its last burn-in (2026-12-06T07:00:00+00:00) failed - localhost GPU 3: "
            "ecc_uncorrected_volatile (expected 0, found 2)") in out, out[-1500:]
    assert "llmfleet burnin -i INVENTORY --limit localhost" in out


def test_a_passed_burn_in_or_none_serves_unless_required(tmp_path):
    assert gate(tmp_path, dict(FAILED, passed=True, violations=[])).returncode == 0
    none = tmp_path / "none"
    none.mkdir()
    assert gate(none).returncode == 0
    proc = gate(none, require=True)
    assert proc.returncode != 0 and "no burn-in has passed on it" in " ".join(proc.stdout.split())
