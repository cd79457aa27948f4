"""cephx key and S3 credential generation (plugins/module_utils/ceph_keys.py)."""

import base64
import struct

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import ceph_keys as ck

# Printed by `ceph-authtool --gen-print-key` (ceph 16.2.15, Debian 12) in the lab.
AUTHTOOL_KEY = "AQCX1gNrgT7+BhAALiBpwkh+bdiClYZHCcQ6xg=="


def test_parse_real_authtool_key():
    info = ck.parse_key(AUTHTOOL_KEY)
    assert info["type"] == 1 and info["secret_len"] == 16
    assert 1.7e9 < info["created"] < 2.0e9


def test_generated_key_has_authtool_layout():
    key = ck.gen_key(now=1700000000.25, secret=bytes(range(16)))
    raw = base64.b64decode(key)
    assert len(raw) == 28 and len(key) == len(AUTHTOOL_KEY) == 40
    assert struct.unpack("<HIIH", raw[:12]) == (1, 1700000000, 250000000, 16)
    assert raw[12:] == bytes(range(16))
    assert ck.parse_key(key)["created"] == pytest.approx(1700000000.25)


def test_generated_keys_differ():
    assert len({ck.gen_key() for _i in range(50)}) == 50


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode(),
                                 base64.b64encode(struct.pack("<HIIH", 2, 1, 0, 16) + bytes(16)).decode(),
                                 base64.b64encode(struct.pack("<HIIH", 1, 1, 0, 8) + bytes(8)).decode(),
                                 AUTHTOOL_KEY[:-4]])
def test_malformed_keys_refused(bad):
    with pytest.raises(ck.CephKeyError):
        ck.parse_key(bad)


def test_wrong_secret_length_refused():
    with pytest.raises(ck.CephKeyError):
        ck.gen_key(secret=b"x" * 15)


def test_fsid():
    fsid = ck.gen_fsid()
    assert ck.is_fsid(fsid)
    assert not ck.is_fsid("not-a-uuid")
    assert not ck.is_fsid(fsid.upper())


def test_s3_credentials_shape():
    creds = [ck.gen_s3_credentials() for _i in range(20)]
    for c in creds:
        assert len(c["access_key"]) == 20 and c["access_key"].isalnum() and c["access_key"] == c["access_key"].upper()
        assert len(c["secret_key"]) == 40 and c["secret_key"].isalnum()
    assert len({c["secret_key"] for c in creds}) == 20


def test_keyring_section():
    text = ck.keyring_section("client.bootstrap-osd", AUTHTOOL_KEY, {"mon": "profile bootstrap-osd", "mgr": "allow r"})
    assert text == ('[client.bootstrap-osd]\n\tkey = %s\n\tcaps mgr = "allow r"\n\tcaps mon = "profile bootstrap-osd"\n'
                    % AUTHTOOL_KEY)
    with pytest.raises(ck.CephKeyError):
        ck.keyring_section("bogus", AUTHTOOL_KEY)
    with pytest.raises(ck.CephKeyError):
        ck.keyring_section("client.x", "nope")
