# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helper shared by the filter plugins: turn a planner's error into a filter error that names
the filter, so a failed template says which filter refused and why."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError


def named_filters(table, error_class):
    """Return {name: filter} for a {name: function} table; `error_class` raised by a function becomes an
    AnsibleFilterError whose message starts with the filter's name."""
    def wrap(name, func):
        @functools.wraps(func)
        def _filter(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except error_class as e:
                raise AnsibleFilterError("%s: %s" % (name, e))
        return _filter
    return dict((name, wrap(name, func)) for name, func in table.items())
