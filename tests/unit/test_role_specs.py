"""Every role's meta/argument_specs.yml documents exactly the variables of its defaults, with the same defaults."""

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


# A role whose public variables are site-wide switches that inventories and `llmfleet deploy` set by their llmfleet_
# name (docs/shared-facts.md): the prefix they must have instead of the role's.
SITE_SWITCH_PREFIX = {"fast_path": "llmfleet_fast_path"}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role):
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    defaults = defaults or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), f"{role.name}: defaults vs argument_specs differ"
    for name, value in defaults.items():
        prefix = SITE_SWITCH_PREFIX.get(role.name, f"{role.name}_")
        assert name.startswith(prefix), f"{role.name}: public variable {name} lacks the role prefix"
        opt = options[name]
        assert "description" in opt, f"{role.name}: {name} has no description"
        if isinstance(value, str) and "{{" in value:
            continue  # templated defaults are documented, not compared
        assert opt.get("default") == value, f"{role.name}: {name} default {value!r} != spec {opt.get('default')!r}"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_internal_vars_are_prefixed(role):
    vars_file = role / "vars" / "main.yml"
    if not vars_file.exists():
        pytest.skip("no vars/main.yml")
    for name in yaml.safe_load(vars_file.read_text()) or {}:
        assert name.startswith(f"__{role.name}_"), f"{role.name}: internal variable {name} must start with __{role.name}_"
