// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Token with a blocklist, like USDC's and USDT's blacklists
/// @notice Regulated stablecoins can freeze an address: every transfer from or to it reverts. If a payee is
/// blocked, a hub that pushes payouts to it inside a batch would have the whole batch revert, and a
/// blocked hub would lock every user's funds. Tests need it to check that one blocked party cannot grief
/// others (pull-based withdrawals, per-row isolation). `block`/`unblock` are unrestricted because it is a
/// test token; any balance change (transfer, mint or burn) touching a blocked address reverts with
/// `Blocked(account)`.
contract BlocklistToken is ERC20 {
    mapping(address account => bool) public isBlocked;

    error Blocked(address account);

    constructor() ERC20("Blocklist USD", "BLUSD") {}

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Unrestricted: every transfer from or to `account` reverts from now on.
    function blockAccount(address account) external {
        isBlocked[account] = true;
    }

    /// @notice Unrestricted: lifts `block(account)`.
    function unblockAccount(address account) external {
        isBlocked[account] = false;
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (isBlocked[from]) revert Blocked(from);
        if (isBlocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
