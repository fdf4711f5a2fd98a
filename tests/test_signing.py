"""Signatures in cosign's format: keys made by openssl, signatures checked by openssl, the
signature manifest read back from Debian's docker-registry with skopeo and plain HTTP.
Sign -> verify passes; a re-pushed different index, a moved signature, another key fail."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from clusterbuild.oci.digest import Digest
from clusterbuild.supply.signing import (
    SIMPLESIGNING,
    KeyProblem,
    load_signing_key,
    load_verifying_key,
    payload,
    payload_problem,
    signature_image,
    signature_layer,
)

from conftest import apply_json, cli

DIGEST = Digest.of_bytes(b"an index")


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=stdin, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def keypair(tmp: Path, name: str = "cosign", curve: str = "P-256") -> tuple[Path, Path]:
    key, pub = tmp / f"{name}.key", tmp / f"{name}.pub"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", str(key))
    openssl("pkey", "-in", str(key), "-pubout", "-out", str(pub))
    return key, pub


def openssl_verifies(tmp: Path, pub: Path, data: bytes, signature: str) -> bool:
    (tmp / "payload").write_bytes(data)
    (tmp / "sig.der").write_bytes(base64.b64decode(signature))
    proc = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
                           str(tmp / "sig.der"), str(tmp / "payload")], capture_output=True, text=True)
    return proc.returncode == 0 and "Verified OK" in proc.stdout


def test_payload_is_cosigns_simple_signing_document() -> None:
    data = payload("registry.internal:5000/labring/app", DIGEST)
    assert data == (b'{"critical":{"identity":{"docker-reference":"registry.internal:5000/labring/app"},'
                    b'"image":{"docker-manifest-digest":"' + str(DIGEST).encode() + b'"},'
                    b'"type":"cosign container image signature"},"optional":null}')
    assert payload_problem(data, DIGEST) is None
    assert payload_problem(data, Digest.of_bytes(b"other")) == \
        f"it signs {DIGEST}, not {Digest.of_bytes(b'other')}"


def test_signature_is_ecdsa_p256_sha256_that_openssl_verifies(tmp_path: Path) -> None:
    key_file, pub_file = keypair(tmp_path)
    key = load_signing_key(key_file.read_bytes(), None)
    data = payload("r/app", DIGEST)
    signature = key.sign(data)
    assert openssl_verifies(tmp_path, pub_file, data, signature)
    public = load_verifying_key(pub_file.read_bytes())
    assert public.verifies(data, signature)
    assert not public.verifies(data.replace(b"r/app", b"r/evil"), signature)
    _, other = keypair(tmp_path, "other")
    assert not load_verifying_key(other.read_bytes()).verifies(data, signature)


def test_signature_manifest_has_the_payload_layer_and_cosigns_config() -> None:
    data = payload("r/app", DIGEST)
    image = signature_image([signature_layer(data, "c2ln")])
    manifest = json.loads(image.manifest)
    (layer,) = manifest["layers"]
    assert layer == {"mediaType": SIMPLESIGNING, "size": len(data), "digest": str(Digest.of_bytes(data)),
                     "annotations": {"dev.cosignproject.cosign/signature": "c2ln"}}
    assert manifest["config"]["digest"] == str(Digest.of_bytes(image.config))
    config = json.loads(image.config)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [str(Digest.of_bytes(data))]}


def test_keys_other_tools_write_are_read_and_bad_ones_refused(tmp_path: Path) -> None:
    sec1 = openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout")
    assert b"EC PRIVATE KEY" in sec1
    load_signing_key(sec1, None)
    plain, _ = keypair(tmp_path)
    encrypted = openssl("pkcs8", "-topk8", "-in", str(plain), "-passout", "pass:hunter2-secret")
    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    load_signing_key(encrypted, "hunter2-secret")
    problems = []
    rsa = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    for data, password in ((encrypted, None), (encrypted, "wrong-password-x"), (b"garbage", None),
                           (keypair(tmp_path, "p384", "P-384")[0].read_bytes(), None), (rsa, None),
                           (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "x")):
        with pytest.raises(KeyProblem) as caught:
            load_signing_key(data, password)
        problems.append(str(caught.value))
        assert "hunter2" not in str(caught.value) and "wrong-password" not in str(caught.value)
    assert "CLUSTERBUILD_SIGN_PASSWORD" in problems[0] and "wrong password" in problems[1]
    assert "not a PEM private key" in problems[2] and "P-256" in problems[3] and "P-256" in problems[4]
    assert "cosign's own encrypted key format" in problems[5]


def _raw(registry: str, ref: str) -> bytes:
    proc = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry}/{ref}"],
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def _push(ws: Path, registry: str, prefix: str, *args: str) -> dict[str, Any]:
    return apply_json(ws, "hello-tools", "--push-to", f"{registry}/{prefix}", "--insecure-registry", registry,
                      *args)


def _verify(registry: str, ref: str, pub: Path) -> subprocess.CompletedProcess[str]:
    return cli("verify", f"{registry}/{ref}", "--key", str(pub), "--insecure-registry", registry, check=False)


def test_sign_then_verify_and_a_repushed_index_fails(workspace: Path, registry: str, tmp_path: Path) -> None:
    key, pub = keypair(tmp_path)
    result = _push(workspace, registry, "signed", "--sign-key", str(key))
    index_digest = "sha256:" + hashlib.sha256(_raw(registry, "signed/hello-tools:v1.0.0")).hexdigest()
    assert [(s["subject"], s["new"]) for s in result["signed"]] == \
        [(f"{registry}/signed/hello-tools@{index_digest}", True)]
    tag = f"sha256-{index_digest.split(':')[1]}.sig"
    # what cosign reads: the manifest under sha256-<hex>.sig, its payload blob, the annotation
    manifest = json.loads(_raw(registry, f"signed/hello-tools:{tag}"))
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    data = httpx.get(f"http://{registry}/v2/signed/hello-tools/blobs/{layer['digest']}").content
    claims = json.loads(data)["critical"]
    assert claims == {"identity": {"docker-reference": f"{registry}/signed/hello-tools"},
                      "image": {"docker-manifest-digest": index_digest},
                      "type": "cosign container image signature"}
    assert openssl_verifies(tmp_path, pub, data, layer["annotations"]["dev.cosignproject.cosign/signature"])
    ok = _verify(registry, "signed/hello-tools:v1.0.0", pub)
    assert ok.returncode == 0 and index_digest in ok.stdout, ok.stderr
    # signing again with the same key adds nothing
    again = _push(workspace, registry, "signed", "--sign-key", str(key))
    assert [s["new"] for s in again["signed"]] == [False]
    assert json.loads(_raw(registry, f"signed/hello-tools:{tag}")) == manifest
    # another key's signature
    _, other_pub = keypair(tmp_path, "other")
    wrong = _verify(registry, "signed/hello-tools:v1.0.0", other_pub)
    assert wrong.returncode == 6 and "not signed by this key" in wrong.stderr
    # a different index pushed under the same tag: not signed
    (workspace / "applications/hello-tools/latest/CHANGED.md").write_text("a change\n")
    _push(workspace, registry, "signed")
    new_digest = "sha256:" + hashlib.sha256(_raw(registry, "signed/hello-tools:v1.0.0")).hexdigest()
    assert new_digest != index_digest
    unsigned = _verify(registry, "signed/hello-tools:v1.0.0", pub)
    assert unsigned.returncode == 6 and "not signed" in unsigned.stderr and new_digest in unsigned.stderr
    # the old signature moved to the new digest's tag does not sign it
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{registry}/signed/hello-tools:{tag}",
                    f"docker://{registry}/signed/hello-tools:sha256-{new_digest.split(':')[1]}.sig"],
                   check=True, capture_output=True)
    moved = _verify(registry, "signed/hello-tools:v1.0.0", pub)
    assert moved.returncode == 6 and f"it signs {index_digest}, not {new_digest}" in moved.stderr
    # the old index, by digest, still verifies
    assert _verify(registry, f"signed/hello-tools@{index_digest}", pub).returncode == 0


def test_a_second_key_adds_its_signature_and_both_verify(workspace: Path, registry: str,
                                                          tmp_path: Path) -> None:
    first, first_pub = keypair(tmp_path, "first")
    second, second_pub = keypair(tmp_path, "second")
    _push(workspace, registry, "twice", "--sign-key", str(first))
    _push(workspace, registry, "twice", "--sign-key", str(second))
    index_digest = "sha256:" + hashlib.sha256(_raw(registry, "twice/hello-tools:v1.0.0")).hexdigest()
    manifest = json.loads(_raw(registry, f"twice/hello-tools:sha256-{index_digest.split(':')[1]}.sig"))
    assert len(manifest["layers"]) == 2
    for pub in (first_pub, second_pub):
        assert _verify(registry, "twice/hello-tools:v1.0.0", pub).returncode == 0


def test_the_key_and_its_password_go_nowhere(workspace: Path, registry: str, tmp_path: Path) -> None:
    plain, pub = keypair(tmp_path)
    secret = "pw-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(openssl("pkcs8", "-topk8", "-in", str(plain), "-passout", f"pass:{secret}"))
    args = ("apply", "-C", str(workspace), "hello-tools", "--push-to", f"{registry}/secret",
            "--insecure-registry", registry, "--sign-key", str(encrypted))
    refused = cli(*args, check=False)  # no password: refused before anything is built
    assert refused.returncode == 3 and "CLUSTERBUILD_SIGN_PASSWORD" in refused.stderr
    assert not (workspace / "out").exists()
    done = cli("--verbose", "--debug", *args, env={"CLUSTERBUILD_SIGN_PASSWORD": secret})
    assert secret not in done.stdout + done.stderr
    assert _verify(registry, "secret/hello-tools:v1.0.0", pub).returncode == 0
    der = base64.b64decode(b"".join(encrypted.read_bytes().splitlines()[1:-1]))
    body = b"".join(plain.read_bytes().splitlines()[1:-1])
    for path in workspace.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert secret.encode() not in content and body not in content and der not in content, path


def test_sign_key_needs_a_push_and_stays_out_of_app_dirs(workspace: Path, tmp_path: Path) -> None:
    key, _ = keypair(tmp_path)
    no_push = cli("apply", "-C", str(workspace), "--sign-key", str(key), check=False)
    assert no_push.returncode == 2 and "--push" in no_push.stderr
    inside = workspace / "applications/hello-tools/latest/cosign.key"
    inside.write_bytes(key.read_bytes())
    shipped = cli("apply", "-C", str(workspace), "--push-to", "127.0.0.1:1/x", "--sign-key", str(inside),
                  check=False)
    assert shipped.returncode == 3 and "inside applications/" in shipped.stderr
    assert not (workspace / "out").exists()
