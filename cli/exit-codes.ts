/**
 * What `rejuv`'s exit status means, for scripts and runbooks. Stable: add codes, never renumber.
 */
import { kindOfErrorName, type ErrorKind } from '../shared/domain/error-classification.js';

export const EXIT = {
  /** Done, and the outcome is the one asked for (a rejuvenated host, an intact audit trail, ...). */
  ok: 0,
  /** The command ran but the outcome is a failure: the execution was refused, recovered or failed. */
  failed: 1,
  /** Bad arguments or options; nothing was changed. */
  usage: 2,
  /** `audit verify` found a broken link in at least one chain. */
  auditBroken: 3,
  /** The host or execution named does not exist. */
  notFound: 4,
  /** The coordinator could not be reached (local environment down, AWS unreachable, no credentials). */
  unavailable: 5,
  /** The execution ended with the host QUARANTINED: a person must look at it. */
  quarantined: 6,
  /** The operator API refused the caller: no grant for the host's pool (the refusal is audited). */
  notAuthorized: 7,
  /** Refused because of where the host stands (not quarantined, owned by an execution, already registered). */
  conflict: 8,
  /** Interrupted by Ctrl-C; a started execution keeps running. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit status of each kind of rejuv error (shared/domain/error-classification.ts). */
export const EXIT_CODE_OF_KIND: Readonly<Record<ErrorKind, ExitCode>> = {
  transient: EXIT.unavailable,
  contended: EXIT.conflict,
  usage: EXIT.usage,
  notFound: EXIT.notFound,
  notAuthorized: EXIT.notAuthorized,
  conflict: EXIT.conflict,
  failed: EXIT.failed,
};

/** The exit status of the rejuv error named `name`, wherever it was raised; undefined for another name. */
export function exitCodeOfErrorName(name: string): ExitCode | undefined {
  const kind = kindOfErrorName(name);
  return kind === undefined ? undefined : EXIT_CODE_OF_KIND[kind];
}

/** An error the CLI reports in one line and turns into a particular exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}
