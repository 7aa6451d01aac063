"""The one exception type users see."""


class GanzooError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The command line prints these as ``error: <message>`` and exits non-zero; anything else
    that escapes is a bug in ganzoo.
    """
