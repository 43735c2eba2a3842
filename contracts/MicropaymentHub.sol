// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IMicropaymentHub} from "./interfaces/IMicropaymentHub.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";

/// @title MicropaymentHub (protocol v2)
/// @notice Holds every payer's deposit and pays payees from lanes of signed cumulative vectors. See
/// IMicropaymentHub and docs/protocol.md. The operator only gates who may claim: it never holds funds,
/// cannot move a payer's money without the payer's (or its key's) signature, and payers and payees can
/// always exit without it.
/// @dev A claim block touches two slots of its payer (the account and the lane), each read and written
/// once; payees' earnings add up in memory and each payee's slot is written once per claim.
contract MicropaymentHub is IMicropaymentHub, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant ENTRY_TYPEHASH = keccak256("Entry(address payee,uint256 cumulativeAmount)");
    bytes32 public constant PAYER_VOUCHER_TYPEHASH = keccak256(
        "PayerVoucher(address payer,address token,uint256 lane,Entry[] entries,bytes32 purchase)"
        "Entry(address payee,uint256 cumulativeAmount)"
    );
    bytes32 public constant SESSION_GRANT_TYPEHASH = keccak256(
        "SessionGrant(address payer,address signer,address token,uint256 lane,uint256 maxTotal,uint256 validUntil)"
    );
    bytes32 public constant ACKNOWLEDGEMENT_TYPEHASH = keccak256("Acknowledgement(bytes32 voucherDigest)");

    /// @inheritdoc IMicropaymentHub
    uint256 public constant MAX_LANE_ENTRIES = 32;
    /// @notice Hard cap of the protocol fee: 1%.
    uint256 public constant MAX_FEE_BPS = 100;
    /// @notice Longest withdrawal delay the hub accepts, so a payer's funds can never be locked for long.
    uint256 public constant MAX_WITHDRAW_DELAY = 30 days;
    /// @notice Shortest withdrawal delay the hub accepts: the time the operator has, at the least, to
    /// claim what it acknowledged before a payer's withdrawal or revocation takes effect.
    uint256 public constant MIN_WITHDRAW_DELAY = 10 minutes;

    uint256 private constant FLAG_GRANT = 1;
    uint256 private constant FLAG_ACKNOWLEDGEMENT = 2;
    /// @dev Bytes of a block before its signature: payer 20, lane 8, purchase 32, flags 1, sigLen 2.
    uint256 private constant BLOCK_HEADER = 63;
    /// @dev Bytes of a grant before its signature: signer 20, maxTotal 16, validUntil 8, grantSigLen 2.
    uint256 private constant GRANT_HEADER = 46;
    /// @dev Bytes of one entry: payeeIndex 1, previous 16, next 16.
    uint256 private constant ENTRY_SIZE = 33;
    /// @dev Layout of a claim's work area in memory (allocated once per claim): the Entry hashing words
    /// (type hash, payee, amount), the new entries' hashes, the previous entries' hashes, and 7 words for
    /// hashing a PayerVoucher or SessionGrant struct.
    uint256 private constant WORK_NEW = 0x60;
    uint256 private constant WORK_PREVIOUS = 0x460;
    uint256 private constant WORK_STRUCT = 0x860;
    uint256 private constant WORK_SIZE = 0x940;

    /// @dev Slot 0 is all a claim touches; the withdrawal's timestamp lives in slot 1.
    struct Account {
        uint128 balance;
        uint128 withdrawalAmount;
        uint64 withdrawalAvailableAt;
    }

    /// @dev `id` is never reused and never 0 for a listed token; `allowed` gates deposits only.
    struct TokenInfo {
        uint32 id;
        bool allowed;
    }

    /// @dev One payer's standing with one ECDSA key, in one slot: `authorized` by `authorizeSigner` (full
    /// authority over the payer's vouchers and grants), and when a revocation by `revokeSigner` takes
    /// effect (0 = never), for authorized signers and session keys alike.
    struct SignerState {
        uint64 revokedAt;
        bool authorized;
    }

    struct FeeConfig {
        uint16 bps;
        address recipient;
    }

    /// @dev What stays the same for every block of one claim.
    struct ClaimContext {
        address token;
        bytes32 domainSeparator;
        address operator;
        bool byOperator;
        uint256 table; // calldata offset of the payee table
        uint256 payeeCount;
        uint256[] deltas; // gross owed to each payee of the table, in table order
        uint256 work; // memory pointer to the work area (WORK_SIZE bytes)
    }

    /// @dev One block as read from calldata; offsets are absolute calldata positions. Allocated once per
    /// claim and overwritten by each block, so memory does not grow with the number of blocks.
    struct Block {
        address payer;
        uint256 lane;
        bytes32 purchase;
        uint256 flags;
        uint256 signature;
        uint256 signatureLength;
        address grantSigner;
        uint256 maxTotal;
        uint256 validUntil;
        uint256 grantSignature;
        uint256 grantSignatureLength;
        uint256 acknowledgement;
        uint256 acknowledgementLength;
        uint256 entries;
        uint256 entryCount;
    }

    /// @dev What the entries of one block add up to.
    struct Scan {
        uint256 added; // entries whose delta is in the claim's totals
        bool valid;
        bool previousMatches;
        bytes32 entriesHash;
        uint256 delta; // sum of next - previous
        uint256 total; // sum of next
    }

    uint256 private immutable _withdrawDelay;

    mapping(address token => mapping(address payer => Account)) private _accounts;
    mapping(address token => mapping(address payer => mapping(uint256 lane => bytes32))) private _lanes;
    mapping(address token => mapping(address payee => uint256)) private _earnings;
    mapping(address payer => mapping(address signer => SignerState)) private _signers;
    mapping(address token => TokenInfo) private _tokens;
    /// @dev Every token ever listed; a token's id is its position plus one.
    address[] private _tokenList;
    FeeConfig private _fee;
    address private _operator;

    constructor(address initialOwner, address operator_, uint256 withdrawDelay_)
        EIP712("MicropaymentHub", "2")
        Ownable(initialOwner)
    {
        if (withdrawDelay_ < MIN_WITHDRAW_DELAY || withdrawDelay_ > MAX_WITHDRAW_DELAY) {
            revert InvalidWithdrawDelay(withdrawDelay_);
        }
        _withdrawDelay = withdrawDelay_;
        _setOperator(operator_);
    }

    // ================================================================ admin

    /// @inheritdoc IMicropaymentHub
    /// @dev Claims and withdrawals of a token once listed always go on, so a voucher the operator
    /// acknowledged never becomes unclaimable.
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

    /// @inheritdoc IMicropaymentHub
    function setFee(uint256 bps, address recipient) external onlyOwner {
        if (bps > MAX_FEE_BPS) revert FeeTooHigh(bps, MAX_FEE_BPS);
        if (bps > 0 && recipient == address(0)) revert InvalidRecipient();
        _fee = FeeConfig(uint16(bps), recipient);
        emit FeeSet(bps, recipient);
    }

    /// @inheritdoc IMicropaymentHub
    function setOperator(address operator_) external onlyOwner {
        _setOperator(operator_);
    }

    function _setOperator(address operator_) private {
        if (operator_ == address(0)) revert InvalidOperator();
        _operator = operator_;
        emit OperatorSet(operator_);
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
        // the allowance it set is then already there, so go on when it covers the amount. Only for the
        // payer or the operator (the relayer): anyone else could sweep a standing allowance in.
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {}
        catch {
            if (msg.sender != payer && msg.sender != _operator) revert PermitFailed(0, amount);
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

    /// @inheritdoc IMicropaymentHub
    function depositWithAuthorizations(address token, Authorization[] calldata auths) external nonReentrant {
        if (!_tokens[token].allowed) revert TokenNotAllowed(token);
        uint256 held = IERC20(token).balanceOf(address(this));
        uint256 credited;
        for (uint256 i; i < auths.length; ++i) {
            Authorization calldata auth = auths[i];
            if (auth.amount == 0 || auth.amount > type(uint128).max) {
                emit DepositFailed(auth.payer, token, auth.nonce);
                continue;
            }
            if (_receiveWithAuthorization(token, auth)) {
                _credit(auth.payer, token, auth.amount, auth.payer);
                unchecked {
                    // At most auths.length amounts below 2^128 each.
                    credited += auth.amount;
                }
            } else {
                emit DepositFailed(auth.payer, token, auth.nonce);
            }
        }
        // One balance check for the batch: what the hub owes rose by `credited`, so must what it holds
        // (a fee-on-transfer token reverts the whole batch, as it would have item by item).
        if (credited != 0) _requireReceived(token, held, credited);
    }

    /// @dev `token.receiveWithAuthorization(payer, this, amount, validAfter, validBefore, nonce, v, r, s)`;
    /// true when it did not revert. A plain CALL: the token is listed (it has code), and its return data is
    /// neither needed nor copied. Malformed fields reach the token as they are, which then reverts.
    function _receiveWithAuthorization(address token, Authorization calldata auth) private returns (bool ok) {
        bytes4 selector = IERC3009.receiveWithAuthorization.selector;
        assembly ("memory-safe") {
            // The call's 292 bytes past the free memory pointer: selector, payer, this hub, then the 7 words
            // of `auth` from amount to s (Authorization's layout: payer, amount, ..., s).
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), calldataload(auth))
            mstore(add(ptr, 0x24), address())
            calldatacopy(add(ptr, 0x44), add(auth, 0x20), 0xe0)
            ok := call(gas(), token, 0, ptr, 0x124, 0, 0)
        }
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
    /// Returns the hub's token balance now.
    function _requireReceived(address token, uint256 before, uint256 amount) private view returns (uint256 afterwards) {
        afterwards = IERC20(token).balanceOf(address(this));
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

    /// @inheritdoc IMicropaymentHub
    function withdrawEarnings(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert InvalidRecipient();
        amount = _earnings[token][msg.sender];
        if (amount == 0) revert ZeroAmount();
        _earnings[token][msg.sender] = 0;
        emit EarningsWithdrawn(msg.sender, token, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    // ========================================================= session keys

    /// @inheritdoc IMicropaymentHub
    function authorizeSigner(address signer) external {
        if (signer == address(0)) revert InvalidSigner();
        SignerState storage state = _signers[msg.sender][signer];
        // A revocation is final: authorizing again must not bring the key's grants back either.
        if (state.revokedAt != 0) revert SignerAlreadyRevoked(signer, state.revokedAt);
        state.authorized = true;
        emit SignerAuthorized(msg.sender, signer);
    }

    /// @inheritdoc IMicropaymentHub
    function revokeSigner(address signer) external {
        uint256 effectiveAt = block.timestamp + _withdrawDelay;
        SignerState storage state = _signers[msg.sender][signer];
        uint256 current = state.revokedAt;
        // Vouchers the operator acknowledged from this key must stay claimable for the same delay as a
        // withdrawal; revoking again never postpones an earlier revocation.
        if (current == 0 || current > effectiveAt) {
            // Safe cast: a timestamp plus at most 30 days.
            state.revokedAt = uint64(effectiveAt);
            current = effectiveAt;
        }
        emit SignerRevoked(msg.sender, signer, current);
    }

    // =============================================================== claims

    /// @inheritdoc IMicropaymentHub
    /// @dev No reentrancy guard: a block calls only the ecrecover precompile, which cannot change state.
    function claim(address token, bytes calldata data) external {
        if (_tokens[token].id == 0) revert TokenNotAllowed(token);
        uint256 payeeCount = data.length == 0 ? 0 : uint8(data[0]);
        if (payeeCount == 0) revert MalformedClaim(0);
        uint256 pos = 1 + 20 * payeeCount;
        if (pos > data.length) revert MalformedClaim(1);

        ClaimContext memory context;
        context.token = token;
        context.domainSeparator = _domainSeparatorV4();
        context.operator = _operator;
        context.byOperator = msg.sender == context.operator;
        context.payeeCount = payeeCount;
        context.deltas = new uint256[](payeeCount);
        uint256 work;
        bytes32 entryTypehash = ENTRY_TYPEHASH;
        assembly ("memory-safe") {
            // One work area for the whole claim (see WORK_*), so memory does not grow per block.
            work := mload(0x40)
            mstore(0x40, add(work, WORK_SIZE))
            mstore(work, entryTypehash)
        }
        context.work = work;
        context.table = _offset(data) + 1;

        Block memory b;
        uint256 freeMemory = _freeMemoryPointer();
        while (pos < data.length) {
            pos = _readBlock(data, pos, b);
            _claimBlock(context, b);
            // Nothing a block allocates outlives it: memory stays flat however many blocks there are.
            _resetFreeMemoryPointer(freeMemory);
        }
        _creditEarnings(context);
    }

    /// @dev Reads the block at `pos` (relative to `data`) into `b`; returns where the next one starts.
    /// Reverts with MalformedClaim when the block runs past the data or has unknown flags.
    function _readBlock(bytes calldata data, uint256 pos, Block memory b) private pure returns (uint256) {
        uint256 base = _offset(data);
        uint256 end = data.length;
        // Offsets are bounded by the calldata size: none of the additions below can overflow.
        unchecked {
            if (pos + BLOCK_HEADER > end) revert MalformedClaim(pos);
            uint256 at = base + pos;
            b.payer = address(uint160(_word(at) >> 96));
            b.lane = _word(at + 20) >> 192;
            b.purchase = bytes32(_word(at + 28));
            uint256 flags = _word(at + 60) >> 248;
            if (flags > (FLAG_GRANT | FLAG_ACKNOWLEDGEMENT)) revert MalformedClaim(pos + 60);
            b.flags = flags;
            b.signatureLength = _word(at + 61) >> 240;
            b.signature = at + BLOCK_HEADER;
            pos += BLOCK_HEADER + b.signatureLength;
            if (pos > end) revert MalformedClaim(pos - b.signatureLength - 2);

            if (flags & FLAG_GRANT != 0) {
                if (pos + GRANT_HEADER > end) revert MalformedClaim(pos);
                at = base + pos;
                b.grantSigner = address(uint160(_word(at) >> 96));
                b.maxTotal = _word(at + 20) >> 128;
                b.validUntil = _word(at + 36) >> 192;
                b.grantSignatureLength = _word(at + 44) >> 240;
                b.grantSignature = at + GRANT_HEADER;
                pos += GRANT_HEADER + b.grantSignatureLength;
                if (pos > end) revert MalformedClaim(pos - b.grantSignatureLength - 2);
            }
            if (flags & FLAG_ACKNOWLEDGEMENT != 0) {
                if (pos + 2 > end) revert MalformedClaim(pos);
                b.acknowledgementLength = _word(base + pos) >> 240;
                b.acknowledgement = base + pos + 2;
                pos += 2 + b.acknowledgementLength;
                if (pos > end) revert MalformedClaim(pos - b.acknowledgementLength - 2);
            }

            if (pos + 1 > end) revert MalformedClaim(pos);
            b.entryCount = _word(base + pos) >> 248;
            b.entries = base + pos + 1;
            pos += 1 + ENTRY_SIZE * b.entryCount;
            if (pos > end) revert MalformedClaim(pos - 1 - ENTRY_SIZE * b.entryCount);
            return pos;
        }
    }

    /// @dev Checks one block in the order of docs/protocol.md ("What a claim block does") and applies it,
    /// or emits why not.
    function _claimBlock(ClaimContext memory context, Block memory b) private {
        address token = context.token;
        mapping(uint256 lane => bytes32) storage lanes = _lanes[token][b.payer];
        bytes32 commitment = lanes[b.lane];
        Scan memory scan = _scanEntries(context, b, commitment);
        if (!scan.valid) return _reject(context, b, scan, bytes32(0), SkipReason.EntriesInvalid);
        if (!scan.previousMatches) return _reject(context, b, scan, scan.entriesHash, SkipReason.PreviousMismatch);
        if (scan.delta == 0) return _reject(context, b, scan, scan.entriesHash, SkipReason.NothingDue);

        bytes32 digest = MessageHashUtils.toTypedDataHash(
            context.domainSeparator,
            _hashStruct(context.work, PAYER_VOUCHER_TYPEHASH, uint160(b.payer), uint160(token), b.lane, uint256(scan.entriesHash), uint256(b.purchase))
        );
        if (!context.byOperator) {
            if (
                b.flags & FLAG_ACKNOWLEDGEMENT == 0
                    || _recover(_acknowledgementDigest(context.domainSeparator, digest), b.acknowledgement, b.acknowledgementLength)
                        != context.operator
            ) return _reject(context, b, scan, scan.entriesHash, SkipReason.NotAcknowledged);
        }

        (address signer, SkipReason reason) = _signerOf(context, b, digest, scan.total);
        if (signer == address(0)) return _reject(context, b, scan, scan.entriesHash, reason);

        Account storage account = _accounts[token][b.payer];
        uint256 balance = account.balance;
        if (scan.delta > balance) {
            return _reject(context, b, scan, scan.entriesHash, SkipReason.InsufficientBalance);
        }

        lanes[b.lane] = scan.entriesHash;
        unchecked {
            // scan.delta <= balance was checked just above.
            account.balance = uint128(balance - scan.delta);
        }
        emit VoucherClaimed(b.payer, token, b.lane, scan.entriesHash, signer, scan.delta);
    }

    /// @dev Validates the block's entries, hashes them, and adds each entry's delta to its payee's total for
    /// the claim, in one pass over calldata: one keccak per entry for the new vector, and one per non-zero
    /// previous amount only when the lane has a commitment (an empty lane matches exactly when every
    /// previous amount is 0). The deltas are added before the block is known to pass, because blocks
    /// nearly always do; `_reject` takes them back out (`scan.added` of them) when it does not.
    function _scanEntries(ClaimContext memory context, Block memory b, bytes32 commitment)
        private
        pure
        returns (Scan memory scan)
    {
        uint256 count = b.entryCount;
        if (count == 0 || count > MAX_LANE_ENTRIES) return scan;
        uint256 at = b.entries;
        uint256 table = context.table;
        uint256 payeeCount = context.payeeCount;
        uint256 work = context.work;
        uint256 deltas = _pointer(context.deltas);
        uint256 added;
        uint256 delta;
        uint256 total;
        uint256 previousCount;
        assembly ("memory-safe") {
            // Reads calldata already bounds-checked by _readBlock; writes only the claim's work area and
            // its deltas array (index < payeeCount is checked first). No overflow: at most 32 amounts
            // below 2^128 are added, previous <= next is checked first, and a payee's total is bounded
            // by the balances it is paid from.
            let last := 0
            let newHashes := add(work, WORK_NEW)
            let previousHashes := add(work, WORK_PREVIOUS)
            for {} lt(added, count) {} {
                let word := calldataload(at)
                let index := byte(0, word)
                if iszero(lt(index, payeeCount)) { break }
                let previous := and(shr(120, word), 0xffffffffffffffffffffffffffffffff)
                let next := shr(128, calldataload(add(at, 17)))
                let payee := shr(96, calldataload(add(table, mul(index, 20))))
                // Strictly ascending payees also refuses the zero payee (last starts at 0).
                if or(iszero(gt(payee, last)), or(iszero(next), gt(previous, next))) { break }
                last := payee
                mstore(add(work, 0x20), payee)
                mstore(add(work, 0x40), next)
                mstore(add(newHashes, shl(5, added)), keccak256(work, 0x60))
                if previous {
                    if commitment {
                        mstore(add(work, 0x40), previous)
                        mstore(add(previousHashes, shl(5, previousCount)), keccak256(work, 0x60))
                    }
                    previousCount := add(previousCount, 1)
                }
                let owed := sub(next, previous)
                let slot := add(deltas, shl(5, index))
                mstore(slot, add(mload(slot), owed))
                delta := add(delta, owed)
                total := add(total, next)
                added := add(added, 1)
                at := add(at, ENTRY_SIZE)
            }
        }
        scan.added = added;
        if (added < count) return scan;
        bytes32 newHash;
        bool previousMatches;
        assembly ("memory-safe") {
            // Hashes of the arrays of Entry hashes written above, in the work area.
            newHash := keccak256(add(work, WORK_NEW), shl(5, count))
            switch previousCount
            case 0 { previousMatches := iszero(commitment) }
            default {
                if commitment {
                    previousMatches := eq(keccak256(add(work, WORK_PREVIOUS), shl(5, previousCount)), commitment)
                }
            }
        }
        scan.valid = true;
        scan.previousMatches = previousMatches;
        scan.entriesHash = newHash;
        scan.delta = delta;
        scan.total = total;
    }

    /// @dev A skipped block changes nothing: takes its deltas back out of the claim's totals, then says why.
    function _reject(ClaimContext memory context, Block memory b, Scan memory scan, bytes32 hash, SkipReason reason)
        private
    {
        uint256 deltas = _pointer(context.deltas);
        uint256 at = b.entries;
        uint256 added = scan.added;
        assembly ("memory-safe") {
            // Exactly the entries _scanEntries added (validated, so index < payeeCount and previous <= next).
            for { let i := 0 } lt(i, added) { i := add(i, 1) } {
                let word := calldataload(at)
                let slot := add(deltas, shl(5, byte(0, word)))
                let previous := and(shr(120, word), 0xffffffffffffffffffffffffffffffff)
                let next := shr(128, calldataload(add(at, 17)))
                mstore(slot, sub(mload(slot), sub(next, previous)))
                at := add(at, ENTRY_SIZE)
            }
        }
        emit VoucherSkipped(b.payer, context.token, b.lane, hash, reason);
    }

    /// @dev Who signed the voucher: the payer, or a key the payer authorized on chain and whose revocation
    /// has not taken effect (both with the payer's full authority), else the grant's key within the grant's
    /// bounds, the grant being signed by the payer or such an authorized key. Returns the zero address and
    /// the reason when nobody may have. The key's state is read once: the voucher's signer is the grant's.
    function _signerOf(ClaimContext memory context, Block memory b, bytes32 digest, uint256 total)
        private
        view
        returns (address, SkipReason)
    {
        address payer = b.payer;
        address recovered = _recover(digest, b.signature, b.signatureLength);
        if (recovered == address(0)) {
            return (address(0), b.flags & FLAG_GRANT == 0 ? SkipReason.BadSignature : SkipReason.GrantInvalid);
        }
        // The reason is unused when a signer is returned.
        if (recovered == payer) return (payer, SkipReason.EntriesInvalid);
        SignerState memory state = _signers[payer][recovered];
        bool revoked = state.revokedAt != 0 && block.timestamp >= state.revokedAt;
        if (state.authorized && !revoked) return (recovered, SkipReason.EntriesInvalid);
        if (b.flags & FLAG_GRANT == 0) {
            return (address(0), state.authorized ? SkipReason.SignerRevoked : SkipReason.BadSignature);
        }

        if (recovered != b.grantSigner) return (address(0), SkipReason.GrantInvalid);
        bytes32 grantDigest = MessageHashUtils.toTypedDataHash(
            context.domainSeparator,
            _hashStruct7(context.work, uint160(payer), uint160(recovered), uint160(context.token), b.lane, b.maxTotal, b.validUntil)
        );
        if (!_isSignedBy(payer, grantDigest, b.grantSignature, b.grantSignatureLength)) {
            return (address(0), SkipReason.GrantInvalid);
        }
        if (block.timestamp > b.validUntil) return (address(0), SkipReason.SignerExpired);
        if (revoked) return (address(0), SkipReason.SignerRevoked);
        if (total > b.maxTotal) return (address(0), SkipReason.CapExceeded);
        return (recovered, SkipReason.EntriesInvalid);
    }

    /// @dev Writes each payee's earnings slot once for the whole claim, then the fee recipient's.
    function _creditEarnings(ClaimContext memory context) private {
        address token = context.token;
        FeeConfig memory fee = _fee;
        uint256 bps = fee.bps;
        uint256 deltas = _pointer(context.deltas);
        uint256 payeeCount = context.payeeCount;
        uint256 table = context.table;
        bytes32 earned = Earned.selector;
        uint256 fees;
        assembly ("memory-safe") {
            // _earnings[token][payee] += gross - cut, and Earned(payee, token, gross - cut, cut), per payee
            // with a non-zero gross. The slot is keccak(payee . keccak(token . _earnings.slot)), as Solidity
            // lays out nested mappings. No overflow: gross is bounded by the balances it came from, bps <= 100,
            // and earnings by the tokens the hub holds. The event's data is built past the free memory pointer.
            mstore(0x00, token)
            mstore(0x20, _earnings.slot)
            let tokenSlot := keccak256(0x00, 0x40)
            let data := mload(0x40)
            for { let i := 0 } lt(i, payeeCount) { i := add(i, 1) } {
                let gross := mload(add(deltas, shl(5, i)))
                if gross {
                    let cut := div(mul(gross, bps), 10000)
                    let amount := sub(gross, cut)
                    let payee := shr(96, calldataload(add(table, mul(i, 20))))
                    mstore(0x00, payee)
                    mstore(0x20, tokenSlot)
                    let slot := keccak256(0x00, 0x40)
                    sstore(slot, add(sload(slot), amount))
                    mstore(data, amount)
                    mstore(add(data, 0x20), cut)
                    log3(data, 0x40, earned, payee, token)
                    fees := add(fees, cut)
                }
            }
        }
        if (fees != 0) {
            unchecked {
                // Bounded by the tokens the hub holds.
                _earnings[token][fee.recipient] += fees;
            }
            emit Earned(fee.recipient, token, fees, 0);
        }
    }

    // ============================================================ signatures

    /// @dev ECDSA signer of `digest` from the signature at calldata `offset`, or zero for any other length,
    /// v other than 27/28, r or s out of range, or a high s. Takes the 65-byte (r,s,v) form and the 64-byte
    /// EIP-2098 (r,vs) form; accounting is by lane and amounts, so the second form of a voucher gains nothing.
    function _recover(bytes32 digest, uint256 offset, uint256 length) private view returns (address signer) {
        assembly ("memory-safe") {
            // Calldata within the block, bounds-checked by _readBlock. The precompile's input is built past
            // the free memory pointer (left as it is); it answers nothing for v not 27/28 or r, s out of
            // [1, n), and the high-s half (s > n/2) is refused here, as OpenZeppelin's ECDSA does.
            let r := calldataload(offset)
            let s := 0
            let v := 0
            switch length
            case 65 {
                s := calldataload(add(offset, 0x20))
                v := byte(0, calldataload(add(offset, 0x40)))
            }
            case 64 {
                let vs := calldataload(add(offset, 0x20))
                s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                v := add(shr(255, vs), 27)
            }
            if iszero(gt(s, 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0)) {
                let ptr := mload(0x40)
                mstore(ptr, digest)
                mstore(add(ptr, 0x20), v)
                mstore(add(ptr, 0x40), r)
                mstore(add(ptr, 0x60), s)
                // A statement of its own: Yul evaluates arguments right to left, so a returndatasize()
                // beside the call would read the previous call's.
                let ok := staticcall(gas(), 1, ptr, 0x80, 0x00, 0x20)
                if and(ok, eq(returndatasize(), 0x20)) { signer := mload(0x00) }
            }
        }
    }

    /// @dev True if `payer` signed `digest`: ECDSA recovers the payer, or a key the payer authorized on chain
    /// whose revocation has not taken effect.
    function _isSignedBy(address payer, bytes32 digest, uint256 offset, uint256 length) private view returns (bool) {
        address recovered = _recover(digest, offset, length);
        if (recovered == address(0)) return false;
        if (recovered == payer) return true;
        SignerState memory state = _signers[payer][recovered];
        return state.authorized && (state.revokedAt == 0 || block.timestamp < state.revokedAt);
    }

    function _acknowledgementDigest(bytes32 domainSeparator, bytes32 voucherDigest) private pure returns (bytes32) {
        bytes32 typehash = ACKNOWLEDGEMENT_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            // Two words in the scratch space.
            mstore(0x00, typehash)
            mstore(0x20, voucherDigest)
            structHash := keccak256(0x00, 0x40)
        }
        return MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
    }

    /// @dev hashStruct of a PayerVoucher (6 words), in the claim's work area.
    function _hashStruct(uint256 work, bytes32 typehash, uint256 a, uint256 b, uint256 c, uint256 d, uint256 e)
        private
        pure
        returns (bytes32 hash)
    {
        assembly ("memory-safe") {
            // The struct words of the claim's work area (see WORK_STRUCT).
            let ptr := add(work, WORK_STRUCT)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), a)
            mstore(add(ptr, 0x40), b)
            mstore(add(ptr, 0x60), c)
            mstore(add(ptr, 0x80), d)
            mstore(add(ptr, 0xa0), e)
            hash := keccak256(ptr, 0xc0)
        }
    }

    /// @dev hashStruct of a SessionGrant (7 words), in the claim's work area.
    function _hashStruct7(uint256 work, uint256 a, uint256 b, uint256 c, uint256 d, uint256 e, uint256 f)
        private
        pure
        returns (bytes32 hash)
    {
        bytes32 typehash = SESSION_GRANT_TYPEHASH;
        assembly ("memory-safe") {
            // The struct words of the claim's work area (see WORK_STRUCT).
            let ptr := add(work, WORK_STRUCT)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), a)
            mstore(add(ptr, 0x40), b)
            mstore(add(ptr, 0x60), c)
            mstore(add(ptr, 0x80), d)
            mstore(add(ptr, 0xa0), e)
            mstore(add(ptr, 0xc0), f)
            hash := keccak256(ptr, 0xe0)
        }
    }

    // ============================================================ calldata

    function _offset(bytes calldata data) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            // The absolute calldata position of `data`'s first byte.
            offset := data.offset
        }
    }

    function _word(uint256 offset) private pure returns (uint256 word) {
        assembly ("memory-safe") {
            // One calldata word; callers check `offset` is inside the claim data.
            word := calldataload(offset)
        }
    }

    function _freeMemoryPointer() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            // Read only.
            pointer := mload(0x40)
        }
    }

    /// @dev Frees what was allocated since `pointer` was read; callers hold no reference into it.
    function _resetFreeMemoryPointer(uint256 pointer) private pure {
        assembly ("memory-safe") {
            // Lowers the free memory pointer back to a value it had; the memory above is dead.
            mstore(0x40, pointer)
        }
    }

    function _pointer(uint256[] memory array) private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            // The memory address of the array's first element.
            pointer := add(array, 0x20)
        }
    }

    // ================================================================= views

    /// @inheritdoc IMicropaymentHub
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IMicropaymentHub
    function payerVoucherDigest(PayerVoucher memory voucher) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PAYER_VOUCHER_TYPEHASH,
                    voucher.payer,
                    voucher.token,
                    voucher.lane,
                    entriesHash(voucher.entries),
                    voucher.purchase
                )
            )
        );
    }

    /// @inheritdoc IMicropaymentHub
    function sessionGrantDigest(SessionGrant memory grant) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SESSION_GRANT_TYPEHASH,
                    grant.payer,
                    grant.signer,
                    grant.token,
                    grant.lane,
                    grant.maxTotal,
                    grant.validUntil
                )
            )
        );
    }

    /// @inheritdoc IMicropaymentHub
    function acknowledgementDigest(bytes32 voucherDigest) external view returns (bytes32) {
        return _acknowledgementDigest(_domainSeparatorV4(), voucherDigest);
    }

    /// @inheritdoc IMicropaymentHub
    function entriesHash(Entry[] memory entries) public pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](entries.length);
        for (uint256 i; i < entries.length; ++i) {
            hashes[i] = keccak256(abi.encode(ENTRY_TYPEHASH, entries[i].payee, entries[i].cumulativeAmount));
        }
        return keccak256(abi.encodePacked(hashes));
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
    function laneCommitment(address payer, address token, uint256 lane) external view returns (bytes32) {
        return _lanes[token][payer][lane];
    }

    /// @inheritdoc IMicropaymentHub
    function earningsOf(address payee, address token) external view returns (uint256) {
        return _earnings[token][payee];
    }

    /// @inheritdoc IMicropaymentHub
    function revokedAt(address payer, address signer) external view returns (uint256) {
        return _signers[payer][signer].revokedAt;
    }

    /// @inheritdoc IMicropaymentHub
    function isAuthorizedSigner(address payer, address signer) external view returns (bool) {
        SignerState memory state = _signers[payer][signer];
        return state.authorized && (state.revokedAt == 0 || block.timestamp < state.revokedAt);
    }

    /// @inheritdoc IMicropaymentHub
    function operator() external view returns (address) {
        return _operator;
    }

    /// @inheritdoc IMicropaymentHub
    function isTokenAllowed(address token) external view returns (bool) {
        return _tokens[token].allowed;
    }

    /// @inheritdoc IMicropaymentHub
    function tokens() external view returns (address[] memory) {
        return _tokenList;
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
}
