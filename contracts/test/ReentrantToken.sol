// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Token that calls back into a chosen contract from inside transfer/transferFrom
/// @notice Tokens with transfer hooks (ERC-777, ERC-1363, upgradeable tokens gone bad) hand control to
/// arbitrary code while the hub is in the middle of a deposit, claim or withdrawal. Tests need it to prove
/// the hub is not re-enterable: `arm(target, data)` makes the next `transfer` or `transferFrom` first call
/// `target` with `data` (once: it disarms itself before the call), and if that call reverts the token
/// re-throws its exact revert data, so the test sees the hub's own error (e.g. OpenZeppelin's
/// `ReentrancyGuardReentrantCall()`) rather than a generic failure. If the call succeeds, the transfer
/// proceeds normally. Mint and burn never call back.
contract ReentrantToken is ERC20 {
    /// @notice Contract to call on the next transfer; zero when disarmed.
    address public target;
    /// @notice Calldata for that call.
    bytes public data;

    constructor() ERC20("Reentrant USD", "REUSD") {}

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Unrestricted: the next transfer/transferFrom first calls `target_` with `data_`, once.
    function arm(address target_, bytes calldata data_) external {
        target = target_;
        data = data_;
    }

    /// @notice Unrestricted: cancels a pending `arm`.
    function disarm() external {
        delete target;
        delete data;
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transferFrom(from, to, value);
    }

    function _reenter() private {
        address callee = target;
        if (callee == address(0)) return;
        bytes memory payload = data;
        delete target;
        delete data;
        (bool ok, bytes memory returndata) = callee.call(payload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returndata, 0x20), mload(returndata))
            }
        }
    }
}
