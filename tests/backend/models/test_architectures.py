"""Models of many architectures, as a user points the app at a local folder of "real weights not
seen before": every supported one answers through each path of its task with the right labels and
shapes, and every one a path cannot run is refused before loading, with the reason in words.

The models are tiny and random (``architectures``), so the tests check shapes, labels, dtypes and
refusals, never what the answers say."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from backend import model_gate
from backend.errors import ModelLoadError
from backend.inference import image_classification, path_check, sentiment, text_generation, translation
from backend.models import acquire, loader
from backend.models.cache import ModelCache
from backend.models.engines import support
from backend.models.load import quantize
from backend.models.resolve import catalogue, engine_choice, engine_record
from backend.models.resolve.plan import plan_load
from tests.backend.models import architectures
from tests.support import tiny_models

_BUILT: dict[tuple[str, str], Path] = {}
# The number formats a CPU demo loads in, as the settings choose them.
MODES = {
    "float32": {},
    "bfloat16": {"cpu_bfloat16": "on"},
    "int8": {"cpu_quantize": "int8"},
}
TEMPLATED_CHAT = [name for name in architectures.CHAT if "no-template" not in name]
UNTEMPLATED_CHAT = [name for name in architectures.CHAT if "no-template" in name]
GENERIC_LABELS = ["LABEL_0", "LABEL_1", "LABEL_2"]


def _built(group: dict, name: str, settings) -> Path:
    """The model ``name`` of ``group``, built once per session inside the models folder."""
    key = (str(id(group)), name)
    if key not in _BUILT:
        folder = settings.models_dir / "architectures" / f"{len(_BUILT)}-{name}"
        _BUILT[key] = group[name](folder)
    return _BUILT[key]


def _acquired(task: str, folder: Path, settings, mode: str):
    """The model as a demo gets it: ``acquire`` (plan, stored-weights check, load) in ``mode``."""
    chosen = dataclasses.replace(settings, **MODES[mode])
    cache = ModelCache(512 * 2**20, settings=chosen)
    return acquire.acquire(task, str(folder), cache, check_access=lambda plan: None, settings=chosen)


def _check_dtype(loaded, mode: str, weight_only: bool) -> None:
    if mode == "int8":
        assert quantize.is_weight_only_int8(loaded.model) if weight_only else loaded.dtype == "float32"
        assert any("quant" in type(m).__module__.lower() or "Int8" in type(m).__name__
                   for m in loaded.model.modules())  # fmt: skip
    else:
        assert loaded.dtype == mode
        assert next(loaded.model.parameters()).dtype == getattr(torch, mode)


# --- chat -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", TEMPLATED_CHAT)
def test_chat_model_of_each_architecture_replies_in_each_number_format(name, mode, settings):
    folder = _built(architectures.CHAT, name, settings)
    model_gate.check_job_model(catalogue.TEXT_GENERATION, str(folder), "owner", settings)
    loaded = _acquired(catalogue.TEXT_GENERATION, folder, settings, mode)
    _check_dtype(loaded, mode, weight_only=True)
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=4)
    # Two prompts of different lengths: one left-padded batch, as batch inference runs them.
    replies = text_generation.generate(loaded, ["Hello, how are you today?", "Hi"], options, batch_size=2)
    assert [reply.prompt for reply in replies] == ["Hello, how are you today?", "Hi"]
    assert all(1 <= reply.new_tokens <= 4 for reply in replies)
    assert replies[0].prompt_tokens > replies[1].prompt_tokens > 3  # the template's turn markers too
    assert all(isinstance(reply.reply, str) for reply in replies)


@pytest.mark.parametrize("name", TEMPLATED_CHAT)
def test_chat_model_of_each_architecture_holds_a_conversation_with_a_system_prompt(name, settings):
    from backend.inference.chat_prompt import ChatMessage, prepare_prompt

    # The chat demo and the arena always send a system prompt; Gemma's template refuses that role.
    loaded = _acquired(catalogue.TEXT_GENERATION, _built(architectures.CHAT, name, settings), settings, "float32")
    turns = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello"),
             ChatMessage("user", "What is a large model?")]  # fmt: skip
    prompt = prepare_prompt(loaded, turns, max_new_tokens=3)
    text = loaded.preprocessor.decode(prompt.input_ids[0])
    assert "Answer briefly." in text and text.index("Answer briefly.") < text.index("What is a large model?")
    assert text.count(loaded.preprocessor.bos_token or "\0") <= 1  # the template's bos is not doubled
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=3)
    stream = text_generation.stream_reply(loaded, turns, options)
    assert isinstance("".join(stream), str)


@pytest.mark.parametrize("name", UNTEMPLATED_CHAT)
def test_chat_model_without_a_chat_template_is_refused_before_loading(name, settings, monkeypatch):
    folder = _built(architectures.CHAT, name, settings)
    monkeypatch.setattr(loader, "_from_pretrained", lambda *a, **k: pytest.fail("loaded a refused model"))
    with pytest.raises(ModelLoadError, match="has no chat template, so it cannot hold a conversation") as error:
        _acquired(catalogue.TEXT_GENERATION, folder, settings, "float32")
    assert "chat model" in error.value.hint
    # A chat-tuning base may lack one: its data check says so with the data (training/chat).
    assert plan_load(catalogue.TEXT_GENERATION, str(folder), settings, training=True).folder == folder


# --- translation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", architectures.TRANSLATION)
def test_translator_of_each_architecture_translates_in_each_number_format(name, mode, settings):
    folder = _built(architectures.TRANSLATION, name, settings)
    model_gate.check_job_model(catalogue.TRANSLATION, str(folder), "owner", settings)
    loaded = _acquired(catalogue.TRANSLATION, folder, settings, mode)
    _check_dtype(loaded, mode, weight_only=False)
    result = translation.translate_text(loaded, "I love this product. It works great.", "en", "zh")
    assert len(result.sentences) == 2
    assert all(item.source_tokens > 1 for item in result.sentences)
    assert all(isinstance(item.translation, str) and item.output_tokens >= 0 for item in result.sentences)


LANGUAGE_TOKENS = {"m2m_100": "__zh__", "nllb-style": "zho_Hans", "mbart-50-style": "zh_CN"}


@pytest.mark.parametrize("engine", [engine_choice.TORCH, engine_choice.CTRANSLATE2])
@pytest.mark.parametrize("name", LANGUAGE_TOKENS)
def test_many_to_many_translator_is_told_the_target_language(name, engine, settings, monkeypatch):
    folder = _built(architectures.TRANSLATION, name, settings)
    if engine == engine_choice.CTRANSLATE2 and support.refusal(engine, folder):
        pytest.skip(f"CTranslate2 skips {name}")
    loaded = _on_engine(catalogue.TRANSLATION, folder, settings, engine, fall_back=False)
    assert loaded.engine == engine
    language = loaded.preprocessor.convert_tokens_to_ids(LANGUAGE_TOKENS[name])
    outputs = []
    generate = loaded.model.generate
    monkeypatch.setattr(loaded.model, "generate", lambda **kw: outputs.append(generate(**kw)) or outputs[-1])
    translation.translate_text(loaded, "I love this product.", "en", "zh")
    # Left to itself the model would start with any token: every output starts with Chinese's.
    assert outputs and all(row[1] == language for row in outputs[0].tolist())


# --- text classification ----------------------------------------------------------------------------------


def _expected_labels(name: str) -> list[str]:
    return GENERIC_LABELS if "generic-labels" in name else architectures.LABELS


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", architectures.CLASSIFIERS)
def test_classifier_of_each_architecture_answers_with_its_own_labels(name, mode, settings):
    folder = _built(architectures.CLASSIFIERS, name, settings)
    model_gate.check_job_model(catalogue.SENTIMENT, str(folder), "owner", settings)
    loaded = _acquired(catalogue.SENTIMENT, folder, settings, mode)
    _check_dtype(loaded, mode, weight_only=False)
    result = sentiment.classify_text(loaded, "I love this product, it works great.")
    assert list(result.classification.scores) == _expected_labels(name)
    assert math.isclose(sum(result.classification.scores.values()), 1.0, abs_tol=1e-3)
    assert result.classification.label == max(result.classification.scores, key=result.classification.scores.get)


@pytest.mark.parametrize("name", architectures.CLASSIFIERS)
def test_classifier_of_each_architecture_starts_fine_tuning_with_a_fresh_head(name, settings):
    folder = _built(architectures.CLASSIFIERS, name, settings)
    plan = model_gate.check_job_model(catalogue.TEXT_CLASSIFIER_BASE, str(folder), "owner", settings, training=True)
    model, tokenizer = loader.load_for_training(plan, ["spam", "ham"], settings)
    assert model.config.id2label == {0: "spam", 1: "ham"}
    batch = tokenizer(["cheap pills now", "see you at lunch"], padding=True, return_tensors="pt")
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _step in range(2):  # two training steps: the head and the body both learn
        loss = model(**batch, labels=torch.tensor([0, 1])).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(loss.item())
    assert all(math.isfinite(loss) for loss in losses)


# --- image classification -----------------------------------------------------------------------------------

COLOUR_IMAGES = [name for name in architectures.IMAGES if "grayscale" not in name]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", COLOUR_IMAGES)
def test_image_classifier_of_each_architecture_ranks_its_labels(name, mode, settings):
    folder = _built(architectures.IMAGES, name, settings)
    model_gate.check_job_model(catalogue.IMAGE_CLASSIFICATION, str(folder), "owner", settings)
    loaded = _acquired(catalogue.IMAGE_CLASSIFICATION, folder, settings, mode)
    _check_dtype(loaded, mode, weight_only=False)
    image = Image.new("RGB", (50, 40), (200, 30, 10))
    prediction = image_classification.classify_image(loaded, image).prediction
    assert sorted(item.label for item in prediction.top) == sorted(tiny_models.IMAGE_LABELS)
    assert [item.score for item in prediction.top] == sorted((item.score for item in prediction.top), reverse=True)


@pytest.mark.parametrize("name", COLOUR_IMAGES)
def test_image_classifier_of_each_architecture_starts_fine_tuning(name, settings):
    folder = _built(architectures.IMAGES, name, settings)
    plan = model_gate.check_job_model(catalogue.IMAGE_CLASSIFIER_BASE, str(folder), "owner", settings, training=True)
    model, processor = loader.load_for_training(plan, ["ok", "defect"], settings)
    pixels = processor([Image.new("RGB", (60, 45), (10, 90, 200))] * 2, return_tensors="pt")["pixel_values"]
    loss = model(pixel_values=pixels, labels=torch.tensor([0, 1])).loss
    loss.backward()
    assert model.config.num_labels == 2 and math.isfinite(loss.item())


def test_image_model_of_one_channel_is_refused_before_loading(settings, monkeypatch):
    folder = _built(architectures.IMAGES, "vit-grayscale", settings)
    monkeypatch.setattr(loader, "_from_pretrained", lambda *a, **k: pytest.fail("loaded a refused model"))
    for task in (catalogue.IMAGE_CLASSIFICATION, catalogue.IMAGE_CLASSIFIER_BASE):
        with pytest.raises(ModelLoadError, match="reads images of 1 channel; the app gives it colour images of 3"):
            model_gate.check_job_model(task, str(folder), "owner", settings, training=task.endswith("base"))


# --- sentence embeddings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", architectures.EMBEDDERS)
def test_sentence_encoder_of_each_pooling_embeds(name, settings):
    folder = _built(architectures.EMBEDDERS, name, settings)
    loaded = _acquired(catalogue.EMBEDDINGS, folder, settings, "float32")
    vectors = loaded.model.encode(["I love this product.", "大模型正在改变各行各业。"], convert_to_tensor=True)
    assert tuple(vectors.shape) == (2, 32)
    norms = vectors.norm(dim=-1)
    assert torch.allclose(norms, torch.ones(2), atol=1e-4) == ("normalised" in name)


# --- a model of the wrong kind, or one the app cannot run -----------------------------------------------------


WRONG_KIND = [
    (catalogue.TEXT_GENERATION, architectures.TRANSLATION, "t5", "'t5' model, which cannot do text generation"),
    (catalogue.TRANSLATION, architectures.CLASSIFIERS, "bert", "'bert' model, which cannot do translation"),
    (catalogue.TRANSLATION, architectures.CHAT, "qwen2", "'qwen2' model, which cannot do translation"),
    (catalogue.SENTIMENT, architectures.IMAGES, "vit", "'vit' model, which cannot do sentiment"),
    (catalogue.IMAGE_CLASSIFICATION, architectures.CLASSIFIERS, "bert", "'bert' model, which cannot do image"),
    (catalogue.IMAGE_CLASSIFIER_BASE, architectures.CHAT, "qwen2", "'qwen2' model, which cannot do image"),
]


@pytest.mark.parametrize(("task", "group", "name", "said"), WRONG_KIND, ids=lambda v: v if isinstance(v, str) else "")
def test_model_of_the_wrong_kind_is_refused_in_words_before_loading(task, group, name, said, settings, monkeypatch):
    folder = _built(group, name, settings)
    monkeypatch.setattr(loader, "_from_pretrained", lambda *a, **k: pytest.fail("loaded a refused model"))
    with pytest.raises(ModelLoadError, match=said) as error:
        model_gate.check_job_model(task, str(folder), "owner", settings, training=task.endswith("base"))
    assert "Pick a model of a family this task runs" in error.value.hint
    with pytest.raises(ModelLoadError, match=said):
        _acquired(task, folder, settings, "float32")


def _edited_config(settings, name: str, **changes) -> Path:
    import json
    import shutil

    source = _built(architectures.CHAT, "qwen2", settings)
    folder = source.parent / name
    if not folder.exists():
        shutil.copytree(source, folder)
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


def test_model_that_needs_its_own_code_is_refused_before_loading(settings):
    auto_map = {"AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}
    folder = _edited_config(settings, "remote-code", model_type="chatglm", auto_map=auto_map)
    with pytest.raises(ModelLoadError, match="needs its own Python code to run .*never runs code that comes with"):
        _acquired(catalogue.TEXT_GENERATION, folder, settings, "float32")


def test_model_type_transformers_does_not_know_is_refused_before_loading(settings):
    folder = _edited_config(settings, "future-arch", model_type="qwen9_moe", architectures=["Qwen9MoeForCausalLM"])
    with pytest.raises(ModelLoadError, match="'qwen9_moe' model, which the installed transformers library does not"):
        model_gate.check_job_model(catalogue.TEXT_GENERATION, str(folder), "owner", settings)


# --- the engines of the auto setting's candidate paths ----------------------------------------------------------


def _on_engine(task: str, folder: Path, settings, engine: str, fall_back: bool):
    chosen = dataclasses.replace(settings, cpu_engine=f"{task}={engine}")
    return loader.load_from_plan(plan_load(task, str(folder), chosen), chosen, fall_back=fall_back)


@pytest.mark.parametrize("name", architectures.CLASSIFIERS)
def test_onnx_runtime_runs_each_classifier_as_torch_does(name, settings):
    folder = _built(architectures.CLASSIFIERS, name, settings)
    on_onnx = _on_engine(catalogue.SENTIMENT, folder, settings, engine_choice.ONNX, fall_back=False)
    in_torch = loader.load_model(catalogue.SENTIMENT, str(folder), settings)
    assert on_onnx.engine == engine_choice.ONNX
    text = "The weather is fine today and the model is fast."
    ours = sentiment.classify_text(on_onnx, text).classification.scores
    reference = sentiment.classify_text(in_torch, text).classification.scores
    assert list(ours) == list(reference) == _expected_labels(name)
    assert all(abs(ours[label] - reference[label]) < 1e-4 for label in ours)


CTRANSLATE2_RUNS = ["marian-opus-layout", "m2m_100", "nllb-style", "t5", "mt5"]


@pytest.mark.parametrize("name", architectures.TRANSLATION)
def test_ctranslate2_runs_the_translators_it_supports_and_skips_the_rest_with_a_reason(name, settings):
    folder = _built(architectures.TRANSLATION, name, settings)
    refused = support.refusal(engine_choice.CTRANSLATE2, folder)
    if name.startswith("mbart"):
        assert refused == "CTranslate2 does not run 'mbart' models here"
        with pytest.raises(ModelLoadError, match="cannot run .*CTranslate2 does not run 'mbart' models"):
            _on_engine(catalogue.TRANSLATION, folder, settings, engine_choice.CTRANSLATE2, fall_back=False)
    else:
        assert refused == ""
    # Whatever the engine makes of it, the demo answers: on CTranslate2 or, where it cannot, in torch.
    loaded = _on_engine(catalogue.TRANSLATION, folder, settings, engine_choice.CTRANSLATE2, fall_back=True)
    assert loaded.engine == (engine_choice.CTRANSLATE2 if name in CTRANSLATE2_RUNS else engine_choice.TORCH)
    result = translation.translate_text(loaded, "Large models are changing every industry.", "en", "zh")
    assert len(result.sentences) == 1 and result.sentences[0].source_tokens > 1


LLAMA_CPP_RUNS = ["llama", "llama-no-pad-two-ends", "qwen2", "llama-bfloat16-sharded"]


@pytest.mark.parametrize("name", TEMPLATED_CHAT)
def test_llama_cpp_gguf_export_takes_the_families_it_computes_and_skips_the_rest(name, settings):
    folder = _built(architectures.CHAT, name, settings)
    refused = support.refusal(engine_choice.LLAMA_CPP, folder)
    assert (refused == "") == (name in LLAMA_CPP_RUNS)
    if name not in LLAMA_CPP_RUNS:
        assert refused.startswith("llama.cpp does not run this model (")
        # The check starts no process for a path that cannot apply: the reason is its outcome.
        started = []
        outcome = path_check.run_isolated(catalogue.TEXT_GENERATION, str(folder), engine_record.LLAMA_CPP, settings,
                                          on_start=started.append)  # fmt: skip
        assert outcome.measured is None and outcome.failure == refused and started == []
        loaded = _on_engine(catalogue.TEXT_GENERATION, folder, settings, engine_choice.LLAMA_CPP, fall_back=True)
        assert loaded.engine == engine_choice.TORCH
        return
    loaded = _on_engine(catalogue.TEXT_GENERATION, folder, settings, engine_choice.LLAMA_CPP, fall_back=False)
    assert loaded.engine == engine_choice.LLAMA_CPP
    options = text_generation.GenerationOptions(temperature=0, max_new_tokens=3)
    [reply] = text_generation.generate(loaded, ["Hello"], options)
    assert 1 <= reply.new_tokens <= 3


# --- chat tuning and batch inference ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATED_CHAT)
def test_chat_model_of_each_architecture_takes_lora_adapters_and_trains_two_steps(name, settings):
    from backend.training.chat.params import ChatTuneParams
    from backend.training.chat.trainer import wrap_lora

    folder = _built(architectures.CHAT, name, settings)
    plan = model_gate.check_job_model(catalogue.TEXT_GENERATION, str(folder), "owner", settings, training=True)
    model, tokenizer = loader.load_causal_lm_for_training(plan, settings)
    tuned = wrap_lora(model, ChatTuneParams(base_model=str(folder), lora_rank=4))
    trainable = [p for p in tuned.parameters() if p.requires_grad]
    assert trainable and sum(p.numel() for p in trainable) < sum(p.numel() for p in tuned.parameters()) / 2
    messages = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi, how can I help?"}]
    ids = torch.tensor([tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]])
    optimiser = torch.optim.AdamW(trainable, lr=1e-2)
    losses = []
    for _step in range(2):
        loss = tuned(input_ids=ids, labels=ids).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(loss.item())
    assert all(math.isfinite(loss) for loss in losses) and losses[1] < losses[0]


BATCHES = [
    (catalogue.TEXT_GENERATION, architectures.CHAT, "gemma2"),
    (catalogue.TRANSLATION, architectures.TRANSLATION, "t5"),
    (catalogue.SENTIMENT, architectures.CLASSIFIERS, "deberta-v2"),
]


@pytest.mark.parametrize(("task", "group", "name"), BATCHES, ids=[name for _task, _group, name in BATCHES])
def test_batch_job_runs_a_model_of_another_architecture(task, group, name, local):
    import pandas as pd

    from backend import worker
    from backend.inference import batch
    from backend.jobs.store import SUCCEEDED, JobStore

    folder = _built(group, name, local)
    frame = pd.DataFrame({"text": ["I love this phone", "The service was slow."]})
    request = batch.BatchRequest(task, str(folder), "text", "texts.csv", target_language="zh", temperature=0,
                                 max_new_tokens=3)  # fmt: skip
    job = batch.submit_batch_job(request, frame, owner="ann", settings=local)
    assert worker.run_job(job.id, local) == SUCCEEDED, JobStore(settings=local).require(job.id).error
    result = batch.read_result(JobStore(settings=local).require(job.id))
    assert result is not None and len(result.table) == 2 and result.skipped == 0


def test_batch_job_of_a_model_the_task_cannot_run_is_refused_before_queuing(local):
    import pandas as pd

    from backend.inference import batch
    from backend.jobs.store import JobStore

    frame = pd.DataFrame({"text": ["I love this phone"]})
    for task, group, name, said in (
        (catalogue.TEXT_GENERATION, architectures.CHAT, "gpt2-no-template", "has no chat template"),
        (catalogue.TRANSLATION, architectures.CLASSIFIERS, "bert", "'bert' model, which cannot do translation"),
    ):
        request = batch.BatchRequest(task, str(_built(group, name, local)), "text", "texts.csv", target_language="zh")
        with pytest.raises(ModelLoadError, match=said):
            batch.submit_batch_job(request, frame, owner="ann", settings=local)
    assert JobStore(settings=local).list_jobs(owner="ann") == []


def _nllb_translator(folder: Path) -> Path:
    """The NLLB-style translator with NLLB's own tokenizer class, which tags the source by ``src_lang``."""
    from transformers import NllbTokenizerFast

    architectures.build_seq2seq(folder, "m2m_100", ("eng_Latn", "zho_Hans"))
    NllbTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), src_lang="eng_Latn").save_pretrained(folder)
    return folder


@pytest.mark.parametrize("engine", [engine_choice.TORCH, engine_choice.CTRANSLATE2])
def test_a_many_to_many_translator_tags_the_source_with_the_requests_language(engine, settings, monkeypatch):
    folder = _built({"nllb": _nllb_translator}, "nllb", settings)
    loaded = _on_engine(catalogue.TRANSLATION, folder, settings, engine, fall_back=False)
    tokenizer = loaded.preprocessor
    assert loaded.engine == engine and tokenizer.src_lang == "eng_Latn"  # the tokenizer's default
    # What the engine is given (CTranslate2 gets these ids as tokens in its own process).
    sources: list[list[int]] = []
    generate = loaded.model.generate
    monkeypatch.setattr(
        loaded.model, "generate", lambda **kwargs: sources.append(kwargs["input_ids"][0].tolist()) or generate(**kwargs)
    )
    text = "Large models are changing every industry."
    words = tokenizer(text, add_special_tokens=False)["input_ids"]
    for source, target, tag in (("zh", "en", "zho_Hans"), ("en", "zh", "eng_Latn")):
        result = translation.translate_text(loaded, text, source, target)
        assert sources.pop() == [tokenizer.convert_tokens_to_ids(tag), *words, tokenizer.eos_token_id]
        assert result.translation and result.source_language == source
