/**
 * Answers a Step Functions task that waits on a task token (the campaign's approval step). The token only
 * wakes the waiting step: what was decided is in the campaigns table, which the step reads next.
 */
export interface TaskCallbacks {
  /** False when the task no longer waits (answered, timed out, its execution ended) or the token is bad. */
  succeed(token: string, output: object): Promise<boolean>;
  /** False as for `succeed`. `error` is what the state machine's Catch matches on. */
  fail(token: string, error: string, cause: string): Promise<boolean>;
}
