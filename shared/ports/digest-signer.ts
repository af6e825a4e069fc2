/** Signs audit digests with a key whose private half the coordinator never holds (KMS). */
export interface DigestSigner {
  /** The key's ARN, named in every digest. */
  readonly keyId: string;
  /** The signature over `message` (the digest's bytes), with the digest signing algorithm. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** The public key, PEM (SPKI): what a verifier needs, offline. */
  publicKeyPem(): Promise<string>;
}
