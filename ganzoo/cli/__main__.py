"""``python -m ganzoo.cli`` (torchrun runs the command line this way)."""

from ganzoo.cli import main

main()
