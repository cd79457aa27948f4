# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model-server instance planning: GPU snapshot + NVLink islands + NUMA placement + instance specs -> instances.

Pure Python, no Ansible imports.  Inputs are the documented schemas ``llmfleet.gpu_snapshot/v1``
(nvml_snapshot.py), ``llmfleet.host_probe/v1`` (host_probe.py) and the ``model_server_instances`` /
``model_server_models`` role variables.  NUMA binding reuses ``placement.plan_placement`` (the numa role's logic).

Rules (docs/serving.md):

* a tensor-parallel group never spans two NVLink islands; PCIe-only GPUs are pooled per NUMA node, so a
  PCIe group never crosses a socket;
* the tensor-parallel size must divide every pool it is placed in (no stranded GPUs) and fit in one pool;
* inside an island, groups are cut from GPUs sorted by (NUMA node, index) so a TP4 on an 8-GPU NVSwitch board
  with 4 GPUs per socket lands on one socket each;
* GPUs are handed out in spec order; ``count: fill`` takes every GPU left in the eligible pools.

Every error is a :class:`ServingPlanError` whose message names the host and the variable to change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.llmfleet.baremetal.plugins.module_utils.topology import gpu_groups
from ansible_collections.llmfleet.baremetal.plugins.module_utils.host_probe import (
    format_cpulist, parse_cpulist)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.placement import (
    PlacementError, host_cpus, plan_placement, systemd_numa_settings)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.spec_values import memory_size, secret_env_names

__all__ = ["ServingPlanError", "ENGINES", "DEFAULT_ENGINES", "plan_instances", "allocate_gpu_groups", "resolve_models"]

ENGINES = ("vllm", "sglang", "llama_cpp")
#: ports llmfleet's own daemons hold on every host (defaults of the roles): a model server may not take them
RESERVED_PORTS = {22: "sshd", 9100: "the node exporter (monitoring_node_exporter_port)",
                  9400: "dcgm-exporter (monitoring_dcgm_exporter_port)"}

# Engine command prefixes and endpoints; the role passes model_server_engines merged over these.
DEFAULT_ENGINES = {
    "vllm": {
        "argv": ["/opt/llmfleet/engines/vllm/bin/vllm", "serve"],
        "health_path": "/health",
        "metrics_path": "/metrics",
        "numa_bind": False,  # set True only for a vLLM version that has --numa-bind (model_server_vllm_numa_bind)
        "gpu": True,
    },
    "sglang": {
        "argv": ["/opt/llmfleet/engines/sglang/bin/python", "-m", "sglang.launch_server"],
        "health_path": "/health",
        "metrics_path": "/metrics",
        "numa_bind": False,
        "gpu": True,
    },
    "llama_cpp": {
        # llama.cpp's own server (lab/serving/build-llama-cpp.sh builds it with the RPC backend, CPU or CUDA)
        "argv": ["/opt/llmfleet/engines/llama_cpp/bin/llama-server"],
        "health_path": "/health",  # 503 while the model loads, 200 when it answers
        "metrics_path": "/metrics",  # with --metrics
        "numa_bind": False,
        "gpu": False,  # runs without GPUs too; with GPUs it offloads every layer (--n-gpu-layers)
        "chat_format": "chatml",
    },
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")


class ServingPlanError(ValueError):
    """The instance specs cannot be placed on this host (or are malformed)."""


def _int(value, what, name, minimum=None):
    if isinstance(value, bool):
        raise ServingPlanError("%s: %s must be an integer, got %r" % (name, what, value))
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ServingPlanError("%s: %s must be an integer, got %r" % (name, what, value))
    if minimum is not None and out < minimum:
        raise ServingPlanError("%s: %s must be >= %d, got %d" % (name, what, minimum, out))
    return out


def _gpus(snapshot):
    return [g for g in (snapshot or {}).get("gpus") or []
            if isinstance(g, dict) and isinstance(g.get("index"), int) and not ("error" in g and "name" not in g)]


def _numa(gpu):
    node = (gpu or {}).get("numa_node")
    return node if isinstance(node, int) and not isinstance(node, bool) and node >= 0 else -1


def _pools(snapshot, islands):
    """NVLink islands as they are; PCIe-only GPUs pooled per NUMA node.  GPUs sorted by (NUMA node, index)."""
    by_index = dict((g["index"], g) for g in _gpus(snapshot))
    if islands is None:
        islands = gpu_groups(snapshot)
    pools, pcie = [], {}
    for isl in islands or []:
        members = [i for i in isl.get("gpus") or [] if i in by_index]
        if not members:
            continue
        if len(members) > 1 and isl.get("interconnect") in ("nvswitch", "nvlink"):
            pools.append({"kind": isl["interconnect"], "island": sorted(members),
                          "gpus": sorted(members, key=lambda i: (_numa(by_index[i]), i))})
        else:
            for i in members:
                pcie.setdefault(_numa(by_index[i]), []).append(i)
    for node in sorted(pcie):
        pools.append({"kind": "pcie", "island": sorted(pcie[node]), "numa_node": node, "gpus": sorted(pcie[node])})
    return sorted(pools, key=lambda p: min(p["gpus"])), by_index


def _pool_label(pool):
    if pool["kind"] == "pcie":
        return "PCIe GPUs %s on NUMA node %s" % (format_cpulist(pool["island"]), pool["numa_node"])
    return "%s island %s" % ("NVSwitch" if pool["kind"] == "nvswitch" else "NVLink", format_cpulist(pool["island"]))


def allocate_gpu_groups(snapshot, specs, islands=None, host_name="unknown host"):
    """``[(spec index, [gpu indexes], pool)]`` in spec order.  See the module docstring for the rules."""
    pools, by_index = _pools(snapshot, islands)
    free = [list(p["gpus"]) for p in pools]
    total = len(by_index)
    out = []
    for n, spec in enumerate(specs):
        sname = spec["name"]
        tp = spec["tensor_parallel_size"]
        if not spec["uses_gpus"]:
            continue
        if total == 0:
            raise ServingPlanError("%s: model_server_instances[%s] needs GPUs but the host has none "
                                   "(llmfleet_gpu shows no GPU)" % (host_name, sname))
        if tp > total:
            raise ServingPlanError("%s: model_server_instances[%s] tensor_parallel_size=%d is more than the %d "
                                   "GPU(s) of this host" % (host_name, sname, tp, total))
        biggest = max(len(p["gpus"]) for p in pools)
        if tp > biggest:
            raise ServingPlanError(
                "%s: model_server_instances[%s] tensor_parallel_size=%d would split a tensor-parallel group "
                "across NVLink islands / NUMA nodes; the largest is %s with %d GPU(s) (%s). Lower "
                "tensor_parallel_size or use pipeline parallelism across islands"
                % (host_name, sname, tp, _pool_label(max(pools, key=lambda p: len(p["gpus"]))), biggest,
                   "; ".join(_pool_label(p) for p in pools)))
        count = spec["count"]
        made = 0
        for k, pool in enumerate(pools):
            if count != "fill" and made >= count:
                break
            if len(pool["gpus"]) < tp or len(free[k]) < tp:
                continue
            if len(pool["gpus"]) % tp:
                raise ServingPlanError(
                    "%s: model_server_instances[%s] tensor_parallel_size=%d does not divide %s (%d GPUs): "
                    "GPUs would be stranded; use a size that divides %d"
                    % (host_name, sname, tp, _pool_label(pool), len(pool["gpus"]), len(pool["gpus"])))
            while len(free[k]) >= tp and (count == "fill" or made < count):
                out.append((n, free[k][:tp], pool))
                free[k] = free[k][tp:]
                made += 1
        if count != "fill" and made < count:
            raise ServingPlanError(
                "%s: model_server_instances[%s] wants count=%d instance(s) of tensor_parallel_size=%d but only %d "
                "fit in the GPUs left (%s)" % (host_name, sname, count, tp, made,
                                               ", ".join("%s: %d free" % (_pool_label(p), len(free[k]))
                                                         for k, p in enumerate(pools))))
        if count == "fill" and made == 0:
            raise ServingPlanError("%s: model_server_instances[%s] (count: fill) found no free group of %d GPU(s)"
                                   % (host_name, sname, tp))
    return out


def _plain_component(value):
    return bool(value) and "/" not in value and value not in (".", "..") and not value.startswith(".")


def resolve_models(models, root="/var/lib/llmfleet/models"):
    """``model_server_models`` with the weights of each versioned entry where model sync puts them.

    An entry with ``version`` names weights pulled from the model store (roles/model_sync): its ``path`` defaults to
    ``<root>/<name>/<version>``, its ``manifest`` to the store's ``MANIFEST.sha256`` there, and it gains
    ``ready_marker`` (``<path>/.ready``, written by model sync only after every sha256 matched): the model_server
    role starts no instance on a version without it. Such an entry cannot also have ``src`` (a controller copy).
    Entries without ``version`` are returned as they are, with the default ``manifest`` (``<path>/SHA256SUMS``)."""
    out = []
    for i, m in enumerate(models or []):
        if not isinstance(m, dict) or m.get("version") in (None, ""):
            if isinstance(m, dict) and m.get("path") and not m.get("manifest"):
                m = dict(m, manifest=str(m["path"]).rstrip("/") + "/SHA256SUMS")
            out.append(m)
            continue
        label = "model_server_models[%d] (%s)" % (i, m.get("name"))
        version = str(m["version"])
        if not _plain_component(str(m.get("name") or "")) or not _plain_component(version):
            raise ServingPlanError("%s: name and version of a synced model must be plain path components, got %r/%r"
                                   % (label, m.get("name"), m["version"]))
        if m.get("src"):
            raise ServingPlanError("%s: version %s comes from the model store (llmfleet model push, then model sync); "
                                   "src copies a controller directory instead - set one or the other" % (label, version))
        path = str(m.get("path") or "%s/%s/%s" % (str(root).rstrip("/"), m["name"], version)).rstrip("/")
        out.append(dict(m, version=version, path=path, manifest=m.get("manifest") or path + "/MANIFEST.sha256",
                        ready_marker=path + "/.ready"))
    return out


def _norm_models(models, name):
    out = {}
    for m in models or []:
        if not isinstance(m, dict) or not m.get("name") or not m.get("path"):
            raise ServingPlanError("%s: every model_server_models entry needs name and path, got %r" % (name, m))
        path = str(m["path"]).rstrip("/")
        out[m["name"]] = {
            "name": m["name"],
            "path": path,
            "file": m.get("file"),
            "manifest": m.get("manifest") or path + "/SHA256SUMS",
            "served_name": m.get("served_name") or m["name"],
            "size_gib": m.get("size_gib"),
        }
    return out


def _memory(value, label, name):
    """A memory_max as systemd writes sizes, or None (the role's share)."""
    try:
        return memory_size(value)
    except ValueError as exc:
        raise ServingPlanError("%s: %s=%s" % (name, label, exc))


def _plain_env(env, label, name):
    """A spec's env as strings; a variable named like a secret is refused (it would land in the unit file)."""
    secret = secret_env_names(env)
    if secret:
        raise ServingPlanError("%s: %s.%s looks like a secret: env is written into the unit file and "
                               "/etc/llmfleet/model-servers.json; put it in model_server_secret_env (a 0600 file "
                               "the unit reads)" % (name, label, ", ".join(secret)))
    return dict((str(k), str(v)) for k, v in (env or {}).items())


def _norm_spec(spec, n, name, engines, models, defaults):
    if not isinstance(spec, dict):
        raise ServingPlanError("%s: model_server_instances[%d] must be a dict, got %r" % (name, n, spec))
    sname = spec.get("name") or "m%d" % n
    if not _NAME_RE.match(str(sname)):
        raise ServingPlanError("%s: model_server_instances[%d].name=%r must match %s"
                               % (name, n, sname, _NAME_RE.pattern))
    engine = spec.get("engine")
    if engine not in engines:
        raise ServingPlanError("%s: model_server_instances[%s].engine=%r must be one of %s"
                               % (name, sname, engine, ", ".join(sorted(engines))))
    if spec.get("model") not in models:
        raise ServingPlanError("%s: model_server_instances[%s].model=%r is not in model_server_models (%s)"
                               % (name, sname, spec.get("model"), ", ".join(sorted(models)) or "empty"))
    tp = _int(spec.get("tensor_parallel_size", 1), "model_server_instances[%s].tensor_parallel_size" % sname,
              name, 1)
    count = spec.get("count", "fill")
    if count != "fill":
        count = _int(count, "model_server_instances[%s].count (an integer or 'fill')" % sname, name, 1)
    eng = engines[engine]
    if eng.get("gpu", True) and spec.get("gpus", True) is False:
        # CUDA_VISIBLE_DEVICES is only set for the GPUs an instance is given: without any it would see every GPU
        raise ServingPlanError("%s: model_server_instances[%s].gpus=false: engine %s needs GPUs, and an instance "
                               "placed on none would see every GPU of the host; remove gpus: false (or use "
                               "engine llama_cpp for a CPU instance)" % (name, sname, engine))
    uses_gpus = bool(spec.get("gpus", True)) and (eng.get("gpu", True) or defaults["cpu_engines_take_gpus"])
    return {
        "name": sname,
        "engine": engine,
        "model": models[spec["model"]],
        "tensor_parallel_size": tp,
        "count": count,
        "uses_gpus": uses_gpus,
        "port_base": _int(spec.get("port_base", defaults["port_base"]),
                          "model_server_instances[%s].port_base" % sname, name, 1),
        "extra_args": [str(a) for a in spec.get("extra_args") or []],
        "env": _plain_env(spec.get("env"), "model_server_instances[%s].env" % sname, name),
        "threads": spec.get("threads"),
        "memory_max": _memory(spec.get("memory_max"), "model_server_instances[%s].memory_max" % sname, name),
        "enabled": bool(spec.get("enabled", True)),
    }


def _fallback_binding(gpus, by_index):
    """Without a host probe: NUMA nodes and CPUs from the snapshot (NVML CPU affinity)."""
    nodes = sorted(set(_numa(by_index.get(i)) for i in gpus))
    cpus = set()
    for i in gpus:
        aff = (by_index.get(i) or {}).get("cpu_affinity")
        if isinstance(aff, str) and aff:
            try:
                cpus.update(parse_cpulist(aff))
            except ValueError:
                pass
    return {"numa_nodes": [] if nodes == [-1] else [n for n in nodes if n >= 0],
            "cpus": format_cpulist(cpus) if cpus else "", "cpu_count": len(cpus),
            "mem_nodes": format_cpulist([n for n in nodes if n >= 0]), "numa_unknown": -1 in nodes}


def _binding_for(members, placement, host, snapshot, by_index, all_groups, reserved, host_name):
    for entry in placement or []:
        if isinstance(entry, dict) and list(entry.get("gpus") or []) == list(members):
            return dict(entry, source="placement.json")
    if host:
        try:
            planned = plan_placement(host, snapshot, groups=all_groups, reserved_cpus=reserved, host_name=host_name)
        except PlacementError as exc:
            raise ServingPlanError(str(exc))
        for entry in planned:
            if entry["gpus"] == list(members):
                return dict(entry, source="host_probe")
    return dict(_fallback_binding(members, by_index), source="nvml_cpu_affinity")


def _cpu_only_binding(host, reserved):
    """An instance without GPUs (a CPU engine with gpus: false): every host CPU but the reserved ones."""
    try:
        cpus = sorted(set(host_cpus(host)) - set(parse_cpulist(reserved or "")))
    except ValueError:
        cpus = host_cpus(host)
    return {"numa_nodes": [], "cpus": format_cpulist(cpus), "cpu_count": len(cpus), "mem_nodes": "",
            "numa_unknown": True, "source": "host_probe" if cpus else "none"}


def _argv(engine, eng, spec, inst):
    model = spec["model"]
    tp = str(spec["tensor_parallel_size"])
    port = str(inst["port"])
    listen = inst["listen"]
    if engine == "vllm":
        argv = list(eng["argv"]) + [model["path"], "--tensor-parallel-size", tp, "--host", listen, "--port", port,
                                    "--served-model-name", model["served_name"]]
        if inst["binding"] == "engine":
            argv.append("--numa-bind")
    elif engine == "sglang":
        argv = list(eng["argv"]) + ["--model-path", model["path"], "--tp-size", tp, "--host", listen, "--port", port,
                                    "--served-model-name", model["served_name"], "--enable-metrics"]
    else:
        path = model["path"] + "/" + model["file"] if model.get("file") else model["path"]
        threads = spec["threads"] or inst["cpu_count"] or 1
        argv = list(eng["argv"]) + ["--model", path, "--host", listen, "--port", port,
                                    "--alias", model["served_name"],
                                    "--chat-template", str(eng.get("chat_format") or "chatml"),
                                    "--threads", str(threads),
                                    # every layer on the instance's GPUs when it has any (a CPU build ignores it)
                                    "--n-gpu-layers", "999" if inst["gpus"] else "0",
                                    "--metrics", "--no-webui"]
    return argv + spec["extra_args"]


def plan_instances(snapshot, specs, models, host=None, islands=None, placement=None, engines=None,
                   host_name=None, port_base=8000, listen="0.0.0.0", unit_prefix="llmfleet-model",
                   reserved_cpus="", rdma_gid_index=None, numa_binding="auto", cpu_engines_take_gpus=True):
    """Every model-server instance of one host.

    ``specs``: ``model_server_instances`` (``{name, engine, model, tensor_parallel_size=1, count='fill'|N,
    port_base, extra_args, env, threads, enabled}``); ``models``: ``model_server_models`` (``{name, path,
    manifest, file, served_name}``); ``host``: the host probe (CPU/NUMA); ``islands``: ``llmfleet_gpu_groups``
    (default: computed from the snapshot); ``placement``: the numa role's placement groups
    (/etc/llmfleet/placement.json ``groups``), preferred where a group matches exactly.

    ``numa_binding``: ``auto`` (engine-native where the engine has it, else systemd), ``engine``, ``systemd``
    or ``none``.  ``cpu_engines_take_gpus``: CPU engines (llama_cpp) still take a GPU group of the topology,
    so the lab exercises the same placement as production.

    Returns a list of instances (see docs/serving.md for the fields), in spec order.
    """
    name = host_name or (snapshot or {}).get("hostname") or "unknown host"
    if numa_binding not in ("auto", "engine", "systemd", "none"):
        raise ServingPlanError("%s: model_server_numa_binding=%r must be auto, engine, systemd or none"
                               % (name, numa_binding))
    if not isinstance(specs, (list, tuple)):
        raise ServingPlanError("%s: model_server_instances must be a list, got %s" % (name, type(specs).__name__))
    eng_all = copy.deepcopy(DEFAULT_ENGINES)
    for key, val in (engines or {}).items():
        eng_all.setdefault(key, {}).update(val or {})
    mods = _norm_models(models, name)
    defaults = {"port_base": port_base, "cpu_engines_take_gpus": cpu_engines_take_gpus}
    norm = [_norm_spec(s, n, name, eng_all, mods, defaults) for n, s in enumerate(specs)]
    seen = set()
    for s in norm:
        if s["name"] in seen:
            raise ServingPlanError("%s: model_server_instances name %r is used twice" % (name, s["name"]))
        seen.add(s["name"])

    groups = allocate_gpu_groups(snapshot, norm, islands, name)
    pools_used = {}
    for n, members, pool in groups:
        pools_used.setdefault(n, []).append((members, pool))
    all_groups = [members for n, members, pool in groups]
    by_index = dict((g["index"], g) for g in _gpus(snapshot))

    out, ports = [], {}
    for n, spec in enumerate(norm):
        eng = eng_all[spec["engine"]]
        slots = pools_used.get(n)
        if not spec["uses_gpus"]:
            count = 1 if spec["count"] == "fill" else spec["count"]
            slots = [([], None)] * count
        for k, (members, pool) in enumerate(slots):
            port = spec["port_base"] + k
            if port > 65535:
                raise ServingPlanError("%s: model_server_instances[%s] puts instance %s-%d on port %d (port_base %d "
                                       "+ %d): ports end at 65535"
                                       % (name, spec["name"], spec["name"], k, port, spec["port_base"], k))
            if port in RESERVED_PORTS:
                raise ServingPlanError("%s: port %d of model_server_instances[%s] is %s's on every host; set another "
                                       "port_base" % (name, port, spec["name"], RESERVED_PORTS[port]))
            if port in ports:
                raise ServingPlanError("%s: port %d of model_server_instances[%s] is already used by %s; set "
                                       "distinct port_base values" % (name, port, spec["name"], ports[port]))
            iname = "%s-%d" % (spec["name"], k)
            ports[port] = iname
            if members:
                bind = _binding_for(members, placement, host, snapshot, by_index, all_groups, reserved_cpus, name)
            else:
                bind = _cpu_only_binding(host, reserved_cpus)
            mode = numa_binding
            if mode == "auto":
                mode = "engine" if eng.get("numa_bind") else "systemd"
            if mode == "engine" and not eng.get("numa_bind"):
                raise ServingPlanError("%s: model_server_numa_binding=engine but engine %s has no native NUMA "
                                       "binding configured (model_server_vllm_numa_bind)" % (name, spec["engine"]))
            systemd = {}
            if mode == "systemd" and bind.get("cpus"):
                entry = {"cpus": bind["cpus"], "mem_nodes": bind.get("mem_nodes") or "", "group": iname}
                try:
                    systemd = systemd_numa_settings(entry, "auto" if entry["mem_nodes"] else "default")
                except PlacementError as exc:
                    raise ServingPlanError(str(exc))
            elif mode == "systemd":
                mode = "none"
            uuids = [(by_index.get(i) or {}).get("uuid") for i in members]
            env = {}
            if members:
                env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
                env["CUDA_VISIBLE_DEVICES"] = ",".join(u or str(i) for u, i in zip(uuids, members))
            if rdma_gid_index not in (None, ""):
                env["NCCL_IB_GID_INDEX"] = str(_int(rdma_gid_index, "model_server_rdma_gid_index", name, 0))
            env.update(spec["env"])
            inst = {
                "name": iname,
                "spec": spec["name"],
                "unit": "%s-%s.service" % (unit_prefix, iname),
                "engine": spec["engine"],
                "enabled": spec["enabled"],
                "model": spec["model"]["name"],
                "served_model_name": spec["model"]["served_name"],
                "model_path": spec["model"]["path"],
                "model_file": spec["model"]["file"],
                "manifest": spec["model"]["manifest"],
                "tensor_parallel_size": spec["tensor_parallel_size"],
                "gpus": list(members),
                "gpu_uuids": uuids,
                "island": list(pool["island"]) if pool else [],
                "interconnect": pool["kind"] if pool else "none",
                "numa_nodes": list(bind.get("numa_nodes") or []),
                "numa_unknown": bool(bind.get("numa_unknown")),
                "cpus": bind.get("cpus") or "",
                "cpu_count": bind.get("cpu_count") or 0,
                "binding": mode,
                "binding_source": bind.get("source"),
                "systemd": systemd,
                "memory_max": spec["memory_max"],
                "listen": listen,
                "port": port,
                "health_path": eng.get("health_path") or "/v1/models",
                "metrics_path": eng.get("metrics_path"),
                "env": env,
            }
            inst["argv"] = _argv(spec["engine"], eng, spec, inst)
            out.append(inst)
    return out
