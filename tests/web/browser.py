"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, and axe-core from npm.

Playwright never downloads a browser here: it launches the system Chromium by path. When
Chromium or axe-core is missing, a browser test *fails* under ``CI=true`` (bin/setup
installs both) and is skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.needs import missing

CHROMIUM = Path(os.environ.get("INNONET_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NPM_PREFIX = Path(os.environ.get("INNONET_NPM_PREFIX", Path.home() / ".cache" / "innonet" / "npm"))
AXE = NPM_PREFIX / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def need(path: Path, what: str) -> None:
    """Fail under CI, skip elsewhere, when a browser-test tool is missing."""
    if path.exists():
        return
    missing(f"{what} missing at {path} (bin/setup --test-tools installs it)")


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) in the page; return violations of these impacts.

    axe is evaluated through the DevTools protocol, not as an inline <script>, so the page's
    Content-Security-Policy stays in force while it runs.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
