"""Inference for the live demos: one module per task, each pure (no streamlit) and typed.

Every task follows validate -> preprocess -> model -> postprocess and returns small dataclasses
with ``to_dict()``. ``loaded`` is a ``backend.models.loader.LoadedModel``; inputs are processed in
length- (or size-) sorted batches and results come back in the input order; ``progress`` is an
optional ``(done, total) -> None`` callback. The batch functions, for the pages and benchmarks:

- ``sentiment.classify(loaded, texts, batch_size=16, progress=None) -> list[Classification]``
- ``translation.translate(loaded, sentences, num_beams=1, batch_size=8, progress=None) -> list[Translated]``
- ``image_classification.classify_images(loaded, images, names=None, top_k=5, batch_size=8,
  progress=None) -> list[ImagePrediction]``
- ``text_generation.generate(loaded, prompts, options, batch_size=4, progress=None) -> list[Generated]``

Single-input functions add a ``RunFooter`` (device, model, latency, amount of work):
``sentiment.classify_text``, ``translation.translate_text`` (splits into sentences and re-joins),
``image_classification.classify_image`` and ``text_generation.stream_reply`` (streams the reply
from a background thread; stop it with a ``threading.Event``). Table batch modes:
``sentiment.classify_table``, ``translation.translate_table``, ``image_classification.classify_files``,
``text_generation.generate_table``, each returning ``tables.TableRun``.

A text-generation or embeddings model may instead be a ``backend.models.resolve.endpoints.RemoteModel``
(an OpenAI-compatible server the operator configured): ``text_generation`` and
``use_cases.embeddings`` hand it to ``remote`` (streamed chat, bounded-concurrency batches,
embeddings, errors in words), and the results are the same dataclasses.
"""
