"""Run a playbook through ansible-runner's Python API with live per-host progress and artifacts."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from llmfleet import hostkeys, paths
from llmfleet.lab import load_inventory
from llmfleet.errors import LlmfleetError

COUNTERS = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")
SHORT = {"failures": "failed", "unreachable": "unreach", "skipped": "skip", "rescued": "rescue", "ignored": "ignore"}


class Progress:
    """Per-host counters fed by ansible-runner events."""

    def __init__(self, console: Console):
        self.console = console
        self.hosts: dict[str, dict] = {}
        self.play = ""

    def _host(self, name: str) -> dict:
        return self.hosts.setdefault(name, {k: 0 for k in COUNTERS} | {"task": ""})

    def handle(self, event: dict) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        host = data.get("host")
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
        elif kind == "runner_on_start" and host:
            self._host(host)["task"] = data.get("task", "")
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped") and host:
            h = self._host(host)
            res = data.get("res", {}) or {}
            task = data.get("task", "")
            if kind == "runner_on_ok":
                h["ok"] += 1
                if res.get("changed"):
                    h["changed"] += 1
                    self.console.print(f"[yellow]changed[/] {host}: {task}")
            elif kind == "runner_on_skipped":
                h["skipped"] += 1
            elif kind == "runner_on_unreachable":
                h["unreachable"] += 1
                self.console.print(f"[red]UNREACHABLE[/] {host}: {task}: {res.get('msg', '')}")
            elif data.get("ignore_errors"):
                h["ignored"] += 1
            else:
                h["failures"] += 1
                self.console.print(f"[red]FAILED[/] {host}: {task}: {_short(res)}")
        return True

    def table(self, stats: dict | None = None, title: str = "llmfleet") -> Table:
        t = Table(title=title)
        t.add_column("host")
        for k in COUNTERS:
            t.add_column(SHORT.get(k, k), justify="right")
        t.add_column("current task" if stats is None else "result")
        rows = stats if stats is not None else self.hosts
        for host in sorted(rows):
            r = rows[host]
            verdict = r.get("task", "")
            if stats is not None:
                verdict = "[red]FAILED[/]" if r["failures"] else "[red]UNREACHABLE[/]" if r["unreachable"] else "[green]ok[/]"
            t.add_row(host, *(str(r.get(k, 0)) for k in COUNTERS), verdict)
        return t


def _short(res: dict) -> str:
    msg = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    return str(msg).strip().splitlines()[0][:300] if msg else ""


def recap(raw_stats: dict | None) -> dict:
    """ansible-runner's stats ({counter: {host: n}}) → {host: {counter: n}}."""
    out: dict[str, dict] = {}
    for counter in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed"):
        for host, n in ((raw_stats or {}).get(counter) or {}).items():
            row = out.setdefault(host, {k: 0 for k in COUNTERS})
            if counter == "dark":
                row["unreachable"] = n
            elif counter in COUNTERS:
                row[counter] = n
    return out


def forks_for(host_count: int) -> int:
    """One fork per host, at least 5, at most 50 (SSH and controller CPU are the limits beyond)."""
    return max(5, min(50, int(host_count)))


def latest_summary(run_root: Path | None = None) -> tuple[Path, dict]:
    """The run directory `runs/latest` points at and its summary.json (what run_playbook wrote last)."""
    run_dir = ((run_root or paths.RUNS) / "latest").resolve()
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def write_private(path: Path, text: str) -> None:
    """Write TEXT to PATH readable by its owner only (0600), whatever the umask, also when PATH exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def run_playbook(
    inventory: Path,
    playbook: str = "site.yml",
    limit: str | None = None,
    tags: str | None = None,
    check: bool = False,
    diff: bool = False,
    extravars: dict | None = None,
    console: Console | None = None,
    run_root: Path | None = None,
) -> dict:
    import ansible_runner  # heavy import: only when running

    console = console or Console()
    inventory = Path(inventory)
    if not inventory.exists():
        raise LlmfleetError(f"inventory {inventory} does not exist (try: -i inventories/lab)")
    paths.ensure_collection_link()
    # ansible-runner runs `ansible-playbook` from PATH: use the one beside this interpreter (the venv's).
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    run_dir = (run_root or paths.RUNS) / f"{stamp}-{Path(playbook).stem}"
    # a run's events carry task results (the inventory's values among them): the directory is the owner's alone
    run_dir.mkdir(parents=True, mode=0o700)
    run_dir.chmod(0o700)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    envvars = {
        "ANSIBLE_CONFIG": str(paths.ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "LLMFLEET_ROOT": str(paths.ROOT),
        "LLMFLEET_RUN_DIR": str(run_dir),
    }
    # a site's hosts are reached only with their pinned keys (refused here when one is not pinned); a lab keeps its own
    hostvars = load_inventory(inventory)  # parsed once: the host keys and the forks both come from it
    envvars.update(hostkeys.ssh_env(inventory, hostvars))
    if "ANSIBLE_FORKS" not in os.environ:
        envvars["ANSIBLE_FORKS"] = str(forks_for(len(hostvars)))
    progress = Progress(console)
    t0 = time.monotonic()
    started = dt.datetime.now(dt.timezone.utc).isoformat()
    live = Live(progress.table(), console=console, refresh_per_second=4, transient=True) if console.is_terminal else None

    def handler(event):
        progress.handle(event)
        if live:
            live.update(progress.table())
        return True

    kwargs = dict(
        private_data_dir=str(run_dir),
        project_dir=str(paths.ROOT),
        playbook=str(paths.ROOT / playbook),
        inventory=str(inventory.resolve()),
        envvars=envvars,
        event_handler=handler,
        quiet=True,
        ident="ansible",
        extravars=extravars or {},
    )
    if limit:
        kwargs["limit"] = limit
    if tags:
        kwargs["tags"] = tags
    if cmdline:
        kwargs["cmdline"] = " ".join(cmdline)
    if live:
        with live:
            r = ansible_runner.run(**kwargs)
    else:
        r = ansible_runner.run(**kwargs)
    duration = time.monotonic() - t0
    stats = recap(r.stats)
    bad = {h: s for h, s in stats.items() if s["failures"] or s["unreachable"]}
    summary = {
        "playbook": playbook,
        "inventory": str(inventory),
        "limit": limit,
        "tags": tags,
        "check": check,
        "forks": int(envvars.get("ANSIBLE_FORKS") or os.environ.get("ANSIBLE_FORKS") or 0),
        "started": started,
        "duration_s": round(duration, 2),
        "status": r.status,
        "rc": r.rc,
        "hosts": stats,
        "failed_hosts": sorted(bad),
        "changed_total": sum(s["changed"] for s in stats.values()),
        "run_dir": str(run_dir),
        "artifacts": str(run_dir / "artifacts" / "ansible"),
    }
    events = list(r.events)
    write_private(run_dir / "events.json", json.dumps(events, indent=1, default=str))
    write_private(run_dir / "summary.json", json.dumps(summary, indent=2))
    latest = (run_root or paths.RUNS) / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name)
    console.print(progress.table(stats, title=f"recap: {playbook} ({duration:.1f}s)"))
    console.print(f"artifacts: {run_dir}")
    if r.rc != 0 and not bad and not stats:
        # The playbook never reached a host: syntax error, missing role, bad inventory.
        tail = "".join(e.get("stdout", "") + "\n" for e in events[-5:])
        summary["error"] = tail.strip()[-2000:]
        write_private(run_dir / "summary.json", json.dumps(summary, indent=2))
        console.print(f"[red]ansible-playbook failed before reaching any host:[/]\n{summary['error']}")
    os.environ.pop("LLMFLEET_RUN_DIR", None)
    return summary
