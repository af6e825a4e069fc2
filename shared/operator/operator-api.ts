/**
 * The operator API: the one way a person acts on hosts (start, dry run, release, register, deregister,
 * sync, inventory). The caller is who AWS authenticated, given by the endpoint; the payload cannot name anyone.
 * Every action is checked against the operator grants for the pool it touches, and a refusal is audited
 * before it is answered.
 */
import { z } from 'zod';
import { hostChainId } from '../domain/audit-record.js';
import type { Clock } from '../domain/clock.js';
import { NotAuthorizedError, ValidationError } from '../domain/errors.js';
import { HostIdSchema, PoolIdSchema, PrincipalSchema } from '../domain/identifiers.js';
import type { Host } from '../domain/host.js';
import { parseWith } from '../domain/validation.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { HostRepository } from '../ports/host-repository.js';
import { mayActOnEveryPool, mayActOnPool, poolsOf, type OperatorGrant } from './operator-grants.js';

export const CAMPAIGN_ACTIONS = [
  'campaign-start',
  'campaign-status',
  'campaign-pause',
  'campaign-resume',
  'campaign-cancel',
  'campaign-approve',
  'campaign-reject',
] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

export const OPERATOR_ACTIONS = [
  'start',
  'release',
  'register',
  'deregister',
  'sync',
  'inventory',
  ...CAMPAIGN_ACTIONS,
] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/** Where refusals that concern no registered host are recorded. */
export const OPERATOR_API_CHAIN = 'operator-api';

/** A request as the endpoint hands it over: the authenticated caller, the endpoint's request id, the body. */
export interface OperatorCall {
  /** The caller's ARN as AWS authenticated it. */
  readonly callerArn: string;
  /** Unique per request (the function URL's request id): names the audit records of a refusal. */
  readonly requestId: string;
  readonly body: unknown;
}

/** What each action does once the caller is known and allowed: the use cases, bound to their ports. */
export interface OperatorActions {
  start(principal: string, input: Record<string, unknown>): Promise<object>;
  release(principal: string, input: Record<string, unknown>): Promise<object>;
  register(principal: string, input: Record<string, unknown>): Promise<object>;
  deregister(principal: string, input: Record<string, unknown>): Promise<object>;
  sync(principal: string): Promise<object>;
  /** The host's census, and adoption of its adoptable VMs into its inventory (host-inventory.ts). */
  inventory(principal: string, input: Record<string, unknown>): Promise<object>;
}

/** Campaigns (shared/campaign/campaign-operations.ts), bound to their ports. */
export interface CampaignActions {
  /** The pools the request touches: those of the hosts a start names, or of an existing campaign. */
  poolsOf(action: CampaignAction, input: Record<string, unknown>): Promise<readonly string[]>;
  run(action: CampaignAction, principal: string, input: Record<string, unknown>): Promise<object>;
}

export interface OperatorApiDeps {
  /** @default - campaign actions are refused as not configured */
  readonly campaigns?: CampaignActions;
  readonly grants: readonly OperatorGrant[];
  /**
   * Who may start a host with `breakGlassReason` (the policy's `breakGlassPrincipals`); anyone else asking
   * is refused and audited before anything starts. @default - nobody
   */
  readonly breakGlassPrincipals?: readonly string[];
  readonly hosts: Pick<HostRepository, 'get'>;
  readonly audit: Pick<AuditLog, 'append'>;
  readonly clock: Clock;
  readonly actions: OperatorActions;
}

export interface OperatorResponse {
  readonly action: OperatorAction;
  /** Who the audit trail names: the authenticated caller. */
  readonly principal: string;
  readonly result: object;
}

const EnvelopeSchema = z.looseObject({ action: z.enum(OPERATOR_ACTIONS) });
const CallSchema = z.strictObject({
  callerArn: PrincipalSchema,
  requestId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'request id: 1-64 chars of A-Z a-z 0-9 -'),
  body: z.unknown(),
});

export async function handleOperatorCall(
  deps: OperatorApiDeps,
  call: OperatorCall,
): Promise<OperatorResponse> {
  const { callerArn, requestId } = parseWith(CallSchema, 'operator call', call);
  const envelope = parseWith(EnvelopeSchema, 'operator request', call.body);
  // Who asked is the endpoint's to say: a `principal` in the payload is dropped, never believed.
  const { action, principal: _claimed, ...input } = envelope;
  const refuse = async (scope: string, host: Host | undefined): Promise<never> => {
    const reason = `${callerArn} may not ${action} ${scope}`;
    await deps.audit.append(host === undefined ? OPERATOR_API_CHAIN : hostChainId(host.hostId), {
      eventId: `operator-api:refused:${requestId}`,
      at: new Date(deps.clock.nowMs()).toISOString(),
      principal: callerArn,
      trigger: 'operator',
      step: 'OperatorApi',
      outcome: 'refused',
      reason,
      ...(host === undefined ? {} : { fromState: host.state, toState: host.state }),
      detail: { action, ...(host === undefined ? {} : { pool: host.pool }) },
    });
    throw new NotAuthorizedError(callerArn, action, reason);
  };

  if (poolsOf(deps.grants, callerArn).size === 0)
    await refuse('any pool: no operator grant names it', undefined);

  switch (action) {
    case 'sync':
      if (!mayActOnEveryPool(deps.grants, callerArn))
        await refuse('every pool (sync needs a grant on *)', undefined);
      return { action, principal: callerArn, result: await deps.actions.sync(callerArn) };
    case 'register': {
      const pool = parseWith(PoolIdSchema, 'operator request: pool', input['pool']);
      if (!mayActOnPool(deps.grants, callerArn, pool)) await refuse(`pool ${pool}`, undefined);
      return { action, principal: callerArn, result: await deps.actions.register(callerArn, input) };
    }
    case 'campaign-start':
    case 'campaign-status':
    case 'campaign-pause':
    case 'campaign-resume':
    case 'campaign-cancel':
    case 'campaign-approve':
    case 'campaign-reject': {
      const campaigns = deps.campaigns;
      if (campaigns === undefined)
        throw new ValidationError('operator request', [`${action}: campaigns are not configured here`]);
      // A campaign acts on every pool it touches: the caller needs a grant on each of them.
      const pools = await campaigns.poolsOf(action, input);
      const refused = pools.filter((pool) => !mayActOnPool(deps.grants, callerArn, pool));
      if (refused.length > 0) await refuse(`pool ${refused.join(', ')}`, undefined);
      return { action, principal: callerArn, result: await campaigns.run(action, callerArn, input) };
    }
    case 'start':
    case 'release':
    case 'deregister':
    case 'inventory': {
      const hostId = parseWith(HostIdSchema, 'operator request: hostId', input['hostId']);
      // An unknown host is a plain 404 for anyone holding some grant: host ids are not secrets, clarity is.
      const host = await deps.hosts.get(hostId);
      if (!mayActOnPool(deps.grants, callerArn, host.pool)) await refuse(`pool ${host.pool}`, host);
      // Checked here too (Admit's gate would deny it), so a refused principal starts nothing at all.
      if (
        action === 'start' &&
        input['breakGlassReason'] !== undefined &&
        !(deps.breakGlassPrincipals ?? []).includes(callerArn)
      )
        await refuse(
          `host ${host.hostId} with break-glass: not one of the policy's breakGlassPrincipals`,
          host,
        );
      return { action, principal: callerArn, result: await deps.actions[action](callerArn, input) };
    }
  }
}
