# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDMA devices, ports and GID tables from /sys/class/infiniband (schema ``llmfleet.rdma_facts/v1``).

Reuses host_probe's sysfs reader and PCI/NUMA helpers.  Per port it reads the GID table
(``ports/<p>/gids/<i>``, ``gid_attrs/types/<i>`` = ``IB/RoCE v1`` or ``RoCE v2``, ``gid_attrs/ndevs/<i>``) and
chooses the GID index to use for RoCE v2 traffic (NCCL ``NCCL_IB_GID_INDEX``, perftest ``-x``):

1. a RoCE v2 GID whose IPv4-mapped address is the fabric address wanted for that netdev, else
2. the lowest RoCE v2 GID with an IPv4-mapped address (``::ffff:a.b.c.d``) on the port's netdev, else
3. the lowest RoCE v2 GID with a global (not fe80::/10) IPv6 address, else
4. None (no RoCE v2 GID yet: the netdev has no address).

InfiniBand ports have no RoCE GIDs; their index is 0 (``gid_index``) and ``roce_v2_gid_index`` is None.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.llmfleet.baremetal.plugins.module_utils.fabric_checks import gpudirect_rdma
from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import (  # noqa: F401
    _Reader, _device_numa, _pci_chain, _rate_gbps, module_names,
)

SCHEMA_VERSION = "llmfleet.rdma_facts/v1"
ZERO_GID = "0000:0000:0000:0000:0000:0000:0000:0000"
_V4_MAPPED_PREFIX = "0000:0000:0000:0000:0000:ffff:"
_STATE_RE = re.compile(r"^\s*(\d+)\s*:\s*(\S+)")

__all__ = ["SCHEMA_VERSION", "parse_gid", "parse_state", "choose_roce_v2_gid", "read_gid_table", "collect_rdma", "not_ready",
           "fabric_ports", "nccl_ib_env", "gpudirect_plan", "GpudirectError", "write_bw_verdict",
           "WRITE_BW_FRACTION"]


def parse_state(text):
    """``'4: ACTIVE'`` -> ``(4, 'ACTIVE')``; ``'5: LinkUp'`` -> ``(5, 'LinkUp')``; anything else -> (None, text)."""
    m = _STATE_RE.match(text or "")
    if not m:
        return None, (text or None)
    return int(m.group(1)), m.group(2)


def _compress_ipv6(words):
    """Eight 16-bit words -> RFC 5952 text (longest run of >= 2 zero words becomes ``::``)."""
    best_start, best_len, start = -1, 0, None
    for i, word in enumerate(words + [1]):
        if word == 0 and i < 8:
            start = i if start is None else start
            continue
        if start is not None and i - start > best_len:
            best_start, best_len = start, i - start
        start = None
    hexes = ["%x" % w for w in words]
    if best_len < 2:
        return ":".join(hexes)
    return ":".join(hexes[:best_start]) + "::" + ":".join(hexes[best_start + best_len:])


def parse_gid(gid):
    """A sysfs GID string -> ``{'gid', 'ipv4', 'ipv6', 'link_local'}``; None for the all-zero (unused) GID."""
    text = (gid or "").strip().lower()
    if not text or text == ZERO_GID:
        return None
    groups = text.split(":")
    if len(groups) != 8 or not all(re.match(r"^[0-9a-f]{4}$", g) for g in groups):
        return {"gid": text, "ipv4": None, "ipv6": None, "link_local": False, "valid": False}
    ipv4 = None
    ipv6 = None
    if text.startswith(_V4_MAPPED_PREFIX):
        hi, lo = int(groups[6], 16), int(groups[7], 16)
        ipv4 = "%d.%d.%d.%d" % (hi >> 8, hi & 0xFF, lo >> 8, lo & 0xFF)
    else:
        ipv6 = _compress_ipv6([int(g, 16) for g in groups])
    return {"gid": text, "ipv4": ipv4, "ipv6": ipv6, "link_local": groups[0].startswith("fe8"), "valid": True}


def read_gid_table(r, port_dir):
    """Non-zero GIDs of one port: ``[{index, gid, type, ndev, ipv4, ipv6, link_local}]`` sorted by index."""
    out = []
    names = r.listdir(os.path.join(port_dir, "gids"), required=False) or []
    for name in names:
        try:
            index = int(name)
        except ValueError:
            continue
        parsed = parse_gid(r.read(os.path.join(port_dir, "gids", name), required=False))
        if not parsed:
            continue
        # types/<i> and ndevs/<i> fail with EINVAL for unused entries; both are optional on IB ports
        gtype = r.read(os.path.join(port_dir, "gid_attrs", "types", name), required=False)
        ndev = r.read(os.path.join(port_dir, "gid_attrs", "ndevs", name), required=False)
        out.append({
            "index": index,
            "gid": parsed["gid"],
            "type": gtype or None,
            "ndev": ndev or None,
            "ipv4": parsed["ipv4"],
            "ipv6": parsed["ipv6"],
            "link_local": parsed["link_local"],
        })
    out.sort(key=lambda g: g["index"])
    return out


def choose_roce_v2_gid(gids, netdev=None, address=None):
    """The RoCE v2 GID index to use (see the module docstring), or None.

    ``gids``: entries as returned by read_gid_table; ``netdev``: only GIDs of this netdev count when given;
    ``address``: the planned fabric address (IPv4 or IPv6 text) to prefer.
    """
    v2 = [g for g in gids or [] if (g.get("type") or "").strip().lower() == "roce v2"
          and (not netdev or not g.get("ndev") or g.get("ndev") == netdev)]
    if address:
        want = str(address).strip().lower()
        for g in v2:
            if want in ((g.get("ipv4") or ""), (g.get("ipv6") or "")):
                return g["index"]
    for g in v2:
        if g.get("ipv4"):
            return g["index"]
    for g in v2:
        if g.get("ipv6") and not g.get("link_local"):
            return g["index"]
    return None


def _port_netdev(r, ddir, port_dir, gids, dev_netdevs):
    for g in gids:
        if g.get("ndev"):
            return g["ndev"]
    parent = r.read(os.path.join(ddir, "parent"), required=False)  # rxe / siw: the netdev they sit on
    if parent:
        return parent
    if len(dev_netdevs) == 1:
        return dev_netdevs[0]
    # multi-port HCA (e.g. IPoIB ib0/ib1): dev_port is 0-based, ports are 1-based
    try:
        port_no = int(os.path.basename(port_dir))
    except ValueError:
        return None
    for nd in dev_netdevs:
        if r.read_int(r.sys("class", "net", nd, "dev_port"), required=False) == port_no - 1:
            return nd
    return None


def collect_rdma(sysfs_root="/sys", procfs_root="/proc", addresses=None):
    """Every RDMA device with its ports, states, rates, GID tables and chosen RoCE v2 GID index.

    ``addresses``: ``{netdev: address}`` of planned fabric addresses, preferred when choosing the GID index.
    Never raises for missing files; returns ``{schema, devices, by_netdev, numa_nodes, missing, errors}``.
    """
    addresses = addresses or {}
    r = _Reader(sysfs_root, procfs_root)
    base = r.sys("class", "infiniband")
    devices = []
    by_netdev = {}
    numa_nodes = {}
    for name in r.listdir(base, required=False) or []:
        ddir = os.path.join(base, name)
        dev_link = os.path.join(ddir, "device")
        has_dev = os.path.exists(dev_link)
        chain = _pci_chain(r, dev_link) if has_dev else []
        dev_netdevs = (r.listdir(os.path.join(dev_link, "net"), required=False) or []) if has_dev else []
        parent = r.read(os.path.join(ddir, "parent"), required=False)
        numa = _device_numa(r, dev_link, chain) if has_dev else None
        if numa is None and parent:
            # software devices (rxe, siw) take the NUMA node of the NIC below them
            nd_link = r.sys("class", "net", parent, "device")
            numa = _device_numa(r, nd_link, _pci_chain(r, nd_link)) if os.path.exists(nd_link) else None
        ports = []
        for pname in r.listdir(os.path.join(ddir, "ports"), required=False) or []:
            pdir = os.path.join(ddir, "ports", pname)
            state_num, state = parse_state(r.read(os.path.join(pdir, "state"), required=False))
            phys_num, phys = parse_state(r.read(os.path.join(pdir, "phys_state"), required=False))
            link_layer = r.read(os.path.join(pdir, "link_layer"), required=False)
            rate = r.read(os.path.join(pdir, "rate"), required=False)
            gids = read_gid_table(r, pdir)
            netdev = _port_netdev(r, ddir, pdir, gids, dev_netdevs)
            ethernet = (link_layer or "").lower() == "ethernet"
            gid_index = choose_roce_v2_gid(gids, netdev, addresses.get(netdev)) if ethernet else None
            try:
                port_no = int(pname)
            except ValueError:
                port_no = pname
            port = {
                "port": port_no,
                "state": state,
                "state_num": state_num,
                "active": state == "ACTIVE",
                "phys_state": phys,
                "phys_state_num": phys_num,
                "link_layer": link_layer,
                "rate": rate,
                "rate_gbps": _rate_gbps(rate),
                "netdev": netdev,
                "gids": gids,
                "roce_v2_gid_index": gid_index,
                "gid_index": gid_index if ethernet else 0,
                "lid": r.read(os.path.join(pdir, "lid"), required=False),
            }
            ports.append(port)
            if netdev:
                by_netdev[netdev] = {"device": name, "port": port_no, "roce_v2_gid_index": gid_index,
                                     "state": state, "link_layer": link_layer}
        ports.sort(key=lambda p: (not isinstance(p["port"], int), p["port"] if isinstance(p["port"], int) else 0))
        devices.append({
            "name": name,
            "kind": "software" if parent and not chain else "hardware",
            "parent": parent,
            "pci_bus_id": chain[-1] if chain else None,
            "numa_node": numa,
            "node_type": r.read(os.path.join(ddir, "node_type"), required=False),
            "fw_ver": r.read(os.path.join(ddir, "fw_ver"), required=False),
            "node_guid": r.read(os.path.join(ddir, "node_guid"), required=False),
            "netdevs": sorted(set(dev_netdevs + ([parent] if parent else []))),
            "ports": ports,
        })
        numa_nodes.setdefault(str(numa if numa is not None else -1), []).append(name)
    return {
        "schema": SCHEMA_VERSION,
        "devices": devices,
        "by_netdev": by_netdev,
        "numa_nodes": numa_nodes,
        "missing": r.missing,
        "errors": r.errors,
    }


def not_ready(facts, expect):
    """Why the expected fabric ports are not usable yet: a list of messages (empty = all ready).

    ``expect``: ``[{fabric, netdev, address, mode, rate_gbps?}]``.  A port is ready when its netdev has an RDMA
    device whose port is ACTIVE, at least ``rate_gbps`` when given, and, for RoCE, has a RoCE v2 GID carrying
    ``address``.
    """
    problems = []
    ports = {}
    for dev in facts.get("devices") or []:
        for port in dev.get("ports") or []:
            if port.get("netdev"):
                ports[port["netdev"]] = (dev, port)
    for want in expect or []:
        netdev = want.get("netdev")
        label = "fabric %s: %s" % (want.get("fabric"), netdev)
        if netdev not in ports:
            problems.append("%s has no RDMA device (found: %s)" % (label, ", ".join(sorted(ports)) or "none"))
            continue
        dev, port = ports[netdev]
        where = "%s (%s port %s)" % (label, dev["name"], port["port"])
        if not port.get("active"):
            problems.append("%s is %s, not ACTIVE (phys_state %s)" % (where, port.get("state"), port.get("phys_state")))
        rate = float(want.get("rate_gbps") or 0)
        if rate and (port.get("rate_gbps") or 0) < rate:
            problems.append("%s runs at %s, below the expected %s Gb/s" % (where, port.get("rate"), rate))
        if want.get("mode", "roce") == "roce":
            address = str(want.get("address") or "").split("/", maxsplit=1)[0].lower()
            if port.get("roce_v2_gid_index") is None:
                problems.append("%s has no RoCE v2 GID yet (is the address configured?)" % where)
            elif address and not any(address in ((g.get("ipv4") or ""), (g.get("ipv6") or ""))
                                     for g in port.get("gids") or [] if g["index"] == port["roce_v2_gid_index"]):
                problems.append("%s: no RoCE v2 GID carries the fabric address %s (chosen index %s)"
                                % (where, address, port["roce_v2_gid_index"]))
    return problems


def fabric_ports(plans, rdma_facts):
    """Join fabric plans with ``ansible_facts.llmfleet_rdma``: one row per fabric with the RDMA device, port and the
    GID index to use (RoCE v2 index on RoCE, 0 on InfiniBand); device None where the netdev has no RDMA device."""
    by_netdev = (rdma_facts or {}).get("by_netdev") or {}
    out = []
    for plan in plans or []:
        port = by_netdev.get(plan.get("interface")) or {}
        roce = plan.get("mode", "roce") == "roce"
        out.append({
            "fabric": plan.get("fabric"),
            "interface": plan.get("interface"),
            "address": plan.get("address"),
            "cidr": plan.get("cidr"),
            "mode": plan.get("mode", "roce"),
            "device": port.get("device"),
            "port": port.get("port"),
            "state": port.get("state"),
            "gid_index": (port.get("roce_v2_gid_index") if roce else 0) if port else None,
        })
    return out


# ib_write_bw (perftest, one QP, 64 KiB writes, host memory) reaches 90-97 % of the link rate on a healthy RoCE or
# InfiniBand port (NVIDIA perftest README / "RDMA Aware Networks Programming User Manual"; the seed articles'
# figures); below 80 % the rail is slow: cable, optics, a switch port at a lower speed, PFC/ECN, MTU.
WRITE_BW_FRACTION = 0.8


def write_bw_verdict(measured_gbps, plan, rate_gbps=None, fraction=WRITE_BW_FRACTION, peer=""):
    """The ib_write_bw gate of one fabric pair.

    ``plan``: the fabric plan (fabric_plans) - its ``min_write_bw_gbps`` is the threshold when set (Soft-RoCE labs,
    a rail known to be slower); else ``fraction`` x the port's link rate ``rate_gbps`` (rdma_facts). A port whose
    rate is unknown is not gated, and says so. Returns {threshold_gbps, basis, passed, problem}.
    """
    fabric = (plan or {}).get("fabric") or "?"
    fixed = (plan or {}).get("min_write_bw_gbps")
    rate = float(rate_gbps or 0)
    fraction = float(fraction)
    if fixed not in (None, ""):
        threshold = float(fixed)
        basis = "min_write_bw_gbps of fabric %s" % fabric
    elif fraction <= 0:
        return {"threshold_gbps": None, "passed": True, "problem": "",
                "basis": "not gated: rdma_verify_min_bw_fraction is 0 (report only)"}
    elif rate > 0:
        threshold = round(fraction * rate, 3)
        basis = "%g x the %g Gb/s link rate (rdma_verify_min_bw_fraction)" % (fraction, rate)
    else:
        return {"threshold_gbps": None, "passed": True, "problem": "",
                "basis": "not gated: the port's link rate is unknown and fabric %s sets no min_write_bw_gbps" % fabric}
    out = {"threshold_gbps": threshold, "basis": basis, "passed": True, "problem": ""}
    if measured_gbps in (None, ""):
        out.update(passed=False, problem="fabric %s: ib_write_bw with %s reported no bandwidth (threshold %g Gb/s, %s)"
                   % (fabric, peer or "the peer", threshold, basis))
        return out
    measured = float(measured_gbps)
    if measured < threshold:
        out.update(passed=False, problem=(
            "fabric %s: ib_write_bw with %s %g Gb/s is below %g Gb/s (%s): a slow rail - check the cable or optics, "
            "the switch port's speed, PFC/ECN and the MTU" % (fabric, peer or "the peer", measured, threshold, basis)))
    return out


def nccl_ib_env(ports):
    """``NCCL_IB_HCA`` / ``NCCL_IB_GID_INDEX`` for the fabric ports (from fabric_ports); {} without RDMA devices."""
    found = [p for p in ports or [] if p.get("device")]
    if not found:
        return {}
    hcas = []
    for p in found:
        name = "%s:%s" % (p["device"], p["port"]) if p.get("port") is not None else p["device"]
        if name not in hcas:
            hcas.append(name)
    env = {"NCCL_IB_HCA": ",".join(hcas)}
    if found[0].get("gid_index") is not None:
        env["NCCL_IB_GID_INDEX"] = str(found[0]["gid_index"])
    return env


class GpudirectError(ValueError):
    """A GPUDirect RDMA plan that cannot be kept (rdma_gpudirect: required), or a bad mode."""


def gpudirect_plan(gpu, fabric_ports_=None, driver_version_text="", kernel_release="", proc_modules_text="",
                   mode="auto", host=""):
    """How this host's NICs read and write GPU memory directly (GPUDirect RDMA), for the rdma role.

    ``gpu``: the llmfleet_gpu snapshot; ``fabric_ports_``: llmfleet_rdma_fabric_ports; the driver's
    /proc/driver/nvidia/version, the kernel release and /proc/modules as text. Returns ``{applicable, how, load,
    nccl_env, why}``: not applicable without a live GPU snapshot with GPUs or without an RDMA port; DMA-BUF where
    NVIDIA's open kernel modules run on a kernel >= 5.12 (nothing to load; NCCL_DMABUF_ENABLE=1); otherwise the
    driver's nvidia_peermem module (``load``). ``mode``: auto, off, or required (a host where it is not applicable
    is refused, naming why)."""
    if mode not in ("auto", "off", "required"):
        raise GpudirectError("rdma_gpudirect must be auto, off or required (got %r)" % (mode,))
    gpu = gpu or {}
    out = {"applicable": False, "how": "", "load": [], "nccl_env": {}, "why": ""}
    if mode == "off":
        out["why"] = "rdma_gpudirect is off"
        return out
    if gpu.get("source") == "replay":
        out["why"] = "the GPU snapshot is a replay (no live GPU)"
    elif not gpu.get("nvml_available") or not gpu.get("gpus"):
        out["why"] = "no GPU (NVML)"
    elif not [p for p in fabric_ports_ or [] if p.get("device")]:
        out["why"] = "no RDMA port on a fabric"
    if out["why"]:
        if mode == "required":
            raise GpudirectError("%s: rdma_gpudirect is required, but GPUDirect RDMA does not apply: %s"
                                 % (host or "this host", out["why"]))
        return out
    found = gpudirect_rdma(module_names(proc_modules_text), driver_version_text, kernel_release)
    out["applicable"] = True
    if found["dmabuf"]:
        out.update(how="dma-buf", nccl_env={"NCCL_DMABUF_ENABLE": "1"},
                   why="NVIDIA's open kernel modules on kernel %s: DMA-BUF, no module to load" % kernel_release)
    else:
        out.update(how="nvidia_peermem", load=["nvidia_peermem"],
                   why="the driver's nvidia_peermem module (%s)" % (
                       "proprietary kernel modules" if not found["open_modules"]
                       else "kernel %s is older than 5.12" % kernel_release))
    return out
