"""The obligations listing shows no trace of what a role may not read (issue 11 item 5, R6,
review F2): an organisation that owns an obligation revealing a special need (a K4 referral),
and may not read special needs, does not see it listed, and the IDs of what it does see count
nothing hidden from it."""

from __future__ import annotations

from pathway.access.policy import case_view, listed_ids, summary_view
from pathway.domain.organisations import Organisation as Org
from pathway.domain.state import CaseState, Obligation, ObligationKind
from pathway.gateway.routes.obligations import _obligations_in
from tests.factories import T0, TCN_ILLEGAL, opened


def obligation(ob_id: str, kind: ObligationKind, rule: str, owner: Org) -> Obligation:
    return Obligation(
        id=ob_id, kind=kind, rule=rule, owner=owner, action="do it", opened_at=T0, due_at=T0
    )


def with_obligations(*obligations: Obligation) -> CaseState:
    """A case the police identified (so they are a member) holding ``obligations``."""
    state = opened(dict(TCN_ILLEGAL))
    assert state.roles_of("police")
    return state.model_copy(update={"obligations": [*state.obligations, *obligations]})


#: Two special needs (K4), the second's referral owned by the police (the domain now refuses
#: that provider, but the listing must not rely on it), and two undelivered reminders to the
#: police, whose own IDs carry other organisations' reminder keys.
SPECIAL = [
    obligation("special_need_referral:1", ObligationKind.SPECIAL_NEED_REFERRAL, "K4", Org.CARITAS),
    obligation("special_need_referral:2", ObligationKind.SPECIAL_NEED_REFERRAL, "K4", Org.POLICE),
    obligation(
        "notification_undelivered:case-test:x:guardian:reflection_period:7",
        ObligationKind.NOTIFICATION_UNDELIVERED,
        "R4",
        Org.POLICE,
    ),
    obligation(
        "notification_undelivered:case-test:x:caritas:reflection_period:3",
        ObligationKind.NOTIFICATION_UNDELIVERED,
        "R4",
        Org.POLICE,
    ),
]


class TestListing:
    def test_a_special_need_is_not_listed_to_the_police(self) -> None:
        """Review F2: the police, made provider of a special need, get no special-need
        obligation listed (no kind, no rule K4, no count), and the other obligations are
        numbered among what they may see."""
        listed = _obligations_in(with_obligations(*SPECIAL), Org.POLICE)
        assert listed is not None
        dumped = listed.model_dump_json()
        assert "special_need" not in dumped and "K4" not in dumped
        ids = [
            o.id for o in listed.obligations if o.kind is ObligationKind.NOTIFICATION_UNDELIVERED
        ]
        assert ids == ["notification_undelivered:1", "notification_undelivered:2"]
        assert "guardian" not in dumped and ":7" not in dumped

    def test_only_hidden_obligations_list_nothing(self) -> None:
        """A case where the police own nothing but a hidden obligation (and are reminded of no
        deadline) is not listed to them at all."""
        state = opened(dict(TCN_ILLEGAL))
        state = state.model_copy(
            update={
                "obligations": [o for o in state.obligations if o.owner is not Org.POLICE]
                + [SPECIAL[1]],
                "deadlines": {},
            }
        )
        assert _obligations_in(state, Org.POLICE) is None

    def test_a_role_that_reads_special_needs_sees_its_referral(self) -> None:
        """Caritas reads special needs: its referral is listed, numbered among those it may see
        (here every one)."""
        state = with_obligations(
            *SPECIAL[:1],
            obligation(
                "special_need_referral:2", ObligationKind.SPECIAL_NEED_REFERRAL, "K4", Org.CARITAS
            ),
        )
        listed = _obligations_in(state, Org.CARITAS)
        assert listed is not None
        ids = [o.id for o in listed.obligations if o.kind is ObligationKind.SPECIAL_NEED_REFERRAL]
        assert ids == ["special_need_referral:1", "special_need_referral:2"]

    def test_listed_ids(self) -> None:
        """Kinds opened once keep their kind as ID; others are numbered per kind, in order."""
        obligations = [
            obligation("ngo_interview", ObligationKind.NGO_INTERVIEW, "R2", Org.CARITAS),
            *SPECIAL[2:],
        ]
        assert listed_ids([(o.id, o.kind.value) for o in obligations]) == [
            "ngo_interview",
            "notification_undelivered:1",
            "notification_undelivered:2",
        ]

    def test_the_case_view_and_an_events_answer_show_the_same_ids(self) -> None:
        """Review F2 beyond the listing: the case view and an event's answer show a member the
        listed IDs, never another organisation's reminder key and count; the operator sees
        the case's own IDs."""
        state = with_obligations(*SPECIAL[2:])
        for view in (
            case_view(state, "police")["obligations"],
            summary_view(state.summary(), "police")["open_obligations"],
        ):
            ids = [o["id"] for o in view if o["kind"] == "notification_undelivered"]
            assert ids == ["notification_undelivered:1", "notification_undelivered:2"]
            assert not [o["id"] for o in view if "case-test" in o["id"]]
        # R3's subjects are codes of a fixed list: shown as they are.
        rights = [o["id"] for o in case_view(state, "police")["obligations"]]
        assert "rights_information:a_institutions" in rights
        operator_ids = {o["id"] for o in case_view(state, "operator")["obligations"]}
        assert {o.id for o in SPECIAL[2:]} <= operator_ids
