"""Reaching the Hugging Face Hub: one line within seconds when it cannot be reached.

huggingface_hub retries a failed connection five times, sleeping 1 to 8 seconds between tries and
logging each one ("Retrying in 8s [Retry 4/5]"): half a minute of chatter before the error. ganzoo
first tries one plain connection to the Hub with a short timeout; when that fails, it asks
huggingface_hub for its local cache only, and says in one line that the Hub cannot be reached.
No torch here: dataset downloads use it too.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 3.0  # seconds; the Hub answers in well under one from anywhere it is reachable
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_reachable(timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connection to the Hub's endpoint opens within ``timeout`` seconds.

    Behind a proxy the endpoint is not reached directly, so the answer is left to
    huggingface_hub (True)."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return True
    parts = urlsplit(hub_endpoint())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except (OSError, ValueError):  # no DNS, no route, refused, timed out
        return False
    return True


@contextmanager
def quiet_hub() -> Iterator[None]:
    """huggingface_hub's warnings (retries, slow downloads) off: ganzoo reports the outcome."""
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
