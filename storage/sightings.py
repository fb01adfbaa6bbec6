"""Sightings: which entries a source has already carried (rung 1 of the dedupe ladder)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from storage.db import Database
from storage.models import Sighting
from storage.sql import chunked


def known_entry_keys(db: Database, source_id: int, keys: Sequence[str]) -> set[str]:
    """Return the subset of `keys` this source already has a sighting for.

    Call it before fetching any page: a known entry costs nothing further.
    """
    known: set[str] = set()
    unique = sorted(set(keys))
    if not unique:
        return known
    with db.session() as session:
        for chunk in chunked(unique):
            stmt = select(Sighting.entry_key).where(
                Sighting.source_id == source_id, Sighting.entry_key.in_(chunk)
            )
            known.update(session.scalars(stmt))
    return known
