"""Stablecoin micropayments: hub contract, voucher server, settlement.

Package map (imports point one way: api -> services -> {core, store, chain}):
  core/   pure protocol logic: types, EIP-712 hashing, errors. No I/O.
  chain/  the hub contract behind a small interface; the only place web3 is used.
  cli.py  command line: deploy, dev chain.
  metrics.py  what Prometheus scrapes (counters, histograms, gauges); logs.py  text or JSON logs.
"""
