import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../../local/dynamodb-local.js';
import { TALLY_FILE } from './tally-file.js';

/** A clean tally for this run, and one DynamoDB Local for the files that need only a store. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(TALLY_FILE, { force: true });
  const dynamo = await startDynamoDbLocal();
  project.provide('dynamoDbEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
