"""One rule for a missing test dependency (Elasticsearch, PostgreSQL, a browser, an npm client).

Under ``CI=true`` the test fails: CI must never pass by skipping what it was meant to run.
Elsewhere it is skipped with the reason, so a developer without that part can run the rest.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    """Fail (CI) or skip (elsewhere) because a part the test needs is not there."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a test must not skip because a part is missing)")
    pytest.skip(reason)
