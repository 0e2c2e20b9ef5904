"""Docs stay true: every setting is documented, and the README names the two commands CI uses."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`INNONET_{name.upper()}`" not in text]
    assert not missing, f"add these to docs/settings.md: {missing}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "bin/demo" in readme
    assert "bin/test" in readme
    ci = [
        line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert ci[-1] == "bin/test"
    assert "```sh\nbin/test\n```" in readme
