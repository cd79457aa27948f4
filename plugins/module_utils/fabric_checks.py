# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fabric faults pre-flight looks for (docs/preflight.md, "Fabric"; issue 22 item 2), pure functions over
what the host probe read:

* **PCIe ACS** on the bridges between GPUs and NICs: with ACS request/completion redirect on, peer-to-peer
  traffic (GPU to GPU, GPUDirect RDMA GPU to NIC) is sent up to the root complex instead of across the switch, and
  NCCL's bandwidth collapses or hangs. The host probe reads the ACS capability (extended capability ID 0x000D) of
  every bridge above a GPU or RDMA device from its configuration space (``/sys/bus/pci/devices/<bdf>/config``,
  4096 bytes as root); ``acs_names`` names its bits, ``acs_from_lspci(text)`` reads the same from ``lspci -vvv``
  (recorded dumps, and hosts where the probe could not read past 256 bytes).
* **IOMMU** translated (not off or passthrough): every peer-to-peer DMA takes an IOMMU lookup or fails.
* **GPUDirect RDMA**: ``nvidia_peermem`` loaded, or DMA-BUF (NVIDIA's open kernel modules on a kernel >= 5.12).
* **HCA firmware**: every node of a fabric on the same firmware version (a cross-host check on the controller).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = ["ACS_BITS", "acs_names", "acs_from_lspci", "gpudirect_rdma", "hca_firmware_mismatch", "p2p_redirect"]

# ACS control register bits (PCIe Base Specification, "ACS Extended Capability"), lspci's names
ACS_BITS = ((0x01, "SrcValid"), (0x02, "TransBlk"), (0x04, "ReqRedir"), (0x08, "CmpltRedir"),
            (0x10, "UpstreamFwd"), (0x20, "EgressCtrl"), (0x40, "DirectTrans"))
# the ones that break peer-to-peer below a switch: requests/completions redirected upstream, egress control
_P2P_BREAKERS = ("ReqRedir", "CmpltRedir", "EgressCtrl")
_ACS_ID = 0x000D


def _names(mask):
    return [name for bit, name in ACS_BITS if mask & bit]


def p2p_redirect(acs):
    """The control bits of an ACS record that stop peer-to-peer traffic below the bridge ([] when none)."""
    return [n for n in (acs or {}).get("control") or [] if n in _P2P_BREAKERS]


def acs_names(cap, ctl):
    """{capability: [...], control: [...]} of the ACS capability/control masks the host probe read from a bridge's
    configuration space (module_utils/host_probe._acs_masks)."""
    return {"capability": _names(int(cap or 0)), "control": _names(int(ctl or 0))}


_LSPCI_DEV = re.compile(r"^([0-9a-fA-F]{2,4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]|[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])"
                        r"\s+(.*)$")


def acs_from_lspci(text):
    """{bdf: {name, bridge, capability, control}} of every device of an ``lspci -vvv`` dump that has ACS."""
    out, cur = {}, None
    for line in (text or "").splitlines():
        m = _LSPCI_DEV.match(line)
        if m:
            bdf = m.group(1).lower()
            cur = {"bdf": bdf if bdf.count(":") == 2 else "0000:" + bdf, "name": m.group(2).strip(),
                   "bridge": "PCI bridge" in m.group(2)}
            continue
        s = line.strip()
        if cur is None or not (s.startswith("ACSCap:") or s.startswith("ACSCtl:")):
            continue
        flags = [tok[:-1] for tok in s.split()[1:] if tok.endswith("+")]
        rec = out.setdefault(cur["bdf"], {"name": cur["name"], "bridge": cur["bridge"]})
        rec["capability" if s.startswith("ACSCap:") else "control"] = flags
    return out


def gpudirect_rdma(modules, driver_version_text, kernel_release):
    """{peermem, dmabuf, available, how} from the loaded modules, /proc/driver/nvidia/version and the kernel."""
    peermem = "nvidia_peermem" in (modules or []) or "nv_peer_mem" in (modules or [])
    open_modules = "Open Kernel Module" in (driver_version_text or "")
    m = re.match(r"^(\d+)\.(\d+)", kernel_release or "")
    new_kernel = bool(m) and (int(m.group(1)), int(m.group(2))) >= (5, 12)
    dmabuf = open_modules and new_kernel
    how = "nvidia_peermem" if peermem else "dma-buf (open kernel modules, kernel %s)" % kernel_release if dmabuf \
        else None
    return {"peermem": peermem, "dmabuf": dmabuf, "open_modules": open_modules, "available": bool(how), "how": how}


def hca_firmware_mismatch(hosts):
    """{fabric_or_model: {fw_ver: [host/device, ...]}} where a fabric's HCAs (same board id) run more than one
    firmware version. ``hosts``: {host: [{device, fw_ver, board_id}]}."""
    by_board = {}
    for host, devs in sorted((hosts or {}).items()):
        for d in devs or []:
            if not d.get("fw_ver"):
                continue
            key = d.get("board_id") or d.get("device") or "hca"
            by_board.setdefault(key, {}).setdefault(str(d["fw_ver"]).strip(), []).append(
                "%s/%s" % (host, d.get("device")))
    return dict((k, v) for k, v in by_board.items() if len(v) > 1)
