/** Why the local runner would not start a document: every one of these is raised before anything runs. */
import { RejuvError } from '../../shared/domain/errors.js';

/** SendCommand's InvalidParameters: unknown, missing, mistyped, or not matching allowedValues/allowedPattern. */
export class DocumentParameterError extends RejuvError {
  override readonly name = 'DocumentParameterError';
  readonly retryable = false;
  constructor(
    readonly documentName: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid parameters for ${documentName}: ${issues.join('; ')}`);
  }
}

/** The document is malformed or uses a feature the local runner does not emulate. */
export class UnsupportedDocumentError extends RejuvError {
  override readonly name = 'UnsupportedDocumentError';
  readonly retryable = false;
  constructor(
    readonly documentName: string,
    readonly problem: string,
  ) {
    super(`document ${documentName} cannot run locally: ${problem}`);
  }
}
