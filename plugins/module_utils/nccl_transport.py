# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which transport NCCL chose between the nodes of a model-server group, read from its ``NCCL_DEBUG=INFO`` log.

Pure Python, no Ansible imports (issue 18, docs/serving.md "Which transport NCCL chose"). A multi-node group is
planned for the RDMA fabric; NCCL falls back to TCP sockets without an error when it finds no usable HCA (wrong
``NCCL_IB_HCA``, port down, no RDMA stack), and serves many times slower. After a group starts, the deploy reads
each member's init log with :func:`parse` and judges it with :func:`verdict`.

The lines read (format as NCCL 2.4-2.2x prints them; the fixtures in tests/fixtures/nccl/ cite public logs):

* ``NCCL version 2.19.3+cuda12.3``;
* ``NET/IB : Using [0]mlx5_10:1/RoCE [1]mlx5_11:1/RoCE [RO]; OOB enp220s0np0:11.1.128.136<0>``: the HCAs NCCL's
  IB transport found (port, link layer ``IB`` or ``RoCE``);
* ``NET/IB : No device found.``: the IB transport found none;
* ``NET/Socket : Using [0]eth0:10.0.0.1<0>``: the interfaces of the socket transport;
* ``Using network IB`` / ``Socket`` / ``IBext`` (a net plugin, e.g. NCCL's own IB plugin or AWS OFI);
* ``Channel 03/0 : 5[5] -> 12[4] [send] via NET/IB/3`` (``/GDRDMA`` when GPUDirect RDMA is used): a channel
  between nodes; ``via P2P/...`` and ``via SHM`` stay inside a node and are counted apart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_PREFIX = r"(?:^|\s)NCCL INFO "
_VERSION = re.compile(r"NCCL version (\d+\.\d+\.\d+)")
_IB_USING = re.compile(_PREFIX + r"NET/IB ?: Using (?P<devs>.*?)(?:\s*\[RO\])?\s*; OOB (?P<oob>\S*)")
_IB_DEV = re.compile(r"\[(\d+)\](?P<name>[^:\s\]]+):(?P<port>\d+)/(?P<link>IB|RoCE)")
_IB_NONE = re.compile(_PREFIX + r"NET/IB ?: No device found")
_SOCK_USING = re.compile(_PREFIX + r"NET/Socket ?: Using (?P<ifs>.*)$")
_SOCK_IF = re.compile(r"\[\d+\](?P<name>[^:\s]+):(?P<addr>[^<\s]+)<")
_NETWORK = re.compile(_PREFIX + r"Using network (?P<net>\S+)")
_CHANNEL = re.compile(_PREFIX + r"Channel \d+/\d+ : \d+\[[0-9a-f]+\] -> \d+\[[0-9a-f]+\]"
                      r"(?: \[(?:send|receive)\])? via (?P<via>\S+)")


def parse(text):
    """The facts of one NCCL init log (one process or a whole group's logs concatenated).

    Returns ``{nccl_version, network, ib_devices: [{name, port, link_layer}], ib_none, socket_interfaces:
    [{name, address}], oob, channels: {"NET/IB": n, "NET/Socket": n, ...}, intra_node_channels, gdr_channels,
    transport}`` where ``transport`` is ``rdma``, ``socket``, ``intra-node`` (every channel stays in a node) or
    ``unknown`` (no network line and no channel: NCCL_DEBUG was not INFO, or the log is from before init).
    """
    facts = {"nccl_version": None, "network": None, "ib_devices": [], "ib_none": False, "socket_interfaces": [],
             "oob": None, "channels": {}, "intra_node_channels": 0, "gdr_channels": 0}
    seen_dev, seen_if = set(), set()
    for line in text.splitlines():
        m = _VERSION.search(line)
        if m and facts["nccl_version"] is None:
            facts["nccl_version"] = m.group(1)
        m = _IB_USING.search(line)
        if m:
            facts["oob"] = m.group("oob").split("<")[0] or facts["oob"]
            for d in _IB_DEV.finditer(m.group("devs")):
                key = (d.group("name"), int(d.group("port")))
                if key not in seen_dev:
                    seen_dev.add(key)
                    facts["ib_devices"].append({"name": key[0], "port": key[1], "link_layer": d.group("link")})
            continue
        if _IB_NONE.search(line):
            facts["ib_none"] = True
            continue
        m = _SOCK_USING.search(line)
        if m:
            for i in _SOCK_IF.finditer(m.group("ifs")):
                key = (i.group("name"), i.group("addr"))
                if key not in seen_if:
                    seen_if.add(key)
                    facts["socket_interfaces"].append({"name": key[0], "address": key[1]})
            continue
        m = _NETWORK.search(line)
        if m:
            facts["network"] = m.group("net")
            continue
        m = _CHANNEL.search(line)
        if m:
            via = m.group("via")
            if via.startswith("NET/"):
                parts = via.split("/")
                kind = "/".join(parts[:2])
                facts["channels"][kind] = facts["channels"].get(kind, 0) + 1
                if "GDRDMA" in parts[2:]:
                    facts["gdr_channels"] += 1
            else:
                facts["intra_node_channels"] += 1
    facts["transport"] = _transport(facts)
    return facts


def _transport(facts):
    if facts["channels"]:
        # a channel between nodes decides (the network line is per process, the channels are what was built): one
        # channel on sockets is a fallback
        return "socket" if "NET/Socket" in facts["channels"] else "rdma"
    if facts["network"]:
        # IB, and the IB net plugins (IBext, IBext_v8, ...) are RDMA; Socket is not
        return "rdma" if facts["network"].startswith("IB") else "socket"
    if facts["intra_node_channels"]:
        return "intra-node"
    return "unknown"


def verdict(facts, planned_rdma, on_socket="fail", group="", host=""):
    """``(status, message)``: ``ok``, ``warn`` or ``fail`` for a group planned with (or without) RDMA.

    ``on_socket``: ``fail`` (default) or ``warn`` when RDMA was planned and NCCL used sockets between nodes. A
    group planned without RDMA (``allow_tcp: true``) only warns that it runs on sockets. A log with no transport
    facts fails: NCCL_DEBUG=INFO must reach the log for the check to mean anything.
    """
    if on_socket not in ("fail", "warn"):
        raise ValueError("on_socket must be 'fail' or 'warn', not %r" % (on_socket,))
    who = "model-server group %s%s" % (group, (" on " + host) if host else "")
    t = facts["transport"]
    mixed = t == "socket" and any(k != "NET/Socket" for k in facts["channels"])
    if t == "unknown":
        return "fail", ("%s: no NCCL transport in its log (is NCCL_DEBUG=INFO set for the engine, and did the "
                        "group finish its init?)" % who)
    if t == "intra-node":
        return "ok", "%s: every NCCL channel stays inside the node (P2P/SHM)" % who
    if t == "rdma":
        devs = ", ".join("%s:%d/%s" % (d["name"], d["port"], d["link_layer"]) for d in facts["ib_devices"]) or "?"
        gdr = " with GPUDirect RDMA on %d channel(s)" % facts["gdr_channels"] if facts["gdr_channels"] else ""
        if not planned_rdma:
            return "ok", "%s: NCCL used RDMA (%s)%s although the plan allowed TCP" % (who, devs, gdr)
        return "ok", "%s: NCCL uses RDMA between nodes (%s)%s" % (who, devs, gdr)
    ifs = ", ".join("%s %s" % (i["name"], i["address"]) for i in facts["socket_interfaces"]) or "?"
    if not planned_rdma:
        return "warn", "%s: NCCL uses TCP sockets between nodes (%s), as planned (allow_tcp): slow" % (who, ifs)
    why = ("NET/IB found no device" if facts["ib_none"] else
           "some channels fell back to sockets" if mixed else "NCCL chose the socket transport")
    msg = ("%s: RDMA was planned but NCCL uses TCP sockets between nodes (%s; %s). Check NCCL_IB_HCA and "
           "NCCL_IB_GID_INDEX in the unit's environment against `ibv_devinfo` and `show_gids` on the host, and "
           "that the rdma role's verify passes" % (who, ifs, why))
    return on_socket, msg
