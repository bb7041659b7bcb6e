/**
 * DPoP (RFC 9449): the proofs already seen, so that a replayed proof is refused by every
 * server process on the database (§11.1), and the secret the server nonces are derived from
 * (§8), shared by those processes too: the `dpop` repository.
 */

export interface DpopRepository {
  /**
   * Remember a proof (`proofKey`, a hash of its key and jti) until `expiresAt`, atomically.
   * False when a proof with that key is already remembered and not expired at `now`: a replay.
   */
  rememberProof(proofKey: Buffer, expiresAt: number, now: number): Promise<boolean>;
  /** Forget proofs that expired before `before`. Returns how many. */
  purgeExpiredProofs(before: number): Promise<number>;
  /**
   * The server secret called `name`: the stored one, or `candidate` stored now when there is
   * none yet (the first process to ask wins; every process gets the same secret).
   */
  serverSecret(name: string, candidate: Buffer, now: number): Promise<Buffer>;
}
