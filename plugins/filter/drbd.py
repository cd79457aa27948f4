# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filters around module_utils/drbd_split_brain (docs: the .yml sidecars, docs/ha.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils import drbd_split_brain
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain as _plain


def drbd_split_brain_plan(nodes, victim=None, resource="gw"):
    """none | clear | recover, with the victim and survivor, for the DRBD states of the pair."""
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Sequence):
        raise AnsibleFilterError("drbd_split_brain_plan takes a list of node states, got %s" % type(nodes).__name__)
    return drbd_split_brain.plan(_plain(nodes), victim=victim or None, resource=str(resource))


def drbd_split_brain_merge(victim_files, survivor_files, victim="victim", survivor="survivor"):
    """Per file: the victim's lines the survivor lacks, to append."""
    for arg in (victim_files, survivor_files):
        if not isinstance(arg, Mapping):
            raise AnsibleFilterError("drbd_split_brain_merge takes two dicts {path: text}, got %s" % type(arg).__name__)
    return drbd_split_brain.merge(_plain(victim_files), _plain(survivor_files), victim=str(victim),
                                  survivor=str(survivor))


def drbd_split_brain_differing(victim_files, victim_root, survivor_files, survivor_root):
    """The relative paths whose content differs between the victim's saved copy and the survivor."""
    for arg in (victim_files, survivor_files):
        if isinstance(arg, (str, bytes)) or not isinstance(arg, Sequence):
            raise AnsibleFilterError("drbd_split_brain_differing takes the files lists of ansible.builtin.find, got %s"
                                     % type(arg).__name__)
    return drbd_split_brain.differing(_plain(victim_files), str(victim_root), _plain(survivor_files), str(survivor_root))


class FilterModule(object):
    def filters(self):
        return {"drbd_split_brain_plan": drbd_split_brain_plan, "drbd_split_brain_merge": drbd_split_brain_merge,
                "drbd_split_brain_differing": drbd_split_brain_differing}
