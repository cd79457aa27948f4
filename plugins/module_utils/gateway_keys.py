# -*- coding: utf-8 -*-
# Copyright (c) 2026 llmfleet engineers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's API keys at plan time: refused when weak, empty or duplicated, stored only as hashes.

Pure Python, no Ansible imports (issue 19, docs/gateway.md). The old key map let in a request with no header when
a key was empty, matched keys case-insensitively and read a key starting with ``~`` as a regular expression. Here:

* :func:`plan_keys` checks every entry of ``gateway_api_keys`` (``{name, key, models, requests_per_minute,
  tokens_per_minute}``) on the controller, before any host changes, and raises :class:`GatewayKeyError` listing
  every violation by the key's **name** (a key's value never appears in a message). It returns the store: one row
  per key with the key's sha256 and its limits, nothing from which the key can be recovered;
* a key is a bearer token (RFC 6750 ``b64token`` characters), at least ``min_length`` characters (default 32)
  and at least 128 bits by its character classes; a placeholder (``changeme`` ...), a key of few distinct
  characters, and a key used under two names are refused;
* a key may instead live in a file on the controller (``key_file``, an absolute path, 0600): the plan reads it, or
  makes a 48-character random key there on the first run (the role's password lookup) and passes the contents as
  ``file_keys`` ``{path: key}``; the inventory then holds no key at all (``make demo``'s key is one);
* :func:`match` compares a presented key with the store exactly (its sha256, in constant time): no case folding,
  no patterns, and an empty or missing key never matches.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import math
import re

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")
MIN_LENGTH = 32
MIN_BITS = 128
MIN_DISTINCT = 10
PLACEHOLDERS = ("changeme", "change-me", "secret", "password", "example", "test", "demo", "default", "apikey",
                "api-key", "token", "xxxx", "0000", "1234")
LIMIT_KEYS = ("requests_per_minute", "tokens_per_minute")


class GatewayKeyError(ValueError):
    """Every violation of the key plan, each naming the key by its name."""

    def __init__(self, violations):
        self.violations = list(violations)
        super(GatewayKeyError, self).__init__("gateway key plan refused:\n- " + "\n- ".join(self.violations))


def hash_key(key):
    """``sha256:<hex>`` of a key (what the store keeps)."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def strength_bits(key):
    """Bits of a key by its length and the character classes it uses (an upper bound, as a password meter)."""
    size = 0
    for cls, n in ((r"[a-z]", 26), (r"[A-Z]", 26), (r"[0-9]", 10), (r"[._~+/=-]", 8)):
        if re.search(cls, key):
            size += n
    return len(key) * math.log(size, 2) if size else 0.0


def _weakness(key, min_length):
    if len(key) < min_length:
        return "shorter than %d characters" % min_length
    bits = strength_bits(key)
    if bits < MIN_BITS:
        return "about %d bits, at least %d needed (longer, or more kinds of characters)" % (bits, MIN_BITS)
    if len(set(key)) < MIN_DISTINCT:
        return "only %d distinct characters" % len(set(key))
    low = key.lower()
    for word in PLACEHOLDERS:
        if word in low and len(low.replace(word, "")) < min_length:
            return "mostly the placeholder %r" % word
    return None


def _limit(entry, field, where, violations):
    value = entry.get(field)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        violations.append("%s: %s must be a whole number >= 0 (0 = no limit), not %r" % (where, field, value))
        return 0
    return value


def plan_keys(keys, min_length=MIN_LENGTH, served_models=None, file_keys=None):
    """Check ``gateway_api_keys`` and return the hashed store, or raise :class:`GatewayKeyError`.

    ``served_models``: the model names the fleet serves; a key allowed a model outside them is refused (``"*"``
    allows every model). ``file_keys``: ``{path: key}`` read on the controller for entries with ``key_file``.
    Returns ``[{name, sha256, models, requests_per_minute, tokens_per_minute}]`` sorted by
    name.
    """
    violations, store, by_hash, names = [], [], {}, set()
    if not isinstance(keys, list):
        raise GatewayKeyError(["gateway_api_keys must be a list of {name, key, ...}, not %s" % type(keys).__name__])
    for i, entry in enumerate(keys):
        if not isinstance(entry, dict):
            violations.append("gateway_api_keys[%d]: must be a mapping {name, key, ...}" % i)
            continue
        name = entry.get("name")
        where = "gateway_api_keys[%d] (%s)" % (i, name) if isinstance(name, str) and name else "gateway_api_keys[%d]" % i
        if not isinstance(name, str) or not NAME_RE.match(name):
            violations.append("%s: name must match %s" % (where, NAME_RE.pattern))
        elif name in names:
            violations.append("%s: the name is used twice" % where)
        else:
            names.add(name)
        key = entry.get("key")
        key_file = entry.get("key_file")
        if key_file is not None:
            if key is not None:
                violations.append("%s: set key or key_file, not both" % where)
                continue
            if not isinstance(key_file, str) or not key_file.startswith("/"):
                violations.append("%s: key_file must be an absolute path on the controller, not %r" % (where, key_file))
                continue
            key = (file_keys or {}).get(key_file)
            if key is None:
                violations.append("%s: key_file %s was not read on the controller" % (where, key_file))
                continue
            key = key.strip()
        if not isinstance(key, str) or not key:
            violations.append("%s: the key is empty" % where)
            continue
        if key != key.strip() or not TOKEN_RE.match(key):
            violations.append("%s: the key has characters a bearer token cannot carry (RFC 6750 b64token: "
                              "letters, digits, - . _ ~ + / and trailing =)" % where)
            continue
        weak = _weakness(key, min_length)
        if weak:
            violations.append("%s: the key is weak: %s (make one with `openssl rand -base64 33`)" % (where, weak))
        digest = hash_key(key)
        if digest in by_hash:
            violations.append("%s: the same key as %s (every client needs a key of its own)" % (where, by_hash[digest]))
        else:
            by_hash[digest] = name
        models = entry.get("models", ["*"])
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
            violations.append("%s: models must be a non-empty list of model names or [\"*\"]" % where)
            models = []
        elif served_models is not None:
            unknown = sorted(set(m for m in models if m != "*") - set(served_models))
            if unknown:
                violations.append("%s: models %s are not served by the fleet (served: %s)"
                                  % (where, ", ".join(unknown), ", ".join(sorted(served_models)) or "none"))
        limits = dict((f, _limit(entry, f, where, violations)) for f in LIMIT_KEYS)
        extra = sorted(set(entry) - {"name", "key", "key_file", "models"} - set(LIMIT_KEYS))
        if extra:
            violations.append("%s: unknown fields %s" % (where, ", ".join(extra)))
        row = {"name": name, "sha256": digest, "models": sorted(set(models))}
        row.update(limits)
        store.append(row)
    if violations:
        raise GatewayKeyError(violations)
    return sorted(store, key=lambda r: r["name"])


def match(presented, store):
    """The store row of a presented key, or ``None``: exact (sha256, constant-time), never for an empty key."""
    if not isinstance(presented, str) or not presented:
        return None
    digest = hash_key(presented)
    found = None
    for row in store:
        # compare against every row (no early exit), so the time does not depend on which row matched
        if hmac.compare_digest(row["sha256"], digest):
            found = row
    return found


def allowed(row, model):
    """Whether the key's row may use ``model``."""
    return row is not None and ("*" in row["models"] or model in row["models"])
