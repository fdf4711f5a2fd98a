"""``data:;base64,...`` URLs: how a text input (a file written from the spec itself) is fetched."""

from __future__ import annotations

import base64

PREFIX = "data:;base64,"


def data_url(data: bytes) -> str:
    return PREFIX + base64.b64encode(data).decode("ascii")


def data_bytes(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])
