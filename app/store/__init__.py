"""Persistence: SQLAlchemy Core tables and queries. Returns core objects, never rows.

columns.py     exact 256-bit amounts on SQLite and PostgreSQL, 0x-hex bytes
tables.py      the schema (alembic migrations in migrations/ create it)
database.py    engine, transactions serialised per payer, migrations
payments.py    accounts, lanes, receipts, grants, signers: what pay needs
catalog.py     creators' resources
auth.py        sign-in nonces and sessions
index.py       applying the hub's events (balances, claims, keys)
settlement.py  the lanes whose latest voucher is not yet claimed, and their deadlines
transactions.py the operator's transactions, one row per nonce
idempotency.py stored answers to idempotency keys
"""
