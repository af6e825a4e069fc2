/**
 * Campaigns in DynamoDB: the partition `campaignId` holds the campaign's own item (`item = campaign`) and
 * one item per host (`item = host#<hostId>`), so a campaign of any size fits and two hosts' outcomes are
 * written without contending. Every write is conditional on the state it moves from. The approval lives on
 * the campaign's item (`approval`, and `approvalToken` while its step waits), so the decision and the
 * status it moves to are one conditional write.
 */
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import {
  APPROVAL_STATES,
  CAMPAIGN_HOST_STATES,
  CAMPAIGN_STATUSES,
  CampaignLimitsSchema,
  FailureToleranceSchema,
  type CampaignApproval,
  type CampaignHost,
  type CampaignHostState,
  type CampaignStatus,
} from '../../campaign/campaign.js';
import { CampaignExistsError, CampaignNotFoundError } from '../../campaign/campaign-errors.js';
import type { ApprovalDecision, CampaignRecord, CampaignStore } from '../../ports/campaign-store.js';
import { isConditionalCheckFailed } from './dynamodb-errors.js';
import { parseItem } from './item-parsing.js';

const CAMPAIGN_ITEM = 'campaign';
const HOST_ITEM_PREFIX = 'host#';

const CampaignItemSchema = z.object({
  campaignId: z.string(),
  item: z.literal(CAMPAIGN_ITEM),
  status: z.enum(CAMPAIGN_STATUSES),
  statusReason: z.string().optional(),
  limits: CampaignLimitsSchema,
  failureTolerance: FailureToleranceSchema,
  startedBy: z.string(),
  reason: z.string(),
  level: z.enum(['vmm-process', 'kernel']),
  createdAt: z.string(),
  approval: z
    .object({
      required: z.boolean(),
      state: z.enum(APPROVAL_STATES),
      by: z.string().optional(),
      atMs: z.number().optional(),
      reason: z.string().optional(),
    })
    .optional(),
  approvalToken: z.string().optional(),
});

/** The approval as DynamoDB stores it: no undefined attributes. */
function approvalItem(approval: CampaignApproval): Record<string, unknown> {
  return Object.fromEntries(Object.entries(approval).filter(([, v]) => v !== undefined));
}

const HostItemSchema = z.object({
  campaignId: z.string(),
  item: z.string().startsWith(HOST_ITEM_PREFIX),
  order: z.number().int().nonnegative(),
  hostId: z.string(),
  pool: z.string(),
  availabilityZone: z.string(),
  state: z.enum(CAMPAIGN_HOST_STATES),
  executionName: z.string().optional(),
  outcome: z.string().optional(),
  endedAtMs: z.number().optional(),
});

export class DynamoDbCampaignStore implements CampaignStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(record: CampaignRecord): Promise<void> {
    const { campaign } = record;
    try {
      // The campaign's own item first, conditionally: a second start with the same id writes no host.
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            campaignId: campaign.campaignId,
            item: CAMPAIGN_ITEM,
            status: campaign.status,
            ...(campaign.statusReason === undefined ? {} : { statusReason: campaign.statusReason }),
            ...(campaign.approval === undefined ? {} : { approval: approvalItem(campaign.approval) }),
            limits: campaign.limits,
            failureTolerance: campaign.failureTolerance,
            startedBy: record.startedBy,
            reason: record.reason,
            level: record.level,
            createdAt: record.createdAt,
          },
          ConditionExpression: 'attribute_not_exists(campaignId)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new CampaignExistsError(campaign.campaignId);
      throw error;
    }
    // Each host's item conditionally too: nothing of another campaign is ever overwritten. In chunks, so a
    // fleet's campaign is written in parallel without a burst the table would throttle.
    const hosts = campaign.hosts.map((h, order) => ({ h, order }));
    for (let i = 0; i < hosts.length; i += 25) {
      await Promise.all(
        hosts.slice(i, i + 25).map(({ h, order }) =>
          this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: {
                campaignId: campaign.campaignId,
                item: `${HOST_ITEM_PREFIX}${h.hostId}`,
                order,
                hostId: h.hostId,
                pool: h.pool,
                availabilityZone: h.availabilityZone,
                state: h.state,
              },
              ConditionExpression: 'attribute_not_exists(campaignId)',
            }),
          ),
        ),
      );
    }
  }

  async get(campaignId: string): Promise<CampaignRecord> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'campaignId = :id',
          ExpressionAttributeValues: { ':id': campaignId },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    const own = items.find((i) => i['item'] === CAMPAIGN_ITEM);
    if (own === undefined) throw new CampaignNotFoundError(campaignId);
    const meta = parseItem(CampaignItemSchema, this.tableName, campaignId, own);
    const hosts = items
      .filter((i) => i['item'] !== CAMPAIGN_ITEM)
      .map((i) => parseItem(HostItemSchema, this.tableName, `${campaignId}/${String(i['item'])}`, i))
      .sort((a, b) => a.order - b.order);
    const executionNames: Record<string, string> = {};
    const outcomes: Record<string, string> = {};
    for (const h of hosts) {
      if (h.executionName !== undefined) executionNames[h.hostId] = h.executionName;
      if (h.outcome !== undefined) outcomes[h.hostId] = h.outcome;
    }
    return {
      campaign: {
        campaignId,
        status: meta.status,
        statusReason: meta.statusReason,
        ...(meta.approval === undefined ? {} : { approval: meta.approval }),
        limits: meta.limits,
        failureTolerance: meta.failureTolerance,
        hosts: hosts.map((h): CampaignHost => ({
          hostId: h.hostId,
          pool: h.pool,
          availabilityZone: h.availabilityZone,
          state: h.state,
          ...(h.endedAtMs === undefined ? {} : { lastRejuvenatedAtMs: h.endedAtMs }),
        })),
      },
      startedBy: meta.startedBy,
      reason: meta.reason,
      level: meta.level,
      createdAt: meta.createdAt,
      executionNames,
      outcomes,
      ...(meta.approvalToken === undefined ? {} : { approvalToken: meta.approvalToken }),
    };
  }

  async storeApprovalToken(campaignId: string, token: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { campaignId, item: CAMPAIGN_ITEM },
        UpdateExpression: 'SET approvalToken = :token',
        ConditionExpression: '#a.#st = :pending',
        ExpressionAttributeNames: { '#a': 'approval', '#st': 'state' },
        ExpressionAttributeValues: { ':token': token, ':pending': 'pending' },
      }),
    );
  }

  async decideApproval(
    campaignId: string,
    decision: ApprovalDecision,
  ): Promise<{ decided: boolean; token?: string | undefined }> {
    const { status } = decision;
    try {
      const answer = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { campaignId, item: CAMPAIGN_ITEM },
          UpdateExpression:
            status === undefined
              ? 'SET #a = :approval REMOVE approvalToken'
              : 'SET #a = :approval, #s = :to, statusReason = :reason REMOVE approvalToken',
          ConditionExpression:
            status === undefined ? '#a.#st = :pending' : '#a.#st = :pending AND #s IN (:running, :paused)',
          ExpressionAttributeNames: {
            '#a': 'approval',
            '#st': 'state',
            ...(status === undefined ? {} : { '#s': 'status' }),
          },
          ExpressionAttributeValues: {
            ':approval': approvalItem(decision.approval),
            ':pending': 'pending',
            ...(status === undefined
              ? {}
              : { ':to': status.to, ':reason': status.reason, ':running': 'running', ':paused': 'paused' }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const token = answer.Attributes?.['approvalToken'];
      return { decided: true, token: typeof token === 'string' ? token : undefined };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { decided: false };
      throw error;
    }
  }

  async setStatus(
    campaignId: string,
    from: CampaignStatus,
    to: CampaignStatus,
    reason: string | undefined,
  ): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { campaignId, item: CAMPAIGN_ITEM },
        UpdateExpression:
          reason === undefined ? 'SET #s = :to REMOVE statusReason' : 'SET #s = :to, statusReason = :reason',
        ConditionExpression: '#s = :from',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':from': from,
          ':to': to,
          ...(reason === undefined ? {} : { ':reason': reason }),
        },
      }),
    );
  }

  async setHostState(
    campaignId: string,
    hostId: string,
    from: CampaignHostState,
    to: CampaignHostState,
    detail: { readonly executionName?: string; readonly outcome?: string; readonly endedAtMs?: number },
  ): Promise<boolean> {
    const sets = ['#s = :to'];
    const values: Record<string, unknown> = { ':from': from, ':to': to };
    for (const [key, value] of Object.entries(detail)) {
      if (value === undefined) continue;
      sets.push(`${key} = :${key}`);
      values[`:${key}`] = value;
    }
    return this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { campaignId, item: `${HOST_ITEM_PREFIX}${hostId}` },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: '#s = :from',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
  }

  private async conditional(command: UpdateCommand): Promise<boolean> {
    try {
      await this.client.send(command);
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
