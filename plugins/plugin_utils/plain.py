# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side helper shared by the filter plugins: Ansible's lazy containers and tagged (unsafe) strings as
plain Python values, so the pure planners in module_utils never see an Ansible type."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping


def plain(value):
    """Mappings -> dict (int keys kept, other keys as str), lists/tuples -> list, bool/None/int/float as they are,
    every other value (tagged strings included) -> str."""
    if isinstance(value, Mapping):
        return dict((k if isinstance(k, int) and not isinstance(k, bool) else str(k), plain(v))
                    for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)
