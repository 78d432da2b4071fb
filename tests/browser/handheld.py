"""What the browser tests do with a handheld page: scan into it, check it is accessible.

from tests.browser.handheld import serious_violations, type_scan
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

from benchmarks._live import type_scan

__all__ = ["BLOCKING_IMPACTS", "serious_violations", "type_scan"]

#: axe-core impacts that fail a page; "minor" and "moderate" ones are left to review.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def serious_violations(page: Any) -> list[str]:
    """Run axe-core on the page; one line per serious or critical violation, with its nodes."""
    results = Axe().run(page)
    return [
        "{id} ({impact}): {help} at {targets}".format(
            id=violation["id"],
            impact=violation["impact"],
            help=violation["help"],
            targets=", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"]),
        )
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]
