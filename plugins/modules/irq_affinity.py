#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: irq_affinity
short_description: Pin NIC, RDMA and GPU IRQs to NUMA-local CPUs through /proc/irq
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Finds the IRQs of network, RDMA and (optionally) GPU devices from C(/sys/class/net/*/device/msi_irqs),
    C(/sys/class/infiniband) and C(/proc/interrupts). Virtio NICs are followed to their C(virtioN) device and its
    C(virtioN-input.Q) / C(virtioN-output.Q) vectors.
  - Plans one CPU per queue IRQ, round-robin over the device's NUMA-local CPUs (optionally limited to O(cpus) and
    minus O(reserved_cpus)); control IRQs (config, async) get the whole set. Or takes a ready O(plan).
  - With O(state=pinned) writes C(/proc/irq/N/smp_affinity_list) only where the current affinity differs and
    reports C(changed) accordingly; in check mode nothing is written.
  - IRQs whose affinity the kernel refuses are reported in RV(unmanageable) instead of failing the task -
    kernel-managed IRQs (C(EIO), for example NVMe queues or drivers using managed affinity), a read-only
    C(/proc/irq) (containers) and IRQs that vanished. Their affinity is left as the kernel set it.
  - With O(state=verified) nothing is written; RV(violations) lists the planned IRQs whose current
    affinity is not within the planned CPUs.
options:
  state:
    description:
      - C(planned) only computes the plan (read-only), C(pinned) applies it, C(verified) reads back and compares.
    type: str
    choices: [planned, pinned, verified]
    default: pinned
  devices:
    description:
      - Netdev or RDMA device names. Empty means every physical netdev (one with a C(device) link) and every
        RDMA device. Ignored when O(plan) is given.
    type: list
    elements: str
    default: []
  gpu_pci_bus_ids:
    description: PCI bus ids (NVML or sysfs form) of GPUs whose IRQs are pinned as well.
    type: list
    elements: str
    default: []
  cpus:
    description:
      - cpulist the IRQs may use. Empty means each device's NUMA-local CPUs. A device whose node has no CPU in
        this list uses the list as is.
    type: str
    default: ""
  reserved_cpus:
    description: cpulist no IRQ is pinned to (for example the cores kept for the OS).
    type: str
    default: ""
  plan:
    description:
      - A ready plan instead of discovery, a list of entries with C(cpus) and either C(irq) (a number valid now)
        or C(name) (and C(pci)) as in C(/proc/interrupts), resolved to this boot's IRQ numbers.
      - A dict IRQ number -> cpulist is accepted too (the C(llmfleet.baremetal.irq_plan) filter's result).
    type: raw
  host_name:
    description: Host name used in error messages (the inventory name); defaults to the kernel's hostname.
    type: str
  cpus_var:
    description: Variable name shown in error messages about O(cpus).
    type: str
    default: irq_affinity_cpus
  reserved_var:
    description: Variable name shown in error messages about O(reserved_cpus).
    type: str
    default: irq_affinity_reserved_cpus
  sysfs_root:
    description: Where sysfs is mounted (tests point this at a fake tree).
    type: path
    default: /sys
  procfs_root:
    description: Where procfs is mounted (tests point this at a fake tree).
    type: path
    default: /proc
attributes:
  check_mode:
    description: Plans and reports every change without writing /proc/irq.
    support: full
  diff_mode:
    description: Shows each IRQ's affinity before and after.
    support: full
notes:
  - IRQ numbers change across reboots; RV(plan) entries carry the PCI function and the IRQ name so that the boot-time
    re-apply (C(llmfleet-irq-affinity.service) of the C(llmfleet.baremetal.irq_affinity) role) can resolve them again.
  - irqbalance moves IRQs back unless it is stopped or told to leave them (C(--banirq), banned CPUs); the role
    handles that.
seealso:
  - module: llmfleet.baremetal.host_facts
"""

EXAMPLES = r"""
- name: Pin every physical NIC's queue IRQs to its NUMA-local CPUs, leaving CPU 0 alone
  llmfleet.baremetal.irq_affinity:
    reserved_cpus: "0"

- name: Plan only (read-only), for two devices
  llmfleet.baremetal.irq_affinity:
    state: planned
    devices: [ens1f0np0, mlx5_1]
  register: irq_plan

- name: Apply a stored plan (entries resolved by IRQ name)
  llmfleet.baremetal.irq_affinity:
    plan: "{{ irq_plan.plan }}"

- name: Read back and compare
  llmfleet.baremetal.irq_affinity:
    state: verified
    plan: "{{ irq_plan.plan }}"
  register: irq_verify
"""

RETURN = r"""
plan:
  description: Plan entries (resolved to this boot's IRQ numbers).
  returned: always
  type: list
  elements: dict
  sample: [{"irq": 38, "name": "virtio2-input.0", "device": "eth0", "pci": "0000:00:03.0", "numa_node": 0,
            "queue": 0, "cpus": "1", "numa_local": true}]
devices:
  description: Devices found with their PCI function, NUMA node and IRQ count (discovery only).
  returned: always
  type: list
  elements: dict
missing:
  description: Requested devices that do not exist, and plan entries whose IRQ is not present this boot.
  returned: always
  type: list
  elements: str
changed_irqs:
  description: IRQs whose affinity was (check mode, would be) changed.
  returned: always
  type: list
  elements: int
before:
  description: Affinity of each planned IRQ before the task, IRQ number -> cpulist.
  returned: always
  type: dict
after:
  description: Affinity of each planned IRQ after the task (read back from the kernel).
  returned: always
  type: dict
unmanageable:
  description:
    - IRQs the kernel refused to re-pin, with the reason (managed IRQ / EIO, read-only /proc/irq, IRQ gone).
      Not a failure.
  returned: always
  type: list
  elements: dict
  sample: [{"irq": 120, "name": "nvme0q3", "reason": "kernel-managed IRQ (EIO): its affinity is set by the driver"}]
violations:
  description: With O(state=verified), planned IRQs whose current affinity is not within the planned CPUs.
  returned: always
  type: list
  elements: dict
writable:
  description: Whether /proc/irq is writable here (false in containers).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import collect_host
from ansible_collections.llmfleet.baremetal.plugins.module_utils.irq_plan import (
    IrqPlanError, apply_plan, irq_writable, plan_entries, read_affinity, read_irqs, resolve_entries, verify_plan)


def _plan_from_param(plan):
    if isinstance(plan, dict):
        return [{"irq": k, "cpus": v} for k, v in sorted(plan.items(), key=lambda kv: str(kv[0]))]
    if isinstance(plan, list) and all(isinstance(e, dict) and e.get("cpus") for e in plan):
        return plan
    raise IrqPlanError("plan must be a list of {irq or name, cpus} entries or a dict {irq: cpulist}")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="pinned", choices=["planned", "pinned", "verified"]),
            devices=dict(type="list", elements="str", default=[]),
            gpu_pci_bus_ids=dict(type="list", elements="str", default=[]),
            cpus=dict(type="str", default=""),
            reserved_cpus=dict(type="str", default=""),
            plan=dict(type="raw"),
            host_name=dict(type="str"),
            cpus_var=dict(type="str", default="irq_affinity_cpus"),
            reserved_var=dict(type="str", default="irq_affinity_reserved_cpus"),
            sysfs_root=dict(type="path", default="/sys"),
            procfs_root=dict(type="path", default="/proc"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    procfs, sysfs = p["procfs_root"], p["sysfs_root"]
    host = collect_host(sysfs, procfs)
    host_name = p["host_name"] or host.get("hostname")
    result = dict(changed=False, plan=[], devices=[], missing=[], changed_irqs=[], before={}, after={},
                  unmanageable=[], violations=[], writable=irq_writable(procfs))
    try:
        if p["plan"] is not None:
            entries, unresolved = resolve_entries(_plan_from_param(p["plan"]), procfs, sysfs)
            result["missing"] = ["%s (%s)" % (e.get("name") or e.get("irq"), e.get("device")) for e in unresolved]
        else:
            found = read_irqs(procfs, sysfs, p["devices"], p["gpu_pci_bus_ids"])
            result["devices"], result["missing"] = found["devices"], found["missing"]
            entries = plan_entries(found["irqs"], host, p["cpus"], p["reserved_cpus"], host_name,
                                   p["cpus_var"], p["reserved_var"])
    except IrqPlanError as exc:
        module.fail_json(msg=str(exc), **result)
    result["plan"] = entries

    if p["state"] == "planned":
        result["before"] = dict((str(e["irq"]), read_affinity(procfs, e["irq"])) for e in entries)
        module.exit_json(**result)
    if p["state"] == "verified":
        result["violations"] = verify_plan(entries, procfs)
        module.exit_json(**result)

    applied = apply_plan(entries, procfs, check=module.check_mode)
    result.update(changed=bool(applied["changed"]), changed_irqs=applied["changed"], before=applied["before"],
                  after=applied["after"], unmanageable=applied["unmanageable"])
    if module._diff:
        result["diff"] = {
            "before": "".join("%s: %s\n" % (k, applied["before"][k]) for k in sorted(applied["before"], key=int)),
            "after": "".join("%s: %s\n" % (k, applied["after"][k]) for k in sorted(applied["after"], key=int)),
            "before_header": "/proc/irq/*/smp_affinity_list",
            "after_header": "/proc/irq/*/smp_affinity_list",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
