"""Tiny models of many architectures, built the way a user's local folder holds them: a
transformers config at test size, random weights saved as safetensors, and a real tokenizer or
image processor of the kind that architecture ships with. ``test_architectures`` puts each through
the app's paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from tests.support import tiny_models
from tests.support.tiny_models import _CHAT_TEMPLATE, _train_bpe, _write_bert_vocab

_LAYERS = {"num_hidden_layers": 2, "num_attention_heads": 2}
LABELS = ["negative", "neutral", "positive"]


def _labelled(labels: list[str] | None) -> dict:
    if labels is None:
        return {"num_labels": 3}  # transformers' generic LABEL_0..2
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


# --- chat / text generation ----------------------------------------------------------------------


def _bpe_tokenizer(specials: list[str], **tokens):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=_train_bpe(specials), model_max_length=256, **tokens)


# Gemma's own template: the bos token written by the template, no system role, strict alternation.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def build_causal(folder: Path, model_type: str, *, template: bool | str = True, tied: bool = True, bos: bool = False,
                 pad: bool = True, **overrides) -> Path:  # fmt: skip
    """A causal LM of ``model_type`` with a byte-level BPE tokenizer; with the ChatML template or
    none, tied or untied embeddings, a bos token or none, a pad token or none."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "<start_of_turn>", "<end_of_turn>"]
    eos = "<end_of_turn>" if template == GEMMA_TEMPLATE else "<|im_end|>" if template else "<|endoftext|>"
    tokenizer = _bpe_tokenizer(
        specials, eos_token=eos, pad_token="<|endoftext|>" if pad else None,
        bos_token="<s>" if bos else None,
    )  # fmt: skip
    if template:
        tokenizer.chat_template = template if isinstance(template, str) else _CHAT_TEMPLATE
    options = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 256, "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
        "tie_word_embeddings": tied,
    }  # fmt: skip
    if model_type in ("gpt2",):
        options = {"vocab_size": len(tokenizer), "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 256,
                   "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.eos_token_id,
                   "pad_token_id": tokenizer.pad_token_id, "tie_word_embeddings": tied}  # fmt: skip
    if model_type == "opt":
        options.update(ffn_dim=64, word_embed_proj_dim=64)
    config = AutoConfig.for_model(model_type, **{**options, **overrides})
    model = AutoModelForCausalLM.from_config(config)
    # Without a pad token (Llama 3's way) the generation config ends at either of two tokens.
    ends = tokenizer.convert_tokens_to_ids(["<|endoftext|>", eos])
    model.generation_config.eos_token_id = tokenizer.eos_token_id if pad else ends
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def stored_as(build: Callable[[Path], Path], dtype: str, shard: str = "20KB") -> Callable[[Path], Path]:
    """``build``'s model as real checkpoints are published: in half precision, in several shards."""

    def build_stored(folder: Path) -> Path:
        import json

        import transformers

        build(folder)
        config = json.loads((folder / "config.json").read_text())
        model_class = getattr(transformers, config["architectures"][0])
        model = model_class.from_pretrained(folder, dtype=getattr(torch, dtype))
        for stale in folder.glob("*.safetensors"):
            stale.unlink()
        model.save_pretrained(folder, max_shard_size=shard)
        return folder

    return build_stored


# Llama 3.1 and 3.2 stretch their rotary positions this way (llama.cpp's engine here does not).
LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}  # fmt: skip

CHAT: dict[str, Callable[[Path], Path]] = {
    "llama": lambda f: build_causal(f, "llama", bos=True, num_key_value_heads=2),
    "llama-no-pad-two-ends": lambda f: build_causal(f, "llama", bos=True, pad=False),
    "llama-3.2-rope-scaling": lambda f: build_causal(f, "llama", bos=True, rope_scaling=LLAMA3_ROPE),
    "llama-untied-no-template": lambda f: build_causal(f, "llama", template=False, tied=False, bos=True),
    "qwen2": lambda f: build_causal(f, "qwen2", num_key_value_heads=2),
    "qwen3": lambda f: build_causal(f, "qwen3", num_key_value_heads=2, head_dim=16),
    "gemma": lambda f: build_causal(f, "gemma", template=GEMMA_TEMPLATE, bos=True, head_dim=16, num_key_value_heads=1),
    "gemma2": lambda f: build_causal(
        f, "gemma2", template=GEMMA_TEMPLATE, bos=True, head_dim=16, num_key_value_heads=2, sliding_window=8
    ),
    "phi3": lambda f: build_causal(f, "phi3", tied=False, num_key_value_heads=4),
    "mistral-sliding": lambda f: build_causal(f, "mistral", tied=False, num_key_value_heads=2, sliding_window=8),
    "gpt2-no-template": lambda f: build_causal(f, "gpt2", template=False),
    "gpt_neox": lambda f: build_causal(f, "gpt_neox", tied=False),
    "opt": lambda f: build_causal(f, "opt", bos=True),
    "llama-bfloat16-sharded": stored_as(lambda f: build_causal(f, "llama", bos=True), "bfloat16"),
}


# --- translation ----------------------------------------------------------------------------------


def build_seq2seq(folder: Path, model_type: str, languages: tuple[str, ...] = (), **overrides) -> Path:
    """An encoder-decoder of ``model_type`` with a byte-level BPE tokenizer ("</s>" after the
    source) and, for a many-to-many model, its ``languages``' tokens."""
    from tokenizers import processors
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    torch.manual_seed(0)
    tokenizer = _bpe_tokenizer(["<pad>", "</s>", "<unk>", "<s>", *languages], pad_token="<pad>", eos_token="</s>",
                               unk_token="<unk>", bos_token="<s>")  # fmt: skip
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", tokenizer.eos_token_id)]
    )
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    if model_type in ("t5", "mt5"):
        options = {"vocab_size": len(tokenizer), "d_model": 32, "d_kv": 16, "d_ff": 37, "num_layers": 2,
                   "num_heads": 2, "pad_token_id": pad, "eos_token_id": eos, "decoder_start_token_id": pad}  # fmt: skip
    else:
        options = {"vocab_size": len(tokenizer), "d_model": 32, "encoder_layers": 2, "decoder_layers": 2,
                   "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 37,
                   "decoder_ffn_dim": 37, "max_position_embeddings": 128, "pad_token_id": pad,
                   "eos_token_id": eos, "decoder_start_token_id": eos if model_type != "marian" else pad,
                   "forced_eos_token_id": eos}  # fmt: skip
    config = AutoConfig.for_model(model_type, **{**options, **overrides})
    model = AutoModelForSeq2SeqLM.from_config(config)
    model.generation_config.max_length = 32
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


TRANSLATION: dict[str, Callable[[Path], Path]] = {
    "marian": tiny_models.build_translator,
    "marian-opus-layout": tiny_models.build_opus_layout_translator,
    "m2m_100": lambda f: build_seq2seq(f, "m2m_100", ("__en__", "__zh__")),
    "nllb-style": lambda f: build_seq2seq(f, "m2m_100", ("eng_Latn", "zho_Hans")),
    "t5": lambda f: build_seq2seq(f, "t5"),
    "mt5": lambda f: build_seq2seq(f, "mt5"),
    "mbart-50-style": lambda f: build_seq2seq(f, "mbart", ("en_XX", "zh_CN")),
}


# --- text classification ----------------------------------------------------------------------------


def _wordpiece(folder: Path, class_name: str = "BertTokenizer"):
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    return getattr(transformers, class_name)(vocab=str(_write_bert_vocab(folder)), model_max_length=64)


def _byte_bpe(kind: str):
    from tokenizers import processors

    tokenizer = _bpe_tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], bos_token="<s>", eos_token="</s>",
                               pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", cls_token="<s>",
                               sep_token="</s>")  # fmt: skip
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tokenizer.bos_token_id), ("</s>", tokenizer.eos_token_id)],
    )  # fmt: skip
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer


def build_classifier(folder: Path, model_type: str, labels: list[str] | None = LABELS,
                     tokenizer_class: str = "BertTokenizer", **overrides) -> Path:  # fmt: skip
    """A sequence classifier of ``model_type`` with the tokenizer its family ships with."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(0)
    tokenizer = _byte_bpe(model_type) if tokenizer_class == "bpe" else _wordpiece(folder, tokenizer_class)
    sizes = {"hidden_size": 32, "intermediate_size": 37, "max_position_embeddings": 128, **_LAYERS}
    if model_type == "distilbert":
        sizes = {"dim": 32, "hidden_dim": 37, "n_layers": 2, "n_heads": 2, "max_position_embeddings": 128}
    if model_type in ("roberta", "xlm-roberta"):
        sizes["pad_token_id"] = tokenizer.pad_token_id
        sizes["type_vocab_size"] = 1
    if model_type == "albert":
        sizes["embedding_size"] = 16
    if model_type == "electra":
        sizes["embedding_size"] = 16
    config = AutoConfig.for_model(model_type, vocab_size=len(tokenizer), **sizes, **_labelled(labels), **overrides)
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


CLASSIFIERS: dict[str, Callable[[Path], Path]] = {
    "bert": lambda f: build_classifier(f, "bert"),
    "roberta": lambda f: build_classifier(f, "roberta", tokenizer_class="bpe"),
    "xlm-roberta-generic-labels": lambda f: build_classifier(f, "xlm-roberta", None, tokenizer_class="bpe"),
    "distilbert": lambda f: build_classifier(f, "distilbert", tokenizer_class="DistilBertTokenizer"),
    "deberta-v2": lambda f: build_classifier(f, "deberta-v2"),
    "electra": lambda f: build_classifier(f, "electra", tokenizer_class="ElectraTokenizer"),
    "albert-generic-labels": lambda f: build_classifier(f, "albert", None),
    "roberta-float16-sharded": stored_as(lambda f: build_classifier(f, "roberta", tokenizer_class="bpe"), "float16"),
}


# --- image classification -----------------------------------------------------------------------------


def build_image(folder: Path, model_type: str, processor: str, size: int = 32, labels: list[str] | None = None,
                **overrides) -> Path:  # fmt: skip
    """An image classifier of ``model_type`` with ``processor`` at ``size`` pixels."""
    import transformers
    from transformers import AutoConfig, AutoModelForImageClassification

    torch.manual_seed(0)
    labels = labels or tiny_models.IMAGE_LABELS
    config = AutoConfig.for_model(model_type, **_labelled(labels), **overrides)
    AutoModelForImageClassification.from_config(config).save_pretrained(folder)
    sized = {"height": size, "width": size} if processor != "ConvNextImageProcessor" else {"shortest_edge": size}
    if processor == "MobileNetV2ImageProcessor":
        getattr(transformers, processor)(size={"shortest_edge": size}, crop_size=sized).save_pretrained(folder)
    else:
        getattr(transformers, processor)(size=sized).save_pretrained(folder)
    return folder


IMAGES: dict[str, Callable[[Path], Path]] = {
    "vit": tiny_models.build_image_classifier,
    "convnext": lambda f: build_image(
        f, "convnext", "ConvNextImageProcessor", hidden_sizes=[8, 16], depths=[1, 1], num_stages=2
    ),
    "resnet": lambda f: build_image(
        f, "resnet", "ConvNextImageProcessor", size=40, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1]
    ),
    "swin": lambda f: build_image(
        f,
        "swin",
        "ViTImageProcessor",
        image_size=32,
        patch_size=4,
        embed_dim=8,
        depths=[1, 1],
        num_heads=[1, 2],
        window_size=4,
    ),
    "mobilenet_v2": lambda f: build_image(
        f, "mobilenet_v2", "MobileNetV2ImageProcessor", size=48, image_size=48, depth_multiplier=0.25
    ),
    "vit-grayscale": lambda f: build_image(
        f,
        "vit",
        "ViTImageProcessor",
        num_channels=1,
        image_size=32,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        **_LAYERS,
    ),
}


# --- sentence embeddings -----------------------------------------------------------------------------


def build_embedder(folder: Path, pooling: str, normalise: bool = False) -> Path:
    """A sentence-transformers folder: tiny BERT, ``pooling`` ("mean", "cls", "max"), maybe normalised."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    encoder = folder / "_encoder"
    tokenizer = _wordpiece(encoder)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, **_LAYERS,
                         max_position_embeddings=64)).save_pretrained(encoder)  # fmt: skip
    tokenizer.save_pretrained(encoder)
    transformer = models.Transformer(str(encoder), max_seq_length=64)
    modules = [transformer, models.Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)]
    if normalise:
        modules.append(models.Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(folder))
    return folder


EMBEDDERS: dict[str, Callable[[Path], Path]] = {
    "mean": lambda f: build_embedder(f, "mean"),
    "cls-normalised": lambda f: build_embedder(f, "cls", normalise=True),
    "max": lambda f: build_embedder(f, "max"),
}
