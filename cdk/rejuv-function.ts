/** One place for what every rejuv Lambda shares: runtime, architecture, tracing, logs, bundling. */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import {
  NodejsFunction,
  OutputFormat,
  type BundlingOptions,
  type NodejsFunctionProps,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface RejuvFunctionProps extends Pick<
  NodejsFunctionProps,
  'environment' | 'timeout' | 'description' | 'memorySize'
> {
  /** Path of the TypeScript module that exports `handler`. */
  readonly entry: string;
  /** How long the function's logs are kept. */
  readonly logRetention: RetentionDays;
}

/**
 * How every function is bundled; test/unit/cdk/bundled-error-names.test.ts builds the handlers with
 * exactly these. Minified, so class names do not survive: error names are literals in each class
 * (`keepNames` is left off: it would hide a class that lost its literal name).
 */
export const REJUV_BUNDLING: Readonly<BundlingOptions> = {
  format: OutputFormat.CJS,
  minify: true,
  sourceMap: true,
  target: 'node24',
  // The Node 24 runtime ships SDK v3; bundling it again only makes cold starts slower.
  externalModules: ['@aws-sdk/*'],
  forceDockerBundling: false,
};

export class RejuvFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: RejuvFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A role of its own, allowed to write to its own log group only, instead of the broad managed
    // AWSLambdaBasicExecutionRole.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'rejuv',
        POWERTOOLS_METRICS_NAMESPACE: 'Rejuv',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: REJUV_BUNDLING,
    });
  }
}
