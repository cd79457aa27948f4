# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVML GPU snapshot probe (schema ``llmfleet.gpu_snapshot/v1``).

Self-contained on purpose: only the standard library and ``pynvml`` (PyPI
package ``nvidia-ml-py``, imported lazily) are used, so the same file serves
Ansible modules (as module_utils), the ``llmfleet`` CLI (loaded by file path)
and a plain ``python3 nvml_snapshot.py [-o FILE]``.

The probe never raises because of a missing library, driver or GPU: it
returns a snapshot with ``nvml_available: false`` and an actionable
``reason``.  Every NVML call goes through :class:`_Caller`, which records
NVML "Not Supported" as the string ``"not_supported"`` and any other failure
as ``{"error": "..."}``.  The field reference is docs/gpu-snapshot-schema.md.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import socket
import sys
import time

SCHEMA_VERSION = "llmfleet.gpu_snapshot/v1"

NOT_SUPPORTED = "not_supported"

# NVML_ERROR_* codes (nvml.h); used when the binding lacks the error classes.
_NVML_ERROR_NOT_SUPPORTED = 3
_NVML_ERROR_NAMES = {
    0: "SUCCESS",
    1: "UNINITIALIZED",
    2: "INVALID_ARGUMENT",
    3: "NOT_SUPPORTED",
    4: "NO_PERMISSION",
    5: "ALREADY_INITIALIZED",
    6: "NOT_FOUND",
    7: "INSUFFICIENT_SIZE",
    8: "INSUFFICIENT_POWER",
    9: "DRIVER_NOT_LOADED",
    10: "TIMEOUT",
    11: "IRQ_ISSUE",
    12: "LIBRARY_NOT_FOUND",
    13: "FUNCTION_NOT_FOUND",
    14: "CORRUPTED_INFOROM",
    15: "GPU_IS_LOST",
    16: "RESET_REQUIRED",
    17: "OPERATING_SYSTEM",
    18: "LIB_RM_VERSION_MISMATCH",
    19: "IN_USE",
    20: "MEMORY",
    21: "NO_DATA",
    22: "VGPU_ECC_NOT_SUPPORTED",
    23: "INSUFFICIENT_RESOURCES",
    24: "FREQ_NOT_SUPPORTED",
    25: "ARGUMENT_VERSION_MISMATCH",
    26: "DEPRECATED",
    27: "NOT_READY",
    28: "GPU_NOT_FOUND",
    29: "INVALID_STATE",
    999: "UNKNOWN",
}

# Actionable reasons for nvmlInit failures, keyed by NVML error code.
_INIT_REASONS = {
    12: "libnvidia-ml.so.1 not found: is the NVIDIA driver installed? "
        "(check 'ldconfig -p | grep libnvidia-ml')",
    9: "NVIDIA kernel driver not loaded: check 'lsmod | grep nvidia', "
       "'modprobe nvidia' and 'dmesg | grep -i nvrm'",
    4: "insufficient permissions to open /dev/nvidia*: run as root or fix device node permissions",
    18: "NVML library and NVIDIA kernel module versions differ (driver upgraded without reboot?): "
        "reload the nvidia modules or reboot",
    13: "libnvidia-ml.so.1 is too old for this pynvml (function not found): upgrade the NVIDIA driver",
    17: "the operating system blocked NVML (container/VM without GPU device access?)",
}

# Compute capability -> architecture (the mapping the project relies on).
_CC_ARCH = {
    "7.0": "volta",
    "7.2": "volta",
    "7.5": "turing",
    "8.0": "ampere",
    "8.6": "ampere",
    "8.7": "ampere",
    "8.9": "ada",
    "9.0": "hopper",
    "10.0": "blackwell",
    "10.3": "blackwell",
    "12.0": "blackwell",
    "12.1": "blackwell",
}

# nvmlDeviceGetArchitecture values (NVML_DEVICE_ARCH_*).
_NVML_ARCH = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada",
    9: "hopper",
    10: "blackwell",
}

# nvmlGpuTopologyLevel_t -> (nvidia-smi topo name, NVML enum name)
_TOPOLOGY_LEVELS = {
    0: ("INTERNAL", "INTERNAL"),
    10: ("PIX", "SINGLE"),
    20: ("PXB", "MULTIPLE"),
    30: ("PHB", "HOSTBRIDGE"),
    40: ("NODE", "NODE"),
    50: ("SYS", "SYSTEM"),
}

# nvmlGpuP2PCapsIndex_t; literal values because some pynvml releases define
# NVML_P2P_CAPS_INDEX_READ as a one-element tuple.
_P2P_CAPS = (("read", 0), ("write", 1), ("nvlink", 2), ("atomics", 3))

_P2P_STATUS = {
    0: "OK",
    1: "CHIPSET_NOT_SUPPORTED",
    2: "GPU_NOT_SUPPORTED",
    3: "IOH_TOPOLOGY_NOT_SUPPORTED",
    4: "DISABLED_BY_REGKEY",
    5: "NOT_SUPPORTED",
    6: "UNKNOWN",
}

# NVSwitch PCI ids (device << 16 | vendor 0x10de): fallback when
# nvmlDeviceGetNvLinkRemoteDeviceType is missing or answers unknown.
_NVSWITCH_PCI_IDS = frozenset([0x1AC010DE, 0x1AC110DE, 0x1AC210DE, 0x1AF110DE, 0x22A310DE])

_NVLINK_REMOTE_TYPES = {0: "gpu", 1: "ibmnpu", 2: "nvswitch", 0xFF: "unknown"}

# nvmlNvlinkVersion_t
_NVLINK_VERSIONS = {0: "invalid", 1: "1.0", 2: "2.0", 3: "2.2", 4: "3.0", 5: "3.1", 6: "4.0", 7: "5.0"}

_FABRIC_STATES = {0: "not_supported", 1: "not_started", 2: "in_progress", 3: "completed"}

_DEFAULT_NVLINK_MAX_LINKS = 18
_NVML_ERROR_INVALID_ARGUMENT = 2

# Remote PCI addresses NVML reports for NVSwitches it cannot name (e.g. in a VM
# where the switches are managed outside the guest).
_UNKNOWN_BUS_IDS = frozenset([None, "0000:00:00.0", "ffff:ff:ff.0"])


# --------------------------------------------------------------------------- helpers

def decode_cuda_version(value):
    """Decode NVML's CUDA driver version integer: 13000 -> "13.0", 12080 -> "12.8"."""
    value = int(value)
    return "%d.%d" % (value // 1000, (value % 1000) // 10)


def cpumask_to_cpulist(words, bits_per_word=64):
    """Turn a CPU bitmask given as unsigned-long words (word 0 = CPUs 0..63)
    into a Linux cpulist string such as ``"0-15,32-47"`` (``""`` if empty)."""
    cpus = []
    for word_index, word in enumerate(words):
        word = int(word)
        bit = 0
        while word:
            if word & 1:
                cpus.append(word_index * bits_per_word + bit)
            word >>= 1
            bit += 1
    ranges = []
    start = prev = None
    for cpu in cpus:
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:
            prev = cpu
        else:
            ranges.append((start, prev))
            start = prev = cpu
    if start is not None:
        ranges.append((start, prev))
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in ranges)


def normalize_bus_id(bus_id):
    """Canonical PCI address for comparisons and sysfs: lower case with a
    4-hex-digit domain ("00000000:18:00.0" -> "0000:18:00.0")."""
    if bus_id is None:
        return None
    if isinstance(bus_id, bytes):
        bus_id = bus_id.decode("ascii", "replace")
    bus_id = str(bus_id).strip().rstrip("\x00").lower()
    parts = bus_id.split(":")
    if len(parts) == 3:
        domain = parts[0]
        if len(domain) > 4:
            domain = domain[-4:]
        parts[0] = domain.rjust(4, "0")
    return ":".join(parts)


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return value


def _ok(value):
    """True when a wrapped call produced a real value (not not_supported/error)."""
    return not (value == NOT_SUPPORTED or isinstance(value, dict) and "error" in value)


def _enabled(value):
    if not _ok(value):
        return value
    return "enabled" if int(value) else "disabled"


def _watts(milliwatts):
    if not _ok(milliwatts):
        return milliwatts
    return round(int(milliwatts) / 1000.0, 3)


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pci_fields(pci):
    """Extract bus id / device id from an nvmlPciInfo_t (or a compatible fake)."""
    bus_id = _text(getattr(pci, "busId", b"")) or _text(getattr(pci, "busIdLegacy", b""))
    dev = getattr(pci, "pciDeviceId", None)
    out = {"pci_bus_id": bus_id or None}
    if dev is not None:
        dev = int(dev)
        out["pci_device_id"] = "0x%08X" % dev
        out["pci_vendor"] = "0x%04x" % (dev & 0xFFFF)
        out["pci_device"] = "0x%04x" % (dev >> 16)
    return out


def _read_sysfs_numa(bus_id, sysfs_root="/sys"):
    norm = normalize_bus_id(bus_id)
    if not norm:
        return None
    path = os.path.join(sysfs_root, "bus", "pci", "devices", norm, "numa_node")
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- NVML call wrapper

class _Caller(object):
    """Single choke point for NVML calls: never raises, records what failed."""

    def __init__(self, nvml):
        self.nvml = nvml
        self.calls = 0
        self.not_supported = []
        self.errors = []
        base = getattr(nvml, "NVMLError", None)
        self._base = base if isinstance(base, type) else None
        ns = getattr(nvml, "NVMLError_NotSupported", None)
        self._ns = ns if isinstance(ns, type) else None

    def is_not_supported(self, exc):
        if self._ns is not None and isinstance(exc, self._ns):
            return True
        return getattr(exc, "value", None) == _NVML_ERROR_NOT_SUPPORTED

    def has(self, name):
        return callable(getattr(self.nvml, name, None))

    def __call__(self, name, *args, **kwargs):
        label = kwargs.pop("_label", None) or name
        quiet_codes = kwargs.pop("_quiet_codes", ())
        func = getattr(self.nvml, name, None)
        if not callable(func):
            result = {"error": "pynvml has no %s (upgrade nvidia-ml-py)" % name}
            self.errors.append({"call": label, "error": result["error"]})
            return result
        self.calls += 1
        try:
            return func(*args)
        except Exception as exc:  # recorded in the snapshot, never hidden
            if self._base is not None and isinstance(exc, self._base) or hasattr(exc, "value"):
                if self.is_not_supported(exc):
                    self.not_supported.append(label)
                    return NOT_SUPPORTED
                result = {"error": str(exc)}
                code = getattr(exc, "value", None)
                if isinstance(code, int):
                    result["code"] = code
                    if code in quiet_codes:
                        return result
            else:
                result = {"error": "%s: %s" % (type(exc).__name__, exc)}
            self.errors.append({"call": label, "error": result["error"]})
            return result


# --------------------------------------------------------------------------- per-GPU probes

def _probe_fabric(call, nvml, handle, label):
    """GPU fabric (NVSwitch / multi-node NVLink) registration state."""
    name = None
    info = None
    if call.has("nvmlDeviceGetGpuFabricInfoV") and getattr(nvml, "c_nvmlGpuFabricInfoV_t", None):
        name, info = "nvmlDeviceGetGpuFabricInfoV", nvml.c_nvmlGpuFabricInfoV_t()
    elif call.has("nvmlDeviceGetGpuFabricInfo") and getattr(nvml, "c_nvmlGpuFabricInfo_t", None):
        name, info = "nvmlDeviceGetGpuFabricInfo", nvml.c_nvmlGpuFabricInfo_t()
    if name is None:
        return {"error": "pynvml has no nvmlDeviceGetGpuFabricInfo[V]"}
    arg = ctypes.byref(info) if isinstance(info, ctypes.Structure) else info
    res = call(name, handle, arg, _label="%s:%s" % (label, name))
    if not _ok(res):
        return res
    state = int(getattr(info, "state", 0))
    status = int(getattr(info, "status", 0))
    uuid_bytes = bytes(bytearray(list(getattr(info, "clusterUuid", []))[:16]))
    hexs = uuid_bytes.hex().ljust(32, "0")
    cluster_uuid = "%s-%s-%s-%s-%s" % (hexs[:8], hexs[8:12], hexs[12:16], hexs[16:20], hexs[20:32])
    out = {
        "api": name,
        "state": _FABRIC_STATES.get(state, state),
        "state_raw": state,
        "status": _NVML_ERROR_NAMES.get(status, status),
        "status_raw": status,
        "cluster_uuid": cluster_uuid,
        "clique_id": int(getattr(info, "cliqueId", 0)),
    }
    if hasattr(info, "healthMask"):
        out["health_mask"] = int(info.healthMask)
    return out


def _nvlink_max_links(nvml):
    try:
        return int(getattr(nvml, "NVML_NVLINK_MAX_LINKS", _DEFAULT_NVLINK_MAX_LINKS))
    except (TypeError, ValueError):
        return _DEFAULT_NVLINK_MAX_LINKS


def _probe_nvlinks(call, nvml, handle, label):
    max_links = _nvlink_max_links(nvml)
    links = []
    beyond = False
    for link in range(max_links):
        lab = "%s:nvlink%d" % (label, link)
        entry = {"link": link}
        if beyond:
            entry["state"] = "not_present"
            links.append(entry)
            continue
        state = call("nvmlDeviceGetNvLinkState", handle, link, _label=lab + ":nvmlDeviceGetNvLinkState",
                     _quiet_codes=(_NVML_ERROR_INVALID_ARGUMENT,))
        if isinstance(state, dict) and state.get("code") == _NVML_ERROR_INVALID_ARGUMENT:
            # The binding's NVML_NVLINK_MAX_LINKS can exceed the GPU's link count
            # (nvidia-ml-py 13.610 says 36, an H200 has 18): NVML answers
            # INVALID_ARGUMENT for the rest, which are not probed further.
            beyond = True
            entry["state"] = "not_present"
            links.append(entry)
            continue
        if not _ok(state):
            # No NVLink on this link (or at all): the other per-link calls are skipped.
            entry["state"] = state
            links.append(entry)
            continue
        entry["state"] = "active" if int(state) else "inactive"
        version = call("nvmlDeviceGetNvLinkVersion", handle, link, _label=lab + ":nvmlDeviceGetNvLinkVersion")
        entry["version_raw"] = version
        entry["version"] = _NVLINK_VERSIONS.get(version, version) if _ok(version) else version
        pci = call("nvmlDeviceGetNvLinkRemotePciInfo", handle, link,
                   _label=lab + ":nvmlDeviceGetNvLinkRemotePciInfo")
        if _ok(pci):
            fields = _pci_fields(pci)
            entry["remote_pci_bus_id"] = fields.get("pci_bus_id")
            entry["remote_pci_device_id"] = fields.get("pci_device_id")
        else:
            entry["remote_pci_bus_id"] = pci
            entry["remote_pci_device_id"] = None
        if call.has("nvmlDeviceGetNvLinkRemoteDeviceType"):
            rtype = call("nvmlDeviceGetNvLinkRemoteDeviceType", handle, link,
                         _label=lab + ":nvmlDeviceGetNvLinkRemoteDeviceType")
            entry["remote_device_type"] = _NVLINK_REMOTE_TYPES.get(rtype, "unknown") if _ok(rtype) else rtype
        else:
            entry["remote_device_type"] = "unknown"
        if entry["remote_device_type"] not in ("gpu", "nvswitch", "ibmnpu"):
            dev_id = entry.get("remote_pci_device_id")
            if isinstance(dev_id, str) and int(dev_id, 16) in _NVSWITCH_PCI_IDS:
                entry["remote_device_type"] = "nvswitch"
                entry["remote_device_type_source"] = "pci_device_id"
        links.append(entry)
    return links


def _probe_gpu(call, nvml, index, handle, sysfs_root="/sys"):
    label = "gpu%d" % index
    gpu = {"index": index}

    def c(name, *args):
        return call(name, *args, _label="%s:%s" % (label, name))

    gpu["name"] = _text(c("nvmlDeviceGetName", handle))
    gpu["uuid"] = _text(c("nvmlDeviceGetUUID", handle))
    gpu["serial"] = _text(c("nvmlDeviceGetSerial", handle))
    # /dev/nvidia<minor> (not always the index): what a model server's DeviceAllow= names
    minor = c("nvmlDeviceGetMinorNumber", handle)
    gpu["minor_number"] = int(minor) if _ok(minor) else None

    pci = c("nvmlDeviceGetPciInfo", handle)
    if _ok(pci):
        gpu.update(_pci_fields(pci))
    else:
        gpu.update({"pci_bus_id": pci, "pci_device_id": None})

    mem = c("nvmlDeviceGetMemoryInfo", handle)
    if _ok(mem):
        total = int(mem.total)
        gpu["memory_total_bytes"] = total
        gpu["memory_total_mib"] = total // (1024 * 1024)
    else:
        gpu["memory_total_bytes"] = mem
        gpu["memory_total_mib"] = None

    cc = c("nvmlDeviceGetCudaComputeCapability", handle)
    if _ok(cc):
        gpu["compute_capability"] = "%d.%d" % (int(cc[0]), int(cc[1]))
        major = int(cc[0])
        gpu["architecture"] = _CC_ARCH.get(gpu["compute_capability"],
                                           "pascal" if major == 6 else "unknown")
    else:
        gpu["compute_capability"] = cc
        gpu["architecture"] = "unknown"
    arch = c("nvmlDeviceGetArchitecture", handle)
    gpu["architecture_nvml"] = _NVML_ARCH.get(arch, "unknown") if _ok(arch) else arch

    gpu["persistence_mode"] = _enabled(c("nvmlDeviceGetPersistenceMode", handle))

    ecc = c("nvmlDeviceGetEccMode", handle)
    if _ok(ecc):
        gpu["ecc_current"], gpu["ecc_pending"] = _enabled(ecc[0]), _enabled(ecc[1])
    else:
        gpu["ecc_current"] = gpu["ecc_pending"] = ecc

    mig = c("nvmlDeviceGetMigMode", handle)
    if _ok(mig):
        gpu["mig_current"], gpu["mig_pending"] = _enabled(mig[0]), _enabled(mig[1])
    else:
        gpu["mig_current"] = gpu["mig_pending"] = mig

    gpu["power_limit_w"] = _watts(c("nvmlDeviceGetPowerManagementLimit", handle))
    gpu["power_enforced_limit_w"] = _watts(c("nvmlDeviceGetEnforcedPowerLimit", handle))
    gpu["power_default_limit_w"] = _watts(c("nvmlDeviceGetPowerManagementDefaultLimit", handle))
    cons = c("nvmlDeviceGetPowerManagementLimitConstraints", handle)
    if _ok(cons):
        gpu["power_min_limit_w"], gpu["power_max_limit_w"] = _watts(cons[0]), _watts(cons[1])
    else:
        gpu["power_min_limit_w"] = gpu["power_max_limit_w"] = cons

    gpu["pcie_max_generation"] = c("nvmlDeviceGetMaxPcieLinkGeneration", handle)
    gpu["pcie_current_generation"] = c("nvmlDeviceGetCurrPcieLinkGeneration", handle)
    gpu["pcie_max_width"] = c("nvmlDeviceGetMaxPcieLinkWidth", handle)
    gpu["pcie_current_width"] = c("nvmlDeviceGetCurrPcieLinkWidth", handle)

    # NUMA: NVML first (where the binding has it), else sysfs; both kept.
    numa_nvml = c("nvmlDeviceGetNumaNodeId", handle) if call.has("nvmlDeviceGetNumaNodeId") else None
    bus_id = gpu.get("pci_bus_id") if isinstance(gpu.get("pci_bus_id"), str) else None
    numa_sysfs = _read_sysfs_numa(bus_id, sysfs_root)
    gpu["numa_node_nvml"] = numa_nvml
    gpu["numa_node_sysfs"] = numa_sysfs
    if isinstance(numa_nvml, int) and not isinstance(numa_nvml, bool) and numa_nvml >= 0:
        gpu["numa_node"], gpu["numa_node_source"] = numa_nvml, "nvml"
    elif numa_sysfs is not None:
        gpu["numa_node"], gpu["numa_node_source"] = numa_sysfs, "sysfs"
    else:
        gpu["numa_node"], gpu["numa_node_source"] = None, None

    ncpu = os.cpu_count() or 64
    words = max(1, (ncpu + 63) // 64)
    aff = c("nvmlDeviceGetCpuAffinity", handle, words)
    gpu["cpu_affinity"] = cpumask_to_cpulist(list(aff)) if _ok(aff) else aff

    rows = c("nvmlDeviceGetRemappedRows", handle)
    if _ok(rows):
        corr, unc, pending, failure = (int(x) for x in rows)
        gpu["remapped_rows"] = {"correctable": corr, "uncorrectable": unc,
                                "pending": bool(pending), "failure": bool(failure)}
    else:
        gpu["remapped_rows"] = rows

    gpu["fabric"] = _probe_fabric(call, nvml, handle, label)
    gpu["nvlinks"] = _probe_nvlinks(call, nvml, handle, label)
    active = [lk for lk in gpu["nvlinks"] if lk.get("state") == "active"]
    gpu["nvlink_active_links"] = len(active)
    gpu["nvlink_nvswitch_links"] = sum(1 for lk in active if lk.get("remote_device_type") == "nvswitch")
    return gpu


# --------------------------------------------------------------------------- pair logic

def nvlink_pair_summary(gpu_a, gpu_b):
    """NVLink connectivity between two probed GPUs (dicts as in ``gpus``).

    ``direct_links``: active links of A whose remote PCI bus id is B's.
    ``via_nvswitch``: both have at least one active link to an NVSwitch.
    ``nvswitch_links``: links usable through the switches; when switch bus ids
    are known, only links to switches both GPUs reach count, else
    min(A's switch links, B's switch links).
    ``bond_count`` = direct_links + nvswitch_links (what ``nvidia-smi topo -m``
    shows as NV<n>)."""
    bus_b = normalize_bus_id(gpu_b.get("pci_bus_id")) if isinstance(gpu_b.get("pci_bus_id"), str) else None
    bus_a = normalize_bus_id(gpu_a.get("pci_bus_id")) if isinstance(gpu_a.get("pci_bus_id"), str) else None

    def active(gpu):
        return [lk for lk in gpu.get("nvlinks") or [] if lk.get("state") == "active"]

    def remote(lk):
        rb = lk.get("remote_pci_bus_id")
        return normalize_bus_id(rb) if isinstance(rb, str) else None

    def direct(links, other_bus):
        return sum(1 for lk in links
                   if other_bus and remote(lk) == other_bus and lk.get("remote_device_type") != "nvswitch")

    links_a, links_b = active(gpu_a), active(gpu_b)
    direct_ab = direct(links_a, bus_b)
    direct_ba = direct(links_b, bus_a)
    sw_a = [lk for lk in links_a if lk.get("remote_device_type") == "nvswitch"]
    sw_b = [lk for lk in links_b if lk.get("remote_device_type") == "nvswitch"]
    via = bool(sw_a) and bool(sw_b)
    shared = None
    nvswitch_links = 0
    if via:
        ids_a = set(remote(lk) for lk in sw_a)
        ids_b = set(remote(lk) for lk in sw_b)
        known = not (ids_a & _UNKNOWN_BUS_IDS) and not (ids_b & _UNKNOWN_BUS_IDS)
        if known:
            shared = sorted(ids_a & ids_b)
            nvswitch_links = min(sum(1 for lk in sw_a if remote(lk) in shared),
                                 sum(1 for lk in sw_b if remote(lk) in shared))
            via = bool(shared)
        else:
            nvswitch_links = min(len(sw_a), len(sw_b))
    direct_links = max(direct_ab, direct_ba)
    if direct_links and via:
        route = "direct+nvswitch"
    elif via:
        route = "nvswitch"
    elif direct_links:
        route = "direct"
    else:
        route = "none"
    return {
        "direct_links": direct_links,
        "direct_links_reverse": direct_ba,
        "via_nvswitch": via,
        "nvswitch_links_a": len(sw_a),
        "nvswitch_links_b": len(sw_b),
        "shared_nvswitch_bus_ids": shared,
        "nvswitch_links": nvswitch_links if via else 0,
        "bond_count": direct_links + (nvswitch_links if via else 0),
        "route": route,
    }


def _probe_pair(call, handles, gpus, i, j):
    label = "pair%d-%d" % (i, j)
    hi, hj = handles[i], handles[j]
    pair = {"gpu_a": i, "gpu_b": j}
    level = call("nvmlDeviceGetTopologyCommonAncestor", hi, hj,
                 _label=label + ":nvmlDeviceGetTopologyCommonAncestor")
    if _ok(level):
        smi, enum = _TOPOLOGY_LEVELS.get(int(level), ("UNKNOWN", "UNKNOWN"))
        pair["pcie_common_ancestor"] = {"level": int(level), "name": smi, "nvml_name": enum}
    else:
        pair["pcie_common_ancestor"] = level
    pair["nvlink"] = nvlink_pair_summary(gpus[i], gpus[j])
    p2p = {}
    for cap, idx in _P2P_CAPS:
        st = call("nvmlDeviceGetP2PStatus", hi, hj, idx, _label="%s:nvmlDeviceGetP2PStatus:%s" % (label, cap))
        p2p[cap] = _P2P_STATUS.get(st, "UNKNOWN(%s)" % st) if _ok(st) else st
    pair["p2p"] = p2p
    return pair


# --------------------------------------------------------------------------- entry point

def _empty_snapshot():
    return {
        "schema": SCHEMA_VERSION,
        "nvml_available": False,
        "reason": None,
        "hostname": socket.gethostname(),
        "timestamp": _utc_now(),
        "probe_wall_time_s": None,
        "pynvml_version": None,
        "nvlink_max_links": None,
        "driver_version": None,
        "cuda_driver_version": None,
        "cuda_driver_version_raw": None,
        "nvml_version": None,
        "gpu_count": 0,
        "gpus": [],
        "pairs": [],
        "nvml_calls": {"count": 0, "not_supported": [], "errors": []},
    }


def _init_failure_reason(exc):
    code = getattr(exc, "value", None)
    reason = _INIT_REASONS.get(code)
    if reason is None:
        reason = "nvmlInit failed: %s" % (exc,)
    return reason


def _pynvml_version(nvml):
    version = getattr(nvml, "__version__", None)
    if version is None and getattr(nvml, "__name__", None) == "pynvml":
        try:
            from importlib import metadata  # pylint: disable=import-outside-toplevel
            version = metadata.version("nvidia-ml-py")
        except Exception:  # metadata lookup is best effort only
            version = None
    return version


def collect_snapshot(nvml=None, sysfs_root="/sys"):
    """Probe every GPU through NVML and return a JSON-serialisable dict.

    ``nvml`` defaults to the ``pynvml`` module; tests inject a fake.
    ``sysfs_root`` is where the NUMA fallback reads ``bus/pci/devices``."""
    started = time.monotonic()
    snap = _empty_snapshot()
    if nvml is None:
        try:
            import pynvml as nvml  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            snap["reason"] = ("python module pynvml not importable (%s): "
                              "install the PyPI package nvidia-ml-py" % exc)
            snap["probe_wall_time_s"] = round(time.monotonic() - started, 6)
            return snap
    snap["pynvml_version"] = _pynvml_version(nvml)
    snap["nvlink_max_links"] = _nvlink_max_links(nvml)

    call = _Caller(nvml)
    try:
        nvml.nvmlInit()
    except Exception as exc:  # any init failure becomes an actionable reason
        snap["reason"] = _init_failure_reason(exc)
        snap["nvml_calls"]["errors"].append({"call": "nvmlInit", "error": str(exc)})
        snap["probe_wall_time_s"] = round(time.monotonic() - started, 6)
        return snap

    try:
        snap["nvml_available"] = True
        snap["driver_version"] = _text(call("nvmlSystemGetDriverVersion"))
        snap["nvml_version"] = _text(call("nvmlSystemGetNVMLVersion"))
        cuda = call("nvmlSystemGetCudaDriverVersion_v2") if call.has("nvmlSystemGetCudaDriverVersion_v2") \
            else call("nvmlSystemGetCudaDriverVersion")
        if not _ok(cuda) and call.has("nvmlSystemGetCudaDriverVersion"):
            cuda = call("nvmlSystemGetCudaDriverVersion")
        snap["cuda_driver_version_raw"] = cuda
        snap["cuda_driver_version"] = decode_cuda_version(cuda) if _ok(cuda) else cuda

        count = call("nvmlDeviceGetCount")
        if not _ok(count):
            snap["reason"] = "nvmlDeviceGetCount failed: %s" % (count,)
            count = 0
        count = int(count)
        snap["gpu_count"] = count
        if count == 0 and snap["reason"] is None:
            snap["reason"] = ("NVML is loaded but reports 0 GPUs: check 'nvidia-smi -L', "
                              "'lspci -d 10de:' and CUDA_VISIBLE_DEVICES/container device mapping")

        handles = []
        for index in range(count):
            handle = call("nvmlDeviceGetHandleByIndex", index, _label="gpu%d:nvmlDeviceGetHandleByIndex" % index)
            if not _ok(handle):
                snap["gpus"].append({"index": index, "error": handle})
                handles.append(None)
                continue
            handles.append(handle)
            snap["gpus"].append(_probe_gpu(call, nvml, index, handle, sysfs_root))

        for i in range(count):
            for j in range(i + 1, count):
                if handles[i] is None or handles[j] is None:
                    continue
                snap["pairs"].append(_probe_pair(call, handles, snap["gpus"], i, j))
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception as exc:  # shutdown failure is recorded, not raised
            snap["nvml_calls"]["errors"].append({"call": "nvmlShutdown", "error": str(exc)})

    snap["nvml_calls"]["count"] = call.calls
    snap["nvml_calls"]["not_supported"] = call.not_supported
    snap["nvml_calls"]["errors"] = snap["nvml_calls"]["errors"] + call.errors
    snap["probe_wall_time_s"] = round(time.monotonic() - started, 6)
    return snap


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print an NVML GPU snapshot (%s) as JSON." % SCHEMA_VERSION)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the JSON to FILE instead of stdout")
    args = parser.parse_args(argv)
    snap = collect_snapshot()
    text = json.dumps(snap, indent=2, sort_keys=False) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
        sys.stderr.write("wrote %s: nvml_available=%s gpus=%d%s\n" % (
            args.output, snap["nvml_available"], snap["gpu_count"],
            "" if not snap["reason"] else " reason=%s" % snap["reason"]))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
