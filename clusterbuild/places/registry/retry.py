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


def deadline_after(config: RegistryConfig) -> float:
    return time.monotonic() + config.deadline


def check_deadline(config: RegistryConfig, deadline: float, doing: str) -> float:
    """Seconds left before ``deadline``; a TIMEOUT error when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RegistryError(f"{doing}: no result within {config.deadline:g}s", code="TIMEOUT",
                            hint="the registry is too slow or stalls; retry later, or raise --timeout")
    return left


def send_retrying(client: httpx.Client, build: Callable[[], httpx.Request], config: RegistryConfig,
                  doing: str, *, stream: bool = False, attempts: int | None = None,
                  deadline: float | None = None) -> httpx.Response:
    """Send ``build()``; retry temporary failures up to ``attempts - 1`` times (default: config.retries),
    all within ``deadline`` (a ``time.monotonic()``; default: ``config.deadline`` from now)."""
    deadline = deadline_after(config) if deadline is None else deadline
    tries = (config.retries + 1) if attempts is None else attempts
    for attempt in range(tries):
        last = attempt == tries - 1
        request = build()
        left = check_deadline(config, deadline, doing)
        request.extensions["timeout"] = httpx.Timeout(min(config.timeout, left)).as_dict()
        try:
            response = client.send(request, stream=stream)
        except httpx.TooManyRedirects:
            raise RegistryError(f"{doing}: more than {config.max_redirects} redirects (a redirect loop)",
                                code="REDIRECT_LOOP", hint="check the registry or mirror address") from None
        except httpx.TransportError as e:
            error = error_from_transport(e, doing)
            if last or not error.temporary:
                raise error from e
            _pause(config, deadline, backoff_delay(config, attempt), doing, type(e).__name__)
            continue
        if response.status_code not in TEMPORARY_STATUSES or last:
            return response
        delay = backoff_delay(config, attempt, response)
        response.close()
        _pause(config, deadline, delay, doing, str(response.status_code))
    raise RegistryError(f"{doing}: no attempt was made", code="CONNECTION")  # only when attempts < 1


def _pause(config: RegistryConfig, deadline: float, delay: float, doing: str, why: str) -> None:
    left = check_deadline(config, deadline, doing)
    log.debug("%s: %s, retrying in %.2fs", doing, why, delay)
    time.sleep(min(delay, left))
