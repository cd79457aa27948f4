# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fast path's input digest (module_utils/converge_stamp.py; docs/operations.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils import converge_stamp as cs

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_EXTRA_PREFIXES = ("llmfleet", "gpu_stack")
_CACHE = {}


def _collection_content():
    if "content" not in _CACHE:
        _CACHE["content"] = cs.content_digest(_ROOT)
    return _CACHE["content"]


def _prefixes():
    roles = os.path.join(_ROOT, "roles")
    names = [d for d in os.listdir(roles) if os.path.isdir(os.path.join(roles, d))] if os.path.isdir(roles) else []
    return tuple(names) + _EXTRA_PREFIXES


class _Wanted(Mapping):
    """A host's variables, resolved one at a time, only those host_inputs() asks for."""

    def __init__(self, hostvars):
        self._vars = hostvars
        self._keys = list(hostvars.keys())

    def __getitem__(self, key):
        try:
            return self._vars[key]
        except Exception as exc:  # an unresolvable variable is an input too: its error text stands for it
            return "<unresolvable: %s>" % type(exc).__name__

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)

    def get(self, key, default=None):
        return self[key] if key in self._keys else default


def fast_path_inputs(hostvars, hosts, this_host=None, raw=False):
    """The inputs of every host in ``hosts`` and of the collection's roles, plugins and playbooks, as
    module_utils/converge_stamp.inputs_summary() (``raw``: the inputs themselves, to see what is hashed)."""
    if not isinstance(hosts, (list, tuple)) or not hosts:
        raise AnsibleFilterError("fast_path_inputs takes hostvars, the list of the fleet's hosts (groups['all']) "
                                 "and this host's name, got hosts=%r" % (hosts,))
    prefixes = _prefixes()
    fleet = {}
    for host in sorted(hosts):
        try:
            fleet[host] = cs.host_inputs(_Wanted(hostvars[host]), prefixes)
        except KeyError:
            fleet[host] = None
    if raw:
        return fleet
    return cs.inputs_summary(fleet, this_host, _collection_content())


class FilterModule(object):
    def filters(self):
        return {"fast_path_inputs": fast_path_inputs}
