"""Issue 22 item 4: telemetry that works. Every metric an alert rule or dashboard reads exists: each DCGM field is
in llmfleet's dcgm-exporter counters file (the exporter starts with it), each vLLM metric is one the pinned vLLM
exports (it renamed vllm:gpu_cache_usage_perc to vllm:kv_cache_usage_perc), each burn-in metric is one the burn-in
writes."""

import json
import re
from pathlib import Path

import yaml

from ansible_collections.llmfleet.baremetal.plugins.module_utils import burnin

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "roles" / "monitoring"

# vLLM 0.33's metric names that the rules and dashboards use (vllm/v1/metrics/loggers.py; the deprecated
# vllm:gpu_cache_usage_perc said "Use vllm:kv_cache_usage_perc instead" and is hidden in later versions)
VLLM_METRICS = {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                "vllm:e2e_request_latency_seconds", "vllm:time_to_first_token_seconds",
                "vllm:generation_tokens_total", "vllm:prompt_tokens_total"}


def expressions():
    exprs = []
    for f in (MON / "files" / "rules").glob("*.yml"):
        for group in yaml.safe_load(f.read_text())["groups"]:
            exprs += [(f.name, r["expr"]) for r in group["rules"]]
    for f in (MON / "files" / "dashboards").glob("*.json"):
        text = f.read_text()
        exprs += [(f.name, e) for e in re.findall(r'"expr":\s*"((?:[^"\\]|\\.)*)"', text)]
    return exprs


def counters():
    out = set()
    for line in (MON / "files" / "dcgm" / "llmfleet-counters.csv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            out.add(line.split(",")[0].strip())
    return out


def test_every_dcgm_field_used_is_collected():
    used = {(f, m) for f, e in expressions() for m in re.findall(r"DCGM_FI_[A-Z0-9_]+", e)}
    assert used, "no DCGM field used: the scan is broken"
    missing = sorted((f, m) for f, m in used if m not in counters())
    assert not missing, "used but not in llmfleet-counters.csv: %s" % missing
    # the counters the issue names are collected
    for field in ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "DCGM_FI_DEV_XID_ERRORS",
                  "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
                  "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_SM_CLOCK",
                  "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"):
        assert field in counters(), field


def test_the_exporter_starts_with_the_counters_file():
    unit = (MON / "templates" / "dcgm-exporter.service.j2").read_text()
    assert "-f /etc/dcgm-exporter/llmfleet-counters.csv" in unit
    assert "dcgm/llmfleet-counters.csv" in (MON / "tasks" / "dcgm.yml").read_text()


def test_every_vllm_metric_used_exists_in_the_pinned_version():
    used = set()
    for _f, e in expressions():
        for m in re.findall(r"vllm:[a-z0-9_]+", e):
            used.add(re.sub(r"_(bucket|sum|count)$", "", m))
    assert used and used <= VLLM_METRICS, sorted(used - VLLM_METRICS)


def test_burnin_metrics_used_are_written():
    measured = [{"gpu": 0, "copy_gb_per_s": 1, "bf16_tflops": 1}]
    verdict = {"host": "h", "passed": True, "violations": [], "measured": measured}
    written = set(re.findall(r"llmfleet_burnin_[a-z_]+", burnin.metrics(verdict)))
    used = {m for _f, e in expressions() for m in re.findall(r"llmfleet_burnin_[a-z_]+", e)}
    assert used and used <= written
    assert json.loads((MON / "files" / "dashboards" / "vllm.json").read_text())  # still valid JSON
