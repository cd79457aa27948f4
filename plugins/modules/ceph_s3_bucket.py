#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ceph_s3_bucket
short_description: Create an RGW bucket as its owner and give read-only users a bucket policy
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Talks S3 (AWS Signature V4, Python standard library) to O(endpoint) as the bucket owner, creates O(name)
    when missing and sets a bucket policy that lets O(readers) list the bucket and get its objects and nothing
    else (no put, no delete, no other bucket).
  - The S3 keys (O(access_key), O(secret_key)) are those of the bucket's owner.
extends_documentation_fragment:
  - llmfleet.baremetal.s3
options:
  name:
    description: Bucket name.
    type: str
    required: true
  readers:
    description: RGW user ids granted read-only access.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reports whether the bucket or its policy would change.
    support: full
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Models bucket
  llmfleet.baremetal.ceph_s3_bucket:
    endpoint: http://10.0.0.11:7480
    access_key: "{{ publisher.access_key }}"
    secret_key: "{{ publisher.secret_key }}"
    name: models
    readers: [model-reader]
  no_log: true
"""

RETURN = r"""
created:
  description: Whether the bucket was created.
  returned: always
  type: bool
policy_changed:
  description: Whether the policy was (re)set.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_s3 import (
    S3_ARGUMENT_SPEC, S3Client, S3Error, ensure_bucket, read_only_policy)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            S3_ARGUMENT_SPEC,
            name=dict(type="str", required=True),
            readers=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        client = S3Client(p["endpoint"], p["access_key"], p["secret_key"], p["region"])
        policy = read_only_policy(p["name"], p["readers"]) if p["readers"] else None
        res = ensure_bucket(client, p["name"], policy, check_mode=module.check_mode)
    except S3Error as exc:
        module.fail_json(msg="bucket %s at %s: %s" % (p["name"], p["endpoint"], exc))
    module.exit_json(changed=res["changed"], created=res["created"], policy_changed=res["policy_changed"])


if __name__ == "__main__":
    main()
