// MicropaymentsError    a refusal of the server (stable `code`, `message`, structured `fields`),
//                       an error of the API (`extensions.code`), a check of this client that
//                       refused to sign (UNEXPECTED_TYPED_DATA, PRICE_ABOVE_MAX, ...), or
//                       UNAVAILABLE (no answer: retry)

/** A refusal or an error of the API, with a stable `code` (e.g. INSUFFICIENT_FUNDS). */
export class MicropaymentsError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [fields]
   */
  constructor(code, message, fields = {}) {
    super(message);
    this.name = "MicropaymentsError";
    this.code = code;
    this.fields = fields;
  }
}
