/**
 * The CLI's side of the operator API: every action that changes something goes to the one endpoint AWS
 * authenticates, signed with the caller's credentials; the API's answer becomes the CLI's exit code.
 */
import { z } from 'zod';
import { CliError, EXIT, exitCodeOfErrorName, type ExitCode } from './exit-codes.js';

/** Sends one signed POST with a JSON body; resolves with the HTTP status and body, whatever the status. */
export type SignedPost = (body: string) => Promise<{ readonly status: number; readonly body: string }>;

const ApiErrorSchema = z.looseObject({ error: z.string(), message: z.string() });
const ApiAnswerSchema = z.looseObject({ action: z.string(), principal: z.string(), result: z.unknown() });

export type OperatorApiAnswer = z.output<typeof ApiAnswerSchema>;

/**
 * The API's answer as the CLI's exit code: a rejuv error by its name (the code it has wherever it is
 * raised), anything else (a Function URL's own refusal, a proxy) by its status.
 */
function exitCodeOf(status: number, errorName: string | undefined): ExitCode {
  const byName = errorName === undefined ? undefined : exitCodeOfErrorName(errorName);
  if (byName !== undefined) return byName;
  if (status === 400) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.notAuthorized;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.failed;
}

export class OperatorApiClient {
  constructor(
    private readonly post: SignedPost,
    /** Says where the request went, in errors: the URL or "the local operator API". */
    private readonly where: string,
  ) {}

  async send(request: Readonly<Record<string, unknown>>): Promise<OperatorApiAnswer> {
    let answer: { status: number; body: string };
    try {
      answer = await this.post(JSON.stringify(request));
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new CliError(`cannot reach ${this.where}: ${message}`, EXIT.unavailable, { cause: error });
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.body);
    } catch {
      json = undefined;
    }
    if (answer.status === 200) {
      const parsed = ApiAnswerSchema.safeParse(json);
      if (!parsed.success)
        throw new CliError(`${this.where} answered 200 with an unexpected body`, EXIT.unavailable);
      return parsed.data;
    }
    const error = ApiErrorSchema.safeParse(json);
    // Function URLs answer their own refusals (a bad signature, no lambda:InvokeFunctionUrl) as {"Message": …}.
    const message = error.success
      ? `${error.data.error}: ${error.data.message}`
      : answer.status === 403
        ? 'Forbidden: AWS refused the request (no lambda:InvokeFunctionUrl on the operator API for these credentials, or a bad signature)'
        : `HTTP ${answer.status}: ${answer.body.slice(0, 500)}`;
    throw new CliError(
      `the operator API refused: ${message}`,
      exitCodeOf(answer.status, error.success ? error.data.error : undefined),
    );
  }
}
