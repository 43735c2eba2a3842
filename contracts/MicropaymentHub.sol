// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMicropaymentHub} from "./interfaces/IMicropaymentHub.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";

/// @title MicropaymentHub
/// @notice Holds every payer's deposit and pays payees from off-chain vouchers. See IMicropaymentHub
/// and docs/protocol.md. The operator (server) is only a gatekeeper: it never holds funds, and payees
/// and payers can always exit without it.
/// @dev Storage is laid out so that a claim row touches the fewest cold slots: one for the channel,
/// one for the payer's balance, one for a session key (when one signed), and the payee's earnings,
/// which stay warm across the rows of one payee.
contract MicropaymentHub is IMicropaymentHub, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(address payer,address payee,address token,uint256 cumulativeAmount,bytes32 purchase)");
    bytes32 public constant SIGNER_AUTHORIZATION_TYPEHASH = keccak256(
        "SignerAuthorization(address payer,address signer,address token,uint256 allowance,uint256 validUntil,uint256 nonce)"
    );

    /// @notice Hard cap of the protocol fee: 1%.
    uint256 public constant MAX_FEE_BPS = 100;
    /// @notice Longest withdrawal delay the hub accepts, so a payer's funds can never be locked for long.
    uint256 public constant MAX_WITHDRAW_DELAY = 30 days;
    /// @notice Gas given to an EIP-1271 wallet to check one voucher, so a hostile wallet cannot burn a batch.
    uint256 public constant ERC1271_GAS_LIMIT = 100_000;

    /// @dev Slot 0 is all a claim touches; the withdrawal's timestamp lives in slot 1.
    struct Account {
        uint128 balance;
        uint128 withdrawalAmount;
        uint64 withdrawalAvailableAt;
    }

    /// @dev One slot. `tokenId` is the token's small id (0 = not registered).
    struct SessionKey {
        uint128 allowance;
        uint40 validUntil;
        uint40 revokeAt;
        uint32 tokenId;
    }

    /// @dev `id` is never reused and never 0 for a listed token; `allowed` gates deposits only.
    struct TokenInfo {
        uint32 id;
        bool allowed;
    }

    struct FeeConfig {
        uint16 bps;
        address recipient;
    }

    uint256 private immutable _withdrawDelay;

    mapping(address token => mapping(address payer => Account)) private _accounts;
    mapping(bytes32 channel => uint256) private _claimed;
    mapping(address token => mapping(address payee => uint256)) private _earnings;
    mapping(address payer => mapping(address signer => SessionKey)) private _signers;
    mapping(address payer => mapping(uint256 word => uint256 bits)) private _nonceBitmaps;
    mapping(address token => TokenInfo) private _tokens;
    /// @dev Every token ever listed; a token's id is its position plus one.
    address[] private _tokenList;
    FeeConfig private _fee;

    error InvalidWithdrawDelay(uint256 delay);

    constructor(address initialOwner, uint256 withdrawDelay_) EIP712("MicropaymentHub", "1") Ownable(initialOwner) {
        if (withdrawDelay_ > MAX_WITHDRAW_DELAY) revert InvalidWithdrawDelay(withdrawDelay_);
        _withdrawDelay = withdrawDelay_;
    }

    // ================================================================ admin

    /// @notice Allows or disallows new deposits of `token`. Claims and withdrawals of a token once
    /// listed always go on, so a voucher the operator accepted never becomes unclaimable.
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        TokenInfo storage info = _tokens[token];
        if (info.id == 0) {
            if (token.code.length == 0) revert TokenNotAllowed(token);
            _tokenList.push(token);
            info.id = uint32(_tokenList.length);
        }
        info.allowed = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @notice Sets the protocol fee taken from each claim, at most MAX_FEE_BPS.
    function setFee(uint256 bps, address recipient) external onlyOwner {
        if (bps > MAX_FEE_BPS) revert FeeTooHigh(bps, MAX_FEE_BPS);
        if (bps > 0 && recipient == address(0)) revert InvalidRecipient();
        _fee = FeeConfig(uint16(bps), recipient);
        emit FeeSet(bps, recipient);
    }

    // ============================================================= deposits

    /// @inheritdoc IMicropaymentHub
    function deposit(address token, uint256 amount) external nonReentrant {
        _deposit(msg.sender, token, amount, msg.sender);
    }

    /// @inheritdoc IMicropaymentHub
    function depositFor(address payer, address token, uint256 amount) external nonReentrant {
        _deposit(payer, token, amount, msg.sender);
    }

    /// @inheritdoc IMicropaymentHub
    function depositWithPermit(
        address payer,
        address token,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        // A permit seen in the mempool can be submitted first by anyone, which makes this call fail;
        // the allowance it set is then already there, so go on when it covers the amount.
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {}
        catch {
            uint256 allowance = IERC20(token).allowance(payer, address(this));
            if (allowance < amount) revert PermitFailed(allowance, amount);
        }
        _deposit(payer, token, amount, payer);
    }

    /// @inheritdoc IMicropaymentHub
    function depositWithAuthorization(
        address payer,
        address token,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        _requireDepositable(token, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC3009(token).receiveWithAuthorization(payer, address(this), amount, validAfter, validBefore, nonce, v, r, s);
        _requireReceived(token, before, amount);
        _credit(payer, token, amount, payer);
    }

    function _deposit(address payer, address token, uint256 amount, address from) private {
        _requireDepositable(token, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        _requireReceived(token, before, amount);
        _credit(payer, token, amount, from);
    }

    function _requireDepositable(address token, uint256 amount) private view {
        if (!_tokens[token].allowed) revert TokenNotAllowed(token);
        if (amount == 0) revert ZeroAmount();
        if (amount > type(uint128).max) revert AmountTooLarge(amount);
    }

    /// @dev Fee-on-transfer and rebasing-down tokens would leave the hub owing more than it holds.
    function _requireReceived(address token, uint256 before, uint256 amount) private view {
        uint256 afterwards = IERC20(token).balanceOf(address(this));
        uint256 received = afterwards > before ? afterwards - before : 0;
        if (received != amount) revert TransferAmountMismatch(amount, received);
    }

    function _credit(address payer, address token, uint256 amount, address from) private {
        Account storage account = _accounts[token][payer];
        uint256 balance = uint256(account.balance) + amount;
        if (balance > type(uint128).max) revert AmountTooLarge(balance);
        account.balance = uint128(balance);
        emit Deposited(payer, token, from, amount);
    }

    // ========================================================== withdrawals

    /// @inheritdoc IMicropaymentHub
    function requestWithdrawal(address token, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Account storage account = _accounts[token][msg.sender];
        if (amount > account.balance) revert InsufficientBalance(account.balance, amount);
        uint256 availableAt = block.timestamp + _withdrawDelay;
        // Safe casts: amount <= balance < 2^128, and availableAt is a timestamp plus at most 30 days.
        account.withdrawalAmount = uint128(amount);
        account.withdrawalAvailableAt = uint64(availableAt);
        emit WithdrawalRequested(msg.sender, token, amount, availableAt);
    }

    /// @inheritdoc IMicropaymentHub
    function cancelWithdrawal(address token) external {
        Account storage account = _accounts[token][msg.sender];
        if (account.withdrawalAmount == 0) revert NoWithdrawalPending();
        account.withdrawalAmount = 0;
        account.withdrawalAvailableAt = 0;
        emit WithdrawalCancelled(msg.sender, token);
    }

    /// @inheritdoc IMicropaymentHub
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        Account storage account = _accounts[token][msg.sender];
        uint256 requested = account.withdrawalAmount;
        if (requested == 0) revert NoWithdrawalPending();
        uint256 availableAt = account.withdrawalAvailableAt;
        if (block.timestamp < availableAt) revert WithdrawalNotReady(availableAt);
        uint256 balance = account.balance;
        // Claims may have taken from the balance during the delay: pay what is left, up to the request.
        amount = requested < balance ? requested : balance;
        account.balance = uint128(balance - amount);
        account.withdrawalAmount = 0;
        account.withdrawalAvailableAt = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (amount > 0) IERC20(token).safeTransfer(msg.sender, amount);
    }

    // ========================================================= session keys

    /// @inheritdoc IMicropaymentHub
    function registerSigner(SignerAuthorization calldata auth, bytes calldata payerSignature) external {
        uint32 tokenId = _tokens[auth.token].id;
        if (tokenId == 0) revert TokenNotAllowed(auth.token);
        if (auth.signer == address(0)) revert InvalidSigner();
        if (auth.validUntil < block.timestamp) revert AuthorizationExpired(auth.validUntil);
        if (auth.allowance > type(uint128).max) revert AmountTooLarge(auth.allowance);
        if (!_isSignedBy(auth.payer, signerAuthorizationDigest(auth), payerSignature, gasleft())) {
            revert InvalidAuthorizationSignature();
        }
        _useNonce(auth.payer, auth.nonce);
        // A new authorisation replaces the key's previous one, and clears a pending revocation:
        // the payer signed it after all. validUntil beyond 2^40 s (year 36812) means "no expiry".
        uint256 validUntil = auth.validUntil > type(uint40).max ? type(uint40).max : auth.validUntil;
        _signers[auth.payer][auth.signer] = SessionKey(uint128(auth.allowance), uint40(validUntil), 0, tokenId);
        emit SignerRegistered(auth.payer, auth.signer, auth.token, auth.allowance, auth.validUntil, auth.nonce);
    }

    /// @inheritdoc IMicropaymentHub
    function revokeSigner(address signer) external {
        SessionKey storage key = _signers[msg.sender][signer];
        if (key.tokenId == 0) revert UnknownSigner(signer);
        uint256 effectiveAt = block.timestamp + _withdrawDelay;
        // Vouchers the operator accepted from this key must stay claimable for the same delay as a
        // withdrawal; revoking again never postpones an earlier revocation.
        if (key.revokeAt == 0 || key.revokeAt > effectiveAt) key.revokeAt = uint40(effectiveAt);
        emit SignerRevoked(msg.sender, signer, key.revokeAt);
    }

    /// @dev Permit2-style unordered nonces: 256 per storage word.
    function _useNonce(address payer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage bitmaps = _nonceBitmaps[payer];
        uint256 bits = bitmaps[nonce >> 8];
        if (bits & bit != 0) revert NonceAlreadyUsed(payer, nonce);
        bitmaps[nonce >> 8] = bits | bit;
    }

    // =============================================================== claims

    /// @inheritdoc IMicropaymentHub
    /// @dev No reentrancy guard: a row only calls the ecrecover precompile and, for contract payers,
    /// a STATICCALL, neither of which can change state.
    function claim(Claim[] calldata claims) external {
        bytes32 domainSeparator = _domainSeparatorV4();
        FeeConfig memory fee = _fee;
        for (uint256 i; i < claims.length; ++i) {
            _claimRow(claims[i], domainSeparator, fee);
        }
    }

    function _claimRow(Claim calldata c, bytes32 domainSeparator, FeeConfig memory fee) private {
        uint32 tokenId = _tokens[c.token].id;
        if (tokenId == 0) return _skip(c, SkipReason.UnknownToken);
        if (c.payee == address(0)) return _skip(c, SkipReason.InvalidPayee);
        if (c.cumulativeAmount > type(uint128).max) return _skip(c, SkipReason.AmountTooLarge);

        bytes32 channel = _channelId(c.payer, c.payee, c.token);
        uint256 alreadyClaimed = _claimed[channel];
        // Stale and repeated vouchers are no-ops: checked before the signature, which they do not need.
        if (c.cumulativeAmount <= alreadyClaimed) return _skip(c, SkipReason.NothingDue);

        bytes32 digest = MessageHashUtils.toTypedDataHash(domainSeparator, _voucherStructHash(c));
        (address signer, uint256 cap, SkipReason reason) = _authorize(c, digest, tokenId);
        if (signer == address(0)) return _skip(c, reason);

        Account storage account = _accounts[c.token][c.payer];
        uint256 balance = account.balance;
        uint256 amount;
        unchecked {
            // cumulativeAmount > alreadyClaimed was checked above.
            amount = c.cumulativeAmount - alreadyClaimed;
        }
        if (amount > balance) amount = balance;
        if (amount > cap) amount = cap;
        if (amount == 0) return _skip(c, SkipReason.NoBalance);

        uint256 feeAmount = amount * fee.bps / 10_000;
        unchecked {
            // amount <= balance, amount <= cap (the key's allowance when a session key signed), and
            // claimed + amount <= cumulativeAmount < 2^128; earnings are bounded by the tokens held.
            account.balance = uint128(balance - amount);
            _claimed[channel] = alreadyClaimed + amount;
            if (signer != c.payer) _signers[c.payer][signer].allowance = uint128(cap - amount);
            _earnings[c.token][c.payee] += amount - feeAmount;
            if (feeAmount > 0) _earnings[c.token][fee.recipient] += feeAmount;
        }
        emit Claimed(c.payer, c.payee, c.token, signer, amount, feeAmount, alreadyClaimed + amount);
    }

    /// @dev Who may have signed the voucher: the payer (ECDSA or EIP-1271), or a session key of the
    /// payer for this token that is unexpired, unrevoked and has allowance left. Returns the signer
    /// and the most it may pay, or the zero address and why not.
    function _authorize(Claim calldata c, bytes32 digest, uint32 tokenId)
        private
        view
        returns (address signer, uint256 cap, SkipReason reason)
    {
        address recovered = _recover(digest, c.signature);
        if (recovered != address(0)) {
            if (recovered == c.payer) return (recovered, type(uint256).max, reason);
            SessionKey memory key = _signers[c.payer][recovered];
            if (key.tokenId != 0) {
                if (key.tokenId != tokenId) return (address(0), 0, SkipReason.SignerWrongToken);
                if (block.timestamp > key.validUntil) return (address(0), 0, SkipReason.SignerExpired);
                if (key.revokeAt != 0 && block.timestamp >= key.revokeAt) {
                    return (address(0), 0, SkipReason.SignerRevoked);
                }
                if (key.allowance == 0) return (address(0), 0, SkipReason.SignerExhausted);
                return (recovered, key.allowance, reason);
            }
        }
        if (c.payer.code.length > 0 && _isValidERC1271(c.payer, digest, c.signature, ERC1271_GAS_LIMIT)) {
            return (c.payer, type(uint256).max, reason);
        }
        return (address(0), 0, SkipReason.BadSignature);
    }

    function _skip(Claim calldata c, SkipReason reason) private {
        emit ClaimSkipped(c.payer, c.payee, c.token, c.cumulativeAmount, reason);
    }

    /// @inheritdoc IMicropaymentHub
    function withdrawEarnings(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert InvalidRecipient();
        amount = _earnings[token][msg.sender];
        if (amount == 0) revert ZeroAmount();
        _earnings[token][msg.sender] = 0;
        emit EarningsWithdrawn(msg.sender, token, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    // ============================================================ signatures

    /// @dev Hashes a calldata voucher without allocating memory: a batch of hundreds of rows would
    /// otherwise pay for memory expansion that grows with the square of its size.
    function _voucherStructHash(Claim calldata c) private pure returns (bytes32 structHash) {
        bytes32 typeHash = VOUCHER_TYPEHASH;
        address payer = c.payer;
        address payee = c.payee;
        address token = c.token;
        uint256 cumulativeAmount = c.cumulativeAmount;
        bytes32 purchase = c.purchase;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), payer)
            mstore(add(ptr, 0x40), payee)
            mstore(add(ptr, 0x60), token)
            mstore(add(ptr, 0x80), cumulativeAmount)
            mstore(add(ptr, 0xa0), purchase)
            structHash := keccak256(ptr, 0xc0)
        }
    }

    /// @dev ECDSA signer of `digest`, or zero for a malformed or malleable (high-s) signature. Takes the
    /// 65-byte (r,s,v) form and the 64-byte EIP-2098 (r,vs) form; both name the same signer, and
    /// accounting is by channel and amount, so the second form of a voucher gains nothing.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        if (signature.length == 65) {
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                s := calldataload(add(signature.offset, 0x20))
                v := byte(0, calldataload(add(signature.offset, 0x40)))
            }
        } else if (signature.length == 64) {
            bytes32 vs;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                vs := calldataload(add(signature.offset, 0x20))
            }
            s = vs & bytes32(0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff);
            v = uint8((uint256(vs) >> 255) + 27);
        } else {
            return address(0);
        }
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        return err == ECDSA.RecoverError.NoError ? recovered : address(0);
    }

    /// @dev True if `account` signed `digest`: by ECDSA for an account without code, by EIP-1271 otherwise.
    function _isSignedBy(address account, bytes32 digest, bytes calldata signature, uint256 gasLimit)
        private
        view
        returns (bool)
    {
        if (account.code.length == 0) return account != address(0) && _recover(digest, signature) == account;
        return _isValidERC1271(account, digest, signature, gasLimit);
    }

    /// @dev EIP-1271 check with a gas cap and without copying more than 32 bytes of return data, so a
    /// wallet that burns gas or returns a huge blob cannot make a whole batch revert.
    function _isValidERC1271(address wallet, bytes32 digest, bytes calldata signature, uint256 gasLimit)
        private
        view
        returns (bool valid)
    {
        bytes memory callData = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        bytes4 magic = IERC1271.isValidSignature.selector;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            let success := staticcall(gasLimit, wallet, add(callData, 0x20), mload(callData), 0x00, 0x20)
            valid := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), magic)))
        }
    }

    // ================================================================= views

    /// @inheritdoc IMicropaymentHub
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IMicropaymentHub
    function channelId(address payer, address payee, address token) external pure returns (bytes32) {
        return _channelId(payer, payee, token);
    }

    function _channelId(address payer, address payee, address token) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, payer)
            mstore(add(ptr, 0x20), payee)
            mstore(add(ptr, 0x40), token)
            id := keccak256(ptr, 0x60)
        }
    }

    /// @inheritdoc IMicropaymentHub
    function voucherDigest(address payer, address payee, address token, uint256 cumulativeAmount, bytes32 purchase)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, payer, payee, token, cumulativeAmount, purchase)));
    }

    /// @inheritdoc IMicropaymentHub
    function signerAuthorizationDigest(SignerAuthorization calldata auth) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SIGNER_AUTHORIZATION_TYPEHASH,
                    auth.payer,
                    auth.signer,
                    auth.token,
                    auth.allowance,
                    auth.validUntil,
                    auth.nonce
                )
            )
        );
    }

    /// @inheritdoc IMicropaymentHub
    function balanceOf(address payer, address token) external view returns (uint256) {
        return _accounts[token][payer].balance;
    }

    /// @inheritdoc IMicropaymentHub
    function withdrawalOf(address payer, address token) external view returns (uint256 amount, uint256 availableAt) {
        Account storage account = _accounts[token][payer];
        return (account.withdrawalAmount, account.withdrawalAvailableAt);
    }

    /// @inheritdoc IMicropaymentHub
    function claimed(bytes32 channel) external view returns (uint256) {
        return _claimed[channel];
    }

    /// @inheritdoc IMicropaymentHub
    function earningsOf(address payee, address token) external view returns (uint256) {
        return _earnings[token][payee];
    }

    /// @inheritdoc IMicropaymentHub
    function signerOf(address payer, address signer)
        external
        view
        returns (address token, uint256 allowance, uint256 validUntil, uint256 revokedAt)
    {
        SessionKey memory key = _signers[payer][signer];
        return (_tokenById(key.tokenId), key.allowance, key.validUntil, key.revokeAt);
    }

    /// @inheritdoc IMicropaymentHub
    function isNonceUsed(address payer, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[payer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IMicropaymentHub
    function isTokenAllowed(address token) external view returns (bool) {
        return _tokens[token].allowed;
    }

    /// @inheritdoc IMicropaymentHub
    function withdrawDelay() external view returns (uint256) {
        return _withdrawDelay;
    }

    /// @inheritdoc IMicropaymentHub
    function feeBps() external view returns (uint256) {
        return _fee.bps;
    }

    /// @inheritdoc IMicropaymentHub
    function feeRecipient() external view returns (address) {
        return _fee.recipient;
    }

    /// @inheritdoc IMicropaymentHub
    function tokens() external view returns (address[] memory) {
        return _tokenList;
    }

    function _tokenById(uint32 id) private view returns (address) {
        return id == 0 ? address(0) : _tokenList[id - 1];
    }
}
