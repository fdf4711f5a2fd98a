"""Pushing hand-made blobs and manifests to the test registry over the distribution API."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(registry: str, name: str, data: bytes, media_type: str) -> dict[str, Any]:
    """Upload ``data`` (monolithic POST then PUT) and return its descriptor."""
    location = httpx.post(f"http://{registry}/v2/{name}/blobs/uploads/").headers["location"]
    url = location if location.startswith("http") else f"http://{registry}{location}"
    url += ("&" if "?" in url else "?") + f"digest={digest_of(data)}"
    httpx.put(url, content=data, headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


def put_manifest(registry: str, name: str, tag: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT ``body`` under ``tag``; the descriptor of what was stored (the exact bytes sent)."""
    data = json.dumps(body, indent=2).encode()
    media_type = body["mediaType"]
    httpx.put(f"http://{registry}/v2/{name}/manifests/{tag}", content=data,
              headers={"Content-Type": media_type}).raise_for_status()
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}
