# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ceph cluster planning and checks, pure Python (docs/ceph.md).

* ``plan_cluster``: networks (netaddr), monitor addresses inside the public network, the msgr2 + v1 address
  vector of each monitor (``mon_host`` and ``monmaptool --addv`` arguments), OSD host count against the pool size
  (failure domain host) and the pool size policy: size 1 only in a lab (``lab=True``) and never silently.
* ``device_state``: what an OSD data device holds (empty / this cluster's OSD / anything else) from ``blkid -p``
  and ``ceph-bluestore-tool show-label``.
* ``health_report``: the health gate over ``ceph status -f json``: the health checks that are not allowed and
  the placement-group states.

Every function collects all problems before raising, so that one run lists everything that is wrong.
netaddr is imported lazily (the controller venv has it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

__all__ = ["CephPlanError", "plan_cluster", "device_state", "health_report", "MSGR2_PORT", "MSGR1_PORT"]

MSGR2_PORT = 3300
MSGR1_PORT = 6789


class CephPlanError(ValueError):
    """The plan cannot be made; the message lists every problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(CephPlanError, self).__init__("; ".join(self.problems))


def _netaddr():
    try:
        import netaddr  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - netaddr is in the controller venv
        raise CephPlanError(["the Ceph planner needs the python library netaddr on the controller"])
    return netaddr


def _as_list(value):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value]


def _networks(value, var, problems):
    netaddr = _netaddr()
    nets = []
    for cidr in _as_list(value):
        if "/" not in cidr:
            problems.append("%s: %r is not a CIDR (write it as network/prefix, e.g. 10.20.0.0/24)" % (var, cidr))
            continue
        try:
            net = netaddr.IPNetwork(cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            problems.append("%s: %r is not a valid CIDR" % (var, cidr))
            continue
        if net.ip != net.network:
            problems.append("%s: %s has host bits set (the network is %s)" % (var, cidr, net.cidr))
            continue
        nets.append(net)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            if a in b or b in a:
                problems.append("%s: %s and %s overlap" % (var, a, b))
    return nets


def _addrvec(ip, netaddr):
    host = "[%s]" % ip if netaddr.IPAddress(ip).version == 6 else str(ip)
    return "[v2:%s:%d,v1:%s:%d]" % (host, MSGR2_PORT, host, MSGR1_PORT)


def plan_cluster(mons, public_network, cluster_network=None, osd_hosts=None, pool_size=3, pool_min_size=2, lab=False,
                 failure_domain="host"):
    """Validate the cluster layout and return what the role templates need.

    mons: list of ``{name, addr}``; osd_hosts: names of the hosts that carry OSDs.
    Returns ``{public_network, cluster_network, mons: [{name, addr, addrvec}], mon_host, mon_initial_members,
    monmap_args, pool_size, pool_min_size, warnings}``.
    """
    netaddr = _netaddr()
    problems, warnings = [], []
    public = _networks(public_network, "ceph_public_network", problems)
    if not _as_list(public_network):
        problems.append("ceph_public_network is empty: set the network the monitors and clients use (a CIDR)")
    cluster = _networks(cluster_network, "ceph_cluster_network", problems) if _as_list(cluster_network) else public
    mons = list(mons or [])
    if not mons:
        problems.append("no monitor hosts: the ceph_mons group (ceph_mon_group) is empty")
    out_mons, seen_addr, seen_name = [], {}, set()
    for mon in mons:
        name, addr = mon.get("name"), mon.get("addr")
        if not name:
            problems.append("a monitor without a name: %r" % (mon,))
            continue
        if name in seen_name:
            problems.append("monitor %s is listed twice" % name)
        seen_name.add(name)
        try:
            ip = netaddr.IPAddress(str(addr))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            problems.append("monitor %s: address %r is not an IP address (set ceph_mon_address or ansible_host)"
                            % (name, addr))
            continue
        if public and not any(ip in net for net in public):
            problems.append("monitor %s: address %s is outside ceph_public_network %s (wrong CIDR, or the wrong "
                            "interface address in ceph_mon_address)" % (name, ip, ",".join(str(n) for n in public)))
        if str(ip) in seen_addr:
            problems.append("monitors %s and %s share the address %s" % (seen_addr[str(ip)], name, ip))
        seen_addr[str(ip)] = name
        out_mons.append({"name": name, "addr": str(ip), "addrvec": _addrvec(ip, netaddr)})
    if len(mons) % 2 == 0 and mons:
        warnings.append("%d monitors: an even count tolerates no more failures than %d; use an odd count"
                        % (len(mons), len(mons) - 1))

    osd_hosts = sorted(set(osd_hosts or []))
    size, min_size = _int(pool_size, "ceph_pool_size", problems), _int(pool_min_size, "ceph_pool_min_size", problems)
    if size is not None and min_size is not None:
        if size < 1:
            problems.append("ceph_pool_size=%d: a pool keeps at least one copy" % size)
        elif size == 1:
            if not lab:
                problems.append("ceph_pool_size=1 keeps a single copy of every object: refused outside a lab "
                                "(llmfleet_lab is false); use 3 (or 2 with care)")
            else:
                warnings.append("LAB ONLY: ceph_pool_size=1, every object has ONE copy; losing one OSD loses data "
                                "(POOL_NO_REDUNDANCY is expected)")
        elif size == 2:
            warnings.append("ceph_pool_size=2: one failure leaves a single copy; 3 is the safe default")
        if not 1 <= min_size <= max(size, 1):
            problems.append("ceph_pool_min_size=%d must be between 1 and ceph_pool_size=%d" % (min_size, size))
        elif size > 1 and min_size == 1:
            warnings.append("ceph_pool_min_size=1 accepts writes with a single copy left")
        if failure_domain == "host" and size > len(osd_hosts):
            problems.append("too few OSD hosts for the pool size: ceph_pool_size=%d with failure domain host needs "
                            "at least %d hosts with OSDs, the inventory has %d (%s)"
                            % (size, size, len(osd_hosts), ", ".join(osd_hosts) or "none"))
    if problems:
        raise CephPlanError(problems)
    return {
        "public_network": ",".join(str(n) for n in public),
        "cluster_network": ",".join(str(n) for n in cluster),
        "mons": out_mons,
        "mon_host": ",".join(m["addrvec"] for m in out_mons),
        "mon_initial_members": ",".join(m["name"] for m in out_mons),
        "monmap_args": [a for m in out_mons for a in ("--addv", m["name"], m["addrvec"])],
        "pool_size": size,
        "pool_min_size": min_size,
        "osd_hosts": osd_hosts,
        "warnings": warnings,
    }


def _int(value, var, problems):
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append("%s=%r is not an integer" % (var, value))
        return None


def _parse_blkid(text):
    """``blkid -p -o export`` output as a dict."""
    out = {}
    for line in (text or "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def device_state(device, fsid, blkid_export="", label_json="", has_partitions=False, nonzero_head=False):
    """Classify an OSD data device.

    Returns ``{device, state, osd_uuid, ceph_fsid, why}`` where state is ``empty`` (no signature: may be used),
    ``ours`` (a BlueStore label of this cluster: already an OSD), or ``foreign`` (anything else: a filesystem,
    a partition table, LVM, another cluster's OSD or unrecognised data). ``foreign`` devices are only touched
    with ``ceph_osd_zap: true``.
    """
    label = {}
    if label_json:
        try:
            parsed = json.loads(label_json)
            label = parsed.get(device) or (list(parsed.values())[0] if len(parsed) == 1 else {})
        except (ValueError, AttributeError):
            label = {}
    blk = _parse_blkid(blkid_export)
    res = {"device": device, "state": "empty", "osd_uuid": label.get("osd_uuid"),
           "ceph_fsid": label.get("ceph_fsid"), "why": "no signature"}
    if label.get("ceph_fsid"):
        if label["ceph_fsid"] == fsid:
            res.update(state="ours", why="BlueStore OSD %s of this cluster" % label.get("osd_uuid"))
        else:
            res.update(state="foreign", why="BlueStore OSD of another cluster (fsid %s)" % label["ceph_fsid"])
        return res
    if blk.get("TYPE") or blk.get("PTTYPE"):
        what = blk.get("TYPE") or ("%s partition table" % blk.get("PTTYPE"))
        res.update(state="foreign", why="holds %s%s" % (what, (" (label %s)" % blk["LABEL"]) if blk.get("LABEL") else ""))
    elif has_partitions:
        res.update(state="foreign", why="has partitions")
    elif nonzero_head:
        res.update(state="foreign", why="unrecognised data in its first MiB")
    return res


def health_report(status, allow=None):
    """The health gate over ``ceph status -f json`` (a dict or its text).

    Returns ``{status, ok, checks, blocking, allowed, pgs_total, pgs_by_state, all_active_clean, osds}``; ``ok`` is
    true when the status is HEALTH_OK, or HEALTH_WARN with every check in ``allow`` (never HEALTH_ERR), and every
    PG is active+clean.
    """
    if isinstance(status, str):
        status = json.loads(status)
    allow = set(allow or [])
    health = status.get("health") or {}
    checks = health.get("checks") or {}
    summary = {code: (c.get("summary") or {}).get("message", "") for code, c in checks.items()}
    blocking = sorted(c for c in summary if c not in allow)
    pgmap = status.get("pgmap") or {}
    by_state = {s.get("state_name"): int(s.get("count", 0)) for s in pgmap.get("pgs_by_state") or []}
    total = int(pgmap.get("num_pgs", sum(by_state.values())))
    clean = by_state.get("active+clean", 0) == total
    osdmap = status.get("osdmap") or {}
    osdmap = osdmap.get("osdmap", osdmap)  # pacific nests it once more
    overall = health.get("status", "UNKNOWN")
    ok = clean and (overall == "HEALTH_OK" or (overall == "HEALTH_WARN" and not blocking))
    return {
        "status": overall, "ok": ok, "checks": summary, "blocking": blocking,
        "allowed": sorted(c for c in summary if c in allow), "pgs_total": total, "pgs_by_state": by_state,
        "all_active_clean": clean,
        "osds": {"total": int(osdmap.get("num_osds", 0)), "up": int(osdmap.get("num_up_osds", 0)),
                 "in": int(osdmap.get("num_in_osds", 0))},
    }
