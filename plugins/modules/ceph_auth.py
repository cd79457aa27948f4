#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_auth
short_description: Make a cephx entity exist in the monitors' auth database with a given key and caps
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Reads the entity with C(ceph auth get) and imports it (C(ceph auth import) from standard input, the key never
    on a command line) when it is missing or its key or caps differ. Needs the admin keyring on the host.
  - Keys are generated on the controller (M(llmfleet.baremetal.ceph_secrets)); this module never generates one.
extends_documentation_fragment:
  - llmfleet.baremetal.ceph
options:
  entity:
    description: Entity name, e.g. C(client.bootstrap-osd) or C(mgr.ceph1).
    type: str
    required: true
  key:
    description: The cephx key.
    type: str
    required: true
  caps:
    description: Caps per service (C(mon), C(mgr), C(osd), C(mds)), e.g. C({mon = "profile bootstrap-osd"}).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Reports whether the entity would be imported.
    support: full
  diff_mode:
    description: Keys are secrets; no diff is shown.
    support: none
"""

EXAMPLES = r"""
- name: Register the OSD bootstrap key
  llmfleet.baremetal.ceph_auth:
    entity: client.bootstrap-osd
    key: "{{ secrets.keys['client.bootstrap-osd'] }}"
    caps: {mon: profile bootstrap-osd, mgr: allow r}
  no_log: true
"""

RETURN = r"""
action:
  description: C(none), C(created) or C(updated).
  returned: always
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_keys import CephKeyError, keyring_section


def main():
    module = AnsibleModule(
        argument_spec=dict(
            entity=dict(type="str", required=True),
            key=dict(type="str", required=True, no_log=True),
            caps=dict(type="dict", default={}),
            cluster=dict(type="str", default="ceph"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    caps = {str(k): str(v) for k, v in p["caps"].items()}
    try:
        keyring = keyring_section(p["entity"], p["key"], caps)
    except CephKeyError as exc:
        module.fail_json(msg="%s: %s" % (p["entity"], exc))
    ceph = module.get_bin_path("ceph", required=True)
    base = [ceph, "--cluster", p["cluster"]]
    rc, out, err = module.run_command(base + ["auth", "get", p["entity"], "-f", "json"])
    action = "none"
    if rc != 0 and (rc == 2 or "ENOENT" in err or "failed to find" in err):
        action = "created"
    elif rc != 0:
        module.fail_json(msg="ceph auth get %s failed (rc=%d): %s" % (p["entity"], rc, err.strip()))
    else:
        try:
            current = json.loads(out)[0]
        except (ValueError, IndexError, KeyError):
            module.fail_json(msg="ceph auth get %s returned unexpected output" % p["entity"])
        if current.get("key") != p["key"] or {str(k): str(v) for k, v in (current.get("caps") or {}).items()} != caps:
            action = "updated"
    if action != "none" and not module.check_mode:
        rc, out, err = module.run_command(base + ["auth", "import", "-i", "-"], data=keyring, binary_data=True)
        if rc != 0:
            module.fail_json(msg="ceph auth import %s failed (rc=%d): %s" % (p["entity"], rc, err.strip()))
    module.exit_json(changed=action != "none", action=action)


if __name__ == "__main__":
    main()
