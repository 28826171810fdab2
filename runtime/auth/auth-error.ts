import { AppError } from "../errors.ts";

/** Why a credential was refused. Goes into the audit log and the problem detail; never the secret. */
export type AuthFailureReason =
  | "missing"
  | "malformed"
  | "unknown_key"
  | "key_revoked"
  | "key_expired"
  | "alg_not_allowed"
  | "typ_invalid"
  | "header_invalid"
  | "kid_missing"
  | "kid_unknown"
  | "signature_invalid"
  | "expired"
  | "not_yet_valid"
  | "issuer_invalid"
  | "audience_invalid"
  | "claims_invalid";

// Safe, fixed texts: they say what is wrong with the credential without echoing any of it.
const DETAIL: Record<AuthFailureReason, string> = {
  missing: "This endpoint requires a credential: send Authorization: Bearer <API key or token>.",
  malformed: "The credential is malformed.",
  unknown_key: "The API key is not valid.",
  key_revoked: "The API key has been revoked.",
  key_expired: "The API key has expired.",
  alg_not_allowed: "The token's signing algorithm is not accepted (only EdDSA).",
  typ_invalid: "The token's type is not JWT.",
  header_invalid: "The token header carries unsupported parameters.",
  kid_missing: "The token header has no key id (kid).",
  kid_unknown: "The token was signed with a key this node does not know.",
  signature_invalid: "The token signature is invalid.",
  expired: "The token has expired.",
  not_yet_valid: "The token is not valid yet.",
  issuer_invalid: "The token was issued by an issuer this node does not accept.",
  audience_invalid: "The token is meant for another audience.",
  claims_invalid: "The token's claims are incomplete or invalid.",
};

/** A refused credential: 401 UNAUTHENTICATED with a reason code and a WWW-Authenticate challenge (RFC 6750). */
export class AuthError extends AppError {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason) {
    const challenge =
      reason === "missing" ? 'Bearer realm="sutazai"' : 'Bearer realm="sutazai", error="invalid_token"';
    super(401, "UNAUTHENTICATED", DETAIL[reason], { headers: { "WWW-Authenticate": challenge } });
    this.name = "AuthError";
    this.reason = reason;
  }
}
