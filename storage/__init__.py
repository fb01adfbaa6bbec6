"""Storage: SQLAlchemy models, sessions, repository functions, migrations and export."""
