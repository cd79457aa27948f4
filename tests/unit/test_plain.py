"""plugins/plugin_utils/plain.py: the one helper every filter uses to hand plain Python to the planners."""

from ansible.utils.unsafe_proxy import AnsibleUnsafeText

from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.plain import plain


def test_containers_and_scalars():
    value = {"a": [1, 2.5, True, None, (AnsibleUnsafeText("x"),)], 0: {"n": AnsibleUnsafeText("y")}}
    out = plain(value)
    assert out == {"a": [1, 2.5, True, None, ["x"]], 0: {"n": "y"}}
    assert out["a"][4][0].__class__ is str and out[0]["n"].__class__ is str  # not the tagged subclass


def test_int_keys_kept_other_keys_as_text():
    assert plain({1: "a", 2.0: "c", AnsibleUnsafeText("k"): "d"}) == {1: "a", "2.0": "c", "k": "d"}


def test_filters_share_it():
    from ansible_collections.llmfleet.baremetal.plugins.filter import gateway, ha, monitoring, placement
    assert ha._plain is gateway._plain is monitoring._plain is placement._plain is plain
