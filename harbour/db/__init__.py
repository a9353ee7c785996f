"""Harbour's store: SQLAlchemy 2 models, engines, migrations. Harbour's database is the record."""
