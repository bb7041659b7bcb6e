/** Remembered consent: the record and the consent part of the `authorization` repository (see index.ts). */

/** What a person decided for a client: remembered so the same request can skip the consent screen. */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  requestedScopes: string[];
  grantedScopes: string[];
  updatedAt: number;
}

export interface ConsentRepository {
  getConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  saveConsent(consent: ConsentRecord): Promise<void>;
}
