#!/usr/bin/env python3
"""The lab's test model: make it (once, on the controller) and publish it through S3 as the publisher user.

lab_model.py publish SECRETS_JSON ENDPOINT   -> prints "published" or "already published"
lab_model.py srcdir                          -> prints the local source directory
"""

import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils import ceph_s3  # noqa: E402

NAME, VERSION = "lab-tiny", "v1"
SRC = ROOT / "lab" / "cache" / "labs" / "ceph" / "model-src" / NAME / VERSION
WEIGHTS_MIB = 256


def make_source():
    weights = SRC / "model-00001-of-00001.safetensors"
    if weights.exists() and weights.stat().st_size == WEIGHTS_MIB << 20:
        return SRC
    SRC.mkdir(parents=True, exist_ok=True)
    (SRC / "config.json").write_text(json.dumps({"model_type": "lab-tiny", "version": VERSION}) + "\n")
    tmp = weights.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        block = hashlib.sha256(b"llmfleet-lab-tiny").digest()
        for i in range(WEIGHTS_MIB):
            chunk = hashlib.shake_256(block + i.to_bytes(4, "little")).digest(1 << 20)  # incompressible, reproducible
            f.write(chunk)
    tmp.rename(weights)
    return SRC


def publish(secrets, endpoint):
    creds = json.loads(Path(secrets).read_text())["s3"]["model-publisher"]
    client = ceph_s3.S3Client(endpoint, creds["access_key"], creds["secret_key"])
    src = make_source()
    try:
        current = client.get_object("models", "%s/%s/%s" % (NAME, VERSION, ceph_s3.MANIFEST)).decode()
    except ceph_s3.S3Error as exc:
        if exc.status != 404:
            raise
        current = None
    expected = ceph_s3.format_manifest([(ceph_s3._sha256_file(str(p)), str(p.relative_to(src)))
                                        for p in sorted(src.rglob("*")) if p.is_file() and not p.name.endswith(".tmp")])
    if current == expected:
        print("already published %s/%s" % (NAME, VERSION))
        return
    ceph_s3.publish_model(client, "models", NAME, VERSION, str(src))
    print("published %s/%s" % (NAME, VERSION))


if __name__ == "__main__":
    if sys.argv[1] == "publish":
        publish(sys.argv[2], sys.argv[3])
    else:
        print(make_source())
