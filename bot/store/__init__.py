"""The SQLite store, the only package with SQL: `Store` and what the sync writes with it.

By area: `schema` opens and migrates the database and wraps SQLite's errors, `corpus` reads
articles, `sync` is the sync's write transaction, `files` what is known of each source
file, `digests`, `feeds` and `follows` their settings and state, `sql` the helpers they share; the
plain results they hand back are in `bot.results`.
"""

from bot.store.database import Store
from bot.store.files import FOLDER_SOURCE, FileState, Version, pack_versions, unpack_versions
from bot.store.sql import meanwhile
from bot.store.sync import ArticleRow, Transaction, article_row

__all__ = [
    "FOLDER_SOURCE",
    "ArticleRow",
    "FileState",
    "Store",
    "Transaction",
    "Version",
    "article_row",
    "meanwhile",
    "pack_versions",
    "unpack_versions",
]
