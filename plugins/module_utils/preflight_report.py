# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every host's pre-flight result as one list of violations and one text table (pure Python; the filters
preflight_violations / preflight_table name these, docs/preflight.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

__all__ = ["PreflightReportError", "COLUMNS", "preflight_violations", "preflight_table"]


class PreflightReportError(ValueError):
    """The input is not a list of hostvars or llmfleet_preflight reports."""


COLUMNS = ("host", "gpu", "check", "expected", "found")
_MAX_CELL = 44
_FACT = "llmfleet_preflight"


def _report(item):
    """(host name, preflight dict or None) from a hostvars entry or a preflight dict."""
    if not isinstance(item, Mapping):
        raise PreflightReportError("preflight filters take a list of hostvars (or llmfleet_preflight dicts), "
                                   "got an item of type %s" % type(item).__name__)
    if _FACT in item:
        rep = item[_FACT]
        name = item.get("inventory_hostname") or (rep or {}).get("host")
        return name, rep
    if "violations" in item:
        return item.get("host"), item
    return item.get("inventory_hostname"), None


def _reports(items):
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, (list, tuple)):
        raise PreflightReportError("preflight filters take a list, got %s" % type(items).__name__)
    return [_report(i) for i in items]


def preflight_violations(items):
    """Every violation of every host as one flat list; a host without a result gives a ``preflight`` violation."""
    out = []
    for name, rep in _reports(items):
        if not isinstance(rep, Mapping):
            out.append({"host": name, "gpu": None, "check": "preflight", "expected": "checked",
                        "found": "no result",
                        "message": "%s: no pre-flight result (the host failed or was unreachable before the check)"
                                   % name})
            continue
        for v in rep.get("violations") or []:
            row = dict(v)
            row.setdefault("host", name)
            out.append(row)
    return out


def _cell(value):
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 3] + "..."


def preflight_table(items, messages=True):
    """Text table ``# | host | gpu | check | expected | found`` of all violations on all hosts.

    Hosts whose GPU data is a replay are marked ``[replay]``.  With ``messages`` (default) the
    actionable message of each numbered row follows the table.
    """
    reports = _reports(items)
    replay = set(name for name, rep in reports
                 if isinstance(rep, Mapping) and rep.get("gpu_source") == "replay")
    rows = preflight_violations(items)
    failing = sorted(set(str(r.get("host")) for r in rows))
    head = "PRE-FLIGHT: %d violation(s) on %d of %d host(s)" % (len(rows), len(failing), len(reports))
    if replay:
        head += "; GPU data REPLAYED (recorded snapshots) on: %s" % ", ".join(sorted(str(h) for h in replay))
    if not rows:
        return head + "\n(all hosts pass)"
    cells = []
    for n, r in enumerate(rows, 1):
        host = str(r.get("host"))
        if host in replay:
            host += " [replay]"
        cells.append([str(n), _cell(host)] + [_cell(r.get(k)) for k in COLUMNS[1:]])
    header = ["#"] + list(COLUMNS)
    widths = [max(len(header[i]), max(len(row[i]) for row in cells)) for i in range(len(header))]

    def line(vals):
        return "| " + " | ".join(v.ljust(widths[i]) for i, v in enumerate(vals)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [head, line(header), sep] + [line(row) for row in cells]
    if messages:
        out.append("")
        for n, r in enumerate(rows, 1):
            out.append("%d. %s" % (n, " ".join(str(r.get("message") or "").split())))
    return "\n".join(out)
