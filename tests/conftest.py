"""Make `ansible_collections.llmfleet.baremetal` importable from the checkout (as Ansible resolves it)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from llmfleet import paths  # noqa: E402

paths.ensure_collection_link()
if str(paths.COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(paths.COLLECTIONS))
