"""Issue 20: what `make demo` shows, proven on the same lab shape. site.yml alone deployed it: the demo model was
published to the lab's Ceph from the controller (ceph_models_publish), every GPU node pulled it and verified its
sha256, the model servers run on those very files, and a chat completion through the gateway answers the official
`openai` SDK with the key file and CA that `llmfleet endpoints` names (its printed snippets work as printed)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest
import testinfra

ROOT = Path(os.environ.get("LLMFLEET_ROOT", Path(__file__).resolve().parents[3]))
INV = ROOT / "molecule" / "default" / "inventory.yml"
CLI = os.environ.get("LLMFLEET_CLI", "llmfleet")
SITE_SECRETS = ROOT / "lab" / "cache" / "secrets" / "molecule-default"
KEY = ROOT / "lab" / "cache" / "labs" / "default" / "ssh" / "id_ed25519"
GPU = {"mol-gpu1": "172.31.241.11", "mol-gpu2": "172.31.241.12"}
GATEWAY = "https://172.31.241.21/v1"
RGW = "http://172.31.241.31:7480"
MODEL_DIR = "/var/lib/llmfleet/models/tiny/v1"
sys.path.insert(0, str(ROOT / ".collections"))
from ansible_collections.llmfleet.baremetal.plugins.module_utils import ceph_s3  # noqa: E402


def _gpu(name):
    return testinfra.get_host("ssh://root@" + GPU[name], ssh_identity_file=str(KEY),
                              ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")


@pytest.fixture(scope="module")
def published():
    """The manifest of tiny/v1 as the model store holds it, read with the GPU nodes' read-only user."""
    creds = json.loads((SITE_SECRETS / "ceph" / "cluster.json").read_text())["s3"]["model-reader"]
    reader = ceph_s3.S3Client(RGW, creds["access_key"], creds["secret_key"])
    return reader.get_object("models", "tiny/v1/" + ceph_s3.MANIFEST).decode()


@pytest.mark.parametrize("name", sorted(GPU))
def test_model_servers_run_on_the_weights_pulled_from_ceph(name, published):
    host = _gpu(name)
    assert host.file(MODEL_DIR + "/" + ceph_s3.MANIFEST).content_string.strip() == published.strip()
    ready = json.loads(host.file(MODEL_DIR + "/.ready").content_string)
    assert ready["verified"] == "sha256", ready
    for digest, rel in ceph_s3.parse_manifest(published):
        assert host.check_output("sha256sum %s/%s" % (MODEL_DIR, rel)).split()[0] == digest, rel
    # the source the controller published, byte for byte (lab/serving/prepare.sh's GGUF)
    src = json.loads((ROOT / "lab" / "cache" / "serving" / "artifacts.json").read_text())["model"]
    with open(os.path.join(src, "tiny-llama.gguf"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == dict((r, d) for d, r in ceph_s3.parse_manifest(published))[
            "tiny-llama.gguf"]
    # every model server of the node was started on that directory, and is running
    units = host.check_output("systemctl list-units --plain --no-legend --state=running 'llmfleet-model-*.service' "
                              "| awk '{print $1}' | grep -v group-check || true").split()
    assert units, "no model server runs on %s" % name
    for unit in units:
        env = host.check_output("systemctl show -p Environment --value %s" % unit)
        assert "LLMFLEET_MODEL_DIR=%s" % MODEL_DIR in env, (unit, env)


def test_chat_through_the_gateway_with_the_official_sdk():
    key = (SITE_SECRETS / "gateway" / "keys" / "demo.key").read_text().strip()
    assert oct((SITE_SECRETS / "gateway" / "keys" / "demo.key").stat().st_mode & 0o777) == "0o600"
    client = openai.OpenAI(base_url=GATEWAY, api_key=key, max_retries=0, timeout=60,
                           http_client=openai.DefaultHttpxClient(verify=str(SITE_SECRETS / "gateway" / "ca.crt")))
    assert "tiny" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(model="tiny", max_tokens=16,
                                           messages=[{"role": "user", "content": "Say hello."}])
    assert reply.choices[0].message.content and reply.usage.completion_tokens > 0, reply
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=GATEWAY, api_key="not-" + key, max_retries=0, timeout=60,
                      http_client=openai.DefaultHttpxClient(verify=str(SITE_SECRETS / "gateway" / "ca.crt"))
                      ).models.list()


def test_endpoints_snippets_answer_as_printed():
    """The text `make demo` ends with (`llmfleet endpoints`): its curl and openai snippets answer as printed, the key
    itself is nowhere in it."""
    env = dict(os.environ, NO_COLOR="1", LLMFLEET_ROOT=str(ROOT))
    proc = subprocess.run([CLI, "endpoints", "-i", str(INV)], capture_output=True, text=True, check=False, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert (SITE_SECRETS / "gateway" / "keys" / "demo.key").read_text().strip() not in proc.stdout
    curl = next(line.strip() for line in lines if line.strip().startswith("curl") and "/chat/completions" in line)
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout)["choices"], out.stdout + out.stderr
    start = next(i for i, line in enumerate(lines) if line.strip().endswith("python - <<'EOF'"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "EOF")
    out = subprocess.run(["bash", "-c", "\n".join(line[4:] for line in lines[start:end + 1])], capture_output=True,
                         text=True, check=False, timeout=120)
    assert out.returncode == 0 and out.stdout.strip(), out.stdout + out.stderr
    prom = next(line.strip() for line in lines if line.strip().startswith("curl") and "/api/v1/alerts" in line)
    assert "https://172.31.241.21:9090" in prom
    out = subprocess.run(["bash", "-c", prom], capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "success", out.stdout + out.stderr
