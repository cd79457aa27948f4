# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Device IRQ discovery, NUMA-local IRQ affinity plans and applying them through /proc/irq.

Pure Python (standard library + host_probe's cpulist helpers), no Ansible imports, so the same file
serves the ``llmfleet.baremetal.irq_affinity`` module, the ``irq_plan`` filter and the boot-time
re-apply (``python3 irq_plan.py apply --config /etc/llmfleet/irq-affinity.json``, run by
``llmfleet-irq-affinity.service``).  Reference: docs/tuning-numa-irq.md.

IRQ numbers are not stable across reboots; a plan entry therefore records the device's PCI function
and the IRQ's name from /proc/interrupts (``virtio2-input.0``, ``mlx5_comp3@pci:0000:17:00.0``), and
:func:`resolve_entries` maps them back to the current numbers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import errno
import json
import os
import re
import sys

try:
    from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import (
        format_cpulist, parse_cpulist)
except ImportError:  # unit tests, the boot-time script: load the sibling by path
    import importlib.util

    def _sibling(name):
        spec = importlib.util.spec_from_file_location(
            "llmfleet_" + name, os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    _probe = _sibling("host_probe")
    format_cpulist, parse_cpulist = _probe.format_cpulist, _probe.parse_cpulist

__all__ = [
    "IrqPlanError", "SCHEMA_VERSION", "parse_interrupts", "queue_of", "read_irqs", "plan_entries",
    "plan_irq_affinity", "resolve_entries", "read_affinity", "write_affinity", "apply_plan", "verify_plan",
]

SCHEMA_VERSION = "llmfleet.irq_affinity/v1"

_PCI_ADDR_RE = re.compile(r"^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
_VIRTIO_RE = re.compile(r"^virtio\d+$")
# IRQs of a device that carry no data queue: pinned to the device's whole CPU set.
_CONTROL_RE = re.compile(r"(config|async|ctrl|control|event|link|misc|err|ctl|cmd|mbx|fw)", re.I)
_QUEUE_RES = (
    re.compile(r"(?:input|output|rx|tx|txrx|comp|queue|fp|q)[-_.]?(\d+)$", re.I),
    re.compile(r"[-_.](\d+)$"),
)


class IrqPlanError(ValueError):
    """The IRQ plan input is malformed or impossible on this host."""


# --------------------------------------------------------------------------- cpulist checks

def _host_cpus(host):
    out = set()
    host = host or {}
    for n in ((host.get("numa") or {}).get("nodes") or []):
        if isinstance(n, dict):
            try:
                out.update(n["cpus"] if isinstance(n.get("cpus"), list) else parse_cpulist(n.get("cpulist") or ""))
            except ValueError:
                pass
    online = (host.get("cpu") or {}).get("online")
    if online:
        try:
            out.update(parse_cpulist(online))
        except ValueError:
            pass
    return out


def _node_cpus(host):
    out = {}
    for n in (((host or {}).get("numa") or {}).get("nodes") or []):
        if isinstance(n, dict) and isinstance(n.get("node"), int):
            try:
                cpus = n["cpus"] if isinstance(n.get("cpus"), list) else parse_cpulist(n.get("cpulist") or "")
            except ValueError:
                cpus = []
            out[n["node"]] = set(cpus)
    return out


def checked_cpus(value, host, variable, host_name):
    """cpulist (str / int / list) -> set; PlacementError-style message naming the variable and host."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError("boolean")
        if isinstance(value, int):
            cpus = set([value])
        elif isinstance(value, (list, tuple)):
            cpus = set(int(c) for c in value)
        else:
            cpus = set(parse_cpulist(str(value)))
        if any(c < 0 for c in cpus):
            raise ValueError("negative CPU")
    except (TypeError, ValueError) as exc:
        raise IrqPlanError("%s: %s=%r is not a valid cpulist (%s); use the Linux form '0-3,8,10-11'"
                           % (host_name, variable, value, exc))
    known = _host_cpus(host)
    if known:
        outside = sorted(cpus - known)
        if outside:
            raise IrqPlanError("%s: %s=%r names CPU(s) %s that this host does not have (its CPUs: %s)"
                               % (host_name, variable, value, format_cpulist(outside), format_cpulist(known)))
    return cpus


# --------------------------------------------------------------------------- discovery

def parse_interrupts(text):
    """/proc/interrupts -> ``{irq: {'name': str, 'chip': str}}`` (numeric IRQs only)."""
    lines = (text or "").splitlines()
    if not lines:
        return {}
    ncpu = len(lines[0].split())
    out = {}
    for line in lines[1:]:
        m = re.match(r"^\s*(\d+):\s*(.*)$", line)
        if not m:
            continue
        tokens = m.group(2).split()
        rest = tokens[ncpu:] if len(tokens) > ncpu and all(t.isdigit() for t in tokens[:ncpu]) else tokens
        # rest: chip [hwirq-type] name...
        name_at = None
        for i, tok in enumerate(rest):
            if re.search(r"-(edge|level|fasteoi|simple)$", tok, re.I) or tok.lower() in ("edge", "level", "fasteoi"):
                name_at = i + 1
                break
        if name_at is None:
            name_at = len(rest) - 1 if len(rest) > 1 else 0
        out[int(m.group(1))] = {"name": " ".join(rest[name_at:]), "chip": rest[0] if rest else ""}
    return out


def queue_of(name, prefix=""):
    """Queue index of an IRQ name (``virtio2-input.3`` -> 3, ``mlx5_comp7@pci:...`` -> 7); None for control IRQs."""
    base = (name or "").split("@", 1)[0]
    if prefix and base.startswith(prefix):
        base = base[len(prefix):]
    if not base or _CONTROL_RE.search(base):
        return None
    for rx in _QUEUE_RES:
        m = rx.search(base)
        if m:
            return int(m.group(1))
    return None


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except (IOError, OSError):
        return None


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _pci_function(dev_real):
    """(PCI function dir, virtio prefix or '') for a device's resolved sysfs path."""
    base = os.path.basename(dev_real)
    if _VIRTIO_RE.match(base):
        return os.path.dirname(dev_real), base + "-"
    return dev_real, ""


def _device_irqs(fn_dir, prefix, pci, interrupts):
    msi = _listdir(os.path.join(fn_dir, "msi_irqs"))
    if msi:
        irqs = [int(i) for i in msi if i.isdigit()]
    else:  # legacy INTx / no msi_irqs: match by name or PCI address in /proc/interrupts
        irqs = [i for i, v in interrupts.items()
                if (prefix and v["name"].startswith(prefix)) or (pci and (pci in v["name"] or pci in v["chip"]))]
    if prefix:
        irqs = [i for i in irqs if interrupts.get(i, {}).get("name", "").startswith(prefix)]
    return sorted(irqs)


def _norm_pci(bus_id):
    """NVML's ``00000000:17:00.0`` -> sysfs ``0000:17:00.0``."""
    text = str(bus_id or "").lower()
    m = re.match(r"^0*([0-9a-f]{1,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$", text)
    if not m:
        return None
    return "%04x:%s:%s.%s" % (int(m.group(1), 16), m.group(2), m.group(3), m.group(4))


def read_irqs(procfs_root="/proc", sysfs_root="/sys", devices=None, gpu_pci_bus_ids=None):
    """IRQs of network / RDMA devices (and GPUs) with their NUMA node and queue index.

    ``devices``: netdev or RDMA device names; None or [] = every netdev with a ``device`` link (physical)
    and every RDMA device.  A netdev and an RDMA device on the same PCI function (mlx5) are listed once.
    Virtio NICs (``device`` -> ``virtioN``) use the IRQs named ``virtioN-*`` of the parent PCI function.

    Returns ``{irqs: [{irq, name, device, pci, numa_node, queue}], devices: [{device, kind, pci, numa_node,
    irq_count}], missing: [names asked for but not found]}``.
    """
    interrupts = parse_interrupts(_read(os.path.join(procfs_root, "interrupts")))
    wanted = list(devices or [])
    cands = []
    net = os.path.join(sysfs_root, "class", "net")
    for name in _listdir(net) or []:
        link = os.path.join(net, name, "device")
        if os.path.exists(link) and (not wanted or name in wanted):
            cands.append((name, "net", link))
    ib = os.path.join(sysfs_root, "class", "infiniband")
    for name in _listdir(ib) or []:
        link = os.path.join(ib, name, "device")
        if os.path.exists(link) and (not wanted or name in wanted):
            cands.append((name, "rdma", link))
    for bus in gpu_pci_bus_ids or []:
        pci = _norm_pci(bus)
        link = os.path.join(sysfs_root, "bus", "pci", "devices", pci) if pci else None
        if link and os.path.exists(link):
            cands.append(("gpu-" + pci, "gpu", link))
    found = set(c[0] for c in cands)
    missing = [d for d in wanted if d not in found]

    seen = {}
    dev_out = []
    irq_out = []
    for name, kind, link in cands:
        real = os.path.realpath(link)
        fn_dir, prefix = _pci_function(real)
        key = (fn_dir, prefix)
        if key in seen:
            seen[key]["aliases"].append(name)
            continue
        pci = os.path.basename(fn_dir) if _PCI_ADDR_RE.match(os.path.basename(fn_dir)) else None
        numa = _int(_read(os.path.join(real, "numa_node")))
        if numa is None:
            numa = _int(_read(os.path.join(fn_dir, "numa_node")))
        irqs = _device_irqs(fn_dir, prefix, pci, interrupts)
        entry = {"device": name, "kind": kind, "pci": pci, "numa_node": numa, "irq_count": len(irqs), "aliases": []}
        seen[key] = entry
        dev_out.append(entry)
        for irq in irqs:
            iname = interrupts.get(irq, {}).get("name", "")
            irq_out.append({"irq": irq, "name": iname, "device": name, "pci": pci, "numa_node": numa,
                            "queue": queue_of(iname, prefix)})
    return {"irqs": irq_out, "devices": dev_out, "missing": missing}


# --------------------------------------------------------------------------- planning

def plan_entries(irqs, host, allowed_cpus=None, reserved="", host_name=None,
                 allowed_var="irq_affinity_cpus", reserved_var="irq_affinity_reserved_cpus"):
    """Plan entries ``[{irq, name, device, pci, numa_node, queue, cpus, numa_local}]``.

    Each device's CPU set is its NUMA node's CPUs (all CPUs when the node is unknown), intersected with
    ``allowed_cpus`` when given, minus ``reserved``.  Queue IRQs get one CPU each, round-robin over that set
    (queue q of a device -> the set's (offset + q)-th CPU; devices on the same node continue the rotation,
    so two NICs do not both start on the first CPU).  Control IRQs (config, async, ...) get the whole set.
    When ``allowed_cpus`` has no CPU on the device's node, the device uses ``allowed_cpus`` (``numa_local``
    false).
    """
    name = host_name or (host or {}).get("hostname") or "unknown host"
    allowed = checked_cpus(allowed_cpus, host, allowed_var, name)
    res = checked_cpus(reserved, host, reserved_var, name) or set()
    all_cpus = _host_cpus(host)
    nodes = _node_cpus(host)
    if not all_cpus:
        raise IrqPlanError("%s: the host probe shows no CPU; run llmfleet.baremetal.host_facts first" % name)
    if not isinstance(irqs, (list, tuple)):
        raise IrqPlanError("%s: the IRQ list must be a list of {irq, device, numa_node, queue}, got %r"
                           % (name, type(irqs).__name__))
    offsets = {}
    out = []
    by_dev = {}
    order = []
    for item in irqs:
        if not isinstance(item, dict) or _int(item.get("irq")) is None:
            raise IrqPlanError("%s: IRQ entry %r lacks an integer irq" % (name, item))
        dev = item.get("device")
        if dev not in by_dev:
            by_dev[dev] = []
            order.append(dev)
        by_dev[dev].append(item)
    for dev in order:
        items = by_dev[dev]
        node = _int(items[0].get("numa_node"))
        local = set(nodes[node]) if node is not None and node >= 0 and node in nodes else set(all_cpus)
        numa_local = node is not None and node >= 0 and node in nodes
        cpus = local & allowed if allowed is not None else local
        if allowed is not None and not cpus:
            cpus, numa_local = set(allowed), False
        cpus -= res
        if not cpus:
            raise IrqPlanError("%s: device %s (NUMA node %s) has no CPU left for its IRQs: %s=%r, %s=%r"
                               % (name, dev, node, allowed_var, allowed_cpus or "", reserved_var, reserved or ""))
        ordered = sorted(cpus)
        okey = format_cpulist(ordered)
        base = offsets.get(okey, 0)
        queues = sorted(set(_int(i.get("queue")) for i in items if _int(i.get("queue")) is not None))
        slot = dict((q, n) for n, q in enumerate(queues))
        for item in sorted(items, key=lambda i: _int(i.get("irq"))):
            q = _int(item.get("queue"))
            target = [ordered[(base + slot[q]) % len(ordered)]] if q is not None else ordered
            out.append({"irq": _int(item["irq"]), "name": item.get("name"), "device": dev, "pci": item.get("pci"),
                        "numa_node": node, "queue": q, "cpus": format_cpulist(target), "numa_local": numa_local})
        offsets[okey] = (base + len(queues)) % len(ordered)
    return sorted(out, key=lambda e: e["irq"])


def plan_irq_affinity(irqs, host, allowed_cpus=None, reserved="", host_name=None,
                      allowed_var="irq_affinity_cpus", reserved_var="irq_affinity_reserved_cpus"):
    """``{irq (str): cpulist}`` (see :func:`plan_entries`)."""
    entries = plan_entries(irqs, host, allowed_cpus, reserved, host_name, allowed_var, reserved_var)
    return dict((str(e["irq"]), e["cpus"]) for e in entries)


# --------------------------------------------------------------------------- applying

def resolve_entries(entries, procfs_root="/proc", sysfs_root="/sys"):
    """Map plan entries to the IRQ numbers of this boot.

    An entry with ``name`` (and ``pci``) is matched by name among the PCI function's IRQs (every match gets
    the entry's CPUs); an entry with only ``irq`` is taken as is.  Returns ``(resolved, unresolved)`` where
    resolved is ``[{irq, name, cpus, ...}]``.
    """
    interrupts = parse_interrupts(_read(os.path.join(procfs_root, "interrupts")))
    resolved, unresolved = [], []
    for e in entries or []:
        iname = e.get("name")
        if iname:
            pool = None
            if e.get("pci"):
                msi = _listdir(os.path.join(sysfs_root, "bus", "pci", "devices", e["pci"], "msi_irqs"))
                pool = set(int(i) for i in msi if i.isdigit()) if msi else None
            hits = sorted(i for i, v in interrupts.items() if v["name"] == iname and (pool is None or i in pool))
            if not hits:
                unresolved.append(dict(e))
            for irq in hits:
                r = dict(e)
                r["irq"] = irq
                resolved.append(r)
        elif _int(e.get("irq")) is not None:
            r = dict(e)
            r["irq"] = _int(e["irq"])
            resolved.append(r)
        else:
            unresolved.append(dict(e))
    return resolved, unresolved


def read_affinity(procfs_root, irq):
    """Current smp_affinity_list of an IRQ as a normalised cpulist, or None when unreadable."""
    text = _read(os.path.join(procfs_root, "irq", str(irq), "smp_affinity_list"))
    if text is None:
        return None
    try:
        return format_cpulist(parse_cpulist(text))
    except ValueError:
        return None


def write_affinity(procfs_root, irq, cpus):
    """Write smp_affinity_list; returns None on success or the reason the kernel refused it."""
    path = os.path.join(procfs_root, "irq", str(irq), "smp_affinity_list")
    try:
        with open(path, "w") as handle:
            handle.write(cpus + "\n")
    except (IOError, OSError) as exc:
        code = getattr(exc, "errno", None)
        if code == errno.EIO:
            return "kernel-managed IRQ (EIO): its affinity is set by the driver and cannot be changed"
        if code in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "read-only %s (container or missing privileges): %s" % (os.path.dirname(path), exc)
        if code == errno.ENOENT:
            return "IRQ %s does not exist (device gone?)" % irq
        return "%s: %s" % (type(exc).__name__, exc)
    return None


def irq_writable(procfs_root="/proc"):
    """Whether /proc/irq can be written here (false in containers: read-only bind mount)."""
    path = os.path.join(procfs_root, "irq")
    if not os.path.isdir(path):
        return False
    try:
        if os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1):
            return False
    except OSError:
        return False
    return os.access(path, os.W_OK)


def apply_plan(entries, procfs_root="/proc", check=False):
    """Pin resolved entries where the current affinity differs.

    Returns ``{changed: [irq], before: {irq: cpulist}, after: {irq: cpulist}, unmanageable: [{irq, name, reason}]}``.
    In check mode nothing is written; ``after`` is the planned value of the IRQs that would change.
    """
    result = {"changed": [], "before": {}, "after": {}, "unmanageable": []}
    for e in entries:
        irq = str(e["irq"])
        want = format_cpulist(parse_cpulist(e["cpus"]))
        have = read_affinity(procfs_root, irq)
        result["before"][irq] = have
        if have == want:
            result["after"][irq] = have
            continue
        if have is None:
            result["unmanageable"].append({"irq": e["irq"], "name": e.get("name"),
                                           "reason": "no readable /proc/irq/%s/smp_affinity_list" % irq})
            result["after"][irq] = have
            continue
        if check:
            result["changed"].append(e["irq"])
            result["after"][irq] = want
            continue
        reason = write_affinity(procfs_root, irq, want)
        now = read_affinity(procfs_root, irq)
        result["after"][irq] = now
        if reason is None and now != want:
            reason = "kernel kept %s after writing %s" % (now, want)
        if reason is not None:
            result["unmanageable"].append({"irq": e["irq"], "name": e.get("name"), "reason": reason})
        if now != have:
            result["changed"].append(e["irq"])
    return result


def verify_plan(entries, procfs_root="/proc"):
    """Entries whose current affinity is not within the planned set: ``[{irq, name, planned, current}]``."""
    bad = []
    for e in entries:
        want = set(parse_cpulist(e["cpus"]))
        have_text = read_affinity(procfs_root, e["irq"])
        have = set(parse_cpulist(have_text)) if have_text is not None else None
        if have is None or not have or not have <= want:
            bad.append({"irq": e["irq"], "name": e.get("name"), "device": e.get("device"), "planned": e["cpus"],
                        "current": have_text})
    return bad


def irqbalance_env(config):
    """Content of the irqbalance environment override for a plan document (``--banirq`` per pinned IRQ)."""
    args = list(config.get("irqbalance_args") or [])
    args += ["--banirq=%d" % i for i in sorted(set(config.get("banirq") or []))]
    return 'IRQBALANCE_ARGS="%s"\n' % " ".join(args)


# --------------------------------------------------------------------------- boot-time entry point

def main(argv=None):
    parser = argparse.ArgumentParser(description="Apply a llmfleet IRQ affinity plan (%s)." % SCHEMA_VERSION)
    parser.add_argument("command", choices=("apply", "verify", "show"))
    parser.add_argument("--config", default="/etc/llmfleet/irq-affinity.json")
    parser.add_argument("--procfs-root", default="/proc")
    parser.add_argument("--sysfs-root", default="/sys")
    parser.add_argument("--irqbalance-env", default=None,
                        help="write IRQBALANCE_ARGS with --banirq for the IRQs resolved this boot to this file")
    args = parser.parse_args(argv)
    try:
        with open(args.config) as handle:
            config = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        sys.stderr.write("llmfleet-irq-affinity: cannot read %s: %s\n" % (args.config, exc))
        return 1
    resolved, unresolved = resolve_entries(config.get("entries") or [], args.procfs_root, args.sysfs_root)
    for e in unresolved:
        sys.stderr.write("llmfleet-irq-affinity: IRQ %s of %s not present this boot; skipped\n"
                         % (e.get("name") or e.get("irq"), e.get("device")))
    if args.command == "show":
        sys.stdout.write(json.dumps({"resolved": resolved, "unresolved": unresolved}, indent=2) + "\n")
        return 0
    if args.command == "verify":
        bad = verify_plan(resolved, args.procfs_root)
        for b in bad:
            sys.stdout.write("IRQ %s (%s): current %s not within planned %s\n"
                             % (b["irq"], b["name"], b["current"], b["planned"]))
        return 1 if bad else 0
    if not irq_writable(args.procfs_root):
        sys.stdout.write("llmfleet-irq-affinity: %s/irq is read-only here (container?): nothing applied\n"
                         % args.procfs_root)
        return 0
    result = apply_plan(resolved, args.procfs_root)
    for u in result["unmanageable"]:
        sys.stdout.write("IRQ %s (%s): %s\n" % (u["irq"], u["name"], u["reason"]))
    sys.stdout.write("llmfleet-irq-affinity: %d IRQ(s) planned, %d changed, %d unmanageable, %d absent\n"
                     % (len(resolved), len(result["changed"]), len(result["unmanageable"]), len(unresolved)))
    if args.irqbalance_env:
        doc = {"irqbalance_args": config.get("irqbalance_args") or [],
               "banirq": [e["irq"] for e in resolved] if config.get("irqbalance_banirq", True) else []}
        directory = os.path.dirname(args.irqbalance_env)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory)
        with open(args.irqbalance_env, "w") as handle:
            handle.write(irqbalance_env(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
