"""Lab hosts only (VMs and containers): a bytecode cache for Python source imported from zip archives.

Ansible sends every module as a zip (AnsiballZ) and zipimport compiles its Python source on every run: it never
writes .pyc files. Under QEMU/TCG that compile is about a third of a task's time (docs/lab-vms.md). This keeps the compiled code of each
source (keyed by the interpreter's magic number and the source's sha256) under a root-only directory and reuses it;
the code object gets the importing file's name back, so tracebacks name the real path. Loaded by
llmfleet_lab_zipimport_cache.pth. Not part of the collection: the lab VM base image (lab/vm/rootfs) and the lab
container image (lab/image/build-image.sh) ship it.
"""

import hashlib
import importlib.util
import marshal
import os
import zipimport

CACHE_DIR = "/var/cache/llmfleet-lab-zipimport"
_compile = zipimport._compile_source  # pylint: disable=protected-access


def _renamed(code, filename):
    consts = tuple(_renamed(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _compile_source(pathname, source):
    key = hashlib.sha256(importlib.util.MAGIC_NUMBER + b"\0" + source).hexdigest()
    path = os.path.join(CACHE_DIR, key[:2], key)
    try:
        with open(path, "rb") as stream:
            return _renamed(marshal.load(stream), pathname)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile(pathname, source)
    try:
        os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "wb") as stream:
            marshal.dump(code, stream)
        os.replace(tmp, path)
    except OSError:
        pass
    return code


if os.geteuid() == 0:
    zipimport._compile_source = _compile_source  # pylint: disable=protected-access
