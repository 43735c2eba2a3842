// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Micropayment hub, protocol v2: one pooled deposit per payer, paid out to many payees by lanes
/// of signed cumulative vectors
/// @notice Payers deposit an allow-listed stablecoin once. Every action they buy is paid with an
/// off-chain EIP-712 `PayerVoucher`: "on this lane, the total I have ever paid each of these payees is
/// now this". The operator (the server) acknowledges the vouchers it accepts and claims them in packed
/// batches; anyone holding the operator's acknowledgement may claim too. Payees withdraw at any time.
/// See docs/protocol.md, which this interface implements.
/// @dev Amounts are token base units below 2^128. Errors and events are declared here, with their
/// meaning, so the Solidity, the Python server and the docs share one vocabulary.
interface IMicropaymentHub {
    // ------------------------------------------------------------------ types

    /// @notice The total ever paid to `payee` on one lane.
    struct Entry {
        address payee;
        uint256 cumulativeAmount;
    }

    /// @notice What a payer (or a key it authorized, or its session key) signs for each action. `entries` are strictly
    /// ascending by payee, every amount > 0 and < 2^128, at most MAX_LANE_ENTRIES of them.
    struct PayerVoucher {
        address payer;
        address token;
        uint256 lane;
        Entry[] entries;
        bytes32 purchase;
    }

    /// @notice Signed once by the payer (or a key it authorized), no transaction: `signer` may sign the payer's vouchers in
    /// `token` on `lane` while `block.timestamp <= validUntil` and the vector's sum is <= `maxTotal`.
    struct SessionGrant {
        address payer;
        address signer;
        address token;
        uint256 lane;
        uint256 maxTotal;
        uint256 validUntil;
    }

    /// @notice One payer's EIP-3009 `receiveWithAuthorization` (to = this hub) in a batched deposit.
    struct Authorization {
        address payer;
        uint256 amount;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Why a claim block paid nothing; the first that applies, checked in this order. The
    /// block changes nothing; the other blocks of the claim go on.
    enum SkipReason {
        EntriesInvalid, // no entries or more than 32, a payee index outside the table, a zero payee,
        // payees not strictly ascending, a `next` of 0, or a `previous` above its `next`
        PreviousMismatch, // the `previous` vector does not hash to the lane's commitment
        NothingDue, // every `next` equals its `previous`
        NotAcknowledged, // sent by someone else than the operator without the current operator's acknowledgement
        BadSignature, // neither the payer nor a key it authorized signed the voucher, and no grant in the block
        GrantInvalid, // the grant is not signed by the payer (or a key it authorized, unrevoked) for this
        // token and lane, or its signer did not sign the voucher
        SignerExpired, // block.timestamp > the grant's validUntil
        SignerRevoked, // the payer's revocation of the grant's signer (or, without a grant, of the
        // authorized key that signed the voucher) has taken effect
        CapExceeded, // the vector's sum is above the grant's maxTotal
        InsufficientBalance // the block's total delta is above the payer's balance
    }

    // ----------------------------------------------------------------- events

    /// @notice `amount` of `token` was credited to `payer`'s balance, paid by `from`.
    event Deposited(address indexed payer, address indexed token, address indexed from, uint256 amount);
    /// @notice One authorization of a `depositWithAuthorizations` batch failed (bad signature, used
    /// nonce, outside its validity window, insufficient funds, amount 0 or >= 2^128); nothing moved.
    event DepositFailed(address indexed payer, address indexed token, bytes32 nonce);
    /// @notice `payer` asked to withdraw `amount`, payable from `availableAt` (claims still apply until then).
    event WithdrawalRequested(address indexed payer, address indexed token, uint256 amount, uint256 availableAt);
    /// @notice `payer` cancelled its pending withdrawal.
    event WithdrawalCancelled(address indexed payer, address indexed token);
    /// @notice `payer` withdrew `amount` (min of requested and balance) to itself.
    event Withdrawn(address indexed payer, address indexed token, uint256 amount);
    /// @notice `payer` authorized the ECDSA key `signer` to sign its vouchers and grants with its full
    /// authority, until a revocation takes effect (see authorizeSigner).
    event SignerAuthorized(address indexed payer, address indexed signer);
    /// @notice Grants of `signer` by `payer`, and its authorization if any, stop counting from
    /// `effectiveAt` (never postponed).
    event SignerRevoked(address indexed payer, address indexed signer, uint256 effectiveAt);
    /// @notice A claim block moved `payer`'s `lane` to the vector hashing to `entriesHash`, paying
    /// `amount` (the sum of its deltas) from the payer's balance. `signer` signed the voucher: the payer,
    /// a key the payer authorized on chain, or a session key under a grant.
    event VoucherClaimed(
        address indexed payer,
        address indexed token,
        uint256 indexed lane,
        bytes32 entriesHash,
        address signer,
        uint256 amount
    );
    /// @notice A claim block paid nothing, for `reason`; nothing changed. `entriesHash` is the hash of
    /// the block's new entries, or 0 when they were invalid (not hashed).
    event VoucherSkipped(
        address indexed payer,
        address indexed token,
        uint256 indexed lane,
        bytes32 entriesHash,
        SkipReason reason
    );
    /// @notice Once per payee per claim: `payee`'s earnings rose by `amount`, and `fee` of the gross
    /// (`amount + fee`) went to the fee recipient, whose own credit is `Earned(recipient, token, fees, 0)`.
    event Earned(address indexed payee, address indexed token, uint256 amount, uint256 fee);
    /// @notice `payee` withdrew `amount` of its earnings to `to`.
    event EarningsWithdrawn(address indexed payee, address indexed token, address indexed to, uint256 amount);
    /// @notice The owner allowed or disallowed new deposits of `token` (claims and withdrawals always go on).
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice The owner set the protocol fee to `feeBps` basis points, paid to `recipient`.
    event FeeSet(uint256 feeBps, address indexed recipient);
    /// @notice The owner named `operator`: from now on only its acknowledgements count.
    event OperatorSet(address indexed operator);

    // ----------------------------------------------------------------- errors

    /// @notice `token` is not allowed here (deposits: not allowed now; claims: never listed).
    error TokenNotAllowed(address token);
    /// @notice An amount of zero where something must move.
    error ZeroAmount();
    /// @notice An amount (or a resulting balance) does not fit in 128 bits.
    error AmountTooLarge(uint256 amount);
    /// @notice The hub received `received` instead of `expected`: fee-on-transfer tokens are refused.
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice The permit failed and the allowance it should have set is below `amount`; or the permit
    /// failed and the caller is neither the payer nor the operator (`allowance` is then 0, not read).
    error PermitFailed(uint256 allowance, uint256 amount);
    /// @notice Requested `requested` with only `balance` available.
    error InsufficientBalance(uint256 balance, uint256 requested);
    /// @notice No withdrawal is pending for this payer and token.
    error NoWithdrawalPending();
    /// @notice The withdrawal becomes available at `availableAt`.
    error WithdrawalNotReady(uint256 availableAt);
    /// @notice Earnings may not be sent to the zero address.
    error InvalidRecipient();
    /// @notice The fee exceeds the hard cap `maxFeeBps`.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice The withdrawal delay is below MIN_WITHDRAW_DELAY or above MAX_WITHDRAW_DELAY.
    error InvalidWithdrawDelay(uint256 delay);
    /// @notice The operator may not be the zero address.
    error InvalidOperator();
    /// @notice The zero address cannot be authorized as a signer.
    error InvalidSigner();
    /// @notice `signer` was revoked (effective at `revokedAt`): a revocation is final, it cannot be authorized again.
    error SignerAlreadyRevoked(address signer, uint256 revokedAt);
    /// @notice The claim data is cut short, has a payee table of 0 entries, or a block's flags have bits
    /// other than 1 and 2. `offset` is where in `data` the field that could not be read starts.
    error MalformedClaim(uint256 offset);

    // ------------------------------------------------------------- deposits

    /// @notice Deposits `amount` of `token` from the caller into the caller's balance.
    /// @dev Requires an ERC-20 allowance. Reverts with TransferAmountMismatch for fee-on-transfer tokens.
    function deposit(address token, uint256 amount) external;

    /// @notice Deposits `amount` of `token` from the caller into `payer`'s balance.
    function depositFor(address payer, address token, uint256 amount) external;

    /// @notice Relays an EIP-2612 permit signed by `payer` for this hub, then deposits `amount` from `payer`.
    /// @dev Safe against a front-run permit: if the permit call fails and the caller is the payer or the
    /// operator, the deposit still goes ahead when the allowance already covers `amount`. Anyone else gets
    /// PermitFailed, so a stranger cannot sweep a payer's standing allowance into the hub.
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

    /// @notice Many payers' EIP-3009 deposits in one transaction. One whose authorization fails emits
    /// DepositFailed and the others go on.
    /// @dev Reverts (the whole batch) when `token` is not allowed, or when a successful transfer delivers
    /// another amount than authorised (a fee-on-transfer token: every item would be short).
    function depositWithAuthorizations(address token, Authorization[] calldata auths) external;

    // ---------------------------------------------------------- withdrawals

    /// @notice Starts (or restarts) a withdrawal of `amount`, payable after the withdrawal delay.
    /// @dev Claims may still take from the balance until then: that delay is what lets the operator
    /// settle every voucher it acknowledged.
    function requestWithdrawal(address token, uint256 amount) external;

    /// @notice Cancels the caller's pending withdrawal.
    function cancelWithdrawal(address token) external;

    /// @notice Pays the caller min(requested, balance) once the delay has passed.
    function withdraw(address token) external returns (uint256 amount);

    // ---------------------------------------------------------- session keys

    /// @notice Authorizes the ECDSA key `signer` to sign the caller's vouchers and session grants with the
    /// caller's full authority, until revoked with revokeSigner (effective after the withdrawal delay).
    /// This is how a contract wallet pays: the hub never asks a wallet (EIP-1271) at claim time, because
    /// the wallet could change its answer after the operator acknowledged a voucher. Works for EOAs too.
    /// @dev Reverts with InvalidSigner for the zero address, and SignerAlreadyRevoked once `signer` was
    /// revoked by the caller. Warning: a payer must not authorize a key it does not control: the key can
    /// spend the whole deposit through the operator until the revocation takes effect.
    function authorizeSigner(address signer) external;

    /// @notice Revokes every grant the caller gave `signer`, and its authorization if any, effective after
    /// the withdrawal delay (so vouchers the operator already acknowledged stay claimable). Never postpones
    /// an earlier revocation.
    function revokeSigner(address signer) external;

    // ---------------------------------------------------------------- claims

    /// @notice Claims packed blocks, one per lane (docs/protocol.md, "The claim encoding"). Each block
    /// emits VoucherClaimed or VoucherSkipped; then each payee's earnings are credited once (Earned).
    /// @dev Reverts only for an unlisted token (TokenNotAllowed) or malformed data (MalformedClaim): a
    /// bad block is skipped. Sent by anyone else than the operator, every block needs the operator's
    /// acknowledgement.
    function claim(address token, bytes calldata data) external;

    /// @notice Sends the caller's earnings in `token` to `to`.
    function withdrawEarnings(address token, address to) external returns (uint256 amount);

    // ----------------------------------------------------------------- admin

    /// @notice Allows or disallows new deposits of `token` (listing it for claims, for good).
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sets the protocol fee taken from each payee's gross, at most 100 bps, paid to `recipient`.
    function setFee(uint256 bps, address recipient) external;

    /// @notice Names the operator, whose acknowledgements gate claims sent by others.
    function setOperator(address operator) external;

    // ----------------------------------------------------------------- views

    function balanceOf(address payer, address token) external view returns (uint256);
    function withdrawalOf(address payer, address token) external view returns (uint256 amount, uint256 availableAt);
    /// @notice The EIP-712 hash of the lane's last claimed Entry[] (0 = nothing claimed yet).
    function laneCommitment(address payer, address token, uint256 lane) external view returns (bytes32);
    function earningsOf(address payee, address token) external view returns (uint256);
    /// @notice When `payer`'s revocation of `signer` takes effect (0 = never revoked).
    function revokedAt(address payer, address signer) external view returns (uint256);
    /// @notice True when `payer` authorized `signer` (authorizeSigner) and no revocation of it has taken
    /// effect at this block's timestamp: a claim now would count its signatures as the payer's. A pending
    /// revocation (revokedAt > now) still answers true; read revokedAt to see it.
    function isAuthorizedSigner(address payer, address signer) external view returns (bool);
    function operator() external view returns (address);
    function isTokenAllowed(address token) external view returns (bool);
    /// @notice Every token ever listed, allowed for deposits or not.
    function tokens() external view returns (address[] memory);
    function withdrawDelay() external view returns (uint256);
    function feeBps() external view returns (uint256);
    function feeRecipient() external view returns (address);
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    // solhint-disable-next-line func-name-mixedcase
    function MAX_LANE_ENTRIES() external view returns (uint256);
    /// @notice The EIP-712 digest a payer or session key signs.
    function payerVoucherDigest(PayerVoucher memory voucher) external view returns (bytes32);
    /// @notice The EIP-712 digest a payer signs to grant a session key.
    function sessionGrantDigest(SessionGrant memory grant) external view returns (bytes32);
    /// @notice The EIP-712 digest the operator signs to acknowledge the voucher with `voucherDigest`.
    function acknowledgementDigest(bytes32 voucherDigest) external view returns (bytes32);
    /// @notice EIP-712 hashStruct of an Entry[]: what a lane's commitment becomes when it is claimed.
    function entriesHash(Entry[] memory entries) external pure returns (bytes32);
}
