"""The models a benchmark runs: real weights when the offline mirror has them, else stand-ins.

The Hugging Face Hub is unreachable here, so when ``models/<org>--<name>`` is absent the benchmark
builds the catalogue default's REAL architecture (hyper-parameters written below from the
published configs) with random weights and a tokenizer trained locally on the workload text.
Speed and memory depend on the architecture, sequence lengths and dtype, not on the weight values,
so the figures hold for the real model; answers are meaningless and generated text never stops
early, which is why every generation is capped at the same number of new tokens on both paths.

Stand-ins live in a mirror-shaped folder (``<models>/benchmark-standins/<org>--<name>``) read
through a ``Settings`` whose models folder is that one, so ``load_model(task, hub_id)`` runs the
production path (mirror lookup, dtype choice, safetensors) unchanged. They carry no
``showcase.json``, so the app's model pickers never list them. They are reused between runs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from backend.config import Settings
from backend.models.resolve import catalogue
from backend.models.resolve.plan import mirror_folder
from benchmarks import workloads

STANDIN_FOLDER = "benchmark-standins"
_MARKER = "benchmark-standin.json"
# The base model fine-tuned in quick mode: BERT mini fine-tunes in minutes on two cores.
QUICK_FINETUNE_BASE = "google/bert_uncased_L-4_H-256_A-4"
# The embedder fast mode starts from in quick mode (the catalogue's small English one).
QUICK_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class BenchModel:
    """One model to benchmark: the hub id to load and the settings that resolve it."""

    task: str
    hub_id: str
    folder: Path
    settings: Settings
    weights: str  # "real", "random (real architecture)" or "tiny test model"

    @property
    def is_standin(self) -> bool:
        """True when the weights are random (figures hold, answers do not)."""
        return self.weights != "real"


def _bert_vocab(lowercase: bool) -> dict[str, int]:
    words: set[str] = set()
    pieces: set[str] = set()
    for line in workloads.tokenizer_corpus():
        for word in line.replace(".", " . ").replace(",", " , ").split():
            word = word.lower() if lowercase else word
            if any("\u4e00" <= ch <= "\u9fff" for ch in word):
                pieces.update(word)
            else:
                words.add(word)
                pieces.update(f"##{ch}" for ch in word)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    tokens = specials + sorted(words | pieces | set(letters) | set("。，.!?"))
    return {token: index for index, token in enumerate(dict.fromkeys(tokens))}


def _wordpiece_tokenizer(lowercase: bool, max_length: int = 512):
    from transformers import DistilBertTokenizer

    tokenizer = DistilBertTokenizer(vocab=_bert_vocab(lowercase), do_lower_case=lowercase)
    tokenizer.model_max_length = max_length
    return tokenizer


def _bpe_tokenizer(specials: list[str], **tokens: Any):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=3000, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(workloads.tokenizer_corpus() * 2, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, **tokens)


def _padded_tokenizer(backend: Any, size: int, pad: str, **tokens: Any):
    # Fill the vocabulary up to ``size`` with never-produced tokens and put ``pad`` last.
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    data = json.loads(backend.to_str())
    vocab = data["model"]["vocab"]
    for index in range(len(vocab), size - 1):
        vocab[f"<unused-{index}>"] = index
    vocab[pad] = size - 1
    data["added_tokens"].append({"id": size - 1, "content": pad, "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": False, "special": True})  # fmt: skip
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), pad_token=pad, **tokens)


def _save(model: torch.nn.Module, tokenizer_or_processor: Any, folder: Path) -> None:
    model.save_pretrained(folder)
    tokenizer_or_processor.save_pretrained(folder)


def _build_distilbert_sentiment(folder: Path) -> None:
    # lxyuan/distilbert-base-multilingual-cased-sentiments-student (config.json on the hub).
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    labels = ["positive", "neutral", "negative"]
    config = DistilBertConfig(
        vocab_size=119547, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, max_position_embeddings=512,
        activation="gelu", id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    _save(DistilBertForSequenceClassification(config), _wordpiece_tokenizer(lowercase=False), folder)


def _build_bert_mini(folder: Path) -> None:
    # google/bert_uncased_L-4_H-256_A-4: a base encoder; a classification head is added at load.
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=512)  # fmt: skip
    tokenizer = _wordpiece_tokenizer(lowercase=True)
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    _save(BertModel(config, add_pooling_layer=True), tokenizer, folder)


def _build_distilbert_base(folder: Path) -> None:
    # distilbert/distilbert-base-multilingual-cased: the full-mode fine-tuning base.
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(vocab_size=119547, dim=768, n_layers=6, n_heads=12, hidden_dim=3072)
    _save(DistilBertModel(config), _wordpiece_tokenizer(lowercase=False), folder)


def _build_marian(folder: Path) -> None:
    # Helsinki-NLP/opus-mt-en-zh: config.json and generation_config.json as published.
    from tokenizers import processors
    from transformers import MarianConfig, MarianMTModel

    # The published layout: "</s>" 0, "<unk>" 1, ..., "<pad>" last (65,000), one token per embedding
    # row, so engines that read the vocabulary (CTranslate2) see what they see in the real model.
    trained = _bpe_tokenizer(["</s>", "<unk>"])
    tokenizer = _padded_tokenizer(trained.backend_tokenizer, 65001, "<pad>", eos_token="</s>", unk_token="<unk>",
                                  model_max_length=512)  # fmt: skip
    eos = tokenizer.eos_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", eos)]
    )
    pad = tokenizer.pad_token_id
    config = MarianConfig(
        vocab_size=65001, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
        decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
        activation_function="swish", scale_embedding=True, share_encoder_decoder_embeddings=True,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
    )  # fmt: skip
    model = MarianMTModel(config)
    generation = model.generation_config
    generation.num_beams, generation.max_length, generation.bad_words_ids = 4, 512, [[pad]]
    generation.renormalize_logits = True
    _save(model, tokenizer, folder)


def _build_convnext(folder: Path) -> None:
    # facebook/convnext-tiny-224 and its preprocessor_config.json.
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessorPil

    labels = [f"imagenet class {i}" for i in range(1000)]
    config = ConvNextConfig(
        depths=[3, 3, 9, 3], hidden_sizes=[96, 192, 384, 768], drop_path_rate=0.0, layer_scale_init_value=1e-6,
        image_size=224, id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
    )  # fmt: skip
    processor = ConvNextImageProcessorPil(size={"shortest_edge": 224}, crop_pct=0.875, resample=3)
    _save(ConvNextForImageClassification(config), processor, folder)


def _build_embedder(folder: Path, vocab_size: int, layers: int, normalize: bool) -> None:
    # sentence-transformers MiniLM embedders: a BERT encoder (hidden 384, 12 heads), mean pooling.
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    encoder_dir = folder / "_encoder"
    config = BertConfig(vocab_size=vocab_size, hidden_size=384, num_hidden_layers=layers, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512)  # fmt: skip
    tokenizer = _wordpiece_tokenizer(lowercase=True)
    tokenizer.model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    _save(BertModel(config), tokenizer, encoder_dir)
    transformer = models.Transformer(str(encoder_dir), max_seq_length=128)
    modules: list[Any] = [transformer, models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")]
    if normalize:
        modules.append(models.Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    # The saved model holds the encoder at its root, as published embedders do.
    shutil.rmtree(encoder_dir)


_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _build_qwen(folder: Path) -> None:
    # Qwen/Qwen2.5-0.5B-Instruct: config.json and generation_config.json as published, bf16 weights.
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = _bpe_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>",
                               pad_token="<|endoftext|>", model_max_length=32768)  # fmt: skip
    tokenizer.chat_template = _CHATML
    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=True, hidden_act="silu", eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.pad_token_id, dtype="bfloat16",
    )  # fmt: skip
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    generation = model.generation_config
    generation.do_sample, generation.temperature, generation.top_p, generation.top_k = True, 0.7, 0.8, 20
    generation.repetition_penalty = 1.05
    generation.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    generation.pad_token_id = tokenizer.pad_token_id
    _save(model, tokenizer, folder)


_STANDIN_BUILDERS: dict[str, Callable[[Path], None]] = {
    "lxyuan/distilbert-base-multilingual-cased-sentiments-student": _build_distilbert_sentiment,
    "Helsinki-NLP/opus-mt-en-zh": _build_marian,
    "facebook/convnext-tiny-224": _build_convnext,
    "Qwen/Qwen2.5-0.5B-Instruct": _build_qwen,
    "distilbert/distilbert-base-multilingual-cased": _build_distilbert_base,
    QUICK_FINETUNE_BASE: _build_bert_mini,
    "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2": lambda f: _build_embedder(f, 250037, 12, False),
    QUICK_EMBEDDER: lambda f: _build_embedder(f, 30522, 6, True),
}
# Bump when a builder changes so stale stand-ins are rebuilt (per model where only one changed).
_BUILDER_VERSION = 2
_BUILDER_VERSIONS = {"Helsinki-NLP/opus-mt-en-zh": 3}


def benchmark_hub_id(task: str, quick: bool) -> str:
    """The catalogue model a task is benchmarked on (translation: en→zh; fine-tuning: see above)."""
    if task == catalogue.TRANSLATION:
        spec = catalogue.translation_model("en", "zh")
        assert spec is not None
        return spec.hub_id
    if task == catalogue.TEXT_CLASSIFIER_BASE and quick:
        return QUICK_FINETUNE_BASE
    if task == catalogue.EMBEDDINGS and quick:
        return QUICK_EMBEDDER
    return catalogue.default_model(task).hub_id


def _standin_settings(settings: Settings, root: Path) -> Settings:
    return dataclasses.replace(settings, models_dir=root)


def prepare_model(task: str, settings: Settings, quick: bool = True, tiny: bool = False) -> BenchModel:
    """The model for ``task``: the real mirror if present, else a stand-in (built once, reused).

    Args:
        task: a catalogue task (sentiment, translation, image-classification, text-generation,
            text-classifier-base).
        settings: the project settings; their models folder is searched for real weights.
        quick: pick the smaller fine-tuning base.
        tiny: use the test-suite's tiny models (hidden size 32) instead of real architectures.
    """
    hub_id = benchmark_hub_id(task, quick)
    real = mirror_folder(hub_id, settings)
    if not tiny and ((real / "config.json").is_file() or (real / "modules.json").is_file()):
        return BenchModel(task, hub_id, real, settings, "real")
    root = settings.models_dir / STANDIN_FOLDER / ("tiny" if tiny else "full-size")
    bench_settings = _standin_settings(settings, root)
    folder = mirror_folder(hub_id, bench_settings)
    marker = {"hub_id": hub_id, "tiny": tiny, "version": _BUILDER_VERSIONS.get(hub_id, _BUILDER_VERSION)}
    marker_path = folder / _MARKER
    if not (marker_path.is_file() and json.loads(marker_path.read_text()) == marker):
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        if tiny:
            _build_tiny(task, folder)
        else:
            _STANDIN_BUILDERS[hub_id](folder)
        marker_path.write_text(json.dumps(marker))
    return BenchModel(task, hub_id, folder, bench_settings, "tiny test model" if tiny else "random (real architecture)")


def _build_tiny(task: str, folder: Path) -> None:
    # The benchmark's stand-ins for a quick run are the test suite's tiny models.
    from tests.support import tiny_models

    tiny_models.BUILDERS[task](folder)
