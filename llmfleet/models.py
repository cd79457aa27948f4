"""`llmfleet model push -i INV NAME DIR`: register a model version once, in the site's model store (Ceph RGW).

The ceph role records on the controller where the store answers (``<site secrets>/storage/endpoint.json``: RGW
endpoints, bucket, publisher user and the file that holds its keys; no key in the record). A push uploads every
file of DIR to ``<bucket>/<NAME>/<VERSION>/`` and ``MANIFEST.sha256`` last (``ceph_s3.publish_model``), so a GPU
node's model_sync never sees a half-written version. Versions are immutable: the same content again is "already
published", different content under an existing version is refused. VERSION defaults to the content's digest.
"""

from __future__ import annotations

import json
from pathlib import Path

from llmfleet import endpoints, lab, paths
from llmfleet.errors import LlmfleetError


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


def push(inventory: Path, name: str, src: Path, version: str | None, out=print) -> dict:
    """Publish SRC as NAME/VERSION with the publisher's keys (ceph_s3.publish_version: the one implementation,
    shared with the ceph role's ``ceph_models_publish``)."""
    ceph_s3 = paths.import_collection_module_util("ceph_s3")
    try:
        ceph_s3.check_name("model name", name)
        if version is not None:
            ceph_s3.check_name("version", version)
        entries = ceph_s3.local_entries(str(src))  # refusals before the store is looked up; hashed once
    except ceph_s3.PublishError as exc:
        raise LlmfleetError(str(exc)) from exc
    rec = store_record(lab.load_inventory(inventory))
    try:
        creds = json.loads(Path(rec["secrets_file"]).read_text())["s3"][rec["publisher"]]
    except (OSError, ValueError, KeyError) as exc:
        raise LlmfleetError(f"the publisher's keys ({rec['publisher']} in {rec['secrets_file']}) cannot be read: "
                            f"{exc}") from exc
    client = ceph_s3.S3Client(rec["endpoints"][0], creds["access_key"], creds["secret_key"])
    try:
        res = ceph_s3.publish_version(client, rec["bucket"], name, version, str(src), entries=entries)
    except ceph_s3.PublishError as exc:
        raise LlmfleetError(str(exc).replace("another version", "another --version")) from exc
    except ceph_s3.S3Error as exc:
        raise LlmfleetError(f"{rec['endpoints'][0]}: {exc}") from exc
    where = f"{rec['bucket']}/{name}/{res['version']}"
    if not res["changed"]:
        out(f"already published {where} ({res['files']} files, {res['bytes']} bytes)")
        return dict(res, endpoint=rec["endpoints"][0])
    took = res["seconds"]
    out(f"published {where} ({res['files']} files, {res['bytes']} bytes in {took:.1f}s, "
        f"{res['bytes'] / 1e6 / max(took, 1e-6):.1f} MB/s); GPU nodes pull it with model_sync_models: "
        f"[{{name: {name}, version: {res['version']}}}]")
    return dict(res, endpoint=rec["endpoints"][0])
