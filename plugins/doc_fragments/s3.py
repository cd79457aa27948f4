# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The S3 connection options of the modules that talk to the site's RGW (model_publish, model_sync, ceph_s3_bucket);
their argument spec is module_utils/ceph_s3.S3_ARGUMENT_SPEC."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  endpoint:
    description: RGW endpoint URL, e.g. C(http://10.0.0.11:7480).
    type: str
    required: true
  access_key:
    description: S3 access key of the RGW user the module acts as (see the module's description for which one).
    type: str
    required: true
  secret_key:
    description: That user's S3 secret key (never logged).
    type: str
    required: true
  region:
    description: SigV4 region (the RGW zonegroup's api name; RGW accepts C(default)).
    type: str
    default: default
"""
