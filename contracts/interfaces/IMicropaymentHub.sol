// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Micropayment hub: one pooled deposit per payer, paid out to any number of payees by vouchers
/// @notice Payers deposit an allow-listed stablecoin once; every action they buy is paid with an
/// off-chain EIP-712 voucher that states the cumulative amount paid to one payee. Anyone may submit
/// the latest voucher of many channels in one `claim`; payees withdraw their earnings at any time.
/// @dev Amounts are token base units and fit in 128 bits. Errors and events are declared here, with
/// their meaning, so the Solidity, the Python server and the docs share one vocabulary.
interface IMicropaymentHub {
    // ------------------------------------------------------------------ types

    /// @notice One row of a batch claim: the latest voucher of one channel and its signature.
    /// @param signature 65-byte (r,s,v) or 64-byte EIP-2098 ECDSA signature by the payer or one of
    /// its session keys, or any bytes an EIP-1271 payer accepts.
    struct Claim {
        address payer;
        address payee;
        address token;
        uint256 cumulativeAmount;
        bytes32 purchase;
        bytes signature;
    }

    /// @notice What a payer signs to let a session key sign vouchers for it, up to `allowance`.
    struct SignerAuthorization {
        address payer;
        address signer;
        address token;
        uint256 allowance;
        uint256 validUntil;
        uint256 nonce;
    }

    /// @notice Why a claim row paid nothing. The row is skipped; the rest of the batch goes on.
    enum SkipReason {
        UnknownToken, // the token was never allow-listed
        InvalidPayee, // payee is the zero address
        AmountTooLarge, // cumulativeAmount does not fit in 128 bits
        NothingDue, // cumulativeAmount <= claimed: a stale or repeated voucher
        BadSignature, // neither the payer nor a session key of the payer signed this voucher
        SignerWrongToken, // the session key is authorised for another token
        SignerExpired, // block.timestamp > the session key's validUntil
        SignerRevoked, // the session key's revocation has taken effect
        SignerExhausted, // the session key's allowance is spent
        NoBalance // the payer's balance is zero
    }

    // ----------------------------------------------------------------- events

    /// @notice `amount` of `token` was credited to `payer`'s balance, paid by `from`.
    event Deposited(address indexed payer, address indexed token, address indexed from, uint256 amount);
    /// @notice `payer` asked to withdraw `amount`, payable from `availableAt` (claims still apply until then).
    event WithdrawalRequested(address indexed payer, address indexed token, uint256 amount, uint256 availableAt);
    /// @notice `payer` cancelled its pending withdrawal.
    event WithdrawalCancelled(address indexed payer, address indexed token);
    /// @notice `payer` withdrew `amount` (min of requested and balance) to itself.
    event Withdrawn(address indexed payer, address indexed token, uint256 amount);
    /// @notice `signer` may sign vouchers for `payer` in `token`, up to `allowance`, until `validUntil`.
    event SignerRegistered(
        address indexed payer,
        address indexed signer,
        address indexed token,
        uint256 allowance,
        uint256 validUntil,
        uint256 nonce
    );
    /// @notice `payer` revoked `signer`; vouchers it signed stay claimable until `effectiveAt`.
    event SignerRevoked(address indexed payer, address indexed signer, uint256 effectiveAt);
    /// @notice A claim row paid `amount` from `payer`'s balance: `amount - fee` to `payee`, `fee` to the
    /// fee recipient. `claimed` is the channel's new cumulative claimed amount; `signer` signed the voucher
    /// (the payer itself, or a session key whose allowance fell by `amount`).
    event Claimed(
        address indexed payer,
        address indexed payee,
        address indexed token,
        address signer,
        uint256 amount,
        uint256 fee,
        uint256 claimed
    );
    /// @notice A claim row paid nothing, for `reason`; nothing changed.
    event ClaimSkipped(
        address indexed payer,
        address indexed payee,
        address indexed token,
        uint256 cumulativeAmount,
        SkipReason reason
    );
    /// @notice `payee` withdrew `amount` of its earnings to `to`.
    event EarningsWithdrawn(address indexed payee, address indexed token, address indexed to, uint256 amount);
    /// @notice The owner allowed or disallowed new deposits of `token` (claims and withdrawals always go on).
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice The owner set the protocol fee to `feeBps` basis points, paid to `recipient`.
    event FeeSet(uint256 feeBps, address indexed recipient);

    // ----------------------------------------------------------------- errors

    /// @notice Deposits of `token` are not allowed (never listed, or disallowed by the owner).
    error TokenNotAllowed(address token);
    /// @notice An amount of zero where something must move.
    error ZeroAmount();
    /// @notice An amount (or a resulting balance) does not fit in 128 bits.
    error AmountTooLarge(uint256 amount);
    /// @notice The hub received `received` instead of `expected`: fee-on-transfer tokens are refused.
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice The permit failed and the allowance it should have set is below `amount`.
    error PermitFailed(uint256 allowance, uint256 amount);
    /// @notice Requested `requested` with only `balance` available.
    error InsufficientBalance(uint256 balance, uint256 requested);
    /// @notice No withdrawal is pending for this payer and token.
    error NoWithdrawalPending();
    /// @notice The withdrawal becomes available at `availableAt`.
    error WithdrawalNotReady(uint256 availableAt);
    /// @notice The payer's signature over a SignerAuthorization is invalid.
    error InvalidAuthorizationSignature();
    /// @notice The SignerAuthorization's `validUntil` has passed.
    error AuthorizationExpired(uint256 validUntil);
    /// @notice The SignerAuthorization's nonce was already used by this payer.
    error NonceAlreadyUsed(address payer, uint256 nonce);
    /// @notice The session key may not be the zero address.
    error InvalidSigner();
    /// @notice `signer` is not a registered session key of the caller.
    error UnknownSigner(address signer);
    /// @notice Earnings may not be sent to the zero address.
    error InvalidRecipient();
    /// @notice The fee exceeds the hard cap `maxFeeBps`.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    // ------------------------------------------------------------- deposits

    /// @notice Deposits `amount` of `token` from the caller into the caller's balance.
    /// @dev Requires an ERC-20 allowance. Reverts with TransferAmountMismatch for fee-on-transfer tokens.
    function deposit(address token, uint256 amount) external;

    /// @notice Deposits `amount` of `token` from the caller into `payer`'s balance.
    function depositFor(address payer, address token, uint256 amount) external;

    /// @notice Relays an EIP-2612 permit signed by `payer` for this hub, then deposits `amount` from `payer`.
    /// @dev Safe against a front-run permit: if the permit call fails, the deposit still goes ahead when the
    /// allowance already covers `amount`. Warning: anyone can therefore move up to `amount` of an existing
    /// allowance into the payer's own balance; do not leave a standing allowance to the hub.
    function depositWithPermit(
        address payer,
        address token,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Deposits with an EIP-3009 `receiveWithAuthorization` signed by `payer` (to = this hub).
    /// @dev Front-running is harmless: only the hub can execute a receive authorization addressed to it.
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
    ) external;

    // ---------------------------------------------------------- withdrawals

    /// @notice Starts (or restarts) a withdrawal of `amount`, payable after the withdrawal delay.
    /// @dev Claims may still take from the balance until then: that delay is what lets the operator
    /// settle every voucher it accepted.
    function requestWithdrawal(address token, uint256 amount) external;

    /// @notice Cancels the caller's pending withdrawal.
    function cancelWithdrawal(address token) external;

    /// @notice Pays the caller min(requested, balance) once the delay has passed.
    function withdraw(address token) external returns (uint256 amount);

    // ---------------------------------------------------------- session keys

    /// @notice Registers a session key from the payer's signature over `auth`. Anyone may relay it.
    function registerSigner(SignerAuthorization calldata auth, bytes calldata payerSignature) external;

    /// @notice Revokes one of the caller's session keys, effective after the withdrawal delay.
    function revokeSigner(address signer) external;

    // ---------------------------------------------------------------- claims

    /// @notice Pays the latest voucher of each channel in `claims`. Permissionless.
    /// @dev Never reverts because of a row: a bad row emits ClaimSkipped and the others apply.
    function claim(Claim[] calldata claims) external;

    /// @notice Sends the caller's earnings in `token` to `to`.
    function withdrawEarnings(address token, address to) external returns (uint256 amount);

    // ----------------------------------------------------------------- views

    function DOMAIN_SEPARATOR() external view returns (bytes32);
    function channelId(address payer, address payee, address token) external pure returns (bytes32);
    function voucherDigest(address payer, address payee, address token, uint256 cumulativeAmount, bytes32 purchase)
        external
        view
        returns (bytes32);
    function signerAuthorizationDigest(SignerAuthorization calldata auth) external view returns (bytes32);
    function balanceOf(address payer, address token) external view returns (uint256);
    function withdrawalOf(address payer, address token) external view returns (uint256 amount, uint256 availableAt);
    function claimed(bytes32 channel) external view returns (uint256);
    function earningsOf(address payee, address token) external view returns (uint256);
    function signerOf(address payer, address signer)
        external
        view
        returns (address token, uint256 allowance, uint256 validUntil, uint256 revokedAt);
    function isNonceUsed(address payer, uint256 nonce) external view returns (bool);
    function isTokenAllowed(address token) external view returns (bool);
    /// @notice Every token ever listed, allowed for deposits or not.
    function tokens() external view returns (address[] memory);
    function withdrawDelay() external view returns (uint256);
    function feeBps() external view returns (uint256);
    function feeRecipient() external view returns (address);
}
