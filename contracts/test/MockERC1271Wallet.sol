// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title Minimal EIP-1271 smart-contract wallet with switchable misbehaviour
/// @notice A contract payer for the hub's tests. The hub never asks it (EIP-1271) at claim time: the wallet
/// authorizes its owner's key on chain with `execute(hub, 0, authorizeSigner(owner))`, and the tests use its
/// modes to show that its answers change nothing. In `Valid` mode it approves a hash iff the 65-byte
/// signature recovers to `owner`; `Invalid` rejects everything; `Revert` reverts; `BurnGas` loops until all
/// forwarded gas is gone; `ReturnBomb` returns 1 MB of returndata. `execute` lets the owner act as the
/// wallet (approve tokens, deposit into the hub, authorize or revoke signers, withdraw), bubbling up any
/// revert.
contract MockERC1271Wallet {
    enum Mode {
        Valid,
        Invalid,
        Revert,
        BurnGas,
        ReturnBomb
    }

    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e; // bytes4(keccak256("isValidSignature(bytes32,bytes)"))
    bytes4 internal constant INVALID_VALUE = 0xffffffff;

    address public immutable owner;
    Mode public mode;

    error NotOwner();
    error WalletReverted();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor(address owner_) {
        owner = owner_;
    }

    receive() external payable {}

    function setMode(Mode mode_) external onlyOwner {
        mode = mode_;
    }

    /// @notice Calls `target` with `value` wei and `data` as this wallet; reverts with the callee's revert data.
    function execute(address target, uint256 value, bytes calldata data) external onlyOwner returns (bytes memory) {
        (bool ok, bytes memory returndata) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returndata, 0x20), mload(returndata))
            }
        }
        return returndata;
    }

    /// @notice EIP-1271 check; what it does depends on `mode`.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        Mode current = mode;
        if (current == Mode.Valid) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
            return err == ECDSA.RecoverError.NoError && signer == owner ? MAGIC_VALUE : INVALID_VALUE;
        }
        if (current == Mode.Revert) revert WalletReverted();
        if (current == Mode.BurnGas) {
            // An endless loop with a memory write the optimizer cannot prove useless.
            assembly {
                for {} 1 {} { mstore(0, add(mload(0), 1)) }
            }
        }
        if (current == Mode.ReturnBomb) {
            assembly {
                return(0, 1000000)
            }
        }
        return INVALID_VALUE;
    }
}
