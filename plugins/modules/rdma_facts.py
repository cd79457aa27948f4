#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rdma_facts
short_description: RDMA devices, ports, GID tables and the RoCE v2 GID index as facts
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Reads C(/sys/class/infiniband) into C(ansible_facts.llmfleet_rdma) (schema C(llmfleet.rdma_facts/v1),
    documented in C(docs/rdma.md)) with every RDMA device (hardware or software such as Soft-RoCE C(rxe)), its
    NUMA node, PCI address, netdevs and ports (state, physical state, link layer, rate, GID table).
  - For each Ethernet (RoCE) port it chooses the RoCE v2 GID index to use for NCCL (C(NCCL_IB_GID_INDEX)) and
    perftest (C(-x)), preferring the GID of the planned fabric address given in O(addresses).
  - Never fails on missing files; a host without RDMA devices gets an empty device list.
  - Read-only; returns C(changed=false).
options:
  addresses:
    description:
      - Planned fabric addresses as a dict of netdev name to IP address; the RoCE v2 GID carrying that address
        is preferred when the GID index is chosen.
    type: dict
    default: {}
  expect:
    description:
      - Fabric ports that should be usable, each a dict with C(fabric), C(netdev), C(address), C(mode) (C(roce) or
        C(ipoib)) and optionally C(rate_gbps). Each is checked for an ACTIVE port, the rate and, for RoCE, a RoCE v2
        GID carrying the address; what is not ready is returned in RV(not_ready).
    type: list
    elements: dict
    default: []
  wait_timeout:
    description:
      - Seconds to poll until every O(expect) entry is ready (0 = read once). The module never fails for ports that
        are not ready; the caller decides.
    type: int
    default: 0
  sysfs_root:
    description: Where sysfs is mounted (tests point this at a fake tree).
    type: path
    default: /sys
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
  facts:
    description: Sets C(ansible_facts.llmfleet_rdma).
    support: full
seealso:
  - module: llmfleet.baremetal.host_facts
"""

EXAMPLES = r"""
- name: Gather RDMA facts, preferring the GID of the fabric address
  llmfleet.baremetal.rdma_facts:
    addresses:
      ens1f0np0: 10.77.0.11

- name: NCCL_IB_GID_INDEX of the fabric netdev
  ansible.builtin.debug:
    msg: "{{ ansible_facts.llmfleet_rdma.by_netdev['ens1f0np0'].roce_v2_gid_index }}"
"""

RETURN = r"""
not_ready:
  description: Why O(expect) entries are not usable (empty when all are ready).
  returned: always
  type: list
  elements: str
  sample: ["fabric fabric0: enp0s3 (rxe_enp0s3 port 1) is DOWN, not ACTIVE (phys_state Disabled)"]
waited_s:
  description: Seconds spent polling.
  returned: always
  type: float
  sample: 2.1
devices:
  description: Number of RDMA devices found.
  returned: always
  type: int
  sample: 1
ansible_facts:
  description: Facts set by this module.
  returned: always
  type: dict
  contains:
    llmfleet_rdma:
      description:
        - C(schema), C(devices) (name, kind, parent, pci_bus_id, numa_node, node_type, fw_ver, node_guid, netdevs,
          ports with port, state, active, phys_state, link_layer, rate, rate_gbps, netdev, gids, roce_v2_gid_index,
          gid_index), C(by_netdev) (netdev to device, port, roce_v2_gid_index, state, link_layer), C(numa_nodes)
          (NUMA node to device names, C(-1) = unknown), C(missing), C(errors).
      type: dict
      sample: {"schema": "llmfleet.rdma_facts/v1",
               "devices": [{"name": "rxe_enp0s3", "kind": "software", "parent": "enp0s3", "numa_node": null,
                            "ports": [{"port": 1, "state": "ACTIVE", "active": true, "link_layer": "Ethernet",
                                       "rate": "2.5 Gb/sec (1X SDR)", "rate_gbps": 2.5, "netdev": "enp0s3",
                                       "roce_v2_gid_index": 1, "gid_index": 1,
                                       "gids": [{"index": 1, "gid": "0000:0000:0000:0000:0000:ffff:0a4d:0001",
                                                 "type": "RoCE v2", "ndev": "enp0s3", "ipv4": "10.77.0.1"}]}]}],
               "by_netdev": {"enp0s3": {"device": "rxe_enp0s3", "port": 1, "roce_v2_gid_index": 1,
                                        "state": "ACTIVE", "link_layer": "Ethernet"}},
               "numa_nodes": {"-1": ["rxe_enp0s3"]}}
"""

from ansible.module_utils.basic import AnsibleModule

import time

from ansible_collections.llmfleet.baremetal.plugins.module_utils.rdma import collect_rdma, not_ready


def main():
    module = AnsibleModule(
        argument_spec=dict(
            addresses=dict(type="dict", default={}),
            expect=dict(type="list", elements="dict", default=[]),
            wait_timeout=dict(type="int", default=0),
            sysfs_root=dict(type="path", default="/sys"),
        ),
        supports_check_mode=True,
    )
    addresses = dict((str(k), str(v).split("/", maxsplit=1)[0]) for k, v in (module.params["addresses"] or {}).items() if v)
    expect = module.params["expect"] or []
    for want in expect:
        if want.get("address") and want.get("netdev"):
            addresses.setdefault(str(want["netdev"]), str(want["address"]).split("/", maxsplit=1)[0])
    started = time.monotonic()
    deadline = started + max(0, module.params["wait_timeout"])
    while True:
        facts = collect_rdma(module.params["sysfs_root"], addresses=addresses)
        problems = not_ready(facts, expect)
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(1)
    module.exit_json(changed=False, devices=len(facts["devices"]), not_ready=problems,
                     waited_s=round(time.monotonic() - started, 1), ansible_facts={"llmfleet_rdma": facts})


if __name__ == "__main__":
    main()
