# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge stamps: the fast path of a site.yml re-run that has nothing to do (docs/operations.md).

At the end of a full, successful site.yml run every host gets a stamp: the digest of everything the controller
decided from (the collection's own code, every host's llmfleet variables, the pre-flight facts) and a
fingerprint of what the roles manage on the host (files under the watched trees, live kernel settings, installed
packages, service states, kernel and boot).  The next run skips every layer on a host only when both are
unchanged and the stamp is younger than a maximum age; anything else takes the full path, and the reasons are
named (``files changed under /etc: /etc/sysctl.d/90-llmfleet.conf (modified)``).

Pure functions, no Ansible imports: the controller side (``inputs_digest``) runs in a filter plugin, the host side
(``fingerprint``, ``compare``) in the ``converge_stamp`` module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import glob
import hashlib
import json
import os
import re
import stat

SCHEMA = "llmfleet.converge_stamp/v1"

# Variables that describe the fast path itself, facts of llmfleet's probe modules (taken in through the
# projections below: they carry timestamps and counters), and facts written by later layers of the same run.
_EXCLUDED_VARS = re.compile(r"^llmfleet_(fast_path.*|gpu|host|rdma|model_server_restarts|rolling_instances"
                            r"|model_servers|gpu_stack|rdma_verify|rdma_nccl_env|rdma_fabric_ports|rdma_gpudirect|placement|numa"
                            r"|model_storage|dcgm_exporter)$")
_PLAIN_KEYS = ("ansible_host", "ansible_port", "group_names")
_GPU_KEYS = ("index", "name", "uuid", "pci_bus_id", "architecture", "compute_capability", "memory_total_mib",
             "numa_node", "cpu_affinity", "mig_current")
_SERVICE_SKIP = ("user@*.service", "user-runtime-dir@*.service", "session-*.scope")
MAX_NAMED = 5


def canonical_digest(value):
    """sha256 of a canonical JSON rendering (sorted keys; anything JSON cannot say is rendered with str)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- controller side ------------------------------------------------------------------------------------------------

def content_digest(root, subdirs=("roles", "plugins", "playbooks")):
    """Digest of the collection's own files: a new llmfleet release (or a local edit) is a new input."""
    h = hashlib.sha256()
    for sub in subdirs:
        base = os.path.join(root, sub)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, root).encode("utf-8") + b"\0")
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def gpu_projection(snapshot):
    """The parts of a GPU snapshot that decide what is deployed (no temperatures, clocks or link counters)."""
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    return {
        "driver_version": snapshot.get("driver_version"),
        "cuda_driver_version": snapshot.get("cuda_driver_version"),
        "source": snapshot.get("source"),
        "gpus": [{k: g.get(k) for k in _GPU_KEYS} for g in snapshot.get("gpus") or [] if isinstance(g, dict)],
    }


def host_projection(probe):
    """The parts of a host probe that decide what is deployed (no free memory, timestamps or link states)."""
    probe = probe if isinstance(probe, dict) else {}
    numa = probe.get("numa") or {}
    cpu = probe.get("cpu") or {}
    return {
        "cpu": {k: cpu.get(k) for k in ("logical_cpus", "online", "present")},
        "numa": [{k: n.get(k) for k in ("node", "cpulist", "distance")} for n in numa.get("nodes") or []
                 if isinstance(n, dict)],
        "nics": sorted([{k: n.get(k) for k in ("name", "mac", "numa_node", "kind", "driver", "pci_address")}
                        for n in probe.get("nics") or [] if isinstance(n, dict)], key=lambda n: str(n.get("name"))),
        "rdma": probe.get("rdma") or [],
        "nvidia_pci": probe.get("nvidia_pci") or [],
        "nvidia_driver": probe.get("nvidia_driver"),
        "kernel": (probe.get("kernel") or {}).get("release"),
        "iommu_mode": (probe.get("iommu") or {}).get("mode"),
        "boot_cmdline": probe.get("boot_cmdline"),
        "hugepages_total": (probe.get("memory") or {}).get("hugepages_total"),
    }


def host_inputs(hostvars, prefixes):
    """What one host contributes to the decisions: its variables with an llmfleet prefix, its groups, its
    address, the pre-flight decisions and a projection of its hardware facts."""
    wanted = re.compile(r"^(%s)_" % "|".join(re.escape(p) for p in sorted(set(prefixes))))
    out = {}
    for key in sorted(hostvars):
        if (wanted.match(key) and not _EXCLUDED_VARS.match(key)) or key in _PLAIN_KEYS:
            out[key] = hostvars[key]
    preflight = out.pop("llmfleet_preflight", None) or {}
    out["llmfleet_preflight"] = {k: preflight.get(k) for k in ("passed", "checks", "violations", "expect")}
    facts = hostvars.get("ansible_facts") or {}
    out["__gpu"] = gpu_projection(facts.get("llmfleet_gpu"))
    out["__host"] = host_projection(facts.get("llmfleet_host"))
    return out


def inputs_summary(fleet_inputs, this_host, content):
    """The inputs of a run as the stamp keeps them: the fleet-wide ``digest`` (the whole fleet's inputs and the
    collection content), and per-variable digests of this host and per-host digests of the others so that a
    change can be named.

    Fleet-wide on purpose: one host's configuration can depend on another's (the monitoring server scrapes every
    GPU node's model servers), so an inventory change anywhere sends every host down the full path."""
    mine = fleet_inputs.get(this_host) or {}
    return {
        "digest": canonical_digest({"schema": SCHEMA, "content": content, "fleet": fleet_inputs}),
        "content": content,
        "vars": {k: canonical_digest(v) for k, v in mine.items()},
        "hosts": {h: canonical_digest(v) for h, v in fleet_inputs.items() if h != this_host},
    }


def _input_changes(old, new):
    """Names of what changed between two inputs_summary() results."""
    old, new = old or {}, new or {}
    named = []
    if old.get("content") != new.get("content"):
        named.append("llmfleet's roles, plugins or playbooks")
    # this host's own variables before the other hosts (a fleet-wide change lists every host; the operator looks
    # for what changed here first)
    named += sorted(c.replace(" (", " (this host, ", 1) for c in _dict_changes(old.get("vars"), new.get("vars")))
    named += sorted("host " + c for c in _dict_changes(old.get("hosts"), new.get("hosts")))
    return named


# --- host side ------------------------------------------------------------------------------------------------------

def _read(path):
    try:
        with open(path, "r") as fh:
            return " ".join(fh.read().split())
    except (IOError, OSError):
        return None


def tree_entries(top, exclude=()):
    """``{path: "type mode uid gid size mtime_ns [link]"}`` of everything under ``top`` (not following links)."""
    entries = {}

    def excluded(path):
        return any(fnmatch.fnmatch(path, pat) for pat in exclude)

    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in sorted(dirnames) if not excluded(os.path.join(dirpath, d))]
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            if excluded(path):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                try:
                    link = os.readlink(path)
                except OSError:
                    link = "?"
                entries[path] = "l %s" % link
            elif stat.S_ISREG(st.st_mode):
                entries[path] = "f %o %d %d %d %d" % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size,
                                                      st.st_mtime_ns)
    return entries


def sysctl_keys(patterns):
    """Keys set by the sysctl.d files matching ``patterns`` (``key = value`` lines; comments skipped)."""
    keys = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                with open(path, "r") as fh:
                    lines = fh.read().splitlines()
            except (IOError, OSError):
                continue
            for line in lines:
                line = line.strip()
                if not line or line[0] in "#;" or "=" not in line:
                    continue
                keys.add(line.split("=", 1)[0].strip().lstrip("-"))
    return sorted(keys)


def parse_dpkg_status(text):
    """``{package[:arch]: "version status"}`` from /var/lib/dpkg/status."""
    packages = {}
    for para in text.split("\n\n"):
        fields = {}
        for line in para.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key] = value.strip()
        name = fields.get("Package")
        if not name:
            continue
        if fields.get("Architecture") not in (None, "all", ""):
            name = "%s:%s" % (name, fields["Architecture"])
        packages[name] = "%s %s" % (fields.get("Version", ""), fields.get("Status", ""))
    return packages


def parse_units(list_units, list_unit_files):
    """Active, failed and enabled units from ``systemctl list-units`` / ``list-unit-files`` (--plain --no-legend)."""
    active, failed, enabled = [], [], []
    for line in list_units.splitlines():
        cols = line.split()
        if len(cols) < 4 or any(fnmatch.fnmatch(cols[0], pat) for pat in _SERVICE_SKIP):
            continue
        if cols[2] == "active":
            active.append(cols[0])
        elif cols[2] == "failed":
            failed.append(cols[0])
    for line in list_unit_files.splitlines():
        cols = line.split()
        if len(cols) >= 2 and cols[1] == "enabled":
            enabled.append(cols[0])
    return {"active": sorted(active), "failed": sorted(failed), "enabled": sorted(enabled)}


def fingerprint(watch, units=None, dpkg_status=None):
    """What the host looks like now, for the parts llmfleet manages.

    ``watch``: ``trees`` (directories walked), ``exclude`` (globs), ``live`` (files read as they are now, globs),
    ``sysctl_files`` (globs of sysctl.d files whose keys are read live from /proc/sys).  ``units``: parse_units()
    output or None (no systemd); ``dpkg_status``: the text of /var/lib/dpkg/status or None.
    """
    exclude = list(watch.get("exclude") or [])
    files = {}
    for top in watch.get("trees") or []:
        files.update(tree_entries(top, exclude))
    live = {}
    for pattern in watch.get("live") or []:
        for path in sorted(glob.glob(pattern)) or [pattern]:
            live[path] = _read(path)
    sysctl = {}
    for key in sysctl_keys(watch.get("sysctl_files") or []):
        sysctl[key] = _read(os.path.join("/proc/sys", key.replace(".", "/")))
    return {
        "kernel": _read("/proc/sys/kernel/osrelease"),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "files": files,
        "live": live,
        "sysctl": sysctl,
        "packages": parse_dpkg_status(dpkg_status) if dpkg_status is not None else None,
        "units": units,
    }


def _named(items, what, ordered=False):
    """``what: a, b, c and N more``; sorted unless ``ordered`` (the caller's order is the order of importance)."""
    items = list(items) if ordered else sorted(items)
    shown = ", ".join(items[:MAX_NAMED])
    more = " and %d more" % (len(items) - MAX_NAMED) if len(items) > MAX_NAMED else ""
    return "%s: %s%s" % (what, shown, more)


def _dict_changes(old, new):
    old, new = old or {}, new or {}
    changed = ["%s (modified)" % k for k in old if k in new and old[k] != new[k]]
    changed += ["%s (removed)" % k for k in old if k not in new]
    changed += ["%s (added)" % k for k in new if k not in old]
    return changed


def compare(stamp, inputs, current, now, max_age=0):
    """Why this host cannot take the fast path (an empty list: it can).

    ``stamp``: the recorded stamp (dict) or None; ``inputs``: this run's inputs_summary(); ``current``:
    fingerprint() now; ``now``: epoch seconds; ``max_age``: seconds (0: no limit)."""
    if not isinstance(stamp, dict):
        return ["no converge stamp (first run with the fast path, or the last run did not finish on this host)"]
    if stamp.get("schema") != SCHEMA:
        return ["converge stamp has schema %r, this llmfleet writes %r" % (stamp.get("schema"), SCHEMA)]
    reasons = []
    if (stamp.get("inputs") or {}).get("digest") != inputs.get("digest"):
        reasons.append(_named(_input_changes(stamp.get("inputs"), inputs) or ["(not named)"],
                              "inputs changed since the last converge", ordered=True))
    age = now - float(stamp.get("verified_at") or 0)
    if max_age and age > max_age:
        reasons.append("last full converge %d s ago, older than llmfleet_fast_path_max_age (%d s)" % (age, max_age))
    old = stamp.get("fingerprint") or {}
    if old.get("kernel") != current.get("kernel"):
        reasons.append("kernel changed: %s -> %s" % (old.get("kernel"), current.get("kernel")))
    elif old.get("boot_id") != current.get("boot_id"):
        reasons.append("host rebooted since the last converge")
    changes = _dict_changes(old.get("files"), current.get("files"))
    if changes:
        reasons.append(_named(changes, "managed files changed"))
    changes = _dict_changes(old.get("live"), current.get("live"))
    changes += _dict_changes(old.get("sysctl"), current.get("sysctl"))
    if changes:
        reasons.append(_named(changes, "live kernel settings changed"))
    if old.get("packages") != current.get("packages"):
        reasons.append(_named(_dict_changes(old.get("packages"), current.get("packages")) or ["(status unreadable)"],
                              "packages changed"))
    old_units, new_units = old.get("units") or {}, current.get("units") or {}
    unit_changes = ["%s (no longer active)" % u for u in old_units.get("active", [])
                    if u not in new_units.get("active", [])]
    unit_changes += ["%s (no longer enabled)" % u for u in old_units.get("enabled", [])
                     if u not in new_units.get("enabled", [])]
    unit_changes += ["%s (failed)" % u for u in new_units.get("failed", []) if u not in old_units.get("failed", [])]
    if unit_changes:
        reasons.append(_named(unit_changes, "services changed"))
    return reasons


def same_state(stamp, inputs, current, facts):
    """Whether a new stamp would record the same thing as ``stamp`` (its time aside)."""
    return (isinstance(stamp, dict) and stamp.get("schema") == SCHEMA and stamp.get("inputs") == inputs
            and stamp.get("fingerprint") == current and stamp.get("facts") == facts)
