"""Model references and folders from users: no remote code, no pickles, no escape, clear messages."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch

from backend.errors import HubUnreachableError, InsufficientMemoryError, ModelUnavailableError, UnsafeModelError
from backend.models import loader
from backend.models.fetch import hub
from backend.models.resolve import catalogue
from tests.support.local_hub import LocalHub


@pytest.fixture
def hostile_folder(settings, tiny_model_paths):
    """A copy of the tiny classifier whose config asks for custom code that would leave a mark."""
    folder = settings.models_dir / "hostile-remote-code"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny_model_paths["sentiment"], folder)
    marker = folder / "code-ran.txt"
    (folder / "evil_model.py").write_text(
        f"open({str(marker)!r}, 'w').write('pwned')\n"
        "from transformers import BertForSequenceClassification as EvilModel\n",
        encoding="utf-8",
    )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil_model.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    yield folder, marker
    shutil.rmtree(folder, ignore_errors=True)


def test_remote_code_in_a_model_folder_never_runs(hostile_folder, settings):
    folder, marker = hostile_folder
    try:
        loaded = loader.load_model(catalogue.SENTIMENT, str(folder), settings)
    except Exception as error:  # noqa: BLE001 - refusing is as good as ignoring the code
        assert "Traceback" not in str(error)
    else:
        assert type(loaded.model).__name__ == "BertForSequenceClassification"
    assert not marker.exists()


def test_pickle_weights_are_refused_before_loading(settings, tiny_model_paths):
    folder = settings.models_dir / "pickled"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny_model_paths["sentiment"], folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    torch.save({"weights": torch.zeros(2)}, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeModelError, match="pickle"):
        loader.load_model(catalogue.SENTIMENT, str(folder), settings)


@pytest.mark.parametrize(
    "ref",
    ["../../etc", "/etc", "~/.ssh", "models/../../etc", "org/../../name", "a" * 500, "x\x00y", "..", ""],
)
def test_references_that_leave_the_models_folder_are_refused(settings, ref):
    with pytest.raises((UnsafeModelError, ModelUnavailableError)):
        loader.load_model(catalogue.SENTIMENT, ref, settings)


def test_a_hub_that_drops_mid_load_gives_the_offline_hint_and_is_then_avoided(settings, monkeypatch):
    hub.forget()
    with LocalHub({}) as answering:  # the probe finds the hub; the load itself then loses it
        online = dataclasses.replace(settings, offline=False, hub_endpoint=answering.endpoint)

        def no_network(*args, **kwargs):
            raise OSError("We couldn't connect to 'https://huggingface.co' to load the files (ConnectionError)")

        monkeypatch.setattr(loader, "_load_components", no_network)
        with pytest.raises(ModelUnavailableError) as caught:
            loader.load_model(catalogue.SENTIMENT, "someone/not-mirrored", online)
        error = caught.value
        assert "could not be fetched" in error.user_text() and "Models page" in error.user_text()
        assert "python -m backend.models download" in error.detail and "LSM_OFFLINE=1" in error.detail
        with pytest.raises(HubUnreachableError):  # remembered: the next model fails at once
            loader.load_model(catalogue.TRANSLATION, "someone/other-model", online)
    hub.forget()


def test_out_of_memory_while_loading_is_a_readable_error(settings, tiny_model_paths, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB")

    monkeypatch.setattr(loader, "_load_components", out_of_memory)
    with pytest.raises(InsufficientMemoryError) as caught:
        loader.load_model(catalogue.SENTIMENT, tiny_model_paths["sentiment"], settings)
    assert "Not enough memory" in caught.value.user_text()
    assert "smaller model" in caught.value.user_text()
