/** People who sign in to the verification pages: the record and the `users` repository. */

export type UserRole = 'user' | 'developer' | 'admin';

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: UserRole;
  createdAt: number;
  /** When an operator disabled the account (`kalm user disable`); null (or absent) while it may sign in. */
  disabledAt?: number | null;
}

/** What an operator may change of an account. */
export type UserChanges = Partial<Pick<UserRecord, 'passwordHash' | 'role' | 'disabledAt'>>;

export interface UserRepository {
  create(user: UserRecord): Promise<void>;
  get(id: string): Promise<UserRecord | undefined>;
  getByUsername(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /**
   * Apply `changes`; with `endSessions`, every browser session of the account is deleted in the
   * same transaction (disabled, or given a new password). False when there is no such user.
   */
  update(id: string, changes: UserChanges, options?: { endSessions?: boolean }): Promise<boolean>;
  /**
   * Delete an account in one transaction: its sessions, and by cascade its grants with their
   * refresh tokens, device and authorization codes, consents and initial access tokens; the
   * clients it registered stay, without an owner. False when unknown.
   */
  delete(id: string): Promise<boolean>;
}
