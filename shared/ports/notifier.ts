/** Tells operators what they must know: quarantines, failures, completions. */
export type NotificationKind =
  'completed' | 'recovered' | 'quarantined' | 'failed' | 'refused' | 'approval-requested';

export interface Notification {
  readonly kind: NotificationKind;
  /** The host; for a campaign's notification (`approval-requested`), the campaign id. */
  readonly hostId: string;
  readonly executionId: string;
  readonly subject: string;
  readonly message: string;
}

export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
