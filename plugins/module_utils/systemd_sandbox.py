# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd sandboxing of the units llmfleet writes or drops in (docs/security.md, "Sandboxed units").

One base set of directives for a service that needs no privilege (no capability, read-only OS, no new privileges,
native system calls of ``@system-service`` only, no namespaces, no realtime, no SUID files), and per-unit profiles
that say what each service needs beyond it: the GPU devices of a model server, the netlink sockets of an exporter,
the capabilities nginx's master process needs to bind and to drop to its worker user. ``systemd-analyze security
--offline`` scores every unit in the serving scenario against fixed ceilings (molecule/serving/tests).

``directives(profile, **kw)`` returns [(key, value)] in a stable order; an empty value resets a list setting
(``CapabilityBoundingSet=`` with nothing after it drops every capability).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

__all__ = ["BASE", "PROFILES", "directives", "gpu_devices", "SandboxError"]


class SandboxError(ValueError):
    pass


# what every sandboxed llmfleet service gets
BASE = [
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("RemoveIPC", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallErrorNumber", "EPERM"),
]

# beyond BASE, per service. Keys that appear in both replace BASE's value (ProtectHome for the node exporter).
PROFILES = {
    # Go exporters (node, blackbox, dcgm-exporter): no capability, no device; sockets to scrape and be scraped,
    # netlink for the node exporter's network collectors; /home read-only for its filesystem collector's statfs.
    "exporter": [
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("PrivateDevices", "yes"),
        ("ProtectHome", "read-only"),
        ("MemoryDenyWriteExecute", "yes"),
        ("UMask", "0077"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
        ("SystemCallFilter", "~@privileged @resources"),
    ],
    # the textfile collector (root, oneshot): drbdsetup (generic netlink, CAP_SYS_ADMIN for DRBD's admin ops), the
    # ceph CLI (network, /etc/ceph), nvidia-smi (the NVIDIA control devices), sysfs; writes only the textfile dir,
    # which the prometheus user owns (CAP_DAC_OVERRIDE).
    "textfile": [
        ("CapabilityBoundingSet", "CAP_SYS_ADMIN CAP_DAC_OVERRIDE"),
        ("AmbientCapabilities", ""),
        ("DevicePolicy", "closed"),
        ("DeviceAllow", "char-nvidia-frontend rw"),
        ("MemoryDenyWriteExecute", "yes"),
        ("UMask", "0022"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
        ("SystemCallFilter", "~@resources @mount @swap @reboot @raw-io @module @debug @cpu-emulation @obsolete"),
    ],
    # a model server (its own user): no capability; its GPUs only (device_allow); sockets for HTTP, NCCL/Gloo and
    # netlink (interface and RDMA enumeration); JIT compilers (Triton, CUDA graphs) need writable executable memory;
    # NUMA binding needs @resources (mbind, set_mempolicy, sched_setaffinity).
    "model_server": [
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("DevicePolicy", "closed"),
        ("ProtectProc", "invisible"),
        ("UMask", "0027"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
        ("SystemCallFilter", "~@privileged @mount @swap @reboot @raw-io @module @debug @cpu-emulation @obsolete @clock"),
    ],
    # nginx (the gateway): the master starts as root to bind, read its keys and drop to www-data; workers keep
    # nothing. LuaJIT needs writable executable memory.
    "gateway": [
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL"),
        ("AmbientCapabilities", ""),
        # /usr, /boot, /etc read-only; /var (logs, temp files), /run (pid) and the state directory (audit, on DRBD
        # in the HA pair, mounted by Pacemaker before nginx starts) stay writable
        ("ProtectSystem", "full"),
        ("PrivateDevices", "yes"),
        ("MemoryDenyWriteExecute", "no"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "~@mount @swap @reboot @raw-io @module @debug @cpu-emulation @obsolete @clock"),
    ],
}

# NVIDIA device nodes every CUDA process opens besides its GPUs' /dev/nvidiaN
_NVIDIA_COMMON = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]


def gpu_devices(gpus, minors, rdma=False):
    """DeviceAllow values for a model server on ``gpus`` (GPU indices).

    ``minors``: {index: device minor number} from the pre-flight snapshot (NVML's minor number: /dev/nvidia<minor>).
    A GPU without a recorded minor number allows every NVIDIA GPU (``char-nvidia-frontend``) rather than guess one.
    No GPU: no device at all. ``rdma``: the RDMA verbs and CM devices too (NCCL over InfiniBand/RoCE)."""
    gpus = list(gpus or [])
    if not gpus:
        return []
    minors = dict((int(k), v) for k, v in (minors or {}).items())
    if all(minors.get(int(g)) is not None for g in gpus):
        out = ["/dev/nvidia%d rw" % int(minors[int(g)]) for g in gpus]
    else:
        out = ["char-nvidia-frontend rw"]
    out += ["%s rw" % d for d in _NVIDIA_COMMON]
    if rdma:
        out += ["char-infiniband_verbs rw", "/dev/infiniband/rdma_cm rw"]
    return out


def directives(profile, device_allow=None, writable_paths=None):
    """[(key, value)] of a profile: BASE with the profile's values (a key of both: the profile's), then
    DeviceAllow= per device and ReadWritePaths= for the paths the service writes."""
    if profile not in PROFILES:
        raise SandboxError("unknown sandbox profile %r (known: %s)" % (profile, ", ".join(sorted(PROFILES))))
    own = PROFILES[profile]
    replaced = set(k for k, _v in own if k not in ("SystemCallFilter",))
    out = [(k, v) for k, v in BASE if k not in replaced] + list(own)
    for dev in device_allow or []:
        out.append(("DeviceAllow", dev))
    if writable_paths:
        out.append(("ReadWritePaths", " ".join("-" + p if not p.startswith("-") else p for p in writable_paths)))
    return out
