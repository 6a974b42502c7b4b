"""The pure domain core: the law as plain functions over pydantic models. No Temporal here."""
