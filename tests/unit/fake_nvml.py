# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small in-memory stand-in for the ``pynvml`` module.

``FakeNVML(spec)`` answers the NVML calls that nvml_snapshot makes from a
plain dict, and raises NVML-like errors where told to.
``FakeNVML.from_snapshot(snapshot)`` builds that dict from a recorded
``llmfleet.gpu_snapshot/v1`` fixture, so a real run can be replayed without
a GPU or the pynvml package.
"""

from __future__ import annotations

import copy

NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

_STRINGS = {
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return _STRINGS.get(self.value, "NVML Error with code %d" % self.value)


def _subclass(name, code):
    def init(self, value=code):
        NVMLError.__init__(self, value)
    return type(name, (NVMLError,), {"__init__": init})


NVMLError_InvalidArgument = _subclass("NVMLError_InvalidArgument", NVML_ERROR_INVALID_ARGUMENT)
NVMLError_NotSupported = _subclass("NVMLError_NotSupported", NVML_ERROR_NOT_SUPPORTED)
NVMLError_NoPermission = _subclass("NVMLError_NoPermission", NVML_ERROR_NO_PERMISSION)
NVMLError_DriverNotLoaded = _subclass("NVMLError_DriverNotLoaded", NVML_ERROR_DRIVER_NOT_LOADED)
NVMLError_LibraryNotFound = _subclass("NVMLError_LibraryNotFound", NVML_ERROR_LIBRARY_NOT_FOUND)
NVMLError_GpuIsLost = _subclass("NVMLError_GpuIsLost", NVML_ERROR_GPU_IS_LOST)

_CLASSES = {
    NVML_ERROR_INVALID_ARGUMENT: NVMLError_InvalidArgument,
    NVML_ERROR_NOT_SUPPORTED: NVMLError_NotSupported,
    NVML_ERROR_NO_PERMISSION: NVMLError_NoPermission,
    NVML_ERROR_DRIVER_NOT_LOADED: NVMLError_DriverNotLoaded,
    NVML_ERROR_LIBRARY_NOT_FOUND: NVMLError_LibraryNotFound,
    NVML_ERROR_GPU_IS_LOST: NVMLError_GpuIsLost,
}


def make_error(code):
    cls = _CLASSES.get(code)
    return cls() if cls else NVMLError(code)


class _Obj(object):
    def __init__(self, **kw):
        self.__dict__.update(kw)


class c_nvmlGpuFabricInfoV_t(object):  # pylint: disable=invalid-name
    """Plain-Python stand-in for the ctypes struct; filled in place."""

    def __init__(self):
        self.version = 0
        self.clusterUuid = [0] * 16
        self.status = 0
        self.cliqueId = 0
        self.state = 0
        self.healthMask = 0


class _Handle(object):
    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return "<fake handle %d>" % self.index


# Default healthy GPU: an H200 SXM on an NVSwitch baseboard.
def default_gpu(index, **over):
    gpu = {
        "name": "NVIDIA H200",
        "uuid": "GPU-0000000%d-0000-0000-0000-000000000000" % index,
        "serial": "16539241849%02d" % index,
        "bus_id": "00000000:%02X:00.0" % (0x18 + index * 0x10),
        "pci_device_id": 0x233510DE,
        "memory_total": 150754820096,
        "cc": (9, 0),
        "arch": 9,
        "persistence": 1,
        "ecc": [1, 1],
        "mig": [0, 0],
        "power_limit": 700000,
        "enforced_power_limit": 700000,
        "default_power_limit": 700000,
        "power_constraints": [200000, 700000],
        "pcie": {"max_gen": 5, "cur_gen": 5, "max_width": 16, "cur_width": 16},
        "numa": None,                       # None -> nvmlDeviceGetNumaNodeId NotSupported
        "affinity": [0xFFFF0000FFFF],       # CPUs 0-15,32-47
        "remapped": (0, 0, 0, 0),
        "fabric": {"state": 3, "status": 0, "cliqueId": 0, "clusterUuid": [0] * 16, "healthMask": 0},
        "nvlinks": [{"state": 1, "version": 6, "remote_bus_id": "FFFFFFFF:FF:FF.0",
                     "remote_device_id": 0xFFFFFFFF, "remote_type": 2} for _link in range(18)],
        "not_supported": [],               # function names answering NotSupported for this GPU
        "errors": {},                      # function name -> NVML error code for this GPU
    }
    gpu.update(over)
    return gpu


class FakeNVML(object):
    """Module-like fake of pynvml driven by a spec dict (see default_gpu)."""

    NVML_NVLINK_MAX_LINKS = 18
    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    c_nvmlGpuFabricInfoV_t = c_nvmlGpuFabricInfoV_t

    def __init__(self, gpus=None, driver_version="580.159.04", cuda_version=13000,
                 nvml_version="13.580.159.04", init_error=None, pairs=None,
                 not_supported=(), errors=None, max_links=None, missing=()):
        self.gpus = list(gpus or [])
        self.driver_version = driver_version
        self.cuda_version = cuda_version
        self.nvml_version = nvml_version
        self.init_error = init_error
        self.pairs = pairs or {}             # (i, j) -> {"topology": int, "p2p": {idx: status}}
        self.global_not_supported = set(not_supported)
        self.global_errors = dict(errors or {})
        if max_links is not None:
            self.NVML_NVLINK_MAX_LINKS = max_links
        self.missing = set(missing)
        self.initialized = False
        self.shutdown_called = False
        self.calls = []

    # Functions named in ``missing`` look absent (older bindings).
    def __getattribute__(self, name):
        if name.startswith("nvml") and name in object.__getattribute__(self, "missing"):
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    # ------------------------------------------------------------ plumbing
    def _check(self, func, handle=None):
        self.calls.append(func)
        if func in self.global_not_supported:
            raise NVMLError_NotSupported()
        if func in self.global_errors:
            raise make_error(self.global_errors[func])
        if handle is not None:
            gpu = self.gpus[handle.index]
            if func in gpu.get("not_supported", ()):
                raise NVMLError_NotSupported()
            if func in gpu.get("errors", {}):
                raise make_error(gpu["errors"][func])
            return gpu
        return None

    # ------------------------------------------------------------ system
    def nvmlInit(self):
        if self.init_error is not None:
            raise make_error(self.init_error)
        self.initialized = True

    def nvmlShutdown(self):
        self.shutdown_called = True

    def nvmlSystemGetDriverVersion(self):
        self._check("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetNVMLVersion(self):
        self._check("nvmlSystemGetNVMLVersion")
        return self.nvml_version

    def nvmlSystemGetCudaDriverVersion(self):
        self._check("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlSystemGetCudaDriverVersion_v2(self):
        self._check("nvmlSystemGetCudaDriverVersion_v2")
        return self.cuda_version

    def nvmlDeviceGetCount(self):
        self._check("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._check("nvmlDeviceGetHandleByIndex")
        if index >= len(self.gpus):
            raise make_error(NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        if "nvmlDeviceGetHandleByIndex" in gpu.get("errors", {}):
            raise make_error(gpu["errors"]["nvmlDeviceGetHandleByIndex"])
        return _Handle(index)

    # ------------------------------------------------------------ device
    def nvmlDeviceGetName(self, h):
        return self._check("nvmlDeviceGetName", h)["name"]

    def nvmlDeviceGetUUID(self, h):
        return self._check("nvmlDeviceGetUUID", h)["uuid"]

    def nvmlDeviceGetMinorNumber(self, h):
        return self._check("nvmlDeviceGetMinorNumber", h).get("minor_number", h.index)

    def nvmlDeviceGetSerial(self, h):
        return self._check("nvmlDeviceGetSerial", h)["serial"]

    def nvmlDeviceGetPciInfo(self, h):
        g = self._check("nvmlDeviceGetPciInfo", h)
        return _Obj(busId=g["bus_id"].encode(), busIdLegacy=g["bus_id"].encode(),
                    pciDeviceId=g["pci_device_id"])

    def nvmlDeviceGetMemoryInfo(self, h):
        return _Obj(total=self._check("nvmlDeviceGetMemoryInfo", h)["memory_total"], free=0, used=0)

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return tuple(self._check("nvmlDeviceGetCudaComputeCapability", h)["cc"])

    def nvmlDeviceGetArchitecture(self, h):
        return self._check("nvmlDeviceGetArchitecture", h)["arch"]

    def nvmlDeviceGetPersistenceMode(self, h):
        return self._check("nvmlDeviceGetPersistenceMode", h)["persistence"]

    def nvmlDeviceGetEccMode(self, h):
        return list(self._check("nvmlDeviceGetEccMode", h)["ecc"])

    def nvmlDeviceGetMigMode(self, h):
        return list(self._check("nvmlDeviceGetMigMode", h)["mig"])

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return self._check("nvmlDeviceGetPowerManagementLimit", h)["power_limit"]

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return self._check("nvmlDeviceGetEnforcedPowerLimit", h)["enforced_power_limit"]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, h):
        return self._check("nvmlDeviceGetPowerManagementDefaultLimit", h)["default_power_limit"]

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h):
        return list(self._check("nvmlDeviceGetPowerManagementLimitConstraints", h)["power_constraints"])

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h):
        return self._check("nvmlDeviceGetMaxPcieLinkGeneration", h)["pcie"]["max_gen"]

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h):
        return self._check("nvmlDeviceGetCurrPcieLinkGeneration", h)["pcie"]["cur_gen"]

    def nvmlDeviceGetMaxPcieLinkWidth(self, h):
        return self._check("nvmlDeviceGetMaxPcieLinkWidth", h)["pcie"]["max_width"]

    def nvmlDeviceGetCurrPcieLinkWidth(self, h):
        return self._check("nvmlDeviceGetCurrPcieLinkWidth", h)["pcie"]["cur_width"]

    def nvmlDeviceGetNumaNodeId(self, h):
        g = self._check("nvmlDeviceGetNumaNodeId", h)
        if g.get("numa") is None:
            raise NVMLError_NotSupported()
        return g["numa"]

    def nvmlDeviceGetCpuAffinity(self, h, size):
        words = list(self._check("nvmlDeviceGetCpuAffinity", h)["affinity"])
        return (words + [0] * size)[:max(size, len(words))]

    def nvmlDeviceGetRemappedRows(self, h):
        return tuple(self._check("nvmlDeviceGetRemappedRows", h)["remapped"])

    def nvmlDeviceGetGpuFabricInfoV(self, h, info):
        g = self._check("nvmlDeviceGetGpuFabricInfoV", h)
        if g.get("fabric") is None:
            raise NVMLError_NotSupported()
        for key, value in g["fabric"].items():
            setattr(info, key, value)
        return 0

    def _link(self, func, h, link):
        g = self._check(func, h)
        links = g.get("nvlinks")
        if links is None:
            raise NVMLError_NotSupported()
        if link >= len(links):
            raise make_error(NVML_ERROR_INVALID_ARGUMENT)
        lk = links[link]
        if lk.get("error") is not None:
            raise make_error(lk["error"])
        return lk

    def nvmlDeviceGetNvLinkState(self, h, link):
        return self._link("nvmlDeviceGetNvLinkState", h, link)["state"]

    def nvmlDeviceGetNvLinkVersion(self, h, link):
        return self._link("nvmlDeviceGetNvLinkVersion", h, link)["version"]

    def nvmlDeviceGetNvLinkRemotePciInfo(self, h, link):
        lk = self._link("nvmlDeviceGetNvLinkRemotePciInfo", h, link)
        if lk.get("remote_bus_id") is None:
            raise NVMLError_NotSupported()
        return _Obj(busId=lk["remote_bus_id"].encode(), busIdLegacy=b"",
                    pciDeviceId=lk.get("remote_device_id", 0))

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, h, link):
        lk = self._link("nvmlDeviceGetNvLinkRemoteDeviceType", h, link)
        if lk.get("remote_type") is None:
            raise NVMLError_NotSupported()
        return lk["remote_type"]

    # ------------------------------------------------------------ pairs
    def _pair(self, func, h1, h2):
        self._check(func, h1)
        key = (min(h1.index, h2.index), max(h1.index, h2.index))
        return self.pairs.get(key, {})

    def nvmlDeviceGetTopologyCommonAncestor(self, h1, h2):
        return self._pair("nvmlDeviceGetTopologyCommonAncestor", h1, h2).get("topology", 50)

    def nvmlDeviceGetP2PStatus(self, h1, h2, index):
        return self._pair("nvmlDeviceGetP2PStatus", h1, h2).get("p2p", {}).get(index, 0)

    # ------------------------------------------------------------ replay
    @classmethod
    def from_snapshot(cls, snap):
        """Rebuild a fake that answers like the machine that produced ``snap``."""
        snap = copy.deepcopy(snap)
        major, minor = (int(x) for x in snap["cuda_driver_version"].split("."))
        gpus = []
        for g in snap["gpus"]:
            ns = []
            errors = {}

            def val(key, func, conv=lambda v: v):
                v = g.get(key)
                if v == "not_supported":
                    ns.append(func)
                    return None
                if isinstance(v, dict) and "error" in v:
                    errors[func] = v.get("code", NVML_ERROR_UNKNOWN)
                    return None
                return conv(v) if v is not None else None

            def on_off(v):
                return 1 if v == "enabled" else 0

            def mw(v):
                return int(round(v * 1000))

            spec = default_gpu(g["index"])
            spec.update({
                "name": val("name", "nvmlDeviceGetName"),
                "uuid": val("uuid", "nvmlDeviceGetUUID"),
                "serial": val("serial", "nvmlDeviceGetSerial"),
                "bus_id": g["pci_bus_id"],
                "pci_device_id": int(g["pci_device_id"], 16),
                "memory_total": g["memory_total_bytes"],
                "cc": tuple(int(x) for x in g["compute_capability"].split(".")),
                "persistence": val("persistence_mode", "nvmlDeviceGetPersistenceMode", on_off),
                "ecc": [on_off(g["ecc_current"]), on_off(g["ecc_pending"])]
                if g["ecc_current"] != "not_supported" else None,
                "mig": [on_off(g["mig_current"]), on_off(g["mig_pending"])]
                if g["mig_current"] != "not_supported" else None,
                "power_limit": val("power_limit_w", "nvmlDeviceGetPowerManagementLimit", mw),
                "enforced_power_limit": val("power_enforced_limit_w", "nvmlDeviceGetEnforcedPowerLimit", mw),
                "default_power_limit": val("power_default_limit_w",
                                           "nvmlDeviceGetPowerManagementDefaultLimit", mw),
                "pcie": {"max_gen": val("pcie_max_generation", "nvmlDeviceGetMaxPcieLinkGeneration"),
                         "cur_gen": val("pcie_current_generation", "nvmlDeviceGetCurrPcieLinkGeneration"),
                         "max_width": val("pcie_max_width", "nvmlDeviceGetMaxPcieLinkWidth"),
                         "cur_width": val("pcie_current_width", "nvmlDeviceGetCurrPcieLinkWidth")},
                "numa": g["numa_node_nvml"] if isinstance(g.get("numa_node_nvml"), int) else None,
                "affinity": _cpulist_to_words(g["cpu_affinity"]) if isinstance(g["cpu_affinity"], str) else [],
            })
            if g["ecc_current"] == "not_supported":
                ns.append("nvmlDeviceGetEccMode")
            if g["mig_current"] == "not_supported":
                ns.append("nvmlDeviceGetMigMode")
            if isinstance(g.get("power_min_limit_w"), float):
                spec["power_constraints"] = [mw(g["power_min_limit_w"]), mw(g["power_max_limit_w"])]
            else:
                ns.append("nvmlDeviceGetPowerManagementLimitConstraints")
            rr = g.get("remapped_rows")
            if isinstance(rr, dict) and "correctable" in rr:
                spec["remapped"] = (rr["correctable"], rr["uncorrectable"], int(rr["pending"]), int(rr["failure"]))
            elif rr == "not_supported":
                ns.append("nvmlDeviceGetRemappedRows")
            fab = g.get("fabric")
            if isinstance(fab, dict) and "state_raw" in fab:
                spec["fabric"] = {"state": fab["state_raw"], "status": fab["status_raw"],
                                  "cliqueId": fab["clique_id"], "healthMask": fab.get("health_mask", 0),
                                  "clusterUuid": list(bytes.fromhex((fab.get("cluster_uuid") or "0" * 32).replace("-", "")))}
            else:
                spec["fabric"] = None
            rev_versions = {"1.0": 1, "2.0": 2, "2.2": 3, "3.0": 4, "3.1": 5, "4.0": 6, "5.0": 7}
            rev_types = {"gpu": 0, "ibmnpu": 1, "nvswitch": 2, "unknown": 0xFF}
            links = []
            for lk in g["nvlinks"]:
                if lk["state"] == "not_present":
                    break
                if lk["state"] == "not_supported":
                    links = None
                    break
                links.append({
                    "state": 1 if lk["state"] == "active" else 0,
                    "version": lk.get("version_raw", rev_versions.get(lk.get("version"), 0)),
                    "remote_bus_id": lk["remote_pci_bus_id"] if isinstance(lk.get("remote_pci_bus_id"), str)
                    else None,
                    "remote_device_id": int(lk["remote_pci_device_id"], 16)
                    if isinstance(lk.get("remote_pci_device_id"), str) else 0,
                    "remote_type": rev_types.get(lk.get("remote_device_type"))
                    if isinstance(lk.get("remote_device_type"), str) and lk.get("remote_device_type")
                    != "not_supported" else None,
                })
            spec["nvlinks"] = links
            spec["not_supported"] = ns
            spec["errors"] = errors
            gpus.append(spec)

        topo_rev = {"INTERNAL": 0, "PIX": 10, "PXB": 20, "PHB": 30, "NODE": 40, "SYS": 50}
        p2p_rev = {"OK": 0, "CHIPSET_NOT_SUPPORTED": 1, "GPU_NOT_SUPPORTED": 2,
                   "IOH_TOPOLOGY_NOT_SUPPORTED": 3, "DISABLED_BY_REGKEY": 4, "NOT_SUPPORTED": 5, "UNKNOWN": 6}
        caps = {"read": 0, "write": 1, "nvlink": 2, "atomics": 3}
        pairs = {}
        for p in snap["pairs"]:
            anc = p["pcie_common_ancestor"]
            pairs[(p["gpu_a"], p["gpu_b"])] = {
                "topology": topo_rev[anc["name"]] if isinstance(anc, dict) else 50,
                "p2p": {caps[k]: p2p_rev.get(v, 6) for k, v in p["p2p"].items()},
            }
        max_links = snap.get("nvlink_max_links") or 18
        return cls(gpus=gpus, driver_version=snap["driver_version"],
                   cuda_version=major * 1000 + minor * 10, nvml_version=snap["nvml_version"],
                   pairs=pairs, max_links=max_links)


def _cpulist_to_words(cpulist):
    words = []
    for part in filter(None, cpulist.split(",")):
        lo, _sep, hi = part.partition("-")
        for cpu in range(int(lo), int(hi or lo) + 1):
            while len(words) <= cpu // 64:
                words.append(0)
            words[cpu // 64] |= 1 << (cpu % 64)
    return words
