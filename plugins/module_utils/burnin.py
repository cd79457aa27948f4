# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The burn-in gate's data and verdicts (docs/burnin.md): thresholds per GPU model, each row with its source, and
pure functions that read what the node's checks printed and say what fails.

* ``THRESHOLDS``: per GPU model (NVML's name) the minimum HBM copy bandwidth (GB/s, bytes read + written, as
  ``llmfleet-gpu-check`` counts them) and dense BF16 matrix rate (TFLOP/s), and the NVLink/NCCL figures where the
  model has them. Minimums are set at about 80 % of the vendor's datasheet peak and below what a healthy card of
  that model measured here (rows say which); a card under them is slow, not merely unlucky.
* ``parse_gpu_check(text)``: the JSON lines ``llmfleet-gpu-check`` prints (one per run; the best of them counts).
* ``parse_nccl_tests(text)``: the table nccl-tests prints (``*_perf``): per size the out-of-place and in-place time,
  algorithm and bus bandwidth and wrong-value count, and its "Avg bus bandwidth" line.
* ``health_violations(health, xids)``: what the NVML counters (module_utils/gpu_health) and the kernel's Xid lines
  say is wrong with a GPU now.
* ``evaluate(host, health, checks, nccl=None, xids=None, overrides=None)``: every violation of one node, as rows
  ``{host, gpu, check, expected, found}`` (the pre-flight gate's shape), and a pass/fail verdict.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from collections.abc import Mapping

__all__ = ["THRESHOLDS", "BurninError", "parse_gpu_check", "parse_nccl_tests", "parse_dcgm_diag", "health_violations", "thresholds_for",
           "evaluate", "evaluate_registered", "metrics", "row_text", "FATAL_XIDS", "THROTTLE_FAIL", "drain_reason",
           "drained_plan"]


class BurninError(ValueError):
    pass


_H100_SHEET = "NVIDIA H100 Tensor Core GPU datasheet (SXM5: 3.35 TB/s HBM3, 989 TFLOPS dense BF16)"
_H200_SHEET = "NVIDIA H200 Tensor Core GPU datasheet (SXM: 4.8 TB/s HBM3e, 989 TFLOPS dense BF16)"

THRESHOLDS = {
    "NVIDIA H100 80GB HBM3": {
        "copy_gb_per_s": 2700.0, "bf16_tflops": 700.0, "nvlink_busbw_gb_per_s": 300.0,
        "source": _H100_SHEET + ("; measured here 2026-12-06 on a lent H100 SXM: 2897-2902 GB/s copy, 794-798 "
                                 "TFLOP/s BF16 (tests/fixtures/gpu/h100-burnin); NCCL all-reduce 1 GiB on 2-8 H100 "
                                 "here 329-361 GB/s bus bandwidth (device KINDS.md)"),
    },
    "NVIDIA H200": {
        "copy_gb_per_s": 3900.0, "bf16_tflops": 700.0, "nvlink_busbw_gb_per_s": 300.0,
        "source": _H200_SHEET + ("; a device-to-device copy on a lent H200 here moved about 4.3 TB/s and BF16 "
                                 "8192^3 ran at 769-798 TFLOP/s (device KINDS.md, 2026-10/11)"),
    },
}

# Xid codes that mean the GPU or its memory failed (NVIDIA's Xid catalogue, "XID Errors" in the GPU deployment and
# management documentation): 48 double-bit ECC, 63/64 row remapping event/failure, 74 NVLink error, 79 fallen off
# the bus, 92 high single-bit ECC rate, 94/95 contained/uncontained ECC error, 119/120 GSP errors.
FATAL_XIDS = {48: "double-bit ECC error", 63: "row remapping (pending)", 64: "row remapping failure",
              74: "NVLink error", 79: "GPU has fallen off the bus", 92: "high single-bit ECC error rate",
              94: "contained ECC error", 95: "uncontained ECC error", 119: "GSP RPC timeout", 120: "GSP error"}

# clock event reasons that mean the GPU is held back by its hardware, heat or power delivery (not by idling, an
# application's clocks or the software power cap a loaded GPU normally reaches)
THROTTLE_FAIL = ("hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown")


def thresholds_for(name, overrides=None):
    """The threshold row of a GPU model, with the inventory's overrides ({model: {key: value}}) applied."""
    row = dict(THRESHOLDS.get(name) or {})
    row.update((overrides or {}).get(name) or {})
    return row


def parse_gpu_check(text):
    """The runs ``llmfleet-gpu-check`` printed (JSON lines), and the best of them: {runs, best}."""
    runs = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise BurninError("llmfleet-gpu-check printed a line that is not JSON: %r" % line[:200])
        if "error" in obj:
            raise BurninError("llmfleet-gpu-check failed: %s" % obj["error"])
        runs.append(obj)
    if not runs:
        raise BurninError("llmfleet-gpu-check printed no result")
    best = dict(runs[0])
    best["copy_gb_per_s"] = max(r["copy_gb_per_s"] for r in runs)
    best["bf16_tflops"] = max(r["bf16_tflops"] for r in runs)
    best["copy_mismatches"] = sum(int(r.get("copy_mismatches", 0)) for r in runs)
    return {"runs": runs, "best": best}


_NCCL_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\w+)\s+(\w+)\s+(-?\d+)\s+(.*)$")


def _num(tok):
    return None if tok in ("N/A", "-") else float(tok)


def parse_nccl_tests(text):
    """{rows: [{bytes, count, type, redop, root, out: {time_us, algbw, busbw, wrong}, in: {...}}], avg_busbw,
    out_of_bounds, wrong} of one nccl-tests ``*_perf`` run (its default, non per-iteration table)."""
    rows, avg, oob = [], None, None
    for line in (text or "").splitlines():
        if line.startswith("#"):
            m = re.match(r"#\s*Avg bus bandwidth\s*:\s*([0-9.eE+-]+)", line)
            if m:
                avg = float(m.group(1))
            m = re.match(r"#\s*Out of bounds values\s*:\s*(\d+)", line)
            if m:
                oob = int(m.group(1))
            continue
        m = _NCCL_ROW.match(line)
        if not m:
            continue
        rest = m.group(6).split()
        if len(rest) < 8:
            continue
        out = {"time_us": _num(rest[0]), "algbw": _num(rest[1]), "busbw": _num(rest[2]), "wrong": rest[3]}
        inp = {"time_us": _num(rest[4]), "algbw": _num(rest[5]), "busbw": _num(rest[6]), "wrong": rest[7]}
        rows.append({"bytes": int(m.group(1)), "count": int(m.group(2)), "type": m.group(3), "redop": m.group(4),
                     "root": int(m.group(5)), "out": out, "in": inp})
    if not rows:
        raise BurninError("no nccl-tests result rows in the output")
    wrong = sum(int(r[k]["wrong"]) for r in rows for k in ("out", "in") if r[k]["wrong"] not in ("N/A", "-"))
    return {"rows": rows, "avg_busbw": avg, "out_of_bounds": oob, "wrong": wrong,
            "largest": max(rows, key=lambda r: r["bytes"])}


def parse_dcgm_diag(text):
    """[{category, test, gpus, status, warnings}] of a ``dcgmi diag -j`` document (DCGM 3.x "DCGM GPU Diagnostic" or
    4.x "DCGM Diagnostic"); text before the first ``{`` (dcgmi's own messages) is skipped."""
    start = (text or "").find("{")
    if start < 0:
        raise BurninError("no JSON document in the dcgmi diag output")
    try:
        doc = json.loads(text[start:])
    except ValueError as exc:
        raise BurninError("dcgmi diag output is not JSON: %s" % exc)
    body = doc.get("DCGM GPU Diagnostic") or doc.get("DCGM Diagnostic") or {}
    out = []
    for cat in body.get("test_categories") or []:
        for test in cat.get("tests") or []:
            if not test:
                continue
            for res in test.get("results") or []:
                ids = res.get("gpu_ids", res.get("gpu_id"))
                gpus = [int(i) for i in str(ids).split(",") if str(i).strip().isdigit()] if ids is not None else []
                warnings = [w.get("warning") if isinstance(w, dict) else str(w) for w in res.get("warnings") or []]
                out.append({"category": cat.get("category"), "test": test.get("name"), "gpus": gpus,
                            "status": str(res.get("status", "")).upper(), "warnings": warnings})
    if not out:
        raise BurninError("the dcgmi diag document has no test results")
    return out


def dcgm_violations(host, results):
    """Violation rows of the DCGM diagnostic: every FAIL per GPU (WARN and SKIP are not failures)."""
    rows = []
    for r in results:
        if r["status"] == "FAIL":
            for gpu in r["gpus"] or [None]:
                _v(rows, host, gpu, "dcgm_diag", "%s/%s PASS" % (r["category"], r["test"]),
                   "FAIL%s" % (": " + "; ".join(w for w in r["warnings"] if w) if r["warnings"] else ""))
    return rows


def _v(rows, host, gpu, check, expected, found):
    rows.append({"host": host, "gpu": gpu, "check": check, "expected": expected, "found": found})


def _bus_dev(bus_id):
    """'bus:device' of a PCI address as NVML ('00000000:18:00.0') or the kernel's Xid lines ('0000:18:00') write it."""
    parts = str(bus_id or "").lower().split(":")
    return ":".join([parts[-2], parts[-1].split(".")[0]]) if len(parts) >= 2 else ""


def health_violations(host, health, xids=None):
    """Violation rows of the NVML health probe and the kernel's Xid lines."""
    rows = []
    if not health.get("nvml_available"):
        _v(rows, host, None, "nvml", "available", health.get("reason") or "unavailable")
        return rows
    by_bus = {}
    for g in health.get("gpus") or []:
        gpu = g.get("index")
        by_bus[_bus_dev(g.get("pci_bus_id"))] = gpu
        if "error" in g:
            _v(rows, host, gpu, "nvml", "a readable GPU", g["error"])
            continue
        if g.get("ecc_enabled") is False:
            _v(rows, host, gpu, "ecc", "enabled", "disabled")
        ecc = g.get("ecc_errors") or {}
        for key in ("uncorrected_volatile", "uncorrected_aggregate"):
            if isinstance(ecc.get(key), int) and ecc[key] > 0:
                _v(rows, host, gpu, "ecc_" + key, 0, ecc[key])
        rr = g.get("remapped_rows")
        if isinstance(rr, dict):
            if rr.get("failure"):
                _v(rows, host, gpu, "remapped_rows_failure", False, True)
            if rr.get("pending"):
                _v(rows, host, gpu, "remapped_rows_pending", "no pending remap (reset the GPU to apply it)", True)
        rp = g.get("retired_pages")
        if isinstance(rp, dict) and rp.get("pending") is True:
            _v(rows, host, gpu, "retired_pages_pending", False, True)
        reasons = g.get("clock_event_reasons")
        if isinstance(reasons, dict):
            bad = [r for r in reasons.get("active") or [] if r in THROTTLE_FAIL]
            if bad:
                _v(rows, host, gpu, "clock_event_reasons", "none of " + ", ".join(THROTTLE_FAIL), ", ".join(bad))
        pcie = g.get("pcie") or {}
        # the width only: an idle GPU lowers its PCIe generation to save power, its lanes stay trained
        if isinstance(pcie.get("width"), int) and isinstance(pcie.get("max_width"), int) and pcie["width"] < pcie["max_width"]:
            _v(rows, host, gpu, "pcie_link_width", "x%d" % pcie["max_width"], "x%d" % pcie["width"])
    for x in xids or []:
        if int(x["xid"]) in FATAL_XIDS:
            gpu = by_bus.get(_bus_dev(x.get("pci_bus_id")))
            found = "Xid %d (%s) %s" % (x["xid"], FATAL_XIDS[int(x["xid"])], x.get("detail", ""))
            _v(rows, host, gpu, "xid", "no fatal Xid", found)
    return rows


def evaluate(host, health, checks, nccl=None, xids=None, overrides=None, dcgm=None):
    """{passed, violations, measured} of one node: health, each GPU's check against its model's row, NCCL, the
    DCGM diagnostic (``dcgm``: parse_dcgm_diag's results, or None where DCGM is not installed)."""
    rows = health_violations(host, health, xids) + dcgm_violations(host, dcgm or [])
    names = dict((g.get("index"), g.get("name")) for g in health.get("gpus") or [])
    measured = []
    for gpu, text in sorted((checks or {}).items()):
        try:
            best = parse_gpu_check(text)["best"]
        except BurninError as exc:
            _v(rows, host, gpu, "gpu_check", "a result", str(exc))
            continue
        name = names.get(gpu) or best.get("name")
        row = thresholds_for(name, overrides)
        measured.append({"gpu": gpu, "name": name, "copy_gb_per_s": best["copy_gb_per_s"],
                         "bf16_tflops": best["bf16_tflops"], "thresholds": row})
        if not row:
            _v(rows, host, gpu, "thresholds", "a row for %s (burnin_thresholds_overrides)" % name, "none")
            continue
        if best["copy_mismatches"]:
            _v(rows, host, gpu, "copy_mismatches", 0, best["copy_mismatches"])
        for key in ("copy_gb_per_s", "bf16_tflops"):
            if key in row and best[key] < row[key]:
                _v(rows, host, gpu, key, ">= %g" % row[key], best[key])
    if nccl is not None:
        if nccl["wrong"] or nccl["out_of_bounds"]:
            _v(rows, host, None, "nccl_wrong_values", 0, nccl["wrong"] + (nccl["out_of_bounds"] or 0))
    return {"host": host, "passed": not rows, "violations": rows, "measured": measured}


def evaluate_registered(health, check_results, host, xids=None, overrides=None, dcgm_output=None):
    """``evaluate`` from what the burnin role registered: the module's probe and the command loop's results
    (each with ``item`` = [gpu, run] and ``stdout``); a run that failed counts as its output (parsed, or named)."""
    texts = {}
    for res in check_results or []:
        item = res.get("item") or [None]
        gpu = item[0] if isinstance(item, (list, tuple)) else item
        if res.get("skipped"):
            continue
        out = res.get("stdout") or ""
        if res.get("rc", 0) not in (0, 1) and not out.strip():
            why = (res.get("stderr") or res.get("msg") or "")[-200:].replace('"', "'").replace("\\", "/")
            out = '{"error": "exit %s: %s"}' % (res.get("rc"), why)
        texts[gpu] = (texts.get(gpu, "") + "\n" + out).strip()
    dcgm = None
    if dcgm_output:
        try:
            dcgm = parse_dcgm_diag(dcgm_output)
        except BurninError as exc:
            dcgm = [{"category": "dcgmi", "test": "diag", "gpus": [], "status": "FAIL", "warnings": [str(exc)]}]
    return evaluate(host, health or {}, texts, xids=xids, overrides=overrides, dcgm=dcgm)


def row_text(v):
    """One violation as a line: host GPU n: check (expected E, found F)."""
    where = v["host"] + (" GPU %s" % v["gpu"] if v.get("gpu") is not None else "")
    return "%s: %s (expected %s, found %s)" % (where, v["check"], v["expected"], v["found"])


def metrics(verdict):
    """Prometheus text (node exporter textfile collector) of a verdict."""
    host = verdict.get("host", "")
    lines = ["# HELP llmfleet_burnin_passed 1 when the node's last burn-in passed.",
             "# TYPE llmfleet_burnin_passed gauge",
             'llmfleet_burnin_passed{host="%s"} %d' % (host, 1 if verdict.get("passed") else 0),
             "# HELP llmfleet_burnin_violations Violations found by the node's last burn-in.",
             "# TYPE llmfleet_burnin_violations gauge",
             'llmfleet_burnin_violations{host="%s"} %d' % (host, len(verdict.get("violations") or []))]
    for key, help_text in (("copy_gb_per_s", "HBM copy bandwidth measured by the last burn-in (GB/s, read + write)."),
                           ("bf16_tflops", "Dense BF16 matrix rate measured by the last burn-in (TFLOP/s).")):
        lines += ["# HELP llmfleet_burnin_%s %s" % (key, help_text), "# TYPE llmfleet_burnin_%s gauge" % key]
        for m in verdict.get("measured") or []:
            lines.append('llmfleet_burnin_%s{host="%s",gpu="%s"} %s' % (key, host, m["gpu"], m[key]))
    return "\n".join(lines) + "\n"


# --- the gate: a node whose burn-in failed is drained, not served ---------------------------------------------------

def drain_reason(verdict, host, require=False):
    """Why ``host`` serves nothing, from its last verdict (``/var/lib/llmfleet/burnin/result.json``; ``None`` or ``{}``
    when it was never burned in); ``""`` when it may serve. ``require``: a node never burned in is drained too."""
    if not isinstance(verdict, Mapping) or not verdict:
        if require:
            return ("no burn-in has passed on it (model_server_require_burnin is true): run "
                    "`llmfleet burnin -i INVENTORY --limit %s`" % host)
        return ""
    if verdict.get("passed"):
        return ""
    rows = "; ".join(row_text(v) for v in verdict.get("violations") or []) or "no violation recorded"
    return ("its last burn-in (%s) failed - %s. Fix the GPU and run `llmfleet burnin -i INVENTORY --limit %s`"
            % (verdict.get("at", "?"), rows, host))


def drained_plan(plan, host, drained, by_host=None):
    """One host's model-server plan (instances and group members) as it may be served: every entry of a drained host,
    and every member of a group that has a drained member (a group serves whole or not at all), gets
    ``enabled: False`` and ``drained``: the reasons, one per drained host. ``drained``: ``{host: reason}`` (an empty
    reason: not drained); ``by_host``: the groups plan's members per host (serving_groups.plan_groups)."""
    if not isinstance(drained, Mapping):
        raise BurninError("drained must map host names to reasons, got %r" % (drained,))
    drained = {h: r for h, r in drained.items() if r}
    members = {}
    for member_host, entries in (by_host or {}).items():
        for entry in entries or []:
            members.setdefault(entry["group"], set()).add(member_host)
    out = []
    for entry in plan or []:
        hosts = sorted(members.get(entry["group"], {host})) if entry.get("group") else [host]
        why = ["%s: %s" % (h, drained[h]) for h in hosts if h in drained]
        out.append(dict(entry, enabled=False, drained="; ".join(why)) if why else entry)
    return out
