# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a host backs up, where to, how often and how long it is kept (docs/backup.md), planned on the controller.

A host's backup sets follow from what it runs (its inventory groups), so an operator names none by hand:

==================  ====================================  =======================  ===============================
set                 host                                  paths                    schedule / recovery point
==================  ====================================  =======================  ===============================
``gateway-audit``   every gateway host (HA: the node      ``<state>/audit``         every 5 minutes, RPO 5 min
                    that has the state volume mounted)
``gateway-state``   same                                  ``<state>`` (keys)        daily, RPO 24 h
``prometheus``      every monitoring host                 the TSDB directory       daily, RPO 24 h
``ceph-mon``        the first Ceph monitor                an export of the monmap,  daily, RPO 24 h
                                                          auth database and RGW
                                                          bucket metadata
==================  ====================================  =======================  ===============================

The controller's secrets (monitoring CA, Ceph keys, corosync key, DRBD secret, gateway keys) are backed up from the
controller by ``playbooks/backup.yml`` to the off-site repository; the repository password itself is kept apart
(docs/backup.md, "Key material").

Every set goes to two restic repositories: a local one on the host (fast restores after a mistake) and an off-site
one (``backup_offsite_repository``; a host's own sub-path), so a lost host is restored from the copy it did not
hold. Returns ``{"sets": [...], "repositories": [...], "retention": {...}, "problems": [...]}``; any problem names
the variable and the host and stops the plan before a host changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = ["plan_backup", "BACKUP_SETS", "SCHEDULES"]

# OnCalendar / recovery point (seconds) of each schedule name
SCHEDULES = {
    "5min": ("*:0/5", 300),
    "hourly": ("hourly", 3600),
    "daily": ("daily", 86400),
}

# set -> (group that has it, schedule, what it holds); paths and units are filled in by plan_backup
BACKUP_SETS = {
    "gateway-audit": ("gateway", "5min", "the gateway's audit log"),
    "gateway-state": ("gateway", "daily", "the gateway's key store and state"),
    "prometheus": ("monitoring", "daily", "Prometheus's TSDB (metrics history)"),
    "ceph-mon": ("ceph_first_mon", "daily", "the Ceph monmap, auth database and RGW bucket metadata"),
}

_REPO_RE = re.compile(r"^(/|sftp:|s3:|rest:|b2:|azure:|gs:|swift:|rclone:)")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _schedule(name, var, problems):
    if name not in SCHEDULES:
        problems.append("%s=%r: one of %s" % (var, name, ", ".join(sorted(SCHEDULES))))
        return SCHEDULES["daily"]
    return SCHEDULES[name]


def plan_backup(host, roles, gateway_state_dir="/srv/llmfleet-gateway", gateway_ha=False,
                prometheus_data_dir="/var/lib/prometheus/metrics2", local_repository="/var/backups/llmfleet/restic",
                offsite_repository="", keep_daily=7, keep_weekly=4, keep_monthly=6, exclude_sets=None,
                schedules=None, staging_dir="/var/lib/llmfleet-backup/staging", offsite_env_file=None):
    """The backup plan of one host. ``roles``: the subset of gateway, monitoring, ceph_first_mon this host has."""
    problems = []
    label = "%s: " % host
    roles = set(roles or [])
    exclude_sets = list(exclude_sets or [])
    schedules = dict(schedules or {})
    for name in exclude_sets:
        if name not in BACKUP_SETS:
            problems.append("%sbackup_exclude_sets: %r is no backup set (%s)" % (label, name, ", ".join(sorted(BACKUP_SETS))))
    for name in schedules:
        if name not in BACKUP_SETS:
            problems.append("%sbackup_schedules: %r is no backup set" % (label, name))
    if not str(local_repository).startswith("/"):
        problems.append("%sbackup_local_repository=%r must be an absolute path" % (label, local_repository))
    offsite = str(offsite_repository or "").rstrip("/")
    if not offsite:
        problems.append("%sbackup_offsite_repository is empty: a backup kept only on the host it protects is lost "
                        "with it (give a restic repository off the site: sftp:, s3:, rest:, ...)" % label)
    elif not _REPO_RE.match(offsite):
        problems.append("%sbackup_offsite_repository=%r is not a restic repository (a path or sftp:, s3:, rest:, ...)"
                        % (label, offsite))
    keep = {}
    for var, value in (("backup_keep_daily", keep_daily), ("backup_keep_weekly", keep_weekly),
                       ("backup_keep_monthly", keep_monthly)):
        try:
            keep[var[len("backup_keep_"):]] = int(value)
            if int(value) < 0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append("%s%s=%r must be a whole number >= 0" % (label, var, value))
    if keep and sum(keep.values()) == 0:
        problems.append("%sbackup_keep_daily/weekly/monthly are all 0: restic would forget every snapshot" % label)

    state = str(gateway_state_dir).rstrip("/")
    sets = []
    for name in sorted(BACKUP_SETS):
        role, default_schedule, what = BACKUP_SETS[name]
        if role not in roles or name in exclude_sets:
            continue
        calendar, rpo = _schedule(schedules.get(name, default_schedule), "backup_schedules.%s" % name, problems)
        # restore_phase: "before" the site converges a rebuilt host (its services start on the restored state) or
        # "after" it (the service's package must exist first: its user owns the restored files)
        entry = {"name": name, "what": what, "on_calendar": calendar, "rpo_seconds": rpo, "paths": [], "exclude": [],
                 "pre": None, "requires_mount": None, "restore_phase": "before", "restore_owner": None,
                 "restore_stop": [], "restore_start": []}
        if name == "gateway-audit":
            entry.update(paths=[state + "/audit"], requires_mount=state if gateway_ha else None)
        elif name == "gateway-state":
            entry.update(paths=[state], exclude=[state + "/audit", state + "/lost+found"],
                         requires_mount=state if gateway_ha else None)
        elif name == "prometheus":
            # blocks are immutable once written; the head's WAL is copied crash-consistent and replayed on restore
            entry.update(paths=[str(prometheus_data_dir).rstrip("/")], exclude=[str(prometheus_data_dir).rstrip("/") + "/lock"],
                         restore_phase="after", restore_owner="prometheus:prometheus",
                         restore_stop=["prometheus.service"], restore_start=["prometheus.service"])
        elif name == "ceph-mon":
            entry.update(paths=[staging_dir.rstrip("/") + "/ceph-mon"], pre="ceph-export")
        sets.append(entry)
    repos = [{"name": "local", "url": str(local_repository).rstrip("/")}]
    if offsite:
        repos.append({"name": "offsite", "url": "%s/%s" % (offsite, host), "env_file": offsite_env_file})
    return {"host": host, "sets": sets, "repositories": repos, "retention": keep, "problems": problems}
