// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {EIP3009} from "./EIP3009.sol";

/// @title Token that burns a 1% fee on every transfer
/// @notice Fee-on-transfer tokens (e.g. USDT with its dormant fee switch turned on, STA, PAXG) deliver less
/// than the `amount` passed to `transfer`/`transferFrom`, so a contract that credits `amount` becomes
/// insolvent. Tests need it to check that the hub either refuses such tokens or credits only what actually
/// arrived (balance before/after). Every transfer between two non-zero addresses burns
/// `amount / 100` (rounded down, so transfers under 100 base units are fee-free) from the sender and the
/// recipient receives `amount - fee`; mint and burn are fee-free. The sender must hold the full `amount`.
/// EIP-3009 authorizations pay the fee too (batched deposits must refuse the token as a whole).
contract FeeOnTransferToken is ERC20, EIP3009 {
    /// @notice Fee in basis points of the transferred amount: 100 = 1%.
    uint256 public constant FEE_BPS = 100;

    constructor() ERC20("Fee On Transfer USD", "FOTUSD") EIP712("Fee On Transfer USD", "1") {}

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 balance = balanceOf(from);
        if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
        uint256 fee = value * FEE_BPS / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
