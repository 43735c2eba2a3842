"""The hub on chain, behind a small interface. The only package that imports web3.

interface.py  the Hub protocol the services use, and its value types
hub.py        Hub over web3 (v2 events and views, hand-written ABI fragments)
fake.py       Hub in memory, with the contract's claim rules (tests)
calls.py      calldata of hub functions (claim, withdrawals, earnings)
operator.py   the operator's key: sign, send, follow one transaction
artifacts.py  ABI and bytecode produced by scripts/compile
anvil.py      a local development chain (anvil), started and stopped by us
deploy.py     deploys the hub (and, on a local chain, a test stablecoin)
"""
