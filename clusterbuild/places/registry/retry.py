"""Sending one request with retries: exponential backoff on connection errors, 5xx and 429.

A server's ``Retry-After`` (seconds or an HTTP date) is honoured, capped at the config's
``max_delay``. The final response is returned whatever its status; callers decide what an
error is. Requests are rebuilt for every attempt so that fresh auth headers and a fresh
upload body go with each.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import httpx

from clusterbuild.places.registry.config import RegistryConfig
from clusterbuild.places.registry.errors import TEMPORARY_STATUSES, RegistryError, error_from_transport
from clusterbuild.places.transfers import retry_after

log = logging.getLogger(__name__)


def backoff_delay(config: RegistryConfig, attempt: int, response: httpx.Response | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    told = retry_after(response) if response is not None else None
    if told is not None:
        return min(told, config.max_delay)
    base = config.backoff * 2.0 ** attempt
    return min(config.max_delay, base * random.uniform(0.8, 1.2))


def send_retrying(client: httpx.Client, build: Callable[[], httpx.Request], config: RegistryConfig,
                  doing: str, *, stream: bool = False,
                  attempts: int | None = None) -> httpx.Response:
    """Send ``build()``; retry temporary failures up to ``attempts - 1`` times (default: config.retries)."""
    tries = (config.retries + 1) if attempts is None else attempts
    for attempt in range(tries):
        last = attempt == tries - 1
        try:
            response = client.send(build(), stream=stream)
        except httpx.TransportError as e:
            error = error_from_transport(e, doing)
            if last or not error.temporary:
                raise error from e
            delay = backoff_delay(config, attempt)
            log.debug("%s: %s, retrying in %.2fs", doing, type(e).__name__, delay)
            time.sleep(delay)
            continue
        if response.status_code not in TEMPORARY_STATUSES or last:
            return response
        delay = backoff_delay(config, attempt, response)
        response.close()
        log.debug("%s: %d, retrying in %.2fs", doing, response.status_code, delay)
        time.sleep(delay)
    raise RegistryError(f"{doing}: no attempt was made", code="CONNECTION")  # only when attempts < 1
