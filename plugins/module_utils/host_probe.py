# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host topology probe over /sys and /proc (schema ``llmfleet.host_probe/v1``).

Self-contained on purpose (standard library only), so the same file serves
Ansible modules (as module_utils), the ``llmfleet`` CLI (loaded by file path)
and a plain ``python3 host_probe.py [-o FILE]``.

The probe never raises because a file is missing or unreadable: containers and
VMs lack much of /sys.  Every path it wanted but could not read is listed in
``missing`` (absent) or ``errors`` (present but unreadable/unparsable), so a
consumer can tell "no NUMA" from "could not see NUMA".  Field reference:
docs/preflight.md (section "Host probe").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import datetime
import json
import os
import re
import socket
import struct
import sys
import time

SCHEMA_VERSION = "llmfleet.host_probe/v1"

# /sys/class/net/<if>/type (include/uapi/linux/if_arp.h)
_ARPHRD = {1: "ethernet", 32: "infiniband", 772: "loopback", 65534: "none"}

# cmdline parameters that decide the IOMMU state.
_IOMMU_PARAMS = ("intel_iommu", "amd_iommu", "iommu", "iommu.passthrough", "iommu.strict")

__all__ = ["SCHEMA_VERSION", "parse_cpulist", "format_cpulist", "parse_cmdline", "collect_host"]


# --------------------------------------------------------------------------- cpulists

def parse_cpulist(text):
    """Linux cpulist -> sorted list of ints: ``'0-3,8'`` -> ``[0, 1, 2, 3, 8]``.

    Accepts the stride form ``'0-10:2'`` as well, ignores whitespace and empty
    parts (``''`` -> ``[]``).  Raises ValueError on anything else.
    """
    if text is None:
        return []
    cpus = set()
    for part in str(text).strip().split(","):
        part = part.strip()
        if not part:
            continue
        stride = 1
        if ":" in part:
            part, s = part.split(":", 1)
            stride = int(s.split("/")[0])
            if stride < 1:
                raise ValueError("bad cpulist stride in %r" % (text,))
        if "-" in part:
            a, b = part.split("-", 1)
            a, b = int(a), int(b)
            if b < a:
                raise ValueError("bad cpulist range %r in %r" % (part, text))
            cpus.update(range(a, b + 1, stride))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def format_cpulist(cpus):
    """Iterable of ints -> compact Linux cpulist: ``[0, 1, 2, 3, 8]`` -> ``'0-3,8'``."""
    ranges = []
    start = prev = None
    for cpu in sorted(set(int(c) for c in cpus)):
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


def parse_cmdline(text):
    """Kernel command line -> dict (last occurrence wins; bare flags map to True).

    Everything after a lone ``--`` belongs to init and is ignored.
    """
    out = {}
    for token in (text or "").split():
        if token == "--":
            break
        if "=" in token:
            key, value = token.split("=", 1)
            out[key] = value.strip('"')
        else:
            out[token] = True
    return out


# --------------------------------------------------------------------------- reading helpers

class _Reader(object):
    """Reads files below the sysfs / procfs roots and records what was missing."""

    def __init__(self, sysfs_root, procfs_root):
        self.sysfs_root = sysfs_root
        self.procfs_root = procfs_root
        self.missing = []
        self.errors = []

    def sys(self, *parts):
        return os.path.join(self.sysfs_root, *parts)

    def proc(self, *parts):
        return os.path.join(self.procfs_root, *parts)

    def _note_missing(self, path):
        if path not in self.missing:
            self.missing.append(path)

    def read(self, path, required=True):
        """Stripped file content, or None (recorded in missing/errors when required)."""
        try:
            with open(path, "rb") as handle:
                return handle.read().decode("utf-8", "replace").strip()
        except (IOError, OSError) as exc:
            if not required:
                return None
            if getattr(exc, "errno", None) in (2, 20):  # ENOENT, ENOTDIR
                self._note_missing(path)
            else:
                self.errors.append({"path": path, "error": "%s: %s" % (type(exc).__name__, exc)})
            return None

    def read_int(self, path, required=True):
        text = self.read(path, required)
        if text is None:
            return None
        try:
            return int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            # e.g. reading speed on a down link gives EINVAL on read, or garbage
            self.errors.append({"path": path, "error": "not an integer: %r" % text[:80]})
            return None

    def listdir(self, path, required=True):
        try:
            return sorted(os.listdir(path))
        except (IOError, OSError) as exc:
            if required:
                if getattr(exc, "errno", None) in (2, 20):
                    self._note_missing(path)
                else:
                    self.errors.append({"path": path, "error": "%s: %s" % (type(exc).__name__, exc)})
            return None

    def link_target(self, path):
        try:
            return os.readlink(path)
        except (IOError, OSError):
            return None


_PCI_ADDR_RE = re.compile(r"^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def _pci_chain(reader, device_link):
    """PCI addresses from the root port down to the device of a sysfs ``device`` link."""
    try:
        real = os.path.realpath(device_link)
    except (IOError, OSError):
        return []
    return [p.lower() for p in real.split(os.sep) if _PCI_ADDR_RE.match(p)]


def _device_numa(r, dev_link, chain):
    """numa_node of a device (-1: the kernel knows no affinity), else of its PCI function (virtio)."""
    value = r.read_int(os.path.join(dev_link, "numa_node"), required=False)
    if value is None and chain:
        value = r.read_int(r.sys("bus", "pci", "devices", chain[-1], "numa_node"), required=False)
    return value


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- sections

def _kernel(r):
    uname = os.uname() if hasattr(os, "uname") else None
    release = r.read(r.proc("sys", "kernel", "osrelease"))
    version = r.read(r.proc("sys", "kernel", "version"), required=False)
    return {
        "release": release or (uname.release if uname else None),
        "version": version or (uname.version if uname else None),
        "machine": uname.machine if uname else None,
        "source": "procfs" if release else "uname",
    }


def _cpuinfo(r):
    text = r.read(r.proc("cpuinfo"))
    model = vendor = None
    phys = set()
    cores = set()
    logical = 0
    cur_phys = cur_core = None
    if text:
        for block in re.split(r"\n\s*\n", text):
            fields = {}
            for line in block.splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.strip()
            if "processor" not in fields:
                continue
            logical += 1
            model = model or fields.get("model name") or fields.get("Model") or fields.get("cpu model")
            vendor = vendor or fields.get("vendor_id") or fields.get("CPU implementer")
            cur_phys = fields.get("physical id")
            cur_core = fields.get("core id")
            if cur_phys is not None:
                phys.add(cur_phys)
                if cur_core is not None:
                    cores.add((cur_phys, cur_core))
    return {"model": model, "vendor": vendor, "logical_cpus_cpuinfo": logical,
            "sockets_cpuinfo": len(phys) or None, "cores_cpuinfo": len(cores) or None}


def _cpu(r):
    info = _cpuinfo(r)
    base = r.sys("devices", "system", "cpu")
    online_text = r.read(os.path.join(base, "online"))
    online = parse_cpulist(online_text) if online_text else []
    present_text = r.read(os.path.join(base, "present"), required=False)

    # Topology from sysfs: (package, core) pairs and thread siblings.
    packages = set()
    core_keys = set()
    max_threads = 0
    sibling_source = False
    for cpu in online:
        topo = os.path.join(base, "cpu%d" % cpu, "topology")
        pkg = r.read_int(os.path.join(topo, "physical_package_id"), required=False)
        core = r.read_int(os.path.join(topo, "core_id"), required=False)
        sib = r.read(os.path.join(topo, "thread_siblings_list"), required=False)
        if pkg is not None:
            packages.add(pkg)
        if pkg is not None and core is not None:
            core_keys.add((pkg, core))
        if sib:
            sibling_source = True
            try:
                max_threads = max(max_threads, len(parse_cpulist(sib)))
            except ValueError:
                pass

    smt_active_raw = r.read(os.path.join(base, "smt", "active"), required=False)
    smt_control = r.read(os.path.join(base, "smt", "control"), required=False)
    if smt_active_raw in ("0", "1"):
        smt_active, smt_source = smt_active_raw == "1", "smt/active"
    elif sibling_source:
        smt_active, smt_source = max_threads > 1, "thread_siblings_list"
    else:
        smt_active, smt_source = None, None
        r._note_missing(os.path.join(base, "smt", "active"))

    logical = len(online) or info["logical_cpus_cpuinfo"] or os.cpu_count()
    cores = len(core_keys) or info["cores_cpuinfo"]
    sockets = len(packages) or info["sockets_cpuinfo"]
    return {
        "model": info["model"],
        "vendor": info["vendor"],
        "sockets": sockets,
        "cores": cores,
        "logical_cpus": logical,
        "threads_per_core": (max_threads or (logical // cores if cores else None)) if logical else None,
        "online": online_text or (format_cpulist(range(logical)) if logical else None),
        "present": present_text,
        "smt": {"active": smt_active, "control": smt_control, "source": smt_source},
    }


def _meminfo(r):
    text = r.read(r.proc("meminfo"))
    out = {}
    for line in (text or "").splitlines():
        m = re.match(r"^(\w+):\s+(\d+)\s*kB", line)
        if m and m.group(1) in ("MemTotal", "MemAvailable", "HugePages_Total"):
            out[m.group(1)] = int(m.group(2))
        m = re.match(r"^(HugePages_Total|HugePages_Free):\s+(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
        m = re.match(r"^Hugepagesize:\s+(\d+)\s*kB", line)
        if m:
            out["Hugepagesize"] = int(m.group(1))
    return {
        "total_kib": out.get("MemTotal"),
        "available_kib": out.get("MemAvailable"),
        "hugepages_total": out.get("HugePages_Total"),
        "hugepages_free": out.get("HugePages_Free"),
        "hugepage_size_kib": out.get("Hugepagesize"),
    }


def _numa(r):
    base = r.sys("devices", "system", "node")
    entries = r.listdir(base)
    nodes = []
    for name in entries or []:
        m = re.match(r"^node(\d+)$", name)
        if not m:
            continue
        node = int(m.group(1))
        ndir = os.path.join(base, name)
        cpulist = r.read(os.path.join(ndir, "cpulist"))
        try:
            cpus = parse_cpulist(cpulist) if cpulist else []
        except ValueError:
            r.errors.append({"path": os.path.join(ndir, "cpulist"), "error": "bad cpulist %r" % cpulist})
            cpus = []
        mem_total = mem_free = None
        for line in (r.read(os.path.join(ndir, "meminfo")) or "").splitlines():
            m2 = re.match(r"^Node\s+\d+\s+(MemTotal|MemFree):\s+(\d+)\s*kB", line)
            if m2 and m2.group(1) == "MemTotal":
                mem_total = int(m2.group(2))
            elif m2:
                mem_free = int(m2.group(2))
        distance = r.read(os.path.join(ndir, "distance"), required=False)
        nodes.append({
            "node": node,
            "cpulist": format_cpulist(cpus),
            "cpus": cpus,
            "cpu_count": len(cpus),
            "memory_total_kib": mem_total,
            "memory_free_kib": mem_free,
            "distance": [int(x) for x in distance.split()] if distance else None,
        })
    nodes.sort(key=lambda n: n["node"])
    online = r.read(os.path.join(base, "online"), required=False) if entries is not None else None
    return {
        "available": bool(nodes),
        "node_count": len(nodes),
        "online": online,
        "nodes": nodes,
    }


def _nic_speed(r, path):
    # Reading speed of a down link fails with EINVAL; -1 / 4294967295 mean unknown.
    value = r.read_int(path, required=False)
    if value is None or value < 0 or value == 0xFFFFFFFF:
        return None
    return value


def _nics(r, rdma_by_netdev):
    base = r.sys("class", "net")
    out = []
    for name in r.listdir(base) or []:
        if name == "lo" or name.startswith("."):
            continue
        ndir = os.path.join(base, name)
        if not os.path.isdir(ndir):
            continue
        dev_link = os.path.join(ndir, "device")
        physical = os.path.exists(dev_link)
        iftype = r.read_int(os.path.join(ndir, "type"), required=False)
        chain = _pci_chain(r, dev_link) if physical else []
        numa = _device_numa(r, dev_link, chain) if physical else None
        driver = None
        if physical:
            target = r.link_target(os.path.join(dev_link, "driver"))
            driver = os.path.basename(target) if target else None
        kind = "physical" if physical else "virtual"
        if os.path.isdir(os.path.join(ndir, "bridge")):
            kind = "bridge"
        elif os.path.isdir(os.path.join(ndir, "bonding")):
            kind = "bond"
        out.append({
            "name": name,
            "physical": physical,
            "kind": kind,
            "pci_bus_id": chain[-1] if chain else None,
            "pci_path": chain,
            "numa_node": numa,
            "driver": driver,
            "link_layer": _ARPHRD.get(iftype, iftype) if iftype is not None else None,
            "speed_mbps": _nic_speed(r, os.path.join(ndir, "speed")) if physical else None,
            "mtu": r.read_int(os.path.join(ndir, "mtu"), required=False),
            "operstate": r.read(os.path.join(ndir, "operstate"), required=False),
            "mac": r.read(os.path.join(ndir, "address"), required=False),
            "rdma_device": rdma_by_netdev.get(name),
        })
    return out


def module_names(proc_modules_text):
    """The loaded kernel modules' names from the text of /proc/modules."""
    return [line.split()[0] for line in (proc_modules_text or "").splitlines() if line.strip()]


def _rate_gbps(text):
    m = re.match(r"^\s*([\d.]+)\s*Gb/sec", text or "")
    return float(m.group(1)) if m else None


def _rdma(r):
    base = r.sys("class", "infiniband")
    names = r.listdir(base)
    out = []
    by_netdev = {}
    for name in names or []:
        ddir = os.path.join(base, name)
        dev_link = os.path.join(ddir, "device")
        chain = _pci_chain(r, dev_link) if os.path.exists(dev_link) else []
        netdevs = []
        nd_dir = os.path.join(dev_link, "net")
        for nd in r.listdir(nd_dir, required=False) or []:
            netdevs.append(nd)
            by_netdev[nd] = name
        ports = []
        for port in r.listdir(os.path.join(ddir, "ports"), required=False) or []:
            pdir = os.path.join(ddir, "ports", port)
            rate = r.read(os.path.join(pdir, "rate"), required=False)
            gids = r.listdir(os.path.join(pdir, "gids"), required=False)
            ports.append({
                "port": _int_or_none(port),
                "state": r.read(os.path.join(pdir, "state"), required=False),
                "phys_state": r.read(os.path.join(pdir, "phys_state"), required=False),
                "link_layer": r.read(os.path.join(pdir, "link_layer"), required=False),
                "rate": rate,
                "rate_gbps": _rate_gbps(rate),
                "gid_count": len(gids) if gids is not None else None,
            })
        ports.sort(key=lambda p: (p["port"] is None, p["port"]))
        out.append({
            "name": name,
            "pci_bus_id": chain[-1] if chain else None,
            "pci_path": chain,
            "numa_node": _device_numa(r, dev_link, chain),
            "node_type": r.read(os.path.join(ddir, "node_type"), required=False),
            "fw_ver": r.read(os.path.join(ddir, "fw_ver"), required=False),
            "board_id": r.read(os.path.join(ddir, "board_id"), required=False),
            "netdevs": netdevs,
            "ports": ports,
        })
    return out, by_netdev


def _iommu(r, cmdline):
    devices = r.listdir(r.sys("class", "iommu"))
    groups = r.listdir(r.sys("kernel", "iommu_groups"), required=False)
    params = dict((k, cmdline[k]) for k in _IOMMU_PARAMS if k in cmdline)
    off = any(str(params.get(k, "")).lower() in ("off", "0") for k in ("intel_iommu", "amd_iommu", "iommu"))
    pt = (str(params.get("iommu", "")).lower() == "pt"
          or str(params.get("iommu.passthrough", "")).lower() in ("1", "on", "y", "true"))
    if devices:
        enabled = True
    elif devices is None:
        enabled = None  # no /sys/class/iommu: cannot tell
    else:
        enabled = False
    if enabled is False or (enabled is None and off):
        mode = "off"
    elif enabled and pt:
        mode = "passthrough"
    elif enabled:
        mode = "translated"
    else:
        mode = None
    return {
        "enabled": enabled,
        "mode": mode,
        "devices": devices or [],
        "group_count": len(groups) if groups is not None else None,
        "cmdline": params,
    }


def _nvidia_driver(r):
    """Loaded NVIDIA kernel driver (version, open vs proprietary flavor) from /proc and /sys/module."""
    text = r.read(r.proc("driver", "nvidia", "version"), required=False)
    version = r.read(r.sys("module", "nvidia", "version"), required=False)
    flavor = None
    if text:
        m = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)", text)
        if m and not version:
            version = m.group(1)
        flavor = "open" if "Open Kernel Module" in text else "proprietary"
    return {"loaded": bool(text or version), "version": version, "flavor": flavor}


# PCI class codes (upper 16 bits of the 24-bit class) of NVIDIA devices worth listing.
_NVIDIA_CLASSES = {"0x0300": "gpu", "0x0302": "gpu", "0x0680": "nvswitch"}


def _nvidia_pci(r):
    """NVIDIA GPUs / NVSwitches seen on the PCI bus, driver or not (vendor 0x10de)."""
    base = r.sys("bus", "pci", "devices")
    out = []
    for addr in r.listdir(base) or []:
        ddir = os.path.join(base, addr)
        if (r.read(os.path.join(ddir, "vendor"), required=False) or "").lower() != "0x10de":
            continue
        klass = (r.read(os.path.join(ddir, "class"), required=False) or "").lower()
        kind = _NVIDIA_CLASSES.get(klass[:6])
        if kind is None:
            continue  # audio functions, USB-C controllers of consumer boards
        target = r.link_target(os.path.join(ddir, "driver"))
        out.append({
            "pci_bus_id": addr.lower(),
            "kind": kind,
            "device": r.read(os.path.join(ddir, "device"), required=False),
            "numa_node": r.read_int(os.path.join(ddir, "numa_node"), required=False),
            "driver": os.path.basename(target) if target else None,
            "current_link_speed": r.read(os.path.join(ddir, "current_link_speed"), required=False),
            "current_link_width": r.read_int(os.path.join(ddir, "current_link_width"), required=False),
            "max_link_speed": r.read(os.path.join(ddir, "max_link_speed"), required=False),
            "max_link_width": r.read_int(os.path.join(ddir, "max_link_width"), required=False),
        })
    return out


def _acs_masks(config):
    """(capability, control) masks of the PCIe ACS extended capability (ID 0x000D) in a configuration space, or
    None (no ACS, or only the first 256 bytes readable: not root). module_utils/fabric_checks names the bits."""
    if not config or len(config) <= 0x100:
        return None
    off, seen = 0x100, set()
    while off and off + 8 <= len(config) and off not in seen:
        seen.add(off)
        header = struct.unpack_from("<I", config, off)[0]
        if header in (0, 0xFFFFFFFF):
            return None
        if header & 0xFFFF == 0x000D:
            return struct.unpack_from("<HH", config, off + 4)
        off = (header >> 20) & 0xFFC
    return None


def _fabric(r, gpus, rdma):
    """The PCI bridges above the GPUs and RDMA devices with their ACS masks, the loaded kernel modules."""
    below = {}
    for bdf in [g.get("pci_bus_id") for g in gpus or [] if g.get("kind") == "gpu"]:
        for bridge in _pci_chain(r, r.sys("bus", "pci", "devices", bdf))[:-1]:
            below.setdefault(bridge, []).append(bdf)
    for dev in rdma or []:
        for bridge in (dev.get("pci_path") or [])[:-1]:
            below.setdefault(bridge, []).append(dev.get("pci_bus_id"))
    bridges = []
    for bridge, devices in sorted(below.items()):
        path = r.sys("bus", "pci", "devices", bridge, "config")
        try:
            with open(path, "rb") as handle:
                config = handle.read(4096)
        except (IOError, OSError) as exc:
            if getattr(exc, "errno", None) not in (2, 20):  # a bridge without config (a fake sysfs): no ACS data
                r.errors.append({"path": path, "error": "%s: %s" % (type(exc).__name__, exc)})
            config = None
        masks = _acs_masks(config)
        bridges.append({"pci_bus_id": bridge, "below": sorted(set(devices)),
                        "config_bytes": len(config) if config is not None else None,
                        "acs_cap": masks[0] if masks else None, "acs_ctl": masks[1] if masks else None})
    modules = module_names(r.read(r.proc("modules"), required=False))
    wanted = ("nvidia", "nv_peer", "ib_", "mlx", "rdma")
    return {"bridges": bridges, "modules": sorted(m for m in modules if m.startswith(wanted))}


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- entry points

def collect_host(sysfs_root="/sys", procfs_root="/proc"):
    """Probe the host; never raises for missing or unreadable files (see ``missing``/``errors``)."""
    started = time.monotonic()
    r = _Reader(sysfs_root, procfs_root)
    out = {"schema": SCHEMA_VERSION, "hostname": socket.gethostname(), "timestamp": _utc_now(),
           "sysfs_root": sysfs_root, "procfs_root": procfs_root}
    sections = (
        ("kernel", lambda: _kernel(r)),
        ("cpu", lambda: _cpu(r)),
        ("memory", lambda: _meminfo(r)),
        ("numa", lambda: _numa(r)),
    )
    for key, func in sections:
        try:
            out[key] = func()
        except Exception as exc:  # a probe bug must not hide the other sections
            r.errors.append({"section": key, "error": "%s: %s" % (type(exc).__name__, exc)})
            out[key] = None
    cmdline_text = r.read(r.proc("cmdline"))
    out["boot_cmdline"] = cmdline_text
    cmdline = parse_cmdline(cmdline_text)
    try:
        out["rdma"], by_netdev = _rdma(r)
    except Exception as exc:
        r.errors.append({"section": "rdma", "error": "%s: %s" % (type(exc).__name__, exc)})
        out["rdma"], by_netdev = [], {}
    for key, func in (("nics", lambda: _nics(r, by_netdev)), ("iommu", lambda: _iommu(r, cmdline)),
                      ("nvidia_driver", lambda: _nvidia_driver(r)), ("nvidia_pci", lambda: _nvidia_pci(r))):
        try:
            out[key] = func()
        except Exception as exc:
            r.errors.append({"section": key, "error": "%s: %s" % (type(exc).__name__, exc)})
            out[key] = None
    try:
        out["fabric"] = _fabric(r, out.get("nvidia_pci"), out.get("rdma"))
    except Exception as exc:
        r.errors.append({"section": "fabric", "error": "%s: %s" % (type(exc).__name__, exc)})
        out["fabric"] = None
    out["missing"] = r.missing
    out["errors"] = r.errors
    out["probe_wall_time_s"] = round(time.monotonic() - started, 6)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Print a host topology probe (%s) as JSON." % SCHEMA_VERSION)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the JSON to FILE instead of stdout")
    parser.add_argument("--sysfs-root", default="/sys")
    parser.add_argument("--procfs-root", default="/proc")
    args = parser.parse_args(argv)
    host = collect_host(args.sysfs_root, args.procfs_root)
    text = json.dumps(host, indent=2) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
        numa = host.get("numa") or {}
        sys.stderr.write("wrote %s: numa_nodes=%s nics=%d rdma=%d missing=%d errors=%d\n" % (
            args.output, numa.get("node_count"), len(host.get("nics") or []), len(host.get("rdma") or []),
            len(host["missing"]), len(host["errors"])))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
