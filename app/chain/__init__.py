"""The hub on chain, behind a small interface. The only package that imports web3.

artifacts.py  ABI and bytecode produced by scripts/compile
anvil.py      a local development chain (anvil), started and stopped by us
deploy.py     deploys the hub (and, on a local chain, a test stablecoin)
"""
