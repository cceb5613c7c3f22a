"""Persona Explorer's database: models (:mod:`db.models`), Alembic migrations
(``db/migrations``), engines and transactions (:mod:`db.session`), the URL setting
(:mod:`db.settings`) and the persistence API (:mod:`db.store`)."""
