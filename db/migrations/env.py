"""Alembic environment: the models' metadata, and the URL from db.settings.

URL precedence: a connection handed in by :func:`db.session.upgrade_database`, then
``alembic -x db_url=URL``, then ``$PERSONA_DB_URL``, then the default SQLite file.
"""
from __future__ import annotations

import logging.config

from alembic import context

from db.models import Base
from db.session import make_engine, migration_connection
from db.settings import get_database_url

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and "connection" not in config.attributes:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return get_database_url(
        config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("db_url")
    )


def _configure(**kwargs) -> None:
    context.configure(
        # SQLite DDL is transactional here: db.session lets SQLAlchemy emit BEGIN itself
        transactional_ddl=True,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite ALTERs go through table copies
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with migration_connection(engine) as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
