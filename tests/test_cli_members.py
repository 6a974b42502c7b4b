"""`pathway case member add|remove` (MEMBERS, issue 11 item 1) on the time-skipping server with
the real case workflow: the operator adds or removes a member with a reason; the rules' refusals
exit 3 naming MEMBERS; anyone but an operator exits 6; none of them changes anything else."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from pathway import cli
from pathway.access.credentials import hash_token
from pathway.access.policy import Action, case_allows
from pathway.cli import case as cli_case
from pathway.domain.events import Identified
from pathway.domain.state import CaseState
from pathway.temporal_connection import connect
from tests.factories import event
from tests.harness import Bench, bench
from tests.keys import TEST_KEYS

OPERATOR_TOKEN = "op-secret-token"
NGO_TOKEN = "ngo-secret-token"


async def pathway(*argv: str) -> tuple[int, str, str]:
    """Run one CLI command (in a thread: it runs its own event loop, as from a shell)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.run, list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest_asyncio.fixture
async def served(
    time_skipping: WorkflowEnvironment, cli_state: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Bench, str]]:
    """A bench on the time-skipping server with one open case; the CLI connects to the same
    server (with the test keys) and reads an operator's and Caritas's tokens."""
    (cli_state / "credentials.toml").write_text(
        "".join(
            f'[[tokens]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(token)}"\n'
            for name, role, token in [
                ("op-1", "operator", OPERATOR_TOKEN),
                ("ngo-1", "caritas", NGO_TOKEN),
            ]
        )
    )
    target = time_skipping.client.service_client.config.target_host
    connected: list[str] = []

    async def to_the_test_server(args: Any) -> Client:
        connected.append(target)  # a refused caller must never get this far
        return await connect(target, time_skipping.client.namespace, TEST_KEYS)

    monkeypatch.setattr(cli_case, "connect", to_the_test_server)
    monkeypatch.delenv("PATHWAY_TOKEN", raising=False)
    async with bench(time_skipping, upsert_search_attributes=False) as b:
        ident = event("identified", await b.now(), subject_ref="member-person")
        assert isinstance(ident, Identified)
        case_id, _ = await b.open(ident)
        yield b, case_id


def member(action: str, case_id: str, org: str, role: str, why: str = "Ticket 42") -> list[str]:
    return ["case", "member", action, case_id, "--organisation", org, "--role", role, "--why", why]


def reads(state: CaseState, org: str) -> bool:
    return case_allows(state, org, Action.READ)


class TestMembers:
    async def test_the_operator_adds_and_removes_a_member_with_a_reason(
        self, served: tuple[Bench, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """MEMBERS: the operator adds Ključ with a reason; `case show` lists it, by the
        operator, and the access policy now lets Ključ read the case; removing it ends the
        role (the record stays, ended, with the reason) and Ključ reads nothing again."""
        b, case_id = served
        monkeypatch.setenv("PATHWAY_TOKEN", OPERATOR_TOKEN)
        assert not reads(await b.state(case_id), "kljuc")
        code, out, err = await pathway(*member("add", case_id, "kljuc", "referred"))
        assert code == cli.EXIT_OK, err
        assert out.startswith(f"added kljuc as referred in {case_id} (MEMBERS)\nMembers\n")
        code, out, _ = await pathway("case", "show", case_id)
        assert code == cli.EXIT_OK
        (line,) = [entry for entry in out.splitlines() if entry.startswith("  kljuc ")]
        assert "referred" in line and "(MEMBERS)  by operator (op-1)" in line
        assert "operator (op-1): member added: kljuc as referred [MEMBERS]" in out
        state = await b.state(case_id)
        assert reads(state, "kljuc") and case_allows(state, "kljuc", Action.READ, "phase")
        (record,) = [m for m in state.membership if m.organisation.value == "kljuc"]
        assert (record.why, record.added_by) == ("Ticket 42", "operator (op-1)")

        code, out, err = await pathway(*member("remove", case_id, "kljuc", "referred", "T-43"))
        assert code == cli.EXIT_OK, err
        assert out.startswith(f"removed kljuc as referred in {case_id} (MEMBERS)\n")
        assert "ended" in out and "(MEMBERS): T-43" in out
        state = await b.state(case_id)
        assert not reads(state, "kljuc")
        assert state.timeline[-1].what == "member removed: kljuc as referred"
        # Each change the CLI sends has its own ID (a copy sent again is refused, MEMBERS).
        ids = [e.event_id for e in state.timeline if (e.what or "").startswith("member ")]
        assert len(ids) == len(set(ids)) == 2
        assert all(i is not None and i.startswith("membership-change:") for i in ids)

    async def test_refusals_change_nothing(
        self, served: tuple[Bench, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A role given only by the rules, a role not held, an analyst or no reason: exit 3
        naming MEMBERS and the field; a value that is no role or organisation: exit 2 naming
        the field and the values; an unknown case: exit 4. The case is unchanged."""
        b, case_id = served
        monkeypatch.setenv("PATHWAY_TOKEN", OPERATOR_TOKEN)
        before = await b.settled(case_id)  # the notifications' deliveries are in the timeline
        for argv, field in [
            (member("add", case_id, "kljuc", "lead_ngo"), "role"),
            (member("remove", case_id, "kljuc", "referred"), "role"),
            (member("add", case_id, "caritas", "assigned"), "role"),
            (member("add", case_id, "analyst", "referred"), "organisation"),
            (member("add", case_id, "kljuc", "referred", "  "), "why"),
        ]:
            code, _, err = await pathway(*argv)
            assert code == cli.EXIT_REJECTED, err
            assert err.startswith("rejected: MEMBERS: ") and f"(field {field})" in err, err
        code, _, err = await pathway(*member("add", case_id, "kljuc", "boss"))
        assert code == cli.EXIT_BAD_INPUT
        assert err.startswith("error: field role: ") and "referred" in err
        code, _, err = await pathway(*member("add", case_id, "nobody", "referred"))
        assert code == cli.EXIT_BAD_INPUT and err.startswith("error: field organisation: ")
        code, _, err = await pathway(*member("add", "case-unknown", "kljuc", "referred"))
        assert code == cli.EXIT_UNKNOWN_CASE and "case-unknown" in err
        after = await b.settled(case_id)
        assert after.membership == before.membership and after.timeline == before.timeline

    async def test_only_an_operator_changes_members(
        self, served: tuple[Bench, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a token, or with an organisation's, exit 6 and nothing changes (the
        command does not even reach Temporal)."""
        b, case_id = served
        before = await b.state(case_id)
        code, _, err = await pathway(*member("add", case_id, "kljuc", "referred"))
        assert code == cli.EXIT_NOT_ALLOWED and "PATHWAY_TOKEN" in err
        monkeypatch.setenv("PATHWAY_TOKEN", NGO_TOKEN)
        code, _, err = await pathway(*member("add", case_id, "kljuc", "referred"))
        assert code == cli.EXIT_NOT_ALLOWED and "operator" in err
        after = await b.state(case_id)
        assert after.membership == before.membership and not reads(after, "kljuc")

    def test_the_help_says_the_reason_holds_no_personal_data(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The reason is shown to every reader of the case: the help says so."""
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["case", "member", "add", "--help"])
        assert "never personal data" in " ".join(capsys.readouterr().out.split())
