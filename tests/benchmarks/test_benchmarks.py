"""The benchmark harness runs end to end on tiny models and writes well-formed results.

Benchmarks are not tests: nothing here asserts a timing, only that every figure is a number and
every section has the shape the report and RESULTS.md rely on.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.models.resolve import engine_choice
from benchmarks import measure, roofline
from benchmarks.report import render_markdown

ROOT = Path(__file__).resolve().parents[2]
_PATH_FIGURES = (
    "load_seconds",
    "latency_p50_ms",
    "latency_p95_ms",
    "batch_seconds",
    "throughput",
    "peak_rss_mb",
    "delta_rss_mb",
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


@pytest.fixture(scope="module")
def tiny_results(settings, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench-results")
    env = {**os.environ, "LSM_MODELS_DIR": str(settings.models_dir), "LSM_STATE_DIR": str(settings.state_dir)}
    # One torch thread: the tiny models' operations are too small to split, and a two-thread pool
    # on a busy two-core machine waits for its other thread at every step (half the run's time).
    env["OMP_NUM_THREADS"] = "1"
    # The bfloat16 path, as an AMX server runs it on its own (forced, so every host checks it): the
    # smaller sizes, where a tiny model's weights once rounded to 0.0 MB.
    env["LSM_CPU_BFLOAT16"] = "on"
    command = [sys.executable, "-m", "benchmarks", "--tiny", "--out", str(out), "--tasks",
               "sentiment", "translation", "image-classification", "text-generation", "finetune", "app"]  # fmt: skip
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert "ours/baseline" in completed.stdout
    return json.loads((out / "tiny-cpu.json").read_text(encoding="utf-8")), out


def test_every_inference_task_has_numeric_figures_for_both_paths(tiny_results):
    results, _ = tiny_results
    assert [r["task"] for r in results["inference"]] == [
        "sentiment",
        "translation",
        "image-classification",
        "text-generation",
    ]
    for result in results["inference"]:
        for path in ("ours", "baseline", "ours_int8"):  # int8: the CPU setting, measured on CPU runs
            figures = result[path]
            assert all(_is_number(figures[name]) for name in _PATH_FIGURES), (result["task"], path, figures)
            assert figures["batch_items"] > 0
            assert figures["gpu_peak_mb"] is None  # CPU run
        assert all(value is None or _is_number(value) for value in result["ratios"].values())
        assert result["ours_int8"]["dtype"] == "int8" and _is_number(result["int8_ratios"]["throughput"])
        assert result["weights"] == "tiny test model"
        assert any("checks the harness" in note for note in result["notes"])


def test_loads_report_their_own_peak_and_the_engine_row_its_answers(tiny_results):
    results, _ = tiny_results
    by_task = {r["task"]: r for r in results["inference"]}
    for result in results["inference"]:
        figures = result["ours"]
        assert _is_number(figures["load_delta_rss_mb"]) and figures["load_delta_rss_mb"] <= figures["delta_rss_mb"]
        assert _is_number(figures["weights_mb"]) and figures["weights_mb"] > 0
        assert figures["dtype"] == "bfloat16"  # the forced path, whatever this CPU has
    onnx = by_task["sentiment"]
    assert onnx["ours_engine"]["engine"] == "onnx" and onnx["ours_engine"]["dtype"] == "float32"
    assert all(_is_number(onnx["ours_engine"][name]) for name in _PATH_FIGURES)
    check = onnx["engine_check"]
    assert check["same_label"] == check["inputs"] > 0 and check["max_score_difference"] < 1e-4
    if engine_choice.available(engine_choice.LLAMA_CPP):  # the test command installs it
        chat = by_task["text-generation"]
        assert chat["ours_engine"]["engine"] == "llama.cpp"
        assert all(_is_number(chat["ours_engine"][name]) for name in _PATH_FIGURES)
        assert 0 <= chat["engine_check"]["identical_output"] <= chat["engine_check"]["inputs"]


def test_generation_gets_a_bound_estimate_and_units(tiny_results):
    results, _ = tiny_results
    by_task = {r["task"]: r for r in results["inference"]}
    generation = by_task["text-generation"]
    assert generation["ours"]["throughput_unit"] == "tokens/s"
    bound = generation["bound"]
    assert bound["single_bound"] in ("memory bandwidth", "compute")
    assert _is_number(bound["single_bandwidth_fraction"]) and _is_number(bound["peaks"]["bandwidth_gb_s"])
    assert by_task["translation"]["ours"]["throughput_unit"] == "sentences/s"


def test_finetune_compares_both_methods_with_trainer(tiny_results):
    results, _ = tiny_results
    methods = [r["method"] for r in results["finetune"]]
    assert methods == ["Trainer (full)", "ours full", "Trainer (embedder)", "ours fast"]
    for run in results["finetune"]:
        assert _is_number(run["samples_per_second"]) and run["samples_per_second"] > 0
        assert 0 <= run["best_accuracy"] <= 1
        assert run["accuracy_curve"], run["method"]
        assert run["seconds_to_target"] is None or _is_number(run["seconds_to_target"])


def test_app_startup_and_environment_are_recorded(tiny_results):
    results, out = tiny_results
    items = {item["what"]: item for item in results["app"]["items"]}
    assert _is_number(items["app process → /_stcore/health"]["cold_seconds"])
    assert _is_number(items["app process → home page HTML served"]["cold_seconds"])
    environment = results["environment"]
    assert len(environment["load_average_start"]) == 3 and environment["versions"]["torch"]
    assert results["errors"] == []
    markdown = (out / "tiny-cpu.md").read_text(encoding="utf-8")
    assert "| task | path |" in markdown and "ours/baseline" in markdown


def test_sizes_never_round_a_model_to_nothing():
    # A tiny test model in bfloat16 holds about 40 kB; real models read to one decimal.
    assert measure.size_mb(40_000) == pytest.approx(0.0381)
    assert measure.size_mb(270 * 2**20 + 123_456) == 270.1
    assert measure.size_mb(0) == 0.0


def test_percentile_interpolates():
    assert measure.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == pytest.approx(2.5)
    assert measure.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    with pytest.raises(ValueError):
        measure.percentile([], 0.5)


def test_peak_memory_sees_an_allocation():
    with measure.peak_memory() as reading:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])
    assert reading.delta_rss_mb >= 48
    del block


def test_gpu_peaks_match_device_names_and_ridge():
    h100 = roofline.gpu_peaks("NVIDIA H100 80GB HBM3")
    assert h100 is not None and h100.bandwidth_gb_s == 3350
    assert roofline.gpu_peaks("NVIDIA H100 PCIe").bandwidth_gb_s == 2000
    assert roofline.gpu_peaks("Some Future GPU") is None
    assert h100.ridge_flops_per_byte == pytest.approx(989e12 / 3350e9)


def test_markdown_report_renders_without_optional_sections():
    results = {
        "environment": measure.describe_environment("cpu", "CPU").to_dict(),
        "profile": {"name": "quick"},
    }
    text = render_markdown(results)
    assert text.startswith("# Benchmark results") and "mode quick" in text
