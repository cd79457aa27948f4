"""`llmfleet report`: a self-contained HTML page (and JSON) of the fleet, from the artifacts of earlier runs.

Nothing here contacts a host: the pre-flight reports (`preflight-<host>.json`, written on the controller by the
preflight role into each run directory) carry the host probe and the NVML snapshot; the newest deploy summary carries
each host's last recap. Topology pictures are drawn with Graphviz (`dot`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
import subprocess
from pathlib import Path

from llmfleet import paths
from llmfleet.errors import LlmfleetError


def _runs(run_root: Path) -> list[Path]:
    return sorted((p for p in run_root.glob("*-*") if p.is_dir() and not p.is_symlink()), key=lambda p: p.name)


def latest_reports(hosts: list[str], run_root: Path | None = None) -> dict[str, dict]:
    """The newest pre-flight report of each host, with the run it came from."""
    run_root = run_root or paths.RUNS
    found: dict[str, dict] = {}
    for run in _runs(run_root):
        for host in hosts:
            f = run / f"preflight-{host}.json"
            if f.exists():
                data = json.loads(f.read_text())
                data["_run"] = run.name
                found[host] = data
    return found


def latest_deploy(run_root: Path | None = None) -> dict | None:
    """The newest summary of a site deploy (not a preflight-only or check run)."""
    for run in reversed(_runs(run_root or paths.RUNS)):
        s = run / "summary.json"
        if s.exists():
            data = json.loads(s.read_text())
            if Path(data.get("playbook", "")).name == "site.yml" and not data.get("check"):
                data["_run"] = run.name
                return data
    return None


# The facts that carry a host's model-server instances (docs/shared-facts.md): the shared llmfleet_model_servers (set
# by the model_server role, or by the fast path from the stamp of a GPU node that skipped its layers) and the role's
# own plan (set before any change, so a run that failed later still shows what it planned). Found by fact name in any
# task's result, never by task name.
PLAN_FACTS = ("llmfleet_model_servers", "__model_server_plan")


def deploy_instances(deploy: dict | None, run_root: Path | None = None) -> dict[str, list[dict]]:
    """Model-server instances per host as the last site deploy planned them (read from that run's events.json: name,
    unit, GPUs, CPUs, port); the last event that set one of PLAN_FACTS wins."""
    if not deploy or not deploy.get("_run"):
        return {}
    events = (run_root or paths.RUNS) / deploy["_run"] / "events.json"
    if not events.exists():
        return {}
    out: dict[str, list[dict]] = {}
    for ev in json.loads(events.read_text()):
        data = ev.get("event_data") or {}
        if ev.get("event") != "runner_on_ok":
            continue
        facts = (data.get("res") or {}).get("ansible_facts") or {}
        name = next((f for f in PLAN_FACTS if isinstance(facts.get(f), list)), None)
        if name is None:
            continue
        out[data.get("host")] = [{k: inst.get(k) for k in _INSTANCE_KEYS + (_GROUP_KEYS if "group" in inst else ())}
                                 for inst in facts[name] if isinstance(inst, dict)]
    return out


_INSTANCE_KEYS = ("name", "unit", "engine", "model", "gpus", "cpus", "port")
_GROUP_KEYS = ("group", "role", "rank", "members", "listen", "fabric")


def model_groups(instances: dict[str, list[dict]]) -> dict[str, dict]:
    """The model-server groups that span nodes, from every host's planned members: ``{group: {engine, model, fabric,
    members: [{host, role, rank, unit, listen, port, gpus}]}}`` with the members in rank order."""
    out: dict[str, dict] = {}
    for host, insts in sorted(instances.items()):
        for inst in insts:
            if not inst.get("group"):
                continue
            grp = out.setdefault(inst["group"], {"engine": inst.get("engine"), "model": inst.get("model"),
                                                 "fabric": inst.get("fabric"), "members": []})
            grp["members"].append({"host": host, **{k: inst.get(k) for k in ("role", "rank", "unit", "listen", "port",
                                                                            "gpus")}})
    for grp in out.values():
        grp["members"].sort(key=lambda m: (m.get("rank") is None, m.get("rank")))
    return out


def groups_dot(groups: dict[str, dict]) -> str:
    """A graph of every group across its nodes: one box per node, the leader linked to each worker."""
    lines = ["graph groups {", "  rankdir=LR; node [fontname=Helvetica, fontsize=10, style=filled];"]
    for g, grp in sorted(groups.items()):
        link = {"llama_cpp": "RPC (TCP)"}.get(grp.get("engine"), "NCCL " + str(grp.get("fabric") or ""))
        lines.append(f'  subgraph "cluster_{g}" {{ label="group {g}: {grp.get("engine")} · {grp.get("model")}";')
        for m in grp["members"]:
            gpus = ",".join(str(i) for i in m.get("gpus") or []) or "none"
            lines.append(f'    "{g}/{m["host"]}" [label="{m["host"]}\\n{m.get("role")} rank {m.get("rank")}\\n'
                         f'{m.get("listen")}:{m.get("port")}\\nGPUs {gpus}", shape=box3d, '
                         f'fillcolor="{"#ffe0b2" if m.get("role") == "leader" else "#e3f2fd"}"];')
        lines.append("  }")
        leader = grp["members"][0] if grp["members"] else None
        for m in grp["members"][1:]:
            lines.append(f'  "{g}/{leader["host"]}" -- "{g}/{m["host"]}" [label="{link}", color="#e65100"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _gid(i) -> str:
    return f"gpu{i}"


def topology_dot(host: str, rep: dict, instances: list[dict] | None = None) -> str:
    """Graphviz source: NUMA nodes (with CPUs) holding their GPUs, NICs and RDMA devices; NVLink bonds and NVSwitch."""
    hf = rep.get("host_facts") or {}
    gpu = rep.get("gpu_facts") or {}
    gpus = gpu.get("gpus") or []
    numa_nodes = (hf.get("numa") or {}).get("nodes") or []
    owner = {}
    for inst in instances or []:
        for idx in inst.get("gpus", []):
            owner[idx] = inst.get("name", "")
    lines = [
        f'graph "{host}" {{',
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, bgcolor="white", compound=true];',
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#f5f5f5"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    by_node: dict[int, list[str]] = {}
    for g in gpus:
        n = g.get("numa_node")
        n = n if isinstance(n, int) and n >= 0 else -1
        label = f"GPU {g['index']}\\n{g.get('name', '')}\\n{g.get('memory_total_mib', '?')} MiB · CC {g.get('compute_capability', '?')}"
        if g["index"] in owner:
            label += f"\\nserves: {owner[g['index']]}"
        fill = "#d7ecd9" if g["index"] in owner else "#e3eefc"
        by_node.setdefault(n, []).append(f'    {_gid(g["index"])} [label="{label}", fillcolor="{fill}"];')
    nics = [n for n in hf.get("nics") or [] if n.get("physical")]
    if not nics:  # containers and some VMs: show their virtual NICs rather than nothing
        nics = [n for n in hf.get("nics") or [] if n.get("name") not in ("lo",) and n.get("operstate") == "up"]
    for nic in nics:
        n = nic.get("numa_node")
        n = n if isinstance(n, int) and n >= 0 else -1
        label = f"NIC {nic['name']}\\n{nic.get('pci_bus_id') or ''} · {nic.get('link_layer', '')}\\nMTU {nic.get('mtu')}"
        if nic.get("rdma_device"):
            label += f" · RDMA {nic['rdma_device']}"
        by_node.setdefault(n, []).append(f'    "nic_{nic["name"]}" [label="{label}", shape=component, fillcolor="#fdf0d5"];')
    for dev in hf.get("rdma") or []:
        name = dev.get("name") or dev.get("device")
        n = dev.get("numa_node")
        n = n if isinstance(n, int) and n >= 0 else -1
        by_node.setdefault(n, []).append(f'    "rdma_{name}" [label="RDMA {name}", shape=component, fillcolor="#f9e0e0"];')
    known = {nd["node"]: nd for nd in numa_nodes}
    for n in sorted(set(by_node) | set(known)):
        nd = known.get(n)
        title = f"NUMA node {n} · CPUs {nd.get('cpulist')} · {round((nd.get('memory_total_kib') or 0) / 1048576, 1)} GiB" if nd \
            else "NUMA node unknown (firmware reports -1)"
        lines.append(f"  subgraph cluster_numa{n if n >= 0 else 'x'} {{")
        lines.append(f'    label="{title}"; style="rounded"; color="#888888";')
        lines.extend(by_node.get(n) or [f'    "empty{n}" [label="(no GPUs or NICs)", shape=plaintext, style=""];'])
        lines.append("  }")
    nvswitch = False
    for pair in gpu.get("pairs") or []:
        link = pair.get("nvlink") or {}
        a, b = _gid(pair["gpu_a"]), _gid(pair["gpu_b"])
        if link.get("direct_links"):
            lines.append(f'  {a} -- {b} [label="NV{link["direct_links"]}", color="#2e7d32", penwidth=2.5];')
        if link.get("via_nvswitch"):
            nvswitch = True
    if nvswitch:
        lines.append('  nvswitch [label="NVSwitch fabric", shape=hexagon, fillcolor="#ede7f6"];')
        for g in gpus:
            if g.get("nvlink_nvswitch_links"):
                lines.append(f'  {_gid(g["index"])} -- nvswitch [label="{g["nvlink_nvswitch_links"]} links", color="#5e35b1", penwidth=2];')
    known_gpus = {g["index"] for g in gpus}
    for k, inst in enumerate(instances or []):
        label = f"model server {inst.get('name', '?')}\\n{inst.get('engine') or ''} · {inst.get('model') or ''}"
        if inst.get("cpus"):
            label += f"\\nCPUs {inst['cpus']}"
        lines.append(f'  "inst{k}" [label="{label}", shape=note, fillcolor="#ffe0b2"];')
        for idx in inst.get("gpus") or []:
            if idx in known_gpus:
                lines.append(f'  "inst{k}" -- {_gid(idx)} [style=dashed, color="#e65100", penwidth=1.5];')
    lines.append("}")
    return "\n".join(lines)


def render_svg(dot_src: str) -> str:
    dot = shutil.which("dot")
    if not dot:
        raise LlmfleetError("graphviz is not installed (apt-get install graphviz; `make deps` does it)")
    proc = subprocess.run([dot, "-Tsvg"], input=dot_src, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LlmfleetError(f"graphviz failed: {proc.stderr.strip()[:500]}")
    svg = proc.stdout
    return svg[svg.find("<svg"):]


def fleet_model(inventory_hosts: dict, run_root: Path | None = None) -> dict:
    hosts = sorted(inventory_hosts)
    reports = latest_reports(hosts, run_root)
    deploy = latest_deploy(run_root)
    instances = deploy_instances(deploy, run_root)
    out = {"schema": "llmfleet.report/v1", "generated": dt.datetime.now(dt.timezone.utc).isoformat(),
           "deploy_run": deploy.get("_run") if deploy else None, "hosts": {}}
    for h in hosts:
        rep = reports.get(h) or {}
        hf = rep.get("host_facts") or {}
        gf = rep.get("gpu_facts") or {}
        recap = (deploy or {}).get("hosts", {}).get(h)
        out["hosts"][h] = {
            "groups": inventory_hosts[h].get("group_names", []),
            "preflight_run": rep.get("_run"),
            "hardware": {
                "cpu": (hf.get("cpu") or {}).get("model"),
                "cpus": (hf.get("cpu") or {}).get("logical_cpus") or (hf.get("cpu") or {}).get("count"),
                "numa_nodes": (hf.get("numa") or {}).get("node_count"),
                "memory_gib": round(((hf.get("memory") or {}).get("total_kib") or 0) / 1048576, 1),
                "gpus": [f"{g['index']}: {g.get('name')} ({g.get('memory_total_mib')} MiB, {g.get('pci_bus_id')})" for g in gf.get("gpus") or []],
            },
            "versions": {
                "kernel": (hf.get("kernel") or {}).get("release") if isinstance(hf.get("kernel"), dict) else hf.get("kernel"),
                "driver": gf.get("driver_version"),
                "cuda": gf.get("cuda_driver_version"),
                "nvml": gf.get("nvml_version"),
            },
            "gpu_source": rep.get("gpu_source", "none"),
            "replay_of": (rep.get("replay_of") or {}).get("file") if isinstance(rep.get("replay_of"), dict) else rep.get("replay_of"),
            "preflight": {"passed": rep.get("passed"), "violations": rep.get("violations") or [],
                          "warnings": rep.get("warnings") or []} if rep else None,
            "deploy": recap,
            "has_gpus": bool(gf.get("gpus")),
        }
        out["hosts"][h]["model_servers"] = instances.get(h, [])
        if gf.get("gpus"):
            out["hosts"][h]["topology_dot"] = topology_dot(h, rep, instances.get(h))
    out["model_groups"] = model_groups(instances)
    if out["model_groups"]:
        out["groups_dot"] = groups_dot(out["model_groups"])
    return out


CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{margin-bottom:4px} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:8px 0 16px} td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}
th{background:#eee} .host{background:white;border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:16px 0}
.pass{color:#1b5e20;font-weight:bold} .fail{color:#b71c1c;font-weight:bold} .replay{background:#fff3cd;padding:2px 6px;border-radius:4px}
.topo svg{max-width:100%;height:auto}
"""


def render_html(model: dict) -> str:
    e = html.escape
    rows = []
    for h, m in model["hosts"].items():
        pf = m["preflight"]
        verdict = "—" if pf is None else ('<span class="pass">PASS</span>' if pf["passed"] else
                                          f'<span class="fail">FAIL ({len(pf["violations"])})</span>')
        d = m["deploy"]
        dep = "—" if not d else ("failed" if d.get("failures") or d.get("unreachable") else f"ok ({d.get('changed', 0)} changed)")
        src = m["gpu_source"] + (f' <span class="replay">replay of {e(str(m["replay_of"]))}</span>' if m["gpu_source"] == "replay" else "")
        rows.append(f"<tr><td>{e(h)}</td><td>{e(', '.join(m['groups']))}</td><td>{verdict}</td><td>{e(dep)}</td>"
                    f"<td>{e(str(m['versions']['driver'] or '—'))}</td><td>{e(str(m['versions']['cuda'] or '—'))}</td>"
                    f"<td>{e(str(m['versions']['kernel'] or '—'))}</td><td>{src}</td></tr>")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>llmfleet report</title><style>{CSS}</style></head><body>",
             "<h1>llmfleet fleet report</h1>",
             f"<p class='sub'>generated {e(model['generated'])} from run artifacts (deploy run: {e(str(model['deploy_run']))}); "
             "no host was contacted</p>",
             "<table><tr><th>host</th><th>groups</th><th>pre-flight</th><th>last deploy</th><th>driver</th><th>CUDA</th>"
             "<th>kernel</th><th>GPU data</th></tr>", *rows, "</table>"]
    if model.get("model_groups"):
        parts.append("<h2>Model-server groups across nodes</h2><table><tr><th>group</th><th>engine</th><th>model</th>"
                     "<th>members (rank: host, role, unit)</th></tr>")
        for g, grp in sorted(model["model_groups"].items()):
            members = "<br>".join(f"{e(str(m.get('rank')))}: {e(m['host'])} ({e(str(m.get('role')))}, "
                                  f"{e(str(m.get('unit')))})" for m in grp["members"])
            parts.append(f"<tr><td>{e(g)}</td><td>{e(str(grp.get('engine')))}</td><td>{e(str(grp.get('model')))}</td>"
                         f"<td>{members}</td></tr>")
        parts.append("</table>")
        if model.get("groups_svg"):
            parts.append(f"<div class='topo'>{model['groups_svg']}</div>")
    for h, m in model["hosts"].items():
        parts.append(f"<div class='host'><h2>{e(h)}</h2>")
        hw = m["hardware"]
        parts.append(f"<p>{e(str(hw['cpu']))} · {e(str(hw['cpus']))} CPUs · {e(str(hw['numa_nodes']))} NUMA node(s) · "
                     f"{hw['memory_gib']} GiB</p>")
        if hw["gpus"]:
            parts.append("<ul>" + "".join(f"<li>{e(g)}</li>" for g in hw["gpus"]) + "</ul>")
        pf = m["preflight"]
        if pf and pf["violations"]:
            parts.append("<table><tr><th>gpu</th><th>check</th><th>expected</th><th>found</th><th>what to do</th></tr>")
            for v in pf["violations"]:
                parts.append(f"<tr><td>{e(str(v.get('gpu', '')))}</td><td>{e(str(v.get('check')))}</td><td>{e(str(v.get('expected')))}</td>"
                             f"<td>{e(str(v.get('found')))}</td><td>{e(str(v.get('message', '')))}</td></tr>")
            parts.append("</table>")
        for w in (pf or {}).get("warnings", []):
            parts.append(f"<p>warning: {e(str(w.get('message', w)))}</p>")
        if m.get("model_servers"):
            parts.append("<table><tr><th>model server</th><th>unit</th><th>engine</th><th>model</th><th>GPUs</th><th>CPUs</th></tr>")
            for inst in m["model_servers"]:
                parts.append("<tr>" + "".join(f"<td>{e(str(inst.get(k) if inst.get(k) is not None else '—'))}</td>"
                                              for k in ("name", "unit", "engine", "model", "gpus", "cpus")) + "</tr>")
            parts.append("</table>")
        if m.get("topology_svg"):
            label = (" (GPUs from a REPLAYED snapshot, not this host's hardware; NUMA nodes and NICs from this host)"
                     if m["gpu_source"] == "replay" else "")
            parts.append(f"<h3>Topology{e(label)}</h3><div class='topo'>{m['topology_svg']}</div>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(inventory: Path, output: Path, run_root: Path | None = None) -> dict:
    from llmfleet import lab

    hostvars = lab.load_inventory(inventory)
    model = fleet_model(hostvars, run_root)
    if not any(m["preflight"] for m in model["hosts"].values()):
        raise LlmfleetError(f"no pre-flight artifacts for any host of {inventory}: run `llmfleet preflight -i {inventory}` "
                            "or `llmfleet deploy` first")
    for m in model["hosts"].values():
        if m.get("topology_dot"):
            m["topology_svg"] = render_svg(m["topology_dot"])
    if model.get("groups_dot"):
        model["groups_svg"] = render_svg(model["groups_dot"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(model))
    json_model = {k: v for k, v in model.items() if k != "groups_svg"}
    json_model["hosts"] = {h: {k: v for k, v in m.items() if k != "topology_svg"} for h, m in model["hosts"].items()}
    output.with_suffix(".json").write_text(json.dumps(json_model, indent=2))
    return model
