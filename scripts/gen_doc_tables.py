"""Write the tables that docs/gateway.md and docs/privacy.md generate from
``pathway.access.policy``: the read matrix (:func:`~pathway.access.policy.read_matrix_markdown`)
and who sees what (:func:`~pathway.access.policy.who_sees_what_markdown`), and docs/settings.md's
reference of every setting (:func:`~pathway.settings.settings_markdown`). Each sits between
``<!-- NAME:start … -->`` and ``<!-- NAME:end -->``; ``tests/test_gateway_docs.py``,
``tests/test_codec_filtering.py`` and ``tests/test_settings.py`` fail when one is stale.

Run: ``python scripts/gen_doc_tables.py`` (rewrites the tables between their markers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pathway.access.policy import read_matrix_markdown, who_sees_what_markdown
from pathway.settings import settings_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _section(marker: str, body: Callable[[], str]) -> Callable[[str], str]:
    """A function that regenerates the ``marker`` section of a doc's text with ``body()``."""
    pattern = re.compile(rf"(<!-- {marker}:start[^>]*-->\n)(.*?)(<!-- {marker}:end -->)", re.DOTALL)
    return lambda text: pattern.sub(lambda m: m.group(1) + body() + m.group(3), text)


#: docs/gateway.md with its read-matrix table regenerated.
render_gateway = _section("read-matrix", read_matrix_markdown)
#: docs/privacy.md with its who-sees-what table regenerated.
render_privacy = _section("who-sees-what", who_sees_what_markdown)
#: docs/settings.md with its reference table regenerated.
render_settings = _section("settings", settings_markdown)


if __name__ == "__main__":
    for doc, render in (
        (DOCS / "gateway.md", render_gateway),
        (DOCS / "privacy.md", render_privacy),
        (DOCS / "settings.md", render_settings),
    ):
        doc.write_text(render(doc.read_text()))
