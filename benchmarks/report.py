"""Printing and writing results: a console table, a JSON file and a Markdown file per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"×{value:.2f}"


_INFERENCE_HEAD = ["task", "path", "load s", "p50 ms", "p95 ms", "throughput", "ΔRSS MB", "load ΔRSS / weights MB",
                   "ΔGPU MB"]  # fmt: skip


def _load_memory(figures: dict[str, Any]) -> str:
    # What the load alone added to peak RSS, against the loaded weights' size (the bound is 1.3x).
    added, weights = figures.get("load_delta_rss_mb"), figures.get("weights_mb")
    if added is None or not weights:
        return "–"
    return f"{added:,.0f} / {weights:,.0f} (×{added / weights:.2f})"


def _path_row(task: str, label: str, figures: dict[str, Any]) -> list[str]:
    return [
        task, label, _number(figures["load_seconds"]), _number(figures["latency_p50_ms"], 1),
        _number(figures["latency_p95_ms"], 1), f"{_number(figures['throughput'], 1)} {figures['throughput_unit']}",
        _number(figures["delta_rss_mb"], 0), _load_memory(figures), _number(figures["gpu_peak_mb"], 0),
    ]  # fmt: skip


def inference_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Two rows per task (ours, baseline) and a ratio row (ours/baseline)."""
    rows = []
    for result in results:
        for key in ("ours", "baseline"):
            figures = result[key]
            rows.append(_path_row(result["task"] if key == "ours" else "", f"{key} ({figures['dtype']})", figures))
        pairs = [("ours/baseline", result["ratios"])]
        if result.get("ours_int8"):
            rows.append(_path_row("", "ours int8 (setting)", result["ours_int8"]))
            pairs.append(("int8/baseline", result["int8_ratios"]))
        if result.get("ours_engine"):
            engine = result["ours_engine"]["engine"]
            rows.append(
                _path_row("", f"ours {engine} (setting, {result['ours_engine']['dtype']})", result["ours_engine"])
            )
            pairs.append((f"{engine}/baseline", result["engine_ratios"]))
        for label, ratios in pairs:
            rows.append([
                "", label, _ratio(ratios["load_seconds"]), _ratio(ratios["latency_p50_ms"]),
                _ratio(ratios["latency_p95_ms"]), _ratio(ratios["throughput"]), _ratio(ratios["delta_rss_mb"]), "",
                _ratio(ratios["gpu_peak_mb"]),
            ])  # fmt: skip
    return rows


_FINETUNE_HEAD = ["method", "model", "samples/s", "s to target", "best acc", "epochs", "peak RSS MB", "GPU MB"]


def finetune_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """One row per fine-tuning method."""
    return [
        [
            r["method"],
            r["model"],
            _number(r["samples_per_second"], 1),
            _number(r["seconds_to_target"], 1) if r["seconds_to_target"] is not None else "not reached",
            _number(r["best_accuracy"], 3),
            _number(r["epochs_run"], 1),
            _number(r["peak_rss_mb"], 0),
            _number(r["gpu_peak_mb"], 0),
        ]
        for r in results
    ]


_APP_HEAD = ["what", "cold s", "warm s", "how"]


def app_rows(app: dict[str, Any]) -> list[list[str]]:
    """Startup and first-answer rows."""
    rows = [[item["what"], _number(item.get("cold_seconds")), _number(item.get("warm_seconds"), 3), item["how"]]
            for item in app.get("items", [])]  # fmt: skip
    return rows


def text_table(head: list[str], rows: list[list[str]]) -> str:
    """A fixed-width table for the console."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *rows, strict=False)]
    line = "  ".join(cell.ljust(width) for cell, width in zip(head, widths, strict=True))
    body = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([line, "-" * len(line), *body])


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _sections(results: dict[str, Any], table) -> list[tuple[str, str]]:
    sections = []
    if results.get("inference"):
        sections.append(
            ("Inference (ratio: ours/baseline)", table(_INFERENCE_HEAD, inference_rows(results["inference"])))
        )
    if results.get("finetune"):
        sections.append(("Fine-tuning", table(_FINETUNE_HEAD, finetune_rows(results["finetune"]))))
    if results.get("app"):
        sections.append(("App", table(_APP_HEAD, app_rows(results["app"]))))
    if results.get("experiments"):
        rows = [[e["name"], e["task"], _number(e["before"], 1), _number(e["after"], 1), e["unit"], _ratio(e["ratio"]),
                 e.get("note", "")] for e in results["experiments"]]  # fmt: skip
        head = ["experiment", "task", "before", "after", "unit", "after/before", "note"]
        sections.append(("CPU experiments", table(head, rows)))
    return sections


def _notes(results: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    for result in results.get("inference", []):
        notes.extend(result["notes"])
        if result.get("bound"):
            notes.append(f"{result['task']} on {result['device']}: {result['bound']['summary']}")
    for result in results.get("finetune", []):
        notes.extend(result.get("notes", []))
    notes.extend(results.get("app", {}).get("notes", []))
    return list(dict.fromkeys(notes))


def _header(results: dict[str, Any]) -> list[str]:
    env = results["environment"]
    versions = ", ".join(f"{name} {version}" for name, version in env["versions"].items())
    return [
        f"mode {results['profile']['name']}, {env['date_utc']}, device {env['device']} ({env['cpu']}, "
        f"{env['cpu_cores']} cores, {env['torch_threads']} torch threads, {env['memory_gb']} GB)",
        f"Python {env['python']}; {versions}",
        f"load average at start {env['load_average_start']}, at end {env['load_average_end']}",
    ]


def render_text(results: dict[str, Any]) -> str:
    """The console report."""
    parts = _header(results)
    for title, body in _sections(results, text_table):
        parts += ["", title, body]
    notes = _notes(results)
    if notes:
        parts += ["", "Notes:", *[f"- {note}" for note in notes]]
    return "\n".join(parts)


def render_markdown(results: dict[str, Any]) -> str:
    """The Markdown report."""
    parts = ["# Benchmark results", "", *[f"- {line}" for line in _header(results)]]
    for title, body in _sections(results, markdown_table):
        parts += ["", f"## {title}", "", body]
    notes = _notes(results)
    if notes:
        parts += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    return "\n".join(parts) + "\n"


def recorded_figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Our path's figures per task in the shape ``backend.decisions.speed.SpeedRecord`` reads: the
    app's prioritiser and cost calculator fall back on them where this server has measured nothing.

    Throughput is one request at a time (1000 / p50), as the app's own measurement counts it; the
    benchmark's batch throughput is a different pace.
    """
    environment = results["environment"]
    when = environment["date_utc"].replace(" UTC", "").replace(" ", "T") + ":00Z"
    records = []
    for result in results.get("inference", []):
        ours = result["ours"]
        memory = (ours.get("delta_rss_mb") or 0.0) + (ours.get("gpu_peak_mb") or 0.0)
        records.append(
            {
                "task": result["task"],
                "model": result["model"],
                "latency_p50_ms": ours["latency_p50_ms"],
                "latency_p95_ms": ours["latency_p95_ms"],
                "throughput": round(1000 / ours["latency_p50_ms"], 3) if ours["latency_p50_ms"] else 0.0,
                "unit": "request",
                "peak_memory_mb": round(memory, 1),
                "device": environment["device"],
                "machine": f"{environment['cpu']}, {environment['cpu_cores']} cores",
                "measured_at": when,
                "origin": "benchmark",
                "method": f"benchmark ({results['profile']['name']} mode), ours ({ours['settings']}); "
                "throughput = 1000 / p50; memory = resident memory the load and run added",
            }
        )
    return records


def write_results(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<mode>-<device kind>.json`` and ``.md`` into ``out_dir`` (and the app's
    ``recorded-<mode>-<device kind>.json``, which is kept in git); returns the first two paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{results['profile']['name']}-{results['environment']['device_kind']}"
    json_path = out_dir / f"{stem}.json"
    markdown_path = out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    markdown_path.write_text(render_markdown(results), encoding="utf-8")
    recorded = {"records": recorded_figures(results)}
    (out_dir / f"recorded-{stem}.json").write_text(json.dumps(recorded, indent=2, ensure_ascii=False), encoding="utf-8")
    return json_path, markdown_path
