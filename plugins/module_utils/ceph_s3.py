# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright (c) 2025 llmfleet engineers
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small S3 client for Ceph RGW (AWS Signature V4, path-style, Python standard library only) and the model
layout on top of it (docs/ceph.md, "Model storage").

Layout: bucket ``models``, one immutable prefix per model version ``<name>/<version>/`` holding the files and a
``MANIFEST.sha256`` (``sha256sum`` format: ``<hex>  <relative path>``) written last by the publisher.

``sync_model`` pulls a version to ``<root>/<name>/<version>``: it reads the manifest, downloads every file into a
staging directory next to the destination with parallel range GETs, verifies every sha256, writes the manifest
and a ``.ready`` marker and renames the staging directory into place (atomic on one filesystem). A model server
only starts on a directory with ``.ready``. A version that is already there with the same manifest is left
alone (changed=False).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import hmac
import json
import os
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

try:
    from http.client import HTTPConnection, HTTPSConnection
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported on targets
    HTTPConnection = HTTPSConnection = None
    quote = urlsplit = None

__all__ = ["S3Error", "S3Client", "sign_v4", "parse_manifest", "format_manifest", "sync_model", "publish_model",
           "publish_version", "local_entries", "PublishError", "ensure_bucket", "read_only_policy", "free_bytes",
           "MANIFEST", "READY"]

MANIFEST = "MANIFEST.sha256"
#: the S3 connection options of every module that talks to the RGW (documented by doc_fragments/s3.py)
S3_ARGUMENT_SPEC = dict(
    endpoint=dict(type="str", required=True),
    access_key=dict(type="str", required=True, no_log=True),
    secret_key=dict(type="str", required=True, no_log=True),
    region=dict(type="str", default="default"),
)
READY = ".ready"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CHUNK = 1 << 20


class S3Error(Exception):
    def __init__(self, msg, status=None, code=None):
        super(S3Error, self).__init__(msg)
        self.status = status
        self.code = code


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _uri(path):
    return quote(path, safe="/-_.~")


def sign_v4(method, host, path, query, headers, payload_hash, access_key, secret_key, region, now=None,
            service="s3"):
    """Headers (with Authorization) for an AWS SigV4 request. ``query`` is a dict, ``headers`` extra headers."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    hdrs = {k.lower(): str(v).strip() for k, v in (headers or {}).items()}
    hdrs.update({"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash})
    signed = sorted(hdrs)
    canonical_query = "&".join("%s=%s" % (quote(str(k), safe="-_.~"), quote(str(v), safe="-_.~"))
                               for k, v in sorted((query or {}).items()))
    canonical = "\n".join([method, _uri(path), canonical_query,
                           "".join("%s:%s\n" % (k, hdrs[k]) for k in signed), ";".join(signed), payload_hash])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode("utf-8"), day), region), service), "aws4_request")
    sig = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    hdrs["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, ";".join(signed), sig)
    return hdrs


class S3Client(object):
    """Path-style S3 requests against one endpoint; one keep-alive connection per thread."""

    def __init__(self, endpoint, access_key, secret_key, region="default", timeout=60):
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise S3Error("endpoint %r is not an http(s) URL" % endpoint)
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.access_key, self.secret_key, self.region, self.timeout = access_key, secret_key, region, timeout
        self._local = threading.local()

    def _conn(self, fresh=False):
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = HTTPSConnection if self.scheme == "https" else HTTPConnection
            conn = self._local.conn = cls(self.netloc, timeout=self.timeout)
        return conn

    def request(self, method, bucket, key="", query=None, body=None, headers=None, payload_hash=None, sink=None,
                ok=(200, 204, 206)):
        """One request; returns ``(status, headers, body bytes)`` (body is None when streamed into ``sink``)."""
        path = "/" + bucket + ("/" + key if key else "")
        if payload_hash is None:
            payload_hash = hashlib.sha256(body).hexdigest() if isinstance(body, bytes) else (
                EMPTY_SHA256 if body is None else "UNSIGNED-PAYLOAD")
        hdrs = sign_v4(method, self.netloc, path, query, headers, payload_hash, self.access_key, self.secret_key,
                       self.region)
        url = _uri(path)
        if query:
            url += "?" + "&".join("%s=%s" % (quote(str(k), safe="-_.~"), quote(str(v), safe="-_.~"))
                                  for k, v in sorted(query.items()))
        for attempt in (0, 1):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.request(method, url, body=body, headers=hdrs)
                resp = conn.getresponse()
                if sink is not None and resp.status in ok:
                    while True:
                        chunk = resp.read(CHUNK)
                        if not chunk:
                            break
                        sink(chunk)
                    data = None
                else:
                    data = resp.read()
                break
            except (OSError, IOError) as exc:  # a dropped keep-alive connection: retry once on a new one
                if attempt or (body is not None and not isinstance(body, bytes)):
                    raise S3Error("%s %s: %s" % (method, url, exc))
        if resp.status not in ok:
            code = ""
            try:
                code = ET.fromstring(data).findtext("Code") or ""
            except ET.ParseError:
                pass
            raise S3Error("%s %s: HTTP %d %s %s" % (method, url, resp.status, resp.reason, code), resp.status, code)
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data

    def get_object(self, bucket, key):
        return self.request("GET", bucket, key)[2]

    def head_object(self, bucket, key):
        return self.request("HEAD", bucket, key)[1]

    def put_object(self, bucket, key, body, sha256_hex=None):
        self.request("PUT", bucket, key, body=body, payload_hash=sha256_hex)

    def list_keys(self, bucket, prefix=""):
        keys, token = [], None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = ET.fromstring(self.request("GET", bucket, query=query)[2])
            keys += [c.findtext(_S3NS + "Key") for c in root.findall(_S3NS + "Contents")]
            token = root.findtext(_S3NS + "NextContinuationToken")
            if root.findtext(_S3NS + "IsTruncated") != "true" or not token:
                return keys


def parse_manifest(text):
    """``[(sha256, relpath)]`` of a sha256sum-format manifest; refuses absolute or escaping paths."""
    entries, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64 or any(c not in "0123456789abcdef" for c in parts[0].lower()):
            raise S3Error("%s line %d is not '<sha256>  <path>': %r" % (MANIFEST, n, line))
        rel = parts[1].strip().lstrip("*")
        norm = os.path.normpath(rel)
        if rel.startswith("/") or norm.startswith("..") or norm in (".", MANIFEST, READY) or rel != norm:
            raise S3Error("%s line %d: path %r is not a plain relative path" % (MANIFEST, n, rel))
        if norm in seen:
            raise S3Error("%s lists %s twice" % (MANIFEST, norm))
        seen.add(norm)
        entries.append((parts[0].lower(), norm))
    if not entries:
        raise S3Error("%s lists no files" % MANIFEST)
    return entries


def format_manifest(entries):
    return "".join("%s  %s\n" % (h, p) for h, p in sorted(entries, key=lambda e: e[1]))


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK * 4)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def _download(client, bucket, key, dest, size, part_size, pool):
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.ftruncate(fd, size)

        def part(start):
            end = min(start + part_size, size) - 1
            pos = [start]

            def sink(chunk):
                os.pwrite(fd, chunk, pos[0])
                pos[0] += len(chunk)
            client.request("GET", bucket, key, headers={"Range": "bytes=%d-%d" % (start, end)}, sink=sink)
            if pos[0] != end + 1:
                raise S3Error("%s: range %d-%d returned %d bytes" % (key, start, end, pos[0] - start))
        starts = list(range(0, size, part_size)) or []
        for fut in [pool.submit(part, s) for s in starts]:
            fut.result()
        os.fsync(fd)
    finally:
        os.close(fd)


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the filesystem of ``path`` (its nearest existing ancestor)."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def sync_model(client, bucket, name, version, root, parallel=4, part_size=32 << 20, check_mode=False, force=False,
               reserve=0):
    """Pull ``<name>/<version>/`` to ``<root>/<name>/<version>``, verified. Returns a result dict.

    Before any byte is written the sizes of every file are asked (HEAD) and the filesystem of ``root`` must hold
    them plus ``reserve`` bytes; a version already in place is neither asked nor counted."""
    for label, value in (("name", name), ("version", version)):
        if not value or "/" in value or value in (".", "..") or value.startswith("."):
            raise S3Error("model %s %r is not a plain path component" % (label, value))
    prefix = "%s/%s/" % (name, version)
    try:
        manifest_text = client.get_object(bucket, prefix + MANIFEST).decode("utf-8")
    except S3Error as exc:
        if exc.status == 404:
            raise S3Error("model %s version %s is not published: s3://%s/%s%s does not exist"
                          % (name, version, bucket, prefix, MANIFEST), 404)
        raise
    entries = parse_manifest(manifest_text)
    manifest_sha = hashlib.sha256(manifest_text.encode("utf-8")).hexdigest()
    dest = os.path.join(root, name, version)
    ready_path = os.path.join(dest, READY)
    result = {"changed": False, "path": dest, "files": len(entries), "manifest_sha256": manifest_sha, "bytes": 0,
              "seconds": 0.0, "mb_per_s": None, "ready": False}
    if not force and os.path.exists(ready_path):
        try:
            with open(ready_path) as f:
                ready = json.load(f)
        except ValueError:
            ready = {}
        if ready.get("manifest_sha256") == manifest_sha:
            result["ready"] = True
            return result
    result["changed"] = True
    sizes = dict((rel, int(client.head_object(bucket, prefix + rel).get("content-length", 0))) for _d, rel in entries)
    result["bytes_needed"] = sum(sizes.values())
    result["bytes_free"] = free_bytes(os.path.join(root, name))
    if result["bytes_needed"] + reserve > result["bytes_free"]:
        raise S3Error("model %s version %s needs %d bytes (+%d reserved) under %s, %d are free there: free space or "
                      "set model_sync_root to a larger filesystem (nothing was downloaded)"
                      % (name, version, result["bytes_needed"], reserve, root, result["bytes_free"]))
    if check_mode:
        return result
    parent = os.path.join(root, name)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    stage = os.path.join(parent, ".%s.partial-%d" % (version, os.getpid()))
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage, mode=0o755)
    t0 = time.monotonic()
    total = 0
    try:
        with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool:
            for digest, rel in entries:
                target = os.path.join(stage, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                size = sizes[rel]
                _download(client, bucket, prefix + rel, target, size, int(part_size), pool)
                total += size
        elapsed = time.monotonic() - t0
        bad = [rel for digest, rel in entries if _sha256_file(os.path.join(stage, rel)) != digest]
        verify_elapsed = time.monotonic() - t0 - elapsed
        if bad:
            raise S3Error("model %s version %s: sha256 mismatch for %s (download discarded, nothing was put in place)"
                          % (name, version, ", ".join(bad)))
        with open(os.path.join(stage, MANIFEST), "w") as f:
            f.write(manifest_text)
        with open(os.path.join(stage, READY), "w") as f:
            json.dump({"name": name, "version": version, "manifest_sha256": manifest_sha, "files": len(entries),
                       "bytes": total, "verified": "sha256"}, f, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if os.path.lexists(dest):
            old = os.path.join(parent, ".%s.old-%d" % (version, os.getpid()))
            os.rename(dest, old)
            os.rename(stage, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, dest)
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    result.update(bytes=total, seconds=round(elapsed, 3), ready=True,
                  mb_per_s=round(total / 1e6 / elapsed, 1) if elapsed > 0 else None,
                  verify_seconds=round(verify_elapsed, 3),
                  verify_mb_per_s=round(total / 1e6 / verify_elapsed, 1) if verify_elapsed > 0 else None)
    return result


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class PublishError(Exception):
    """A model version that must not be published as asked (the message says what to do)."""


def check_name(what, value):
    """A model name or version: one plain path component of letters, digits, '.', '_' and '-'."""
    if not value or set(value) - NAME_CHARS or value.startswith("."):
        raise PublishError("%s %r: letters, digits, '.', '_' and '-' only" % (what, value))


def local_entries(src_dir, files=None):
    """(sha256, relative path) of every regular file under ``src_dir`` (or of ``files``, paths relative to it),
    sorted by path. Symbolic links and the store's own names are refused."""
    if not os.path.isdir(src_dir):
        raise PublishError("%s is not a directory" % src_dir)
    if files:
        rels = sorted(os.path.normpath(f) for f in files)
    else:
        rels = sorted(os.path.relpath(os.path.join(dirpath, fn), src_dir)
                      for dirpath, _dirs, names in os.walk(src_dir) for fn in names)
    entries = []
    for rel in rels:
        full = os.path.join(src_dir, rel)
        if rel.startswith("..") or os.path.isabs(rel):
            raise PublishError("%s: a file to publish must lie inside %s" % (rel, src_dir))
        if os.path.islink(full):
            raise PublishError("%s is a symbolic link: a model directory holds regular files only" % full)
        if not os.path.isfile(full):
            raise PublishError("%s is not a regular file" % full)
        if rel in (MANIFEST, READY):
            raise PublishError("%s: %s is written by llmfleet itself; remove it from the model directory" % (full, rel))
        entries.append((_sha256_file(full), rel))
    if not entries:
        raise PublishError("%s holds no file" % src_dir)
    return entries


def publish_version(client, bucket, name, version, src_dir, files=None, check_mode=False, entries=None):
    """Register one model version: every file and ``MANIFEST.sha256`` last, unless the same manifest is there.

    Versions are immutable: other content under an existing version raises PublishError. ``version`` None is the
    content's digest (``sha256-<12 hex>``). Returns name, version, files, bytes, bucket, changed and
    ``already_published``; a publish that ran also ``seconds``. ``entries``: local_entries() the caller already
    computed (each file is hashed once)."""
    check_name("model name", name)
    if version is not None:
        check_name("version", version)
    entries = list(entries) if entries is not None else local_entries(src_dir, files)
    manifest = format_manifest(entries)
    version = version or "sha256-" + hashlib.sha256(manifest.encode("utf-8")).hexdigest()[:12]
    try:
        current = client.get_object(bucket, "%s/%s/%s" % (name, version, MANIFEST)).decode("utf-8")
    except S3Error as exc:
        if exc.status != 404:
            raise
        current = None
    total = sum(os.path.getsize(os.path.join(src_dir, rel)) for _digest, rel in entries)
    result = dict(name=name, version=version, files=len(entries), bytes=total, bucket=bucket,
                  already_published=current == manifest)
    if current == manifest:
        return dict(result, changed=False)
    if current is not None:
        raise PublishError("%s/%s/%s exists with other content: versions are immutable, publish under another version"
                           % (bucket, name, version))
    if check_mode:
        return dict(result, changed=True)
    t0 = time.monotonic()
    publish_model(client, bucket, name, version, src_dir, entries=entries)
    return dict(result, changed=True, seconds=round(time.monotonic() - t0, 3))


def publish_model(client, bucket, name, version, src_dir, entries=None):
    """Upload every file under ``src_dir`` to ``<name>/<version>/`` and the manifest last. Returns the entries.

    ``entries``: the (sha256, relative path) pairs the caller already computed (each file is then read once more,
    to upload it, not hashed again); None hashes them here."""
    entries = list(entries) if entries is not None else local_entries(src_dir)
    for digest, rel in entries:
        full = os.path.join(src_dir, rel)
        with open(full, "rb") as f:
            client.request("PUT", bucket, "%s/%s/%s" % (name, version, rel), body=f,
                           headers={"Content-Length": str(os.path.getsize(full))}, payload_hash=digest)
    text = format_manifest(entries).encode("utf-8")
    client.put_object(bucket, "%s/%s/%s" % (name, version, MANIFEST), text)
    return sorted(entries, key=lambda e: e[1])


def read_only_policy(bucket, reader_uids):
    """A bucket policy letting the reader users list the bucket and get objects, nothing else."""
    principals = ["arn:aws:iam:::user/%s" % u for u in sorted(reader_uids)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "llmfleet-model-readers", "Effect": "Allow", "Principal": {"AWS": principals},
             "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]},
        ],
    }


def ensure_bucket(client, bucket, policy=None, check_mode=False):
    """Create the bucket (owned by the client's user) and set its policy. Returns ``{changed, created, policy}``."""
    res = {"changed": False, "created": False, "policy_changed": False}
    try:
        client.request("HEAD", bucket)
        exists = True
    except S3Error as exc:
        if exc.status != 404:
            raise
        exists = False
    if not exists:
        res.update(changed=True, created=True)
        if not check_mode:
            client.request("PUT", bucket)
    if policy is not None:
        current = None
        if exists:
            try:
                current = json.loads(client.request("GET", bucket, query={"policy": ""})[2].decode("utf-8"))
            except S3Error as exc:
                if exc.status != 404:
                    raise
        if current != policy:
            res.update(changed=True, policy_changed=True)
            if not check_mode:
                client.request("PUT", bucket, query={"policy": ""}, body=json.dumps(policy, sort_keys=True).encode())
    return res
