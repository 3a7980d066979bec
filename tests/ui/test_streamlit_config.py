"""What .streamlit/config.toml promises a presenter's audience."""

from __future__ import annotations

import tomllib

from tests.support.paths import PROJECT_ROOT


def test_the_deploy_button_and_developer_menu_are_hidden():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["toolbarMode"] in {"minimal", "viewer"}


def test_tables_offer_no_download_that_skips_the_formula_escaping():
    # Streamlit's table toolbar writes "=HYPERLINK(...)" cells unescaped; the app's downloads escape them.
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["disableDataExport"] is True
