import pytest

from backend.models import catalog
from backend.models.__main__ import main
from backend.models.download import download_model, specs_to_download


def test_defaults_only_unless_all_requested():
    defaults = specs_to_download([catalog.SENTIMENT], include_alternatives=False)
    assert [s.hub_id for s in defaults] == [catalog.default_model(catalog.SENTIMENT).hub_id]
    everything = specs_to_download([catalog.SENTIMENT], include_alternatives=True)
    assert len(everything) == len(catalog.models_for(catalog.SENTIMENT))


def test_no_task_means_every_default_once():
    hub_ids = [s.hub_id for s in specs_to_download([], include_alternatives=False)]
    assert len(hub_ids) == len(set(hub_ids))
    assert set(hub_ids) == {s.hub_id for s in _defaults()}


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task"):
        specs_to_download(["speech"], include_alternatives=False)


def test_download_offline_reports_failure_without_raising(settings):
    result = download_model(catalog.default_model(catalog.SENTIMENT), settings)
    assert not result.ok and result.message


def test_cli_exit_code_and_message_when_hub_unreachable(capsys):
    assert main(["download", catalog.IMAGE_CLASSIFICATION]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "reachable" in captured.err


def test_cli_lists_the_catalogue(capsys):
    assert main(["list"]) == 0
    assert catalog.default_model(catalog.SENTIMENT).hub_id in capsys.readouterr().out


def _defaults() -> list[catalog.ModelSpec]:
    return [spec for spec in catalog.CATALOGUE if spec.default]
