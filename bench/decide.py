"""How fast the pure domain core applies events, and how big a case's state grows.

    .venv/bin/python bench/decide.py [--events 1000]

Builds one long adult case the way the workflow would (``rules.decide`` for each event,
``rules.fire_due`` as time passes, ``rules.settle_notification`` once a notification is
delivered) with an event every six hours: identification, interview, rights information, crisis
accommodation, then a long tail of cooperation records, fact updates and criminal proceedings
opened and concluded. Prints events per second in windows and the size of the state (its JSON,
which is what continue-as-new carries and what every update's result is computed from) as it
grows. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pathway.domain.events import CaseEvent, RightsSubject, parse_event
from pathway.domain.rules import Accepted, decide, fire_due, settle_notification
from pathway.domain.state import CaseState, DeliveryOutcome

CASE_ID = "case-bench"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STEP = timedelta(hours=6)
#: Temporal's default limit on one payload (the continue-as-new input carries the whole state).
PAYLOAD_LIMIT = 2 * 1024 * 1024
PERSON: dict[str, Any] = {
    "citizenships": ["DE"],
    "residence_status": "eu_citizen",
    "gender": "female",
    "languages": ["de"],
    "birth_date": "1995-04-01",
}
SUBJECTS = [subject.value for subject in RightsSubject]  # R3 (a)-(i)


def event(n: int, at: datetime, type_: str, organisation: str, **fields: Any) -> CaseEvent:
    return parse_event(
        {
            "type": type_,
            "event_id": f"bench-{n}",
            "organisation": organisation,
            "occurred_at": at.isoformat(),
            **fields,
        }
    )


def events() -> Iterator[CaseEvent]:
    """An endless, always acceptable case: the opening steps, then a repeating tail."""
    at = (T0 + STEP * i for i in itertools.count())
    n = itertools.count(1)
    yield event(next(n), next(at), "identified", "police", subject_ref="bench", person=PERSON)
    yield event(
        next(n), next(at), "ngo_interview_held", "caritas", language="de", interpreter_used=False
    )
    yield event(
        next(n),
        next(at),
        "rights_information_given",
        "caritas",
        language="de",
        interpreter_used=False,
        subjects=SUBJECTS,
    )
    when = next(at)
    yield event(
        next(n),
        when,
        "crisis_accommodation_placed",
        "caritas",
        consent={"signed_on": when.date().isoformat()},
    )
    for i in itertools.count():
        when = next(at)
        match i % 4:
            case 0:
                yield event(
                    next(n), when, "cooperation_recorded", "police", willing_to_cooperate=i % 8 == 0
                )
            case 1:
                yield event(
                    next(n),
                    when,
                    "facts_updated",
                    "police",
                    person={**PERSON, "languages": ["de", "en"][: 1 + i % 2]},
                )
            case 2:
                yield event(next(n), when, "criminal_proceedings_opened", "police")
            case _:
                yield event(next(n), when, "criminal_proceedings_concluded", "police")


def deliver_all(state: CaseState, now: datetime) -> None:
    """What the workflow does once each pending notification of ``state`` has been delivered
    (``settle_notification`` with a ``bench`` channel's outcome; in place)."""
    for notification in list(state.pending_notifications):
        delivered = DeliveryOutcome(
            idempotency_key=notification.idempotency_key,
            recipient=notification.recipient,
            channel="bench",
        )
        settle_notification(state, notification, now, delivered)


def size(state: CaseState) -> int:
    return len(state.model_dump_json().encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events to apply")
    args = parser.parse_args(argv)
    checkpoints = {c for c in (10, 100, 250, 500, 1000, 2000, 5000) if c <= args.events}
    checkpoints.add(args.events)

    state: CaseState | None = None
    window = {"events": 0, "decide": 0.0, "fire_due": 0.0}
    total = 0.0
    print(
        f"{'events':>7} {'events/s':>9} {'decide µs':>10} {'fire_due µs':>12} "
        f"{'state bytes':>12} {'timeline':>9} {'of 2 MiB':>9}"
    )
    for n, ev in enumerate(itertools.islice(events(), args.events), 1):
        now = ev.occurred_at
        if state is not None:
            started = time.perf_counter()
            state, _ = fire_due(state, now)
            window["fire_due"] += time.perf_counter() - started
        started = time.perf_counter()
        decision = decide(state, ev, now, case_id=CASE_ID)
        window["decide"] += time.perf_counter() - started
        if not isinstance(decision, Accepted):
            print(f"event {n} ({ev.type}) was rejected: {decision.message()}", file=sys.stderr)
            return 1
        state = decision.state
        deliver_all(state, now)
        window["events"] += 1
        if n in checkpoints:
            count = window["events"]
            spent = window["decide"] + window["fire_due"]
            total += spent
            bytes_ = size(state)
            print(
                f"{n:>7} {count / spent:>9,.0f} {1e6 * window['decide'] / count:>10,.0f} "
                f"{1e6 * window['fire_due'] / count:>12,.0f} {bytes_:>12,} "
                f"{len(state.timeline):>9,} {bytes_ / PAYLOAD_LIMIT:>9.1%}"
            )
            window = {"events": 0, "decide": 0.0, "fire_due": 0.0}
    assert state is not None
    per_event = size(state) / args.events
    print(
        f"{args.events:,} events in {total:.1f} s (decide + fire_due, each event once; the "
        "workflow also runs decide in the update validator)"
    )
    print(
        f"state grows by about {per_event:,.0f} bytes per event: a continue-as-new input "
        f"reaches the 2 MiB payload limit after about {PAYLOAD_LIMIT / per_event:,.0f} events"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
