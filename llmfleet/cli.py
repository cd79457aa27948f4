"""llmfleet — deploy and operate the llmfleet.baremetal collection.

  llmfleet lab up|down|status [-i INVENTORY] [--name NAME]
  llmfleet deploy -i INVENTORY [--limit L] [--check] [--diff] [--tags T] [--playbook P]
  llmfleet preflight -i INVENTORY [--limit L]
  llmfleet report -i INVENTORY [-o FILE]
  llmfleet gpu snapshot [-o FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from llmfleet import paths
from llmfleet.errors import LlmfleetError

DEFAULT_LAB = paths.ROOT / "inventories" / "lab"


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)
    return console


def cmd_lab(args, console: Console) -> int:
    from llmfleet import lab

    inv = Path(args.inventory)
    log = console.print
    if args.action == "up":
        rows = lab.up(inv, args.name, log=log)
    elif args.action == "images":
        for r in lab.images(inv, args.name, log=log):
            console.print(f"{r['kind']} image ready for {', '.join(r['hosts'])} in {r['seconds']}s")
        return 0
    elif args.action == "down":
        lab.down(inv, args.name, log=log)
        console.print("lab is down")
        return 0
    else:
        rows = lab.status(inv, args.name, log=log)
    t = Table(title=f"lab {args.name or inv.name}")
    for col in ("host", "kind", "state", "ssh", "boot_to_ssh_s"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["kind"], r["state"], r.get("ssh", ""), str(r.get("boot_to_ssh_s") or ""))
    console.print(t)
    return 0 if all(r["state"] == "running" for r in rows) or args.action == "status" else 1


def deploy_extravars(pairs, full=False) -> dict:
    """`-e KEY=VALUE` pairs (VALUE read as YAML: true, 3, [a, b]) and `--full` as ansible-playbook extra vars."""
    import yaml

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise LlmfleetError(f"-e takes KEY=VALUE with KEY a variable name, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    if full:
        out["llmfleet_fast_path"] = False
    return out


def cmd_deploy(args, console: Console) -> int:
    from llmfleet.runner import run_playbook

    summary = run_playbook(
        Path(args.inventory), playbook=args.playbook, limit=args.limit, tags=args.tags,
        check=args.check, diff=args.diff, console=console,
        extravars=deploy_extravars(args.extra_vars, args.full),
    )
    if summary["failed_hosts"]:
        console.print(f"[red]failed or unreachable hosts: {', '.join(summary['failed_hosts'])}[/]")
        return 2
    if summary["rc"] != 0:
        console.print(f"[red]ansible-playbook exited {summary['rc']}[/]")
        return 2
    if Path(args.playbook).name == "site.yml" and not args.check:
        print_endpoints(args.inventory, console)
    return 0


def print_endpoints(inventory: str, console: Console) -> bool:
    """The next-steps text of the site's recorded endpoints (llmfleet/endpoints.py); False when there is none."""
    from llmfleet import endpoints
    from llmfleet.lab import load_inventory

    site, gw_dir, mon_dir = endpoints.site_secret_dirs(load_inventory(Path(inventory)))
    text = endpoints.next_steps(inventory, endpoints.read_records(gw_dir, mon_dir), site)
    if text:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    return text is not None


def cmd_endpoints(args, console: Console) -> int:
    if print_endpoints(args.inventory, console):
        return 0
    console.print(f"no endpoint recorded for {args.inventory} yet: deploy it first (llmfleet deploy -i {args.inventory})",
                  markup=False)
    return 1


def cmd_model_push(args, console: Console) -> int:
    from llmfleet import models

    models.push(Path(args.inventory), args.name, Path(args.dir), args.version,
                out=lambda text: console.print(text, markup=False, soft_wrap=True))
    return 0


def cmd_burnin(args, console: Console) -> int:
    from llmfleet.runner import run_playbook

    summary = run_playbook(Path(args.inventory), playbook="playbooks/burnin.yml", limit=args.limit, console=console,
                           extravars={"burnin_level": args.level})
    for f in sorted(Path(summary["run_dir"]).glob("burnin-*.json")):
        verdict = json.loads(f.read_text())
        state = "[green]passed[/]" if verdict["passed"] else "[red]FAILED[/]"
        figures = ", ".join("GPU %s %.0f GB/s %.0f TFLOP/s" % (m["gpu"], m["copy_gb_per_s"], m["bf16_tflops"])
                            for m in verdict.get("measured") or [])
        console.print(f"{verdict['host']}: {state} {figures}")
    if summary["failed_hosts"]:
        console.print(f"[red]burn-in failed or unreachable: {', '.join(summary['failed_hosts'])}[/]")
        return 2
    return 0 if summary["rc"] == 0 else 2


def cmd_hostkeys(args, console: Console) -> int:
    from llmfleet import hostkeys
    from llmfleet.lab import load_inventory

    inventory = Path(args.inventory)
    hostvars = load_inventory(inventory)
    limit = set(args.limit.split(",")) if args.limit else None
    res = hostkeys.scan(inventory, hostvars, pin=args.pin, limit=limit)
    table = Table(title=f"SSH host keys ({res['path']})")
    for col in ("host", "known_hosts name", "type", "fingerprint", "status"):
        table.add_column(col)
    for r in res["rows"]:
        table.add_row(r["name"], r["pattern"], r["type"], r["fingerprint"], r["status"])
    console.print(table)
    if res["unreachable"]:
        console.print(f"[red]no SSH answer (nothing pinned for them): {', '.join(res['unreachable'])}[/]")
    changed = [r["name"] for r in res["rows"] if r["status"] == "CHANGED"]
    if changed:
        console.print(f"[red]host key changed since it was pinned: {', '.join(sorted(set(changed)))}[/]")
    if args.pin:
        console.print(f"pinned {res['pinned']} new key(s) in {res['path']}; `llmfleet deploy -i {inventory}` verifies them")
    elif any(r["status"] == "new" for r in res["rows"]):
        console.print("Compare each new fingerprint with the host's console (BMC), where "
                      "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it; when they match, run again with --pin.")
    return 2 if res["unreachable"] or changed else 0


def preflight_reports(run_dir: Path) -> dict:
    """Every host's controller-side pre-flight report of one run, by host name."""
    reports = {}
    for f in sorted(run_dir.glob("preflight-*.json")):
        data = json.loads(f.read_text())
        reports[data.get("host", f.stem[len("preflight-"):])] = data
    return reports


def preflight_table(reports: dict) -> Table:
    t = Table(title="pre-flight")
    for col in ("host", "verdict", "gpu data", "gpu", "check", "expected", "found"):
        t.add_column(col)
    for host, rep in sorted(reports.items()):
        src = rep.get("gpu_source", "none")
        if src == "replay":
            src = f"REPLAY of {(rep.get('replay_of') or {}).get('file', '?')}"
        violations = rep.get("violations") or []
        if not violations:
            t.add_row(host, "[green]PASS[/]", src, "", f"{len(rep.get('checks') or [])} checks", "", "")
        for v in violations:
            gpu = "" if v.get("gpu") is None else str(v.get("gpu"))
            t.add_row(host, "[red]FAIL[/]", src, gpu, v.get("check", ""), str(v.get("expected", "")), str(v.get("found", "")))
    return t


def cmd_preflight(args, console: Console) -> int:
    from llmfleet.runner import run_playbook, write_private

    summary = run_playbook(Path(args.inventory), playbook="playbooks/preflight.yml", limit=args.limit, console=console)
    run_dir = Path(summary["run_dir"])
    reports = preflight_reports(run_dir)
    if not reports:
        console.print("[red]pre-flight produced no reports (see the recap above)[/]")
        return 2
    console.print(preflight_table(reports))
    combined = run_dir / "preflight.json"
    write_private(combined, json.dumps({"schema": "llmfleet.preflight_run/v1", "hosts": reports}, indent=2))
    failed = sorted(h for h, r in reports.items() if r.get("violations"))
    for host, rep in sorted(reports.items()):
        for v in rep.get("violations") or []:
            console.print(f"{host}: {v.get('message', '')}")
    console.print(f"reports: {combined}")
    if failed or summary["failed_hosts"]:
        console.print(f"[red]pre-flight refused: {', '.join(failed or summary['failed_hosts'])}[/]")
        return 2
    return 0


def cmd_report(args, console: Console) -> int:
    from llmfleet.report import build_report

    out = Path(args.output)
    model = build_report(Path(args.inventory), out)
    pics = sum(1 for m in model["hosts"].values() if m.get("topology_svg"))
    console.print(f"report: {out} and {out.with_suffix('.json')} ({len(model['hosts'])} hosts, {pics} topology pictures)")
    return 0


def cmd_gpu(args, console: Console) -> int:
    snap_mod = paths.load_module_util("nvml_snapshot")
    snap = snap_mod.collect_snapshot()
    text = json.dumps(snap, indent=2, sort_keys=False)
    if args.output:
        Path(args.output).write_text(text + "\n")
        console.print(f"snapshot written to {args.output}")
    else:
        sys.stdout.write(text + "\n")
    if not snap.get("nvml_available"):
        Console(stderr=True).print(f"no GPU visible through NVML: {snap.get('reason')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmfleet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="the local lab (containers and VMs)")
    lab.add_argument("action", choices=["up", "down", "status", "images"],
                     help="images: build (or find cached) the images the lab boots from, start nothing")
    lab.add_argument("-i", "--inventory", default=str(DEFAULT_LAB))
    lab.add_argument("--name", help="lab name (default: the inventory's name); keys and state live under lab/cache/labs/NAME")
    lab.set_defaults(func=cmd_lab)

    dep = sub.add_parser("deploy", help="run site.yml (or --playbook) through ansible-runner")
    dep.add_argument("-i", "--inventory", required=True)
    dep.add_argument("--limit")
    dep.add_argument("--tags")
    dep.add_argument("--check", action="store_true")
    dep.add_argument("--diff", action="store_true")
    dep.add_argument("--playbook", default="site.yml")
    dep.add_argument("-e", "--extra-vars", action="append", metavar="KEY=VALUE",
                     help="an extra variable for the run (VALUE read as YAML); repeatable")
    dep.add_argument("--full", action="store_true",
                     help="no fast path: run every layer on every host, even those unchanged since their last converge")
    dep.set_defaults(func=cmd_deploy)

    end = sub.add_parser("endpoints", help="where the deployed site answers: gateway URL, CA, key files, Prometheus, "
                                           "ready-to-paste curl and openai commands (prints no secret)")
    end.add_argument("-i", "--inventory", required=True)
    end.set_defaults(func=cmd_endpoints)

    mod = sub.add_parser("model", help="the site's model store (Ceph RGW)")
    mod_sub = mod.add_subparsers(dest="model_command", required=True)
    push = mod_sub.add_parser("push", help="register a model version once: upload DIR with its sha256 manifest "
                                           "(written last) to the site's models bucket")
    push.add_argument("-i", "--inventory", required=True)
    push.add_argument("name")
    push.add_argument("dir")
    push.add_argument("--version", help="default: sha256-<first 12 hex of the manifest's digest>")
    push.set_defaults(func=cmd_model_push)

    bi = sub.add_parser("burnin", help="measure every GPU node (NVML health, Xid lines, HBM bandwidth, BF16 rate) "
                                        "against its GPU model's thresholds; names every violation (docs/burnin.md)")
    bi.add_argument("-i", "--inventory", required=True)
    bi.add_argument("--limit")
    bi.add_argument("--level", choices=["quick", "full"], default="quick")
    bi.set_defaults(func=cmd_burnin)

    hk = sub.add_parser("hostkeys", help="the site's SSH host keys: scan them, print fingerprints to confirm out of "
                                         "band, pin them in known_hosts beside the inventory (deploy verifies them)")
    hk_sub = hk.add_subparsers(dest="hostkeys_command", required=True)
    scan = hk_sub.add_parser("scan", help="ask every host for its keys and print their SHA256 fingerprints")
    scan.add_argument("-i", "--inventory", required=True)
    scan.add_argument("--limit", help="comma-separated inventory hostnames")
    scan.add_argument("--pin", action="store_true",
                      help="write the keys to <inventory dir>/known_hosts (after you compared the fingerprints); "
                           "a pinned host that offers another key is refused")
    scan.set_defaults(func=cmd_hostkeys)

    pre = sub.add_parser("preflight", help="probe hosts and check them against their expectations; changes nothing")
    pre.add_argument("-i", "--inventory", required=True)
    pre.add_argument("--limit")
    pre.set_defaults(func=cmd_preflight)

    rep = sub.add_parser("report", help="HTML + JSON report of the fleet from the last runs' artifacts (contacts no host)")
    rep.add_argument("-i", "--inventory", required=True)
    rep.add_argument("-o", "--output", default=str(paths.RUNS / "report" / "index.html"))
    rep.set_defaults(func=cmd_report)

    gpu = sub.add_parser("gpu", help="GPU probes on this host")
    gpu_sub = gpu.add_subparsers(dest="gpu_command", required=True)
    snap = gpu_sub.add_parser("snapshot", help="write this host's NVML snapshot (exit 0 even with no GPU)")
    snap.add_argument("-o", "--output")
    snap.set_defaults(func=cmd_gpu)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = _console()
    try:
        return args.func(args, console)
    except LlmfleetError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]llmfleet: {exc}[/]")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
