/** The content of each host document as it ships: the one loader in host/ builds it for CDK and local runs alike. */
import { loadHostDocument, type HostDocumentName } from '../host/documents/load-host-document.js';
import { Stack } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { HOST_DOCUMENTS, type HostDocument } from '../shared/workflow/workflow-config.js';
import type { ManagedInstanceTag } from './rejuvenation-coordinator.js';

export function hostDocumentContent(document: HostDocumentName): Record<string, unknown> {
  return loadHostDocument(document).content as unknown as Record<string, unknown>;
}

export interface HostDocumentsProps {
  /** Only instances carrying this tag may be sent a document. */
  readonly managedInstanceTag: ManagedInstanceTag;
}

/**
 * The workflow's documents, CollectAging and Census, as Command documents that keep a new version per update.
 *
 * Like every part of the coordinator, it creates its resources in `scope`, not under itself: their
 * construct paths, and the logical ids CloudFormation derives from them, stay those of the stacks deployed
 * before the coordinator was split into parts (test/unit/cdk/logical-ids.test.ts).
 */
export class HostDocuments extends Construct {
  /** The workflow's documents, by name. */
  readonly documents: Readonly<Record<HostDocument, CfnDocument>>;
  /**
   * The read-only CollectAging document (host aging measurements for CloudWatch). Not part of the
   * workflow: the AgingCollector function sends it to the fleet on its schedule.
   */
  readonly collectAging: CfnDocument;
  /**
   * The Census document: every VM process on a host, and inventory entries written for adoptable ones
   * when asked. Not part of the workflow: the operator API sends it for `rejuv hosts inventory`.
   */
  readonly census: CfnDocument;
  private readonly managedInstanceTag: ManagedInstanceTag;

  constructor(scope: Construct, id: string, props: HostDocumentsProps) {
    super(scope, id);
    this.managedInstanceTag = props.managedInstanceTag;
    const document = (name: HostDocumentName) =>
      new CfnDocument(scope, `${name}Document`, {
        documentType: 'Command',
        documentFormat: 'JSON',
        content: hostDocumentContent(name),
        updateMethod: 'NewVersion',
      });
    const documents = {} as Record<HostDocument, CfnDocument>;
    for (const name of HOST_DOCUMENTS) documents[name] = document(name);
    this.documents = documents;
    this.collectAging = document('CollectAging');
    this.census = document('Census');
  }

  /**
   * Lets `grantee` send these documents (ssm:SendCommand), to the instances carrying the managed tag only:
   * hosts are not known at deploy time, so the instances are matched by the tag condition.
   */
  grantSend(grantee: IGrantable, documents: readonly CfnDocument[]): void {
    const stack = Stack.of(this);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: documents.map((d) =>
          stack.formatArn({ service: 'ssm', resource: 'document', resourceName: d.ref }),
        ),
      }),
    );
    const tag = this.managedInstanceTag;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }),
          stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
        ],
        conditions: { StringEquals: { [`ssm:resourceTag/${tag.key}`]: tag.value } },
      }),
    );
  }
}
