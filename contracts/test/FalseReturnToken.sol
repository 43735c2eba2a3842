// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Token that reports failure by returning false instead of reverting
/// @notice ERC-20 lets a token signal a failed transfer by returning `false`, and some old tokens (e.g.
/// ZRX, BAT-era contracts) do exactly that on an insufficient balance or allowance, leaving state untouched.
/// A caller that ignores the return value would credit a deposit that never arrived. Tests need it to prove
/// the hub checks the result (SafeERC20 turns `false` into `SafeERC20FailedOperation`). `setAlwaysFail(true)`
/// makes every `transfer`/`transferFrom` return `false` without moving anything, to fail a payout or
/// withdrawal on demand even when balances suffice. Written from scratch; `approve` always succeeds.
contract FalseReturnToken {
    string public constant name = "False Return USD";
    string public constant symbol = "FRUSD";
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    /// @notice When true, every transfer and transferFrom returns false and moves nothing.
    bool public alwaysFail;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice Test faucet: mints `amount` base units to `to`, unrestricted.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Unrestricted switch: make every transfer/transferFrom return false.
    function setAlwaysFail(bool fail) external {
        alwaysFail = fail;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        return _transfer(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (alwaysFail || allowed < value || balanceOf[from] < value) return false;
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        return _transfer(from, to, value);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private returns (bool) {
        uint256 balance = balanceOf[from];
        if (alwaysFail || balance < value) return false;
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }
}
