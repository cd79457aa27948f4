# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ceph secrets generated on the controller (docs/ceph.md, "Secrets").

A cephx key as ``ceph-authtool --gen-print-key`` prints it is the base64 of the encoded ``CryptoKey``:
``type`` (u16, 1 = AES), ``created`` (utime_t: u32 seconds, u32 nanoseconds), the secret's length (u16) and the
secret (16 random bytes), all little-endian. ``parse_key`` checks that structure, so a truncated or foreign value
in the secrets file is refused instead of being handed to ceph-mon.

S3 credentials follow the shapes RGW generates: a 20 character access key of upper-case letters and digits and a
40 character secret of letters and digits.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import re
import string
import struct
import time
import uuid

__all__ = ["CephKeyError", "gen_key", "parse_key", "gen_fsid", "is_fsid", "gen_s3_credentials", "keyring_section",
           "ENTITY_RE"]

KEY_TYPE_AES = 1
SECRET_LEN = 16
_HEADER = struct.Struct("<HIIH")
ENTITY_RE = re.compile(r"^(mon\.|client\.[A-Za-z0-9_.-]+|mgr\.[A-Za-z0-9_.-]+|osd\.\d+|mds\.[A-Za-z0-9_.-]+)$")
_ACCESS_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


class CephKeyError(ValueError):
    """A key or an entity name is malformed."""


def gen_key(now=None, secret=None):
    """A new cephx key (base64 text), like ``ceph-authtool --gen-print-key``."""
    now = time.time() if now is None else now
    secret = os.urandom(SECRET_LEN) if secret is None else secret
    if len(secret) != SECRET_LEN:
        raise CephKeyError("a cephx secret is %d bytes, got %d" % (SECRET_LEN, len(secret)))
    secs = int(now)
    nsecs = int(round((now - secs) * 1e9)) % 1000000000
    return base64.b64encode(_HEADER.pack(KEY_TYPE_AES, secs, nsecs, SECRET_LEN) + secret).decode("ascii")


def parse_key(key):
    """``{type, created, secret_len}`` of a cephx key; raises CephKeyError for anything else."""
    if not isinstance(key, str) or not key:
        raise CephKeyError("a cephx key is a non-empty base64 string")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise CephKeyError("not base64: a cephx key looks like the output of ceph-authtool --gen-print-key")
    if len(raw) < _HEADER.size:
        raise CephKeyError("a cephx key is at least %d bytes, got %d" % (_HEADER.size, len(raw)))
    ktype, secs, nsecs, length = _HEADER.unpack(raw[:_HEADER.size])
    if ktype != KEY_TYPE_AES:
        raise CephKeyError("cephx key type %d is not AES (1)" % ktype)
    if length != SECRET_LEN or len(raw) != _HEADER.size + length:
        raise CephKeyError("cephx key secret length %d (payload %d bytes) is not %d"
                           % (length, len(raw) - _HEADER.size, SECRET_LEN))
    if nsecs >= 1000000000:
        raise CephKeyError("cephx key creation time has %d nanoseconds" % nsecs)
    return {"type": ktype, "created": secs + nsecs / 1e9, "secret_len": length}


def gen_fsid():
    return str(uuid.uuid4())


def is_fsid(value):
    try:
        return str(uuid.UUID(str(value))) == str(value)
    except ValueError:
        return False


def _random_string(alphabet, length):
    raw = os.urandom(length * 2)
    # Rejection sampling keeps the distribution uniform over the alphabet.
    out = []
    limit = 256 - 256 % len(alphabet)
    while len(out) < length:
        for byte in raw:
            if byte < limit:
                out.append(alphabet[byte % len(alphabet)])
                if len(out) == length:
                    break
        raw = os.urandom(length * 2)
    return "".join(out)


def gen_s3_credentials():
    """``{access_key, secret_key}`` shaped like the ones radosgw-admin generates."""
    return {"access_key": _random_string(_ACCESS_ALPHABET, 20), "secret_key": _random_string(_SECRET_ALPHABET, 40)}


def keyring_section(entity, key, caps=None):
    """One keyring section (``[entity]`` / ``key = ...`` / ``caps <svc> = "..."``) as ceph-authtool writes it."""
    if not ENTITY_RE.match(entity or ""):
        raise CephKeyError("%r is not a Ceph entity name (mon., client.NAME, mgr.NAME, osd.N)" % (entity,))
    parse_key(key)
    lines = ["[%s]" % entity, "\tkey = %s" % key]
    for svc in sorted(caps or {}):
        lines.append('\tcaps %s = "%s"' % (svc, caps[svc]))
    return "\n".join(lines) + "\n"
