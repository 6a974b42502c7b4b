"""``/healthz``: the codec server process is up; no token needed."""

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
