"""The timeline picture of a case (issue 17 item 3, :mod:`pathway.timeline_svg`): parsed as XML,
one band per phase the case went through, one marker per deadline and per reminder, one tick per
timeline entry, rejected events as their own marks, the today line; only what the role may read
(R6), and no personal value anywhere in it."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import pytest

from pathway.access.policy import case_view
from pathway.domain.state import CaseState, TimelineEntry
from pathway.timeline_svg import REJECTED_COLOUR, TITLE, timeline_png, timeline_svg
from tests.factories import ALL_SUBJECTS, T0, TCN_ILLEGAL, accept, days, event, opened
from tests.test_rejections import case_with_rejections

SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
NOW = T0 + days(5)


def parsed(svg: str) -> dict[str, ET.Element]:
    """The picture's elements that carry one of the module's IDs, by ID."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to test it
    assert root.tag == f"{SVG_NS}svg"
    return {
        element.get("id", ""): element
        for element in root.iter()
        if element.get("id", "").startswith("timeline-")
    }


def named(elements: dict[str, ET.Element], kind: str) -> list[str]:
    """The IDs ``timeline-<kind>-<n>`` (or ``-<kind>-<name>``), in document order."""
    pattern = re.compile(rf"timeline-{kind}-[a-z0-9_-]+")
    return [name for name in elements if pattern.fullmatch(name)]


def marker_x(element: ET.Element) -> float:
    """Where a marker (a ``<use>`` of its glyph) is drawn, in SVG units."""
    uses = list(element.iter(f"{SVG_NS}use"))
    assert len(uses) == 1, ET.tostring(element)
    return float(uses[0].get("x", "nan"))


def path_xs(element: ET.Element) -> list[float]:
    """The x coordinates of a drawn path (a band, the today line)."""
    paths = list(element.iter(f"{SVG_NS}path"))
    assert len(paths) == 1, ET.tostring(element)
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", paths[0].get("d", ""))]
    return numbers[0::2]


def text_of(element: ET.Element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{SVG_NS}text"))


def texts_of(svg: str) -> str:
    """Every text of the picture, joined by spaces."""
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter())  # noqa: S314


def walked() -> tuple[CaseState, list[str]]:
    """A case through six phases (the exit and the return into assistance included, and a
    placement that changes no phase), and the phases the domain put it in, one per change."""
    phases: list[str] = []
    state = opened(at=T0)
    phases.append(state.phase.value)
    for type_, at, fields in (
        ("crisis_accommodation_placed", T0 + days(1), {}),
        ("safe_accommodation_placed", T0 + days(20), {}),
        ("safe_accommodation_ended", T0 + days(25), {}),
        # No new phase: crisis accommodation enters reflection only from identified or an exit.
        ("crisis_accommodation_placed", T0 + days(27), {}),
        ("departed", T0 + days(30), {"arbitrary": False}),
        ("crisis_accommodation_placed", T0 + days(35), {}),
        ("returned_home", T0 + days(40), {}),
    ):
        state = accept(state, event(type_, at, **fields))
        if state.phase.value != phases[-1]:
            phases.append(state.phase.value)
    return state, phases


def with_deadlines() -> CaseState:
    """A third-country national in crisis accommodation with a permit to stay: deadlines of R3,
    K1, K5, S1 and K7, most with a reminder."""
    state = opened(TCN_ILLEGAL, at=T0)
    state = accept(state, event("ngo_interview_held", T0 + timedelta(hours=2)))
    state = accept(state, event("crisis_accommodation_placed", T0 + days(1)))
    return accept(
        state,
        event(
            "permit_to_stay_granted",
            T0 + days(2),
            valid_from=(T0 + days(1)).date().isoformat(),
            basis="ex_officio",
        ),
    )


class TestElements:
    def test_one_band_per_phase_in_order(self) -> None:
        """Each phase the case went through is one band, in the order the domain moved it,
        each band starting where the one before ended, the last one ending at today."""
        state, phases = walked()
        now = T0 + days(50)
        found = parsed(timeline_svg(case_view(state, "caritas"), now=now))
        bands = named(found, "phase")
        assert len(bands) == len(phases) == 6
        assert [text_of(found[f"timeline-label-phase-{n}"]) for n in range(6)] == [
            p.replace("_", " ") for p in phases
        ]
        extents = [(min(path_xs(found[b])), max(path_xs(found[b]))) for b in bands]
        for (_, end), (start, _) in itertools.pairwise(extents):
            assert start == pytest.approx(end, abs=0.01)
        assert extents[-1][1] == pytest.approx(path_xs(found["timeline-today"])[0], abs=0.01)

    def test_one_marker_per_deadline_and_reminder(self) -> None:
        """Every deadline of the view has its marker and every reminder its own; a sent
        reminder is filled, a pending one hollow; a deadline lies right of its reminders."""
        view = case_view(with_deadlines(), "caritas")
        deadlines = view["deadlines"]
        assert len(deadlines) >= 4
        kind = next(k for k, d in deadlines.items() if d["reminders"])
        deadlines[kind]["reminders"].append({**deadlines[kind]["reminders"][0], "sent": True})
        found = parsed(timeline_svg(view, now=NOW))
        assert set(named(found, "deadline")) == {f"timeline-deadline-{k}" for k in deadlines}
        expected = {
            f"timeline-reminder-{k}-{n}"
            for k, d in deadlines.items()
            for n in range(len(d["reminders"]))
        }
        assert set(named(found, "reminder")) == expected
        assert len(expected) >= 4
        for k, d in deadlines.items():
            for n in range(len(d["reminders"])):
                reminder = found[f"timeline-reminder-{k}-{n}"]
                assert marker_x(reminder) < marker_x(found[f"timeline-deadline-{k}"])
        pending = found[f"timeline-reminder-{kind}-0"]
        sent = found[f"timeline-reminder-{kind}-1"]
        assert "fill: #ffffff" in ET.tostring(pending, encoding="unicode")
        assert "fill: #ffffff" not in ET.tostring(sent, encoding="unicode")

    def test_one_tick_per_timeline_entry_in_time_order(self) -> None:
        """Every entry of the view's timeline is one tick, left to right in time; its row is
        labelled with the event type and the rules it cited."""
        view = case_view(with_deadlines(), "caritas")
        entries = view["timeline"]
        found = parsed(timeline_svg(view, now=NOW))
        ticks = named(found, "event")
        assert ticks == [f"timeline-event-{n}" for n in range(len(entries))]
        assert len(ticks) == 4
        xs = [marker_x(found[t]) for t in ticks]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
        texts = texts_of(timeline_svg(view, now=NOW))
        assert "permit to stay granted (K7)" in texts
        assert "crisis accommodation placed (K1, K2)" in texts

    def test_rejected_events_are_marked(self) -> None:
        """A rejected event is a red cross of its own, not a tick, in its type's row, at its
        time; the accepted entries keep their ticks."""
        view = case_view(with_deadlines(), "caritas")
        rejected: list[dict[str, Any]] = [
            {"at": (T0 + days(3)).isoformat(), "type": "reintegration_enrolled", "rule": "I1"},
            {"at": T0 + days(4), "type": "permit_to_stay_extended", "rule": "K7"},
        ]
        found = parsed(timeline_svg(view, now=NOW, rejected=rejected))
        crosses = named(found, "rejected")
        assert crosses == ["timeline-rejected-0", "timeline-rejected-1"]
        assert len(named(found, "event")) == len(view["timeline"])
        tick_glyphs = {
            u.get(XLINK_HREF) for t in named(found, "event") for u in found[t].iter(f"{SVG_NS}use")
        }
        for cross in crosses:
            markup = ET.tostring(found[cross], encoding="unicode")
            assert f"fill: {REJECTED_COLOUR.lower()}" in markup
            (use,) = found[cross].iter(f"{SVG_NS}use")
            assert use.get(XLINK_HREF) not in tick_glyphs
        last_tick = max(marker_x(found[t]) for t in named(found, "event"))
        assert last_tick < marker_x(found[crosses[0]]) < marker_x(found[crosses[1]])
        assert marker_x(found[crosses[1]]) < path_xs(found["timeline-today"])[0]
        assert "reintegration enrolled (I1)" in texts_of(
            timeline_svg(view, now=NOW, rejected=rejected)
        )

    def test_the_cases_rejections_are_marked_as_the_role_reads_them(self) -> None:
        """The view's ``rejections`` (issue 17 item 3) are crosses in their type's row: every
        one in care's picture, the police's own in theirs, none in a ministry's."""
        state = case_with_rejections()
        for role, count in (("caritas", 3), ("police", 1), ("labour_ministry", 0)):
            svg = timeline_svg(case_view(state, role), now=NOW)
            crosses = named(parsed(svg), "rejected")
            assert crosses == [f"timeline-rejected-{n}" for n in range(count)], role
            texts = texts_of(svg)
            assert ("police information gathering started (R2)" in texts) is (count > 0), role
            assert ("special need referral made (K4)" in texts) is (count == 3), role

    def test_today_line(self) -> None:
        """Today is one vertical line at ``now``, named with its Ljubljana time; it moves with
        ``now``."""
        view = case_view(with_deadlines(), "caritas")
        early = parsed(timeline_svg(view, now=NOW))
        late = parsed(timeline_svg(view, now=NOW + days(20)))
        for found in (early, late):
            xs = path_xs(found["timeline-today"])
            assert len(xs) == 2 and xs[0] == xs[1]
        ticks = [marker_x(early[t]) for t in named(early, "event")]
        assert max(ticks) < path_xs(early["timeline-today"])[0]
        svg = timeline_svg(view, now=datetime.fromisoformat("2026-03-29T23:30:00+00:00"))
        assert "today 2026-03-30 01:30" in svg  # CEST began that morning in Ljubljana

    def test_far_deadline_at_the_edge_with_its_date(self) -> None:
        """A deadline years ahead (a child's 18th birthday) is drawn at the right edge with its
        date, not squeezing the rest into a sliver."""
        view = case_view(with_deadlines(), "caritas")
        near = parsed(timeline_svg(view, now=NOW))
        far = {"kind": "turns_18", "rule": "C5", "due_at": "2034-07-29T22:00:00+00:00"}
        view["deadlines"]["turns_18"] = {**far, "reminders": []}
        found = parsed(timeline_svg(view, now=NOW))
        edge = marker_x(found["timeline-deadline-turns_18"])
        others = [marker_x(found[d]) for d in named(found, "deadline") if "turns_18" not in d]
        assert edge > max(others)
        assert [marker_x(found[t]) for t in named(found, "event")] == [
            marker_x(near[t]) for t in named(near, "event")
        ]
        assert "2034-07-29 24:00" in timeline_svg(view, now=NOW)

    def test_same_case_same_bytes_and_a_title(self) -> None:
        """The output is deterministic and says what it is (its <title>); the PNG is a PNG."""
        view = case_view(with_deadlines(), "caritas")
        svg = timeline_svg(view, now=NOW)
        assert svg == timeline_svg(view, now=NOW)
        root = ET.fromstring(svg)  # noqa: S314
        assert root[0].tag == f"{SVG_NS}title" and root[0].text == TITLE
        assert timeline_png(view, now=NOW).startswith(b"\x89PNG\r\n\x1a\n")

    def test_naive_instants_are_refused(self) -> None:
        """``now`` without a UTC offset is a ValueError, not a picture an hour off."""
        view = case_view(with_deadlines(), "caritas")
        with pytest.raises(ValueError, match="UTC offset"):
            timeline_svg(view, now=NOW.replace(tzinfo=None))


class TestOnlyWhatTheRoleReads:
    def test_no_bands_for_a_role_that_may_not_read_the_phase(self) -> None:
        """The police may not read the phase (care only, R6): their picture has no band and no
        phase row, but the deadlines and events they read."""
        state, _ = walked()
        view = case_view(state, "police")
        assert "phase" not in view
        found = parsed(timeline_svg(view, now=T0 + days(50)))
        assert named(found, "phase") == []
        assert len(named(found, "event")) == len(view["timeline"]) > 0
        assert ">phase<" not in timeline_svg(view, now=T0 + days(50))

    def test_nothing_but_what_the_view_holds(self) -> None:
        """A view without deadlines or timeline (a role that reads neither) draws no marker
        and no tick: the picture never reads past the view."""
        view: dict[str, Any] = {"case_id": "case-x", "opened_at": T0.isoformat()}
        found = parsed(timeline_svg(view, now=NOW))
        assert set(found) == {"timeline-today"}

    def test_no_canary_personal_value_in_the_picture(self) -> None:
        """Every personal value of a case (subject reference, birth date, actor, reason, an age
        estimate's source, a permit number, a special need's detail, a failed delivery's
        detail) is a canary; none of them is anywhere in the operator's picture, which reads
        the whole case."""
        canaries: list[str] = []

        def canary(field: str) -> str:
            canaries.append(f"CANARY-{field}")
            return canaries[-1]

        def who() -> dict[str, str]:
            return {"actor": canary(f"actor{len(canaries)}"), "reason": canary("reason")}

        person = {**TCN_ILLEGAL, "birth_date": "1961-07-29"}
        state = accept(
            None, event("identified", T0, subject_ref=canary("subject_ref"), person=person, **who())
        )
        for type_, at, fields in (
            ("ngo_interview_held", T0 + days(0.1), {}),
            (
                "rights_information_given",
                T0 + days(0.2),
                {"subjects": ALL_SUBJECTS, "language": "es", "interpreter_used": True},
            ),
            ("crisis_accommodation_placed", T0 + days(1), {}),
            (
                "special_need_flagged",
                T0 + days(2),
                {"need": "health_condition", "detail": canary("need_detail")},
            ),
            (
                "temporary_residence_permit_granted",
                T0 + days(3),
                {
                    "basis": "witness",
                    "valid_from": (T0 + days(3)).date().isoformat(),
                    "valid_until": (T0 + days(300)).date().isoformat(),
                    "permit_number": canary("permit_number"),
                },
            ),
        ):
            state = accept(state, event(type_, at, **fields, **who()))
        state.timeline.append(
            TimelineEntry(
                at=T0 + days(4),
                recorded_at=T0 + days(4),
                who="pathway",
                what=f"notification reflection_reminder to caritas: failed: {canary('smtp')}",
                rule="K5",
            )
        )
        view = case_view(state, "operator")
        # All there to leak, but the subject reference: the case keeps only its keyed hash.
        assert [c for c in canaries if c not in str(view)] == ["CANARY-subject_ref"]
        assert len(canaries) > 8
        svg = timeline_svg(view, now=NOW)
        assert [c for c in canaries if c in svg] == []
        for birth in ("1961-07-29", "29.07.1961", "29. 7. 1961", "1961-7-29"):
            assert birth not in svg
        assert "notification reflection reminder to caritas (K5)" in svg
        assert len(named(parsed(svg), "event")) == len(view["timeline"])
