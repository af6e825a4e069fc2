/**
 * What one host's rejuvenation costs in the billed units: Step Functions state transitions, Lambda
 * invocations, and DynamoDB requests and items written. Measured from a real local run (synthesized
 * workflow, real handlers, real QEMU host with two VMs), not computed from the code.
 */
import { teardownOpenLabHosts } from '../host/lab/lab-host.js';
import { startLocalEnvironment } from '../local/local-environment.js';
import { synthesizedWorkflow } from '../local/step-functions/synthesized-workflow.js';
import { addFleetHost, agingAlarmEvent } from '../test/e2e/support/local-fleet.js';

async function main(): Promise<void> {
  const env = await startLocalEnvironment({ waitMs: 100 });
  try {
    const states = synthesizedWorkflow().definition['States'] as Record<string, { Type: string }>;
    const host = await addFleetHost(env, {
      hostId: 'cost-a',
      pool: 'web',
      vms: [{ name: 'vm1' }, { name: 'vm2' }],
    });
    env.dynamoDbRequests?.reset();
    const started = (await env.invokeTrigger('AlarmTrigger', agingAlarmEvent(host.hostId))) as {
      executionName: string;
    };
    const execution = env.stepFunctions.execution(started.executionName);
    if (execution === undefined) throw new Error('the alarm started no execution');
    await execution.done;
    if (execution.status !== 'SUCCEEDED')
      throw new Error(`the run did not succeed: ${execution.error} ${execution.cause}`);
    const entered = execution.history.filter((h) => h.type === 'StateEntered');
    const taskEntries = entered.filter((h) => states[h.stateName ?? '']?.Type === 'Task').length;
    const counts = env.dynamoDbRequests?.counts();
    const requests = Object.values(counts?.byOperation ?? {}).reduce((a, b) => a + b, 0);
    const writeOps = ['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem'];
    const writeRequests = writeOps.reduce((n, op) => n + (counts?.byOperation[op] ?? 0), 0);
    const result = {
      stateTransitions: entered.length,
      lambdaInvocations: taskEntries + 1,
      dynamoDbRequests: requests,
      dynamoDbWriteRequests: writeRequests,
      dynamoDbItemsWritten: counts?.itemsWritten ?? 0,
      iamRequestsChecked: env.iam.cost().requestsChecked,
      iamCheckingMs: env.iam.cost().checkingMs,
      pollLoops: entered.filter(
        (h) =>
          h.stateName?.endsWith('Poll') === true ||
          h.stateName === 'AwaitHostCheck' ||
          h.stateName === 'DrainCheck',
      ).length,
    };
    console.log('one host, two VMs, alarm-triggered, local run');
    console.log(
      `  state transitions       ${result.stateTransitions} (of which poll checks: ${result.pollLoops})`,
    );
    console.log(
      `  Lambda invocations      ${result.lambdaInvocations} (${taskEntries} workflow steps + 1 trigger)`,
    );
    console.log(
      `  DynamoDB requests       ${result.dynamoDbRequests}: ${JSON.stringify(counts?.byOperation)}`,
    );
    console.log(
      `  DynamoDB write requests ${result.dynamoDbWriteRequests}, items written ${result.dynamoDbItemsWritten}`,
    );
    console.log(
      `  local IAM               ${result.iamRequestsChecked} requests checked in ${result.iamCheckingMs} ms (the enforcement's own cost)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await env.stop();
    await teardownOpenLabHosts();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
