"""Chat on real weights (SmolLM2-135M-Instruct): speed at batch 1, load peaks, and the page.

- **Speed**: ``stream_reply`` (the chat page's backend call) on our bfloat16 and weight-only int8
  loads, each through the compact decode loop and through ``generate``, against a bfloat16
  ``pipeline("text-generation")`` (what a knowledgeable user writes; float32 beside it), greedy,
  same prompts, same process; rounds alternate over the paths so load from other work falls on
  all of them. The pipelines get the token count our bfloat16 path produced for each prompt as
  min and max new tokens; ours get it as the maximum.
- **Load peaks**: each load in a fresh process (``python -m benchmarks.chat_speed load MODE``):
  the peak resident memory the load added (``VmHWM`` after imports) against the loaded weights'
  size (parameters and buffers at their loaded dtype).
- **Page**: ``benchmarks.page_speed``, tokens/s in the browser against the backend's, with the
  browser on its own CPU (``--no-pin``: unpinned).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT, Settings, to_environment
from backend.models.resolve import engine_choice
from benchmarks import measure

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
PROMPTS = (
    "Explain in three sentences what fine-tuning a language model means.",
    "Write a short, polite e-mail asking a supplier to confirm a delivery date.",
    "List three uses of a small language model on a laptop.",
)
LOAD_MODES = ("bfloat16", "int8", "int8-dynamic-before", "llama.cpp-writing-its-copy", "llama.cpp")


def _folder(settings: Settings, hub_id: str = HUB_ID) -> Path | None:
    folder = settings.models_dir / hub_id.replace("/", "--")
    return folder if (folder / "config.json").is_file() else None


def _settings(settings: Settings, quantize: str) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, cpu_quantize=quantize, device="cpu")


def _load(mode: str, settings: Settings, hub_id: str = HUB_ID) -> Any:
    """Load ``hub_id`` (SmolLM2) the way ``mode`` says (``int8-dynamic-before``: the chat int8 path
    before this change, float32 weights then dynamic quantisation, kept for the comparison)."""
    from backend.models.load import quantize
    from backend.models.loader import load_model

    if mode == "int8-dynamic-before":
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(_folder(settings, hub_id), dtype=torch.float32)
        return quantize.quantize_int8(model)
    if mode.startswith("llama.cpp"):
        import dataclasses
        import shutil

        from backend.models.engines import runtimes

        # Its 8-bit copy is made on the first load (written tensor by tensor); later loads map it.
        if mode == "llama.cpp-writing-its-copy":
            for copy in (_folder(settings, hub_id) / runtimes.CACHE_FOLDER).glob(f"{engine_choice.LLAMA_CPP}-*"):
                shutil.rmtree(copy)
        return load_model(
            "text-generation",
            hub_id,
            dataclasses.replace(_settings(settings, "none"), cpu_engine="text-generation=llama.cpp"),
        )
    return load_model("text-generation", hub_id, _settings(settings, "int8" if mode == "int8" else "none"))


def _weights_bytes(model: Any) -> int:
    from backend.models.load import quantize
    from backend.models.loader import LoadedModel

    if isinstance(model, LoadedModel) and model.engine != "torch":
        return model.memory_bytes  # the engine's model file
    model = model.model if isinstance(model, LoadedModel) else model
    return quantize.weight_only_bytes(model) + quantize.packed_weight_bytes(model)


def _answer_once(loaded: Any) -> None:
    import torch
    from transformers import GenerationConfig

    from backend.models.loader import LoadedModel

    model = loaded.model if isinstance(loaded, LoadedModel) else loaded  # the "before" mode has no LoadedModel
    config = GenerationConfig(max_new_tokens=2, min_new_tokens=2, do_sample=False, eos_token_id=2)
    with torch.inference_mode():
        model.generate(input_ids=torch.tensor([[1, 2, 3]]), generation_config=config)


def load_peak(mode: str, settings: Settings, hub_id: str = HUB_ID) -> dict[str, Any]:
    """In this (fresh) process: what loading ``hub_id`` in ``mode`` adds to the peak RSS, the
    weights' size, and what one more tokenizer instance adds (every load makes one)."""
    import transformers
    from accelerate import init_empty_weights

    # One-time costs every later load skips are not the load's: importing the model's class and
    # the generation code (about 140 MB of modules here) and the tokenizer library's first use.
    folder = _folder(settings, hub_id)
    with init_empty_weights():
        transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.from_pretrained(folder))
    transformers.AutoTokenizer.from_pretrained(folder)
    # llama.cpp's library loads in the engine's own process (engine_process), not in this one.
    measure.return_freed_memory()
    with measure.peak_memory() as tokenizer:
        extra = transformers.AutoTokenizer.from_pretrained(folder)
    del extra
    measure.return_freed_memory()
    with measure.peak_memory() as reading:
        started = time.perf_counter()
        loaded = _load(mode, settings, hub_id)
        seconds = time.perf_counter() - started
        # A bfloat16 load maps the file and reads pages on first use: count them by answering once.
        _answer_once(loaded)
    weights = _weights_bytes(loaded) / measure.MB
    return {
        "mode": mode,
        "load_seconds": round(seconds, 2),
        "added_peak_mb": reading.delta_rss_mb,
        "weights_mb": measure.size_mb(weights * measure.MB),
        "peak_over_weights": round(reading.delta_rss_mb / weights, 2) if weights else None,
        "tokenizer_mb": tokenizer.delta_rss_mb,
        "without_tokenizer": round((reading.delta_rss_mb - tokenizer.delta_rss_mb) / weights, 2) if weights else None,
        "method": reading.method,
    }


def _load_peaks(settings: Settings, hub_id: str = HUB_ID) -> list[dict[str, Any]]:
    rows = []
    for mode in LOAD_MODES:
        env = {**os.environ, **to_environment(settings)}
        done = subprocess.run([sys.executable, "-m", "benchmarks.chat_speed", "load", mode, hub_id],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            rows.append({"mode": mode, "error": done.stderr[-400:]})
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def _ours(loaded: Any, prompt: str, tokens: int | None) -> tuple[float, int, str]:
    from backend.inference import text_generation
    from backend.inference.text_generation import ChatMessage, GenerationOptions

    options = GenerationOptions(temperature=0, max_new_tokens=tokens or 64)
    measure.wait_for_quiet_threads()  # as measure.timed: the other path's pools idle first
    started = time.perf_counter()
    stream = text_generation.stream_reply(loaded, [ChatMessage("user", prompt)], options, threading.Event())
    text = "".join(stream)
    return time.perf_counter() - started, stream.result.new_tokens, text


def _pipeline_reply(pipe: Any, prompt: str, tokens: int) -> tuple[float, int, str]:
    measure.wait_for_quiet_threads()
    started = time.perf_counter()
    out = pipe([{"role": "user", "content": prompt}], max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
    return time.perf_counter() - started, tokens, out[0]["generated_text"][-1]["content"]


def speed(settings: Settings, rounds: int = 3, new_tokens: int = 64) -> dict[str, Any]:
    """tokens/s at batch 1, alternating: the pipeline in bfloat16 (the target) and float32 (the
    other plain choice on a CPU without bfloat16 units), and ours in bfloat16 and int8, each
    through the compact decode loop (what the chat page runs) and through ``generate`` (so the
    loop's share and the dtype's share show apart); and on llama.cpp where it is installed."""
    import dataclasses

    import torch
    from transformers import pipeline

    from backend.models.loader import load_model

    folder = _folder(settings)
    bf16 = _load("bfloat16", settings)
    int8 = _load("int8", settings)
    bf16_generate = dataclasses.replace(bf16, decoder=None)
    int8_generate = dataclasses.replace(int8, decoder=None)
    pipes = {dtype: pipeline("text-generation", model=str(folder), dtype=dtype, device="cpu")
             for dtype in (torch.bfloat16, torch.float32)}  # fmt: skip
    counts = {}
    for prompt in PROMPTS:  # warm-up, and the token count each prompt gets on every path
        _, counts[prompt], _ = _ours(bf16, prompt, new_tokens)
        _ours(int8, prompt, 4)
        _ours(int8_generate, prompt, 4)
        _ours(bf16_generate, prompt, 4)
        for pipe in pipes.values():
            _pipeline_reply(pipe, prompt, 4)
    paths = {
        "pipeline bfloat16": lambda prompt, n: _pipeline_reply(pipes[torch.bfloat16], prompt, n),
        "pipeline float32": lambda prompt, n: _pipeline_reply(pipes[torch.float32], prompt, n),
        "ours bfloat16, generate": lambda prompt, n: _ours(bf16_generate, prompt, n),
        "ours bfloat16 (compact loop)": lambda prompt, n: _ours(bf16, prompt, n),
        "ours int8, generate": lambda prompt, n: _ours(int8_generate, prompt, n),
        "ours int8 (compact loop)": lambda prompt, n: _ours(int8, prompt, n),
    }
    if engine_choice.available(engine_choice.LLAMA_CPP):
        on_llama_cpp = load_model(
            "text-generation", HUB_ID, dataclasses.replace(settings, cpu_engine="text-generation=llama.cpp")
        )
        assert on_llama_cpp.engine == engine_choice.LLAMA_CPP, "llama.cpp did not take the model"
        for prompt in PROMPTS:
            _ours(on_llama_cpp, prompt, 4)
        paths["ours llama.cpp, 8-bit blocks"] = lambda prompt, n: _ours(on_llama_cpp, prompt, n)
    seconds: dict[str, float] = dict.fromkeys(paths, 0.0)
    tokens: dict[str, int] = dict.fromkeys(paths, 0)
    for _ in range(rounds):
        for prompt in PROMPTS:
            for path, call in paths.items():
                took, made, _ = call(prompt, counts[prompt])
                seconds[path] += took
                tokens[path] += made
    rates = {path: round(tokens[path] / seconds[path], 2) for path in seconds}
    base = rates["pipeline bfloat16"]
    return {
        "tokens_per_second": rates,
        "over_pipeline": {path: round(rate / base, 3) for path, rate in rates.items()},
        "tokens": tokens,
        "rounds": rounds,
        "prompts": len(PROMPTS),
        "torch_threads": torch.get_num_threads(),
    }


def run(
    settings: Settings,
    page: bool = True,
    app_root: Path | None = None,
    loads: bool = True,
    quick: bool = False,
    speed_rows: bool = True,
    pin: bool = True,
) -> dict[str, Any]:
    """Every chat row: (``loads``) load peaks, speed, and (``page``) the browser against the backend.
    ``quick``: fewer rounds and tokens, for a busy machine."""
    if _folder(settings) is None:
        return {"skipped": f"{HUB_ID} is not unpacked in the models folder (python -m backend.models unpack)"}
    result: dict[str, Any] = {"load_average_start": measure.load_average()}
    result["load_peaks"] = _load_peaks(settings) if loads else []
    if speed_rows:
        result["speed"] = speed(settings, rounds=2, new_tokens=32) if quick else speed(settings)
        print(json.dumps(result["speed"]), file=sys.stderr, flush=True)
    if page:
        from benchmarks import page_speed

        loaded = _load("bfloat16", settings)
        sizes = {"rounds": 2, "max_new_tokens": 48} if quick else {}
        result["page"] = page_speed.measure(app_root or PROJECT_ROOT, loaded, settings, pin=pin, **sizes)
    result["load_average_end"] = measure.load_average()
    return result


def render(result: dict[str, Any]) -> str:
    """Markdown tables for RESULTS.md."""
    if "skipped" in result:
        return f"Chat on real weights: skipped ({result['skipped']})."
    lines = [f"load average {result['load_average_start']} → {result['load_average_end']}", ""]
    speed_rows = result.get("speed", {"tokens_per_second": {}})
    lines += ["| path | tokens/s | ×pipeline bfloat16 |", "|---|---|---|"]
    for path, rate in speed_rows["tokens_per_second"].items():
        lines.append(f"| {path} | {rate} | ×{speed_rows['over_pipeline'][path]} |")
    lines += ["", *_load_table(result["load_peaks"])]
    if "page" in result:
        page = result["page"]
        lines += ["", f"page: browser {page['browser_tokens_per_second']} tokens/s, backend "
                  f"{page['backend_tokens_per_second']} tokens/s, ratio {page['browser_over_backend']}, "
                  f"same text {page['same_text']}",
                  f"after the first chunk: app {page['decode_app_tokens_per_second']} tokens/s, backend "
                  f"{page['decode_backend_tokens_per_second']} tokens/s (×{page['app_over_backend_decode']}), "
                  f"browser / app "
                  f"{page['browser_over_app_decode']}; browser CPUs {page['pinning']['browser_cpus']}, "
                  f"app CPUs {page['pinning']['app_cpus']}"]  # fmt: skip
    return "\n".join(lines)


def _load_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| load | added peak RSS MB | weights MB | peak/weights | less one tokenizer (MB) | s |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['mode']} | failed: {row['error'][-120:]!r} | | | | |")
        else:
            lines.append(f"| {row['mode']} | {row['added_peak_mb']} | {row['weights_mb']} | ×{row['peak_over_weights']} "
                         f"| ×{row['without_tokenizer']} ({row['tokenizer_mb']}) | {row['load_seconds']} |")  # fmt: skip
    return lines


def main(argv: list[str]) -> int:
    """``load MODE [HUB_ID]`` (one load peak, JSON on stdout); ``loads --chat-default`` (the load
    peaks of the catalogue's default chat model, its real-architecture stand-in where its weights
    are not here); or ``run [--quick] [--no-page] [--no-loads] [--no-speed] [--no-pin] [--app-root DIR]``."""
    from backend.config import get_settings

    settings = get_settings()
    if argv[:1] == ["load"]:
        print(json.dumps(load_peak(argv[1], settings, *argv[2:3])))
        return 0
    if argv[:1] == ["loads"]:
        from backend.models.resolve import catalogue
        from benchmarks.standins import prepare_model

        bench = prepare_model(catalogue.TEXT_GENERATION, settings, quick=False)
        rows = _load_peaks(bench.settings, bench.hub_id)
        print(json.dumps(rows, indent=1))
        print(f"{bench.hub_id} ({bench.weights}), load average {measure.load_average()}")
        print("\n".join(_load_table(rows)))
        return 0
    app_root = Path(argv[argv.index("--app-root") + 1]) if "--app-root" in argv else None
    result = run(
        settings,
        page="--no-page" not in argv,
        app_root=app_root,
        loads="--no-loads" not in argv,
        quick="--quick" in argv,
        speed_rows="--no-speed" not in argv,
        pin="--no-pin" not in argv,
    )
    print(json.dumps(result, indent=1))
    print(render(result))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main(sys.argv[1:]))
