"""Persistence: tables, migrations, the query compiler and the repository."""

from .repository import Repository, Store

__all__ = ["Repository", "Store"]
