"""Other CPU engines (ONNX Runtime, CTranslate2): chosen by setting, exported once beside the
model, giving torch float32's answers on a fixed set of inputs, and run in a process of their own
whose crash or hang the request survives (answered in torch)."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from backend.config import PROJECT_ROOT
from backend.inference import sentiment, translation
from backend.models.engines import engine_process, engine_server, runtimes
from backend.models.fetch import packaged
from backend.models.loader import load_model
from backend.models.resolve import catalogue, engine_choice
from backend.models.resolve.plan import plan_load
from backend.models.status import engine_rows
from tests.support import tiny_models
from tests.support.packaged import require_packaged
from tests.support.processes import wait_gone

TEXTS = [
    "I love this product, it works great.",
    "This is the worst service I have ever had.",
    "我非常喜欢这个产品，效果很好。",
    "Fraud detection in card payments uses machine learning, and so does credit scoring at most banks.",
    "ok",
]
# Scores from float32 torch and float32 ONNX Runtime differ only by summation order.
SCORE_TOLERANCE = 1e-4


def _torch(settings):
    return dataclasses.replace(settings, cpu_bfloat16="off", cpu_engine="")


def _engine(settings, choice):
    return dataclasses.replace(settings, cpu_engine=choice)


@pytest.fixture(scope="module")
def opus_translator(settings) -> Path:
    folder = settings.models_dir / "engines" / "opus-layout-translator"
    if not (folder / "config.json").is_file():
        tiny_models.build_opus_layout_translator(folder)
    return folder


@pytest.fixture(scope="module")
def own_sentiment(tiny_model_paths, settings) -> str:
    """A copy of the suite's tiny sentiment model: the export writes into the model's folder, and
    the shared one is also served by the local test hub, which must list only the model's files."""
    folder = settings.models_dir / "engines" / "sentiment-copy"
    if not (folder / "config.json").is_file():
        shutil.copytree(tiny_model_paths[catalogue.SENTIMENT], folder)
    return str(folder)


def test_the_setting_names_an_engine_per_task():
    assert engine_choice.requested_engines("sentiment=onnx, translation=ctranslate2") == {
        "sentiment": "onnx",
        "translation": "ctranslate2",
    }
    assert engine_choice.requested_engines("onnx") == {"sentiment": "onnx"}
    # An engine for a task it does not serve, or an unknown word, leaves torch.
    assert engine_choice.requested_engines("translation=onnx,sentiment=tensorrt,banana") == {}


def test_plans_use_the_engine_on_cpu_only_for_local_folders(own_sentiment, settings):
    chosen = _engine(settings, "sentiment=onnx")
    plan = plan_load(catalogue.SENTIMENT, own_sentiment, chosen)
    assert (plan.engine, plan.dtype, plan.int8) == ("onnx", "float32", False)
    assert plan.to_dict()["engine"] == "onnx"
    assert plan_load(catalogue.SENTIMENT, "acme/not-downloaded", chosen).engine == "torch"
    assert plan_load(catalogue.SENTIMENT, own_sentiment, settings).engine == "torch"


def test_onnx_sentiment_gives_torch_float32_scores(own_sentiment, settings):
    reference = load_model(catalogue.SENTIMENT, own_sentiment, _torch(settings))
    onnx = load_model(catalogue.SENTIMENT, own_sentiment, _engine(settings, "sentiment=onnx"))
    assert onnx.engine == "onnx" and onnx.memory_bytes > 0
    for batch_size in (1, 4):
        for ours, theirs in zip(
            sentiment.classify(onnx, TEXTS, batch_size), sentiment.classify(reference, TEXTS, batch_size), strict=True
        ):
            assert ours.label == theirs.label
            assert ours.tokens == theirs.tokens and ours.truncated == theirs.truncated
            assert max(abs(ours.scores[k] - theirs.scores[k]) for k in theirs.scores) < SCORE_TOLERANCE
    assert sentiment.classify_text(onnx, TEXTS[0]).footer.items == 1


def test_onnx_int8_is_a_quantised_copy_of_its_own_within_the_checks_tolerance(settings, tmp_path):
    """``cpu_quantize=int8`` with ONNX Runtime: its dynamic int8 copy (MatMul weights int8, made by
    ONNX Runtime's quantiser in a child process) beside the float32 one, served by a process of its
    own, with scores within the engine check's tolerance of float32's (int8 is what the check
    compares, so its bound is the check's, not float32's)."""
    import onnx

    from backend.inference import path_check

    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = dataclasses.replace(_engine(_torch(settings), "sentiment=onnx"), models_dir=tmp_path, cpu_quantize="int8")
    plan = plan_load(catalogue.SENTIMENT, str(folder), chosen)
    assert (plan.engine, plan.dtype, plan.int8) == ("onnx", "float32", True)
    int8 = load_model(catalogue.SENTIMENT, str(folder), chosen)
    plain = load_model(catalogue.SENTIMENT, str(folder), dataclasses.replace(chosen, cpu_quantize="none"))
    copies = sorted(p.name for p in (folder / runtimes.CACHE_FOLDER).iterdir())
    assert [name.split("-")[0] for name in copies] == ["onnx", "onnx.int8"], copies
    graph = onnx.load(str(folder / runtimes.CACHE_FOLDER / copies[1] / "model.onnx"))
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {node.op_type for node in graph.graph.node}
    assert int8.model.process is not plain.model.process and int8.model.process.pid != plain.model.process.pid
    for ours, theirs in zip(sentiment.classify(int8, TEXTS), sentiment.classify(plain, TEXTS), strict=True):
        assert max(abs(ours.scores[k] - theirs.scores[k]) for k in theirs.scores) <= path_check.SCORE_TOLERANCE


def test_ctranslate2_greedy_translations_equal_torch_float32(opus_translator, settings):
    reference = load_model(catalogue.TRANSLATION, str(opus_translator), _torch(settings))
    ct2 = load_model(catalogue.TRANSLATION, str(opus_translator), _engine(settings, "translation=ctranslate2"))
    assert ct2.engine == "ctranslate2"
    for batch_size in (1, 3):
        ours = translation.translate(ct2, TEXTS, batch_size=batch_size)
        theirs = translation.translate(reference, TEXTS, batch_size=batch_size)
        assert [t.translation for t in ours] == [t.translation for t in theirs]
        assert [t.output_tokens for t in ours] == [t.output_tokens for t in theirs]
    # Beam search runs (CTranslate2's own beam search: not checked for equality).
    assert translation.translate_text(ct2, TEXTS[0], "en", "zh", num_beams=3).num_beams == 3


def test_a_model_the_engine_cannot_convert_runs_in_torch(tiny_model_paths, settings, caplog):
    # The suite's tiny translator keeps "<pad>" first, not last as OPUS-MT does: CTranslate2's
    # converter refuses it, and the demo must still answer.
    ref = tiny_model_paths[catalogue.TRANSLATION]
    loaded = load_model(catalogue.TRANSLATION, ref, _engine(settings, "translation=ctranslate2"))
    assert loaded.engine == "torch"
    assert translation.translate(loaded, TEXTS[:2])[0].output_tokens > 0
    assert "loading it in torch" in caplog.text


def test_the_export_is_made_once_and_again_when_the_weights_change(settings, tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    made = (copy / "model.onnx").stat().st_mtime_ns
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert (copy / "model.onnx").stat().st_mtime_ns == made
    # New weights (a fine-tune saved over the folder): the stale copy is replaced, nothing is left over.
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(made + 10**9, made + 10**9))
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert [p.name for p in (folder / runtimes.CACHE_FOLDER).iterdir()] == [copy.name]
    assert (copy / "model.onnx").stat().st_mtime_ns != made


def test_the_export_keeps_the_weights_in_one_file_beside_the_graph(settings, tmp_path):
    # ONNX Runtime maps model.onnx.data into memory rather than reading a one-file model into a
    # buffer and copying each weight out of it (a load peak of ×1.7 the weights' size, RESULTS.md).
    import onnx

    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    loaded = load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    assert sorted(p.name for p in copy.iterdir()) == ["export.json", "model.onnx", runtimes.ONNX_WEIGHTS]
    graph = onnx.load(str(copy / "model.onnx"), load_external_data=False)
    outside = [t for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert {entry.value for t in outside for entry in t.external_data if entry.key == "location"} == {
        runtimes.ONNX_WEIGHTS
    }
    # Only small tensors (up to 1 KiB) stay in the graph: the data file holds the float32 weights.
    assert max(len(t.raw_data) for t in graph.graph.initializer) <= 1024
    assert (copy / runtimes.ONNX_WEIGHTS).stat().st_mode == (copy / "model.onnx").stat().st_mode
    assert (copy / runtimes.ONNX_WEIGHTS).stat().st_size > 0.9 * (folder / "model.safetensors").stat().st_size
    assert loaded.memory_bytes == runtimes.cached_bytes(copy)
    assert sentiment.classify_text(loaded, TEXTS[0]).footer.items == 1


def test_a_copy_in_the_older_one_file_layout_is_made_again(settings, tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")
    chosen = _engine(dataclasses.replace(settings, models_dir=tmp_path), "sentiment=onnx")
    load_model(catalogue.SENTIMENT, str(folder), chosen)
    [copy] = (folder / runtimes.CACHE_FOLDER).iterdir()
    # What an older version left: the same stamp without a format, the weights inside model.onnx.
    import onnx

    onnx.save_model(onnx.load(str(copy / "model.onnx")), str(copy / "model.onnx"))
    (copy / runtimes.ONNX_WEIGHTS).unlink()
    stamp = json.loads((copy / "export.json").read_text())
    del stamp["format"]
    (copy / "export.json").write_text(json.dumps(stamp))
    loaded = load_model(catalogue.SENTIMENT, str(folder), chosen)
    assert [p.name for p in (folder / runtimes.CACHE_FOLDER).iterdir()] == [copy.name]
    assert (copy / runtimes.ONNX_WEIGHTS).is_file()
    assert "format" in json.loads((copy / "export.json").read_text())
    assert sentiment.classify_text(loaded, TEXTS[0]).footer.items == 1


def test_a_failed_export_leaves_no_partial_copy(tmp_path):
    folder = tiny_models.build_text_classifier(tmp_path / "classifier")

    def broken(target: Path) -> None:
        target.mkdir()
        (target / "model.onnx").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        runtimes.cached_copy(folder, engine_choice.ONNX, broken)
    assert list((folder / runtimes.CACHE_FOLDER).iterdir()) == []


@pytest.mark.slow
@pytest.mark.torch_threads
def test_engines_on_the_real_architectures(settings):
    """The catalogue defaults' real architectures (random weights, benchmarks/standins.py):
    DistilBERT multilingual (119,547-token vocabulary) and OPUS-MT en→zh MarianMT."""
    from benchmarks.standins import prepare_model

    for task, choice in ((catalogue.SENTIMENT, "sentiment=onnx"), (catalogue.TRANSLATION, "translation=ctranslate2")):
        bench = prepare_model(task, settings, quick=True)
        reference = load_model(task, bench.hub_id, _torch(bench.settings))
        engine = load_model(task, bench.hub_id, _engine(bench.settings, choice))
        assert engine.engine == choice.split("=")[1]
        if task == catalogue.SENTIMENT:
            for ours, theirs in zip(
                sentiment.classify(engine, TEXTS), sentiment.classify(reference, TEXTS), strict=True
            ):
                assert ours.label == theirs.label
                assert max(abs(ours.scores[k] - theirs.scores[k]) for k in theirs.scores) < SCORE_TOLERANCE
        else:
            texts = [t for t in TEXTS if t.isascii()]
            ours = translation.translate(engine, texts, target_language="zh")
            theirs = translation.translate(reference, texts, target_language="zh")
            assert [t.translation for t in ours] == [t.translation for t in theirs]
        del reference, engine


@pytest.mark.real_weights
def test_onnx_export_on_real_weights_gives_the_same_sentence_embeddings(tmp_path):
    """all-MiniLM-L6-v2 (a BERT encoder, real weights) through the same export: embeddings within
    a cosine of 1e-5 of sentence-transformers' own (mean pooling, normalised)."""
    from sentence_transformers import SentenceTransformer

    source = require_packaged(packaged.MINILM_L6)
    folder = tmp_path / "minilm"  # the export cache goes beside this copy, not the shared mirror
    folder.mkdir()
    for item in source.iterdir():
        (folder / item.name).symlink_to(item, target_is_directory=item.is_dir())
    encoder, tokenizer = runtimes.onnx_encoder(folder)
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    theirs = SentenceTransformer(str(source), device="cpu", local_files_only=True).encode(
        TEXTS, convert_to_tensor=True, normalize_embeddings=True
    )
    cosine = (ours * theirs).sum(-1)
    assert cosine.min().item() > 1 - 1e-5, cosine.tolist()


# --- the engines' own processes ---------------------------------------------------------------
# ONNX Runtime and CTranslate2 run in a child process (engine_process): a crash or hang there is
# named, the request is answered in torch and says so, restarts come back, repeated failures turn
# the engine off with the reason on the Models page, and no child outlives the app. Every failure
# is real: the child is sent the signal while the request is in it.

ENGINE_CASES = {
    "onnx": (catalogue.SENTIMENT, "sentiment=onnx", "ONNX Runtime"),
    "ctranslate2": (catalogue.TRANSLATION, "translation=ctranslate2", "CTranslate2"),
}
SIGNALS = {"SIGSEGV": signal.SIGSEGV, "SIGKILL": signal.SIGKILL, "SIGSTOP": signal.SIGSTOP}


def _signal_mid_request(monkeypatch, process, signum: int) -> list[int]:
    """Sends ``signum`` to ``process``'s child once the next request is written to it, before it
    can answer: the child is stopped first, and a crash signal is delivered as it resumes. Returns
    the signalled pid (in a list, filled in when the request comes)."""
    real_write = engine_server.write_frame
    signalled: list[int] = []

    def write_then_signal(stream, header, arrays=None):
        if signalled or header.get("op") not in ("run", "translate"):
            return real_write(stream, header, arrays)
        pid = process.pid
        signalled.append(pid)
        os.kill(pid, signal.SIGSTOP)
        real_write(stream, header, arrays)
        if signum != signal.SIGSTOP:
            os.kill(pid, signum)
            os.kill(pid, signal.SIGCONT)  # a crash signal pending in a stopped child lands as it resumes

    monkeypatch.setattr(engine_server, "write_frame", write_then_signal)
    return signalled


def _answer(task: str, loaded, text: str):
    """The demo's answer and its footer's note."""
    if task == catalogue.SENTIMENT:
        result = sentiment.classify_text(loaded, text)
        return (result.classification.label, result.classification.scores), result.footer.path_note
    result = translation.translate_text(loaded, text, "en", "zh")
    return result.translation, result.footer.path_note


@pytest.fixture(params=list(ENGINE_CASES))
def engine_case(request, own_sentiment, opus_translator, settings):
    """A model loaded on the engine (float32 torch as its fallback), its torch float32 twin, and
    the engine's process (restarts without waiting)."""
    task, choice, title = ENGINE_CASES[request.param]
    ref = own_sentiment if task == catalogue.SENTIMENT else str(opus_translator)
    engine = load_model(task, ref, _engine(_torch(settings), choice))
    assert engine.engine == request.param
    process = engine.model.process
    process.restart_backoff_s = 0.0
    yield task, engine, load_model(task, ref, _torch(settings)), process, title
    process.failures, process.last_failure, process.disabled_reason = 0, "", ""
    process.max_failures, process.call_deadline_s = engine_process.MAX_FAILURES, engine_process.CALL_DEADLINE_S


def _row(process) -> dict[str, object]:
    return next(row for row in engine_rows() if row["model"] == process.label and row["engine"] != "llama.cpp")


@pytest.mark.parametrize("name", list(SIGNALS))
def test_an_engine_killed_mid_request_has_torch_answer(engine_case, monkeypatch, name):
    task, engine, reference, process, title = engine_case
    if name == "SIGSTOP":
        process.call_deadline_s = 3.0
    signalled = _signal_mid_request(monkeypatch, process, SIGNALS[name])
    answer, note = _answer(task, engine, TEXTS[0])
    [pid] = signalled
    assert answer == _answer(task, reference, TEXTS[0])[0]  # torch float32's own answer
    words = {
        "SIGSEGV": "crashed (SIGSEGV)",
        "SIGKILL": "was killed (SIGKILL)",
        "SIGSTOP": "stopped answering within 3 s",
    }
    assert f"The {title} engine {words[name]}" in note and "torch answered this request" in note, note
    assert wait_gone(pid)  # ended, not left stopped or a zombie
    assert process.failures == 1 and words[name] in process.last_failure
    # The next request runs on a restarted engine, which answers as float32 does.
    answer, note = _answer(task, engine, TEXTS[1])
    assert note == "" and process.pid not in (None, pid)
    if task == catalogue.SENTIMENT:
        theirs = _answer(task, reference, TEXTS[1])[0]
        assert answer[0] == theirs[0] and max(abs(answer[1][k] - theirs[1][k]) for k in theirs[1]) < SCORE_TOLERANCE
    else:
        assert answer == _answer(task, reference, TEXTS[1])[0]
    row = _row(process)
    assert row["engine"] == title and row["status"] == "running" and row["failures"] == 1


def test_repeated_crashes_turn_the_engine_off_with_the_reason(engine_case, monkeypatch):
    task, engine, reference, process, title = engine_case
    process.max_failures = 2
    for _ in range(2):
        signalled = _signal_mid_request(monkeypatch, process, signal.SIGSEGV)
        _answer(task, engine, TEXTS[0])
        assert wait_gone(signalled[0])
    row = _row(process)
    assert row["status"] == "disabled" and row["process"] == "—"
    assert "failed twice (last: crashed (SIGSEGV)" in str(row["last failure"])
    assert "torch answers instead" in str(row["last failure"])
    # Requests go on, in torch, each saying why; no engine process is started again.
    answer, note = _answer(task, engine, TEXTS[1])
    assert answer == _answer(task, reference, TEXTS[1])[0]
    assert "failed twice" in note and "torch answered this request" in note, note
    assert process.pid is None


_APP = """
import os, signal, sys
from pathlib import Path
from backend.models.engines import runtimes
model, _ = runtimes.load(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
print(model.process.pid, flush=True)
if sys.argv[4] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no cleanup: the engine must notice alone
"""


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_no_engine_process_outlives_the_app(engine_case, ending):
    task, engine, _, process, _ = engine_case
    folder = Path(engine.model_ref)
    app = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_APP), task, engine.engine, str(folder), ending],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert app.returncode == (-signal.SIGKILL if ending == "killed" else 0), app.stderr[-2000:]
    assert wait_gone(int(app.stdout.split()[0]))


def test_only_numbers_cross_the_pipe_and_every_engine_has_a_server():
    # The frame carries arrays as they are (dtype, shape, values), and the server runs exactly the
    # engines the setting names.
    import io

    buffer = io.BytesIO()
    ids = torch.tensor([[101, 7592, 102]]).numpy()
    engine_server.write_frame(buffer, {"op": "run"}, {"input_ids": ids, "scores": ids.astype("float32") / 3})
    buffer.seek(0)
    header, arrays = engine_server.read_frame(buffer)
    assert header == {"op": "run"}
    assert arrays["input_ids"].dtype == ids.dtype and (arrays["input_ids"] == ids).all()
    assert arrays["scores"].shape == (1, 3) and arrays["scores"].flags.writeable
    assert set(engine_server.ENGINES) == set(engine_choice.PACKAGES)


_SERVING_APP = """
import sys
from pathlib import Path
from backend.models.engines import runtimes
from backend.inference import sentiment
for task, engine, folder, int8 in (("sentiment", "onnx", sys.argv[1], False), ("sentiment", "onnx", sys.argv[1], True),
                                   ("translation", "ctranslate2", sys.argv[2], False)):
    model, tokenizer = runtimes.load(task, engine, Path(folder), int8)
    if task == "sentiment":
        print(tuple(model(**tokenizer(["a fine day"], return_tensors="pt")).logits.shape), flush=True)
print(sorted(name for name in ("onnxruntime", "ctranslate2", "llama_cpp") if name in sys.modules))
"""


def test_the_apps_process_never_loads_an_engines_native_library(own_sentiment, opus_translator, tmp_path):
    """Copies made afresh (ONNX export, int8 quantisation, CTranslate2 conversion) and answers
    given, in a fresh interpreter: onnxruntime and ctranslate2 were loaded only in its children."""
    copies = []
    for ref in (own_sentiment, str(opus_translator)):
        copy = tmp_path / Path(ref).name
        shutil.copytree(ref, copy, ignore=shutil.ignore_patterns(runtimes.CACHE_FOLDER))
        copies.append(str(copy))
    app = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SERVING_APP), *copies],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert app.returncode == 0, app.stderr[-2000:]
    lines = app.stdout.split("\n")
    shape = f"(1, {len(tiny_models.SENTIMENT_LABELS)})"
    assert lines[:3] == [shape, shape, "[]"], app.stdout
    assert [p.name.split("-")[0] for p in sorted((tmp_path / Path(own_sentiment).name / ".lsm-engines").iterdir())] == [
        "onnx",
        "onnx.int8",
    ]
