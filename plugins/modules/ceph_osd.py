#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_osd
short_description: Inspect block devices and create BlueStore OSDs on them with ceph-volume raw
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Classifies each device in O(devices) from C(ceph-bluestore-tool show-label) and C(blkid -p) as C(empty),
    C(ours) (an OSD of the cluster O(fsid)) or C(foreign) (a filesystem, partition table, LVM, another cluster's
    OSD or unrecognised data in the first MiB).
  - With O(state=query) nothing is changed. With O(state=present) it fails, listing every C(foreign) device,
    unless O(zap=true); then zaps foreign devices (C(ceph-volume lvm zap)), prepares empty ones
    (C(ceph-volume raw prepare --bluestore)), activates every OSD of this cluster that is not mounted
    (C(ceph-volume raw activate --no-systemd)) and enables and starts C(ceph-osd@ID).
  - Setting and clearing the C(noup) flag around the creation of several OSDs is the caller's job (the ceph
    role does it cluster-wide).
extends_documentation_fragment:
  - llmfleet.baremetal.ceph
options:
  devices:
    description: Block devices for OSDs (whole devices; one OSD each).
    type: list
    elements: path
    required: true
  fsid:
    description: The cluster fsid.
    type: str
    required: true
  state:
    description: C(query) only inspects; C(present) creates and activates.
    type: str
    choices: [query, present]
    default: present
  zap:
    description: Destroy whatever a C(foreign) device holds before using it.
    type: bool
    default: false
attributes:
  check_mode:
    description: Inspects and reports what would be created; changes nothing.
    support: full
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Create the OSDs of this host
  llmfleet.baremetal.ceph_osd:
    devices: [/dev/nvme1n1, /dev/nvme2n1]
    fsid: "{{ fsid }}"
"""

RETURN = r"""
devices:
  description: Per device its state before this run (C(empty), C(ours), C(foreign)), why, osd_uuid and osd_id.
  returned: always
  type: list
  elements: dict
to_create:
  description: Devices without an OSD of this cluster (would be prepared).
  returned: always
  type: list
  elements: str
osd_ids:
  description: OSD ids on this host's devices after the run.
  returned: always
  type: list
  elements: int
actions:
  description: What was done, one line per step.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_plan import device_state


def _inspect(module, dev, fsid):
    if not os.path.exists(dev):
        module.fail_json(msg="OSD device %s does not exist on this host" % dev)
    rc, label, err = module.run_command(["ceph-bluestore-tool", "show-label", "--dev", dev])
    label = label if rc == 0 else ""
    rc, blk, err = module.run_command(["blkid", "-p", "-o", "export", dev])
    blk = blk if rc == 0 else ""
    rc, parts, err = module.run_command(["lsblk", "-n", "-o", "TYPE", dev])
    has_parts = rc == 0 and any(t.strip() in ("part", "lvm", "crypt") for t in parts.splitlines()[1:])
    with open(dev, "rb") as f:
        head = f.read(1 << 20)
    nonzero = any(head)
    st = device_state(dev, fsid, blk, label, has_parts, nonzero)
    return st


def _raw_list(module, cluster):
    rc, out, err = module.run_command(["ceph-volume", "--cluster", cluster, "raw", "list", "--format", "json"])
    if rc != 0:
        module.fail_json(msg="ceph-volume raw list failed: %s" % err.strip()[-2000:])
    by_dev = {}
    for info in (json.loads(out or "{}") or {}).values():
        by_dev[info.get("device")] = info
    return by_dev


def _is_mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f if len(line.split()) > 1)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            devices=dict(type="list", elements="path", required=True),
            fsid=dict(type="str", required=True),
            state=dict(type="str", choices=["query", "present"], default="present"),
            zap=dict(type="bool", default=False),
            cluster=dict(type="str", default="ceph"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    devs = [os.path.realpath(d) for d in p["devices"]]
    states = [_inspect(module, d, p["fsid"]) for d in devs]
    foreign = [s for s in states if s["state"] == "foreign"]
    to_create = [s["device"] for s in states if s["state"] != "ours"]
    result = dict(changed=False, devices=states, to_create=to_create, osd_ids=[], actions=[])
    if p["state"] == "query":
        module.exit_json(**result)
    if foreign and not p["zap"]:
        module.fail_json(msg="refusing to use %d device(s) that already hold data: %s. Nothing was changed. Check "
                             "the device names; to destroy their contents set ceph_osd_zap: true for this host"
                             % (len(foreign), "; ".join("%s: %s" % (s["device"], s["why"]) for s in foreign)),
                         **result)
    cluster = p["cluster"]
    if to_create:
        result["changed"] = True
    if not module.check_mode:
        for st in states:
            if st["state"] == "foreign":
                result["actions"].append("zap %s (%s)" % (st["device"], st["why"]))
                rc, out, err = module.run_command(["ceph-volume", "--cluster", cluster, "lvm", "zap", st["device"]])
                if rc != 0:
                    module.fail_json(msg="ceph-volume lvm zap %s failed: %s" % (st["device"], err.strip()[-2000:]),
                                     **result)
            if st["state"] != "ours":
                result["actions"].append("prepare %s" % st["device"])
                rc, out, err = module.run_command(["ceph-volume", "--cluster", cluster, "raw", "prepare",
                                                   "--bluestore", "--data", st["device"]])
                if rc != 0:
                    module.fail_json(msg="ceph-volume raw prepare %s failed: %s" % (st["device"], err.strip()[-3000:]),
                                     **result)
    listed = _raw_list(module, cluster) if not module.check_mode or not to_create else {}
    for dev in devs:
        info = listed.get(dev)
        if not info:
            continue
        osd_id = int(info["osd_id"])
        result["osd_ids"].append(osd_id)
        osd_dir = "/var/lib/ceph/osd/%s-%d" % (cluster, osd_id)
        if not _is_mounted(osd_dir) or not os.path.exists(os.path.join(osd_dir, "keyring")):
            result["changed"] = True
            result["actions"].append("activate osd.%d on %s" % (osd_id, dev))
            if not module.check_mode:
                if _is_mounted(osd_dir):
                    module.run_command(["umount", osd_dir], check_rc=True)
                rc, out, err = module.run_command(["ceph-volume", "--cluster", cluster, "raw", "activate",
                                                   "--device", dev, "--no-systemd"])
                if rc != 0:
                    module.fail_json(msg="ceph-volume raw activate %s failed: %s" % (dev, err.strip()[-2000:]),
                                     **result)
        unit = "ceph-osd@%d" % osd_id
        enabled = module.run_command(["systemctl", "is-enabled", unit])[1].strip() == "enabled"
        active = module.run_command(["systemctl", "is-active", unit])[0] == 0
        if not (enabled and active):
            result["changed"] = True
            result["actions"].append("enable and start %s" % unit)
            if not module.check_mode:
                module.run_command(["systemctl", "enable", "--now", unit], check_rc=True)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
