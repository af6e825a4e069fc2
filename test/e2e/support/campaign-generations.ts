/**
 * A campaign's executions, generation by generation (cdk/campaign-workflow.ts continues a campaign as a
 * new execution after its pass budget), once the last of them has ended.
 */
import { campaignGenerationName } from '../../../cdk/campaign-workflow.js';
import type { LocalEnvironment } from '../../../local/local-environment.js';

type Execution = NonNullable<ReturnType<LocalEnvironment['stepFunctions']['execution']>>;

export async function campaignGenerations(
  env: LocalEnvironment,
  campaignId: string,
  timeoutMs = 120_000,
): Promise<Execution[]> {
  const generations: Execution[] = [];
  // One deadline for them all: a campaign that continues for ever (planning, never progressing) fails.
  const deadline = Date.now() + timeoutMs;
  for (let generation = 0; ; generation++) {
    const name = campaignGenerationName(campaignId, generation);
    const execution = env.stepFunctions.execution(name);
    if (execution === undefined) throw new Error(`no campaign execution ${name}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      execution.done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${name} still ${execution.status} (generation ${generation})`)),
          Math.max(0, deadline - Date.now()),
        );
      }),
    ]).finally(() => clearTimeout(timer));
    generations.push(execution);
    if (!execution.history.some((h) => h.stateName === 'CampaignContinued')) return generations;
  }
}

/** The campaign's last generation, which says how the campaign ended; every earlier one handed over. */
export async function lastCampaignGeneration(
  env: LocalEnvironment,
  campaignId: string,
  timeoutMs?: number,
): Promise<Execution> {
  const generations = await campaignGenerations(env, campaignId, timeoutMs);
  const handedOver = generations.slice(0, -1).filter((g) => g.status !== 'SUCCEEDED');
  if (handedOver.length > 0)
    throw new Error(`a generation that continued did not succeed: ${handedOver[0]?.status}`);
  const last = generations.at(-1);
  if (last === undefined) throw new Error(`no generation of campaign ${campaignId}`);
  return last;
}
