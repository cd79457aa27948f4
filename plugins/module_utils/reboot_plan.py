# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rolling reboots of a site run (playbooks/reboot.yml): which hosts reboot together.

Pure Python, no Ansible imports (unit-tested in tests/unit/test_reboot_plan.py). The layers of a site run that need a
reboot (a new driver, a sysctl that cannot be applied live, a vendor RDMA stack; each only where its
``<role>_reboot_ok`` allows it) leave a marker on the host instead of rebooting at once; the reboot layer then reboots
the marked hosts in batches of ``llmfleet_reboot_serial``, in inventory order, with at most one host of each
``llmfleet_reboot_apart`` set in any batch: by default the HA gateway pair (never both gateways at once) and the
storage nodes (one Ceph host at a time, the cluster healthy again before the next).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class RebootPlanError(ValueError):
    """An input the reboot layer cannot plan with (names the variable)."""


def _serial(value):
    if isinstance(value, str) and value.strip().isdigit():  # -e llmfleet_reboot_serial=2 gives a string
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RebootPlanError("llmfleet_reboot_serial must be a whole number of hosts >= 1 (got %r)" % (value,))
    return value


def _apart_sets(apart):
    if not isinstance(apart, (list, tuple)):
        raise RebootPlanError("llmfleet_reboot_apart must be a list of host lists (got %s)" % type(apart).__name__)
    sets = []
    for i, members in enumerate(apart):
        if isinstance(members, str) or not isinstance(members, (list, tuple)) \
                or not all(isinstance(m, str) for m in members):
            raise RebootPlanError("llmfleet_reboot_apart[%d] must be a list of host names (got %r)" % (i, members))
        sets.append(frozenset(members))
    return sets


def plan_reboots(pending, serial, apart=(), order=None):
    """Batches for the hosts in PENDING ({host: [reason, ...]}; hosts with no reason are left out).

    ORDER: the hosts in inventory order (default: PENDING's order). Each batch holds at most SERIAL hosts and at most
    one host of each APART set; a host goes into the first batch that has room for it, so the batches keep inventory
    order as far as the sets allow. Returns {"batches": [[host, ...], ...], "sizes": [len, ...], "order": [host, ...],
    "reasons": {host: [reason, ...]}}: "order" is the batches joined, "sizes" the play's ``serial`` list.
    """
    serial = _serial(serial)
    sets = _apart_sets(apart)
    if not isinstance(pending, dict):
        raise RebootPlanError("the hosts' reboot markers must be a dict of host: reasons (got %s)"
                              % type(pending).__name__)
    hosts = [h for h in (order if order is not None else list(pending)) if pending.get(h)]
    unknown = sorted(set(h for h, reasons in pending.items() if reasons) - set(hosts))
    hosts.extend(unknown)
    batches = []
    for host in hosts:
        mine = [s for s in sets if host in s]
        for batch in batches:
            if len(batch) < serial and not any(other in s for s in mine for other in batch):
                batch.append(host)
                break
        else:
            batches.append([host])
    order_out = [h for batch in batches for h in batch]
    return {"batches": batches, "sizes": [len(b) for b in batches], "order": order_out,
            "reasons": dict((h, list(pending[h])) for h in order_out)}


def describe(plan):
    """One line per batch, for the play's output: 'batch 1/2: hagw1 (nvidia_driver: driver 580 installed)'."""
    n = len(plan["batches"])
    if not n:
        return ["no host needs a reboot"]
    return ["batch %d/%d: %s" % (i + 1, n, ", ".join(
        "%s (%s)" % (h, "; ".join(plan["reasons"].get(h, []))) for h in batch)) for i, batch in enumerate(plan["batches"])]
