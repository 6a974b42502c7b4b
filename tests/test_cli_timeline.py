"""``pathway case timeline CASE_ID --out FILE.svg|png`` (issue 17 item 3) against a real dev
server with the real workers (:func:`tests.test_cli.service`): the picture of the case as the
operator reads it, as SVG and as PNG; a bad extension or an unknown case is one line and its
exit code, and writes nothing."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pathway import cli
from tests import test_cli
from tests.receivers import eventually
from tests.test_cli import IDENTIFIED, now, pathway, write
from tests.test_cli_input import run

#: A dev server of its own with every worker, as the other case-command tests use it.
service = test_cli.service

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ACTOR = "CANARY-actor-timeline"
REASON = "CANARY-reason-timeline"


async def settled_view(case_id: str) -> dict[str, object]:
    """The case as ``case show --json`` prints it once no notification is pending (so that
    its timeline gets no more delivery entries while the picture is drawn)."""

    async def shown() -> dict[str, object]:
        code, out, _ = await pathway("case", "show", case_id, "--json")
        assert code == 0
        state: dict[str, object] = json.loads(out)
        return {} if state["pending_notifications"] else state

    return await eventually(shown)


@pytest.mark.devserver
class TestCaseTimeline:
    async def test_svg_and_png_of_a_real_case(self, service: Path, tmp_path: Path) -> None:
        """A case opened and sent an event through the CLI is drawn to .svg (one tick per
        timeline entry, one marker per deadline, its phase band, the today line; neither the
        actor nor the reason) and to .png (a PNG); a file that cannot be written is exit 2
        naming it; an unknown case is exit 4 and no file."""
        code, out, _ = await pathway(
            "case",
            "open",
            write(tmp_path, "id.json", {**IDENTIFIED, "occurred_at": now().isoformat()}),
        )
        assert code == 0
        case_id = out.strip()
        ngo = {
            "type": "ngo_interview_held",
            "event_id": "timeline-2",
            "organisation": "caritas",
            "occurred_at": now().isoformat(),
            "language": "de",
            "interpreter_used": False,
            "actor": ACTOR,
            "reason": REASON,
        }
        code, _, err = await pathway("case", "event", case_id, write(tmp_path, "ngo.json", ngo))
        assert code == 0, err
        state = await settled_view(case_id)
        svg_file, png_file = tmp_path / "case.svg", tmp_path / "case.PNG"
        code, out, err = await pathway("case", "timeline", case_id, "--out", str(svg_file))
        assert (code, err) == (0, "")
        assert out == (
            f"wrote the timeline of {case_id} to {svg_file} (svg, times Europe/Ljubljana)\n"
        )
        svg = svg_file.read_text(encoding="utf-8")
        root = ET.fromstring(svg)  # noqa: S314 - the picture the command just wrote
        ids = [e.get("id", "") for e in root.iter() if e.get("id", "").startswith("timeline-")]
        timeline = state["timeline"]
        deadlines = state["deadlines"]
        assert isinstance(timeline, list) and isinstance(deadlines, dict)
        assert [i for i in ids if i.startswith("timeline-event-")] == [
            f"timeline-event-{n}" for n in range(len(timeline))
        ]
        assert {"identified", "ngo interview held"} <= {t["what"] for t in timeline}
        assert {i for i in ids if i.startswith("timeline-deadline-")} == {
            f"timeline-deadline-{kind}" for kind in deadlines
        }
        assert deadlines, "an identified case has R3's deadline at least"
        assert [i for i in ids if i.startswith("timeline-phase-")] == ["timeline-phase-0"]
        assert "timeline-today" in ids
        assert ACTOR not in svg and REASON not in svg and "cli-person" not in svg

        code, out, err = await pathway("case", "timeline", case_id, "--out", str(png_file))
        assert (code, err) == (0, "")
        assert png_file.read_bytes().startswith(PNG_MAGIC)
        assert "(png, times Europe/Ljubljana)" in out

        nowhere = tmp_path / "no" / "such" / "case.svg"
        code, out, err = await pathway("case", "timeline", case_id, "--out", str(nowhere))
        assert code == cli.EXIT_BAD_INPUT and out == ""
        assert err == f"error: --out {nowhere} cannot be written: No such file or directory\n"

        missing = tmp_path / "none.svg"
        code, out, err = await pathway("case", "timeline", "case-unknown", "--out", str(missing))
        assert code == cli.EXIT_UNKNOWN_CASE and out == ""
        assert err.count("\n") == 1 and "case-unknown" in err
        assert not missing.exists()


class TestBadOut:
    @pytest.mark.parametrize("name", ["case.pdf", "case", "case.svg.txt"])
    def test_another_extension_is_one_line_exit_2(
        self, cli_state: Path, tmp_path: Path, name: str
    ) -> None:
        """--out with another extension than .svg or .png is one line naming --out, exit 2,
        before anything is read (no Temporal is running here) or written."""
        target = tmp_path / name
        code, out, err = run(
            "--address", "127.0.0.1:1", "case", "timeline", "case-abc", "--out", str(target)
        )
        assert code == cli.EXIT_BAD_INPUT and out == ""
        assert err.startswith(f"error: --out {target}: the picture is written as .svg or .png")
        assert err.count("\n") == 1
        assert not target.exists()
