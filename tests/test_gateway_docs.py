"""docs/gateway.md must not drift from the gateway: its read matrix, its examples, its error
types and its webhook check are tested against the code."""

from __future__ import annotations

import json
import re
import runpy
import time
from pathlib import Path
from typing import Any

import pytest

from pathway.activities.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from pathway.domain.events import parse_event

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "gateway.md").read_text()


def webhook_check() -> Any:
    """The doc's verify_pathway_webhook, executed from the doc's own text."""
    block = re.search(r"<!-- webhook-verify:start -->\n```python\n(.*?)```", DOC, re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/gateway.md", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["verify_pathway_webhook"]


class TestGatewayDoc:
    def test_read_matrix_is_current(self) -> None:
        """The read-matrix table is what scripts/gen_doc_tables.py renders now (run it after
        changing READ_MATRIX)."""
        render = runpy.run_path(str(ROOT / "scripts" / "gen_doc_tables.py"))["render_gateway"]
        assert render(DOC) == DOC

    def test_curl_bodies_are_valid_events(self) -> None:
        """Every JSON body in a curl example is a valid event."""
        bodies = re.findall(r"-d '(\{.*?\})'", DOC, re.DOTALL)
        assert len(bodies) == 2
        for body in bodies:
            parse_event(json.loads(body))

    def test_every_problem_type_is_documented(self) -> None:
        """Every problem type the app can answer has a row in the errors table (the gateway's
        modules and the HTTP conventions it shares with the codec server, pathway/web)."""
        modules = [
            *(ROOT / "pathway" / "gateway").rglob("*.py"),
            *(ROOT / "pathway" / "web").rglob("*.py"),
        ]
        source = "\n".join(path.read_text() for path in sorted(modules))
        slugs = set(re.findall(r'Problem\(\s*\d+,\s*"([a-z-]+)"', source))
        slugs |= set(re.findall(r'unavailable\(\s*"([a-z-]+)"', source))
        assert slugs, "no problem types found in the app"
        for slug in slugs:
            assert f"`urn:pathway:problem:{slug}`" in DOC, slug


class TestWebhookCheck:
    """The doc's webhook check accepts what Pathway signs, and nothing else."""

    SECRET = b"shared-secret"
    BODY = b'{"case_id": "case-x", "reason": "case_identified"}'

    def headers(self, timestamp: str, body: bytes = BODY, secret: bytes = SECRET) -> dict[str, str]:
        return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}

    def test_accepts_a_genuine_notification(self) -> None:
        """A body signed by pathway.activities.notify.sign just now verifies."""
        verify = webhook_check()
        assert verify(self.SECRET, self.headers(str(int(time.time()))), self.BODY)

    @pytest.mark.parametrize("change", ["body", "secret", "stale", "no-timestamp"])
    def test_refuses_anything_else(self, change: str) -> None:
        """Another body, another secret, a ten-minute-old timestamp or none: refused."""
        verify = webhook_check()
        now = str(int(time.time()))
        headers = self.headers(
            str(int(time.time()) - 600) if change == "stale" else now,
            secret=b"other" if change == "secret" else self.SECRET,
        )
        if change == "no-timestamp":
            del headers[TIMESTAMP_HEADER]
        body = self.BODY + b" " if change == "body" else self.BODY
        assert not verify(self.SECRET, headers, body)
