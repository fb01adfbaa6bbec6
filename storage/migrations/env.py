"""Alembic environment for newswatch.

`storage.db.Database.upgrade()` builds the Alembic config in code and passes its open
connection in `config.attributes["connection"]`; no alembic.ini is needed. Without a
connection, `sqlalchemy.url` from the config is used (handy for `alembic revision
--autogenerate` during development, see `storage.db.alembic_config`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit the migration SQL for the configured URL without connecting."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_with(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on one of our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("storage: no connection and no sqlalchemy.url for migrations")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as own_connection:
            run_with(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
