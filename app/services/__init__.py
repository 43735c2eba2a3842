"""Use cases: load -> core rules -> save, one function per operation. The API calls these.

clock.py       time, injectable
events.py      change notifications for subscriptions (in process, or PostgreSQL NOTIFY)
payments.py    accept vouchers (pay, pay_batch)
accounts.py    what users and creators read
catalog.py     creators' resources
typed_data.py  the EIP-712 payloads wallets sign next
auth.py        Sign-In with Ethereum and sessions
indexer.py     follows the hub's events into the store
committer.py   group commit: pays arriving together share one transaction
settler.py     batch settlement by policy
transactions.py the operator's one sender: nonces, fee bumps, re-broadcasts
relay.py       gasless session keys and deposits, sent by the operator
exits.py       exported vouchers and ready transactions for users' own wallets
reconcile.py   every base unit accounted for
leadership.py  one process indexes and settles at a time
background.py  that process's loop
runtime.py     wires the services of one process from its settings
"""
