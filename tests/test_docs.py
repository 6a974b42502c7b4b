"""The documentation is generated from the code and must not drift from it."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class TestEventsDoc:
    def test_events_doc_is_current(self) -> None:
        """docs/events.md is exactly what scripts/gen_events_doc.py renders now (run it after
        changing an event)."""
        render = runpy.run_path(str(ROOT / "scripts" / "gen_events_doc.py"))["render"]
        assert (ROOT / "docs" / "events.md").read_text() == render()

    def test_every_event_type_is_documented(self) -> None:
        """Every event type has a section with a JSON example."""
        from pathway.domain.events import EVENT_TYPES

        text = (ROOT / "docs" / "events.md").read_text()
        for type_ in EVENT_TYPES:
            assert f"## `{type_}`" in text
            assert f'"type": "{type_}"' in text
