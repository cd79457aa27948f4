"""Where things live: the checkout (which is also the collection root) and its caches."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("LLMFLEET_ROOT") or Path(__file__).resolve().parent.parent)
CACHE = ROOT / "lab" / "cache"
# Per machine, shared by every checkout and fresh clone (like the lab's docker image and the llama.cpp build):
# what is slow to build and keyed by its recipe.
MACHINE_CACHE = Path(os.environ.get("LLMFLEET_CACHE") or "/var/cache/llmfleet")
LABS = CACHE / "labs"
RUNS = ROOT / "runs"
COLLECTIONS = ROOT / ".collections"
COLLECTION_LINK = COLLECTIONS / "ansible_collections" / "llmfleet" / "baremetal"


def ensure_collection_link() -> Path:
    """Make `.collections/ansible_collections/llmfleet/baremetal` point at the checkout.

    ansible.cfg puts `.collections` on the collections path, so `llmfleet.baremetal.*` resolves from a checkout
    exactly as it does once the built collection is installed.
    """
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(ROOT, COLLECTION_LINK.parent)
    if COLLECTION_LINK.is_symlink() and os.readlink(COLLECTION_LINK) == target:
        return COLLECTION_LINK
    if COLLECTION_LINK.is_symlink() or COLLECTION_LINK.exists():
        COLLECTION_LINK.unlink()
    COLLECTION_LINK.symlink_to(target)
    return COLLECTION_LINK


def load_module_util(name: str):
    """Import plugins/module_utils/<name>.py by path (for self-contained helpers such as nvml_snapshot)."""
    path = ROOT / "plugins" / "module_utils" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"llmfleet._mu_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def import_collection_module_util(name: str):
    """Import `ansible_collections.llmfleet.baremetal.plugins.module_utils.<name>` from the checkout."""
    ensure_collection_link()
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module(f"ansible_collections.llmfleet.baremetal.plugins.module_utils.{name}")
