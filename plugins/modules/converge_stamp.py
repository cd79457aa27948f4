#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: converge_stamp
short_description: Record or check a host's converge stamp (the fast path of a no-op site.yml run)
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - With O(state=record) (the last play of C(site.yml)), writes the host's converge stamp - the run's inputs,
    summarised on the controller by the P(llmfleet.baremetal.fast_path_inputs#filter) filter, and a
    fingerprint of what llmfleet manages on the host (metadata of every file under the watched trees, live kernel
    settings, installed packages, active/enabled/failed systemd units, kernel and boot id).
  - With O(state=check) (before the first layer of C(site.yml)), compares the host with its stamp and returns
    RV(fresh) and the RV(reasons) why it is not fresh. A fresh host skips every layer of the run.
  - Files are compared by type, mode, owner, group, size and modification time, not by content.
options:
  state:
    description: C(check) compares, C(record) writes the stamp.
    type: str
    choices: [check, record]
    default: check
  inputs:
    description:
      - This run's inputs as P(llmfleet.baremetal.fast_path_inputs#filter) returns them - C(digest) (fleet-wide),
        C(content) (the collection's code), C(vars) (a digest per variable of this host) and C(hosts) (a digest
        per other host); the last three only name what changed.
    type: dict
    required: true
  watch:
    description:
      - What the fingerprint covers. Keys C(trees) (directories walked), C(exclude) (path globs left out),
        C(live) (file globs read as they are now, for example C(/sys/kernel/mm/transparent_hugepage/enabled)) and
        C(sysctl_files) (globs of sysctl.d files whose keys are read live from C(/proc/sys)).
    type: dict
    required: true
  path:
    description: Where the stamp lives on the host (written mode 0600).
    type: path
    default: /var/lib/llmfleet/converge-stamp.json
  max_age:
    description: With O(state=check), a stamp whose last full converge is older than this many seconds is not fresh.
      C(0) means no limit.
    type: int
    default: 86400
  facts:
    description: With O(state=record), facts kept in the stamp and returned by the next check as RV(facts), so that
      later plays can still read them from a host that skips its layers.
    type: dict
    default: {}
attributes:
  check_mode:
    description: C(check) only reads; C(record) reports what it would write and writes nothing.
    support: full
  diff_mode:
    description: No diff; the stamp is llmfleet's own bookkeeping.
    support: none
notes:
  - Recording the time of a full converge whose state is otherwise unchanged rewrites the stamp but is not reported
    as a change.
"""

EXAMPLES = r"""
- name: Compare the host with its last converge
  llmfleet.baremetal.converge_stamp:
    state: check
    inputs: "{{ hostvars | llmfleet.baremetal.fast_path_inputs(groups['all'], inventory_hostname) }}"
    watch:
      trees: [/etc, /usr/local]
      exclude: [/etc/ld.so.cache]
      live: [/sys/kernel/mm/transparent_hugepage/enabled]
      sysctl_files: [/etc/sysctl.d/*llmfleet*.conf]
  register: stamp
"""

RETURN = r"""
fresh:
  description: Whether the host matches its stamp (state=check).
  returned: always
  type: bool
reasons:
  description: Why the host is not fresh, one sentence each (empty when fresh).
  returned: always
  type: list
  elements: str
facts:
  description: The facts kept by the last record (state=check and fresh), else empty.
  returned: always
  type: dict
recorded_at:
  description: Epoch seconds of the last full converge in the stamp (0 when none).
  returned: always
  type: float
"""

import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmfleet.baremetal.plugins.module_utils import converge_stamp as cs


def _units(module):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl or not os.path.isdir("/run/systemd/system"):
        return None
    out = []
    for args in (["list-units", "--all", "--type=service,socket,timer"],
                 ["list-unit-files", "--type=service,socket,timer"]):
        rc, stdout, stderr = module.run_command([systemctl, "--no-pager", "--no-legend", "--plain"] + args)
        if rc != 0:
            module.fail_json(msg="systemctl %s failed (rc %d): %s" % (args[0], rc, stderr.strip()))
        out.append(stdout)
    return cs.parse_units(out[0], out[1])


def _dpkg_status():
    try:
        with open("/var/lib/dpkg/status", "r") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def _load(path):
    try:
        with open(path, "r") as fh:
            return json.load(fh)
    except (IOError, OSError, ValueError):
        return None


def _write(path, data):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".converge-stamp.")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["check", "record"], default="check"),
            # digests of every variable, secrets included: kept out of logs (a weak password could be guessed back)
            inputs=dict(type="dict", required=True, no_log=True),
            watch=dict(type="dict", required=True),
            path=dict(type="path", default="/var/lib/llmfleet/converge-stamp.json"),
            max_age=dict(type="int", default=86400),
            facts=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not isinstance(p["inputs"].get("digest"), str):
        module.fail_json(msg="inputs must be what the llmfleet.baremetal.fast_path_inputs filter returns (no digest)")
    watch = dict(p["watch"])
    watch["exclude"] = list(watch.get("exclude") or []) + [p["path"], os.path.join(os.path.dirname(p["path"]),
                                                                                   ".converge-stamp.*")]
    stamp = _load(p["path"])
    # JSON round trip: the fingerprint is compared with what a stamp file gives back
    current = json.loads(json.dumps(cs.fingerprint(watch, units=_units(module), dpkg_status=_dpkg_status())))
    now = time.time()
    recorded_at = float((stamp or {}).get("verified_at") or 0) if isinstance(stamp, dict) else 0.0
    if p["state"] == "check":
        reasons = cs.compare(stamp, p["inputs"], current, now, p["max_age"])
        module.exit_json(changed=False, fresh=not reasons, reasons=reasons, recorded_at=recorded_at,
                         facts=(stamp.get("facts") or {}) if not reasons else {})
    facts = json.loads(json.dumps(p["facts"], default=str))
    changed = not cs.same_state(stamp, p["inputs"], current, facts)
    if not module.check_mode:
        _write(p["path"], {"schema": cs.SCHEMA, "inputs": p["inputs"], "fingerprint": current, "facts": facts,
                           "verified_at": now})
    module.exit_json(changed=changed, fresh=True, reasons=[], recorded_at=now, facts={})


if __name__ == "__main__":
    main()
