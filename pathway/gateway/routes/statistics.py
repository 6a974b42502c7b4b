"""``/v1/statistics/annual``: the year's figures of the statistics ledger, for analysts (issue 15
item 5; docs/statistics.md, docs/gateway.md).

Aggregates only: the answer is the annual report (:mod:`pathway.domain.annual`, the JSON of
``pathway report annual --format json``), read from the ledger, which holds no case and no
personal data; nothing here reads a case workflow. Small-cell suppression with the deployment's
k (``PATHWAY_STATISTICS_K``, default 5) is applied unless an operator asks for ``public=false``.
Who may ask, with or without suppression, is the access policy's to say
(:func:`pathway.access.policy.may_read_statistics`); this route only asks it.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run time.
import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, FastAPI, Query, Request

from pathway.access.identity import GatewayConfigError
from pathway.access.policy import may_read_statistics
from pathway.domain.annual import AnnualReport, annual_report
from pathway.domain.suppression import DEFAULT_K, public_report
from pathway.gateway.dependencies import Caller
from pathway.gateway.openapi import AUTH_ERRORS
from pathway.statistics_ledger import StatisticsLedger
from pathway.web.problems import Problem, problem_response

__all__ = ["STATISTICS_K_ENV", "StatisticsAccess", "mount", "router"]

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(tags=["statistics"])

#: The deployment's suppression threshold for the gateway's answers (an integer, at least 2).
STATISTICS_K_ENV: Final = "PATHWAY_STATISTICS_K"


@dataclass(frozen=True)
class StatisticsAccess:
    """How the gateway reaches the ledger: ``open_ledger`` gives the deployment's ledger, or
    None while it does not exist yet (nothing is created by a read); ``k`` is the threshold of
    the suppression applied by default (at least 2)."""

    open_ledger: Callable[[], StatisticsLedger | None]
    k: int = DEFAULT_K

    def __post_init__(self) -> None:
        if self.k < 2:
            raise GatewayConfigError(f"{STATISTICS_K_ENV} must be at least 2")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StatisticsAccess":
        """The deployment's: ``PATHWAY_STATISTICS_K`` (default 5) and the ledger of
        :func:`pathway.settings.statistics_ledger` (PostgreSQL if ``PATHWAY_STATISTICS_DSN``,
        else ``var/statistics.sqlite3`` if it exists), opened on the first request."""
        from pathway import settings

        return cls(open_ledger=_deployment_ledger, k=settings.of(environ).statistics_k)


def _deployment_ledger() -> StatisticsLedger | None:
    from pathway import settings

    path = settings.var_dir().absolute() / settings.STATISTICS_FILE
    if settings.statistics_dsn() is None and not path.exists():
        return None
    return settings.statistics_ledger()


def mount(app: FastAPI, access: StatisticsAccess | None = None) -> None:
    """Add the route to ``app``, reading the ledger through ``access`` (default: the
    deployment's, :meth:`StatisticsAccess.from_env`; replace ``app.state.statistics`` to
    point it elsewhere)."""
    app.state.statistics = access or StatisticsAccess.from_env()
    app.include_router(router)


_ANSWER: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "model": AnnualReport,
        "description": "The year's figures (schema docs/annual-report.schema.json). With "
        'suppression, a count withheld is `{"suppressed": true, "below": k}`.',
    },
    **AUTH_ERRORS,
    403: problem_response(
        "The caller's role reads no aggregates, or (public=false) no unsuppressed ones "
        "(rule ACCESS)"
    ),
    422: problem_response("Invalid parameters"),
    503: problem_response(
        "The statistics ledger cannot be read (its database is down); see Retry-After"
    ),
}


@router.get(
    "/v1/statistics/annual",
    summary="The year's figures per programme (aggregates only)",
    description="Persons identified, entered, continuing and active per programme, exits and "
    "services, by gender × adult/minor and citizenship, from the statistics ledger "
    "(docs/statistics.md). No case is read. Small cells and their complements are "
    "suppressed with the deployment's k; operators may ask for `public=false`. Analysts and "
    "operators only (the access policy).",
    response_model=None,
    responses=_ANSWER,
)
async def get_annual(
    principal: Caller,
    request: Request,
    year: Annotated[int, Query(ge=1900, le=9999, description="The calendar year, e.g. 2026")],
    public: Annotated[
        bool,
        Query(description="Apply small-cell suppression (default); false: operators only"),
    ] = True,
) -> dict[str, Any]:
    if not may_read_statistics(principal.role, suppressed=public):
        raise Problem(
            403,
            "forbidden",
            "not allowed",
            f"role {principal.role} reads no "
            + ("aggregates" if public else "unsuppressed aggregates"),
            rule="ACCESS",
            field=None if public else "public",
        )
    access: StatisticsAccess = request.app.state.statistics
    try:
        ledger = await asyncio.to_thread(access.open_ledger)
        # No ledger yet (the workers create it on their first start): nothing was recorded.
        records = [] if ledger is None else await asyncio.to_thread(ledger.read, until_year=year)
    except Exception as err:  # the store's own error (sqlite3.Error, psycopg.Error)
        log.warning("statistics ledger unreadable", error=type(err).__name__)
        raise _unavailable("the statistics ledger cannot be read just now") from None
    report = annual_report(records, year)
    request.state.audit["statistics_year"] = year
    return public_report(report, access.k) if public else report.model_dump(mode="json")


def _unavailable(detail: str) -> Problem:
    return Problem(
        503,
        "statistics-unavailable",
        "statistics unavailable",
        detail,
        headers={"Retry-After": "30"},
    )
