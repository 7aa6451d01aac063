"""Calling the Hugging Face Hub: when to read only the local cache, and what its errors mean.

Every huggingface_hub call ganzoo makes (a model's files, a dataset's snapshot, a push) runs
inside ``hub_errors`` or ``push_errors``, which turn huggingface_hub's exceptions into one
GanzooError line naming the repository, and silence its retry chatter (``quiet_hub``). Calls
that may download first ask ``cache_only_reason``: offline or unreachable, they read the cache at
once instead of retrying for half a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ganzoo.errors import GanzooError, first_line
from ganzoo.io.network import hub_reachable, quiet_hub

_TRUE = ("1", "on", "yes", "true")


def offline() -> bool:
    """HF_HUB_OFFLINE, as huggingface_hub read it on import or as the environment says now."""
    from huggingface_hub import constants

    variable = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or variable in _TRUE


def cache_only_reason(download: bool = True) -> str | None:
    """Why a Hub call must read only the local cache, or None when it may download."""
    if offline():
        return "HF_HUB_OFFLINE is set"
    if not download:
        return "this command does not download"
    if not hub_reachable():
        return "the Hub cannot be reached"
    return None


@contextmanager
def hub_errors(
    repo: str,
    *,
    kind: str = "model",
    revision: str | None = None,
    filename: str | None = None,
    cache_only: str | None = None,
) -> Iterator[None]:
    """Runs a download of ``filename`` (or a whole snapshot) of the ``kind`` repository
    ``repo``; its errors leave as one GanzooError line. ``cache_only`` is why only the cache
    was read (``cache_only_reason``), if it was."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo}@{revision}" if revision else repo
    what = f"{filename} of {where}" if filename else f"the Hub {kind} {where}"
    try:
        with quiet_hub():
            yield
    # the order matters: each of these classes derives from one of those below it
    except LocalEntryNotFoundError:
        why = cache_only or "the Hub cannot be reached"
        message = f"{what} is not in the Hub cache ({constants.HF_HUB_CACHE}) and {why}"
    except GatedRepoError:
        message = f"{what} is gated: accept its terms on huggingface.co, then `hf auth login`"
    except RepositoryNotFoundError:
        message = (
            f"no {kind} repository {repo} on the Hub (or it is private or gated: log in with "
            "`hf auth login`)"
        )
    except RevisionNotFoundError:
        message = f"{repo} has no revision {revision!r}"
    except EntryNotFoundError:
        hint = "; ganzoo loads safetensors only" if filename == "model.safetensors" else ""
        message = f"{where} has no {filename}{hint}"
    except HFValidationError as exc:
        message = f"{repo!r} is not a repository id: {first_line(exc)}"
    except (OSError, ValueError) as exc:  # other HTTP errors (HfHubHTTPError is an OSError)
        message = f"cannot download {what}: {first_line(exc)}"
    else:
        return
    raise GanzooError(message) from None


@contextmanager
def push_errors(repo: str) -> Iterator[None]:
    """Runs an upload to ``repo``: no token, offline mode, HTTP errors and connection failures
    all become one line naming the repository."""
    try:
        with quiet_hub():
            yield
    except Exception as exc:  # noqa: BLE001 - everything here is the network and the Hub's answer
        raise GanzooError(f"cannot push to {repo}: {first_line(exc)}") from None
