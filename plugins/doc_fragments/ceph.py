# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The option every module that runs the ceph CLI on a monitor shares (ceph_auth, ceph_health, ceph_osd,
ceph_pools)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  cluster:
    description: Cluster name (the C(--cluster) of every ceph command; C(/etc/ceph/<cluster>.conf)).
    type: str
    default: ceph
"""
