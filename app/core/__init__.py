"""Pure protocol logic: types, EIP-712 hashing and errors. Imports nothing of ours, no framework."""
