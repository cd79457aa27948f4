"""OpenPGP fingerprints computed here equal gpg's, for armored and binary keys (issue 21 item 7: a repository key
is installed only when its fingerprint is the pinned one)."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import openpgp


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if not shutil.which("gpg"):
        pytest.skip("no gpg here")
    home = tmp_path_factory.mktemp("gnupg")
    os.chmod(home, 0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    out = {}
    for algo in ("ed25519", "rsa2048"):
        uid = "llmfleet test %s <t@llmfleet.invalid>" % algo
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "sign", "1d"], env=env,
                       check=True, capture_output=True)
        subprocess.run(["gpg", "--batch", "--quick-add-key", "--passphrase", "",
                        subprocess.run(["gpg", "--with-colons", "--list-keys", uid], env=env, check=True,
                                       capture_output=True, text=True).stdout.split("fpr:::::::::")[1].split(":")[0],
                        "cv25519" if algo == "ed25519" else "rsa2048", "encr", "1d"], env=env, check=True,
                       capture_output=True)
        colons = subprocess.run(["gpg", "--with-colons", "--list-keys", uid], env=env, check=True, capture_output=True,
                                text=True).stdout
        fprs = [ln.split(":")[9] for ln in colons.splitlines() if ln.startswith("fpr:")]
        armored = subprocess.run(["gpg", "--armor", "--export", uid], env=env, check=True, capture_output=True,
                                 text=True).stdout
        binary = subprocess.run(["gpg", "--export", uid], env=env, check=True, capture_output=True).stdout
        out[algo] = (fprs[0], fprs[1], armored, binary)
    return out


@pytest.mark.parametrize("algo", ["ed25519", "rsa2048"])
def test_primary_fingerprint_matches_gpg_and_subkeys_are_not_primary(keys, algo):
    primary, subkey, armored, binary = keys[algo]
    assert openpgp.fingerprints(armored) == [primary]
    assert openpgp.fingerprints(binary) == [primary]
    assert subkey not in openpgp.fingerprints(armored)


def test_two_keys_in_one_block_and_normalized_pins(keys):
    both = keys["ed25519"][2] + "\n" + keys["rsa2048"][2]
    assert openpgp.fingerprints(both) == [keys["ed25519"][0], keys["rsa2048"][0]]
    assert openpgp.normalize("0xeb69 3b30 35cd 5710 e231  e123 a4b4 6996 3bf8 63cc") == \
        "EB693B3035CD5710E231E123A4B469963BF863CC"


@pytest.mark.parametrize("text", ["", "<html>404 not found</html>",
                                  "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----"])
def test_not_a_key_is_refused(text):
    with pytest.raises(openpgp.OpenPGPError):
        openpgp.fingerprints(text)
