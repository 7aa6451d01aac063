"""The one exception type users see."""


class GanzooError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The command line prints these as ``error: <message>`` and exits non-zero; anything else
    that escapes is a bug in ganzoo.
    """


def first_line(exc: BaseException) -> str:
    """The first line of another exception's text (its type's name when it has none), for the
    one line a GanzooError gives."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
