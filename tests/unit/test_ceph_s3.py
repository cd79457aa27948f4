"""SigV4 signing and the verified model sync (plugins/module_utils/ceph_s3.py) against an in-memory store."""

import datetime
import hashlib
import json
import os

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import ceph_s3 as s3


def test_sigv4_matches_aws_documented_example():
    # "GET Object" example of the AWS S3 SigV4 documentation (sig-v4-header-based-auth, examplebucket, Range 0-9).
    hdrs = s3.sign_v4("GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {"Range": "bytes=0-9"},
                      s3.EMPTY_SHA256, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                      now=datetime.datetime(2013, 5, 24, 0, 0, 0, tzinfo=datetime.timezone.utc))
    assert hdrs["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


class FakeClient(object):
    """Objects in a dict; honours Range like RGW."""

    def __init__(self, objects):
        self.objects = objects
        self.gets = 0

    def get_object(self, bucket, key):
        if key not in self.objects:
            raise s3.S3Error("404", 404)
        return self.objects[key]

    def head_object(self, bucket, key):
        return {"content-length": str(len(self.objects[key]))}

    def request(self, method, bucket, key="", headers=None, sink=None, **kw):
        data = self.objects[key]
        start, end = [int(x) for x in headers["Range"].split("=")[1].split("-")]
        self.gets += 1
        sink(data[start:end + 1])
        return 206, {}, None


def _publish(files):
    manifest = s3.format_manifest([(hashlib.sha256(v).hexdigest(), k) for k, v in files.items()])
    objs = {"m/v1/" + k: v for k, v in files.items()}
    objs["m/v1/MANIFEST.sha256"] = manifest.encode()
    return objs


FILES = {"config.json": b'{"a": 1}\n', "weights/model.bin": os.urandom(3 * 1024 * 1024 + 17)}


def test_sync_verifies_renames_and_is_idempotent(tmp_path):
    client = FakeClient(_publish(FILES))
    res = s3.sync_model(client, "models", "m", "v1", str(tmp_path), parallel=3, part_size=1 << 20)
    dest = tmp_path / "m" / "v1"
    assert res["changed"] and res["ready"] and res["files"] == 2 and res["bytes"] == sum(map(len, FILES.values()))
    assert (dest / "weights" / "model.bin").read_bytes() == FILES["weights/model.bin"]
    assert json.loads((dest / ".ready").read_text())["verified"] == "sha256"
    assert client.gets == 5  # 4 ranges of the 3 MiB + 17 B file, 1 for the config
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["v1"]  # no staging left
    again = s3.sync_model(client, "models", "m", "v1", str(tmp_path))
    assert not again["changed"] and again["ready"] and client.gets == 5


def test_sync_refuses_corrupt_object_and_leaves_nothing(tmp_path):
    objs = _publish(FILES)
    # flip the first byte (b"X" + rest left random content unchanged one time in 256: the cold CI run of 2026-12-03)
    objs["m/v1/weights/model.bin"] = bytes([objs["m/v1/weights/model.bin"][0] ^ 0xFF]) + objs["m/v1/weights/model.bin"][1:]
    with pytest.raises(s3.S3Error) as exc:
        s3.sync_model(FakeClient(objs), "models", "m", "v1", str(tmp_path))
    assert "sha256 mismatch for weights/model.bin" in str(exc.value)
    assert list((tmp_path / "m").iterdir()) == []


def test_sync_check_mode_downloads_nothing(tmp_path):
    client = FakeClient(_publish(FILES))
    res = s3.sync_model(client, "models", "m", "v1", str(tmp_path), check_mode=True)
    assert res["changed"] and client.gets == 0 and not (tmp_path / "m").exists()


def test_unpublished_version(tmp_path):
    with pytest.raises(s3.S3Error) as exc:
        s3.sync_model(FakeClient({}), "models", "m", "v2", str(tmp_path))
    assert "is not published" in str(exc.value)


@pytest.mark.parametrize("line", ["%s  ../etc/passwd" % ("a" * 64), "%s  /abs" % ("a" * 64), "zz  f",
                                  "%s  .ready" % ("a" * 64)])
def test_manifest_refuses_bad_lines(line):
    with pytest.raises(s3.S3Error):
        s3.parse_manifest(line + "\n")


def test_read_only_policy():
    pol = s3.read_only_policy("models", ["model-reader"])
    stmt = pol["Statement"][0]
    assert stmt["Principal"]["AWS"] == ["arn:aws:iam:::user/model-reader"]
    assert set(stmt["Action"]) == {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}


def test_sync_refuses_a_version_that_does_not_fit_before_writing(tmp_path, monkeypatch):
    client = FakeClient(_publish(FILES))
    monkeypatch.setattr(s3, "free_bytes", lambda path: 1 << 20)
    with pytest.raises(s3.S3Error) as exc:
        s3.sync_model(client, "models", "m", "v1", str(tmp_path), reserve=4096)
    msg = str(exc.value)
    assert "needs %d bytes (+4096 reserved) under %s, %d are free" % (sum(map(len, FILES.values())), tmp_path, 1 << 20) in msg
    assert client.gets == 0 and not (tmp_path / "m").exists()


def test_free_bytes_walks_up_to_an_existing_directory(tmp_path):
    assert s3.free_bytes(str(tmp_path / "no" / "such" / "dir")) == s3.free_bytes(str(tmp_path)) > 0
