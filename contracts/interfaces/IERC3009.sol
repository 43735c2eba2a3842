// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The part of EIP-3009 (transfer with authorization, as in USDC) the hub uses.
interface IERC3009 {
    /// @dev Only `to` may execute it, which makes a receive authorization safe against front-running.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;
}
