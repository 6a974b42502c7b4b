"""Pathway: durable orchestration of assistance and protection for victims of trafficking.

The law lives in :mod:`pathway.domain` (pure functions over pydantic models, no Temporal);
``workflows/`` and ``activities/`` are thin deterministic shells around it.
"""
