# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# SPDX-License-Identifier: Apache-2.0
"""plugins/module_utils/gateway_keys.py: weak, empty and duplicate keys refused by name (never by value), the
store hashed, matching exact (the old map's empty-key, case-folding and `~`-regex holes)."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if os.path.join(REPO, ".collections") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.llmfleet.baremetal.plugins.module_utils import gateway_keys as gk  # noqa: E402

KEY_A = "Qm9yTjN4Vj-7wX2pLk_ZsE8uR1tYc4Hd"  # 32 characters, 4 classes
KEY_B = "s7Jd0_Wq8vNc3Zr-Ty5KxLp2Bm9Ge6Ua+f"


def refused(keys, **kw):
    with pytest.raises(gk.GatewayKeyError) as exc:
        gk.plan_keys(keys, **kw)
    return exc.value


def test_good_keys_give_a_hashed_store_sorted_by_name():
    store = gk.plan_keys([{"name": "team-b", "key": KEY_B, "models": ["tiny"], "requests_per_minute": 60,
                           "tokens_per_minute": 20000},
                          {"name": "team-a", "key": KEY_A}])
    assert [r["name"] for r in store] == ["team-a", "team-b"]
    assert store[0] == {"name": "team-a", "sha256": gk.hash_key(KEY_A), "models": ["*"],
                        "requests_per_minute": 0, "tokens_per_minute": 0}
    assert store[1]["models"] == ["tiny"] and store[1]["tokens_per_minute"] == 20000
    assert KEY_A not in repr(store) and KEY_B not in repr(store)


@pytest.mark.parametrize("key, why", [
    ("", "the key is empty"),
    (None, "the key is empty"),
    ("short-Key-1", "shorter than 32 characters"),
    ("8273645109" * 3 + "83", "bits"),
    ("a" * 40, "distinct characters"),
    ("abababababababababababababababababab12", "distinct characters"),
    ("changeme" * 4 + "Xy1", "placeholder"),
    (" " + KEY_A, "bearer token cannot carry"),
    ("~^team-.*$" + KEY_A, "bearer token cannot carry"),
    (KEY_A + '"; x', "bearer token cannot carry"),
])
def test_bad_keys_are_refused_by_name_never_by_value(key, why):
    err = refused([{"name": "team-a", "key": key}])
    assert len(err.violations) == 1
    msg = err.violations[0]
    assert msg.startswith("gateway_api_keys[0] (team-a): ") and why in msg, msg
    if key:
        assert key.strip() not in str(err)


def test_a_key_used_twice_names_both_keys():
    err = refused([{"name": "team-a", "key": KEY_A}, {"name": "team-b", "key": KEY_A}])
    assert err.violations == ["gateway_api_keys[1] (team-b): the same key as team-a (every client needs a key "
                              "of its own)"]
    assert KEY_A not in str(err)


def test_every_violation_is_listed_at_once():
    err = refused([{"name": "Team A", "key": KEY_A}, {"name": "b", "key": ""}, {"name": "b", "key": KEY_B,
                   "requests_per_minute": -1, "tokens_per_minute": "lots", "rate": 1}, "nope"])
    text = "\n".join(err.violations)
    assert "gateway_api_keys[0] (Team A): name must match" in text
    assert "gateway_api_keys[1] (b): the key is empty" in text
    assert "gateway_api_keys[2] (b): the name is used twice" in text
    assert "requests_per_minute must be a whole number >= 0" in text
    assert "tokens_per_minute must be a whole number >= 0" in text
    assert "unknown fields rate" in text
    assert "gateway_api_keys[3]: must be a mapping" in text


def test_models_must_be_served():
    err = refused([{"name": "team-a", "key": KEY_A, "models": ["tiny", "gpt-4"]}], served_models=["tiny"])
    assert "models gpt-4 are not served by the fleet (served: tiny)" in err.violations[0]


def test_not_a_list_is_refused():
    assert "must be a list" in str(refused({"team-a": KEY_A}))


def test_match_is_exact_and_never_for_an_empty_key():
    store = gk.plan_keys([{"name": "team-a", "key": KEY_A, "models": ["tiny"]}, {"name": "team-b", "key": KEY_B}])
    assert gk.match(KEY_A, store)["name"] == "team-a"
    assert gk.match(KEY_B, store)["name"] == "team-b"
    assert gk.match(KEY_A.lower(), store) is None
    assert gk.match(KEY_A.upper(), store) is None
    assert gk.match(KEY_A + " ", store) is None
    assert gk.match("~.*", store) is None
    assert gk.match("", store) is None
    assert gk.match(None, store) is None
    assert gk.match(KEY_A, []) is None


def test_allowed_models():
    store = gk.plan_keys([{"name": "team-a", "key": KEY_A, "models": ["tiny"]}, {"name": "team-b", "key": KEY_B}])
    a, b = store
    assert gk.allowed(a, "tiny") and not gk.allowed(a, "deepseek-v3")
    assert gk.allowed(b, "deepseek-v3")
    assert not gk.allowed(None, "tiny")


def test_strength_grows_with_length_and_classes():
    assert gk.strength_bits("abc") < gk.strength_bits("abcd")
    assert gk.strength_bits("a" * 30) < gk.strength_bits("aA0-" * 8)
    assert gk.strength_bits(KEY_A) >= gk.MIN_BITS


def test_key_file_is_read_from_file_keys_and_hashed():
    store = gk.plan_keys([{"name": "demo", "key_file": "/srv/secrets/demo.key"}],
                         file_keys={"/srv/secrets/demo.key": KEY_A + "\n"})
    assert store[0]["sha256"] == gk.hash_key(KEY_A)
    assert gk.match(KEY_A, store)["name"] == "demo"


def test_key_file_refusals_name_the_key():
    msg = str(refused([{"name": "both", "key": KEY_A, "key_file": "/k"},
                       {"name": "rel", "key_file": "keys/demo.key"},
                       {"name": "unread", "key_file": "/nowhere/demo.key"}]))
    assert "(both): set key or key_file, not both" in msg
    assert "(rel): key_file must be an absolute path" in msg
    assert "(unread): key_file /nowhere/demo.key was not read" in msg
    assert KEY_A not in msg


def test_key_file_content_is_checked_like_a_key():
    msg = str(refused([{"name": "weak", "key_file": "/k"}], file_keys={"/k": "changeme"}))
    assert "(weak): the key is weak: shorter than 32 characters" in msg
