"""Running ``ganzoo`` in-process, shared by the CLI tests."""

from __future__ import annotations

from ganzoo.cli import main


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """``ganzoo ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
