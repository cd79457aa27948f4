#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_secrets
short_description: Generate a Ceph cluster's fsid, cephx keys and S3 credentials once, in a 0600 file
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Meant to run on the controller (C(delegate_to=localhost), C(run_once)). Keeps C(<dir>/cluster.json) (mode
    0600, directory 0700) with the cluster fsid, one cephx key per entity in O(entities) and one S3 access/secret
    key pair per user in O(s3_users).
  - Missing values are generated (cephx keys in the format of C(ceph-authtool --gen-print-key)); existing values
    are never changed, so a re-run returns the same secrets and C(changed=false).
  - Refuses a file whose permissions let anyone but the owner read it, or whose keys are malformed.
  - Always use C(no_log=true) on the task; the return values are the secrets.
options:
  dir:
    description: Directory of the secrets file (created 0700).
    type: path
    required: true
  entities:
    description: cephx entity names that need a key (C(mon.), C(client.admin), C(mgr.NAME), ...).
    type: list
    elements: str
    default: []
  s3_users:
    description: RGW user ids that need S3 credentials.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: In check mode missing secrets are generated and returned but not written.
    support: full
  diff_mode:
    description: Secrets are never shown in a diff.
    support: none
"""

EXAMPLES = r"""
- name: Ceph secrets (controller)
  llmfleet.baremetal.ceph_secrets:
    dir: "{{ ceph_secrets_dir }}"
    entities: [mon., client.admin, client.bootstrap-osd]
    s3_users: [model-publisher, model-reader]
  delegate_to: localhost
  run_once: true
  no_log: true
  register: ceph_secrets
"""

RETURN = r"""
fsid:
  description: The cluster fsid.
  returned: always
  type: str
keys:
  description: cephx key of each entity.
  returned: always
  type: dict
s3:
  description: C({access_key, secret_key}) of each S3 user.
  returned: always
  type: dict
path:
  description: The secrets file.
  returned: always
  type: str
generated:
  description: Names of the values generated in this run.
  returned: always
  type: list
  elements: str
"""

import json
import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_keys import (
    CephKeyError, ENTITY_RE, gen_fsid, gen_key, gen_s3_credentials, is_fsid, parse_key)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            entities=dict(type="list", elements="str", default=[]),
            s3_users=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    sdir = module.params["dir"]
    path = os.path.join(sdir, "cluster.json")
    data = {}
    if os.path.exists(path):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            module.fail_json(msg="%s has mode %04o: a secrets file must be 0600 (chmod 600 it after checking who "
                                 "could read it)" % (path, mode))
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError as exc:
            module.fail_json(msg="%s is not JSON: %s" % (path, exc))
    data.setdefault("keys", {})
    data.setdefault("s3", {})
    generated = []
    if not data.get("fsid"):
        data["fsid"] = gen_fsid()
        generated.append("fsid")
    if not is_fsid(data["fsid"]):
        module.fail_json(msg="%s: fsid %r is not a UUID" % (path, data["fsid"]))
    for entity in module.params["entities"]:
        if not ENTITY_RE.match(entity):
            module.fail_json(msg="%r is not a Ceph entity name" % entity)
        if entity not in data["keys"]:
            data["keys"][entity] = gen_key()
            generated.append(entity)
        try:
            parse_key(data["keys"][entity])
        except CephKeyError as exc:
            module.fail_json(msg="%s: the key of %s is malformed: %s" % (path, entity, exc))
    for user in module.params["s3_users"]:
        if user not in data["s3"]:
            data["s3"][user] = gen_s3_credentials()
            generated.append("s3:" + user)
    changed = bool(generated)
    if changed and not module.check_mode:
        if not os.path.isdir(sdir):
            os.makedirs(sdir, 0o700)
        os.chmod(sdir, 0o700)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    module.exit_json(changed=changed, fsid=data["fsid"], keys=data["keys"], s3=data["s3"], path=path,
                     generated=generated)


if __name__ == "__main__":
    main()
