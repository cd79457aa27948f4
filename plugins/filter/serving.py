# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for model serving (docs: the .yml sidecars, docs/serving.md); the monitoring ones are in monitoring.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils import nccl_transport
from ansible_collections.llmfleet.baremetal.plugins.module_utils import serving_groups as sg
from ansible_collections.llmfleet.baremetal.plugins.module_utils.serving_plan import ServingPlanError, plan_instances
from ansible_collections.llmfleet.baremetal.plugins.module_utils.serving_plan import resolve_models
from ansible_collections.llmfleet.baremetal.plugins.module_utils import systemd_sandbox


def model_server_instances(snapshot, specs, models, host=None, islands=None, placement=None, engines=None,
                           host_name=None, port_base=8000, listen="0.0.0.0", unit_prefix="llmfleet-model",
                           reserved_cpus="", rdma_gid_index=None, numa_binding="auto", cpu_engines_take_gpus=True):
    """The model-server instances of one host (module_utils/serving_plan.plan_instances)."""
    try:
        return plan_instances(snapshot or {}, specs or [], models or [], host=host or None, islands=islands,
                              placement=placement or None, engines=engines or None, host_name=host_name,
                              port_base=int(port_base), listen=listen, unit_prefix=unit_prefix,
                              reserved_cpus=reserved_cpus or "", rdma_gid_index=rdma_gid_index,
                              numa_binding=numa_binding, cpu_engines_take_gpus=bool(cpu_engines_take_gpus))
    except ServingPlanError as exc:
        raise AnsibleFilterError(str(exc))


def model_server_models_resolved(models, root="/var/lib/llmfleet/models"):
    """model_server_models with versioned entries placed where model sync puts them (serving_plan.resolve_models)."""
    try:
        return resolve_models(list(models or []), root)
    except ServingPlanError as exc:
        raise AnsibleFilterError(str(exc))


def systemd_sandbox_directives(profile, device_allow=None, writable_paths=None):
    """[[key, value]] of a sandbox profile (module_utils/systemd_sandbox.directives)."""
    try:
        pairs = systemd_sandbox.directives(profile, device_allow=device_allow or [], writable_paths=writable_paths or [])
        return [list(kv) for kv in pairs]
    except systemd_sandbox.SandboxError as exc:
        raise AnsibleFilterError(str(exc))


def model_server_device_allow(gpus, snapshot, rdma=False):
    """DeviceAllow= values of a model server on GPU indices ``gpus`` (minor numbers from the pre-flight snapshot)."""
    minors = dict((g.get("index"), g.get("minor_number")) for g in (snapshot or {}).get("gpus") or []
                  if isinstance(g, Mapping) and g.get("index") is not None)
    return systemd_sandbox.gpu_devices(gpus or [], minors, rdma=bool(rdma))


def _addresses(hvars):
    """A host's IPv4 addresses in its facts' interface order (``[{address, interface}]``), then ansible_host."""
    facts = hvars.get("ansible_facts") or {}
    out = []
    for iface in facts.get("interfaces") or []:
        ipv4 = (facts.get(str(iface).replace("-", "_")) or {}).get("ipv4") or {}
        rows = ([ipv4] if isinstance(ipv4, Mapping) else list(ipv4)) + list(
            (facts.get(str(iface).replace("-", "_")) or {}).get("ipv4_secondaries") or [])
        out.extend({"address": r.get("address"), "interface": iface} for r in rows if isinstance(r, Mapping))
    if hvars.get("ansible_host"):
        match = [r["interface"] for r in out if r["address"] == hvars["ansible_host"]]
        out.append({"address": hvars["ansible_host"], "interface": match[0] if match else None})
    return out


def _serving(name, hvars, cidr):
    """A host's serving address and interface: ``llmfleet_serving_address``, else its first address inside
    ``cidr``, else ``ansible_host`` when ``cidr`` is empty; a host with no address inside ``cidr`` is refused."""
    addresses = _addresses(hvars)
    address, iface = sg.serving_address(cidr, addresses)
    if hvars.get("llmfleet_serving_address"):
        address = hvars["llmfleet_serving_address"]
        iface = ([r["interface"] for r in addresses if r["address"] == address] or [iface])[0]
    elif not cidr and hvars.get("ansible_host"):
        address, iface = addresses[-1]["address"], addresses[-1]["interface"]
    if cidr and not address:
        raise sg.GroupPlanError(
            "%s has no address inside llmfleet_serving_cidr=%s (has %s); set llmfleet_serving_address for "
            "it or fix the CIDR" % (name, cidr, ", ".join(sorted(set(str(r["address"]) for r in addresses)))
                                    or "none"))
    return address, iface


def model_server_address(hvars, name, cidr=""):
    """The address a GPU node's model servers listen on (its serving address, see :func:`_serving`)."""
    try:
        address = _serving(name, hvars or {}, cidr)[0]
    except sg.GroupPlanError as exc:
        raise AnsibleFilterError(str(exc))
    if not address:
        raise AnsibleFilterError("%s: no serving address (set llmfleet_serving_cidr, llmfleet_serving_address or "
                                 "model_server_listen)" % name)
    return address


def model_server_groups(specs, hostvars, models, cidr="", engines=None, unit_prefix="llmfleet-model", limit=None):
    """The model-server groups of the site (module_utils/serving_groups.plan_groups), from every member's
    pre-flight GPU snapshot (``ansible_facts.llmfleet_gpu``), its address on the serving network
    (``llmfleet_serving_address``, else the first address inside ``cidr``, else ``ansible_host`` when ``cidr``
    is empty) and the rdma role's ``llmfleet_rdma_nccl_env``. ``limit``: the run's hosts; a group that the run
    takes only in part is refused (a group is deployed whole)."""
    hosts = {}
    names = sorted(set(h for s in specs or [] if isinstance(s, Mapping) for h in (s.get("hosts") or [])
                       if isinstance(h, str)))
    try:
        for name in names:
            if name not in hostvars:
                continue
            hvars = hostvars[name]
            gpu = (hvars.get("ansible_facts") or {}).get("llmfleet_gpu")
            if not gpu:
                continue
            address, iface = _serving(name, hvars, cidr)
            hosts[name] = {"gpu": gpu, "serving_address": address, "serving_interface": iface,
                           "nccl_env": dict(hvars.get("llmfleet_rdma_nccl_env") or {})}
        plan = sg.plan_groups(list(specs or []), hosts, list(models or []), engines=engines or None,
                              unit_prefix=unit_prefix)
        if limit is not None:
            sg.check_limit(plan, list(limit))
        return plan
    except sg.GroupPlanError as exc:
        raise AnsibleFilterError(str(exc))


def local_url(member, path=None):
    """``http://<address>:<port><path>`` of an instance or group member, as seen from its own host (a wildcard
    listen address is reached on 127.0.0.1)."""
    listen = str(member.get("listen") or "127.0.0.1")
    if listen in ("0.0.0.0", "::", ""):
        listen = "127.0.0.1"
    if ":" in listen:
        listen = "[%s]" % listen
    return "http://%s:%s%s" % (listen, member.get("port"), member.get("health_path") if path is None else path)


def model_group_check_entry(member):
    """The group check's view (``llmfleet-model-group check``) of a group leader from ``model_server_groups``."""
    if not isinstance(member, Mapping) or member.get("role") != "leader":
        raise AnsibleFilterError("model_group_check_entry wants a group leader, got %r" % (member,))
    return {"group": member["group"], "model": member.get("served_model_name", ""), "unit": member["unit"],
            "health_url": local_url(member),
            "workers": [{"host": w["host"], "address": w["address"], "port": w["port"]}
                        for w in member.get("workers") or []]}


def nccl_transport_check(log_text, member, on_socket="fail"):
    """The transport NCCL chose for a group member (from its ``NCCL_DEBUG=INFO`` journal) against the plan:
    ``{status: ok|warn|fail, message, transport, hcas, socket_ifaces}`` (module_utils/nccl_transport)."""
    if on_socket not in ("fail", "warn"):
        raise AnsibleFilterError("model_server_nccl_on_socket must be fail or warn, got %r" % (on_socket,))
    facts = nccl_transport.parse(str(log_text or ""))
    status, message = nccl_transport.verdict(facts, (member or {}).get("fabric") == "rdma", on_socket=on_socket,
                                             group=(member or {}).get("group", ""),
                                             host=(member or {}).get("host", ""))
    return dict(facts, status=status, message=message)


class FilterModule(object):
    def filters(self):
        return {
            "model_server_instances": model_server_instances,
            "model_server_models_resolved": model_server_models_resolved,
            "model_server_device_allow": model_server_device_allow,
            "systemd_sandbox": systemd_sandbox_directives,
            "model_server_groups": model_server_groups,
            "model_server_address": model_server_address,
            "model_group_check_entry": model_group_check_entry,
            "model_server_local_url": local_url,
            "nccl_transport_check": nccl_transport_check,
        }
