import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseS3Url } from '../../host/runner/download-content.js';
import { runDocument } from '../../host/runner/run-document.js';
import { localS3Client, startLocalS3Endpoint, type RunningLocalS3 } from '../../local/s3-endpoint.js';

let s3: RunningLocalS3;
let hostRoot: string;
const BODY = Buffer.from('archive bytes\u0000\u00ff', 'latin1');

beforeAll(async () => {
  s3 = await startLocalS3Endpoint();
  s3.createBucket('rejuv-assets');
  await localS3Client(s3.endpoint).send(
    new PutObjectCommand({ Bucket: 'rejuv-assets', Key: 'agent/rejuv-agent.pyz', Body: BODY }),
  );
  hostRoot = await mkdtemp(join(tmpdir(), 'rejuv-download-'));
});

afterAll(async () => {
  await s3.stop();
  await rm(hostRoot, { recursive: true, force: true });
});

async function readObject(bucket: string, key: string): Promise<Buffer> {
  const got = await localS3Client(s3.endpoint).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
}

function downloadDocument(path: string, destinationPath?: string) {
  return {
    schemaVersion: '2.2' as const,
    parameters: {},
    mainSteps: [
      {
        action: 'aws:downloadContent',
        name: 'fetch',
        inputs: {
          sourceType: 'S3',
          sourceInfo: JSON.stringify({ path }),
          ...(destinationPath === undefined ? {} : { destinationPath }),
        },
      },
      { action: 'aws:runShellScript', name: 'after', inputs: { runCommand: ['echo after'] } },
    ],
  };
}

const URL_OF_AGENT = 'https://s3.amazonaws.com/rejuv-assets/agent/rejuv-agent.pyz';

describe('Local runner: aws:downloadContent (sourceType S3)', () => {
  it('downloads to an absolute destination, then runs the next step', async () => {
    const destination = join(hostRoot, 'opt', 'agent.pyz');
    const run = await runDocument({
      document: downloadDocument(URL_OF_AGENT, destination),
      hostRoot,
      readS3Object: readObject,
    });
    expect(run.status).toBe('Success');
    expect(run.steps.map((s) => [s.name, s.status])).toEqual([
      ['fetch', 'Success'],
      ['after', 'Success'],
    ]);
    expect(run.steps[0]?.stdout).toBe(`Content downloaded to ${destination}\n`);
    expect(await readFile(destination)).toEqual(BODY);
  });

  it('puts a relative destination under the command’s downloads directory, and a directory gets the key’s name', async () => {
    const run = await runDocument({
      document: downloadDocument(URL_OF_AGENT, 'agent/'),
      hostRoot,
      readS3Object: readObject,
    });
    expect(run.status).toBe('Success');
    const downloads = join(
      hostRoot,
      'var',
      'lib',
      'amazon',
      'ssm',
      'orchestration',
      run.commandId,
      'downloads',
    );
    expect(await readFile(join(downloads, 'agent', 'rejuv-agent.pyz'))).toEqual(BODY);
    const into = join(hostRoot, 'into');
    await mkdir(into);
    await runDocument({ document: downloadDocument(URL_OF_AGENT, into), hostRoot, readS3Object: readObject });
    expect(await readFile(join(into, 'rejuv-agent.pyz'))).toEqual(BODY);
  });

  it('fails the step with exit code 1 and the reason for a missing object, bad sourceInfo or other source types', async () => {
    const missing = await runDocument({
      document: downloadDocument(
        'https://s3.amazonaws.com/rejuv-assets/agent/absent.pyz',
        join(hostRoot, 'absent'),
      ),
      hostRoot,
      readS3Object: readObject,
    });
    expect(missing.steps[0]).toMatchObject({ status: 'Failed', responseCode: 1 });
    expect(missing.steps[0]?.stderr).toContain('NoSuchKey');
    const notJson = downloadDocument(URL_OF_AGENT);
    notJson.mainSteps[0] = {
      ...notJson.mainSteps[0],
      inputs: { sourceType: 'S3', sourceInfo: '{path' },
    } as never;
    const bad = await runDocument({ document: notJson, hostRoot, readS3Object: readObject });
    expect(bad.steps[0]?.stderr).toContain('Please check JSON format of SourceInfo');
    const github = downloadDocument(URL_OF_AGENT);
    github.mainSteps[0] = {
      ...github.mainSteps[0],
      inputs: { sourceType: 'HTTP', sourceInfo: '{}' },
    } as never;
    const unsupported = await runDocument({ document: github, hostRoot, readS3Object: readObject });
    expect(unsupported.steps[0]).toMatchObject({ status: 'Failed', responseCode: 1 });
    expect(unsupported.steps[0]?.stderr).toContain('Unsupported location type');
  });

  it('reads path-style and virtual-hosted S3 URLs, and nothing else', () => {
    expect(parseS3Url('https://s3.eu-west-1.amazonaws.com/b/k/x+y.pyz')).toEqual({
      bucket: 'b',
      key: 'k/x y.pyz',
    });
    expect(parseS3Url('https://b.s3.amazonaws.com/k.pyz')).toEqual({ bucket: 'b', key: 'k.pyz' });
    expect(parseS3Url('https://example.com/b/k')).toMatch(/not an S3 object URL/);
    expect(parseS3Url('https://s3.amazonaws.com/b-only')).toMatch(/not an S3 object URL/);
  });
});
