"""Checking a model's faster paths on this machine: each one runs the app's own request functions
on a fixed set of inputs, is compared with torch float32, and is timed; the decision goes to the
state folder (``backend.models.resolve.engine_record``), where the ``auto`` engine setting reads it.

Every path, torch float32 included, runs in a child process of its own (a fresh interpreter:
no state inherited), one after another, with the same inputs and the same thread count: an engine that
crashes (a segfault in llama.cpp, an abort in ONNX Runtime) ends only its child, and the crash is
recorded as that path's reason. What counts as agreeing, per task (the bounds RESULTS.md measures):

- classifiers (sentiment, images): every label's probability within ``SCORE_TOLERANCE`` of
  float32's, and the same label on every input where float32's top two scores are more than
  ``SCORE_TOLERANCE`` apart (nearer than that, a difference the tolerance allows can flip the
  label: such near-ties are counted and named in the agreement line, not failed);
- translation: the same greedy output on every input;
- chat: teacher-forced on float32's greedy replies, the same next token at ``CHAT_AGREEMENT`` of
  the positions at least, and the reference token's log-probability within ``CHAT_LOGPROB_TOLERANCE``
  (mean absolute difference, in nats).

Speed is the median time of one request (a text, an image, a sentence), or of one generated token
for chat, after two warm-up requests; the speedup is float32's time over the path's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from backend.config import PROJECT_ROOT, Settings, get_settings, to_environment
from backend.errors import ShowcaseError
from backend.i18n import _, ngettext
from backend.jobs.progress import JobCancelled
from backend.models.engines import support
from backend.models.resolve import catalogue, engine_choice, engine_record
from backend.models.resolve.engine_record import CandidatePath, EngineDecision, PathResult
from backend.models.resolve.plan import plan_load

SCORE_TOLERANCE = 0.02
CHAT_AGREEMENT = 0.90
CHAT_LOGPROB_TOLERANCE = 0.25
CHAT_REPLY_TOKENS = 24
CHILD_TIMEOUT_S = 900
WARM_UP = 2

_SUBJECTS = ("The film", "This phone", "Our hotel", "The service", "Her new book", "The update", "That meal",
             "The support team")  # fmt: skip
_VERDICTS = ("was wonderful and I loved it.", "was a complete waste of money.", "felt fine, nothing special.",
             "broke after two days, very disappointing.", "exceeded every expectation we had.",
             "was slow, rude and overpriced.", "is exactly what I needed today.",
             "left me confused but somewhat hopeful.")  # fmt: skip
# 64 short texts, positive, negative and in between: a classifier's labels and scores on each.
TEXTS = tuple(f"{subject} {verdict}" for subject in _SUBJECTS for verdict in _VERDICTS)
SENTENCES = (
    "The meeting has been moved to Thursday afternoon.",
    "Please send me the report before the end of the week.",
    "The weather is expected to improve tomorrow.",
    "We are happy to announce the opening of our new office.",
    "How long does the delivery usually take?",
    "The museum is closed on Mondays.",
    "Thank you for your help with the project.",
    "Prices rose sharply in the second quarter.",
    "She has lived in this city for ten years.",
    "The train to the airport leaves every fifteen minutes.",
    "Our team won the regional championship.",
    "Could you explain how this machine works?",
    "The new policy takes effect next month.",
    "I would like to book a table for two.",
    "The results of the study will be published soon.",
    "Children learn languages faster than adults.",
)
PROMPTS = (
    "Explain in two sentences what a language model is.",
    "Write a short, polite e-mail asking a supplier to confirm a delivery date.",
    "List three uses of a small language model on a laptop.",
    "What is the capital of France?",
    "Give me a tip for learning to cook.",
    "Describe the colour blue to someone who cannot see.",
)
IMAGE_COUNT = 16


@dataclass(frozen=True)
class PathOutcome:
    """What one path's child sent back, or why it sent nothing."""

    path: CandidatePath
    failure: str = ""
    measured: dict[str, Any] | None = None


def inputs_for(task: str) -> int:
    """How many fixed inputs ``task``'s check uses."""
    return {catalogue.TRANSLATION: len(SENTENCES), catalogue.TEXT_GENERATION: len(PROMPTS),
            catalogue.IMAGE_CLASSIFICATION: IMAGE_COUNT}.get(task, len(TEXTS))  # fmt: skip


def _images() -> list[Any]:
    """Fixed test images: seeded noise over a gradient, so each differs and none is blank."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 96)[None, :, None]
    return [
        Image.fromarray(np.clip(ramp * (i % 4) / 3 + rng.normal(128, 40, (96, 96, 3)), 0, 255).astype("uint8"))
        for i in range(IMAGE_COUNT)
    ]


def path_settings(path: CandidatePath, task: str, settings: Settings) -> Settings:
    """``settings`` forcing ``path``: its engine, dtype and int8, on the CPU."""
    engine = f"{task}={path.engine}" if path.engine != engine_choice.TORCH else engine_choice.TORCH
    return replace(
        settings,
        device="cpu",
        cpu_engine=engine,
        cpu_bfloat16="on" if path.dtype == "bfloat16" else "off",
        cpu_quantize="int8" if path.int8 else "none",
    )


# --- in the child ------------------------------------------------------------------------------


def _peak_kb(pid: int | str = "self") -> int:
    try:
        for line in open(f"/proc/{pid}/status", encoding="ascii"):  # noqa: SIM115 - one short read
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _timed(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[float]]:
    for call in calls[:WARM_UP]:
        call()
    outputs, seconds = [], []
    for call in calls:
        started = time.perf_counter()
        outputs.append(call())
        seconds.append(time.perf_counter() - started)
    return outputs, seconds


def _classify_texts(loaded: Any) -> dict[str, Any]:
    from backend.inference import sentiment

    calls = [lambda text=text: sentiment.classify(loaded, [text], batch_size=1)[0].scores for text in TEXTS]
    outputs, seconds = _timed(calls)
    return {"outputs": outputs, "seconds": seconds}


def _classify_images(loaded: Any) -> dict[str, Any]:
    from backend.inference import image_classification

    def scores(image: Any) -> dict[str, float]:
        [prediction] = image_classification.classify_images(loaded, [image], ["image"], batch_size=1)
        return {item.label: item.score for item in prediction.top}

    outputs, seconds = _timed([lambda image=image: scores(image) for image in _images()])
    return {"outputs": outputs, "seconds": seconds}


def _translate(loaded: Any) -> dict[str, Any]:
    from backend.inference import translation

    calls = [
        lambda s=s: translation.translate(loaded, [s], num_beams=1, batch_size=1)[0].translation for s in SENTENCES
    ]
    outputs, seconds = _timed(calls)
    return {"outputs": outputs, "seconds": seconds}


def _scores(loaded: Any, ids: torch.Tensor) -> torch.Tensor:
    """Log-probabilities (n x vocabulary) at every position of ``ids`` (1 x n), as this path computes them."""
    with torch.inference_mode():
        logits = loaded.decoder.score(ids) if loaded.decoder is not None else loaded.model(input_ids=ids).logits[0]
    return torch.log_softmax(logits.float(), dim=-1)


def _chat(loaded: Any, reference: list[list[int]] | None, prompt_lengths: list[int] | None) -> dict[str, Any]:
    from backend.inference import text_generation
    from backend.inference.chat_prompt import ChatMessage, prepare_prompt

    greedy = text_generation.GenerationOptions(temperature=0.0, top_p=1.0, max_new_tokens=CHAT_REPLY_TOKENS)
    measured: dict[str, Any] = {}
    if reference is None:  # the float32 child: its greedy replies are what every path is scored on
        reference, prompt_lengths = [], []
        for prompt in PROMPTS:
            prepared = prepare_prompt(loaded, [ChatMessage("user", prompt)], CHAT_REPLY_TOKENS)
            config = text_generation.generation_config(loaded, greedy, CHAT_REPLY_TOKENS)
            with torch.inference_mode():
                if loaded.decoder is not None:
                    ids = loaded.decoder.generate(prepared.input_ids, config)
                else:
                    ids = loaded.model.generate(prepared.input_ids, generation_config=config)
            reference.append(ids[0].tolist())
            prompt_lengths.append(int(prepared.input_ids.shape[-1]))
        measured.update(sequences=reference, prompt_lengths=prompt_lengths)
    chosen, argmax = [], []
    for sequence, start in zip(reference, prompt_lengths or [], strict=True):
        scores = _scores(loaded, torch.tensor([sequence]))[start - 1 : len(sequence) - 1]
        targets = torch.tensor(sequence[start:])
        chosen.append(scores.gather(1, targets[:, None])[:, 0].tolist())
        argmax.append(scores.argmax(dim=-1).tolist())
    replies = [text_generation.stream_reply(loaded, [ChatMessage("user", p)], greedy) for p in PROMPTS[:3]]
    seconds = []
    for stream in replies:
        for _piece in stream:
            pass
        result = stream.result
        seconds.append(result.seconds / max(1, result.new_tokens) if result else 0.0)
    measured.update(logprobs=chosen, argmax=argmax, seconds=seconds)
    return measured


def labelled_outputs(task: str, loaded: Any, inputs: list[str]) -> list[str]:
    """What the model answers to a user's labelled inputs (the compression lab's accuracy): a
    classifier's label per text or per image (``inputs`` are then the images' paths), or a
    translator's greedy translation per sentence."""
    if task == catalogue.IMAGE_CLASSIFICATION:
        from backend import uploads
        from backend.inference import image_classification

        labels = []
        chunk = image_classification.MAX_IMAGES
        # A chunk at a time, as the Compare view classifies them: never every decoded image at once.
        for start in range(0, len(inputs), chunk):
            paths = [Path(path) for path in inputs[start : start + chunk]]
            images = [
                uploads.open_image(path.read_bytes(), path.name, max_side=uploads.MODEL_IMAGE_SIDE) for path in paths
            ]
            found = image_classification.classify_images(loaded, images, [path.name for path in paths])
            labels += [item.label for item in found]
        return labels
    if task == catalogue.TRANSLATION:
        from backend.inference import translation

        return [item.translation for item in translation.translate(loaded, inputs)]
    from backend.inference import sentiment

    return [item.label for item in sentiment.classify(loaded, inputs)]


def measure_path(
    task: str,
    model_ref: str,
    path: CandidatePath,
    settings: Settings,
    reference: dict | None,
    labelled: list[str] | None = None,
) -> dict:
    """Load ``model_ref`` on ``path`` and run the fixed inputs through the app's request functions:
    outputs, per-request seconds, load peak and weight memory; with ``labelled`` inputs, its answers
    to them too (``labelled_outputs``). Runs in the path's child process.

    Raises:
        ShowcaseError: the path does not apply to this model, or it could not load it.
    """
    from backend.models.loader import load_from_plan

    forced = path_settings(path, task, settings)
    plan = plan_load(task, model_ref, forced)
    if (plan.engine, plan.dtype, plan.int8) != (path.engine, path.dtype, path.int8):
        raise ShowcaseError(_("This path does not apply to this model."))
    if path.gguf_type:  # the engine's other GGUF copy, as a variant reference loads it
        plan = replace(plan, variant=path.name)
    before = _peak_kb()
    loaded = load_from_plan(plan, forced, fall_back=False)
    # An engine's model lives in its own process (engine_process): its peak counts too.
    engine_pid = getattr(getattr(loaded.model, "process", None), "pid", None)
    engine_kb = _peak_kb(engine_pid) if engine_pid else 0
    measured: dict[str, Any] = {"load_peak_mb": (max(0, _peak_kb() - before) + engine_kb) / 1024,
                                "memory_mb": loaded.memory_bytes / 2**20}  # fmt: skip
    if task == catalogue.TEXT_GENERATION:
        reference = reference or {}
        measured.update(_chat(loaded, reference.get("sequences"), reference.get("prompt_lengths")))
    elif task == catalogue.TRANSLATION:
        measured.update(_translate(loaded))
    elif task == catalogue.IMAGE_CLASSIFICATION:
        measured.update(_classify_images(loaded))
    else:
        measured.update(_classify_texts(loaded))
    if labelled:
        measured["labelled_outputs"] = labelled_outputs(task, loaded, labelled)
    return measured


def _child_main(job_file: Path) -> int:
    """The child's side: read the job, measure, write the figures or the failure beside it."""
    job = json.loads(job_file.read_text(encoding="utf-8"))
    torch.set_num_threads(job["threads"])
    path = engine_record.PATHS[job["path"]]
    try:
        measured = measure_path(job["task"], job["model"], path, get_settings(), job["reference"], job.get("labelled"))
        answer = ["ok", measured]
    except ShowcaseError as error:
        cause = f" ({type(error.__cause__).__name__}: {str(error.__cause__)[:200]})" if error.__cause__ else ""
        answer = ["failed", f"{error.message}{cause}"]
    except Exception as error:  # noqa: BLE001 - any failure of the path is its recorded reason
        answer = ["failed", f"{type(error).__name__}: {str(error)[:300]}"]
    job_file.with_suffix(".out").write_text(json.dumps(answer), encoding="utf-8")
    return 0


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return str(code)


def run_isolated(task: str, model_ref: str, path: CandidatePath, settings: Settings, reference: Any = None,
                 on_start: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 labelled: list[str] | None = None) -> PathOutcome:  # fmt: skip
    """``measure_path`` in a child process of its own (``python -m backend.inference.path_check``,
    the settings in its environment, JSON both ways): its figures, or why there are none (it
    failed, crashed, or ran past ``CHILD_TIMEOUT_S``). ``on_start`` gets the child's process id.
    A path whose engine cannot run the model's architecture starts no child: its reason is the outcome."""
    if path.engine != engine_choice.TORCH:
        folder = plan_load(task, model_ref, settings).folder
        refused = support.refusal(path.engine, folder) if folder is not None else ""
        if refused:
            return PathOutcome(path, refused)
    with tempfile.TemporaryDirectory(prefix="lsm-path-check-") as folder:
        job_file = Path(folder) / "job.json"
        job = {"task": task, "model": model_ref, "path": path.name, "reference": reference,
               "threads": max(1, torch.get_num_threads()), "labelled": labelled}  # fmt: skip
        job_file.write_text(json.dumps(job), encoding="utf-8")
        environment = {**os.environ, **to_environment(settings)}
        child = subprocess.Popen(  # noqa: S603 - our own module, our own interpreter
            [sys.executable, "-m", "backend.inference.path_check", str(job_file)],
            cwd=PROJECT_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if on_start is not None:
            on_start(child.pid)
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        try:
            while child.poll() is None:
                if should_stop is not None and should_stop():
                    raise JobCancelled(_("The check was cancelled."))
                if time.monotonic() > deadline:
                    return PathOutcome(path, _("gave no answer within {seconds} s").format(seconds=CHILD_TIMEOUT_S))
                time.sleep(0.2)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            errors = child.stderr.read().decode(errors="replace") if child.stderr else ""
            if child.stderr:
                child.stderr.close()
        answer_file = job_file.with_suffix(".out")
        if child.returncode != 0 or not answer_file.is_file():
            code = child.returncode or 0
            if code < 0:
                return PathOutcome(path, _("crashed ({signal})").format(signal=_signal_name(code)))
            last = errors.strip().splitlines()[-1:] or [""]
            return PathOutcome(
                path, _("its process ended with code {code}: {line}").format(code=code, line=last[0][:300])
            )
        status, value = json.loads(answer_file.read_text(encoding="utf-8"))
        return PathOutcome(path, measured=value) if status == "ok" else PathOutcome(path, str(value))


# --- comparing with float32 --------------------------------------------------------------------


def _margin(scores: dict[str, float]) -> float:
    """How far float32's best label is ahead of the next one."""
    top = sorted(scores.values(), reverse=True)
    return top[0] - top[1] if len(top) > 1 else 1.0


def _compare_scores(reference: list[dict[str, float]], candidate: list[dict[str, float]]) -> tuple[str, dict]:
    differing = [a for a, b in zip(reference, candidate, strict=True) if max(a, key=a.get) != max(b, key=b.get)]
    # A label that changes where float32's top two scores are within the tolerance of each other is
    # a near-tie, not a disagreement: a score difference the tolerance allows can flip it.
    decided = [scores for scores in differing if _margin(scores) > SCORE_TOLERANCE]
    gap = max(abs(a[label] - b.get(label, 0.0)) for a, b in zip(reference, candidate, strict=True) for label in a)
    figures = {"labels_differing": float(len(differing)), "labels_differing_decided": float(len(decided)),
               "max_score_difference": gap}  # fmt: skip
    if decided:
        count = len(reference)
        return ngettext(
            "labels differ on {n} of {count} input where float32's top two scores are more than {tolerance} apart",
            "labels differ on {n} of {count} inputs where float32's top two scores are more than {tolerance} apart",
            count,
        ).format(n=len(decided), count=count, tolerance=SCORE_TOLERANCE), figures
    if gap > SCORE_TOLERANCE:
        return _("scores differ by up to {gap:.3f} (tolerance {tolerance})").format(
            gap=gap, tolerance=SCORE_TOLERANCE
        ), figures
    return "", figures


def _compare_texts(reference: list[str], candidate: list[str]) -> tuple[str, dict]:
    differing = sum(a != b for a, b in zip(reference, candidate, strict=True))
    figures = {"outputs_differing": float(differing)}
    if differing:
        return _("greedy outputs differ on {n} of {count} inputs").format(n=differing, count=len(reference)), figures
    return "", figures


def _compare_chat(reference: dict, candidate: dict) -> tuple[str, dict]:
    sequences, starts = reference["sequences"], reference["prompt_lengths"]
    targets = [token for sequence, start in zip(sequences, starts, strict=True) for token in sequence[start:]]
    chosen = [token for row in candidate["argmax"] for token in row]
    agreement = sum(a == b for a, b in zip(targets, chosen, strict=True)) / max(1, len(targets))
    own = [value for row in reference["logprobs"] for value in row]
    theirs = [value for row in candidate["logprobs"] for value in row]
    gap = statistics.fmean(abs(a - b) for a, b in zip(own, theirs, strict=True)) if own else 0.0
    figures = {"next_token_agreement": agreement, "mean_logprob_difference": gap, "positions": float(len(targets))}
    if agreement < CHAT_AGREEMENT:
        return _("the same next token at {share:.1%} of positions (at least {bound:.0%} needed)").format(
            share=agreement, bound=CHAT_AGREEMENT
        ), figures
    if gap > CHAT_LOGPROB_TOLERANCE:
        return _("log-probabilities differ by {gap:.3f} on average (tolerance {tolerance})").format(
            gap=gap, tolerance=CHAT_LOGPROB_TOLERANCE
        ), figures
    return "", figures


def agreement_words(task: str, figures: dict[str, float]) -> str:
    """What a passing path agreed on, in words (the footer's end)."""
    count = inputs_for(task)
    if task == catalogue.TRANSLATION:
        return ngettext("greedy outputs equal on {n} input", "greedy outputs equal on {n} inputs", count).format(
            n=count
        )
    if task == catalogue.TEXT_GENERATION:
        return _("the same next token at {share:.1%} of {n} positions").format(
            share=figures.get("next_token_agreement", 0.0), n=int(figures.get("positions", 0))
        )
    near_ties = int(figures.get("labels_differing", 0))
    if near_ties:
        return _(
            "labels equal on {same} of {count} inputs, the other {n} near a tie in float32 (top two scores within"
            " {tolerance}); scores within {tolerance}"
        ).format(same=count - near_ties, count=count, n=near_ties, tolerance=SCORE_TOLERANCE)
    return ngettext("labels equal on {n} input", "labels equal on {n} inputs", count).format(n=count)


def compare(task: str, reference: dict, candidate: dict) -> tuple[str, dict]:
    """Why ``candidate`` disagrees with the float32 ``reference`` ("" when it agrees), and the figures."""
    if task == catalogue.TEXT_GENERATION:
        return _compare_chat(reference, candidate)
    if task == catalogue.TRANSLATION:
        return _compare_texts(reference["outputs"], candidate["outputs"])
    return _compare_scores(reference["outputs"], candidate["outputs"])


# --- the check ---------------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]


def applicable_paths(
    task: str, candidates: dict[str, tuple[CandidatePath, ...]] | None = None
) -> tuple[CandidatePath, ...]:
    """``task``'s candidate paths (of ``candidates``, by default the engine check's) whose engine is
    installed here (float32, the reference, first)."""
    return tuple(
        path
        for path in (candidates or engine_record.TASK_PATHS).get(task, ())
        if path.engine == engine_choice.TORCH or engine_choice.available(path.engine)
    )


def path_result(task: str, outcome: PathOutcome, reference: dict, reference_seconds: float) -> PathResult:
    if outcome.measured is None:
        return PathResult(outcome.path.name, False, outcome.failure)
    seconds = statistics.median(outcome.measured["seconds"]) if outcome.measured["seconds"] else 0.0
    reason, figures = compare(task, reference, outcome.measured)
    figures = {**figures, "load_peak_mb": round(outcome.measured["load_peak_mb"], 3),
               "memory_mb": round(outcome.measured["memory_mb"], 3)}  # fmt: skip
    return PathResult(
        path=outcome.path.name,
        passed=not reason,
        reason=reason,
        seconds_per_item=seconds,
        speedup=round(reference_seconds / seconds, 2) if seconds else 0.0,
        agreement="" if reason else agreement_words(task, figures),
        figures={name: round(value, 6) for name, value in figures.items()},
    )


def check_model(
    task: str,
    model_ref: str,
    settings: Settings | None = None,
    paths: tuple[CandidatePath, ...] | None = None,
    progress: Progress | None = None,
    on_start: Callable[[str, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EngineDecision:
    """Check every candidate path of ``model_ref`` for ``task`` against torch float32 on this
    machine, and record the decision (loads under ``auto`` take its fastest passing path).

    Args:
        task: a task with candidate paths (``engine_record.TASK_PATHS``).
        model_ref: the model, as a demo names it; it must be a folder on this machine.
        settings: where the state folder is (default: the process settings).
        paths: the candidates (default: every applicable one); float32 always runs first.
        progress: ``(done, total, path label)`` before each path.
        on_start: ``(path name, child process id)`` when a path's child starts.
        should_stop: polled while a child runs; True ends the check (``JobCancelled``).

    Raises:
        ShowcaseError: the model has no folder here, or float32 itself failed (nothing is recorded).
        JobCancelled: ``should_stop`` said so; nothing is recorded.
    """
    settings = settings or get_settings()
    plan = plan_load(task, model_ref, settings)
    if plan.folder is None or task not in engine_record.TASK_PATHS:
        raise ShowcaseError(_("Only a downloaded model of a CPU demo can be checked."))

    def before_each(done: int, total: int, path: CandidatePath) -> None:
        if progress is not None:
            progress(done, total, _(path.label))

    outcomes, reference, reference_seconds = measure_against_float32(
        task, model_ref, paths or applicable_paths(task), settings, before_each, on_start, should_stop
    )
    results = [path_result(task, outcome, reference, reference_seconds) for outcome in outcomes]
    decision = EngineDecision(
        task=task,
        model=model_ref,
        chosen="",
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=engine_record.machine(),
        inputs=inputs_for(task),
        results=results,
    )
    decision.chosen = decision.fastest_passing()
    engine_record.write_decision(decision, plan.folder, settings)
    if progress is not None:
        progress(len(outcomes), len(outcomes), "")
    return decision


def measure_against_float32(
    task: str,
    model_ref: str,
    paths: Iterable[CandidatePath],
    settings: Settings,
    before_each: Callable[[int, int, CandidatePath], None],
    on_start: Callable[[str, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    labelled: list[str] | None = None,
) -> tuple[list[PathOutcome], dict, float]:
    """Run torch float32 (the reference every other path is compared with), then each other of
    ``paths``, each in its own process, calling ``before_each(done, total, path)`` before each: the
    engine check and the compression lab alike (the lab's ``labelled`` inputs go to every path). Returns the outcomes (float32's first), the
    reference's measurements and its median seconds.

    Raises:
        ShowcaseError: float32 itself failed.
        JobCancelled: ``should_stop`` said so.
    """
    ordered = [engine_record.TORCH_FLOAT32, *[path for path in paths if path != engine_record.TORCH_FLOAT32]]
    outcomes: list[PathOutcome] = []
    reference: dict | None = None
    for done, path in enumerate(ordered):
        before_each(done, len(ordered), path)
        started = (lambda pid, name=path.name: on_start(name, pid)) if on_start else None
        outcome = run_isolated(task, model_ref, path, settings, reference, started, should_stop, labelled)
        if reference is None:
            if outcome.measured is None:
                raise ShowcaseError(
                    _("The model did not run in torch float32: {reason}").format(reason=outcome.failure)
                )
            reference = outcome.measured
        outcomes.append(outcome)
    return outcomes, reference, statistics.median(reference["seconds"])


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
