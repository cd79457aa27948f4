# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named sysctl profiles of llmfleet (data) and the logic to merge, validate, render and apply them.

Every value carries the reason it is set and where it comes from: ``seed 00x`` are the deployment articles
in the project's seeds, ``kernel doc`` is Documentation/admin-guide/sysctl/*.rst or networking/ip-sysctl.rst
of the Linux kernel. ``reboot: True`` marks keys whose new value only takes full effect after a reboot.

Pure Python (no Ansible import): used by the module ``sysctl_apply`` and by the unit tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import errno
import os
import re

SEED_SYSCTL = "seed 000 (DeepSeek local deployment guide, /etc/sysctl.conf tuning)"
SEED_WINDOW = "seed 000 (network tuning: TCP window size, net.ipv4.tcp_window_scaling)"
SEED_BBR = "seed 002 + seed 004 (TCP BBR congestion control)"
DOC_VM = "kernel doc admin-guide/sysctl/vm.rst"
DOC_NET = "kernel doc networking/ip-sysctl.rst"
DOC_CORE = "kernel doc admin-guide/sysctl/net.rst"
DOC_KERNEL = "kernel doc admin-guide/sysctl/kernel.rst"


def _s(value, reason, source, reboot=False):
    return {"value": value, "reason": reason, "source": source, "reboot": reboot}


# Common building blocks (copied into each profile so that every profile reads complete on its own).
_BBR = {
    "net.core.default_qdisc": _s(
        "fq", "BBR paces its packets; fq is the qdisc that implements pacing. Only new qdiscs get the default, "
        "NICs that are already up keep theirs until they are re-created: a reboot makes every NIC use fq",
        SEED_BBR + "; " + DOC_CORE, reboot=True),
    "net.ipv4.tcp_congestion_control": _s(
        "bbr", "model-based congestion control: less queueing delay and latency jitter than cubic on long "
        "transfers (needs the tcp_bbr module, loaded at boot through /etc/modules-load.d)", SEED_BBR),
    "net.ipv4.tcp_window_scaling": _s(
        1, "windows above 64 KiB; without it a high bandwidth-delay path can never fill the link", SEED_WINDOW),
}
_BIG_BUFFERS = {
    "net.core.rmem_max": _s(268435456, "let sockets (and tcp autotuning) grow receive buffers to 256 MiB "
                                       "for multi-GB model/checkpoint transfers", DOC_CORE),
    "net.core.wmem_max": _s(268435456, "same limit for send buffers", DOC_CORE),
    "net.ipv4.tcp_rmem": _s("4096 131072 268435456", "tcp receive autotuning: min, default, max (max = rmem_max)",
                            DOC_NET),
    "net.ipv4.tcp_wmem": _s("4096 65536 268435456", "tcp send autotuning: min, default, max (max = wmem_max)",
                            DOC_NET),
}

PROFILES = {
    "llm_serving": dict(
        [
            ("vm.swappiness", _s(10, "keep model weights, KV-cache host buffers and the page cache of the weights in "
                                     "RAM; swap only under real pressure", SEED_SYSCTL)),
            ("vm.dirty_background_ratio", _s(5, "start background writeback early so that logs/checkpoints never "
                                                "pile up GBs of dirty pages", SEED_SYSCTL)),
            ("vm.dirty_ratio", _s(10, "cap dirty pages at 10% of RAM: a writer blocks before a flush storm stalls "
                                      "the inference process", SEED_SYSCTL)),
            ("vm.max_map_count", _s(1048576, "mmap-loaded safetensors and CUDA host allocations need many "
                                             "memory maps (default 65530)", DOC_VM)),
            ("net.core.somaxconn", _s(65535, "accept queue for bursts of client connections to the serving "
                                             "endpoint", SEED_SYSCTL)),
            ("net.ipv4.tcp_max_syn_backlog", _s(65535, "SYN queue sized like the accept queue (somaxconn)",
                                                DOC_NET)),
            ("net.ipv4.tcp_slow_start_after_idle", _s(0, "keep the congestion window between bursty streamed "
                                                         "responses instead of restarting slow start", DOC_NET)),
        ]
        + sorted(_BBR.items()) + sorted(_BIG_BUFFERS.items())
    ),
    "storage": dict(
        [
            ("vm.swappiness", _s(10, "storage daemons (DRBD, NFS, object store) must not be swapped out",
                                 SEED_SYSCTL)),
            ("vm.dirty_background_ratio", _s(5, "write back early and steadily: replication links see an even "
                                                "stream, not bursts", SEED_SYSCTL)),
            ("vm.dirty_ratio", _s(10, "bound the dirty page cache so a sync or failover never waits for GBs "
                                      "of writeback", SEED_SYSCTL)),
            ("vm.vfs_cache_pressure", _s(50, "keep dentries and inodes cached for large directory trees of model "
                                             "files", DOC_VM)),
            ("net.core.somaxconn", _s(4096, "enough accept queue for the fleet's storage clients", SEED_SYSCTL)),
        ]
        + sorted(_BBR.items()) + sorted(_BIG_BUFFERS.items())
    ),
    "gateway": dict(
        [
            ("vm.swappiness", _s(10, "the proxy and keepalived stay in RAM: a swapped-out gateway misses VRRP "
                                     "adverts and flaps", SEED_SYSCTL)),
            ("net.core.somaxconn", _s(65535, "accept queue for the client connection bursts a gateway takes",
                                      SEED_SYSCTL)),
            ("net.ipv4.tcp_max_syn_backlog", _s(65535, "SYN queue sized like the accept queue", DOC_NET)),
            ("net.ipv4.ip_local_port_range", _s("10240 65535", "more source ports for the many upstream "
                                                               "connections a proxy opens", DOC_NET)),
            ("net.ipv4.tcp_tw_reuse", _s(1, "reuse TIME-WAIT sockets for new outgoing upstream connections",
                                         DOC_NET)),
            ("net.ipv4.tcp_fin_timeout", _s(15, "release orphaned FIN-WAIT-2 sockets sooner", DOC_NET)),
            ("net.ipv4.ip_nonlocal_bind", _s(1, "the proxy binds the floating VIP before keepalived moved it "
                                                "to this node", DOC_NET)),
        ]
        + sorted(_BBR.items())
    ),
}

# Keys the kernel shows only in the initial network namespace (not inside a container's own netns).
INIT_NETNS_ONLY = frozenset([
    "net.core.default_qdisc", "net.core.netdev_max_backlog", "net.core.netdev_budget",
    "net.core.netdev_budget_usecs", "net.core.busy_poll", "net.core.busy_read", "net.core.dev_weight",
    "net.core.rps_sock_flow_entries", "net.core.bpf_jit_enable", "net.core.message_cost",
])

# Values that need a kernel module: key -> {value: module}
MODULES_FOR = {
    "net.ipv4.tcp_congestion_control": {"bbr": "tcp_bbr", "htcp": "tcp_htcp", "dctcp": "tcp_dctcp"},
    "net.core.default_qdisc": {"fq": "sch_fq", "fq_codel": "sch_fq_codel", "cake": "sch_cake"},
}
# Where the kernel lists what a module made available (key -> file under /proc/sys).
AVAILABLE_LIST = {"net.ipv4.tcp_congestion_control": "net/ipv4/tcp_available_congestion_control"}

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)+$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.:,+-]+$")


class ProfileError(Exception):
    """A profile or override that cannot be used (unknown profile, malformed key or value)."""


def profile_names():
    return sorted(PROFILES)


def normalize_value(value):
    """Canonical text of a sysctl value: ints as decimal, lists and whitespace runs as single spaces."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return " ".join(normalize_value(v) for v in value)
    return " ".join(str(value).split())


def value_kind(text):
    """('int', 1), ('ints', n) or ('str', 1) of a normalized value."""
    fields = text.split()
    if fields and all(re.match(r"^-?\d+$", f) for f in fields):
        return ("int", 1) if len(fields) == 1 else ("ints", len(fields))
    return ("str", len(fields))


def merge_profile(name, overrides=None, extra=None, overrides_var="sysctl_tuning_overrides"):
    """Profile ``name`` with ``extra`` (policy settings) and then ``overrides`` merged on top.

    Returns {key: {value (normalized text), reason, source, reboot, origin}} in a stable order. ``extra`` is
    {key: {"value": v, "reason": r, "origin": var name}}; ``overrides`` is {key: value} or {key: {"value": v,
    "reason": r}}."""
    if name not in PROFILES:
        raise ProfileError("unknown sysctl profile %r: choose one of %s" % (name, ", ".join(profile_names())))
    merged = {}
    for key, entry in PROFILES[name].items():
        merged[key] = dict(copy.deepcopy(entry), value=normalize_value(entry["value"]), origin="profile " + name)
    for key, entry in sorted((extra or {}).items()):
        origin = entry.get("origin", "policy")
        base = merged.get(key, {"reboot": False})
        merged[key] = {"value": normalize_value(entry["value"]), "reason": entry.get("reason", "set by " + origin),
                       "source": origin, "reboot": base.get("reboot", False), "origin": origin}
    if overrides is not None and not isinstance(overrides, dict):
        raise ProfileError("%s must be a dict of sysctl key: value, got %s" % (overrides_var, type(overrides).__name__))
    for key, raw in sorted((overrides or {}).items()):
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise ProfileError("%s: %r is not a sysctl key (dotted name like net.core.somaxconn)" % (overrides_var, key))
        reason = "site override (%s)" % overrides_var
        if isinstance(raw, dict):
            if "value" not in raw:
                raise ProfileError("%s[%s] is a dict without 'value'" % (overrides_var, key))
            reason = raw.get("reason", reason)
            raw = raw["value"]
        if raw is None or isinstance(raw, dict) or normalize_value(raw) == "":
            raise ProfileError("%s[%s] has no usable value (%r)" % (overrides_var, key, raw))
        base = merged.get(key, {"reboot": False})
        merged[key] = {"value": normalize_value(raw), "reason": reason, "source": overrides_var,
                       "reboot": base.get("reboot", False), "origin": overrides_var}
    return merged


def key_path(key, procfs_root="/proc"):
    return os.path.join(procfs_root, "sys", *key.split("."))


def read_live(key, procfs_root="/proc"):
    """Normalized live value of ``key`` or None when the kernel has no such file."""
    try:
        with open(key_path(key, procfs_root)) as f:
            return normalize_value(f.read())
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def in_init_netns(procfs_root="/proc"):
    """False inside a container's own network namespace (it lacks net.core.default_qdisc and friends)."""
    return os.path.exists(key_path("net.core.default_qdisc", procfs_root)) or not os.path.isdir(
        os.path.join(procfs_root, "sys", "net", "core"))


def kernel_release(procfs_root="/proc"):
    try:
        with open(os.path.join(procfs_root, "sys", "kernel", "osrelease")) as f:
            return f.read().strip()
    except (IOError, OSError):
        return os.uname()[2]


def where(entry, overrides_var="sysctl_tuning_overrides"):
    """What the operator has to edit for an entry: the override variable or the policy variable, else the profile."""
    origin = entry.get("origin", "")
    if origin.startswith("profile "):
        return "the sysctl_tuning profile (%s) or override it in %s" % (origin[len("profile "):], overrides_var)
    return origin


def validate(settings, procfs_root="/proc", overrides_var="sysctl_tuning_overrides"):
    """Check every key against the running kernel.

    Returns (errors, skipped, live): errors is a list of messages (one per bad key, naming it); skipped is
    {key: why} for keys that the kernel keeps out of this (container) network namespace; live is {key: current
    normalized value} for keys that exist."""
    errors, skipped, live = [], {}, {}
    release = kernel_release(procfs_root)
    init_netns = None
    for key in sorted(settings):
        entry = settings[key]
        if not KEY_RE.match(key):
            errors.append("sysctl %s is not a valid key name: fix %s" % (key, where(entry, overrides_var)))
            continue
        current = read_live(key, procfs_root)
        if current is None:
            if init_netns is None:
                init_netns = in_init_netns(procfs_root)
            if key in INIT_NETNS_ONLY and not init_netns:
                skipped[key] = "only visible in the initial network namespace (this host is a container)"
                continue
            errors.append("sysctl %s does not exist on this kernel (%s): remove it from %s"
                          % (key, release, where(entry, overrides_var)))
            continue
        live[key] = current
        want_kind, want_n = value_kind(entry["value"])
        have_kind, have_n = value_kind(current)
        if have_kind in ("int", "ints") and (want_kind != have_kind or want_n != have_n):
            shape = "an integer" if have_kind == "int" else "%d integers separated by spaces" % have_n
            errors.append("sysctl %s=%r has the wrong type: the kernel expects %s (now %r); fix %s"
                          % (key, entry["value"], shape, current, where(entry, overrides_var)))
        elif have_kind == "str" and not all(TOKEN_RE.match(f) for f in entry["value"].split()):
            errors.append("sysctl %s=%r is not a valid value (the kernel expects a word like %r); fix %s"
                          % (key, entry["value"], current, where(entry, overrides_var)))
    return errors, skipped, live


def modules_needed(settings):
    """Kernel modules the settings' values need, sorted."""
    mods = set()
    for key, table in MODULES_FOR.items():
        if key in settings and settings[key]["value"] in table:
            mods.add(table[settings[key]["value"]])
    return sorted(mods)


def unavailable_values(settings, procfs_root="/proc"):
    """Messages for values the kernel does not offer (e.g. bbr missing from tcp_available_congestion_control)."""
    msgs = []
    for key, rel in sorted(AVAILABLE_LIST.items()):
        if key not in settings:
            continue
        try:
            with open(os.path.join(procfs_root, "sys", rel)) as f:
                offered = f.read().split()
        except (IOError, OSError):
            continue
        if settings[key]["value"] not in offered:
            msgs.append("sysctl %s=%s is not available on this kernel (%s: %s)"
                        % (key, settings[key]["value"], rel.replace("/", "."), " ".join(offered)))
    return msgs


def render_conf(profile, settings, header=""):
    """The /etc/sysctl.d file: one block per key with its reason and source as comments."""
    lines = []
    if header:
        lines.extend("# " + h for h in header.splitlines())
    lines.append("# llmfleet sysctl profile: %s (keys sorted; reasons and sources above each key)" % profile)
    for key in sorted(settings):
        entry = settings[key]
        lines.append("")
        lines.append("# %s" % " ".join(str(entry.get("reason", "")).split()))
        note = " [reboot for full effect]" if entry.get("reboot") else ""
        lines.append("# source: %s%s" % (entry.get("source", ""), note))
        lines.append("%s = %s" % (key, entry["value"]))
    return "\n".join(lines) + "\n"


def render_modules(modules, header=""):
    lines = ["# " + h for h in header.splitlines()] if header else []
    lines.append("# kernel modules the llmfleet sysctl profile needs at boot (before systemd-sysctl)")
    lines.extend(modules)
    return "\n".join(lines) + "\n"


def read_only(path):
    """True when ``path`` lies on a read-only mount (a container's /proc/sys or /sys)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def write_live(key, value, procfs_root="/proc"):
    """Write one value; returns None or the errno name of the failure."""
    try:
        with open(key_path(key, procfs_root), "w") as f:
            f.write(value + "\n")
    except (IOError, OSError) as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return None


def thp_selected(text):
    """'madvise' from 'always [madvise] never'."""
    m = re.search(r"\[([^\]]+)\]", text or "")
    return m.group(1) if m else (text or "").strip()
