"""The burn-in gate's parsers and verdicts on real output from a lent H100 (tests/fixtures/gpu/h100-burnin), and on
altered copies of it: every fault the gate exists for is named with host, GPU, expected and found."""

import copy
import json
from pathlib import Path

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import burnin, gpu_health

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "gpu" / "h100-burnin"


@pytest.fixture()
def health():
    return json.loads((FIX / "health-after.json").read_text())


@pytest.fixture()
def check():
    return (FIX / "gpu-check.json").read_text()


def test_gpu_check_runs_and_best(check):
    res = burnin.parse_gpu_check(check)
    assert len(res["runs"]) == 2
    assert res["best"]["copy_gb_per_s"] == 2901.6 and res["best"]["bf16_tflops"] == 798.0
    assert res["best"]["name"] == "NVIDIA H100 80GB HBM3" and res["best"]["copy_mismatches"] == 0


def test_nccl_tests_tables_are_read():
    ar = burnin.parse_nccl_tests((FIX / "nccl-all_reduce_perf.txt").read_text())
    assert ar["largest"]["bytes"] == 536870912 and ar["largest"]["out"]["algbw"] == 1504.3
    assert ar["largest"]["out"]["busbw"] == 0.0 and ar["wrong"] == 0 and ar["out_of_bounds"] == 0
    assert ar["avg_busbw"] == 0.0 and len(ar["rows"]) == 14
    sr = burnin.parse_nccl_tests((FIX / "nccl-sendrecv_perf.txt").read_text())
    assert sr["largest"]["out"]["busbw"] == 1387.7 and sr["largest"]["in"]["wrong"] == "N/A"


def test_the_lent_h100_passes_its_row(health, check):
    nccl = burnin.parse_nccl_tests((FIX / "nccl-all_reduce_perf.txt").read_text())
    res = burnin.evaluate("gpu-a01", health, {0: check}, nccl=nccl)
    assert res["passed"], res["violations"]
    assert res["measured"][0]["thresholds"]["copy_gb_per_s"] == 2700.0
    # sw_power_cap is what a loaded GPU at its power limit reports: not a fault
    assert health["gpus"][0]["clock_event_reasons"]["active"] == ["sw_power_cap"]


def _alter(health, **changes):
    h = copy.deepcopy(health)
    g = h["gpus"][0]
    for path, value in changes.items():
        node = g
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return h


@pytest.mark.parametrize("changes, check_name, found", [
    ({"ecc_errors__uncorrected_volatile": 2}, "ecc_uncorrected_volatile", 2),
    ({"remapped_rows__pending": True}, "remapped_rows_pending", True),
    ({"remapped_rows__failure": True}, "remapped_rows_failure", True),
    ({"clock_event_reasons__active": ["sw_power_cap", "hw_slowdown"]}, "clock_event_reasons", "hw_slowdown"),
    ({"pcie__width": 8}, "pcie_link_width", "x8"),
    ({"ecc_enabled": False}, "ecc", "disabled"),
], ids=["dbe", "remap-pending", "remap-failure", "hw-slowdown", "pcie-x8", "ecc-off"])
def test_each_health_fault_is_a_violation(health, check, changes, check_name, found):
    res = burnin.evaluate("gpu-a01", _alter(health, **changes), {0: check})
    assert not res["passed"]
    assert {"host": "gpu-a01", "gpu": 0, "check": check_name, "expected": res["violations"][0]["expected"],
            "found": found} in res["violations"], res["violations"]


def test_a_slow_card_and_a_fatal_xid_fail(health, check):
    slow = check.replace('"copy_gb_per_s": 2901.6', '"copy_gb_per_s": 2101.6').replace(
        '"copy_gb_per_s": 2897.0', '"copy_gb_per_s": 2097.0')
    xids = gpu_health.xid_events("[ 1234.5] NVRM: Xid (PCI:0000:00:06): 79, pid=1416, GPU has fallen off the bus.\n"
                                 "[ 1300.1] NVRM: Xid (PCI:0000:00:06): 13, Graphics Exception\n")
    assert [x["xid"] for x in xids] == [79, 13]
    res = burnin.evaluate("gpu-a01", health, {0: slow}, xids=xids)
    checks = {(v["check"], str(v["found"])) for v in res["violations"]}
    assert ("copy_gb_per_s", "2101.6") in checks
    assert any(c == "xid" and "Xid 79 (GPU has fallen off the bus)" in f for c, f in checks)
    assert [v["gpu"] for v in res["violations"] if v["check"] == "xid"] == [0]  # matched by PCI address
    assert not any("Xid 13" in f for _c, f in checks)  # an application's own fault is not the GPU's


def test_unknown_models_need_a_row_and_overrides_apply(health, check):
    h = _alter(health, name="NVIDIA B200")
    res = burnin.evaluate("gpu-b01", h, {0: check.replace("NVIDIA H100 80GB HBM3", "NVIDIA B200")})
    assert [v["check"] for v in res["violations"]] == ["thresholds"]
    res = burnin.evaluate("gpu-a01", health, {0: check}, overrides={"NVIDIA H100 80GB HBM3": {"bf16_tflops": 900}})
    assert [(v["check"], v["expected"]) for v in res["violations"]] == [("bf16_tflops", ">= 900")]


def test_every_threshold_row_has_a_source():
    for name, row in burnin.THRESHOLDS.items():
        assert row["source"] and row["copy_gb_per_s"] > 0 and row["bf16_tflops"] > 0, name


def test_health_probe_on_a_host_without_nvml():
    class NoNvml:
        def nvmlInit(self):
            raise RuntimeError("NVML Shared Library Not Found")
    res = gpu_health.probe(NoNvml())
    assert res["nvml_available"] is False and "Not Found" in res["reason"]
    assert burnin.health_violations("h", res)[0]["check"] == "nvml"


def test_verdict_from_the_roles_registered_results_and_its_metrics(health, check):
    lines = check.strip().splitlines()
    results = [{"item": [0, 0], "rc": 0, "stdout": lines[0]}, {"item": [0, 1], "rc": 0, "stdout": lines[1]},
               {"item": [1, 0], "rc": 127, "stdout": "", "stderr": "llmfleet-gpu-check: not found"}]
    h = copy.deepcopy(health)
    h["gpus"].append(dict(h["gpus"][0], index=1))
    verdict = burnin.evaluate_registered(h, results, "gpu-a01")
    assert not verdict["passed"]
    assert [burnin.row_text(v) for v in verdict["violations"]] == [
        "gpu-a01 GPU 1: gpu_check (expected a result, found llmfleet-gpu-check failed: exit 127: "
        "llmfleet-gpu-check: not found)"]
    text = burnin.metrics(verdict)
    assert 'llmfleet_burnin_passed{host="gpu-a01"} 0' in text and 'llmfleet_burnin_violations{host="gpu-a01"} 1' in text
    assert 'llmfleet_burnin_copy_gb_per_s{host="gpu-a01",gpu="0"} 2901.6' in text


def test_the_role_ships_the_check_it_was_measured_with():
    """The CUDA source the role builds on each node is the one this folder's fixture was produced with."""
    root = FIX.parents[3]
    src = (root / "roles" / "burnin" / "files" / "llmfleet-gpu-check.cu").read_text()
    assert '"schema\\": \\"llmfleet.gpu_check/v1\\"' in src and "cublasGemmEx" in src
    assert "roles/burnin/files/llmfleet-gpu-check.cu" in (FIX / "run.sh").read_text()


DCGM = Path(__file__).resolve().parents[1] / "fixtures" / "gpu" / "dcgm-diag" / "dcgm-3.1.0-r1-8gpu.json"


def test_dcgm_diag_document_is_read_and_a_failure_is_named(health, check):
    text = "Successfully ran diagnostic for group.\n" + DCGM.read_text()
    results = burnin.parse_dcgm_diag(text)
    assert len(results) == 9 + 8 and {r["status"] for r in results} == {"PASS"}  # 9 tests, "software" per GPU
    assert results[0] == {"category": "Deployment", "test": "Denylist", "gpus": list(range(8)), "status": "PASS",
                          "warnings": []}
    assert burnin.evaluate("gpu-a01", health, {0: check}, dcgm=results)["passed"]
    doc = json.loads(DCGM.read_text())
    doc["DCGM Diagnostic"] = doc.pop("DCGM GPU Diagnostic")  # DCGM 4.x's key
    doc["DCGM Diagnostic"]["test_categories"][1]["tests"][0]["results"][3] = {
        "gpu_ids": 3, "status": "Fail", "warnings": [{"warning": "GPU 3 had uncorrectable memory errors", "error_id": 95}]}
    res = burnin.evaluate_registered(health, [{"item": [0, 0], "rc": 0, "stdout": check.splitlines()[0]}], "gpu-a01",
                                     dcgm_output=json.dumps(doc))
    assert [burnin.row_text(v) for v in res["violations"]] == [
        "gpu-a01 GPU 3: dcgm_diag (expected Custom/software PASS, found FAIL: GPU 3 had uncorrectable memory errors)"]
