# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate the HA gateway plan (cluster links, DRBD replication, fencing) before anything is touched.

Pure Python plus netaddr, no Ansible imports.  ``check_plan(plan)`` returns
``{"violations": [...], "warnings": [...], "stonith_enabled": bool, "lab": bool}``; every violation is one
string that names the host (or ``cluster``) and the inventory variable to fix.  docs/ha.md explains the rules.

Plan shape (built by the roles from their variables)::

    {"cluster_name": "llmfleet-gw", "lab": False,
     "nodes": [{"name": "gw-a01", "link_addresses": ["10.20.2.11", "10.20.12.11"], "drbd_address": "10.20.12.11"}],
     "links": [{"cidr": "10.20.2.0/24"}, {"cidr": "10.20.12.0/24"}],
     "fence_devices": [{"name": "fence-gw-a01", "agent": "fence_ipmilan", "node": "gw-a01", "params": {...}}],
     "fence_agents_allowed": ["fence_ipmilan", "fence_redfish", ...],
     "lab_fence_agents": ["fence_llmfleet_ssh"],
     "quorum_device": None or {"host": "qnetd.example"},
     "drbd": {"replication_cidr": "10.20.12.0/24", "port": 7789, "protocol": "C", "version": "8.4",
              "fencing": "resource-and-stonith", "quorum": "off", "backing_device": "/dev/disk/by-id/..."},
     "vip": {"address": "10.20.2.100", "cidr": "10.20.2.0/24"},
     # with fence_devices (the ha_cluster role): DRBD's fencing against STONITH, and the fence-race delays
     "drbd_fencing": "resource-and-stonith", "priority_fencing_delay_s": 15, "fence_delay_max_s": 5}
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # reported as a violation, not an import error
    netaddr = None
    HAS_NETADDR = False

PRODUCTION_FENCE_AGENTS = (
    "fence_ipmilan", "fence_redfish", "fence_idrac", "fence_ilo3", "fence_ilo4", "fence_ilo5",
    "fence_ilo_ssh", "fence_imm", "fence_xvm", "fence_sbd",
)
LAB_FENCE_AGENTS = ("fence_llmfleet_ssh",)
DRBD_VERSIONS = ("8.4", "9")
DRBD_FENCING = ("resource-only", "resource-and-stonith", "dont-care")
DRBD_QUORUM = ("off", "majority")


def _net(cidr):
    try:
        net = netaddr.IPNetwork(str(cidr))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    if net.prefixlen == net.network.netmask_bits() and net.size == 1:
        return None  # a host address is not a network
    if str(net.cidr) != str(net):
        return None  # host bits set: 10.1.0.5/24 is an address, not a network
    return net


def _ip(addr):
    try:
        return netaddr.IPAddress(str(addr))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _bool(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def check_plan(plan):
    """Every violation of ``plan`` (see the module docstring), warnings, and whether STONITH stays enabled."""
    violations = []
    warnings = []
    lab = _bool(plan.get("lab", False))
    if not HAS_NETADDR:
        return {"violations": ["controller: the python library netaddr is required (pip install netaddr)"],
                "warnings": [], "stonith_enabled": True, "lab": lab}

    nodes = list(plan.get("nodes") or [])
    check_links = "links" in plan
    check_fencing = "fence_devices" in plan
    links = [lk if isinstance(lk, dict) else {"cidr": lk} for lk in (plan.get("links") or [])]
    drbd = dict(plan.get("drbd") or {})
    qdevice = plan.get("quorum_device") or None

    if "nodes" in plan and len(nodes) < 2:
        violations.append("cluster: an HA pair needs 2 nodes in the cluster group, found %d (%s)"
                          % (len(nodes), ", ".join(n.get("name", "?") for n in nodes) or "none"))
    if len(nodes) > 2 and not qdevice:
        violations.append("cluster: %d nodes; the DRBD gateway pair is exactly 2 nodes" % len(nodes))

    # --- corosync knet links -------------------------------------------------------------------
    link_nets = []
    if check_links and not 1 <= len(links) <= 8:
        violations.append("cluster: ha_cluster_links must list 1 to 8 networks (knet links), found %d" % len(links))
    for i, link in enumerate(links):
        net = _net(link.get("cidr"))
        if net is None:
            violations.append("cluster: ha_cluster_links[%d].cidr=%r is not a network in CIDR form" % (i, link.get("cidr")))
        link_nets.append(net)
    for i, a in enumerate(link_nets):
        for j in range(i + 1, len(link_nets)):
            b = link_nets[j]
            if a is not None and b is not None and (a in b or b in a):
                violations.append("cluster: ha_cluster_links[%d] and [%d] overlap (%s, %s): two knet links "
                                  "must be two networks" % (i, j, a, b))
    if check_links and len(links) == 1:
        warnings.append("cluster: one knet link only; a second network (ha_cluster_links) removes the single point of failure")

    seen = {}
    for node in nodes:
        name = node.get("name", "?")
        addrs = list(node.get("link_addresses") or [])
        if check_links and len(addrs) != len(links):
            violations.append("%s: ha_cluster_link_addresses has %d addresses for %d links (one per link, same order)"
                              % (name, len(addrs), len(links)))
        for i, addr in enumerate(addrs):
            ip = _ip(addr)
            if ip is None:
                violations.append("%s: ha_cluster_link_addresses[%d]=%r is not an IP address" % (name, i, addr))
                continue
            if i < len(link_nets) and link_nets[i] is not None and ip not in link_nets[i]:
                violations.append("%s: ha_cluster_link_addresses[%d]=%s is outside link %d (%s)" % (name, i, ip, i, link_nets[i]))
            if str(ip) in seen:
                violations.append("%s: address %s is also used by %s" % (name, ip, seen[str(ip)]))
            seen[str(ip)] = name

    # --- quorum --------------------------------------------------------------------------------
    if qdevice and not qdevice.get("host"):
        violations.append("cluster: ha_cluster_quorum_device needs a host (corosync-qnetd)")

    # --- DRBD ----------------------------------------------------------------------------------
    if drbd:
        version = str(drbd.get("version", "8.4"))
        if version not in DRBD_VERSIONS:
            violations.append("cluster: drbd_version=%s must be one of %s" % (version, ", ".join(DRBD_VERSIONS)))
        if str(drbd.get("protocol", "C")).upper() != "C":
            violations.append("cluster: drbd_protocol=%s: the gateway's state needs synchronous replication (protocol C)"
                              % drbd.get("protocol"))
        fencing = str(drbd.get("fencing", "resource-and-stonith"))
        quorum = str(drbd.get("quorum", "off"))
        if fencing not in DRBD_FENCING:
            violations.append("cluster: drbd_fencing=%s must be one of %s" % (fencing, ", ".join(DRBD_FENCING)))
        if quorum not in DRBD_QUORUM:
            violations.append("cluster: drbd_quorum=%s must be off or majority" % quorum)
        if quorum != "off" and fencing != "dont-care":
            violations.append("cluster: drbd_fencing=%s and drbd_quorum=%s: use DRBD fencing (resource-and-stonith + "
                              "fence-peer handler) or DRBD quorum, never both" % (fencing, quorum))
        if quorum == "off" and fencing == "dont-care":
            violations.append("cluster: drbd_fencing=dont-care without drbd_quorum: nothing prevents a split brain; "
                              "set drbd_fencing=resource-and-stonith (default) or drbd_quorum=majority (DRBD 9)")
        if quorum != "off" and version != "9":
            violations.append("cluster: drbd_quorum=%s needs DRBD 9 (drbd_version=9); DRBD 8.4 has no quorum" % quorum)
        if quorum != "off" and len(nodes) < 3:
            violations.append("cluster: drbd_quorum=%s needs a third (diskless tiebreaker) node; 2 nodes: use fencing"
                              % quorum)
        port = drbd.get("port", 7789)
        try:
            port_ok = 1024 <= int(port) <= 65535
        except (TypeError, ValueError):
            port_ok = False
        if not port_ok:
            violations.append("cluster: drbd_port=%r must be a TCP port 1024-65535" % (port,))
        if not drbd.get("backing_device"):
            violations.append("cluster: drbd_backing_device is empty (the block device under /dev/drbdN)")
        rnet = _net(drbd.get("replication_cidr"))
        if rnet is None:
            violations.append("cluster: drbd_replication_cidr=%r is not a network in CIDR form" % (drbd.get("replication_cidr"),))
        for node in nodes:
            name = node.get("name", "?")
            ip = _ip(node.get("drbd_address"))
            if ip is None:
                violations.append("%s: drbd_address=%r is not an IP address" % (name, node.get("drbd_address")))
            elif rnet is not None and ip not in rnet:
                violations.append("%s: drbd_address=%s is outside drbd_replication_cidr %s" % (name, ip, rnet))

    # --- VIP -----------------------------------------------------------------------------------
    vip = plan.get("vip") or {}
    if vip:
        vnet = _net(vip.get("cidr"))
        vip_ip = _ip(vip.get("address"))
        if vip_ip is None:
            violations.append("cluster: gateway_vip=%r is not an IP address" % (vip.get("address"),))
        elif vnet is None:
            violations.append("cluster: gateway_vip_cidr=%r is not a network in CIDR form" % (vip.get("cidr"),))
        elif vip_ip not in vnet:
            violations.append("cluster: gateway_vip=%s is outside gateway_vip_cidr %s" % (vip_ip, vnet))
        elif str(vip_ip) in seen:
            violations.append("cluster: gateway_vip=%s is a node address of %s" % (vip_ip, seen[str(vip_ip)]))

    # --- fencing (STONITH) ---------------------------------------------------------------------
    if not check_fencing:
        return {"violations": violations, "warnings": warnings, "stonith_enabled": True, "lab": lab}
    allowed = list(plan.get("fence_agents_allowed") or PRODUCTION_FENCE_AGENTS)
    lab_agents = list(plan.get("lab_fence_agents") or LAB_FENCE_AGENTS)
    devices = list(plan.get("fence_devices") or [])
    names = [n.get("name") for n in nodes]
    fenced = set()
    for i, dev in enumerate(devices):
        agent = dev.get("agent")
        label = "ha_cluster_fence_devices[%d] (%s)" % (i, dev.get("name", "unnamed"))
        if not dev.get("name"):
            violations.append("cluster: %s has no name" % label)
        if agent in lab_agents:
            if not lab:
                violations.append("cluster: %s: agent %s is a lab-only fence agent; production needs one of %s"
                                  % (label, agent, ", ".join(allowed)))
        elif agent not in allowed:
            violations.append("cluster: %s: fence agent %r is not allowed; use one of %s"
                              % (label, agent, ", ".join(allowed)))
        targets = dev.get("nodes") or ([dev["node"]] if dev.get("node") else [])
        if not targets:
            violations.append("cluster: %s names no node (node: or nodes:) it fences" % label)
        for t in targets:
            if t not in names:
                violations.append("cluster: %s fences %s, which is not a cluster node (%s)" % (label, t, ", ".join(names)))
            fenced.add(t)
    if devices:
        for name in names:
            if name not in fenced:
                violations.append("%s: no fence device in ha_cluster_fence_devices fences this node" % name)
        stonith = True
    elif lab:
        stonith = False
        warnings.append("cluster: STONITH DISABLED: llmfleet_lab is true and ha_cluster_fence_devices is empty. "
                        "A lab may do this; a production inventory is refused without fence devices.")
    else:
        stonith = True
        for name in names:
            violations.append("%s: no fence device: production inventories (llmfleet_lab is not true) need "
                              "ha_cluster_fence_devices with an agent from %s fencing every node; STONITH is never "
                              "disabled outside a lab" % (name, ", ".join(allowed)))
    # --- DRBD fencing against STONITH, the fence race of two nodes ------------------------------------
    drbd_fencing = plan.get("drbd_fencing")
    if drbd_fencing == "resource-and-stonith" and not stonith:
        violations.append("cluster: drbd_fencing=resource-and-stonith needs STONITH (a Primary that loses its peer "
                          "freezes until the peer is fenced) and ha_cluster_fence_devices is empty: add fence devices, "
                          "or set drbd_fencing=resource-only in this lab")
    if drbd_fencing == "resource-only" and not lab:
        violations.append("cluster: drbd_fencing=resource-only: a Primary that loses its peer goes on writing before "
                          "the peer is fenced, and a split brain follows; production needs "
                          "drbd_fencing=resource-and-stonith (the default)")
    try:
        delay = int(plan.get("priority_fencing_delay_s") or 0)
        jitter = int(plan.get("fence_delay_max_s") or 0)
    except (TypeError, ValueError):
        delay, jitter = -1, 0
    if delay < 0 or jitter < 0:
        violations.append("cluster: ha_cluster_priority_fencing_delay_s=%r and ha_cluster_fence_delay_max_s=%r must be "
                          "whole seconds >= 0" % (plan.get("priority_fencing_delay_s"), plan.get("fence_delay_max_s")))
    elif delay and delay < 2 * jitter:
        violations.append("cluster: ha_cluster_priority_fencing_delay_s=%d is less than twice "
                          "ha_cluster_fence_delay_max_s=%d: the random delay could still let the gateway's node be "
                          "fenced first" % (delay, jitter))
    elif stonith and not delay and not jitter and len(names) == 2 and "priority_fencing_delay_s" in plan:
        warnings.append("cluster: no fence delay (ha_cluster_priority_fencing_delay_s and ha_cluster_fence_delay_max_s "
                        "are 0): two nodes that lose each other may fence each other at once")
    return {"violations": violations, "warnings": warnings, "stonith_enabled": stonith, "lab": lab}
