"""What crisis and safe accommodation comprise (K3, S2): services offered and provided.

- K3, crisis accommodation: “Victims are accommodated with their consent and accommodation
  comprises: appropriate and safe accommodation and assistance; material assistance;
  assistance in providing primary healthcare; psychological and social assistance and help;
  provision of information and counselling regarding the victims' rights in a language
  understandable to the victims; translation and interpreting; assistance in the victims'
  return to their homeland.”
- S2, safe accommodation: the same, and “assistance in settling legal status in Slovenia” …
  “assistance in ensuring that the rights and interests of victims are represented at
  suitable stages in the prosecution of perpetrators of criminal offences” … “assistance with
  integration into society”.

The code list is :class:`~pathway.domain.events.AccommodationService`, the services of each
programme :data:`~pathway.domain.events.PROGRAMME_SERVICES` (a service the programme does not
comprise is refused with the event, as malformed). :func:`_service_recorded` keeps each service
on the case with its date, once the case shows the person was in that programme on that day;
the yearly statistics count them per programme and service
(:func:`pathway.domain.statistics.yearly_report`).
"""

from __future__ import annotations

from pathway.domain import events as ev
from pathway.domain.calendar import local_date
from pathway.domain.events import PROGRAMME_SERVICES, BaseEvent, Placement
from pathway.domain.rules.core import Handler, _Change, _reject
from pathway.domain.state import PlacementRecord, ServiceRecord


def _placement_on_the_day(
    change: _Change, event: ev.AccommodationServiceRecorded, rule: str
) -> PlacementRecord:
    """K3, S2: the placement of ``event.programme`` the person was in on the day the service
    occurred (in Slovenia), from its first day to its last; refused naming the rule and the
    field otherwise."""
    state = change.state
    record = (
        state.crisis_accommodation
        if event.programme is Placement.CRISIS_ACCOMMODATION
        else state.safe_accommodation
    )
    name = event.programme.value.replace("_", " ")
    if record is None:
        _reject(rule, "programme", f"the person has not been placed in {name} in this case")
    day = event.day
    since = local_date(record.since)
    if day < since:
        _reject(
            rule,
            "occurred_at",
            f"the service lies before the {name} began ({since}): a service of the programme "
            "is given while the person is in it",
        )
    if record.ended_at is not None and day > local_date(record.ended_at):
        _reject(
            rule,
            "occurred_at",
            f"the service lies after the {name} ended ({local_date(record.ended_at)}): a "
            "service of the programme is given while the person is in it",
        )
    return record


def _service_recorded(change: _Change, event: ev.AccommodationServiceRecorded) -> None:
    """K3, S2: a service of the programme the person was in that day, offered or provided, by
    the programme's provider or the NGO leading the case."""
    state = change.state
    rule, _ = PROGRAMME_SERVICES[event.programme]
    record = _placement_on_the_day(change, event, rule)
    if event.organisation not in (record.provider, state.lead_ngo):
        _reject(
            rule,
            "organisation",
            f"a service of {event.programme.value.replace('_', ' ')} is recorded by its "
            f"provider ({record.provider.value}) or the NGO leading the case",
        )
    state.accommodation_services.append(
        ServiceRecord(
            programme=event.programme,
            service=event.service,
            status=event.status,
            at=event.occurred_at,
            recorded_at=change.now,
            by=event.organisation,
        )
    )


# ---------------------------------------------------------------------------------------------
# This track's tables, which pathway.domain.rules.dispatch merges with the others'
# ---------------------------------------------------------------------------------------------

#: The events this track applies, and the function that applies each.
HANDLERS: dict[type[BaseEvent], Handler] = {
    ev.AccommodationServiceRecorded: _service_recorded,
}

#: The rules each event's timeline entry cites.
EVENT_RULES: dict[str, str] = {
    "accommodation_service_recorded": "K3, S2",
}
