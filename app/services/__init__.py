"""Use cases: load -> core rules -> save, one function per operation. The API calls these.

clock.py       time, injectable
events.py      change notifications for subscriptions (in process, or PostgreSQL NOTIFY)
payments.py    accept vouchers (pay, pay_batch)
accounts.py    what users and creators read
catalog.py     creators' resources
typed_data.py  the EIP-712 payloads wallets sign next
auth.py        Sign-In with Ethereum and sessions
indexer.py     follows the hub's events into the store
"""
