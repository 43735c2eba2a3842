// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {EIP3009} from "./EIP3009.sol";

/// @title Test USD Coin: a USDC look-alike with 6 decimals, EIP-2612 permit and EIP-3009 authorizations
/// @notice The well-behaved token every test and the local dev chain use: it behaves like Circle's USDC
/// where the hub and the server touch it (6 decimals, `permit` and `transferWithAuthorization` /
/// `receiveWithAuthorization` signed over one EIP-712 domain `{name: "Test USD Coin", version: "1",
/// chainId, verifyingContract}`), so gasless deposit flows can be exercised end to end without a fork.
/// Unlike USDC it has no owner, blacklist, pause or proxy, and anyone may `mint`.
contract TestStablecoin is ERC20, ERC20Permit, EIP3009 {
    constructor() ERC20("Test USD Coin", "USDC") ERC20Permit("Test USD Coin") {}

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }
}
