"""Tiny, randomly initialised models of every architecture the app runs, built from configs.

They are saved to folders so the real ``from_pretrained`` path is exercised, the way the
transformers test-suite does it: hidden size 32, two layers, tokenizers trained or written here.
Nothing is downloaded. Benchmarks and the browser tests reuse these builders.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

# Mixed English and Chinese text so tokenizers cover both scripts.
CORPUS = [
    "I love this product, it works great.",
    "This is the worst service I have ever had.",
    "The weather is fine today and the model is fast.",
    "Large models are changing every industry.",
    "Translation between English and Chinese is useful.",
    "我非常喜欢这个产品，效果很好。",
    "这是我遇到过的最差的服务。",
    "大模型正在改变各行各业。",
    "今天天气很好，模型运行很快。",
    "机器翻译在英语和中文之间很有用。",
    "Fraud detection in card payments uses machine learning.",
    "金融风控和医疗诊断是人工智能的重要应用。",
]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
IMAGE_LABELS = ["cat", "dog", "bird", "car", "plane"]
_SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37}


def _seed() -> None:
    torch.manual_seed(0)


def _write_bert_vocab(folder: Path) -> Path:
    words: list[str] = []
    for sentence in CORPUS:
        for token in sentence.lower().replace(",", " , ").replace(".", " . ").split():
            words.append(token)
        words.extend(ch for ch in sentence if "\u4e00" <= ch <= "\u9fff" or ch in "，。")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words))]
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


def build_bert_tokenizer(folder: Path):
    """A WordPiece tokenizer over the corpus' words and Chinese characters."""
    from transformers import BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = _write_bert_vocab(folder)
    # transformers 5 takes the vocabulary as `vocab`; `vocab_file` is silently ignored (all [UNK]).
    return BertTokenizer(vocab=str(vocab), model_max_length=64)


def build_text_classifier(folder: Path, labels: list[str] | None = None) -> Path:
    """A BERT sequence classifier (the sentiment demo and the fine-tuning base)."""
    from transformers import BertConfig, BertForSequenceClassification

    _seed()
    labels = labels or SENTIMENT_LABELS
    tokenizer = build_bert_tokenizer(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        **_SMALL,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_sentence_embedder(folder: Path) -> Path:
    """A sentence-transformers model: tiny BERT plus mean pooling."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    _seed()
    encoder_dir = folder / "_encoder"
    tokenizer = build_bert_tokenizer(encoder_dir)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=64, **_SMALL)).save_pretrained(
        encoder_dir
    )
    tokenizer.save_pretrained(encoder_dir)
    transformer = models.Transformer(str(encoder_dir), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder))
    return folder


def _train_bpe(special_tokens: list[str], vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 3, trainer=trainer)
    return tokenizer


_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_chat_model(folder: Path, initializer_range: float = 0.02) -> Path:
    """A Qwen2 causal LM with a byte-level BPE tokenizer and a ChatML chat template.

    ``initializer_range`` scales the random weights; chat-tuning tests raise it so the tied
    embeddings are as large as a pretrained model's and LoRA alone can make a token likely
    (at 0.02 and hidden size 32 no logit can exceed about 0.7, whatever the adapters do).
    """
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    _seed()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(specials),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        model_max_length=256,
    )
    tokenizer.chat_template = _CHAT_TEMPLATE
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=37,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_chat_model_of(folder: Path, family: str = "llama", **overrides) -> Path:
    """A float32 chat model of ``family`` ("llama", "mistral" or "qwen2") whose widths take 8-bit
    blocks of 32 and whose logits are well spread (``initializer_range`` 0.2), with grouped-query
    attention, the tiny chat tokenizer and the ChatML template; ``overrides`` go to its config."""
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    _seed()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(specials), eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token=None, model_max_length=256,
    )  # fmt: skip
    tokenizer.chat_template = _CHAT_TEMPLATE
    options = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id, "bos_token_id": None,
        "tie_word_embeddings": True, "initializer_range": 0.2,
    }  # fmt: skip
    config = AutoConfig.for_model(family, **{**options, **overrides})
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_translator(folder: Path) -> Path:
    """A MarianMT encoder-decoder with a byte-level BPE tokenizer shared by both sides."""
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    _seed()
    specials = ["<pad>", "</s>", "<unk>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(specials),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=128,
    )
    from tokenizers import processors

    backend = tokenizer.backend_tokenizer
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", tokenizer.eos_token_id)]
    )
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = MarianMTModel(config)
    model.generation_config.max_length = 64
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_opus_layout_translator(folder: Path) -> Path:
    """A MarianMT model with OPUS-MT's vocabulary layout ("</s>" 0, "<unk>" 1, "<pad>" last, which
    is also the decoder's start token), the layout CTranslate2's converter expects."""
    from tokenizers import processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    _seed()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(["</s>", "<unk>"]), eos_token="</s>", unk_token="<unk>", model_max_length=128
    )
    tokenizer.add_special_tokens({"pad_token": "<pad>"})
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", tokenizer.eos_token_id)]
    )
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=128,
        pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=eos,
    )  # fmt: skip
    model = MarianMTModel(config)
    model.generation_config.max_length = 64
    model.generation_config.bad_words_ids = [[pad]]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_image_classifier(folder: Path, labels: list[str] | None = None) -> Path:
    """A ViT image classifier on 32x32 inputs with its image processor."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    _seed()
    labels = labels or IMAGE_LABELS
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        **_SMALL,
    )
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


BUILDERS = {
    "sentiment": build_text_classifier,
    "translation": build_translator,
    "image-classification": build_image_classifier,
    "text-generation": build_chat_model,
    "embeddings": build_sentence_embedder,
    "text-classifier-base": build_text_classifier,
    "image-classifier-base": build_image_classifier,
}


def build_all(root: Path) -> dict[str, Path]:
    """Build one tiny model per task under ``root``; returns task -> folder."""
    folders = {}
    for task, builder in BUILDERS.items():
        folders[task] = builder(root / task)
    (root / "tiny-models.json").write_text(json.dumps({t: str(p) for t, p in folders.items()}, indent=2))
    return folders
