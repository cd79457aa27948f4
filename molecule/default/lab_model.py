#!/usr/bin/env python3
"""The Ceph tests' 256 MiB model: made once on the controller; tests/test_zzz_ceph.py pushes it with `llmfleet model push`.

lab_model.py srcdir                          -> prints the local source directory
"""

import hashlib
import json
import os
from pathlib import Path

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[2]))

NAME, VERSION = "lab-tiny", "v1"
SRC = ROOT / "lab" / "cache" / "labs" / "default" / "model-src" / NAME / VERSION
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


if __name__ == "__main__":
    print(make_source())
