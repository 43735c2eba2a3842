// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title USDT-like token whose transfer, transferFrom and approve return nothing
/// @notice Tether (USDT) on mainnet predates the final ERC-20 text: its `transfer`, `transferFrom` and
/// `approve` return no value at all, so a caller that decodes a `bool` (plain `IERC20(token).transfer`)
/// reverts on the empty returndata. Tests need it to prove the hub moves tokens through OpenZeppelin's
/// SafeERC20, which accepts empty returndata from a contract. Written from scratch because the
/// signatures differ from OpenZeppelin's ERC20; failures revert, as USDT does. An allowance of
/// `type(uint256).max` is never decreased, as in USDT; USDT's "reset the allowance to zero before changing
/// it" rule is not modelled.
contract NoReturnToken {
    string public constant name = "No Return USD";
    string public constant symbol = "NRUSD";
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 value) external {
        _transfer(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(msg.sender, allowed, value);
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
    }

    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
