# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/nvml_snapshot.py.

No GPU and no pynvml needed: NVML is replaced by tests/unit/fake_nvml.py,
and the recorded fixtures under tests/fixtures/gpu/ are checked against the
``nvidia-smi -q -x`` / ``nvidia-smi topo -m`` output of the same run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MODULE_PATH = os.path.join(REPO, "plugins", "module_utils", "nvml_snapshot.py")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "gpu")
FIXTURE_DIRS = ("h100x1", "h200x2")

sys.path.insert(0, HERE)
import fake_nvml  # noqa: E402  pylint: disable=wrong-import-position
from fake_nvml import FakeNVML, default_gpu  # noqa: E402  pylint: disable=wrong-import-position


def _load_module():
    # Loaded by file path, the way the llmfleet CLI does it.
    spec = importlib.util.spec_from_file_location("nvml_snapshot_under_test", MODULE_PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ns = _load_module()


def _snap(fake, **kw):
    snap = ns.collect_snapshot(fake, **kw)
    json.dumps(snap)  # always JSON-serialisable
    assert snap["schema"] == "llmfleet.gpu_snapshot/v1"
    return snap


# ----------------------------------------------------------------- failure modes

def test_module_has_no_hard_pynvml_or_ansible_import():
    with open(MODULE_PATH) as handle:
        text = handle.read()
    assert "\nimport pynvml" not in text and "\nfrom ansible" not in text and "\nimport ansible" not in text
    assert text.startswith("# -*- coding: utf-8 -*-")
    assert "from __future__ import annotations" in text


def test_library_not_found():
    fake = FakeNVML(init_error=fake_nvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    snap = _snap(fake)
    assert snap["nvml_available"] is False
    assert snap["reason"].startswith("libnvidia-ml.so.1 not found: is the NVIDIA driver installed?")
    assert snap["gpus"] == [] and snap["pairs"] == [] and snap["gpu_count"] == 0
    assert snap["nvml_calls"]["errors"][0]["call"] == "nvmlInit"
    assert not fake.shutdown_called
    assert isinstance(snap["probe_wall_time_s"], float)


@pytest.mark.parametrize("code,needle", [
    (fake_nvml.NVML_ERROR_DRIVER_NOT_LOADED, "kernel driver not loaded"),
    (fake_nvml.NVML_ERROR_NO_PERMISSION, "insufficient permissions"),
    (fake_nvml.NVML_ERROR_UNKNOWN, "nvmlInit failed: Unknown Error"),
])
def test_other_init_failures_have_actionable_reason(code, needle):
    snap = _snap(FakeNVML(init_error=code))
    assert snap["nvml_available"] is False
    assert needle in snap["reason"]


def test_pynvml_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes "import pynvml" raise ImportError
    snap = ns.collect_snapshot()
    assert snap["nvml_available"] is False
    assert "nvidia-ml-py" in snap["reason"]
    assert snap["gpus"] == []


def test_driver_loaded_but_zero_gpus():
    fake = FakeNVML(gpus=[])
    snap = _snap(fake)
    assert snap["nvml_available"] is True
    assert snap["gpu_count"] == 0 and snap["gpus"] == [] and snap["pairs"] == []
    assert "0 GPUs" in snap["reason"]
    assert snap["driver_version"] == "580.159.04"
    assert snap["cuda_driver_version"] == "13.0" and snap["cuda_driver_version_raw"] == 13000
    assert snap["nvml_version"] == "13.580.159.04"
    assert fake.shutdown_called


def test_not_supported_is_recorded_as_string():
    gpu = default_gpu(0, nvlinks=None, fabric=None, not_supported=[
        "nvmlDeviceGetSerial", "nvmlDeviceGetRemappedRows", "nvmlDeviceGetPowerManagementLimitConstraints",
        "nvmlDeviceGetEccMode", "nvmlDeviceGetMigMode", "nvmlDeviceGetCpuAffinity"])
    snap = _snap(FakeNVML(gpus=[gpu]))
    g = snap["gpus"][0]
    assert g["serial"] == "not_supported"
    assert g["remapped_rows"] == "not_supported"
    assert g["power_min_limit_w"] == g["power_max_limit_w"] == "not_supported"
    assert g["ecc_current"] == g["ecc_pending"] == "not_supported"
    assert g["mig_current"] == g["mig_pending"] == "not_supported"
    assert g["cpu_affinity"] == "not_supported"
    assert g["fabric"] == "not_supported"
    assert g["numa_node_nvml"] == "not_supported"
    assert len(g["nvlinks"]) == 18
    assert all(lk["state"] == "not_supported" and set(lk) == {"link", "state"} for lk in g["nvlinks"])
    assert g["nvlink_active_links"] == 0
    listed = snap["nvml_calls"]["not_supported"]
    assert "gpu0:nvmlDeviceGetSerial" in listed and "gpu0:nvmlDeviceGetGpuFabricInfoV" in listed
    assert "gpu0:nvlink17:nvmlDeviceGetNvLinkState" in listed
    assert snap["nvml_calls"]["errors"] == []
    # everything else still probed
    assert g["name"] == "NVIDIA H200" and g["power_limit_w"] == 700.0


def test_other_nvml_errors_are_recorded_as_error_dict():
    gpu = default_gpu(0, errors={"nvmlDeviceGetMemoryInfo": fake_nvml.NVML_ERROR_GPU_IS_LOST})
    snap = _snap(FakeNVML(gpus=[gpu], not_supported=["nvmlSystemGetNVMLVersion"]))
    g = snap["gpus"][0]
    assert g["memory_total_bytes"] == {"error": "GPU is lost", "code": 15}
    assert g["memory_total_mib"] is None
    assert snap["nvml_version"] == "not_supported"
    assert snap["nvml_calls"]["errors"] == [{"call": "gpu0:nvmlDeviceGetMemoryInfo", "error": "GPU is lost"}]


def test_unexpected_exception_never_crashes_probe():
    fake = FakeNVML(gpus=[default_gpu(0)])

    def boom(handle):
        raise RuntimeError("ctypes exploded")
    fake.nvmlDeviceGetName = boom
    snap = _snap(fake)
    assert snap["gpus"][0]["name"] == {"error": "RuntimeError: ctypes exploded"}
    assert snap["gpus"][0]["uuid"].startswith("GPU-")


def test_handle_failure_skips_gpu_and_its_pairs():
    bad = default_gpu(1, errors={"nvmlDeviceGetHandleByIndex": fake_nvml.NVML_ERROR_GPU_IS_LOST})
    snap = _snap(FakeNVML(gpus=[default_gpu(0), bad, default_gpu(2)]))
    assert snap["gpu_count"] == 3
    assert snap["gpus"][1] == {"index": 1, "error": {"error": "GPU is lost", "code": 15}}
    assert [(p["gpu_a"], p["gpu_b"]) for p in snap["pairs"]] == [(0, 2)]


def test_missing_binding_functions_are_errors_not_crashes():
    fake = FakeNVML(gpus=[default_gpu(0, numa=1)],
                    missing=("nvmlDeviceGetNumaNodeId", "nvmlSystemGetCudaDriverVersion_v2",
                             "nvmlDeviceGetArchitecture"))
    snap = _snap(fake)
    g = snap["gpus"][0]
    assert snap["cuda_driver_version"] == "13.0"  # fell back to the v1 call
    assert g["numa_node_nvml"] is None  # not present in the binding: not called
    assert g["architecture_nvml"]["error"].startswith("pynvml has no nvmlDeviceGetArchitecture")


# ----------------------------------------------------------------- per-GPU fields

def test_full_gpu_fields():
    snap = _snap(FakeNVML(gpus=[default_gpu(0, numa=1)]))
    g = snap["gpus"][0]
    assert g["pci_bus_id"] == "00000000:18:00.0"
    assert g["pci_device_id"] == "0x233510DE" and g["pci_device"] == "0x2335" and g["pci_vendor"] == "0x10de"
    assert g["memory_total_mib"] == 143771 and g["memory_total_bytes"] == 150754820096
    assert g["compute_capability"] == "9.0" and g["architecture"] == "hopper" == g["architecture_nvml"]
    assert g["persistence_mode"] == "enabled" and g["ecc_current"] == "enabled" and g["mig_current"] == "disabled"
    assert (g["power_limit_w"], g["power_default_limit_w"], g["power_min_limit_w"], g["power_max_limit_w"]) == \
        (700.0, 700.0, 200.0, 700.0)
    assert (g["pcie_max_generation"], g["pcie_current_generation"], g["pcie_max_width"],
            g["pcie_current_width"]) == (5, 5, 16, 16)
    assert g["numa_node"] == 1 and g["numa_node_source"] == "nvml"
    assert g["cpu_affinity"] == "0-15,32-47"
    assert g["remapped_rows"] == {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}
    assert g["fabric"]["state"] == "completed" and g["fabric"]["status"] == "SUCCESS"
    assert g["fabric"]["cluster_uuid"] == "00000000-0000-0000-0000-000000000000"
    assert g["nvlinks"][0] == {"link": 0, "state": "active", "version_raw": 6, "version": "4.0",
                               "remote_pci_bus_id": "FFFFFFFF:FF:FF.0", "remote_pci_device_id": "0xFFFFFFFF",
                               "remote_device_type": "nvswitch"}


@pytest.mark.parametrize("cc,arch", [
    ((7, 0), "volta"), ((7, 5), "turing"), ((8, 0), "ampere"), ((8, 6), "ampere"), ((8, 7), "ampere"),
    ((8, 9), "ada"), ((9, 0), "hopper"), ((10, 0), "blackwell"), ((10, 3), "blackwell"),
    ((12, 0), "blackwell"), ((12, 1), "blackwell"), ((6, 0), "pascal"), ((6, 1), "pascal"),
    ((5, 2), "unknown"),
])
def test_architecture_map(cc, arch):
    snap = _snap(FakeNVML(gpus=[default_gpu(0, cc=cc, nvlinks=None)]))
    assert snap["gpus"][0]["compute_capability"] == "%d.%d" % cc
    assert snap["gpus"][0]["architecture"] == arch


def test_numa_falls_back_to_sysfs(tmp_path):
    dev = tmp_path / "bus" / "pci" / "devices" / "0000:18:00.0"
    dev.mkdir(parents=True)
    (dev / "numa_node").write_text("1\n")
    snap = _snap(FakeNVML(gpus=[default_gpu(0, bus_id="00000000:18:00.0")]), sysfs_root=str(tmp_path))
    g = snap["gpus"][0]
    assert g["numa_node_nvml"] == "not_supported"
    assert g["numa_node_sysfs"] == 1 and g["numa_node"] == 1 and g["numa_node_source"] == "sysfs"


def test_numa_unknown_everywhere(tmp_path):
    snap = _snap(FakeNVML(gpus=[default_gpu(0)]), sysfs_root=str(tmp_path))
    g = snap["gpus"][0]
    assert g["numa_node"] is None and g["numa_node_source"] is None


def test_binding_max_links_beyond_device_links_are_not_present():
    # nvidia-ml-py 13.610 sets NVML_NVLINK_MAX_LINKS = 36; an H200 has 18 links.
    fake = FakeNVML(gpus=[default_gpu(0)], max_links=36)
    snap = _snap(fake)
    links = snap["gpus"][0]["nvlinks"]
    assert len(links) == 36 and snap["nvlink_max_links"] == 36
    assert all(lk["state"] == "active" for lk in links[:18])
    assert all(lk == {"link": i, "state": "not_present"} for i, lk in enumerate(links) if i >= 18)
    assert snap["nvml_calls"]["errors"] == []
    # only link 18 was asked; 19..35 were not probed at all
    assert fake.calls.count("nvmlDeviceGetNvLinkState") == 19


# ----------------------------------------------------------------- pairs / NVLink / NVSwitch

def _links(n, remote_bus, remote_type, active=1, device_id=0x233510DE):
    return [{"state": active, "version": 6, "remote_bus_id": remote_bus, "remote_device_id": device_id,
             "remote_type": remote_type} for _link in range(n)]


def test_pair_nvswitch_in_vm_unknown_switch_ids():
    snap = _snap(FakeNVML(gpus=[default_gpu(0), default_gpu(1)],
                          pairs={(0, 1): {"topology": 30, "p2p": {0: 0, 1: 0, 2: 0, 3: 0}}}))
    (pair,) = snap["pairs"]
    assert pair["pcie_common_ancestor"] == {"level": 30, "name": "PHB", "nvml_name": "HOSTBRIDGE"}
    nv = pair["nvlink"]
    assert nv["direct_links"] == 0 and nv["via_nvswitch"] is True
    assert nv["shared_nvswitch_bus_ids"] is None
    assert nv["nvswitch_links"] == 18 and nv["bond_count"] == 18 and nv["route"] == "nvswitch"
    assert pair["p2p"] == {"read": "OK", "write": "OK", "nvlink": "OK", "atomics": "OK"}


def test_pair_nvswitch_with_known_switch_ids_counts_shared_switches():
    sw_a, sw_b, sw_c = "00000000:A1:00.0", "00000000:A2:00.0", "00000000:A3:00.0"
    g0 = default_gpu(0, nvlinks=_links(4, sw_a, 2, device_id=0x22A310DE) + _links(5, sw_b, 2, device_id=0x22A310DE))
    g1 = default_gpu(1, nvlinks=_links(3, sw_b, 2, device_id=0x22A310DE) + _links(6, sw_c, 2, device_id=0x22A310DE))
    nv = _snap(FakeNVML(gpus=[g0, g1]))["pairs"][0]["nvlink"]
    assert nv["via_nvswitch"] is True
    assert nv["shared_nvswitch_bus_ids"] == ["0000:a2:00.0"]
    assert (nv["nvswitch_links_a"], nv["nvswitch_links_b"]) == (9, 9)
    assert nv["nvswitch_links"] == 3 and nv["bond_count"] == 3


def test_pair_nvswitch_disjoint_switches_is_not_a_route():
    g0 = default_gpu(0, nvlinks=_links(2, "00000000:A1:00.0", 2))
    g1 = default_gpu(1, nvlinks=_links(2, "00000000:A2:00.0", 2))
    nv = _snap(FakeNVML(gpus=[g0, g1]))["pairs"][0]["nvlink"]
    assert nv["via_nvswitch"] is False and nv["bond_count"] == 0 and nv["route"] == "none"


def test_pair_direct_nvlink_bridge():
    g0 = default_gpu(0, cc=(8, 0), bus_id="00000000:18:00.0", fabric=None,
                     nvlinks=_links(4, "00000000:28:00.0", 0) + _links(8, None, None, active=0))
    g1 = default_gpu(1, cc=(8, 0), bus_id="00000000:28:00.0", fabric=None,
                     nvlinks=_links(4, "0000:18:00.0", 0) + _links(8, None, None, active=0))
    g2 = default_gpu(2, bus_id="00000000:38:00.0", nvlinks=None)
    snap = _snap(FakeNVML(gpus=[g0, g1, g2], pairs={(0, 2): {"topology": 50}}))
    pairs = {(p["gpu_a"], p["gpu_b"]): p for p in snap["pairs"]}
    assert set(pairs) == {(0, 1), (0, 2), (1, 2)}
    nv = pairs[(0, 1)]["nvlink"]
    assert nv["direct_links"] == 4 and nv["direct_links_reverse"] == 4
    assert nv["via_nvswitch"] is False and nv["bond_count"] == 4 and nv["route"] == "direct"
    assert pairs[(0, 2)]["nvlink"]["route"] == "none" and pairs[(0, 2)]["nvlink"]["bond_count"] == 0
    assert pairs[(0, 2)]["pcie_common_ancestor"]["name"] == "SYS"
    assert snap["gpus"][0]["nvlink_active_links"] == 4
    assert snap["gpus"][0]["nvlinks"][5]["state"] == "inactive"


def test_pair_direct_plus_nvswitch():
    g0 = default_gpu(0, bus_id="00000000:18:00.0",
                     nvlinks=_links(2, "00000000:28:00.0", 0) + _links(4, "FFFFFFFF:FF:FF.0", 2))
    g1 = default_gpu(1, bus_id="00000000:28:00.0",
                     nvlinks=_links(2, "00000000:18:00.0", 0) + _links(6, "FFFFFFFF:FF:FF.0", 2))
    nv = _snap(FakeNVML(gpus=[g0, g1]))["pairs"][0]["nvlink"]
    assert nv["direct_links"] == 2 and nv["via_nvswitch"] is True and nv["nvswitch_links"] == 4
    assert nv["bond_count"] == 6 and nv["route"] == "direct+nvswitch"


def test_nvswitch_detected_by_pci_id_when_remote_type_missing():
    g0 = default_gpu(0, nvlinks=_links(18, "00000000:A1:00.0", None, device_id=0x22A310DE))
    g1 = default_gpu(1, nvlinks=_links(18, "00000000:A1:00.0", None, device_id=0x22A310DE))
    fake = FakeNVML(gpus=[g0, g1], missing=("nvmlDeviceGetNvLinkRemoteDeviceType",))
    snap = _snap(fake)
    lk = snap["gpus"][0]["nvlinks"][0]
    assert lk["remote_device_type"] == "nvswitch" and lk["remote_device_type_source"] == "pci_device_id"
    assert snap["pairs"][0]["nvlink"]["bond_count"] == 18


@pytest.mark.parametrize("level,name,enum", [
    (0, "INTERNAL", "INTERNAL"), (10, "PIX", "SINGLE"), (20, "PXB", "MULTIPLE"),
    (30, "PHB", "HOSTBRIDGE"), (40, "NODE", "NODE"), (50, "SYS", "SYSTEM")])
def test_topology_names(level, name, enum):
    fake = FakeNVML(gpus=[default_gpu(0, nvlinks=None), default_gpu(1, nvlinks=None)],
                    pairs={(0, 1): {"topology": level, "p2p": {0: 1, 1: 2, 2: 5, 3: 4}}})
    pair = _snap(fake)["pairs"][0]
    assert pair["pcie_common_ancestor"] == {"level": level, "name": name, "nvml_name": enum}
    assert pair["p2p"] == {"read": "CHIPSET_NOT_SUPPORTED", "write": "GPU_NOT_SUPPORTED",
                           "nvlink": "NOT_SUPPORTED", "atomics": "DISABLED_BY_REGKEY"}


def test_p2p_call_not_supported():
    fake = FakeNVML(gpus=[default_gpu(0), default_gpu(1)], not_supported=["nvmlDeviceGetP2PStatus"])
    pair = _snap(fake)["pairs"][0]
    assert pair["p2p"] == {"read": "not_supported", "write": "not_supported",
                           "nvlink": "not_supported", "atomics": "not_supported"}


def test_four_gpus_make_six_pairs():
    snap = _snap(FakeNVML(gpus=[default_gpu(i) for i in range(4)]))
    assert [(p["gpu_a"], p["gpu_b"]) for p in snap["pairs"]] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


# ----------------------------------------------------------------- helpers

@pytest.mark.parametrize("raw,text", [(13000, "13.0"), (12080, "12.8"), (12040, "12.4"), (11020, "11.2"),
                                      (12090, "12.9"), (10010, "10.1")])
def test_decode_cuda_version(raw, text):
    assert ns.decode_cuda_version(raw) == text


@pytest.mark.parametrize("words,text", [
    ([0xFFFF0000FFFF], "0-15,32-47"),
    ([], ""),
    ([0], ""),
    ([1, 1], "0,64"),
    ([0xFFFFFFFFFFFFFFFF, 0xF], "0-67"),
    ([0b1011], "0-1,3"),
    ([0, 0xFFFFFFFF], "64-95"),
    ([0xFFFFFFFF], "0-31"),
])
def test_cpumask_to_cpulist(words, text):
    assert ns.cpumask_to_cpulist(words) == text


@pytest.mark.parametrize("raw,norm", [
    ("00000000:18:00.0", "0000:18:00.0"), ("0000:AB:00.0", "0000:ab:00.0"),
    (b"00000001:0A:00.0\x00", "0001:0a:00.0"), ("FFFFFFFF:FF:FF.0", "ffff:ff:ff.0"), (None, None)])
def test_normalize_bus_id(raw, norm):
    assert ns.normalize_bus_id(raw) == norm


def test_main_writes_file_and_exits_zero_without_gpu(tmp_path):
    out = tmp_path / "snap.json"
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, MODULE_PATH, "-o", str(out)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(out.read_text())
    assert snap["schema"] == "llmfleet.gpu_snapshot/v1"
    if not snap["nvml_available"]:
        assert snap["reason"]
    proc = subprocess.run([sys.executable, MODULE_PATH], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["schema"] == "llmfleet.gpu_snapshot/v1"


# ----------------------------------------------------------------- recorded fixtures

def _fixture(name):
    base = os.path.join(FIXTURES, name)
    with open(os.path.join(base, "snapshot.json")) as handle:
        snap = json.load(handle)
    xml = ET.parse(os.path.join(base, "nvidia-smi-q.xml")).getroot()
    return base, snap, xml


def _smi_gpus(xml):
    return sorted(xml.findall("gpu"), key=lambda g: g.get("id"))


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_fixture_matches_nvidia_smi(name):
    base, snap, xml = _fixture(name)
    assert os.path.exists(os.path.join(base, "PROVENANCE.md"))
    assert snap["schema"] == ns.SCHEMA_VERSION and snap["nvml_available"] is True and snap["reason"] is None
    assert snap["driver_version"] == xml.findtext("driver_version")
    assert snap["cuda_driver_version"] == xml.findtext("cuda_version")
    assert snap["gpu_count"] == int(xml.findtext("attached_gpus")) == len(snap["gpus"])
    smi = _smi_gpus(xml)
    gpus = sorted(snap["gpus"], key=lambda g: g["pci_bus_id"])
    for g, x in zip(gpus, smi):
        assert g["name"] == x.findtext("product_name")
        assert g["uuid"] == x.findtext("uuid")
        assert g["pci_bus_id"] == x.get("id") == x.findtext("pci/pci_bus_id")
        assert g["pci_device_id"] == "0x" + x.findtext("pci/pci_device_id")
        assert g["serial"] == x.findtext("serial")
        assert "%d MiB" % g["memory_total_mib"] == x.findtext("fb_memory_usage/total")
        assert g["persistence_mode"] == x.findtext("persistence_mode").lower()
        assert g["ecc_current"] == x.findtext("ecc_mode/current_ecc").lower()
        assert g["mig_current"] == x.findtext("mig_mode/current_mig").lower()
        assert str(g["pcie_max_generation"]) == x.findtext("pci/pci_gpu_link_info/pcie_gen/max_link_gen")
        assert "%dx" % g["pcie_current_width"] == x.findtext("pci/pci_gpu_link_info/link_widths/current_link_width")
        assert "%.2f W" % g["power_limit_w"] == x.findtext("gpu_power_readings/current_power_limit")
        assert "%.2f W" % g["power_default_limit_w"] == x.findtext("gpu_power_readings/default_power_limit")
        fabric = x.find("fabric")
        if isinstance(g["fabric"], dict) and fabric is not None:
            # nvidia-smi prints N/A where NVML's fabric state is NOT_SUPPORTED (H100 VM)
            want = fabric.findtext("state").lower()
            assert g["fabric"]["state"].replace("_", " ") == ("not supported" if want == "n/a" else want)
            if want != "n/a":
                assert g["fabric"]["cluster_uuid"] == fabric.findtext("clusterUuid")
                assert str(g["fabric"]["clique_id"]) == fabric.findtext("cliqueId")


def _topo_matrix(base):
    with open(os.path.join(base, "topo-m.txt")) as handle:
        lines = [ln.replace("\x1b[4m", "").replace("\x1b[0m", "") for ln in handle.read().splitlines()]
    header = lines[0].split("\t")
    cols = [c.strip() for c in header if c.strip().startswith("GPU") and c.strip()[3:].isdigit()]
    matrix = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.split("\t")]
        if not cells or not cells[0].startswith("GPU") or not cells[0][3:].isdigit():
            continue
        row = int(cells[0][3:])
        for k, col in enumerate(cols):
            matrix[(row, int(col[3:]))] = cells[1 + k]
    return matrix


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_fixture_pairs_match_topo_m(name):
    base, snap, _xml = _fixture(name)
    matrix = _topo_matrix(base)
    n = snap["gpu_count"]
    assert len(snap["pairs"]) == n * (n - 1) // 2
    for pair in snap["pairs"]:
        cell = matrix[(pair["gpu_a"], pair["gpu_b"])]
        if cell.startswith("NV"):
            assert pair["nvlink"]["bond_count"] == int(cell[2:])
        else:
            assert pair["nvlink"]["bond_count"] == 0
            assert pair["pcie_common_ancestor"]["name"] == cell


@pytest.mark.parametrize("name", FIXTURE_DIRS)
def test_fixture_replays_through_fake(name):
    dummy_base, snap, _xml = _fixture(name)
    replay = ns.collect_snapshot(FakeNVML.from_snapshot(snap), sysfs_root="/nonexistent")
    host_specific = ("numa_node", "numa_node_sysfs", "numa_node_source", "cpu_affinity")
    for got, want in zip(replay["gpus"], snap["gpus"]):
        for key in want:
            if key in host_specific:
                continue
            assert got[key] == want[key], (name, key)
    assert replay["pairs"] == snap["pairs"]
    assert replay["driver_version"] == snap["driver_version"]
    assert replay["cuda_driver_version"] == snap["cuda_driver_version"]


def test_h200x2_fixture_shows_nvswitch_bond():
    dummy_base, snap, _xml = _fixture("h200x2")
    assert [g["name"] for g in snap["gpus"]] == ["NVIDIA H200", "NVIDIA H200"]
    assert all(g["compute_capability"] == "9.0" and g["architecture"] == "hopper" for g in snap["gpus"])
    assert all(g["nvlink_active_links"] == 18 and g["nvlink_nvswitch_links"] == 18 for g in snap["gpus"])
    (pair,) = snap["pairs"]
    nv = pair["nvlink"]
    assert nv["via_nvswitch"] is True and nv["direct_links"] == 0
    assert nv["bond_count"] == 18 and nv["route"] == "nvswitch"
    assert pair["p2p"]["nvlink"] == "OK"
    assert all(g["fabric"]["state"] == "completed" for g in snap["gpus"])


def test_h100x1_fixture_single_gpu():
    dummy_base, snap, _xml = _fixture("h100x1")
    assert snap["gpu_count"] == 1 and snap["pairs"] == []
    assert snap["gpus"][0]["name"].startswith("NVIDIA H100")
    assert snap["gpus"][0]["compute_capability"] == "9.0"
