"""Downloads from a real local hub: progress, one shared download, nothing half-done left behind."""

from __future__ import annotations

import dataclasses
import shutil
import threading

import pytest

from backend.errors import DownloadCancelledError, HubUnreachableError, ModelUnavailableError
from backend.models import loader
from backend.models.__main__ import main
from backend.models.fetch import download
from backend.models.fetch.download import download_model, download_quietly, is_downloaded, specs_to_download
from backend.models.resolve import catalogue
from tests.support.local_hub import TINY_REPO


def test_defaults_only_unless_all_requested():
    defaults = specs_to_download([catalogue.SENTIMENT], include_alternatives=False)
    assert [s.hub_id for s in defaults] == [catalogue.default_model(catalogue.SENTIMENT).hub_id]
    everything = specs_to_download([catalogue.SENTIMENT], include_alternatives=True)
    assert len(everything) == len(catalogue.models_for(catalogue.SENTIMENT))


def test_no_task_means_every_default_once():
    hub_ids = [s.hub_id for s in specs_to_download([], include_alternatives=False)]
    assert len(hub_ids) == len(set(hub_ids))
    assert set(hub_ids) == {s.hub_id for s in _defaults()}


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task"):
        specs_to_download(["speech"], include_alternatives=False)


def _leftovers(settings) -> list[str]:
    return sorted(p.name for p in settings.models_dir.iterdir())


def test_download_reports_progress_and_the_model_loads_from_its_folder(hub_settings, local_hub):
    events = []
    result = download_model(TINY_REPO, events.append, settings=hub_settings)
    assert result.ok and result.size_bytes > 0
    assert is_downloaded(TINY_REPO, hub_settings)
    assert _leftovers(hub_settings) == ["tiny-org--tiny-sentiment"]  # no partial folder, no .cache
    last = events[-1]
    assert last.state == "done" and last.done_bytes == last.total_bytes > 0 and last.fraction == 1.0
    assert "MB" in last.label()
    served = set(local_hub.files(TINY_REPO))
    assert {p.name for p in (hub_settings.models_dir / "tiny-org--tiny-sentiment").iterdir()} <= served
    loaded = loader.load_model(catalogue.SENTIMENT, TINY_REPO, hub_settings)
    assert loaded.source.endswith("tiny-org--tiny-sentiment")


def test_two_callers_share_one_download(hub_settings, local_hub):
    local_hub.chunk_delay_s = 0.002  # long enough for the second caller to arrive mid-download
    started = download.downloads_started()
    results, errors = [], []

    def fetch():
        try:
            results.append(download_model(TINY_REPO, settings=hub_settings))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == 2
    assert download.downloads_started() == started + 1
    assert local_hub.count("GET", "/resolve/") == len(local_hub.files(TINY_REPO))  # each file once
    assert local_hub.count("GET", "/api/models/") == 1


def test_a_transfer_cut_mid_file_leaves_no_folder_that_looks_complete(hub_settings, local_hub):
    local_hub.cut_files.add("model.safetensors")
    with pytest.raises(ModelUnavailableError) as caught:
        download_model(TINY_REPO, settings=hub_settings)
    assert "nothing was kept" in caught.value.message
    assert _leftovers(hub_settings) == []
    assert not is_downloaded(TINY_REPO, hub_settings)


def test_a_cancelled_download_leaves_nothing(hub_settings, local_hub):
    local_hub.chunk_delay_s = 0.01
    cancel = threading.Event()

    def cancel_once_bytes_flow(progress):
        if progress.done_bytes > 0:
            cancel.set()

    with pytest.raises(DownloadCancelledError):
        download_model(TINY_REPO, cancel_once_bytes_flow, cancel, settings=hub_settings)
    # Asking again at once starts afresh rather than joining the cancelled download.
    local_hub.chunk_delay_s = 0.0
    assert download_model(TINY_REPO, settings=hub_settings).ok
    shutil.rmtree(hub_settings.models_dir / "tiny-org--tiny-sentiment")
    # The cancelled worker stops at its next chunk and removes its partial folder.
    for _ in range(200):
        if not _leftovers(hub_settings):
            break
        threading.Event().wait(0.05)
    assert _leftovers(hub_settings) == []
    assert download.active_download(TINY_REPO) is None


def test_an_unknown_repo_is_a_clear_error(hub_settings):
    with pytest.raises(ModelUnavailableError, match="not found"):
        download_model("nobody/unknown-model", settings=hub_settings)


def test_download_offline_fails_at_once_with_the_offline_message(settings):
    with pytest.raises(HubUnreachableError) as caught:
        download_model(catalogue.default_model(catalogue.SENTIMENT), settings=settings)
    assert "without the Hugging Face Hub" in caught.value.message


def test_cli_exit_code_and_message_when_hub_unreachable(capsys):
    assert main(["download", catalogue.IMAGE_CLASSIFICATION]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "reachable" in captured.err


def test_cli_lists_the_catalogue(capsys):
    assert main(["list"]) == 0
    assert catalogue.default_model(catalogue.SENTIMENT).hub_id in capsys.readouterr().out


def _defaults() -> list[catalogue.ModelSpec]:
    return [spec for spec in catalogue.CATALOGUE if spec.default]


def test_cli_download_keeps_a_model_already_downloaded(hub_settings, local_hub):
    spec = dataclasses.replace(catalogue.default_model(catalogue.SENTIMENT), hub_id=TINY_REPO)
    assert download_quietly(spec, hub_settings).message == "downloaded"
    again = download_quietly(spec, hub_settings)
    assert again.ok and again.message == "already downloaded" and again.size_bytes > 0
    assert local_hub.count("GET", "/api/models/") == 1
