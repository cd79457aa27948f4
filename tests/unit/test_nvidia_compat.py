# -*- coding: utf-8 -*-
# Copyright: llmfleet
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the NVIDIA compatibility data, logic and filter plugin.

The REF_* lists below are copied from the reference (nvidia-compat-facts.md)
independently of plugins/module_utils/nvidia_compat_data.py, so a transcription
error in either one fails a test.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.filter.nvidia_compat import FilterModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils import nvidia_compat as nc
from ansible_collections.llmfleet.baremetal.plugins.module_utils import nvidia_compat_data as data
from ansible_collections.llmfleet.baremetal.plugins.module_utils.nvidia_compat import CompatError

TODAY = "2026-01-15"  # fixed, so lifecycle tests do not depend on the clock

# ---------------------------------------------------------------------------
# Reference §1.1, column (a): (release label as printed, Linux toolkit driver)
# ---------------------------------------------------------------------------
REF_TOOLKIT_DRIVERS = [
    ("13.2 Update 2", "595.71.05"), ("13.2 Update 1", "595.58.03"), ("13.2 GA", "595.45.04"),
    ("13.1 Update 1", "590.48.01"), ("13.1 GA", "590.44.01"),
    ("13.0 Update 2", "580.95.05"), ("13.0 Update 1", "580.82.07"), ("13.0 GA", "580.65.06"),
    ("12.9 Update 1", "575.57.08"), ("12.9 GA", "575.51.03"),
    ("12.8 Update 1", "570.124.06"), ("12.8 GA", "570.26"),
    ("12.6 Update 3", "560.35.05"), ("12.6 Update 2", "560.35.03"), ("12.6 Update 1", "560.35.03"),
    ("12.6 GA", "560.28.03"),
    ("12.5 Update 1", "555.42.06"), ("12.5 GA", "555.42.02"),
    ("12.4 Update 1", "550.54.15"), ("12.4 GA", "550.54.14"),
    ("12.3 Update 1", "545.23.08"), ("12.3 GA", "545.23.06"),
    ("12.2 Update 2", "535.104.05"), ("12.2 Update 1", "535.86.09"), ("12.2 GA", "535.54.03"),
    ("12.1 Update 1", "530.30.02"), ("12.1 GA", "530.30.02"),
    ("12.0 Update 1", "525.85.12"), ("12.0 GA", "525.60.13"),
    ("11.8 GA", "520.61.05"),
    ("11.7 Update 1", "515.48.07"), ("11.7 GA", "515.43.04"),
    ("11.6 Update 2", "510.47.03"), ("11.6 Update 1", "510.47.03"), ("11.6 GA", "510.39.01"),
    ("11.5 Update 2", "495.29.05"), ("11.5 Update 1", "495.29.05"), ("11.5 GA", "495.29.05"),
    ("11.4 Update 4", "470.82.01"), ("11.4 Update 3", "470.82.01"), ("11.4 Update 2", "470.57.02"),
    ("11.4 Update 1", "470.57.02"), ("11.4.0 GA", "470.42.01"),
    ("11.3.1 Update 1", "465.19.01"), ("11.3.0 GA", "465.19.01"),
    ("11.2.2 Update 2", "460.32.03"), ("11.2.1 Update 1", "460.32.03"), ("11.2.0 GA", "460.27.03"),
    ("11.1.1 Update 1", "455.32"), ("11.1 GA", "455.23"),
    ("11.0.3 Update 1", "450.51.06"), ("11.0.2 GA", "450.51.05"), ("11.0.1 RC", "450.36.06"),
    ("10.2.89", "440.33"), ("10.1 (10.1.105 and updates)", "418.39"), ("10.0.130", "410.48"),
]
# rows where the reference states only a branch (exact number unconfirmed / not published)
REF_BRANCH_ONLY = [("13.4 (all updates)", "615"), ("13.3 Update 1", "610"), ("13.3 GA", "610")]


def _label_to_version(label):
    """Reference label -> X.Y.Z, following CUDA numbering ('Update N' of X.Y is X.Y.N)."""
    m = re.match(r"^(\d+\.\d+\.\d+)\b", label) or re.search(r"\((\d+\.\d+\.\d+)", label)
    if m:
        return m.group(1)
    m = re.match(r"^(\d+\.\d+) (GA|Update (\d+))$", label)
    assert m, label
    return "%s.%s" % (m.group(1), m.group(3) or "0")


# Reference §1 MVC floors (major -> exact floor used by the gate, branch floor)
REF_MVC = {13: ("580.65.06", "580"), 12: ("525.60.13", "525"), 11: ("450.80.02", "450")}

# Reference §2: (cuDNN, CUDA minor) pairs the support matrices list
REF_CUDNN_TRUE = (
    [("9.17.0", c) for c in ("13.0", "13.1", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9")]
    + [("9.10.2", c) for c in ("12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9", "11.8")]
    + [(v, c) for v in ("9.5.0", "9.5.1") for c in ("12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "11.8")]
    + [("9.4.0", "11.%d" % i) for i in range(0, 8)]
    + [("9.0.0", c) for c in ("12.0", "12.1", "12.2", "12.3")] + [("9.0.0", "11.%d" % i) for i in range(0, 9)]
    + [(v, c) for v in ("8.9.6", "8.9.5") for c in ("12.0", "12.1", "12.2")]
    + [(v, "11.%d" % i) for v in ("8.9.6", "8.9.5") for i in range(0, 9)]
    + [("8.5.0", "11.%d" % i) for i in range(0, 8)] + [("8.5.0", "10.2")]
    + [("8.3.0", c) for c in ("11.5", "11.4", "11.3", "11.2", "11.1", "11.0", "10.2")]
    + [("8.2.2", c) for c in ("11.4", "11.3", "11.2", "11.1", "11.0", "10.2")]
    + [(v, c) for v in ("8.2.0", "8.2.1") for c in ("11.3", "11.2", "11.1", "11.0", "10.2")]
    + [(v, c) for v in ("8.0.2", "8.0.3") for c in ("11.0", "10.2", "10.1")]
)
REF_CUDNN_FALSE = [
    ("9.17.0", "11.8"), ("9.17.0", "13.2"), ("9.10.2", "11.7"), ("9.5.0", "12.8"),
    ("9.5.1", "11.7"), ("9.0.0", "12.4"), ("8.9.6", "12.3"), ("8.5.0", "11.8"), ("8.3.0", "11.6"),
    ("8.2.2", "11.5"), ("8.0.3", "11.1"),
]
# Reference §2 minimum Linux drivers: (cuDNN, CUDA, expected minimum)
REF_CUDNN_DRIVER = [
    ("9.17.0", "13.0", "580.65.06"), ("9.17.0", "12.4", "525.60.13"), ("9.10.2", "12.8", "525.60.13"),
    ("9.10.2", "11.8", "450.80.02"), ("9.5.1", "12.6", "525.60.13"), ("9.4.0", "11.2", "450.80.02"),
    ("9.0.0", "12.3", "525.60.13"), ("8.9.6", "11.8", "450.80.02"), ("8.9.5", "12.2", "525.60.13"),
    ("8.3.0", "11.5", "495"), ("8.3.0", "11.2", "450"), ("8.3.0", "10.2", "440"), ("8.2.2", "11.4", "470"),
    ("8.0.3", "10.1", "418"), ("8.5.0", "11.7", "515.43.04"), ("8.2.2", "11.1", "455.23"),
]

# Reference §3.2 (product, CC, arch id) - every row of the table
REF_PRODUCTS = [
    ("B200", "10.0", "blackwell"), ("GB200", "10.0", "blackwell"),
    ("B300", "10.3", "blackwell"), ("GB300", "10.3", "blackwell"),
    ("RTX PRO 6000 Blackwell", "12.0", "blackwell"), ("RTX 5090", "12.0", "blackwell"),
    ("RTX 5080", "12.0", "blackwell"), ("GB10", "12.1", "blackwell"),
    ("H100", "9.0", "hopper"), ("H200", "9.0", "hopper"), ("GH200", "9.0", "hopper"),
    ("L4", "8.9", "ada"), ("L40", "8.9", "ada"), ("L40S", "8.9", "ada"), ("RTX 6000 Ada", "8.9", "ada"),
    ("RTX 4090", "8.9", "ada"),
    ("A10", "8.6", "ampere"), ("A40", "8.6", "ampere"), ("A16", "8.6", "ampere"), ("A2", "8.6", "ampere"),
    ("RTX A6000", "8.6", "ampere"), ("RTX 3090", "8.6", "ampere"),
    ("A100", "8.0", "ampere"), ("A30", "8.0", "ampere"),
    ("T4", "7.5", "turing"), ("V100", "7.0", "volta"),
]
# Reference §3.1 (CC, arch, first CUDA, last CUDA)
REF_CC = [
    ("10.0", "blackwell", "12.8", None), ("10.3", "blackwell", "12.9", None), ("12.0", "blackwell", "12.8", None),
    ("12.1", "blackwell", "12.9", None), ("9.0", "hopper", "11.8", None), ("8.9", "ada", "11.8", None),
    ("8.0", "ampere", "11.0", None), ("8.6", "ampere", "11.1", None), ("7.5", "turing", "10.0", None),
    ("7.0", "volta", "9.0", "12.x"), ("6.0", "pascal", "8.0", "12.x"), ("6.1", "pascal", "8.0", "12.x"),
    ("5.0", "maxwell", "6.5", "12.x"), ("5.2", "maxwell", "6.5", "12.x"), ("5.3", "maxwell", "6.5", "12.x"),
    ("3.5", "kepler", "6.0", "11.x"), ("3.7", "kepler", "6.0", "11.x"), ("3.0", "kepler", "6.0", "10.x"),
    ("3.2", "kepler", "6.0", "10.x"),
]
# Reference §3.1/§3.3 kernel-module flavors
REF_FLAVORS = {
    "blackwell": ["open"], "grace_hopper": ["open"], "hopper": ["open", "proprietary"],
    "ada": ["open", "proprietary"], "ampere": ["open", "proprietary"], "turing": ["open", "proprietary"],
    "volta": ["proprietary"], "pascal": ["proprietary"], "maxwell": ["proprietary"], "kepler": ["proprietary"],
}
# Reference §4 confirmed branches (branch, type, eol)
REF_BRANCHES = [
    ("418", "LTSB", "2022-03"), ("440", "NFB", "2020-11"), ("450", "LTSB", "2023-07"), ("455", "EVAL", None),
    ("460", "PB", "2022-01"), ("535", "LTSB", "2026-06"), ("570", "PB", "2026-02"), ("580", "LTSB", "2028-06"),
    ("595", "PB", "2027-03"), ("610", "NFB", "2026-08"),
]
# S5a "All other previous driver branches ... are end of life"
REF_S5A_EOL = ["575", "565", "560", "550", "525", "515", "510", "495", "465", "460", "455", "450", "440", "418",
               "410"]
REF_UNCONFIRMED_BRANCHES = ["470", "520", "530", "545", "555", "590", "615"]


# ===========================================================================
# data integrity
# ===========================================================================
_TABLES = [
    "CUDA_TOOLKIT_DRIVERS", "CUDA_NONEXISTENT", "CUDA_MVC_FLOORS", "CUDNN_BUILDS", "CUDNN_COVERAGE",
    "COMPUTE_CAPABILITIES", "ARCHITECTURES", "KERNEL_MODULE_FLAVORS", "KERNEL_MODULE_FACTS", "PRODUCTS",
    "DRIVER_BRANCHES", "DRIVER_BRANCH_TYPES", "FABRIC_MANAGER_RULES", "FABRIC_MANAGER_PLATFORMS",
]


@pytest.mark.parametrize("table", _TABLES)
def test_every_row_cites_a_source(table):
    rows = getattr(data, table)
    assert rows
    for row in rows:
        src = row.get("source")
        assert isinstance(src, str) and src.strip(), (table, row)
        assert re.search(r"\bS\d+[ab]?\b|https://|\[SECONDARY\]|§", src), (table, row)


def test_cuda_rows_match_reference_exactly():
    rows = dict((r["release"], r) for r in data.CUDA_TOOLKIT_DRIVERS)
    assert len(rows) == len(data.CUDA_TOOLKIT_DRIVERS), "duplicate release labels"
    ref = dict(REF_TOOLKIT_DRIVERS)
    ref_branch = dict(REF_BRANCH_ONLY)
    assert set(rows) == set(ref) | set(ref_branch)
    for label, driver in ref.items():
        assert rows[label]["driver"] == driver, label
        assert rows[label]["version"] == _label_to_version(label), label
    for label, branch in ref_branch.items():
        assert rows[label]["driver"] is None and rows[label]["branch_floor"] == branch, label


@pytest.mark.parametrize("label,driver", REF_TOOLKIT_DRIVERS)
def test_cuda_min_driver_every_reference_row(label, driver):
    version = _label_to_version(label)
    assert nc.cuda_min_driver(version) == driver
    assert nc.driver_supports_cuda(driver, version)
    t = nc.parse_version(driver)
    below = t[:-1] + (t[-1] - 1,)
    if below[-1] >= 0:
        assert not nc.driver_supports_cuda(".".join(str(p) for p in below), version)


@pytest.mark.parametrize("row", data.CUDA_TOOLKIT_DRIVERS, ids=lambda r: r["release"])
def test_cuda_data_rows_well_formed(row):
    assert nc.parse_version(row["version"])[:2] == nc.parse_version(row["cuda"])
    if row["driver"]:
        assert len(nc.parse_version(row["driver"])) in (2, 3)
        assert int(row["driver"].split(".")[0]) >= 410
    else:
        assert row["branch_floor"].isdigit()


def test_exactly_one_ga_per_minor():
    minors = {}
    for r in data.CUDA_TOOLKIT_DRIVERS:
        minors.setdefault(r["cuda"], []).append(r)
    for m, rows in minors.items():
        assert sum(1 for r in rows if r["ga"]) == 1, m


def test_unconfirmed_data_not_encoded():
    drivers = set(r["driver"] for r in data.CUDA_TOOLKIT_DRIVERS)
    assert "610.43.02" not in drivers  # CUDA 13.3, third-party only (§7.2)
    branches = set(r["branch"] for r in data.DRIVER_BRANCHES)
    for b in REF_UNCONFIRMED_BRANCHES:
        assert b not in branches
    assert "jetson_thor" not in [r["arch"] for r in data.KERNEL_MODULE_FLAVORS]
    assert data.NOT_ENCODED


# ===========================================================================
# parse_version
# ===========================================================================
@pytest.mark.parametrize("value,expected", [
    ("535.104.05", (535, 104, 5)), ("12.4", (12, 4)), (" 12.4.1 ", (12, 4, 1)), (12.4, (12, 4)), (13, (13,)),
    ("570.26", (570, 26)),
])
def test_parse_version(value, expected):
    assert nc.parse_version(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "12.", ".12", "1..2", "12.4-1", "v12.4", "-1", None, True, [12, 4]])
def test_parse_version_malformed(value):
    with pytest.raises(CompatError):
        nc.parse_version(value)


# ===========================================================================
# CUDA <-> driver
# ===========================================================================
def test_cuda_two_part_is_ga():
    assert nc.cuda_min_driver("12.4") == "550.54.14"
    assert nc.cuda_min_driver(12.4) == "550.54.14"
    assert nc.cuda_min_driver("12.4.0") == "550.54.14"
    assert nc.cuda_min_driver("12.4.1") == "550.54.15"
    assert nc.cuda_min_driver("11.0") == "450.51.05"  # 11.0 GA is 11.0.2
    assert nc.cuda_min_driver("10.2") == "440.33"


def test_cuda_12_4_vs_12_4_1_edge():
    assert nc.driver_supports_cuda("550.54.14", "12.4")
    assert not nc.driver_supports_cuda("550.54.14", "12.4.1")
    assert nc.driver_supports_cuda("550.54.15", "12.4.1")


def test_three_part_driver_compare():
    assert nc.driver_supports_cuda("535.104.05", "12.2.2")  # exactly equal
    assert nc.driver_supports_cuda("535.104.12", "12.2.2")
    assert not nc.driver_supports_cuda("535.104.04", "12.2.2")
    assert not nc.driver_supports_cuda("535.86.10", "12.2.2")  # 86 < 104 numerically, not as text
    assert nc.driver_supports_cuda("535.247.01", "12.2.2")
    assert nc.driver_supports_cuda("570.26", "12.8")
    assert nc.driver_supports_cuda("570.26.0", "12.8")
    assert not nc.driver_supports_cuda("570.25.99", "12.8")


def test_any_patch_rows():
    assert nc.cuda_min_driver("10.1.243") == "418.39"
    assert nc.cuda_min_driver("13.4.1") == "615"
    assert nc.cuda_min_driver("13.4") == "615"


def test_branch_only_rows():
    assert nc.cuda_min_driver("13.3") == "610"
    assert nc.cuda_min_driver("13.3.1") == "610"
    assert nc.driver_supports_cuda("610.0.1", "13.3")
    assert not nc.driver_supports_cuda("595.71.05", "13.3")
    assert nc.driver_supports_cuda("615.1.2", "13.4")
    assert not nc.driver_supports_cuda("610.43.02", "13.4")


@pytest.mark.parametrize("cuda", ["12.7", "12.7.0", "13.5", "9.2", "14.0", "12.4.2", "11.0.0", "12", "12.4.1.1",
                                  "x", None])
def test_cuda_unknown_raises(cuda):
    with pytest.raises(CompatError):
        nc.cuda_min_driver(cuda)


def test_cuda_12_7_message():
    with pytest.raises(CompatError, match="does not exist"):
        nc.cuda_min_driver("12.7")


@pytest.mark.parametrize("driver", ["535", 535, "R535", "535.104.05.1", "", "latest"])
def test_driver_malformed_raises(driver):
    with pytest.raises(CompatError):
        nc.driver_supports_cuda(driver, "12.2")


def test_bad_mode_raises():
    with pytest.raises(CompatError):
        nc.cuda_min_driver("12.4", mode="forward")
    with pytest.raises(CompatError):
        nc.driver_supports_cuda("550.54.14", "12.4", mode="")


@pytest.mark.parametrize("major", sorted(REF_MVC))
def test_mvc_floor_every_major(major):
    exact, branch = REF_MVC[major]
    rows = dict((r["major"], r) for r in data.CUDA_MVC_FLOORS)
    assert rows[major]["driver"] == exact and rows[major]["branch_floor"] == branch
    for r in data.CUDA_TOOLKIT_DRIVERS:
        if r["cuda"].startswith("%d." % major):
            assert nc.cuda_min_driver(r["version"], mode="mvc") == exact


def test_mvc_semantics():
    # a 12.x app runs on any driver >= 525.60.13 (limited features), not on toolkit terms
    assert nc.driver_supports_cuda("525.60.13", "12.9", mode="mvc")
    assert not nc.driver_supports_cuda("525.60.13", "12.9")
    assert not nc.driver_supports_cuda("525.60.12", "12.9", mode="mvc")
    assert nc.driver_supports_cuda("535.247.01", "12.8.1", mode="mvc")
    assert not nc.driver_supports_cuda("575.57.08", "13.0", mode="mvc")
    assert nc.driver_supports_cuda("580.65.06", "13.2", mode="mvc")
    assert nc.driver_supports_cuda("580.65.06", "13.4", mode="mvc")
    assert nc.driver_supports_cuda("450.80.02", "11.8", mode="mvc")
    assert not nc.driver_supports_cuda("450.51.06", "11.8", mode="mvc")
    # newer drivers still work (backward compatibility) above the MVC range
    assert nc.driver_supports_cuda("595.71.05", "11.4", mode="mvc")


@pytest.mark.parametrize("cuda", ["10.2", "10.1", "10.0", "10.1.168"])
def test_mvc_before_cuda_11_raises(cuda):
    with pytest.raises(CompatError, match="MVC"):
        nc.cuda_min_driver(cuda, mode="mvc")
    with pytest.raises(CompatError):
        nc.driver_supports_cuda("580.65.06", cuda, mode="mvc")


def test_max_cuda_for_driver():
    assert nc.max_cuda_for_driver("535.247.01") == "12.2"
    assert nc.max_cuda_for_driver("535.86.10") == "12.2.1"
    assert nc.max_cuda_for_driver("580.65.06") == "13.0.0"
    assert nc.max_cuda_for_driver("400.1") is None
    assert nc.max_cuda_for_driver("535.247.01", "mvc") == "12.x"
    assert nc.max_cuda_for_driver("580.65.06", "mvc") == "13.x"


# ===========================================================================
# cuDNN
# ===========================================================================
@pytest.mark.parametrize("cudnn,cuda", REF_CUDNN_TRUE)
def test_cudnn_supports_reference_pairs(cudnn, cuda):
    assert nc.cudnn_supports(cudnn, cuda) is True


@pytest.mark.parametrize("cudnn,cuda", REF_CUDNN_FALSE)
def test_cudnn_not_listed(cudnn, cuda):
    assert nc.cudnn_supports(cudnn, cuda) is False


def test_cudnn_data_rows_all_in_reference_pairs():
    ref = set(REF_CUDNN_TRUE)
    for b in data.CUDNN_BUILDS:
        for c in b["cuda"]:
            assert (b["cudnn"], c) in ref, (b["cudnn"], c)
    assert set(c for c, _cuda in REF_CUDNN_TRUE) == set(r["cudnn"] for r in data.CUDNN_COVERAGE)


def test_cudnn_version_forms():
    assert nc.cudnn_supports("9.17", "13.0")  # 9.17 -> 9.17.0
    assert nc.cudnn_supports("9.0.0.312", "12.3")  # 4-part (pip wheel) -> first three
    assert nc.cudnn_supports("9.10.2", "12.8.1")  # CUDA patch ignored for the matrix
    assert nc.cudnn_supports("9.10.2", 12.8)


@pytest.mark.parametrize("cudnn,cuda", [
    ("8.9.7", "12.2"), ("9.1.0", "12.4"), ("9", "12.4"), ("abc", "12.4"),
    ("9.17.0", "12.7"), ("9.17.0", "14.0"),
    ("9.4.0", "12.4"),  # only the 11.x row of 9.4.0 was read
    ("9.10.2", "10.2"), ("9.10.2", "13.0"),  # 9.10.2 was read for 12.x/11.x only
])
def test_cudnn_unknown_raises(cudnn, cuda):
    with pytest.raises(CompatError):
        nc.cudnn_supports(cudnn, cuda)


@pytest.mark.parametrize("cudnn,cuda,driver", REF_CUDNN_DRIVER)
def test_cudnn_min_driver(cudnn, cuda, driver):
    assert nc.cudnn_min_driver(cudnn, cuda) == driver


def test_cudnn_min_driver_unsupported_raises():
    with pytest.raises(CompatError):
        nc.cudnn_min_driver("9.17.0", "11.8")


# ===========================================================================
# compute capability / architecture
# ===========================================================================
@pytest.mark.parametrize("product,cc,arch", REF_PRODUCTS)
def test_product_table_every_row(product, cc, arch):
    assert nc.gpu_to_cc(product) == cc
    assert nc.cc_to_arch(cc) == arch


def test_products_data_matches_reference():
    assert sorted((r["product"], r["cc"]) for r in data.PRODUCTS) == sorted((p, c) for p, c, _src in REF_PRODUCTS)


@pytest.mark.parametrize("cc,arch,first,last", REF_CC)
def test_cc_table_every_row(cc, arch, first, last):
    assert nc.cc_to_arch(cc) == arch
    assert nc.arch_cuda_range(cc) == (first, last)


@pytest.mark.parametrize("value", ["9.0", 9.0, "sm_90", "sm_90a", "SM_90", "compute_90", " 9.0 "])
def test_cc_forms(value):
    assert nc.cc_to_arch(value) == "hopper"


@pytest.mark.parametrize("value,arch", [("sm_100", "blackwell"), ("sm_103a", "blackwell"), ("sm_120", "blackwell"),
                                        ("sm_121", "blackwell"), (10.0, "blackwell"), (8.6, "ampere"),
                                        ("sm_89", "ada"), ("sm_75", "turing"), ("sm_70", "volta"),
                                        ("sm_87", "ampere"), ("sm_110", "jetson_thor"), ("sm_101", "jetson_thor")])
def test_cc_more(value, arch):
    assert nc.cc_to_arch(value) == arch


@pytest.mark.parametrize("value", ["9", 9, "90", "sm_", "9.0.1", "hopper", "", None, True, "2.0", "9.9", "sm_99"])
def test_cc_bad_raises(value):
    with pytest.raises(CompatError):
        nc.cc_to_arch(value)


@pytest.mark.parametrize("name,cc", [
    ("NVIDIA H100 80GB HBM3", "9.0"), ("NVIDIA H100 NVL", "9.0"), ("NVIDIA GH200 480GB", "9.0"),
    ("NVIDIA A100-SXM4-80GB", "8.0"), ("NVIDIA A10", "8.6"), ("NVIDIA L40S", "8.9"), ("NVIDIA L40", "8.9"),
    ("Tesla V100-SXM2-32GB", "7.0"), ("Tesla T4", "7.5"), ("NVIDIA B200", "10.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "12.0"), ("NVIDIA RTX 6000 Ada Generation", "8.9"),
    ("NVIDIA GeForce RTX 4090", "8.9"), ("NVIDIA RTX A6000", "8.6"),
])
def test_gpu_names(name, cc):
    assert nc.gpu_to_cc(name) == cc


@pytest.mark.parametrize("name", ["NVIDIA H800", "Radeon", "", None])
def test_gpu_unknown_raises(name):
    with pytest.raises(CompatError):
        nc.gpu_to_cc(name)


@pytest.mark.parametrize("arch,first,last", [
    ("blackwell", "12.8", None), ("hopper", "11.8", None), ("ada", "11.8", None), ("ampere", "11.0", None),
    ("turing", "10.0", None), ("volta", "9.0", "12.x"), ("pascal", "8.0", "12.x"), ("maxwell", "6.5", "12.x"),
    ("kepler", "6.0", "11.x"), ("Ada Lovelace", "11.8", None), ("GH200", "11.8", None),
])
def test_arch_cuda_range(arch, first, last):
    assert nc.arch_cuda_range(arch) == (first, last)


@pytest.mark.parametrize("arch,cuda,ok", [
    ("blackwell", "12.8", True), ("blackwell", "12.6", False), ("10.3", "12.8", False), ("10.3", "12.9", True),
    ("B300", "12.9.1", True), ("12.1", "12.8.1", False), ("hopper", "11.8", True), ("hopper", "11.7", False),
    ("volta", "12.9", True), ("volta", "13.0", False), ("pascal", "13.2", False), ("maxwell", "12.0", True),
    ("kepler", "11.8", True), ("kepler", "12.0", False), ("3.0", "11.0", False), ("3.0", "10.2", True),
    ("8.6", "11.0", False), ("8.6", "11.1", True), ("turing", "10.0", True), ("sm_110", "12.9", False),
    ("sm_110", "13.0", True), ("sm_101", "13.0", False), ("sm_101", "12.8", True),
])
def test_arch_supported_by_cuda(arch, cuda, ok):
    assert nc.arch_supported_by_cuda(arch, cuda) is ok


@pytest.mark.parametrize("arch,cuda", [("8.7", "12.4"), ("fermi", "12.4"), ("hopper", "12.7"), ("volta", "9.0")])
def test_arch_supported_by_cuda_raises(arch, cuda):
    with pytest.raises(CompatError):
        nc.arch_supported_by_cuda(arch, cuda)


# ===========================================================================
# kernel-module flavors
# ===========================================================================
@pytest.mark.parametrize("arch", sorted(REF_FLAVORS))
def test_flavors_every_arch(arch):
    assert nc.kernel_module_flavors(arch) == REF_FLAVORS[arch]


def test_flavor_data_matches_reference():
    assert dict((r["arch"], r["flavors"]) for r in data.KERNEL_MODULE_FLAVORS) == REF_FLAVORS


@pytest.mark.parametrize("item,flavors", [
    ("NVIDIA B200", ["open"]), ("10.3", ["open"]), ("sm_120", ["open"]), ("GH200", ["open"]),
    ("NVIDIA GH200 480GB", ["open"]), ("Grace Hopper", ["open"]), ("H100", ["open", "proprietary"]),
    ("9.0", ["open", "proprietary"]), ("V100", ["proprietary"]), ("7.0", ["proprietary"]),
    ("T4", ["open", "proprietary"]), ("6.1", ["proprietary"]),
])
def test_flavors_by_product_or_cc(item, flavors):
    assert nc.kernel_module_flavors(item) == flavors


@pytest.mark.parametrize("item", ["jetson_thor", "8.7", "sm_110", "fermi", ""])
def test_flavors_unknown_raises(item):
    with pytest.raises(CompatError):
        nc.kernel_module_flavors(item)


def test_flavors_returns_copy():
    nc.kernel_module_flavors("hopper").append("x")
    assert nc.kernel_module_flavors("hopper") == ["open", "proprietary"]


# ===========================================================================
# driver branches
# ===========================================================================
@pytest.mark.parametrize("branch,btype,eol", REF_BRANCHES)
def test_branch_every_confirmed_row(branch, btype, eol):
    info = nc.driver_branch_info("R" + branch, TODAY)
    assert info["branch"] == "R" + branch
    assert info["type"] == btype
    assert info["eol"] == eol
    assert info["source"]


@pytest.mark.parametrize("branch", REF_S5A_EOL)
def test_s5a_end_of_life_list(branch):
    assert nc.driver_branch_info(branch, TODAY)["is_eol"] is True


def test_branch_data_covers_exactly_reference():
    encoded = set(r["branch"] for r in data.DRIVER_BRANCHES)
    assert encoded == set(b for b, _kind, _eol in REF_BRANCHES) | set(REF_S5A_EOL) | {"410"}


@pytest.mark.parametrize("driver", ["535.247.01", "R535", "r535", "535", 535])
def test_branch_input_forms(driver):
    assert nc.driver_branch_info(driver, TODAY)["branch"] == "R535"


def test_branch_eol_edges():
    assert nc.driver_branch_info("535.247.01", "2026-05-31")["is_eol"] is False
    assert nc.driver_branch_info("535.247.01", "2026-06-01")["is_eol"] is True
    assert nc.driver_branch_info("570.195.03", "2026-01-31")["is_eol"] is False
    assert nc.driver_branch_info("570.195.03", "2026-02-01")["is_eol"] is True
    assert nc.driver_branch_info("580.95.05", datetime.date(2028, 5, 31))["is_eol"] is False
    assert nc.driver_branch_info("580.95.05", datetime.datetime(2028, 6, 1, 12, 0))["is_eol"] is True
    assert nc.driver_branch_info("595.71.05", TODAY)["is_eol"] is False
    assert nc.driver_branch_info("418.39", TODAY)["is_eol"] is True


def test_branch_r580_conflict_recorded():
    info = nc.driver_branch_info("580.65.06", TODAY)
    assert info["type"] == "LTSB" and info["eol"] == "2028-06"
    assert "2028-08" in " ".join(dict((r["branch"], r) for r in data.DRIVER_BRANCHES)["580"]["eol_alternatives"])
    assert "note" in info


def test_branch_default_today_is_a_date():
    assert isinstance(nc.driver_branch_info("580.65.06")["is_eol"], bool)


@pytest.mark.parametrize("driver", REF_UNCONFIRMED_BRANCHES + ["999.1.1"])
def test_unconfirmed_branch_raises(driver):
    with pytest.raises(CompatError, match="not confirmed"):
        nc.driver_branch_info(driver, TODAY)


@pytest.mark.parametrize("driver,today", [("abc", TODAY), ("R5.35", TODAY), ("535.1.2", "2026/01/01"),
                                          ("535.1.2", 20260101)])
def test_branch_malformed_raises(driver, today):
    with pytest.raises(CompatError):
        nc.driver_branch_info(driver, today)


# ===========================================================================
# Fabric Manager
# ===========================================================================
@pytest.mark.parametrize("driver,fm,ok", [
    ("535.54.03", "535.54.03", True), ("460.106.00", "460.106.00", True), ("450.51.05", "450.51.05", True),
    ("530.41.03", "530.30.02", False), ("550.107.02", "550.90.07", False), ("580.126.09", "590.48.01", False),
    ("535.104.05", "535.104.12", False), ("535.104.12", "535.104.05", False), (" 570.26 ", "570.26", True),
])
def test_fabric_manager_matches(driver, fm, ok):
    assert nc.fabric_manager_matches(driver, fm) is ok


@pytest.mark.parametrize("driver,fm", [("535.54.03", "535"), ("535", "535.54.03"), ("535.54.03", None),
                                       ("535.54.03", "535.54.03-1"), ("", "535.54.03")])
def test_fabric_manager_matches_malformed(driver, fm):
    with pytest.raises(CompatError):
        nc.fabric_manager_matches(driver, fm)


@pytest.mark.parametrize("kwargs,required", [
    ({"nvswitch_present": True}, True), ({"nvswitch_present": False}, False), ({"nvswitch_present": 6}, True),
    ({"nvswitch_present": 0}, False), ({"platform": "HGX H100"}, True), ({"platform": "dgx  b200"}, True),
    ({"platform": "DGX-2"}, True), ({"platform": "HGX A100", "nvswitch_present": True}, True),
    ({"platform": "GB200 NVL72"}, False),
])
def test_fabric_manager_required(kwargs, required):
    assert nc.fabric_manager_required(**kwargs) is required


@pytest.mark.parametrize("kwargs", [{}, {"platform": "PCIe H100 box"}, {"nvswitch_present": "yes"},
                                    {"nvswitch_present": -1}, {"platform": "HGX H100", "nvswitch_present": False}])
def test_fabric_manager_required_raises(kwargs):
    with pytest.raises(CompatError):
        nc.fabric_manager_required(**kwargs)


def test_fm_platform_rows():
    rows = dict((r["platform"], r) for r in data.FABRIC_MANAGER_PLATFORMS)
    assert rows["HGX A100"]["min_branch"] == "450"
    assert rows["HGX-2"]["min_branch"] == "450"
    assert rows["HGX H100"]["min_branch"] == "525"
    for p in ("HGX B200", "DGX B200", "HGX B300", "DGX B300", "HGX B100"):
        assert rows[p]["min_branch"] == "570" and rows[p]["nvlsm"] is True and rows[p]["nvswitch_gen"] == 4


# ===========================================================================
# evaluate_stack
# ===========================================================================
GOOD_PLAN = {
    "driver": "580.95.05", "cuda": "13.0", "cudnn": "9.17.0", "archs": ["hopper", "H100", "9.0"],
    "kernel_module_flavor": "open", "nvswitch": True, "fabric_manager": "580.95.05", "today": TODAY,
}


def _components(violations):
    return sorted(v["component"] for v in violations)


def test_evaluate_good_plan_is_clean():
    assert nc.evaluate_stack(GOOD_PLAN) == []
    assert nc.evaluate_stack({}) == []
    assert nc.evaluate_stack({"driver": "535.247.01", "cuda": "12.2", "cudnn": "8.9.6", "archs": ["A100"],
                              "kernel_module_flavor": "proprietary", "nvswitch": True,
                              "fabric_manager": "535.247.01", "platform": "HGX A100", "today": TODAY}) == []


def test_violation_shape():
    for v in nc.evaluate_stack({"driver": "535.247.01", "cuda": "13.0", "today": TODAY}):
        assert set(v) == {"component", "expected", "found", "message"}
        assert isinstance(v["message"], str) and v["message"]


def test_cuda13_on_535_driver():
    v = nc.evaluate_stack({"driver": "535.247.01", "cuda": "13.0", "today": TODAY})
    assert len(v) == 1
    assert v[0]["component"] == "driver"
    assert v[0]["expected"] == ">= 580.65.06"
    assert v[0]["found"] == "535.247.01"
    msg = v[0]["message"]
    assert "CUDA 13.0" in msg and "580.65.06" in msg and "535.247.01" in msg
    assert "580+ branch" in msg and "CUDA <= 12.2" in msg


def test_cuda13_on_535_mvc_mode_also_fails():
    v = nc.evaluate_stack({"driver": "535.247.01", "cuda": "13.2", "cuda_mode": "mvc", "today": TODAY})
    assert _components(v) == ["driver"]
    assert "12.x" in v[0]["message"]
    assert nc.evaluate_stack({"driver": "535.247.01", "cuda": "12.8", "cuda_mode": "mvc", "today": TODAY}) == []


def test_proprietary_on_blackwell():
    plan = dict(GOOD_PLAN, archs=["NVIDIA B200"], kernel_module_flavor="proprietary")
    v = nc.evaluate_stack(plan)
    assert _components(v) == ["kernel_module_flavor"]
    assert v[0]["expected"] == "open" and v[0]["found"] == "proprietary"
    assert "Blackwell" in v[0]["message"] and "kernel_module_flavor: open" in v[0]["message"]


def test_proprietary_on_grace_hopper_only_gh200_flagged():
    plan = dict(GOOD_PLAN, archs=["H100", "GH200"], kernel_module_flavor="proprietary")
    v = nc.evaluate_stack(plan)
    assert _components(v) == ["kernel_module_flavor"]
    assert "GH200" in v[0]["message"]


def test_fabric_manager_version_mismatch():
    plan = dict(GOOD_PLAN, fabric_manager="580.82.07")
    v = nc.evaluate_stack(plan)
    assert _components(v) == ["fabric_manager"]
    assert v[0]["expected"] == "== 580.95.05" and v[0]["found"] == "580.82.07"
    assert "580.82.07" in v[0]["message"] and "580.95.05" in v[0]["message"]


def test_fabric_manager_branch_level_match_is_not_enough():
    plan = dict(GOOD_PLAN, driver="535.104.12", cuda="12.2", cudnn="8.9.6", fabric_manager="535.104.05")
    assert _components(nc.evaluate_stack(plan)) == ["fabric_manager"]


def test_fabric_manager_missing_on_nvswitch():
    v = nc.evaluate_stack(dict(GOOD_PLAN, fabric_manager=None))
    assert _components(v) == ["fabric_manager"]
    assert "580.95.05" in v[0]["message"] and "nvidia-fabricmanager" in v[0]["message"]
    assert nc.evaluate_stack(dict(GOOD_PLAN, fabric_manager=None, nvswitch=False)) == []


def test_fabric_manager_platform_min_branch():
    plan = {"driver": "470.82.01", "platform": "HGX H100", "fabric_manager": "470.82.01", "today": TODAY}
    v = nc.evaluate_stack(plan)
    assert "driver" in _components(v)
    assert any("R525" in x["message"] for x in v)


def test_issue_negative_cases_together():
    plan = {"driver": "535.247.01", "cuda": "13.0", "archs": ["B200"], "kernel_module_flavor": "proprietary",
            "nvswitch": True, "fabric_manager": "535.230.02", "today": TODAY}
    assert _components(nc.evaluate_stack(plan)) == ["driver", "fabric_manager", "kernel_module_flavor"]


def test_eol_branch_flagged():
    v = nc.evaluate_stack({"driver": "535.247.01", "today": "2026-07-01"})
    assert _components(v) == ["driver_branch"]
    assert "R535" in v[0]["message"] and "2026-06" in v[0]["message"] and "R580" in v[0]["message"]


def test_unconfirmed_branch_flagged():
    v = nc.evaluate_stack({"driver": "590.48.01", "cuda": "13.1", "today": TODAY})
    assert _components(v) == ["driver_branch"]


def test_cudnn_violations():
    v = nc.evaluate_stack({"driver": "580.95.05", "cuda": "11.8", "cudnn": "9.17.0", "today": TODAY})
    assert _components(v) == ["cudnn"]
    assert "11.8" in v[0]["message"] and "9.10.2" in v[0]["message"]
    v = nc.evaluate_stack({"driver": "580.95.05", "cuda": "12.4", "cudnn": "8.9.7", "today": TODAY})
    assert _components(v) == ["cudnn"]


def test_cudnn_driver_not_repeated_when_cuda_check_fails():
    v = nc.evaluate_stack({"driver": "535.247.01", "cuda": "13.0", "cudnn": "9.17.0", "today": TODAY})
    assert _components(v) == ["driver"]


def test_arch_cuda_violations():
    v = nc.evaluate_stack({"driver": "580.95.05", "cuda": "13.0", "archs": ["V100"], "today": TODAY})
    assert _components(v) == ["cuda"]
    assert "12.x" in v[0]["message"]
    v = nc.evaluate_stack({"driver": "570.124.06", "cuda": "12.8", "archs": ["B300"], "today": TODAY})
    assert _components(v) == ["cuda"] and "12.9" in v[0]["message"]


def test_arch_last_driver_branch():
    v = nc.evaluate_stack({"driver": "595.71.05", "archs": ["volta"], "today": TODAY})
    assert _components(v) == ["driver"]
    assert "R580" in v[0]["message"]


def test_open_flavor_before_515():
    v = nc.evaluate_stack({"driver": "460.106.00", "archs": ["A100"], "kernel_module_flavor": "open",
                           "today": "2020-01-01"})
    assert _components(v) == ["kernel_module_flavor"]


def test_unknown_values_become_violations():
    v = nc.evaluate_stack({"driver": "535", "cuda": "12.7", "cudnn": "7.6.5", "archs": ["fermi"],
                           "kernel_module_flavor": "nouveau", "today": TODAY})
    assert _components(v) == ["archs", "cuda", "cudnn", "driver", "kernel_module_flavor"]


@pytest.mark.parametrize("plan", [None, [], "x", {"cuda_version": "12.4"}, {"cuda_mode": "forward"},
                                  {"archs": 9}, {"today": "tomorrow"}])
def test_malformed_plan_raises(plan):
    with pytest.raises(CompatError):
        nc.evaluate_stack(plan)


# ===========================================================================
# filter plugin
# ===========================================================================
FILTER_NAMES = {
    "cuda_min_driver": nc.cuda_min_driver, "driver_supports_cuda": nc.driver_supports_cuda,
    "cudnn_supports": nc.cudnn_supports, "cc_to_arch": nc.cc_to_arch,
    "kernel_module_flavors": nc.kernel_module_flavors, "driver_branch_info": nc.driver_branch_info,
    "fabric_manager_matches": nc.fabric_manager_matches, "nvidia_stack_violations": nc.evaluate_stack,
}


def test_filter_names():
    filters = FilterModule().filters()
    assert set(filters) == set(FILTER_NAMES)
    for name, func in filters.items():
        assert callable(func)
        assert getattr(func, "__wrapped__", None) is FILTER_NAMES[name]


def test_filter_results():
    f = FilterModule().filters()
    assert f["cuda_min_driver"]("13.0") == "580.65.06"
    assert f["cuda_min_driver"]("12.4", "mvc") == "525.60.13"
    assert f["driver_supports_cuda"]("535.247.01", "13.0") is False
    assert f["cudnn_supports"]("9.17.0", "13.0") is True
    assert f["cc_to_arch"]("sm_90") == "hopper"
    assert f["kernel_module_flavors"]("blackwell") == ["open"]
    assert f["driver_branch_info"]("580.95.05", TODAY)["type"] == "LTSB"
    assert f["fabric_manager_matches"]("550.107.02", "550.90.07") is False
    assert f["nvidia_stack_violations"](GOOD_PLAN) == []


@pytest.mark.parametrize("name,args", [
    ("cuda_min_driver", ("12.7",)), ("driver_supports_cuda", ("535", "12.2")), ("cudnn_supports", ("8.9.7", "12.2")),
    ("cc_to_arch", ("sm_",)), ("kernel_module_flavors", ("jetson_thor",)), ("driver_branch_info", ("545.29.06",)),
    ("fabric_manager_matches", ("535.54.03", "x")), ("nvidia_stack_violations", ({"bogus": 1},)),
])
def test_filter_errors_are_ansible_filter_errors(name, args):
    with pytest.raises(AnsibleFilterError, match=name):
        FilterModule().filters()[name](*args)


def test_filter_sidecar_docs_exist():
    import os
    import yaml

    here = os.path.dirname(nc.__file__)
    fdir = os.path.join(os.path.dirname(here), "filter")
    for name in FILTER_NAMES:
        with open(os.path.join(fdir, name + ".yml")) as fh:
            doc = yaml.safe_load(fh)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"] and doc["RETURN"]["_value"]
