/**
 * IAM for local mode: each function's role, with the policies the synthesized template grants it, gets
 * credentials of its own; every request a local endpoint receives is evaluated against the policies of the
 * identity that signed it, on the real action and resource ARN, by a maintained IAM policy evaluator
 * (@cloud-copilot/iam-simulate). A call the deployed role could not make is refused here as AWS refuses it.
 *
 * People are IAM users (`createUser`): long-term keys, no session token, their own policies.
 *
 * One identity stands outside: the account's administrator (`ADMIN_ACCESS_KEY_ID`), which the tests, the
 * CLI and the lab use to set things up, as a person with admin rights would in a real account.
 * The service endpoints do not verify signatures (the access key id in the Authorization header names the
 * caller); the function URL does, with the secret `signingIdentity` gives it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';

export const ADMIN_ACCESS_KEY_ID = 'local';
/** The administrator's secret, for an endpoint that verifies signatures. */
export const ADMIN_SECRET_ACCESS_KEY = 'local';

/** One action on one resource, as IAM evaluates it (a transaction is several). */
export interface ServiceRequest {
  readonly action: string;
  readonly resource: string;
  /** Condition keys the service sets for this request, e.g. `ssm:resourceTag/rejuv:managed`. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  /**
   * The resource's own policy, for services where it decides too: a KMS key is usable through IAM only
   * if its key policy lets the account's IAM policies grant it.
   */
  readonly resourcePolicy?: PolicyDocument;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly unknown[] | unknown;
}

export interface LocalIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** A role session's token; an IAM user's long-term key has none. */
  readonly sessionToken?: string;
  /**
   * `arn:aws:sts::<account>:assumed-role/<role>/<session>` or `arn:aws:iam::<account>:user/<name>`, as the
   * service names the caller.
   */
  readonly principalArn: string;
}

/** A role session's credentials: always with a token. */
export interface LocalRoleSession extends LocalIdentity {
  readonly sessionToken: string;
}

/**
 * What an endpoint that verifies SigV4 needs to know of an access key: its secret and token to recompute
 * the signature, and who signed, as `requestContext.authorizer.iam` reports it.
 */
export interface SigningIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
  readonly principalArn: string;
  readonly accountId: string;
  /** IAM's unique id: `AIDA…` for a user, `AROA…:<session>` for a role session. */
  readonly userId: string;
}

export type Authorization =
  | { readonly outcome: 'allowed' }
  | { readonly outcome: 'unknown-key'; readonly message: string }
  | { readonly outcome: 'denied'; readonly message: string; readonly request: ServiceRequest };

export interface Authorizer {
  authorize(accessKeyId: string | undefined, requests: readonly ServiceRequest[]): Promise<Authorization>;
}

interface Principal {
  readonly principalArn: string;
  readonly policies: readonly PolicyDocument[];
  readonly secretAccessKey: string;
  readonly sessionToken: string | undefined;
  readonly userId: string;
}

export class LocalIam implements Authorizer {
  private readonly principals = new Map<string, Principal>();
  private readonly decisions = new Map<string, Promise<Authorization>>();
  private readonly refused: { principalArn: string; request: ServiceRequest }[] = [];
  private readonly used = new Set<string>();
  private checked = 0;
  private checkingMs = 0;

  constructor(private readonly accountId: string) {}

  /** Credentials for a session of `roleName` (a function's role), allowed what `policies` allow. */
  assumeRole(roleName: string, sessionName: string, policies: readonly PolicyDocument[]): LocalRoleSession {
    const principalArn = `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/${sessionName}`;
    const accessKeyId = `ASIA${idOf(principalArn)}`;
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(64).toString('base64');
    // A role's unique id names the role, not the session; the session name follows it.
    const userId = `AROA${idOf(`arn:aws:iam::${this.accountId}:role/${roleName}`)}:${sessionName}`;
    this.principals.set(accessKeyId, { principalArn, policies, secretAccessKey, sessionToken, userId });
    return { accessKeyId, secretAccessKey, sessionToken, principalArn };
  }

  /**
   * An IAM user (a person: an operator, an auditor) with a long-term access key and no session token,
   * allowed what `policies` allow. Creating a user again gives it a new key; the old one keeps working,
   * as a second access key would.
   */
  createUser(userName: string, policies: readonly PolicyDocument[]): LocalIdentity {
    if (!/^[\w+=,.@-]{1,64}$/.test(userName))
      throw new Error(
        `invalid IAM user name ${JSON.stringify(userName)}: 1-64 of letters, digits and +=,.@_-`,
      );
    const principalArn = `arn:aws:iam::${this.accountId}:user/${userName}`;
    const secretAccessKey = randomBytes(30).toString('base64');
    const accessKeyId = `AKIA${idOf(`${principalArn}#${secretAccessKey}`)}`;
    const userId = `AIDA${idOf(principalArn)}`;
    this.principals.set(accessKeyId, {
      principalArn,
      policies,
      secretAccessKey,
      sessionToken: undefined,
      userId,
    });
    return { accessKeyId, secretAccessKey, principalArn };
  }

  /**
   * The secret, token and identity behind an access key, for an endpoint that verifies signatures; the
   * administrator is the account's root. Undefined for a key IAM does not know.
   */
  signingIdentity(accessKeyId: string): SigningIdentity | undefined {
    if (accessKeyId === ADMIN_ACCESS_KEY_ID)
      return {
        accessKeyId,
        secretAccessKey: ADMIN_SECRET_ACCESS_KEY,
        sessionToken: undefined,
        principalArn: `arn:aws:iam::${this.accountId}:root`,
        accountId: this.accountId,
        userId: this.accountId,
      };
    const principal = this.principals.get(accessKeyId);
    if (principal === undefined) return undefined;
    return {
      accessKeyId,
      secretAccessKey: principal.secretAccessKey,
      sessionToken: principal.sessionToken,
      principalArn: principal.principalArn,
      accountId: this.accountId,
      userId: principal.userId,
    };
  }

  async authorize(
    accessKeyId: string | undefined,
    requests: readonly ServiceRequest[],
  ): Promise<Authorization> {
    if (accessKeyId === ADMIN_ACCESS_KEY_ID) return { outcome: 'allowed' };
    const session = accessKeyId === undefined ? undefined : this.principals.get(accessKeyId);
    if (accessKeyId === undefined || session === undefined)
      return { outcome: 'unknown-key', message: 'The security token included in the request is invalid.' };
    const started = performance.now();
    try {
      for (const request of requests) {
        this.checked += 1;
        const decision = await this.decide(accessKeyId, session, request);
        if (decision.outcome !== 'allowed') {
          this.refused.push({ principalArn: session.principalArn, request });
          return decision;
        }
      }
      for (const request of requests) this.recordUse(session.principalArn, request);
      return { outcome: 'allowed' };
    } finally {
      this.checkingMs += performance.now() - started;
    }
  }

  /** What enforcement cost so far: requests evaluated, and the time spent deciding them. */
  cost(): { readonly requestsChecked: number; readonly checkingMs: number } {
    return { requestsChecked: this.checked, checkingMs: Math.round(this.checkingMs) };
  }

  /** Every request refused so far, with who asked: what a test or a run reads to find a missing grant. */
  refusals(): readonly { principalArn: string; request: ServiceRequest }[] {
    return [...this.refused];
  }

  /**
   * What each role was allowed to do so far, one `role<TAB>action<TAB>resource` line each: the evidence
   * for trimming a grant nothing uses. With REJUV_LOCAL_IAM_USAGE set, each new line is also appended to
   * that file, so a whole test run's usage can be collected.
   */
  usage(): readonly string[] {
    return [...this.used].sort();
  }

  private recordUse(principalArn: string, request: ServiceRequest): void {
    const role = principalArn.split('/')[1] ?? principalArn;
    const line = `${role}\t${request.action}\t${request.resource}`;
    if (this.used.has(line)) return;
    this.used.add(line);
    const file = process.env['REJUV_LOCAL_IAM_USAGE'];
    if (file !== undefined && file !== '') appendFileSync(file, `${line}\n`);
  }

  private decide(accessKeyId: string, session: Principal, request: ServiceRequest): Promise<Authorization> {
    const key = JSON.stringify([
      accessKeyId,
      request.action,
      request.resource,
      request.context ?? {},
      request.resourcePolicy ?? null,
    ]);
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      decision = this.evaluate(session, request);
      this.decisions.set(key, decision);
    }
    return decision;
  }

  private async evaluate(session: Principal, request: ServiceRequest): Promise<Authorization> {
    const simulation = {
      identityPolicies: session.policies.map((policy, i) => ({ name: `policy${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy === undefined ? {} : { resourcePolicy: request.resourcePolicy }),
      request: {
        action: request.action,
        principal: session.principalArn,
        resource: { resource: request.resource, accountId: this.accountId },
        contextVariables: { ...request.context },
      },
    } as unknown as Simulation;
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      // A request the evaluator cannot even check (an unknown action, an ARN of the wrong shape) is a
      // defect of the emulation or of the policy, not a decision: say so loudly rather than allow it.
      throw new Error(
        `cannot evaluate ${request.action} on ${request.resource} for ${session.principalArn}: ${JSON.stringify(result.errors)}`,
      );
    }
    if (result.overallResult === 'Allowed') return { outcome: 'allowed' };
    // AWS names the kind of policy whose Deny decided it; a resource policy's (a bucket or key policy) too.
    const deniedByResourcePolicy =
      result.resultType === 'single' &&
      (result.result.analysis?.resourceAnalysis?.denyStatements.length ?? 0) > 0;
    const because =
      result.overallResult !== 'ExplicitlyDenied'
        ? `because no identity-based policy allows the ${request.action} action`
        : deniedByResourcePolicy
          ? `with an explicit deny in a resource-based policy`
          : `with an explicit deny in an identity-based policy`;
    return {
      outcome: 'denied',
      request,
      message: `User: ${session.principalArn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${because}`,
    };
  }
}

/** 16 characters of IAM's id alphabet, derived from `seed`: stable for a role or user across runs. */
function idOf(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 16).toUpperCase();
}

/** The access key id of a SigV4-signed request (`Credential=<key>/<date>/<region>/<service>/aws4_request`). */
export function accessKeyIdOf(authorization: string | string[] | undefined): string | undefined {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  return /Credential=([^/,\s]+)\//.exec(header ?? '')?.[1];
}
