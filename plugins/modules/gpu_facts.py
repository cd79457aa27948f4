#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: NVIDIA GPU snapshot (NVML) as facts
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Takes a C(llmfleet.gpu_snapshot/v1) snapshot of the host's NVIDIA GPUs through NVML (Python C(pynvml),
    PyPI C(nvidia-ml-py)) with driver and CUDA versions, every GPU's identity, memory, PCIe link, NUMA node,
    ECC/persistence/MIG modes, remapped rows, fabric state, NVLink links and every GPU pair's NVLink bond and
    PCIe common ancestor. The fields are documented in C(docs/gpu-snapshot-schema.md).
  - Never fails because NVML is missing. Without C(pynvml), driver or GPUs the snapshot says
    C(nvml_available=false) with an actionable C(reason).
  - With O(replay) a recorded snapshot is used instead of NVML (lab hosts without GPUs). The result is then
    marked C(source=replay) with C(replay_of) provenance; otherwise C(source=nvml).
  - Read-only; returns C(changed=false).
options:
  replay:
    description:
      - A recorded C(llmfleet.gpu_snapshot/v1) snapshot (for example the content of
        C(tests/fixtures/gpu/h200x2/snapshot.json)) returned instead of probing NVML.
    type: dict
  replay_label:
    description:
      - Where the replayed snapshot came from (a file path), recorded as C(replay_of.file).
    type: str
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
notes:
  - Needs C(pynvml) (PyPI C(nvidia-ml-py)) on the target for live data.
seealso:
  - module: llmfleet.baremetal.host_facts
  - module: llmfleet.baremetal.topology_check
"""

EXAMPLES = r"""
- name: Gather the GPU snapshot
  llmfleet.baremetal.gpu_facts:

- name: Replay a recorded snapshot (lab)
  llmfleet.baremetal.gpu_facts:
    replay: "{{ lookup('ansible.builtin.file', 'tests/fixtures/gpu/h200x2/snapshot.json') | from_json }}"
    replay_label: tests/fixtures/gpu/h200x2/snapshot.json

- name: Show the GPU names
  ansible.builtin.debug:
    msg: "{{ ansible_facts.llmfleet_gpu.gpus | map(attribute='name') | list }}"
"""

RETURN = r"""
source:
  description: C(nvml) for a live probe, C(replay) for a recorded snapshot.
  returned: always
  type: str
  sample: replay
replay_of:
  description: Provenance of a replayed snapshot; null for live data.
  returned: always
  type: dict
  contains:
    file:
      description: O(replay_label).
      type: str
    hostname:
      description: Host the snapshot was recorded on.
      type: str
    timestamp:
      description: When it was recorded (UTC).
      type: str
  sample: {"file": "tests/fixtures/gpu/h200x2/snapshot.json", "hostname": "vm", "timestamp": "2026-11-23T04:55:35Z"}
nvml_available:
  description: Whether NVML could be initialised (always the recorded value on replay).
  returned: always
  type: bool
reason:
  description: Why there is no GPU data, as actionable text; null when there is.
  returned: always
  type: str
gpu_count:
  description: Number of GPUs.
  returned: always
  type: int
  sample: 2
ansible_facts:
  description: Facts set by this module.
  returned: always
  type: dict
  contains:
    llmfleet_gpu:
      description:
        - The whole snapshot (schema C(llmfleet.gpu_snapshot/v1), see C(docs/gpu-snapshot-schema.md)) plus
          C(source) and C(replay_of).
      type: dict
      sample: {"schema": "llmfleet.gpu_snapshot/v1", "source": "nvml", "nvml_available": true, "gpu_count": 2,
               "driver_version": "580.159.04", "cuda_driver_version": "13.0", "gpus": [], "pairs": []}
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils.nvml_snapshot import (
    SCHEMA_VERSION, collect_snapshot)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            replay=dict(type="dict"),
            replay_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    replay = module.params["replay"]
    if replay is not None:
        if replay.get("schema") != SCHEMA_VERSION:
            module.fail_json(msg="replay is not a %s snapshot (schema=%r)%s" % (
                SCHEMA_VERSION, replay.get("schema"),
                " from %s" % module.params["replay_label"] if module.params["replay_label"] else ""))
        snap = copy.deepcopy(replay)
        snap["source"] = "replay"
        snap["replay_of"] = {
            "file": module.params["replay_label"],
            "hostname": replay.get("hostname"),
            "timestamp": replay.get("timestamp"),
        }
    else:
        snap = collect_snapshot()
        snap["source"] = "nvml"
        snap["replay_of"] = None
    module.exit_json(
        changed=False,
        source=snap["source"],
        replay_of=snap["replay_of"],
        nvml_available=bool(snap.get("nvml_available")),
        reason=snap.get("reason"),
        gpu_count=snap.get("gpu_count", 0),
        ansible_facts={"llmfleet_gpu": snap},
    )


if __name__ == "__main__":
    main()
