"""``python -m benchmarks [--quick | --tiny] [--tasks ...] [--out FOLDER]``: run, print, write results.

Full mode (the default) is sized for a GPU server; ``--quick`` finishes in minutes on a small CPU;
``--tiny`` uses the test-suite's tiny models (for the benchmark's own test). Nothing is
downloaded: models are the real weights from the offline mirror when present, else stand-ins
(see ``benchmarks.standins``).
"""

from __future__ import annotations

import os

# Before transformers is imported anywhere: never contact the hub, no telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from backend.config import PROJECT_ROOT, get_settings  # noqa: E402
from backend.models.resolve.device import choose_device  # noqa: E402
from benchmarks import measure, report  # noqa: E402
from benchmarks.profiles import PROFILES  # noqa: E402

INFERENCE_TASKS = ("sentiment", "translation", "image-classification", "text-generation")
# Sentence embeddings on real weights (MiniLM, when its package is installed): benchmarks/embeddings.py.
# "chat": real SmolLM2 weights (benchmarks/chat_speed.py), incl. the chat page in a browser.
ALL_TASKS = (*INFERENCE_TASKS, "embeddings", "finetune", "app", "experiments", "chat")
DEFAULT_TASKS = (*INFERENCE_TASKS, "embeddings", "finetune", "app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU-sized run: a few minutes on two cores")
    mode.add_argument("--tiny", action="store_true", help="tiny test models (checks the harness, not speed)")
    parser.add_argument("--tasks", nargs="+", choices=ALL_TASKS, default=list(DEFAULT_TASKS), metavar="TASK",
                        help=f"what to run, from: {', '.join(ALL_TASKS)} (default: all but experiments)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results",
                        help="folder for the JSON and Markdown results")  # fmt: skip
    return parser.parse_args(argv)


def _quiet_libraries() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
    warnings.filterwarnings("ignore")


def _freeze_imported_objects() -> None:
    """Leave the libraries' objects out of every later garbage collection.

    The harness collects before each measurement so a dropped model is freed; with torch,
    transformers and its pipelines imported, each collection walked about 370,000 objects that
    live as long as the process (0.4-0.5 s each, 42 of them in a tiny run: a third of its time).
    Frozen after the imports and before any model loads, so every model is still collected.
    """
    import gc

    import transformers.pipelines  # noqa: F401 - the baselines' module, the largest import

    gc.collect()
    gc.freeze()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen sections and return every result as one JSON-able dict."""
    _quiet_libraries()
    from benchmarks import app_timing, embeddings, experiments, finetune, inference

    _freeze_imported_objects()

    profile = PROFILES["tiny" if args.tiny else "quick" if args.quick else "full"]
    settings = get_settings()
    device = choose_device(settings.device)
    environment = measure.describe_environment(device.kind, device.name)
    results: dict[str, Any] = {
        "environment": environment.to_dict(),
        "profile": profile.to_dict(),
        "inference": [],
        "finetune": [],
        "app": {},
        "experiments": [],
        "errors": [],
    }
    for task in args.tasks:
        started = time.perf_counter()
        _say(f"[benchmarks] {task} ({profile.name} mode, {device.name}, load {measure.load_average()})…")
        try:
            if task in INFERENCE_TASKS:
                results["inference"].append(inference.run_task(task, profile, settings).to_dict())
            elif task == "embeddings":
                embedded = embeddings.run_embeddings(profile, settings)
                if embedded is not None:
                    results["inference"].append(embedded.to_dict())
            elif task == "finetune":
                results["finetune"] = [r.to_dict() for r in finetune.run_finetune(profile, settings)]
            elif task == "app":
                results["app"] = app_timing.run_app(profile, settings)
            elif task == "experiments":
                results["experiments"] = [e.to_dict() for e in experiments.run_experiments(profile, settings)]
            elif task == "chat":
                from benchmarks import chat_speed

                results["chat"] = chat_speed.run(settings)
        except Exception as error:  # noqa: BLE001 - one failing section must not lose the others
            results["errors"].append({"task": task, "error": f"{type(error).__name__}: {error}"})
            _say(traceback.format_exc())
        _say(f"[benchmarks] {task} done in {time.perf_counter() - started:.1f} s")
    results["environment"]["load_average_end"] = measure.load_average()
    return results


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit code is 1 when a section failed."""
    args = parse_args(argv)
    results = run(args)
    print(report.render_text(results))
    if "chat" in results:
        from benchmarks import chat_speed

        print("\n" + chat_speed.render(results["chat"]))
    json_path, markdown_path = report.write_results(results, args.out)
    print(f"\nWrote {json_path} and {markdown_path}")
    for failure in results["errors"]:
        print(f"FAILED {failure['task']}: {failure['error']}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
