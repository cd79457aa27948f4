# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/gpu_stack.py: driver / CUDA / cuDNN plans, verification helpers, filters."""

from __future__ import annotations

import json
import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.llmfleet.baremetal.plugins.filter.gpu_stack import FilterModule  # noqa: E402
from ansible_collections.llmfleet.baremetal.plugins.module_utils import gpu_stack as gs  # noqa: E402

FIX = os.path.join(REPO, "tests", "fixtures", "gpu")
DEBIAN = {"id": "debian", "version": "12"}
UBUNTU = {"id": "ubuntu", "version": "24.04"}
TODAY = "2026-11-23"


def snap(name):
    with open(os.path.join(FIX, name, "snapshot.json")) as f:
        s = json.load(f)
    s["source"] = "replay"
    return s


H100, H200X2, B200 = snap("h100x1"), snap("h200x2"), snap("synthetic-blackwell")


def live(s):
    s = dict(s)
    s["source"] = "nvml"
    return s


def comps(plan):
    return [v["component"] for v in plan["violations"]]


# --- snapshot summary -------------------------------------------------------------------------------------
def test_summary_nvswitch_only_on_h200x2():
    assert gs.gpu_summary(H200X2)["nvswitch"] is True
    assert gs.gpu_summary(H100)["nvswitch"] is False
    assert gs.gpu_summary(B200)["archs"] == ["blackwell"]
    assert gs.gpu_summary(None)["gpu_count"] == 0


def test_deb_upstream_version():
    assert gs.deb_upstream_version("535.261.03-1") == "535.261.03"
    assert gs.deb_upstream_version("1:580.95.05-0ubuntu0.24.04.2") == "580.95.05"
    assert gs.deb_upstream_version("9.10.2.21-1") == "9.10.2.21"
    assert gs.deb_upstream_version("") == ""


# --- driver plans -----------------------------------------------------------------------------------------
def test_h200_nvidia_repo_plan_open_with_fabric_manager():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia"}, H200X2, DEBIAN, "gpu1", TODAY)
    assert p["violations"] == []
    assert p["flavor"] == "open"
    assert p["install"] == ["nvidia-open-580=580.95.05-*", "nvidia-persistenced=580.95.05-*"]
    assert p["fabric_manager"]["required"] is True
    assert p["fabric_manager"]["install"] == "nvidia-fabricmanager-580=580.95.05-*"
    assert p["hold"] == ["nvidia-open-580", "nvidia-persistenced", "nvidia-fabricmanager-580"]
    assert p["pin"]["version"] == "580.95.05-*"
    assert p["repo_dir"] == "debian12"


def test_h100_pcie_no_fabric_manager_proprietary_allowed():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "mirror", "flavor": "proprietary"},
                               H100, DEBIAN, "gpu2", TODAY)
    assert p["violations"] == []
    assert p["fabric_manager"]["required"] is False
    assert p["install"][0] == "cuda-drivers-580=580.95.05-*"


def test_debian_distribution_535_proprietary_with_eol_allowed():
    wants = {"repo_mode": "distribution", "flavor": "proprietary", "available_versions": ["535.261.03"],
             "allow_eol_branch": True}
    p = gs.resolve_driver_plan(wants, H100, DEBIAN, "dk1", TODAY)
    assert p["violations"] == [], p["violations"]
    assert p["version"] == "535.261.03"
    assert "nvidia-kernel-dkms=535.261.03-*" in p["install"]
    assert "nvidia-persistenced" in p["install"]  # own version: held, not pinned
    assert "nvidia-persistenced" not in p["versioned"]
    assert any("end of life" in w for w in p["warnings"])


def test_debian_535_is_eol_without_the_override():
    wants = {"repo_mode": "distribution", "version": "535.261.03", "available_versions": ["535.261.03"]}
    p = gs.resolve_driver_plan(wants, H100, DEBIAN, "dk1", TODAY)
    assert comps(p) == ["driver_branch"]
    assert "dk1: driver_branch" in p["violations"][0]["text"]


def test_negative_cuda13_with_535_names_host_component_versions():
    wants = {"repo_mode": "distribution", "version": "535.261.03", "available_versions": ["535.261.03"],
             "cuda": "13.0", "allow_eol_branch": True}
    p = gs.resolve_driver_plan(wants, H100, DEBIAN, "neg1", TODAY)
    assert comps(p) == ["driver"]
    text = p["violations"][0]["text"]
    assert text.startswith("neg1: driver (expected >= 580.65.06, found 535.261.03)")
    assert "CUDA 13.0" in text


def test_negative_cuda13_with_535_in_cuda_plan():
    p = gs.resolve_cuda_plan({"version": "13.0", "repo_mode": "nvidia"}, "535.261.03", DEBIAN, "neg1")
    assert comps(p) == ["cuda/driver"]
    assert "535.261.03" in p["violations"][0]["text"] and "13.0" in p["violations"][0]["text"]


def test_negative_proprietary_on_blackwell():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia", "flavor": "proprietary"},
                               B200, DEBIAN, "neg2", TODAY)
    assert comps(p) == ["kernel_module_flavor"]
    text = p["violations"][0]["text"]
    assert text.startswith("neg2: kernel_module_flavor (expected open, found proprietary)")
    assert "B200" in text


def test_auto_flavor_on_blackwell_is_open():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia"}, B200, DEBIAN, "b", TODAY)
    assert p["flavor"] == "open" and p["violations"] == []


def test_negative_fabric_manager_version_differs():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia", "fabric_manager_version": "580.82.07"},
                               H200X2, DEBIAN, "neg3", TODAY)
    assert comps(p) == ["fabric_manager"]
    text = p["violations"][0]["text"]
    assert text.startswith("neg3: fabric_manager (expected == 580.95.05, found 580.82.07)")


def test_fabric_manager_from_declared_platform_on_fresh_host():
    nosnap = {"nvml_available": False, "gpus": [], "source": "nvml", "reason": "no driver"}
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia", "platform": "HGX H100",
                                "gpu_archs": ["hopper"]}, nosnap, DEBIAN, "fresh", TODAY)
    assert p["violations"] == []
    assert p["fabric_manager"]["required"] and p["flavor"] == "open"


def test_debian_distribution_has_no_fabric_manager():
    wants = {"repo_mode": "distribution", "version": "535.261.03", "available_versions": ["535.261.03"],
             "allow_eol_branch": True}
    p = gs.resolve_driver_plan(wants, H200X2, DEBIAN, "d", TODAY)
    assert comps(p) == ["fabric_manager"]
    assert "nvidia_driver_repo_mode nvidia or mirror" in p["violations"][0]["message"]


def test_fabric_manager_absent_on_nvswitch_is_refused():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia", "fabric_manager": "absent"},
                               H200X2, DEBIAN, "x", TODAY)
    assert "fabric_manager" in comps(p)


def test_flavor_auto_needs_archs():
    nosnap = {"nvml_available": False, "gpus": []}
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia"}, nosnap, DEBIAN, "x", TODAY)
    assert comps(p) == ["kernel_module_flavor"]


def test_version_required_for_nvidia_mode_and_branch_refused():
    p = gs.resolve_driver_plan({"repo_mode": "nvidia"}, H100, DEBIAN, "x", TODAY)
    assert comps(p) == ["driver"]
    p = gs.resolve_driver_plan({"repo_mode": "nvidia", "version": "580"}, H100, DEBIAN, "x", TODAY)
    assert comps(p) == ["driver"]


def test_distribution_version_not_offered():
    wants = {"repo_mode": "distribution", "version": "580.95.05", "available_versions": ["535.261.03"]}
    p = gs.resolve_driver_plan(wants, H100, DEBIAN, "x", TODAY)
    assert "driver" in comps(p)


def test_ubuntu_distribution_names():
    p = gs.resolve_driver_plan({"repo_mode": "distribution", "version": "580.95.05"}, H200X2, UBUNTU, "u", TODAY)
    assert p["violations"] == []
    assert p["install"][0] == "nvidia-driver-580-server-open=580.95.05-*"
    assert p["fabric_manager"]["package"] == "nvidia-fabricmanager-580"


def test_unsupported_os_and_mode():
    assert comps(gs.resolve_driver_plan({"version": "580.95.05"}, H100, {"id": "rocky", "version": "9"})) == ["os"]
    assert comps(gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "ftp"}, H100, DEBIAN)) == ["repo_mode"]


# --- CUDA / cuDNN -----------------------------------------------------------------------------------------
def test_cuda_plan_nvidia_repo():
    p = gs.resolve_cuda_plan({"version": "12.8.1", "repo_mode": "mirror"}, "580.95.05", DEBIAN, "g",
                             ["NVIDIA H200"])
    assert p["violations"] == []
    assert p["install"] == ["cuda-toolkit-12-8=12.8.1-*"]
    assert p["bin_dir"] == "/usr/local/cuda-12.8/bin" and p["lib_dir"] == "/usr/local/cuda-12.8/lib64"
    assert gs.resolve_cuda_plan({"version": "12.8"}, "580.95.05", DEBIAN)["version"] == "12.8.0"


def test_cuda_plan_needs_newer_driver_for_update():
    p = gs.resolve_cuda_plan({"version": "12.8.1"}, "570.26", DEBIAN, "g")
    assert comps(p) == ["cuda/driver"]
    assert gs.resolve_cuda_plan({"version": "12.8.1", "driver_mode": "mvc"}, "570.26", DEBIAN)["violations"] == []


def test_cuda_plan_unknown_and_no_driver():
    assert comps(gs.resolve_cuda_plan({"version": "12.7"}, "580.95.05", DEBIAN)) == ["cuda"]
    assert comps(gs.resolve_cuda_plan({"version": "12.8.1"}, None, DEBIAN)) == ["cuda"]


def test_cuda_distribution_debian_is_11_8():
    p = gs.resolve_cuda_plan({"version": "11.8", "repo_mode": "distribution"}, "580.95.05", DEBIAN)
    assert p["violations"] == [] and p["install"] == ["nvidia-cuda-toolkit"] and p["bin_dir"] == "/usr/bin"
    assert comps(gs.resolve_cuda_plan({"version": "12.8", "repo_mode": "distribution"}, "580.95.05", DEBIAN)) == ["cuda"]


def test_cudnn_plan_matches_cuda_major():
    p = gs.resolve_cudnn_plan({"version": "9.10.2", "repo_mode": "mirror"}, "12.8.1", "580.95.05", "g")
    assert p["violations"] == []
    assert p["install"] == ["libcudnn9-cuda-12=9.10.2.*", "libcudnn9-dev-cuda-12=9.10.2.*"]


def test_cudnn_without_build_for_cuda13_and_driver_floor():
    p = gs.resolve_cudnn_plan({"version": "9.10.2"}, "13.0", "580.95.05", "g")
    assert comps(p) == ["cudnn"]
    p = gs.resolve_cudnn_plan({"version": "9.10.2"}, "12.8", "535.261.03", "g")
    assert comps(p) == ["cudnn/driver"]
    assert comps(gs.resolve_cudnn_plan({"version": "9.10.2", "repo_mode": "distribution"}, "12.8")) == ["cudnn"]
    assert comps(gs.resolve_cudnn_plan({"version": "9.10.2"}, None)) == ["cudnn"]


# --- verification -----------------------------------------------------------------------------------------
def test_verify_driver_live_ok_and_mismatch():
    s = live(H100)
    ok = gs.verify_driver(s, None, "580.159.04", "h100")
    assert ok["ok"] and ok["status"] == "ok"
    ok = gs.verify_driver(s, "580.159.04-1", None, "h100")
    assert ok["ok"]
    bad = gs.verify_driver(s, "580.95.05-1", None, "h100")
    assert not bad["ok"] and bad["status"] == "mismatch" and "reboot" in bad["message"]
    assert gs.verify_driver(s, "580.95.05-1", "580.159.04")["status"] == "mismatch"


def test_verify_driver_replay_and_not_loaded():
    assert gs.verify_driver(H100, None, "580.159.04")["status"] == "replay"
    nv = gs.verify_driver({"nvml_available": False, "reason": "no driver", "source": "nvml"}, None, "580.95.05")
    assert nv["status"] == "not_loaded" and not nv["ok"]
    assert gs.verify_driver(live(H100))["status"] == "no_expectation"


def test_parse_nvcc_and_cudnn_header():
    out = ("nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
           "Built on Fri_Feb_21_20:23:50_PST_2025\nCuda compilation tools, release 12.8, V12.8.93\n"
           "Build cuda_12.8.r12.8/compiler.35583870_0\n")
    assert gs.parse_nvcc_version(out) == {"release": "12.8", "build": "12.8.93"}
    with pytest.raises(gs.CompatError):
        gs.parse_nvcc_version("bash: nvcc: command not found")
    hdr = "#ifndef CUDNN_VERSION_H_\n#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 10\n#define CUDNN_PATCHLEVEL 2\n"
    assert gs.parse_cudnn_header(hdr) == "9.10.2"
    with pytest.raises(gs.CompatError):
        gs.parse_cudnn_header("#define CUDNN_MAJOR 9\n")


DKMS3 = """nvidia-current/535.261.03, 6.1.0-47-amd64, x86_64: installed
nvidia-current/535.261.03, 6.1.0-50-amd64, x86_64: installed (WARNING! Diff between built and installed module!)
"""
DKMS2 = "nvidia-current, 535.261.03, 6.1.0-47-amd64, x86_64: installed\nnvidia-current, 535.261.03: added\n"


def test_dkms_status_parsing_and_missing():
    e = gs.parse_dkms_status(DKMS3)
    assert e[0] == {"module": "nvidia-current", "version": "535.261.03", "kernel": "6.1.0-47-amd64",
                    "arch": "x86_64", "state": "installed"}
    assert gs.dkms_missing(DKMS3, ["6.1.0-47-amd64", "6.1.0-50-amd64"], "535.261.03") == []
    assert gs.dkms_missing(DKMS2, ["6.1.0-47-amd64", "6.1.0-50-amd64"], "535.261.03") == [
        {"module": "nvidia-current", "version": "535.261.03", "kernel": "6.1.0-50-amd64"}]
    assert gs.dkms_missing("", ["k1"], "535.261.03") == [{"module": None, "version": "535.261.03", "kernel": "k1"}]


def test_violation_table():
    p = gs.resolve_driver_plan({"version": "580.95.05", "repo_mode": "nvidia", "flavor": "proprietary"},
                               B200, DEBIAN, "neg2", TODAY)
    t = gs.violation_table([p, [{"violations": []}]])
    assert "(1 violation(s)), nothing was changed" in t and "neg2: kernel_module_flavor" in t
    assert gs.violation_table([]) == "GPU stack plan: no violations"


def test_filters_registered_and_wrap_errors():
    f = FilterModule().filters()
    for name in ("gpu_stack_driver_plan", "gpu_stack_cuda_plan", "gpu_stack_cudnn_plan", "gpu_stack_verify_driver",
                 "gpu_stack_nvcc_version", "gpu_stack_cudnn_header_version", "gpu_stack_dkms_missing",
                 "gpu_stack_deb_upstream", "gpu_stack_violation_table"):
        assert name in f
        assert os.path.exists(os.path.join(REPO, "plugins", "filter", name + ".yml")), name
    with pytest.raises(AnsibleFilterError, match="gpu_stack_nvcc_version"):
        f["gpu_stack_nvcc_version"]("nothing")
