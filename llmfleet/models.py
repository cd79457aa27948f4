"""`llmfleet model push -i INV NAME DIR`: register a model version once, in the site's model store (Ceph RGW).

The ceph role records on the controller where the store answers (``<site secrets>/storage/endpoint.json``: RGW
endpoints, bucket, publisher user and the file that holds its keys; no key in the record). A push uploads every
file of DIR to ``<bucket>/<NAME>/<VERSION>/`` and ``MANIFEST.sha256`` last (``ceph_s3.publish_model``), so a GPU
node's model_sync never sees a half-written version. Versions are immutable: the same content again is "already
published", different content under an existing version is refused. VERSION defaults to the content's digest.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from llmfleet import endpoints, lab, paths
from llmfleet.errors import LlmfleetError

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def store_record(hostvars: dict) -> dict:
    """The ceph role's record of the site's model store, or a clear error."""
    site, gateway_dir, _ = endpoints.site_secret_dirs(hostvars)
    path = gateway_dir.parent / "storage" / "endpoint.json"
    if not path.is_file():
        raise LlmfleetError(f"no model store recorded for site {site} ({path} is missing): deploy Ceph first "
                            "(site.yml with storage hosts, or playbooks/ceph.yml)")
    rec = json.loads(path.read_text())
    if rec.get("schema") != endpoints.SCHEMA or rec.get("service") != "s3" or not rec.get("endpoints"):
        raise LlmfleetError(f"{path} is not a model-store record")
    return rec


def local_manifest(src: Path, ceph_s3) -> list[tuple[str, str]]:
    """(sha256, relative path) of every regular file under SRC, sorted; symlinks and the store's own names refused."""
    entries = []
    for p in sorted(src.rglob("*")):
        if p.is_symlink():
            raise LlmfleetError(f"{p} is a symbolic link: a model directory holds regular files only")
        if not p.is_file():
            continue
        rel = str(p.relative_to(src))
        if rel in (ceph_s3.MANIFEST, ceph_s3.READY):
            raise LlmfleetError(f"{p}: {rel} is written by llmfleet itself; remove it from the model directory")
        entries.append((ceph_s3._sha256_file(str(p)), rel))  # pylint: disable=protected-access
    if not entries:
        raise LlmfleetError(f"{src} holds no file")
    return entries


def push(inventory: Path, name: str, src: Path, version: str | None, out=print) -> dict:
    if not name or set(name) - NAME_CHARS or name.startswith("."):
        raise LlmfleetError(f"model name {name!r}: letters, digits, '.', '_' and '-' only")
    if version is not None and (not version or set(version) - NAME_CHARS or version.startswith(".")):
        raise LlmfleetError(f"version {version!r}: letters, digits, '.', '_' and '-' only")
    if not src.is_dir():
        raise LlmfleetError(f"{src} is not a directory")
    ceph_s3 = paths.import_collection_module_util("ceph_s3")
    rec = store_record(lab.load_inventory(inventory))
    entries = local_manifest(src, ceph_s3)
    manifest = ceph_s3.format_manifest(entries)
    version = version or "sha256-" + hashlib.sha256(manifest.encode()).hexdigest()[:12]
    try:
        creds = json.loads(Path(rec["secrets_file"]).read_text())["s3"][rec["publisher"]]
    except (OSError, ValueError, KeyError) as exc:
        raise LlmfleetError(f"the publisher's keys ({rec['publisher']} in {rec['secrets_file']}) cannot be read: "
                            f"{exc}") from exc
    client = ceph_s3.S3Client(rec["endpoints"][0], creds["access_key"], creds["secret_key"])
    where = f"{rec['bucket']}/{name}/{version}"
    try:
        current = client.get_object(rec["bucket"], f"{name}/{version}/{ceph_s3.MANIFEST}").decode()
    except ceph_s3.S3Error as exc:
        if exc.status != 404:
            raise LlmfleetError(f"{rec['endpoints'][0]}: {exc}") from exc
        current = None
    total = sum((src / rel).stat().st_size for _, rel in entries)
    result = {"name": name, "version": version, "files": len(entries), "bytes": total, "endpoint": rec["endpoints"][0],
              "bucket": rec["bucket"]}
    if current == manifest:
        out(f"already published {where} ({len(entries)} files, {total} bytes)")
        return dict(result, changed=False)
    if current is not None:
        raise LlmfleetError(f"{where} exists with other content: versions are immutable, push under another "
                            "--version")
    t0 = time.monotonic()
    ceph_s3.publish_model(client, rec["bucket"], name, version, str(src), entries=entries)
    took = time.monotonic() - t0
    out(f"published {where} ({len(entries)} files, {total} bytes in {took:.1f}s, "
        f"{total / 1e6 / max(took, 1e-6):.1f} MB/s); GPU nodes pull it with model_sync_models: "
        f"[{{name: {name}, version: {version}}}]")
    return dict(result, changed=True, seconds=round(took, 3))
