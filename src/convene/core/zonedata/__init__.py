"""The time zones Convene offers (``zones.tsv``) and the alias names that stand for them
(``aliases.tsv``), derived from the IANA tz database (public domain) by ``__main__.py``."""
