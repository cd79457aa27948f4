#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_health
short_description: Wait until a Ceph cluster is healthy and every placement group is active+clean
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Polls C(ceph status -f json) until the cluster reports C(HEALTH_OK) (or C(HEALTH_WARN) with only the checks
    in O(allow)), every PG is C(active+clean) and, when O(expect_osds) is set, that many OSDs are up and in.
  - Fails after O(timeout) seconds listing the health checks that are not allowed, the PG states and the OSD
    counts. Never changes anything.
extends_documentation_fragment:
  - llmfleet.baremetal.ceph
options:
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
  interval:
    description: Seconds between polls.
    type: int
    default: 5
  allow:
    description: Health check codes accepted in C(HEALTH_WARN) (e.g. C(POOL_NO_REDUNDANCY) in a size-1 lab).
    type: list
    elements: str
    default: []
  expect_osds:
    description: Number of OSDs that must be up and in (0 = do not check).
    type: int
    default: 0
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Health gate
  llmfleet.baremetal.ceph_health:
    timeout: 600
    expect_osds: 3
"""

RETURN = r"""
report:
  description: status, ok, checks, blocking, allowed, pgs_total, pgs_by_state, all_active_clean, osds.
  returned: always
  type: dict
waited_s:
  description: Seconds waited.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_plan import health_report


def main():
    module = AnsibleModule(
        argument_spec=dict(
            timeout=dict(type="int", default=300),
            interval=dict(type="int", default=5),
            allow=dict(type="list", elements="str", default=[]),
            expect_osds=dict(type="int", default=0),
            cluster=dict(type="str", default="ceph"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    cmd = [module.get_bin_path("ceph", required=True), "--cluster", p["cluster"], "status", "-f", "json",
           "--connect-timeout", "20"]
    t0 = time.monotonic()
    report, err = None, ""
    while True:
        rc, out, err = module.run_command(cmd)
        if rc == 0:
            report = health_report(out, p["allow"])
            osds = report["osds"]
            osds_ok = not p["expect_osds"] or (osds["total"] == osds["up"] == osds["in"] == p["expect_osds"])
            report["ok"] = report["ok"] and osds_ok
            if report["ok"]:
                module.exit_json(changed=False, report=report, waited_s=round(time.monotonic() - t0, 1))
        if time.monotonic() - t0 > p["timeout"]:
            break
        time.sleep(p["interval"])
    if report is None:
        module.fail_json(msg="ceph status did not answer within %ds: %s" % (p["timeout"], err.strip()))
    module.fail_json(
        msg="Ceph health gate failed after %ds: %s; not allowed: %s; PGs %s of %d active+clean (%s); OSDs %d up, %d in "
            "of %d (expected %d)" % (p["timeout"], report["status"],
                                     ", ".join("%s (%s)" % (c, report["checks"][c]) for c in report["blocking"]) or "none",
                                     report["pgs_by_state"].get("active+clean", 0), report["pgs_total"],
                                     ", ".join("%s=%d" % kv for kv in sorted(report["pgs_by_state"].items())),
                                     report["osds"]["up"], report["osds"]["in"], report["osds"]["total"],
                                     p["expect_osds"]),
        report=report, waited_s=round(time.monotonic() - t0, 1))


if __name__ == "__main__":
    main()
