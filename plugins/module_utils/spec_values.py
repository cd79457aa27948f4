# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values of model-server specs that both planners (serving_plan for instances, serving_groups for groups) check
the same way.

* Names of environment variables that hold secrets (docs/security.md, "Model-server secrets"). A model server's
  ``env`` is written into its unit file and ``/etc/llmfleet/model-servers.json`` (both world-readable) and shown by
  ``systemctl show``: a variable named like a secret is refused there by the planners, and belongs in
  ``model_server_secret_env`` (a 0600 root-only environment file the unit reads).
* ``memory_max``: a size as systemd writes it (bytes, or K/M/G/T suffixed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = ["SECRET_NAME", "secret_env_names", "memory_size"]

# HF_TOKEN, HUGGING_FACE_HUB_TOKEN, *_API_KEY, *_SECRET*, *PASSWORD*, *_ACCESS_KEY*, *PRIVATE_KEY*, *CREDENTIAL*
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)


def secret_env_names(env):
    """The names in ``env`` (a dict) that look like secrets, sorted."""
    return sorted(str(k) for k in (env or {}) if SECRET_NAME.search(str(k)))


def memory_size(value):
    """``value`` as a systemd size string (``48G``, ``640M``, bytes), None when unset; ValueError otherwise."""
    if value in (None, ""):
        return None
    if not re.match(r"^[0-9]+[KMGT]?$", str(value)):
        raise ValueError("%r is not a size like 48G or 640M" % (value,))
    return str(value)
