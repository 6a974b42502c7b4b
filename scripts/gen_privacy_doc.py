"""Write the who-sees-what table of docs/privacy.md from ``pathway.access.policy``
(:func:`~pathway.access.policy.who_sees_what_markdown`). ``tests/test_codec_filtering.py``
fails when the table is stale.

Run: ``python scripts/gen_privacy_doc.py`` (rewrites the table between its markers).
"""

from __future__ import annotations

import re
from pathlib import Path

from pathway.access.policy import who_sees_what_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "privacy.md"
SECTION = re.compile(
    r"(<!-- who-sees-what:start[^>]*-->\n)(.*?)(<!-- who-sees-what:end -->)", re.DOTALL
)


def render(text: str) -> str:
    """``text`` (the doc) with its who-sees-what table regenerated."""
    return SECTION.sub(lambda m: m.group(1) + who_sees_what_markdown() + m.group(3), text)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
