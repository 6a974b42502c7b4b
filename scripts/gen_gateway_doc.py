"""Write the read-matrix table of docs/gateway.md from ``pathway.access.policy.READ_MATRIX``.
``tests/test_gateway_docs.py`` fails when the table is stale.

Run: ``python scripts/gen_gateway_doc.py`` (rewrites the table between its markers).
"""

from __future__ import annotations

import re
from pathlib import Path

from pathway.access.policy import read_matrix_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "gateway.md"
SECTION = re.compile(
    r"(<!-- read-matrix:start[^>]*-->\n)(.*?)(<!-- read-matrix:end -->)", re.DOTALL
)


def render(text: str) -> str:
    """``text`` (the doc) with its read-matrix table regenerated."""
    return SECTION.sub(lambda m: m.group(1) + read_matrix_markdown() + m.group(3), text)


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
