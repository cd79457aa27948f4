#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: topology_check
short_description: Check a host's GPUs and topology against a declarative expectation
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Compares an expectation from the inventory (GPU count, model and memory, PCIe generation and width,
    NVLink bonding or NVSwitch, ECC, persistence and MIG modes, pending row remaps, NIC NUMA locality, driver,
    CUDA, cuDNN, kernel-module flavor and Fabric Manager) with a GPU snapshot (M(llmfleet.baremetal.gpu_facts))
    and a host probe (M(llmfleet.baremetal.host_facts)).
  - Returns every violation, each with host, GPU, check, expected, found and an actionable message. Driver /
    CUDA / cuDNN / kernel-module / Fabric Manager questions use the collection's NVIDIA compatibility data.
  - Never fails itself, not even for a malformed expectation (that is returned as a violation with check
    C(expectation)); the caller decides (the C(preflight) role fails the play).
  - Also returns the GPU NVLink islands and the NUMA-local CPUs of each GPU for later roles.
  - Read-only; returns C(changed=false).
options:
  expect:
    description:
      - The expectation. Keys (all optional) C(gpu_count), C(gpu_model) (name or list; case-insensitive
        substring of the NVML name), C(min_gpu_memory_mib), C(min_pcie_gen), C(min_pcie_width), C(nvlink)
        (C(none), C(nvswitch), C(any) or the minimum bonded links per GPU pair), C(ecc), C(persistence), C(mig),
        C(no_pending_remaps), C(nic_numa_local) (booleans), C(min_driver), C(driver) (planned driver),
        C(cuda), C(cuda_mode) (C(toolkit) or C(mvc)), C(cudnn), C(kernel_module_flavor) (C(open) or
        C(proprietary)), C(fabric_manager) (planned version) and C(platform) (NVSwitch platform, e.g.
        C(HGX H100)). See C(docs/preflight.md).
      - An unknown key is reported as a violation naming it.
    type: dict
    default: {}
  gpu:
    description: A C(llmfleet.gpu_snapshot/v1) snapshot, normally C(ansible_facts.llmfleet_gpu). Empty when GPU facts
      were not gathered.
    type: dict
    default: {}
  host:
    description: A C(llmfleet.host_probe/v1) probe, normally C(ansible_facts.llmfleet_host).
    type: dict
    default: {}
  host_name:
    description: Name written into each violation; defaults to the probe's hostname.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return the same result (the module only reads).
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
seealso:
  - module: llmfleet.baremetal.gpu_facts
  - module: llmfleet.baremetal.host_facts
"""

EXAMPLES = r"""
- name: Check the host against its expectation
  llmfleet.baremetal.topology_check:
    expect:
      gpu_count: 8
      gpu_model: NVIDIA H100
      nvlink: nvswitch
      ecc: true
      cuda: "12.8"
    gpu: "{{ ansible_facts.llmfleet_gpu }}"
    host: "{{ ansible_facts.llmfleet_host }}"
    host_name: "{{ inventory_hostname }}"
  register: topology

- name: Fail on violations
  ansible.builtin.fail:
    msg: "{{ topology.violations | map(attribute='message') | list }}"
  when: not topology.passed
"""

RETURN = r"""
passed:
  description: True when there is no violation (warnings do not count).
  returned: always
  type: bool
violations:
  description: Every violation found.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Host name.
      type: str
    gpu:
      description: GPU index, C(a-b) for a GPU pair, or null for host-wide checks.
      type: raw
    check:
      description: >-
        Check name (an expectation key, C(gpu_visible), C(gpu_handle), C(expectation), or C(stack.<component>)
        for the compatibility checks).
      type: str
    expected:
      description: What the expectation asks for.
      type: raw
    found:
      description: What the host has.
      type: raw
    message:
      description: Actionable message.
      type: str
  sample:
    - host: gpu01
      gpu: 3
      check: ecc
      expected: enabled
      found: disabled
      message: "GPU 3 (00000000:1B:00.0): ECC disabled - enable with `nvidia-smi -i 3 -e 1` and reboot"
check_warnings:
  description:
    - Things that could not be checked, are replayed, or will be changed by later roles (same fields as
      violations). Named C(check_warnings) because C(warnings) is reserved for Ansible's own warnings.
  returned: always
  type: list
  elements: dict
checks:
  description: Names of the checks that ran.
  returned: always
  type: list
  elements: str
gpu_groups:
  description: NVLink islands (connected components of NVLink-bonded GPUs; GPUs on one NVSwitch fabric are one).
  returned: always
  type: list
  elements: dict
  sample: [{"gpus": [0, 1], "size": 2, "interconnect": "nvswitch", "min_bond_links": 18}]
numa_local_cpus:
  description: Per GPU, the CPUs local to it and where that came from (C(numa_node), C(nvml_cpu_affinity),
    C(all_online_cpus)).
  returned: always
  type: list
  elements: dict
  sample: [{"gpu": 0, "pci_bus_id": "00000000:00:06.0", "numa_node": 0, "cpulist": "0-15", "source": "numa_node"}]
expect:
  description: The normalized expectation (empty when it was malformed).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils.topology import evaluate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            expect=dict(type="dict", default={}),
            gpu=dict(type="dict", default={}),
            host=dict(type="dict", default={}),
            host_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    name = p["host_name"] or (p["host"] or {}).get("hostname") or "localhost"
    result = evaluate(p["expect"] or {}, p["gpu"] or {}, p["host"] or {}, name)
    # "warnings" is reserved in module results (Ansible's own warning channel).
    result["check_warnings"] = result.pop("warnings")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
