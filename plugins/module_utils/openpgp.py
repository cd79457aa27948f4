# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fingerprints of OpenPGP public keys (RFC 4880 / RFC 9580), standard library only (docs/security.md,
"Supply chain").

An apt repository's signing key is installed only when one of its primary keys has a fingerprint the inventory
pins (``nvidia_driver_repo_key_fingerprints``, ``monitoring_dcgm_repo_key_fingerprints``): a key swapped on a
mirror or in transit is refused before apt trusts it. ``fingerprints(data)`` reads an ASCII-armored or binary key
block and returns the primary keys' fingerprints, upper-case hex: v4 keys SHA-1 over ``0x99 || len16 || body``,
v5/v6 keys SHA-256 over ``0x9a``/``0x9b || len32 || body``. Subkeys (tag 14) are not primary keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import re

__all__ = ["OpenPGPError", "fingerprints", "fingerprints_or_none", "normalize", "dearmor"]

_ARMOR = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----(.*?)-----END PGP PUBLIC KEY BLOCK-----", re.S)


class OpenPGPError(ValueError):
    pass


def normalize(fpr):
    """A fingerprint as upper-case hex without spaces (``0x`` prefix dropped)."""
    out = re.sub(r"\s+", "", str(fpr)).upper()
    return out[2:] if out.startswith("0X") else out


def dearmor(text):
    """The binary packets of every armored public key block in ``text``."""
    blocks = _ARMOR.findall(text)
    if not blocks:
        raise OpenPGPError("no 'BEGIN PGP PUBLIC KEY BLOCK' in the key")
    out = b""
    for block in blocks:
        lines = block.strip().splitlines()
        # armor headers end at the first empty line (if any); the checksum line starts with '='
        if "" in [ln.strip() for ln in lines]:
            lines = lines[[ln.strip() for ln in lines].index("") + 1:]
        body = "".join(ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("="))
        try:
            out += base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise OpenPGPError("armored key is not valid base64: %s" % exc)
    return out


def _packets(data):
    i = 0
    while i < len(data):
        tag_byte = data[i]
        if not tag_byte & 0x80:
            raise OpenPGPError("not an OpenPGP packet at byte %d" % i)
        if tag_byte & 0x40:  # new format
            tag = tag_byte & 0x3F
            first = data[i + 1]
            if first < 192:
                length, hdr = first, 2
            elif first < 224:
                length, hdr = ((first - 192) << 8) + data[i + 2] + 192, 3
            elif first == 255:
                length, hdr = int.from_bytes(data[i + 2:i + 6], "big"), 6
            else:
                raise OpenPGPError("partial body lengths are not used in key blocks")
        else:  # old format
            tag = (tag_byte >> 2) & 0x0F
            ltype = tag_byte & 0x03
            if ltype == 3:
                raise OpenPGPError("indeterminate packet length")
            size = (1, 2, 4)[ltype]
            length, hdr = int.from_bytes(data[i + 1:i + 1 + size], "big"), 1 + size
        body = data[i + hdr:i + hdr + length]
        if len(body) != length:
            raise OpenPGPError("truncated packet at byte %d" % i)
        yield tag, body
        i += hdr + length


def fingerprints(data):
    """Fingerprints (upper-case hex) of the primary public keys in ``data`` (armored text or binary bytes)."""
    if isinstance(data, str):
        data = dearmor(data) if "BEGIN PGP" in data else data.encode("latin-1")
    elif b"BEGIN PGP" in data:
        data = dearmor(data.decode("ascii", "replace"))
    out = []
    for tag, body in _packets(data):
        if tag != 6 or not body:
            continue
        version = body[0]
        if version == 4:
            digest = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()  # nosec - RFC 4880 v4
        elif version in (5, 6):
            prefix = b"\x9a" if version == 5 else b"\x9b"
            digest = hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest()
        else:
            raise OpenPGPError("unsupported OpenPGP key version %d" % version)
        out.append(digest.upper())
    if not out:
        raise OpenPGPError("no public key in the key block")
    return out


def fingerprints_or_none(data):
    """``fingerprints(data)``, or [] when ``data`` is not an OpenPGP public key (an HTML error page, say): the
    caller's check then names what it got instead of failing inside a template."""
    try:
        return fingerprints(data or "")
    except (OpenPGPError, IndexError, UnicodeError):
        return []
