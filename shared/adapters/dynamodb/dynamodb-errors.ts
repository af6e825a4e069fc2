/** Recognising DynamoDB's condition failures, which are expected outcomes here rather than faults. */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

export function isConditionalCheckFailed(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === 'ConditionalCheckFailedException')
  );
}

/**
 * For a cancelled transaction, which of its items failed their condition (by position); undefined when
 * the error is not a cancellation. Any other cancellation reason (a conflicting transaction, throttling)
 * is reported as `retry`.
 */
export function cancellationOutcome(error: unknown): ('ok' | 'condition' | 'retry')[] | undefined {
  const cancelled =
    error instanceof TransactionCanceledException ||
    (error instanceof Error && error.name === 'TransactionCanceledException');
  if (!cancelled) return undefined;
  const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
  return reasons.map((r) =>
    r.Code === undefined || r.Code === 'None'
      ? 'ok'
      : r.Code === 'ConditionalCheckFailed'
        ? 'condition'
        : 'retry',
  );
}

/** Conflicts between concurrent transactions are resolved by trying again. */
export function isTransactionConflict(error: unknown): boolean {
  return error instanceof Error && error.name === 'TransactionConflictException';
}
