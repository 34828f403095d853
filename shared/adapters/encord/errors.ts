import { PermanentError } from "../../errors.ts";

/**
 * An error Encord answered with that retrying cannot fix (bad arguments, missing resource, label
 * limit). `encordCode` is the v1 code (`RESOURCE_NOT_FOUND_ERROR`, `MULTI_LABEL_LIMIT_ERROR`, …) or
 * `HTTP_<status>` for v2; `payload` is Encord's extra detail (never request data).
 */
export class EncordApiError extends PermanentError {
  readonly encordCode: string;
  readonly httpStatus: number;
  readonly payload: unknown;
  constructor(code: string, message: string, details: { encordCode: string; httpStatus: number; payload?: unknown }) {
    super(code, message);
    this.encordCode = details.encordCode;
    this.httpStatus = details.httpStatus;
    this.payload = details.payload;
  }
}

/**
 * Encord refused the credentials (unknown or unregistered key, bad signature, no access). One of
 * these stops the whole operation: the caller alerts once instead of failing every item.
 */
export class EncordAuthError extends EncordApiError {
  constructor(message: string, details: { encordCode: string; httpStatus: number; payload?: unknown }) {
    super("encord_auth_failed", message, details);
  }

  /** The key is known but may not touch this resource (v2 403, v1 AUTHORISATION_ERROR). */
  get accessRefused(): boolean {
    if (this.encordCode === "AUTHORISATION_ERROR") return true;
    if (this.encordCode === "AUTHENTICATION_ERROR" || this.encordCode === "SSH_KEY_NOT_FOUND_ERROR") return false;
    return this.httpStatus === 403;
  }
}

/** v1 codes meaning "your credentials are not accepted". */
export const V1_AUTH_CODES: ReadonlySet<string> = new Set(["AUTHENTICATION_ERROR", "AUTHORISATION_ERROR", "SSH_KEY_NOT_FOUND_ERROR"]);

/** Every v1 code the SDK maps to a specific exception (docs/encord.md §10.2): Encord's verdicts, not faults. */
export const V1_KNOWN_CODES: ReadonlySet<string> = new Set([
  "AUTHENTICATION_ERROR", "AUTHORISATION_ERROR", "RESOURCE_NOT_FOUND_ERROR", "METHOD_NOT_ALLOWED_ERROR", "OPERATION_NOT_ALLOWED",
  "ANSWER_DICTIONARY_ERROR", "CORRUPTED_LABEL_ERROR", "FILE_TYPE_NOT_SUPPORTED_ERROR", "FILE_SIZE_NOT_SUPPORTED_ERROR",
  "FEATURE_DOES_NOT_EXIST_ERROR", "MODEL_WEIGHTS_INCONSISTENT_ERROR", "MODEL_FEATURES_INCONSISTENT_ERROR",
  "UPLOAD_OPERATION_NOT_SUPPORTED_ERROR", "MUST_SET_DETECTION_RANGE_ERROR", "DETECTION_RANGE_INVALID_ERROR", "RESOURCE_EXISTS_ERROR",
  "INVALID_DATE_FORMAT_ERROR", "DUPLICATE_SSH_KEY_ERROR", "SSH_KEY_NOT_FOUND_ERROR", "INVALID_ARGUMENTS_ERROR",
  "MULTI_LABEL_LIMIT_ERROR", "WRONG_PROJECT_TYPE_ERROR",
]);

export function isEncordCode(err: unknown, code: string): err is EncordApiError {
  return err instanceof EncordApiError && err.encordCode === code;
}

/** Encord's free-text detail, shortened: it is shown to operators, and may echo our input. */
export function detailText(payload: unknown, max = 300): string {
  if (payload == null) return "";
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
