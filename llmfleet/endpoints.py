"""Where a site answers, for a person: the gateway URL, its CA, the key files, Prometheus; ready-to-paste commands.

The gateway and monitoring roles record their endpoints on the controller after they verify them
(``<site secrets>/gateway/endpoint.json``, ``<site secrets>/monitoring/endpoint-<host>.json``, 0600 in 0700
directories). A record names files, never their contents: no key and no password is read or printed here.
``llmfleet endpoints -i INV`` prints them; ``llmfleet deploy`` prints them after a successful site run.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from llmfleet import paths

SCHEMA = "llmfleet.endpoint/v1"


def _literal(value) -> str | None:
    return value if isinstance(value, str) and value and "{{" not in value else None


def site_secret_dirs(hostvars: dict) -> tuple[str, Path, Path]:
    """(site, gateway dir, monitoring dir) of an inventory's hostvars, as the roles' defaults place them."""
    hv = next(iter(hostvars.values()), {}) if hostvars else {}
    site = _literal(hv.get("llmfleet_site_name")) or "site"
    lab = paths.ROOT / "lab" / "cache" / "secrets" / site
    base = Path(_literal(hv.get("llmfleet_secrets_dir")) or lab)
    gateway = Path(_literal(hv.get("gateway_controller_secrets_dir")) or base / "gateway")
    monitoring = Path(_literal(hv.get("monitoring_controller_secrets_dir")) or lab / "monitoring")
    return site, gateway, monitoring


def read_records(gateway_dir: Path, monitoring_dir: Path) -> dict:
    """The endpoint records the roles wrote: {"gateway": {...} | None, "prometheus": [{...}]}."""
    out: dict = {"gateway": None, "prometheus": []}
    f = gateway_dir / "endpoint.json"
    if f.is_file():
        rec = json.loads(f.read_text())
        if rec.get("schema") == SCHEMA:
            out["gateway"] = rec
    for f in sorted(monitoring_dir.glob("endpoint-*.json")):
        rec = json.loads(f.read_text())
        if rec.get("schema") == SCHEMA:
            out["prometheus"].append(rec)
    return out


def curl_chat(gw: dict, key_file: str, model: str) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 32})
    return (f"curl -sS --cacert {shlex.quote(gw['ca'])} -H \"Authorization: Bearer $(cat {shlex.quote(key_file)})\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)} {gw['url']}/chat/completions")


def python_chat(gw: dict, key_file: str, model: str) -> str:
    python = paths.ROOT / ".venv" / "bin" / "python"
    return "\n".join([
        f"{python} - <<'EOF'",
        "import pathlib, openai",
        f"client = openai.OpenAI(base_url={gw['url']!r},",
        f"                       api_key=pathlib.Path({key_file!r}).read_text().strip(),",
        f"                       http_client=openai.DefaultHttpxClient(verify={gw['ca']!r}))",
        f"reply = client.chat.completions.create(model={model!r}, max_tokens=32,",
        "                                       messages=[{'role': 'user', 'content': 'Say hello.'}])",
        "print(reply.choices[0].message.content)",
        "EOF",
    ])


def next_steps(inventory: str, records: dict, site: str) -> str | None:
    """The text printed after a site run (None when the site has no recorded gateway and no Prometheus)."""
    gw, proms = records.get("gateway"), records.get("prometheus") or []
    if not gw and not proms:
        return None
    lines = [f"Next steps for site {site}:"]
    llmfleet = paths.ROOT / ".venv" / "bin" / "llmfleet"
    if gw:
        models = gw.get("models") or []
        lines.append(f"  OpenAI-compatible endpoint: {gw['url']}   (models: {', '.join(models) or 'none yet'})")
        lines.append(f"  The gateway's CA certificate: {gw['ca']}")
        keys = [k for k in gw.get("keys") or [] if k.get("key_file")]
        for k in keys:
            lines.append(f"  API key {k['name']!r}: in {k['key_file']} (0600; the key itself is never printed)")
        if not keys:
            lines.append("  API keys: those of gateway_api_keys in the inventory (none kept in a key_file)")
        allowed = (keys[0].get("models") or ["*"]) if keys else []
        usable = [m for m in models if "*" in allowed or m in allowed]
        if keys and usable:
            key, model = keys[0], usable[0]
            lines += ["", "  Ask it with curl:", "    " + curl_chat(gw, key["key_file"], model),
                      "", "  or with the official openai SDK:"]
            lines += ["    " + line for line in python_chat(gw, key["key_file"], model).splitlines()]
    for p in proms:
        lines += ["", f"  Prometheus: {p['url']}  (user {p['user']}, password in {p['password_file']}, "
                      f"CA {p['ca']})",
                  f"    curl -sS --cacert {shlex.quote(p['ca'])} -u \"{p['user']}:$(cat {shlex.quote(p['password_file'])})\" "
                  f"{p['url']}/api/v1/alerts"]
        if p.get("alertmanager"):
            receivers = p.get("alert_receivers") or []
            lines.append(f"  Alertmanager: {p['alertmanager']}  (same user, password and CA); alerts go to: "
                         + (", ".join(receivers) if receivers
                            else "no one yet (set monitoring_alert_receivers: a webhook or e-mail)"))
    lines += ["", f"  The fleet report: {llmfleet} report -i {inventory}"]
    return "\n".join(lines)
