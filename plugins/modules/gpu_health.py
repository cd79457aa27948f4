#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_health
short_description: NVIDIA GPU health counters (NVML) and the kernel's Xid lines, for the burn-in gate
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Reads, per GPU, ECC mode and uncorrected/corrected error counts (volatile and aggregate), remapped rows,
    retired pages, the clock event (throttle) reasons active now, clocks against their maxima, temperature, power,
    the PCIe link width/generation against its maximum and the PCIe replay counter
    (C(plugins/module_utils/gpu_health.py), C(docs/burnin.md)).
  - Reads the NVIDIA Xid lines of the kernel log (C(journalctl -k) since O(xid_since)).
  - Never fails because NVML is missing; C(health.nvml_available) is false with the reason. Read-only.
options:
  xid_since:
    description: How far back the kernel log is read for Xid lines (a C(journalctl --since) value).
    type: str
    default: "-7d"
attributes:
  check_mode:
    description: Only reads.
    support: full
  diff_mode:
    description: Nothing is changed.
    support: none
notes:
  - Needs C(pynvml) (PyPI C(nvidia-ml-py)) on the target.
"""

EXAMPLES = r"""
- name: Read the GPUs' health
  llmfleet.baremetal.gpu_health:
  register: health
"""

RETURN = r"""
health:
  description: The probe (C(llmfleet.gpu_health/v1)) - nvml_available, driver, gpus.
  returned: always
  type: dict
xids:
  description: Xid lines of the kernel log, each C({pci_bus_id, xid, detail}).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils.gpu_health import probe, xid_events


def main():
    module = AnsibleModule(argument_spec=dict(xid_since=dict(type="str", default="-7d")), supports_check_mode=True)
    health = probe()
    xids = []
    journalctl = module.get_bin_path("journalctl")
    if journalctl:
        rc, out, _err = module.run_command([journalctl, "-k", "--no-pager", "-q", "--since", module.params["xid_since"]])
        if rc == 0:
            xids = xid_events(out)
    module.exit_json(changed=False, health=health, xids=xids)


if __name__ == "__main__":
    main()
