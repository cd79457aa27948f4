#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: model_publish
short_description: Register a model version in the site's model store (S3), every file and the manifest last
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Uploads the files of O(src) (a directory where the module runs, normally the controller) to
    C(<bucket>/<name>/<version>/) and C(MANIFEST.sha256) last, so a GPU node's model sync never sees a
    half-written version. The same code as C(llmfleet model push).
  - Versions are immutable. The same content under the same version again changes nothing; other content under an
    existing version fails, naming it.
  - The S3 keys (O(access_key), O(secret_key)) are those of the publisher, an RGW user with write access to the bucket.
extends_documentation_fragment:
  - llmfleet.baremetal.s3
options:
  bucket:
    description: The models bucket.
    type: str
    required: true
  name:
    description: Model name (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  version:
    description: Version (same characters as O(name)); empty means the content's digest, C(sha256-<12 hex>).
    type: str
    default: ""
  src:
    description: Directory holding the model's files.
    type: path
    required: true
  files:
    description: Paths relative to O(src) to publish; empty publishes every regular file under it.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reports whether the version would be published; uploads nothing.
    support: full
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Publish tiny/v1 from the controller
  llmfleet.baremetal.model_publish:
    endpoint: http://10.0.0.11:7480
    access_key: "{{ publisher.access_key }}"
    secret_key: "{{ publisher.secret_key }}"
    bucket: models
    name: tiny
    version: v1
    src: /srv/model-src/tiny
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
version:
  description: The version published or found (the content's digest where none was given).
  returned: always
  type: str
files:
  description: Number of files in the manifest.
  returned: always
  type: int
bytes:
  description: Bytes in the version.
  returned: always
  type: int
already_published:
  description: Whether the store already held this version with the same manifest.
  returned: always
  type: bool
seconds:
  description: Upload time.
  returned: when uploaded
  type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_s3 import (
    S3_ARGUMENT_SPEC, PublishError, S3Client, S3Error, publish_version)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            S3_ARGUMENT_SPEC,
            bucket=dict(type="str", required=True),
            name=dict(type="str", required=True),
            version=dict(type="str", default=""),
            src=dict(type="path", required=True),
            files=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        client = S3Client(p["endpoint"], p["access_key"], p["secret_key"], p["region"])
        res = publish_version(client, p["bucket"], p["name"], p["version"] or None, p["src"], files=p["files"],
                              check_mode=module.check_mode)
    except PublishError as exc:
        module.fail_json(msg="model %s: %s" % (p["name"], exc))
    except S3Error as exc:
        module.fail_json(msg="model %s at %s: %s" % (p["name"], p["endpoint"], exc))
    module.exit_json(**res)


if __name__ == "__main__":
    main()
