#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_pools
short_description: Create Ceph pools and enforce one replication policy (size, min_size) on every pool
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Creates each pool of O(pools) that is missing (replicated, C(pg_num)), enables its application and sets
    C(size) and C(min_size) to O(size) and O(min_size).
  - With O(enforce_all=true) every other pool of the cluster (those the daemons create themselves, such as
    C(device_health_metrics) or RGW's) gets the same C(size) and C(min_size), so no pool keeps a silent default.
extends_documentation_fragment:
  - llmfleet.baremetal.ceph
options:
  pools:
    description: Pools as C({name, pg_num, application}).
    type: list
    elements: dict
    default: []
  size:
    description: Replicas per object.
    type: int
    required: true
  min_size:
    description: Replicas needed to serve I/O.
    type: int
    required: true
  enforce_all:
    description: Apply O(size) and O(min_size) to every pool, not only those in O(pools).
    type: bool
    default: true
attributes:
  check_mode:
    description: Reports the changes it would make.
    support: full
  diff_mode:
    description: Returns the changes in RV(changes).
    support: none
"""

EXAMPLES = r"""
- name: Pools
  llmfleet.baremetal.ceph_pools:
    pools: [{name: rbd-models, pg_num: 32, application: rbd}]
    size: 3
    min_size: 2
"""

RETURN = r"""
changes:
  description: One line per change.
  returned: always
  type: list
  elements: str
pools:
  description: Name, size and min_size of every pool after the run.
  returned: always
  type: list
  elements: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pools=dict(type="list", elements="dict", default=[]),
            size=dict(type="int", required=True),
            min_size=dict(type="int", required=True),
            enforce_all=dict(type="bool", default=True),
            cluster=dict(type="str", default="ceph"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ceph = [module.get_bin_path("ceph", required=True), "--cluster", p["cluster"]]

    def run(*args):
        rc, out, err = module.run_command(ceph + list(args))
        if rc != 0:
            module.fail_json(msg="ceph %s failed (rc=%d): %s" % (" ".join(args), rc, err.strip()), changes=changes)
        return out

    changes = []
    detail = {d["pool_name"]: d for d in json.loads(run("osd", "pool", "ls", "detail", "-f", "json") or "[]")}
    for pool in p["pools"]:
        name = pool.get("name")
        if not name:
            module.fail_json(msg="a pool without a name: %r" % (pool,))
        app = pool.get("application")
        if name not in detail:
            changes.append("create pool %s (pg_num %s)" % (name, pool.get("pg_num", 8)))
            if not module.check_mode:
                run("osd", "pool", "create", name, str(pool.get("pg_num", 8)), str(pool.get("pg_num", 8)), "replicated")
            detail[name] = {"pool_name": name, "size": None, "min_size": None, "application_metadata": {}}
        if app and app not in (detail[name].get("application_metadata") or {}):
            changes.append("enable application %s on %s" % (app, name))
            if not module.check_mode:
                run("osd", "pool", "application", "enable", name, app)
    wanted = set(detail) if p["enforce_all"] else {pl["name"] for pl in p["pools"]}
    for name in sorted(wanted):
        d = detail[name]
        # size before min_size when growing, min_size first when shrinking (min_size may not exceed size)
        order = [("size", p["size"]), ("min_size", p["min_size"])]
        if d.get("size") is not None and p["size"] < d["size"]:
            order.reverse()
        for key, value in order:
            if d.get(key) != value:
                changes.append("%s: %s %s -> %s" % (name, key, d.get(key), value))
                if not module.check_mode:
                    run("osd", "pool", "set", name, key, str(value))
                d[key] = value
    module.exit_json(changed=bool(changes), changes=changes,
                     pools=[{"name": n, "size": detail[n].get("size"), "min_size": detail[n].get("min_size")}
                            for n in sorted(detail)])


if __name__ == "__main__":
    main()
