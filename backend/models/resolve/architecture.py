"""Whether a model folder's architecture can do a task here, from its config.json alone: the one
place a model of the wrong kind (a T5 picked as a chat model, a BERT as a translator), one that
needs its own Python code, one the installed transformers does not know, an image model that is
not fed colour images, or a chat model without a chat template is refused before anything loads.

Without this check each of them reached ``from_pretrained`` and came back as "the folder could
not be read, it may be corrupt": a wrong answer to a question the config already answers.
"""

from __future__ import annotations

import json
from pathlib import Path

from backend.errors import ModelLoadError
from backend.i18n import _, ngettext
from backend.models.resolve import catalogue
from backend.models.resolve.engine_choice import EMBEDDING_HEAD_FILE

# Task -> (transformers model class, preprocessor class), by name so transformers loads lazily.
AUTO_CLASSES = {
    catalogue.SENTIMENT: ("AutoModelForSequenceClassification", "AutoTokenizer"),
    catalogue.TEXT_CLASSIFIER_BASE: ("AutoModelForSequenceClassification", "AutoTokenizer"),
    catalogue.TRANSLATION: ("AutoModelForSeq2SeqLM", "AutoTokenizer"),
    catalogue.IMAGE_CLASSIFICATION: ("AutoModelForImageClassification", "AutoImageProcessor"),
    catalogue.IMAGE_CLASSIFIER_BASE: ("AutoModelForImageClassification", "AutoImageProcessor"),
    catalogue.TEXT_GENERATION: ("AutoModelForCausalLM", "AutoTokenizer"),
}
# What a task's head does, for refusals' messages.
TASK_PURPOSE = {
    catalogue.SENTIMENT: "sentiment (its classifier head)",
    catalogue.TEXT_CLASSIFIER_BASE: "text classification (its classifier head)",
    catalogue.IMAGE_CLASSIFICATION: "image classification (its classifier head)",
    catalogue.IMAGE_CLASSIFIER_BASE: "image classification (its classifier head)",
    catalogue.TRANSLATION: "translation",
    catalogue.TEXT_GENERATION: "text generation (its language-model head)",
}
# Families a user can pick instead, named in the refusal.
_EXAMPLES = {
    catalogue.SENTIMENT: "BERT, RoBERTa, XLM-RoBERTa, DistilBERT, DeBERTa-v2, ELECTRA, ALBERT",
    catalogue.TEXT_CLASSIFIER_BASE: "BERT, RoBERTa, XLM-RoBERTa, DistilBERT, DeBERTa-v2, ELECTRA, ALBERT",
    catalogue.TRANSLATION: "Marian (OPUS-MT), M2M100, NLLB, T5, mT5, mBART",
    catalogue.IMAGE_CLASSIFICATION: "ViT, ConvNeXt, ResNet, Swin, MobileNetV2",
    catalogue.IMAGE_CLASSIFIER_BASE: "ViT, ConvNeXt, ResNet, Swin, MobileNetV2",
    catalogue.TEXT_GENERATION: "Llama, Qwen, Gemma, Mistral, Phi-3, GPT-2, GPT-NeoX, OPT",
}
_LANGUAGE_MODEL_HEADS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
_IMAGE_TASKS = (catalogue.IMAGE_CLASSIFICATION, catalogue.IMAGE_CLASSIFIER_BASE)
# The image processors of every supported family turn an upload into three colour channels.
_IMAGE_CHANNELS = 3


def _json(file: Path) -> dict:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def has_chat_template(folder: Path) -> bool:
    """Whether the tokenizer saved in ``folder`` carries a chat template (in its own file, as
    transformers 5 writes it, or inside tokenizer_config.json, as earlier versions did)."""
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    return bool(_json(folder / "tokenizer_config.json").get("chat_template"))


def _known_model_types(auto_class_name: str) -> tuple[set[str], set[str]]:
    """Every model type the installed transformers knows, and those ``auto_class_name`` runs."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    mapping = getattr(transformers, auto_class_name)._model_mapping
    return set(CONFIG_MAPPING_NAMES), set(mapping._model_mapping) | {c.model_type for c in mapping._extra_content}


def check_architecture(task: str, folder: Path, shown: str, *, training: bool = False) -> None:
    """Refuse ``folder`` for ``task`` when its config says the task cannot run it here.

    Args:
        task: a task name from ``catalogue.TASKS``; tasks without a transformers class pass.
        folder: the model folder (its config.json is read, nothing else that is large).
        shown: the model's name as the user may see it.
        training: a fine-tuning plan (a chat model to tune may lack a template until the data check).

    Raises:
        ModelLoadError: saying in words what kind of model it is and what to pick instead.
    """
    if task not in AUTO_CLASSES or (folder / EMBEDDING_HEAD_FILE).is_file():
        return  # a fast-mode fine-tune is an encoder plus a linear head, not a transformers class
    config = _json(folder / "config.json")
    model_type = str(config.get("model_type") or "")
    known, runnable = _known_model_types(AUTO_CLASSES[task][0])
    examples = _("Pick a model of a family this task runs, such as {examples}.").format(examples=_EXAMPLES[task])
    if model_type not in known:
        if config.get("auto_map"):
            raise ModelLoadError(
                _(
                    "{shown} needs its own Python code to run (a {model_type!r} model), and this app never "
                    "runs code that comes with a model."
                ).format(shown=shown, model_type=model_type or "?"),
                examples,
            )
        raise ModelLoadError(
            _("{shown} is a {model_type!r} model, which the installed transformers library does not know.").format(
                shown=shown, model_type=model_type or "?"
            ),
            examples,
            "A newer transformers may know it (requirements.txt).",
        )
    if model_type not in runnable:
        raise ModelLoadError(
            _("{shown} is a {model_type!r} model, which cannot do {purpose}.").format(
                shown=shown, model_type=model_type, purpose=TASK_PURPOSE[task]
            ),
            examples,
        )
    channels = config.get("num_channels", _IMAGE_CHANNELS)
    if task in _IMAGE_TASKS and channels != _IMAGE_CHANNELS:
        raise ModelLoadError(
            ngettext(
                "{shown} reads images of {channels} channel; the app gives it colour images of 3.",
                "{shown} reads images of {channels} channels; the app gives it colour images of 3.",
                channels if isinstance(channels, int) else 0,
            ).format(shown=shown, channels=channels),
            examples,
        )
    # A checkpoint of another head (a sentence encoder) is left to the stored-weights check, which
    # names what it lacks; a language model without a template can never hold a conversation.
    declared = config.get("architectures") or []
    language_model = not declared or any(str(name).endswith(_LANGUAGE_MODEL_HEADS) for name in declared)
    if task == catalogue.TEXT_GENERATION and not training and language_model and not has_chat_template(folder):
        raise ModelLoadError(
            _("{model_ref} has no chat template, so it cannot hold a conversation.").format(model_ref=shown),
            _("Pick an instruct or chat model."),
        )
