# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model-server groups that span GPU nodes: placement, ranks, rendezvous, fit and the per-node command lines.

Pure Python, no Ansible imports; runs on the controller before any host is changed (issue 18, docs/serving.md).

Inputs:

* ``specs``: ``model_server_groups`` entries ``{name, engine, model, nodes=1, replicas=1, hosts=[...],
  tensor_parallel_size, pipeline_parallel_size, expert_parallel=false, port=8000, rendezvous_port,
  rpc_port=50052, allow_tcp=false, kv_cache_reserve=0.10, gpu_memory_utilization=0.90, extra_args, env}``;
* ``hosts``: ``{inventory name: {gpu: <llmfleet.gpu_snapshot/v1>, serving_address, serving_interface,
  nccl_env}}`` (``nccl_env`` is the rdma role's ``llmfleet_rdma_nccl_env``; empty = no RDMA fabric);
* ``models``: ``model_server_models`` entries ``{name, path, file, served_name, size_gib}``.

Rules:

* a group takes whole nodes; every member has the same GPU model, GPU count, GPU memory and NVLink shape
  (from its pre-flight snapshot), else the group is refused naming each host's shape;
* members are the candidate hosts sorted by name, cut into consecutive slices of ``nodes`` (replica ``r`` takes
  slice ``r``); rank 0 (the leader) is the first host of its slice; a host is in one group at most;
* the parallel layout per engine: vLLM tensor parallel inside a node x pipeline parallel across nodes
  (``--nnodes/--node-rank/--master-addr/--master-port``, workers ``--headless``); SGLang tensor parallel across
  every GPU of the group (``--tp-size/--nnodes/--node-rank/--dist-init-addr``); llama.cpp's ``llama-server`` on
  the leader with ``--rpc`` to an ``rpc-server`` on every other member (layer split, not tensor parallel);
* weights x (1 + kv_cache_reserve) must fit the group's GPU memory x gpu_memory_utilization;
* a group of more than one node needs an RDMA fabric on every member (``nccl_env`` with ``NCCL_IB_HCA``)
  unless ``allow_tcp: true``, which plans it with a warning;
* every flag emitted is checked against the pinned engine version's own CLI (tests/fixtures/engines/).

Every error is a :class:`GroupPlanError` that names the spec, the hosts and the variable to change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.llmfleet.baremetal.plugins.module_utils.spec_values import memory_size, secret_env_names
from ansible_collections.llmfleet.baremetal.plugins.module_utils.topology import gpu_groups

__all__ = ["GroupPlanError", "GROUP_ENGINES", "host_shape", "plan_groups", "serving_address", "check_limit",
           "full_path_hosts", "rolling_batches"]

GROUP_ENGINES = {
    "vllm": {"argv": ["/opt/llmfleet/engines/vllm/bin/vllm", "serve"], "health_path": "/health"},
    "sglang": {"argv": ["/opt/llmfleet/engines/sglang/bin/python", "-m", "sglang.launch_server"],
               "health_path": "/health"},
    "llama_cpp": {"argv": ["/opt/llmfleet/engines/llama_cpp/bin/llama-server"],
                  "worker_argv": ["/opt/llmfleet/engines/llama_cpp/bin/rpc-server"], "health_path": "/health",
                  "metrics_path": "/metrics"},
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_MIB_PER_GIB = 1024.0


class GroupPlanError(ValueError):
    """A model-server group cannot be placed (or its spec is malformed)."""


def _gpus(snapshot):
    return [g for g in (snapshot or {}).get("gpus") or []
            if isinstance(g, dict) and isinstance(g.get("index"), int) and g.get("name")]


def _interconnect(snapshot):
    """``nvswitch``/``nvlink``/``pcie`` when one kind joins the node's GPUs (topology.gpu_groups' NVLink islands),
    ``mixed`` for several islands, ``none`` for fewer than two GPUs."""
    if len(_gpus(snapshot)) < 2:
        return "none"
    islands = gpu_groups(snapshot)
    if len(islands) == 1:
        return islands[0]["interconnect"]
    return "pcie" if all(isl["size"] == 1 for isl in islands) else "mixed"


def host_shape(snapshot):
    """What must match across a group's nodes: ``{gpu_model, gpu_count, gpu_memory_mib, interconnect}``."""
    gpus = _gpus(snapshot)
    models = sorted(set(g["name"] for g in gpus))
    mems = sorted(set(int(g.get("memory_total_mib") or 0) for g in gpus))
    return {
        "gpu_model": models[0] if len(models) == 1 else "+".join(models) or "none",
        "gpu_count": len(gpus),
        "gpu_memory_mib": mems[0] if len(mems) == 1 else min(mems or [0]),
        "interconnect": _interconnect(snapshot),
    }


def _shape_label(shape):
    return "%dx %s %d MiB (%s)" % (shape["gpu_count"], shape["gpu_model"], shape["gpu_memory_mib"],
                                   shape["interconnect"])


def _int(spec_name, key, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GroupPlanError("model_server_groups[%s].%s must be an integer >= %d, got %r"
                             % (spec_name, key, minimum, value))
    return value


def _fraction(spec_name, key, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise GroupPlanError("model_server_groups[%s].%s must be a number in [%s, %s], got %r"
                             % (spec_name, key, low, high, value))
    return float(value)


def _norm(spec, n, models, engines):
    if not isinstance(spec, dict):
        raise GroupPlanError("model_server_groups[%d] must be a dict, got %r" % (n, spec))
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise GroupPlanError("model_server_groups[%d].name=%r must match %s" % (n, name, _NAME_RE.pattern))
    if spec.get("engine") not in engines:
        raise GroupPlanError("model_server_groups[%s].engine=%r must be one of %s"
                             % (name, spec.get("engine"), ", ".join(sorted(engines))))
    model = models.get(spec.get("model"))
    if model is None:
        raise GroupPlanError("model_server_groups[%s].model=%r is not in model_server_models (%s)"
                             % (name, spec.get("model"), ", ".join(sorted(models)) or "empty"))
    if model.get("size_gib") is None:
        raise GroupPlanError("model_server_groups[%s]: model_server_models[%s].size_gib is needed to check that "
                             "the weights fit the group's GPU memory" % (name, model["name"]))
    hosts = spec.get("hosts")
    if not isinstance(hosts, (list, tuple)) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise GroupPlanError("model_server_groups[%s].hosts must be a non-empty list of inventory hostnames "
                             "(e.g. \"{{ groups['gpu_nodes'] }}\"), got %r" % (name, hosts))
    out = {
        "name": name,
        "engine": spec["engine"],
        "model": model,
        "hosts": sorted(set(hosts)),
        "nodes": _int(name, "nodes", spec.get("nodes", 1)),
        "replicas": _int(name, "replicas", spec.get("replicas", 1)),
        "tensor_parallel_size": spec.get("tensor_parallel_size"),
        "pipeline_parallel_size": spec.get("pipeline_parallel_size"),
        "expert_parallel": bool(spec.get("expert_parallel", False)),
        "port": _int(name, "port", spec.get("port", 8000)),
        "rendezvous_port": spec.get("rendezvous_port"),
        "rpc_port": _int(name, "rpc_port", spec.get("rpc_port", 50052)),
        "allow_tcp": bool(spec.get("allow_tcp", False)),
        "kv_cache_reserve": _fraction(name, "kv_cache_reserve", spec.get("kv_cache_reserve", 0.10), 0.0, 10.0),
        "gpu_memory_utilization": _fraction(name, "gpu_memory_utilization",
                                            spec.get("gpu_memory_utilization", 0.90), 0.05, 1.0),
        "extra_args": [str(a) for a in spec.get("extra_args") or []],
        "env": dict((str(k), str(v)) for k, v in (spec.get("env") or {}).items()),
        "memory_max": _memory(name, spec.get("memory_max")),
    }
    secret = secret_env_names(out["env"])
    if secret:
        raise GroupPlanError("model_server_groups[%s].env.%s looks like a secret: env is written into the unit files and "
                             "/etc/llmfleet/model-servers.json; put it in model_server_secret_env (a 0600 file the "
                             "units read)" % (name, ", ".join(secret)))
    for key in ("tensor_parallel_size", "pipeline_parallel_size", "rendezvous_port"):
        if out[key] is not None:
            _int(name, key, out[key])
    return out


def _layout(spec, shape, members):
    """(tensor_parallel_size, pipeline_parallel_size) for the engine, or a refusal naming the hosts."""
    name, nodes, per_node = spec["name"], spec["nodes"], shape["gpu_count"]
    where = ", ".join(members)
    if spec["engine"] == "llama_cpp":
        if spec["tensor_parallel_size"] not in (None, 1) or spec["pipeline_parallel_size"] not in (None, 1):
            raise GroupPlanError("model_server_groups[%s]: llama_cpp splits a model by layer over its RPC workers; "
                                 "leave tensor_parallel_size and pipeline_parallel_size unset" % name)
        return 1, 1
    if spec["engine"] == "sglang":
        tp = spec["tensor_parallel_size"] or per_node * nodes
        pp = spec["pipeline_parallel_size"] or 1
    else:
        tp = spec["tensor_parallel_size"] or per_node
        pp = spec["pipeline_parallel_size"] or nodes
    if tp * pp != per_node * nodes:
        raise GroupPlanError(
            "model_server_groups[%s]: tensor_parallel_size=%d x pipeline_parallel_size=%d = %d GPUs, but the group's "
            "%d node(s) (%s) have %d GPUs each = %d: sizes must use every GPU of the group"
            % (name, tp, pp, tp * pp, nodes, where, per_node, per_node * nodes))
    if spec["engine"] == "vllm" and tp > per_node and nodes > 1:
        raise GroupPlanError(
            "model_server_groups[%s]: vllm tensor_parallel_size=%d is more than one node's %d GPUs (%s); use "
            "tensor parallel inside a node and pipeline parallel across nodes (tensor_parallel_size=%d, "
            "pipeline_parallel_size=%d)" % (name, tp, per_node, where, per_node, nodes))
    if tp <= per_node and per_node % tp:
        raise GroupPlanError("model_server_groups[%s]: tensor_parallel_size=%d does not divide the %d GPUs of a "
                             "node (%s): GPUs would be stranded" % (name, tp, per_node, where))
    return tp, pp


def _fit(spec, shape, members):
    gpus = shape["gpu_count"] * len(members)
    total_gib = gpus * shape["gpu_memory_mib"] / _MIB_PER_GIB
    usable = total_gib * spec["gpu_memory_utilization"]
    need = float(spec["model"]["size_gib"]) * (1.0 + spec["kv_cache_reserve"])
    fit = {"weights_gib": float(spec["model"]["size_gib"]), "needed_gib": round(need, 1),
           "group_gpu_gib": round(total_gib, 1), "usable_gib": round(usable, 1), "gpus": gpus}
    if need > usable:
        raise GroupPlanError(
            "model_server_groups[%s]: model %s (%.0f GiB of weights + %d%% KV-cache reserve = %.0f GiB) does not fit "
            "%d node(s) %s of %s: %.0f GiB of GPU memory x gpu_memory_utilization %.2f = %.0f GiB usable. Raise "
            "nodes (or replicas' nodes), use a smaller or quantized model, or lower kv_cache_reserve"
            % (spec["name"], spec["model"]["name"], fit["weights_gib"], round(spec["kv_cache_reserve"] * 100), need,
               len(members), ", ".join(members), _shape_label(shape), total_gib, spec["gpu_memory_utilization"],
               usable))
    return fit


def _fabric(spec, members, hosts, warnings):
    if len(members) < 2:
        return "none"
    missing = [h for h in members if not (hosts[h].get("nccl_env") or {}).get("NCCL_IB_HCA")]
    if not missing:
        return "rdma"
    if not spec["allow_tcp"]:
        raise GroupPlanError(
            "model_server_groups[%s]: a group across nodes needs an RDMA fabric on every member; %s ha%s none "
            "(rdma_fabrics / llmfleet_rdma_nccl_env). Set allow_tcp: true to run NCCL over TCP sockets (slow)"
            % (spec["name"], ", ".join(missing), "s" if len(missing) == 1 else "ve"))
    if spec["engine"] == "llama_cpp":
        warnings.append("model_server_groups[%s]: llama.cpp's RPC backend moves activations over TCP (it has no RDMA "
                        "transport; allow_tcp: true): expect a slow group, every token crosses the serving network"
                        % spec["name"])
    else:
        warnings.append("model_server_groups[%s]: %s without an RDMA fabric: NCCL runs over TCP sockets "
                        "(allow_tcp: true), expect a much slower group" % (spec["name"], ", ".join(missing)))
    return "tcp"


def _env(spec, host, gpus, fabric):
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID",
           "CUDA_VISIBLE_DEVICES": ",".join(g.get("uuid") or str(g["index"]) for g in gpus)}
    # NCCL/Gloo settings only for the engines that use them (llama.cpp's RPC backend is plain TCP)
    if fabric != "none" and spec["engine"] != "llama_cpp":
        env.update(dict((str(k), str(v)) for k, v in (host.get("nccl_env") or {}).items()))
        iface = host.get("serving_interface")
        if iface:
            env["NCCL_SOCKET_IFNAME"] = "=" + iface
            env["GLOO_SOCKET_IFNAME"] = iface
        env["NCCL_DEBUG"] = "INFO"  # the deploy reads the transport NCCL chose from this log (NET/IB vs NET/Socket)
        if fabric == "tcp":
            env["NCCL_IB_DISABLE"] = "1"
    env.update(spec["env"])
    return env


def _argv(spec, eng, tp, pp, rank, members, hosts, leader_addr, rdv_port):
    nodes = len(members)
    model = spec["model"]
    host = hosts[members[rank]]
    listen = host.get("serving_address") or "127.0.0.1"
    if spec["engine"] == "vllm":
        argv = list(eng["argv"]) + [model["path"], "--served-model-name", model.get("served_name") or model["name"],
                                    "--tensor-parallel-size", str(tp), "--pipeline-parallel-size", str(pp),
                                    "--gpu-memory-utilization", "%.2f" % spec["gpu_memory_utilization"]]
        if spec["expert_parallel"]:
            argv.append("--enable-expert-parallel")
        if nodes > 1:
            argv += ["--distributed-executor-backend", "mp", "--nnodes", str(nodes), "--node-rank", str(rank),
                     "--master-addr", leader_addr, "--master-port", str(rdv_port)]
            if rank > 0:
                argv.append("--headless")
        if rank == 0:
            argv += ["--host", listen, "--port", str(spec["port"])]
    elif spec["engine"] == "sglang":
        argv = list(eng["argv"]) + ["--model-path", model["path"],
                                    "--served-model-name", model.get("served_name") or model["name"],
                                    "--tp-size", str(tp), "--mem-fraction-static",
                                    "%.2f" % spec["gpu_memory_utilization"], "--enable-metrics",
                                    "--host", listen, "--port", str(spec["port"])]
        if pp > 1:
            argv += ["--pp-size", str(pp)]
        if spec["expert_parallel"]:
            argv += ["--ep-size", str(tp)]
        if nodes > 1:
            argv += ["--nnodes", str(nodes), "--node-rank", str(rank),
                     "--dist-init-addr", "%s:%d" % (leader_addr, rdv_port)]
    elif rank == 0:
        path = model["path"] + "/" + model["file"] if model.get("file") else model["path"]
        argv = list(eng["argv"]) + ["--model", path, "--alias", model.get("served_name") or model["name"],
                                    "--host", listen, "--port", str(spec["port"]), "--n-gpu-layers", "999",
                                    "--metrics"]
        workers = ["%s:%d" % (hosts[h].get("serving_address"), spec["rpc_port"]) for h in members[1:]]
        if workers:
            argv += ["--rpc", ",".join(workers)]
    else:
        # rpc-server has no authentication: the firewall lets only the leader reach this port (docs/serving.md)
        argv = list(eng["worker_argv"]) + ["--host", listen, "--port", str(spec["rpc_port"])]
    if rank == 0 or spec["engine"] != "llama_cpp":
        argv += spec["extra_args"]
    return argv


def _memory(name, value):
    """A memory_max as systemd writes sizes, or None."""
    try:
        return memory_size(value)
    except ValueError as exc:
        raise GroupPlanError("model_server_groups[%s].memory_max=%s" % (name, exc))


def _instance(spec, eng, gname, shape, tp, member, members, hosts, fabric):
    """The fields the model_server role's units, readiness wait, state file and monitoring read of a per-host
    instance (serving_plan), for one member of a group: a member deploys like an instance."""
    model, rank = spec["model"], member["rank"]
    leader = rank == 0
    # llama.cpp's workers get the tensors over RPC from the leader: only the leader reads the weights
    reads_weights = leader or spec["engine"] != "llama_cpp"
    workers = []
    if leader and spec["engine"] == "llama_cpp":
        workers = [{"host": h, "address": hosts[h].get("serving_address"), "port": spec["rpc_port"]}
                   for h in members[1:]]
    return {
        "name": "%s-%s" % (gname, "leader" if leader else "worker%d" % rank),
        "served_model_name": model.get("served_name") or model["name"],
        "model": model["name"],
        "model_path": model["path"] if reads_weights else None,
        "manifest": (model.get("manifest") or model["path"] + "/SHA256SUMS") if reads_weights else None,
        "tensor_parallel_size": tp,
        "interconnect": shape["interconnect"],
        "island": [],
        "numa_nodes": [],
        "cpus": "",
        "binding": "none",
        "binding_source": "group %s takes the whole node" % gname,
        "systemd": {},
        "memory_max": spec.get("memory_max"),
        "enabled": True,
        "members": list(members),
        "nodes": len(members),
        "leader_address": hosts[members[0]].get("serving_address"),
        "fabric": fabric,
        "workers": workers,
        # readiness: the leader answers HTTP; a llama.cpp worker's rpc-server listens on its port; a vLLM/SGLang
        # worker serves nothing of its own (its unit running is all there is to see)
        "health_path": eng.get("health_path") if leader else None,
        "metrics_path": eng.get("metrics_path", "/metrics") if leader else None,
        "tcp_port": spec["rpc_port"] if not leader and spec["engine"] == "llama_cpp" else None,
        # the only hosts this member talks to besides the gateways and monitoring (systemd IPAddressAllow=):
        # llama.cpp's leader and its workers; vLLM/SGLang ranks all to all (NCCL, Gloo, the rendezvous)
        "peer_addresses": sorted(set(
            [w["address"] for w in workers] if spec["engine"] == "llama_cpp" and leader else
            [hosts[members[0]].get("serving_address")] if spec["engine"] == "llama_cpp" else
            [hosts[h].get("serving_address") for h in members if h != member["host"]]) - {None}),
    }


def serving_address(cidr, addresses):
    """The first of ``addresses`` (``[{address, interface}]``, in the host's order) inside ``cidr``:
    ``(address, interface)``, or ``(None, None)``. ``cidr`` empty: ``(None, None)``."""
    if not cidr:
        return None, None
    try:
        net = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as exc:
        raise GroupPlanError("llmfleet_serving_cidr=%r is not a network: %s" % (cidr, exc))
    for row in addresses or []:
        try:
            if ipaddress.ip_address(str(row.get("address"))) in net:
                return str(row["address"]), row.get("interface")
        except ValueError:
            continue
    return None, None


def plan_groups(specs, hosts, models, engines=None, unit_prefix="llmfleet-model"):
    """Every group of ``model_server_groups``: ``{groups: [...], by_host: {host: [member]}, warnings: [...]}``.

    A group: ``{name, spec, replica, engine, model, nodes, leader, members: [host...], rendezvous,
    tensor_parallel_size, pipeline_parallel_size, fabric, fit, shape, port}``; a member (``by_host``):
    ``{group, host, rank, role: leader|worker, gpus, gpu_uuids, argv, env, listen, port, unit}`` plus the
    instance fields of :func:`_instance` (so that the role deploys a member as it deploys an instance).
    """
    if not isinstance(specs, (list, tuple)):
        raise GroupPlanError("model_server_groups must be a list, got %s" % type(specs).__name__)
    eng_all = dict((k, dict(v)) for k, v in GROUP_ENGINES.items())
    for key, val in (engines or {}).items():
        eng_all.setdefault(key, {}).update(val or {})
    mods = {}
    for m in models or []:
        if isinstance(m, dict) and m.get("name") and m.get("path"):
            mods[m["name"]] = dict(m, path=str(m["path"]).rstrip("/"))
    norm = [_norm(s, n, mods, eng_all) for n, s in enumerate(specs)]
    taken, groups, by_host, warnings, names, ports = {}, [], {}, [], set(), {}
    for k, spec in enumerate(norm):
        if spec["name"] in names:
            raise GroupPlanError("model_server_groups name %r is used twice" % spec["name"])
        names.add(spec["name"])
        unknown = [h for h in spec["hosts"] if h not in hosts]
        if unknown:
            raise GroupPlanError("model_server_groups[%s].hosts: %s %s no pre-flight GPU facts (not GPU nodes, or "
                                 "pre-flight did not run on them)"
                                 % (spec["name"], ", ".join(unknown), "has" if len(unknown) == 1 else "have"))
        free = [h for h in spec["hosts"] if h not in taken]
        need = spec["nodes"] * spec["replicas"]
        if len(free) < need:
            busy = ["%s (in %s)" % (h, taken[h]) for h in spec["hosts"] if h in taken]
            raise GroupPlanError(
                "model_server_groups[%s]: needs %d node(s) (nodes=%d x replicas=%d) but only %d of its hosts are "
                "free: %s%s" % (spec["name"], need, spec["nodes"], spec["replicas"], len(free), ", ".join(free) or "none",
                                "; taken: " + ", ".join(busy) if busy else ""))
        for r in range(spec["replicas"]):
            members = free[r * spec["nodes"]:(r + 1) * spec["nodes"]]
            shapes = dict((h, host_shape(hosts[h].get("gpu"))) for h in members)
            distinct = set(tuple(sorted(s.items())) for s in shapes.values())
            if len(distinct) > 1:
                raise GroupPlanError("model_server_groups[%s] replica %d: its nodes differ: %s; a group needs nodes "
                                     "of one GPU model, count, memory and NVLink shape"
                                     % (spec["name"], r, "; ".join("%s: %s" % (h, _shape_label(shapes[h]))
                                                                   for h in members)))
            shape = shapes[members[0]]
            if shape["gpu_count"] == 0:
                raise GroupPlanError("model_server_groups[%s] replica %d: %s ha%s no GPU in pre-flight's snapshot"
                                     % (spec["name"], r, ", ".join(members), "s" if len(members) == 1 else "ve"))
            tp, pp = _layout(spec, shape, members)
            fit = _fit(spec, shape, members)
            fabric = _fabric(spec, members, hosts, warnings)
            gname = spec["name"] if spec["replicas"] == 1 else "%s-%d" % (spec["name"], r)
            leader = members[0]
            leader_addr = hosts[leader].get("serving_address")
            if len(members) > 1 and not leader_addr:
                raise GroupPlanError("model_server_groups[%s]: leader %s has no address on the serving network "
                                     "(llmfleet_serving_cidr)" % (spec["name"], leader))
            rdv_port = spec["rendezvous_port"] or 29500 + k
            for h in members:
                for p, what in ((spec["port"], "port"), (rdv_port if len(members) > 1 else None, "rendezvous_port"),
                                (spec["rpc_port"] if spec["engine"] == "llama_cpp" and h != leader else None,
                                 "rpc_port")):
                    if p is None:
                        continue
                    if (h, p) in ports:
                        raise GroupPlanError("model_server_groups[%s].%s=%d on %s is already used by %s"
                                             % (spec["name"], what, p, h, ports[(h, p)]))
                    ports[(h, p)] = "%s (%s)" % (gname, what)
            mlist = []
            for rank, h in enumerate(members):
                taken[h] = gname
                gpus = sorted(_gpus(hosts[h].get("gpu")), key=lambda g: g["index"])
                member = {
                    "group": gname, "host": h, "rank": rank, "role": "leader" if rank == 0 else "worker",
                    "engine": spec["engine"],
                    "gpus": [g["index"] for g in gpus], "gpu_uuids": [g.get("uuid") for g in gpus],
                    "listen": hosts[h].get("serving_address") or "127.0.0.1",
                    "port": spec["port"] if rank == 0 or spec["engine"] == "sglang" else (
                        spec["rpc_port"] if spec["engine"] == "llama_cpp" else None),
                    "unit": "%s-%s-%s.service" % (unit_prefix, gname, "leader" if rank == 0 else "worker%d" % rank),
                    "argv": _argv(spec, eng_all[spec["engine"]], tp, pp, rank, members, hosts, leader_addr,
                                  rdv_port),
                    "env": _env(spec, hosts[h], gpus, fabric),
                }
                member.update(_instance(spec, eng_all[spec["engine"]], gname, shape, tp, member, members, hosts,
                                        fabric))
                mlist.append(member)
                by_host.setdefault(h, []).append(member)
            groups.append({
                "name": gname, "spec": spec["name"], "replica": r, "engine": spec["engine"],
                "model": spec["model"]["name"], "served_model_name": spec["model"].get("served_name") or
                spec["model"]["name"], "nodes": len(members), "members": list(members), "leader": leader,
                "rendezvous": "%s:%d" % (leader_addr, rdv_port) if len(members) > 1 else None,
                "tensor_parallel_size": tp, "pipeline_parallel_size": pp, "fabric": fabric, "fit": fit,
                "shape": shape, "port": spec["port"], "health_path": eng_all[spec["engine"]].get("health_path"),
                "ranks": mlist,
            })
    return {"groups": groups, "by_host": by_host, "warnings": warnings}


def check_limit(plan, limit_hosts, widen=False):
    """A run limited to ``limit_hosts`` must take every group whole: ``(hosts, messages)``.

    A group is deployed whole (its ranks start together, a worker alone has lost its share of the model). With
    ``widen=False`` a limit that names part of a group raises :class:`GroupPlanError` naming the group, the hosts
    it names and the ones it leaves out; with ``widen=True`` the missing members are added and each addition is
    said in ``messages``. Hosts in no group pass through.
    """
    limit = list(dict.fromkeys(limit_hosts or []))
    hosts, messages, partial = list(limit), [], []
    for g in plan.get("groups") or []:
        named = [h for h in g["members"] if h in limit]
        missing = [h for h in g["members"] if h not in limit]
        if named and missing:
            partial.append((g, named, missing))
    if partial and not widen:
        raise GroupPlanError("--limit names part of a model-server group (a group is deployed whole): %s; "
                             "add the missing hosts to --limit"
                             % "; ".join("%s: limit has %s, leaves out %s" % (g["name"], ", ".join(n), ", ".join(m))
                                         for g, n, m in partial))
    for g, named, missing in partial:
        hosts.extend(h for h in missing if h not in hosts)
        messages.append("--limit widened to the whole group %s: added %s" % (g["name"], ", ".join(missing)))
    return hosts, messages


def full_path_hosts(plan, changed_hosts):
    """The hosts that must take the full path when ``changed_hosts`` do: each widened to its whole group, so the
    fast path never skips one member of a group that the run changes. Sorted."""
    changed = set(changed_hosts or [])
    out = set(changed)
    for g in plan.get("groups") or []:
        if changed.intersection(g["members"]):
            out.update(g["members"])
    return sorted(out)


def rolling_batches(plan):
    """Batches for a rolling restart: ``[[group name, ...], ...]``.

    A group is restarted whole, in one batch. Two groups of the same model are never in one batch (the other
    replicas keep serving it), so batch *k* holds the *k*-th group of every model; a model with one group is
    down while its batch restarts, and that is said by the caller.
    """
    per_model = {}
    for g in sorted(plan.get("groups") or [], key=lambda x: (x["model"], x["name"])):
        per_model.setdefault(g["model"], []).append(g["name"])
    depth = max([len(v) for v in per_model.values()] or [0])
    return [[names[k] for _model, names in sorted(per_model.items()) if k < len(names)] for k in range(depth)]
