"""Turn a finished run into a bundled zoo entry inside the plugin that owns its model.

    python benchmarks/make_zoo_entry.py runs/improved-anime-TIME improved-anime --fp16
    # -> plugins/improved/ganzoo_improved/zoo/improved-anime/ (README.md, config.json,
    #    model.safetensors, sample.png), sha256 and training facts in the card

Then measure it and record the numbers in its card, e.g.
`ganzoo eval plugins/improved/ganzoo_improved/zoo/improved-anime --data anime --metrics fid,kid`.
See ganzoo/hub/zoo_entry.py for what is copied and written.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run directory (with export/)")
    parser.add_argument("name", nargs="?", help="the entry's name (default MODEL-DATA)")
    parser.add_argument("--fp16", action="store_true", help="store the weights as float16")
    parser.add_argument("--out", help="the entry's folder (default: in the plugin's zoo folder)")
    parser.add_argument("--force", action="store_true", help="replace an existing entry")
    parser.add_argument("--summary", help="one line for `ganzoo list --kind zoo`")
    args = parser.parse_args(argv)

    from ganzoo.errors import GanzooError
    from ganzoo.hub.zoo_entry import make_zoo_entry
    from ganzoo.zoo import sha256_of

    try:
        folder = make_zoo_entry(
            args.run_dir,
            args.name,
            fp16=args.fp16,
            out=args.out,
            force=args.force,
            summary=args.summary,
        )
    except GanzooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {folder} (model.safetensors sha256 {sha256_of(folder / 'model.safetensors')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
