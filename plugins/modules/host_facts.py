#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_facts
short_description: Host CPU, NUMA, NIC, RDMA and IOMMU topology as facts
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Reads C(/sys) and C(/proc) into a C(llmfleet.host_probe/v1) probe (documented in C(docs/preflight.md)) with
    the kernel and boot command line, CPU model, sockets, cores, logical CPUs and SMT state, NUMA nodes with
    their cpulists and memory, every network interface (physical or virtual, PCI address, NUMA node, link
    layer, speed, MTU), every RDMA device with its ports (state, link layer, rate, GID count), the IOMMU
    state, the NVIDIA GPUs and NVSwitches on the PCI bus (also without a driver) and the loaded NVIDIA kernel
    driver (version, open or proprietary flavor).
  - Never fails on missing files (containers and VMs lack much of C(/sys)); what could not be read is listed
    in C(missing) and C(errors).
  - Read-only; returns C(changed=false).
options:
  sysfs_root:
    description: Where sysfs is mounted (tests point this at a fake tree).
    type: path
    default: /sys
  procfs_root:
    description: Where procfs is mounted.
    type: path
    default: /proc
attributes:
  check_mode:
    description: Can run in check_mode and return the same result (the module only reads).
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
  facts:
    description: Sets facts under C(ansible_facts).
    support: full
seealso:
  - module: llmfleet.baremetal.gpu_facts
  - module: llmfleet.baremetal.topology_check
"""

EXAMPLES = r"""
- name: Gather the host topology
  llmfleet.baremetal.host_facts:

- name: CPUs of NUMA node 0
  ansible.builtin.debug:
    msg: "{{ (ansible_facts.llmfleet_host.numa.nodes | selectattr('node', 'equalto', 0) | first).cpulist }}"
"""

RETURN = r"""
probe_wall_time_s:
  description: Seconds the probe took on the host.
  returned: always
  type: float
  sample: 0.004
missing:
  description: Paths the probe wanted but which do not exist on this host.
  returned: always
  type: list
  elements: str
  sample: ["/sys/class/infiniband"]
ansible_facts:
  description: Facts set by this module.
  returned: always
  type: dict
  contains:
    llmfleet_host:
      description:
        - The probe (schema C(llmfleet.host_probe/v1)) with the keys schema, hostname, timestamp, kernel, cpu,
          memory, numa, boot_cmdline, nics, rdma, iommu, nvidia_driver, nvidia_pci, missing, errors,
          probe_wall_time_s.
      type: dict
      sample: {"schema": "llmfleet.host_probe/v1", "cpu": {"model": "AMD EPYC", "cores": 2, "logical_cpus": 2,
               "smt": {"active": false}}, "numa": {"available": true, "node_count": 1,
               "nodes": [{"node": 0, "cpulist": "0-1"}]}, "nics": [], "rdma": [],
               "iommu": {"enabled": false, "mode": "off"}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import collect_host


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysfs_root=dict(type="path", default="/sys"),
            procfs_root=dict(type="path", default="/proc"),
        ),
        supports_check_mode=True,
    )
    host = collect_host(module.params["sysfs_root"], module.params["procfs_root"])
    module.exit_json(
        changed=False,
        probe_wall_time_s=host["probe_wall_time_s"],
        missing=host["missing"],
        ansible_facts={"llmfleet_host": host},
    )


if __name__ == "__main__":
    main()
