"""Command line: ``python -m backend.models download [task ...]`` and ``list``."""

from __future__ import annotations

import argparse
import sys

from backend.config import get_settings
from backend.models import catalog
from backend.models.download import download_quietly, specs_to_download


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m backend.models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser("download", help="fetch catalogue models into the models folder")
    download.add_argument("tasks", nargs="*", help=f"tasks to fetch (default: all): {', '.join(catalog.TASKS)}")
    download.add_argument("--all", action="store_true", help="also fetch the alternatives, not only the defaults")
    commands.add_parser("list", help="print the catalogue")
    args = parser.parse_args(argv)

    if args.command == "list":
        for spec in catalog.CATALOGUE:
            marker = "*" if spec.default else " "
            print(f"{marker} {spec.task:22} {spec.hub_id:62} {spec.memory_mb():>6} MB  {spec.licence}")
        return 0

    try:
        specs = specs_to_download(args.tasks, args.all)
    except ValueError as error:
        parser.error(str(error))
    settings = get_settings()
    print(f"Downloading {len(specs)} model(s) into {settings.models_dir}")
    failures = 0
    for spec in specs:
        result = download_quietly(spec, settings)
        print(
            f"{'ok  ' if result.ok else 'FAIL'} {spec.hub_id} -> {result.folder} {'' if result.ok else result.message}"
        )
        failures += not result.ok
    if failures:
        print(f"{failures} model(s) failed; is the Hugging Face Hub reachable from here?", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
