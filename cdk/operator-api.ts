/**
 * The operator API: one function URL that AWS authenticates (SigV4, AuthType AWS_IAM), invocable by the
 * granted principals; what each may do is decided per pool inside, where refusals are audited.
 */
import { ArnPrincipal, PolicyStatement, type Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  FunctionUrlAuthType,
  type Function as LambdaFunction,
  type FunctionUrl,
} from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { OperatorGrant } from '../shared/operator/operator-grants.js';

export interface OperatorApiProps {
  /** The OperatorApi function, which reads the grants from its environment. */
  readonly handler: LambdaFunction;
  /** The grants of the `operators` prop: each principal gets the URL's resource policy. */
  readonly operators: readonly OperatorGrant[];
  /** Campaigns the API starts, and whose approval step's task token it answers. */
  readonly campaignStateMachine: IStateMachine;
}

/**
 * The operator API's endpoint and permissions. Its resources are created on the handler, so their logical
 * ids stay those of the deployed stacks (see HostDocuments).
 */
export class OperatorApi extends Construct {
  readonly url: FunctionUrl;
  private readonly handler: LambdaFunction;

  constructor(scope: Construct, id: string, props: OperatorApiProps) {
    super(scope, id);
    this.handler = props.handler;
    props.campaignStateMachine.grantStartExecution(props.handler);
    // Approve, reject and cancel answer the approval step's task token. The Service Authorization Reference
    // lists no resource type for these actions (IAM requires "*"); the token itself names the one task.
    props.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
        resources: ['*'],
      }),
    );
    this.url = props.handler.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    const principals = [...new Set(props.operators.flatMap((g) => g.principals))];
    for (const arn of principals) this.grantInvoke(new ArnPrincipal(arn));
  }

  /**
   * Lets `grantee` call the URL (lambda:InvokeFunctionUrl, and lambda:InvokeFunction through it). Calling
   * is not acting: the function refuses, and audits, a caller that no operator grant names.
   */
  grantInvoke(grantee: IGrantable): Grant {
    return this.handler.grantInvokeUrl(grantee);
  }
}
