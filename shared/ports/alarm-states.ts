/** Which CloudWatch alarms are in ALARM now: the policy gate's blockers. */
export interface AlarmStates {
  /** The names of every alarm (metric or composite) whose state is ALARM, every page read. */
  namesInAlarm(): Promise<string[]>;
}
