#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: model_sync
short_description: Pull a named model version from S3 (Ceph RGW) to local disk, verified by sha256
version_added: "0.1.0"
author:
  - llmfleet engineers (@llmfleet)
description:
  - Reads C(s3://<bucket>/<name>/<version>/MANIFEST.sha256), downloads every file it lists with parallel range
    GETs into a staging directory, verifies every sha256 and renames the directory to C(<root>/<name>/<version>)
    with a C(.ready) marker. A mismatch fails and leaves nothing in place.
  - A version already present with the same manifest and a C(.ready) marker is left alone (C(changed=false)).
  - Returns the bytes moved and the throughput.
  - The S3 keys (O(access_key), O(secret_key)) are those of a read-only RGW user (the ceph role makes one per site).
extends_documentation_fragment:
  - llmfleet.baremetal.s3
options:
  bucket:
    description: Bucket of the models.
    type: str
    default: models
  name:
    description: Model name (first path component).
    type: str
    required: true
  version:
    description: Model version (second path component).
    type: str
    required: true
  root:
    description: Local model root (on NVMe).
    type: path
    default: /var/lib/llmfleet/models
  parallel:
    description: Concurrent range GETs.
    type: int
    default: 4
  part_size_mb:
    description: Size of one range GET in MiB.
    type: int
    default: 32
  force:
    description: Download and verify again even when the version is present.
    type: bool
    default: false
  reserve_mb:
    description:
      - Space (MiB) that must stay free on the filesystem of O(root) after the pull. The sizes of every file are
        asked before any byte is written; a version that does not fit fails naming the host, path, bytes needed
        and bytes free.
    type: int
    default: 1024
attributes:
  check_mode:
    description: Reads the manifest and reports whether a download would happen.
    support: full
  diff_mode:
    description: No diff.
    support: none
"""

EXAMPLES = r"""
- name: Pull deepseek-v3 2025-05 to NVMe
  llmfleet.baremetal.model_sync:
    endpoint: http://10.0.0.11:7480
    access_key: "{{ reader.access_key }}"
    secret_key: "{{ reader.secret_key }}"
    name: deepseek-v3
    version: "2025-05"
    root: /nvme/models
"""

RETURN = r"""
path:
  description: Local directory of the version.
  returned: always
  type: str
files:
  description: Number of files in the manifest.
  returned: always
  type: int
bytes:
  description: Bytes downloaded in this run.
  returned: always
  type: int
seconds:
  description: Download time.
  returned: always
  type: float
mb_per_s:
  description: Download throughput (MB/s, 10^6 bytes), null when nothing was downloaded.
  returned: always
  type: float
verify_seconds:
  description: Time spent verifying every file's sha256 after the download.
  returned: when a pull was needed
  type: float
verify_mb_per_s:
  description: Verification throughput (MB/s, 10^6 bytes).
  returned: when a pull was needed
  type: float
manifest_sha256:
  description: sha256 of the manifest.
  returned: always
  type: str
bytes_needed:
  description: Bytes of the version to pull (absent when it was already in place).
  returned: when a pull was needed
  type: int
bytes_free:
  description: Bytes free on the filesystem of O(root) before the pull.
  returned: when a pull was needed
  type: int
ready:
  description: The version is in place and verified.
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llmfleet.baremetal.plugins.module_utils.ceph_s3 import S3_ARGUMENT_SPEC, S3Client, S3Error, sync_model


def main():
    module = AnsibleModule(
        argument_spec=dict(
            S3_ARGUMENT_SPEC,
            bucket=dict(type="str", default="models"),
            name=dict(type="str", required=True),
            version=dict(type="str", required=True),
            root=dict(type="path", default="/var/lib/llmfleet/models"),
            parallel=dict(type="int", default=4),
            part_size_mb=dict(type="int", default=32),
            force=dict(type="bool", default=False),
            reserve_mb=dict(type="int", default=1024),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        client = S3Client(p["endpoint"], p["access_key"], p["secret_key"], p["region"], timeout=120)
        res = sync_model(client, p["bucket"], p["name"], p["version"], p["root"], parallel=p["parallel"],
                         part_size=p["part_size_mb"] << 20, check_mode=module.check_mode, force=p["force"],
                         reserve=p["reserve_mb"] << 20)
    except (S3Error, OSError) as exc:
        module.fail_json(msg="model_sync on %s: %s/%s: %s" % (os.uname()[1], p["name"], p["version"], exc))
    module.exit_json(**res)


if __name__ == "__main__":
    main()
