"""``/healthz`` (the process is up) and ``/readyz`` (Temporal is reachable); no token needed."""

from datetime import timedelta

from fastapi import APIRouter
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from pathway.gateway.dependencies import Gateway, temporal
from pathway.web.problems import problem_response

__all__ = ["router"]

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="The gateway process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Temporal is reachable",
    responses={503: problem_response("Temporal is unreachable")},
)
async def readyz(gw: Gateway) -> dict[str, str]:
    await temporal(
        gw,
        gw.client.workflow_service.get_system_info(
            GetSystemInfoRequest(),
            retry=False,
            timeout=timedelta(seconds=min(gw.settings.temporal_timeout, 5.0)),
        ),
        "Temporal cannot be reached",
        probe=False,
    )
    return {"status": "ready"}
