"""Issue 21 item 2: no secret in `--check --diff` output. Every task that renders a template holding a secret
(a shared secret, a password or its hash, a token) runs with ``diff: false`` or ``no_log: true``; the DRBD
resource (its ``shared-secret``) printed the secret before."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# a secret's value (not a path to it, a timeout, or the cluster id that sits in the Ceph secrets file)
SECRET = re.compile(r"\{\{[^}]*(secret|password|token)(?![a-z_]*_(file|dir|ms)\b)(?!s\.fsid)[^}]*\}\}")


def secret_templates():
    out = set()
    for tpl in ROOT.glob("roles/*/templates/*.j2"):
        if SECRET.search(tpl.read_text()):
            out.add((tpl.parts[-3], tpl.name))
    return out


def tasks(node):
    for task in node or []:
        if not isinstance(task, dict):
            continue
        if any(key in task for key in ("block", "rescue", "always")):
            for key in ("block", "rescue", "always"):
                yield from tasks(task.get(key))
        else:
            yield task


def test_templates_with_secrets_are_found():
    found = secret_templates()
    assert ("drbd", "resource.res.j2") in found and ("monitoring", "web-config.yml.j2") in found


def test_every_task_rendering_a_secret_hides_its_diff():
    found = secret_templates()
    offenders = []
    for f in ROOT.glob("roles/*/tasks/*.yml"):
        role = f.parts[-3]
        for task in tasks(yaml.safe_load(f.read_text())):
            text = yaml.safe_dump(task)
            uses = [name for r, name in found if r == role and name in text]
            if uses and task.get("no_log") is not True and task.get("diff") is not False:
                offenders.append("%s: %s (%s)" % (f.relative_to(ROOT), task.get("name"), ", ".join(uses)))
    assert not offenders, "tasks that would print a secret under --diff: %s" % offenders
