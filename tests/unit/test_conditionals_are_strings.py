# -*- coding: utf-8 -*-
# Copyright: (c) 2025, llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every conditional in the project's YAML is a string (or a bool): a plain scalar with ": " in it is a mapping to
YAML, which ansible-lint passes and ansible-core 2.19 refuses only when the task runs ("Conditional expressions must
be strings") - found in a lab's verify at run time (2026-12-06)."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KEYS = ("that", "when", "failed_when", "changed_when", "until")
FILES = sorted(f for pattern in ("roles/**/*.yml", "playbooks/*.yml", "molecule/**/*.yml", "lab/**/*.yml")
               for f in glob.glob(os.path.join(REPO, pattern), recursive=True))


def conditionals(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in KEYS:
                yield from (value if isinstance(value, list) else [value])
            yield from conditionals(value)
    elif isinstance(node, list):
        for item in node:
            yield from conditionals(item)


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, REPO))
def test_every_conditional_is_a_string(path):
    with open(path) as fh:
        data = yaml.safe_load(fh)
    bad = [c for c in conditionals(data) if not isinstance(c, (str, bool))]
    assert not bad, "%s: conditionals YAML did not read as strings (quote them: ': ' inside): %s" % (
        os.path.relpath(path, REPO), bad)
