"""K4's provider (issue 11, review F2): help with a special need comes from an organisation that
gives care. A need's existence is a health detail (R6), and the provider is told of it (a
notification), owns its referral and becomes a member for it: a provider that may not read
health details (the police, the authorities, the ministries, analysts) is refused, naming rule
K4 and the field ``provider``."""

from __future__ import annotations

import pytest

from pathway.access.credentials import OPERATOR
from pathway.access.policy import READ_MATRIX
from pathway.domain.organisations import CARE_PROVIDERS
from pathway.domain.organisations import Organisation as Org
from tests.factories import T0, accept, days, event, opened, reject

NOT_CARE = sorted(org.value for org in Org if org not in CARE_PROVIDERS)


def test_the_providers_are_the_readers_of_special_needs() -> None:
    """The domain's set (which may not import the access policy) is exactly the roles that may
    read special needs, operators aside: whoever is told of a need may read it."""
    assert {org.value for org in CARE_PROVIDERS} == READ_MATRIX["special_needs"] - {OPERATOR}


@pytest.mark.parametrize("provider", NOT_CARE)
@pytest.mark.parametrize("sender", ["caritas", "kljuc", "social_work_centre"])
def test_k4_a_provider_that_gives_no_care_is_refused(sender: str, provider: str) -> None:
    """K4, R6: Caritas naming the police as provider is refused (K4, ``provider``); nothing is
    recorded, so the police are never notified of a need."""
    rejection = reject(
        opened(),
        event(
            "special_need_flagged",
            T0 + days(1),
            organisation=sender,
            need="pregnancy",
            provider=provider,
        ),
    )
    assert (rejection.rule, rejection.field) == ("K4", "provider")
    assert provider in rejection.reason


@pytest.mark.parametrize("provider", sorted(org.value for org in CARE_PROVIDERS))
def test_k4_a_care_provider_is_told_and_owns_the_referral(provider: str) -> None:
    """K4: a care organisation as provider is notified and owns the referral obligation."""
    state = accept(
        opened(),
        event("special_need_flagged", T0 + days(1), need="pregnancy", provider=provider),
    )
    assert [o.owner.value for o in state.obligations if o.rule == "K4"] == [provider]
    assert any(
        n.recipient.value == provider and n.reason == "special_need_referral"
        for n in state.pending_notifications
    )


def test_k4_no_provider_means_the_lead_ngo() -> None:
    """K4: without a provider, the NGO leading the case provides the help."""
    state = accept(opened(), event("special_need_flagged", T0 + days(1), need="pregnancy"))
    assert [o.owner for o in state.obligations if o.rule == "K4"] == [state.lead_ngo]


def test_k4_cases_recorded_before_the_patch_replay_as_accepted() -> None:
    """A case opened before the patch ``seed-assistance-rules`` replays a provider it accepted
    then (a replay that rejected it would break the history); new cases refuse it."""
    before = opened().model_copy(update={"seed_assistance_rules": False})
    flagged = event("special_need_flagged", T0 + days(1), need="pregnancy", provider="police")
    state = accept(before, flagged)
    assert [n.provider for n in state.special_needs] == [Org.POLICE]
