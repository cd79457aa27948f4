"""Every role's argument_specs rejects wrong types and values, naming the variable.

Two layers, both table-driven from the roles' own meta/argument_specs.yml:

* in-process: for every option whose type Ansible cannot coerce a wrong value into (int, float, bool, list, dict,
  choices), Ansible's own ArgumentSpecValidator (what a role's argument validation runs) must refuse a wrong value
  and name the option;
* end to end (UNREACH sentinel): one ansible-playbook run applies every role, with one wrong value each, to a host
  whose address cannot be reached (192.0.2.0/24, TEST-NET-1).  Argument validation runs on the controller, so a
  correct refusal is a FAILED task naming the variable; an UNREACHABLE result means validation let the value
  through and the role went on to contact the host.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())

#: a value Ansible cannot coerce into each type (str, path and raw accept nearly anything: only choices are checked)
WRONG = {"int": "not-a-number", "float": "not-a-float", "bool": "maybe", "list": {"not": "a list"}, "dict": 12}
NOT_A_CHOICE = "__not_a_choice__"


def role_options(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


def cases():
    out = []
    for role in ROLES:
        for name, opt in sorted(role_options(role).items()):
            if opt.get("choices"):
                out.append((role, name, NOT_A_CHOICE if opt.get("type", "str") in ("str", "raw") else WRONG.get(opt["type"])))
            elif opt.get("type") in WRONG:
                out.append((role, name, WRONG[opt["type"]]))
    return [c for c in out if c[2] is not None]


CASES = cases()


def test_every_role_has_negative_cases():
    covered = {case[0] for case in CASES}
    assert covered == set(ROLES), "roles without a typed option to test: %s" % sorted(set(ROLES) - covered)


@pytest.mark.parametrize("role,option,value", CASES, ids=["%s.%s" % case[:2] for case in CASES])
def test_wrong_value_is_refused_naming_the_variable(role, option, value):
    options = role_options(role)
    validator = ArgumentSpecValidator(options)
    good = {k: v["default"] for k, v in options.items() if "default" in v}
    assert not validator.validate(good).error_messages, "%s: its own defaults do not validate" % role
    result = validator.validate(dict(good, **{option: value}))
    messages = " ".join(result.error_messages)
    assert messages, "%s: %s=%r was accepted" % (role, option, value)
    assert option in messages, "%s: the error does not name %s: %s" % (role, option, messages)


def sentinel_cases():
    """One wrong value per role: the first option (sorted) with a wrong value, preferring typed ones."""
    first = {}
    for role, option, value in CASES:
        first.setdefault(role, (option, value))
    return first


def test_roles_refuse_wrong_values_before_contacting_the_host(tmp_path):
    picked = sentinel_cases()
    # one play over all hosts (a play whose every host failed would end the run): each host includes its role,
    # the wrong value is a host variable
    hosts = {"neg-%s" % role: {"ansible_host": "192.0.2.%d" % (10 + i), "ansible_connection": "ssh",
                               "ansible_ssh_common_args": "-o ConnectTimeout=2 -o BatchMode=yes",
                               "ansible_python_interpreter": "/usr/bin/python3",
                               "negative_role": "llmfleet.baremetal." + role, option: value}
             for i, (role, (option, value)) in enumerate(sorted(picked.items()))}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    plays = [{"name": "negative argument_specs", "hosts": "all", "gather_facts": False,
              "tasks": [{"name": "Apply the role with one wrong value",
                         "ansible.builtin.include_role": {"name": "{{ negative_role }}"}}]}]
    (tmp_path / "negative.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_RETRY_FILES_ENABLED="false",
               ANSIBLE_FORKS="10", ANSIBLE_TIMEOUT="3")
    playbook = Path(sys.executable).with_name("ansible-playbook")
    proc = subprocess.run([str(playbook), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "negative.yml")],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300, check=False)
    assert proc.returncode != 0, proc.stdout[-2000:]
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    stats = report["stats"]
    results = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed") or res.get("unreachable"):
                    results[host] = (task["task"]["name"], res)
    problems = []
    for role, (option, value) in sorted(picked.items()):
        host = "neg-%s" % role
        if stats[host].get("unreachable"):
            problems.append("%s: %s=%r passed validation (the host was contacted: UNREACHABLE)" % (role, option, value))
            continue
        task, res = results.get(host, ("-", {}))
        msg = json.dumps(res.get("argument_errors") or res.get("msg", ""))
        if not stats[host].get("failures") or option not in msg:
            problems.append("%s: %s=%r not refused by name (task %r: %s)" % (role, option, value, task, msg[:300]))
    assert not problems, "\n".join(problems)
