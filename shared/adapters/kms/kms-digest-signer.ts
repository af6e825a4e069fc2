import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash, createPublicKey } from 'node:crypto';
import { DIGEST_SIGNING_ALGORITHM } from '../../domain/audit-digest.js';
import type { DigestSigner } from '../../ports/digest-signer.js';

/**
 * Signs with an asymmetric KMS key. KMS signs at most 4 KiB as a message, and a digest may be larger, so
 * it is sent as its SHA-256 (MessageType DIGEST): the signature is the same one KMS would make over the
 * whole message, which `openssl dgst -sha256 -verify` checks against the digest's bytes.
 */
export class KmsDigestSigner implements DigestSigner {
  constructor(
    private readonly kms: KMSClient,
    readonly keyId: string,
  ) {}

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const { Signature } = await this.kms.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: createHash('sha256').update(message).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: DIGEST_SIGNING_ALGORITHM,
      }),
    );
    if (Signature === undefined) throw new Error(`KMS returned no signature for key ${this.keyId}`);
    return Signature;
  }

  async publicKeyPem(): Promise<string> {
    const { PublicKey } = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    if (PublicKey === undefined) throw new Error(`KMS returned no public key for key ${this.keyId}`);
    return createPublicKey({ key: Buffer.from(PublicKey), format: 'der', type: 'spki' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
  }
}
