"""llmfleet model push (llmfleet/models.py): the store found from the ceph role's controller record, every file and
the manifest last, immutable versions, the content digest as the default version, refusals that say what to do.
The real RGW round trip is molecule/default's tests/test_zzz_ceph.py (its 256 MiB model is pushed with this command)."""

import json

import pytest

from llmfleet import lab, models, paths
from llmfleet.errors import LlmfleetError

ceph_s3 = paths.import_collection_module_util("ceph_s3")


class MemoryS3:
    """The few calls publish_model and push make, on a dict; records the order of the writes."""

    store: dict = {}
    writes: list = []

    def __init__(self, endpoint, access_key, secret_key, **_kw):
        assert (access_key, secret_key) == ("PUBAK", "PUBSK")

    def get_object(self, bucket, key):
        if (bucket, key) not in self.store:
            raise ceph_s3.S3Error("NoSuchKey", 404)
        return self.store[(bucket, key)]

    def request(self, method, bucket, key="", body=None, **_kw):
        assert method == "PUT"
        self.store[(bucket, key)] = body.read()
        self.writes.append(key)

    def put_object(self, bucket, key, body, sha256_hex=None):
        self.store[(bucket, key)] = body
        self.writes.append(key)


@pytest.fixture
def site(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    (secrets / "storage").mkdir(parents=True)
    keys = tmp_path / "ceph" / "cluster.json"
    keys.parent.mkdir()
    keys.write_text(json.dumps({"s3": {"model-publisher": {"access_key": "PUBAK", "secret_key": "PUBSK"}}}))
    (secrets / "storage" / "endpoint.json").write_text(json.dumps({
        "schema": "llmfleet.endpoint/v1", "service": "s3", "site": "t", "endpoints": ["http://10.0.0.1:7480"],
        "bucket": "models", "publisher": "model-publisher", "secrets_file": str(keys)}))
    monkeypatch.setattr(lab, "load_inventory", lambda inv: {"h": {"llmfleet_secrets_dir": str(secrets),
                                                                  "llmfleet_site_name": "t"}})
    MemoryS3.store, MemoryS3.writes = {}, []
    monkeypatch.setattr(ceph_s3, "S3Client", MemoryS3)
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}\n")
    (src / "sub" / "weights.bin").write_bytes(b"\x01" * 4096)
    return tmp_path, src


def test_push_uploads_every_file_and_the_manifest_last(site):
    src = site[1]
    said = []
    res = models.push("inv", "dsv3", src, "v1", out=said.append)
    assert res["changed"] and res["files"] == 2 and res["bytes"] == 4099
    assert MemoryS3.writes[-1] == "dsv3/v1/" + ceph_s3.MANIFEST
    assert sorted(MemoryS3.writes[:-1]) == ["dsv3/v1/config.json", "dsv3/v1/sub/weights.bin"]
    manifest = ceph_s3.parse_manifest(MemoryS3.store[("models", "dsv3/v1/" + ceph_s3.MANIFEST)].decode())
    assert sorted(entry[1] for entry in manifest) == ["config.json", "sub/weights.bin"]
    assert "published models/dsv3/v1" in said[0] and "model_sync_models" in said[0]
    # the same content again: nothing written
    MemoryS3.writes.clear()
    assert models.push("inv", "dsv3", src, "v1", out=said.append)["changed"] is False
    assert MemoryS3.writes == [] and said[-1].startswith("already published models/dsv3/v1")


def test_versions_are_immutable(site):
    src = site[1]
    models.push("inv", "dsv3", src, "v1", out=lambda _t: None)
    (src / "config.json").write_text('{"changed": true}\n')
    with pytest.raises(LlmfleetError, match="exists with other content: versions are immutable"):
        models.push("inv", "dsv3", src, "v1", out=lambda _t: None)


def test_default_version_is_the_content_digest(site):
    src = site[1]
    first = models.push("inv", "m", src, None, out=lambda _t: None)["version"]
    assert first.startswith("sha256-") and len(first) == len("sha256-") + 12
    (src / "config.json").write_text('{"changed": true}\n')
    assert models.push("inv", "m", src, None, out=lambda _t: None)["version"] != first


@pytest.mark.parametrize("name, version, needle", [
    ("bad name", "v1", "model name 'bad name'"),
    ("../up", "v1", "model name '../up'"),
    ("ok", "v/1", "version 'v/1'"),
])
def test_names_are_refused(site, name, version, needle):
    src = site[1]
    with pytest.raises(LlmfleetError, match=needle.replace(".", r"\.")):
        models.push("inv", name, src, version, out=lambda _t: None)


def test_refusals_say_what_to_do(site, monkeypatch):
    tmp, src = site
    (src / "link").symlink_to(src / "config.json")
    with pytest.raises(LlmfleetError, match="is a symbolic link"):
        models.push("inv", "m", src, "v1", out=lambda _t: None)
    (src / "link").unlink()
    (src / ceph_s3.MANIFEST).write_text("x")
    with pytest.raises(LlmfleetError, match="written by llmfleet itself"):
        models.push("inv", "m", src, "v1", out=lambda _t: None)
    (src / ceph_s3.MANIFEST).unlink()
    (tmp / "secrets" / "storage" / "endpoint.json").unlink()
    with pytest.raises(LlmfleetError, match="no model store recorded for site t .*deploy Ceph first"):
        models.push("inv", "m", src, "v1", out=lambda _t: None)


def test_publish_version_files_and_check_mode(site):
    """The ceph role's ceph_models_publish (module model_publish) path: only the listed files, nothing written in
    check mode, then published, then "already published"; a path outside the directory refused."""
    src = site[1]
    client = MemoryS3("e", "PUBAK", "PUBSK")
    res = ceph_s3.publish_version(client, "models", "tiny", "v1", str(src), files=["config.json"], check_mode=True)
    assert res["changed"] and not res["already_published"] and res["files"] == 1 and MemoryS3.writes == []
    res = ceph_s3.publish_version(client, "models", "tiny", "v1", str(src), files=["config.json"])
    assert res["changed"] and MemoryS3.writes == ["tiny/v1/config.json", "tiny/v1/" + ceph_s3.MANIFEST]
    again = ceph_s3.publish_version(client, "models", "tiny", "v1", str(src), files=["config.json"], check_mode=True)
    assert again["changed"] is False and again["already_published"]
    with pytest.raises(ceph_s3.PublishError, match="must lie inside"):
        ceph_s3.publish_version(client, "models", "tiny", "v2", str(src), files=["../etc/passwd"])
