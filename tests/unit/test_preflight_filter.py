# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/preflight_report.py and the filters that name it (plugins/filter/preflight.py): preflight_table /
preflight_violations."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.module_utils.preflight_report import (  # noqa: E402
    PreflightReportError, preflight_table, preflight_violations)
from ansible_collections.llmfleet.baremetal.plugins.filter.preflight import FilterModule  # noqa: E402


def v(host, gpu, check, expected, found, message="do something"):
    return {"host": host, "gpu": gpu, "check": check, "expected": expected, "found": found, "message": message}


def hv(name, violations=None, source="nvml", missing=False):
    if missing:
        return {"inventory_hostname": name}
    return {"inventory_hostname": name, "llmfleet_preflight": {
        "host": name, "passed": not violations, "gpu_source": source, "violations": violations or [],
        "warnings": []}}


HOSTS = [
    hv("gpu1", [v("gpu1", None, "gpu_count", 8, 2, "NVML sees 2 GPU(s)"),
                v("gpu1", 0, "ecc", "disabled", "enabled", "GPU 0: ECC enabled - disable with `nvidia-smi -i 0 -e 0`")],
       source="replay"),
    hv("gpu2", [v("gpu2", None, "stack.driver", ">= 580.65.06", "535.247.01", "CUDA 13.0 needs driver")]),
    hv("svc1"),
]


def test_filters_registered():
    assert set(FilterModule().filters()) == {"preflight_table", "preflight_violations", "hca_firmware_mismatch"}


def test_violations_flattened_across_hosts():
    got = preflight_violations(HOSTS)
    assert [(r["host"], r["check"]) for r in got] == [("gpu1", "gpu_count"), ("gpu1", "ecc"), ("gpu2", "stack.driver")]


def test_table_lists_every_violation_of_every_host():
    text = preflight_table(HOSTS)
    lines = text.splitlines()
    assert lines[0] == ("PRE-FLIGHT: 3 violation(s) on 2 of 3 host(s); GPU data REPLAYED (recorded snapshots) on: "
                        "gpu1")
    assert lines[1].split("|")[1:-1] == [" # ", " host          ", " gpu ", " check        ", " expected     ",
                                         " found      "]
    assert set(lines[2]) == {"|", "-"}
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[3:6]]
    assert rows == [
        ["1", "gpu1 [replay]", "-", "gpu_count", "8", "2"],
        ["2", "gpu1 [replay]", "0", "ecc", "disabled", "enabled"],
        ["3", "gpu2", "-", "stack.driver", ">= 580.65.06", "535.247.01"],
    ]
    assert lines[7:] == ["1. NVML sees 2 GPU(s)", "2. GPU 0: ECC enabled - disable with `nvidia-smi -i 0 -e 0`",
                         "3. CUDA 13.0 needs driver"]
    # all rows have the same width
    assert len(set(len(line) for line in lines[1:6])) == 1


def test_table_without_messages():
    assert "1. NVML" not in preflight_table(HOSTS, messages=False)


def test_all_pass():
    assert preflight_table([hv("a"), hv("b")]) == "PRE-FLIGHT: 0 violation(s) on 0 of 2 host(s)\n(all hosts pass)"
    assert preflight_violations([hv("a")]) == []


def test_host_without_result_is_a_violation():
    got = preflight_violations([hv("a"), hv("dead", missing=True)])
    assert [(r["host"], r["check"], r["found"]) for r in got] == [("dead", "preflight", "no result")]
    assert "| dead | -   | preflight | checked  | no result |" in preflight_table([hv("dead", missing=True)])


def test_accepts_preflight_dicts_and_a_hostvars_dict():
    reports = [h["llmfleet_preflight"] for h in HOSTS]
    assert len(preflight_violations(reports)) == 3
    assert len(preflight_violations(dict((h["inventory_hostname"], h) for h in HOSTS))) == 3


def test_long_cells_are_cut():
    long = "x" * 100
    text = preflight_table([hv("h", [v("h", None, "stack.cuda", long, [1, 2, 3])])])
    assert "x" * 41 + "..." in text and "x" * 45 not in text.splitlines()[3]
    assert "1, 2, 3" in text


@pytest.mark.parametrize("bad", ["text", 3, ["notamapping"]])
def test_bad_input_raises(bad):
    with pytest.raises(PreflightReportError):
        preflight_table(bad)
    with pytest.raises(AnsibleFilterError, match="^preflight_table: preflight filters take"):
        FilterModule().filters()["preflight_table"](bad)


def test_hca_firmware_compared_across_hosts_from_their_facts():
    def facts(fw):
        return {"ansible_facts": {"llmfleet_host": {"rdma": [
            {"name": "mlx5_0", "fw_ver": fw, "board_id": "MT_0000000838"},
            {"name": "rxe0", "fw_ver": "0.0.0", "board_id": None}]}}}  # Soft-RoCE: not an HCA with firmware
    hv = {"a": facts("28.39.1002"), "b": facts("28.41.1000"), "c": facts("28.39.1002")}
    got = FilterModule().filters()["hca_firmware_mismatch"](hv, ["a", "b", "c"])
    assert got == {"MT_0000000838": {"28.39.1002": ["a/mlx5_0", "c/mlx5_0"], "28.41.1000": ["b/mlx5_0"]}}
    assert FilterModule().filters()["hca_firmware_mismatch"](hv, ["a", "c"]) == {}
