# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU health from NVML for the burn-in gate (docs/burnin.md): what a GPU's counters say now, not what it is.

``probe(nvml)`` reads, per GPU: ECC mode and the uncorrected/corrected error counts (volatile: since the driver
loaded; aggregate: lifetime), remapped rows (pending, failed), retired pages (pre-Ampere), the clock event
(throttle) reasons active now, SM/memory clocks against their maxima, temperature, power, the PCIe link against its
maximum and the PCIe replay counter. A call the GPU does not support is recorded as ``"not_supported"``, an error
as ``{"error": ...}``: the evaluation (plugins/module_utils/burnin.py) decides what each means.
``xid_events(text)`` reads NVIDIA Xid lines from a kernel log (``journalctl -k`` / ``dmesg``).

Runs as a host script too: ``python3 gpu_health.py`` prints the probe as JSON (no Ansible needed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import sys

__all__ = ["probe", "xid_events", "THROTTLE_BITS", "NOT_SUPPORTED"]

NOT_SUPPORTED = "not_supported"

# nvmlClocksEventReasons (nvml.h): the bits that mean the GPU is held back by something other than idling or an
# application's own clock setting
THROTTLE_BITS = {
    0x0000000000000001: "gpu_idle",
    0x0000000000000002: "applications_clocks_setting",
    0x0000000000000004: "sw_power_cap",
    0x0000000000000008: "hw_slowdown",
    0x0000000000000010: "sync_boost",
    0x0000000000000020: "sw_thermal_slowdown",
    0x0000000000000040: "hw_thermal_slowdown",
    0x0000000000000080: "hw_power_brake_slowdown",
    0x0000000000000100: "display_clock_setting",
}

# "NVRM: Xid (PCI:0000:18:00): 79, pid=..., GPU has fallen off the bus."
_XID = re.compile(r"NVRM: Xid \(PCI:([0-9a-fA-F:.]+)\): (\d+),?\s*(.*)")


def _call(nvml, name, *args):
    try:
        return getattr(nvml, name)(*args)
    # NVML raises one exception class per return code
    except Exception as exc:  # pylint: disable=broad-except
        if type(exc).__name__ == "NVMLError_NotSupported" or "Not Supported" in str(exc):
            return NOT_SUPPORTED
        return {"error": "%s: %s" % (type(exc).__name__, exc)}


def _ok(value):
    return value != NOT_SUPPORTED and not (isinstance(value, dict) and "error" in value)


def _ecc(nvml, handle):
    out = {}
    for etype, ename in ((getattr(nvml, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1), "uncorrected"),
                         (getattr(nvml, "NVML_MEMORY_ERROR_TYPE_CORRECTED", 0), "corrected")):
        for ctype, cname in ((getattr(nvml, "NVML_VOLATILE_ECC", 0), "volatile"),
                             (getattr(nvml, "NVML_AGGREGATE_ECC", 1), "aggregate")):
            out["%s_%s" % (ename, cname)] = _call(nvml, "nvmlDeviceGetTotalEccErrors", handle, etype, ctype)
    return out


def _remapped(nvml, handle):
    rows = _call(nvml, "nvmlDeviceGetRemappedRows", handle)
    if not _ok(rows):
        return rows
    corr, unc, pending, failure = rows
    return {"correctable": int(corr), "uncorrectable": int(unc), "pending": bool(pending), "failure": bool(failure)}


def _retired(nvml, handle):
    pending = _call(nvml, "nvmlDeviceGetRetiredPagesPendingStatus", handle)
    return {"pending": bool(pending) if _ok(pending) else pending}


def _reasons(mask):
    if not _ok(mask):
        return mask
    mask = int(mask)
    return {"mask": mask, "active": [name for bit, name in sorted(THROTTLE_BITS.items()) if mask & bit]}


def _gpu(nvml, index):
    handle = _call(nvml, "nvmlDeviceGetHandleByIndex", index)
    if not _ok(handle):
        return {"index": index, "error": handle}
    g = {"index": index}
    name = _call(nvml, "nvmlDeviceGetName", handle)
    g["name"] = name.decode() if isinstance(name, bytes) else name
    uuid = _call(nvml, "nvmlDeviceGetUUID", handle)
    g["uuid"] = uuid.decode() if isinstance(uuid, bytes) else uuid
    pci = _call(nvml, "nvmlDeviceGetPciInfo", handle)
    if _ok(pci):
        bus = getattr(pci, "busIdLegacy", None) or pci.busId
        g["pci_bus_id"] = bus.decode() if isinstance(bus, bytes) else bus
    mode = _call(nvml, "nvmlDeviceGetEccMode", handle)
    g["ecc_enabled"] = bool(mode[0]) if _ok(mode) else mode
    g["ecc_errors"] = _ecc(nvml, handle)
    g["remapped_rows"] = _remapped(nvml, handle)
    g["retired_pages"] = _retired(nvml, handle)
    reasons = _call(nvml, "nvmlDeviceGetCurrentClocksEventReasons", handle)
    if not _ok(reasons):
        reasons = _call(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
    g["clock_event_reasons"] = _reasons(reasons)
    clocks = {}
    for label, ctype in (("sm", getattr(nvml, "NVML_CLOCK_SM", 1)), ("mem", getattr(nvml, "NVML_CLOCK_MEM", 2))):
        clocks[label + "_mhz"] = _call(nvml, "nvmlDeviceGetClockInfo", handle, ctype)
        clocks[label + "_max_mhz"] = _call(nvml, "nvmlDeviceGetMaxClockInfo", handle, ctype)
    g["clocks"] = clocks
    g["temperature_c"] = _call(nvml, "nvmlDeviceGetTemperature", handle, getattr(nvml, "NVML_TEMPERATURE_GPU", 0))
    power = _call(nvml, "nvmlDeviceGetPowerUsage", handle)
    g["power_w"] = round(power / 1000.0, 1) if _ok(power) else power
    g["pcie"] = {
        "gen": _call(nvml, "nvmlDeviceGetCurrPcieLinkGeneration", handle),
        "max_gen": _call(nvml, "nvmlDeviceGetMaxPcieLinkGeneration", handle),
        "width": _call(nvml, "nvmlDeviceGetCurrPcieLinkWidth", handle),
        "max_width": _call(nvml, "nvmlDeviceGetMaxPcieLinkWidth", handle),
        "replay_counter": _call(nvml, "nvmlDeviceGetPcieReplayCounter", handle),
    }
    return g


def probe(nvml=None):
    """{nvml_available, driver, gpus: [...]} of this host, or nvml_available false with the reason."""
    if nvml is None:
        try:
            import pynvml as nvml  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            return {"schema": "llmfleet.gpu_health/v1", "nvml_available": False, "reason": str(exc), "gpus": []}
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pylint: disable=broad-except
        return {"schema": "llmfleet.gpu_health/v1", "nvml_available": False, "reason": str(exc), "gpus": []}
    try:
        driver = _call(nvml, "nvmlSystemGetDriverVersion")
        count = _call(nvml, "nvmlDeviceGetCount")
        gpus = [_gpu(nvml, i) for i in range(int(count))] if _ok(count) else []
        return {"schema": "llmfleet.gpu_health/v1", "nvml_available": True,
                "driver": driver.decode() if isinstance(driver, bytes) else driver, "gpus": gpus}
    finally:
        _call(nvml, "nvmlShutdown")


def xid_events(text):
    """[{pci_bus_id, xid, detail}] of every NVIDIA Xid line in a kernel log."""
    out = []
    for line in (text or "").splitlines():
        m = _XID.search(line)
        if m:
            out.append({"pci_bus_id": m.group(1).lower(), "xid": int(m.group(2)), "detail": m.group(3).strip()})
    return out


if __name__ == "__main__":
    json.dump(probe(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
