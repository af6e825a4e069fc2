/**
 * The aws:downloadContent step as the SSM Agent's plugin runs it (agent/plugins/downloadcontent in
 * amazon-ssm-agent), for sourceType S3 only: `sourceInfo` is a JSON string `{"path": "<S3 URL>"}`
 * (path-style `https://s3[.<region>].amazonaws.com/<bucket>/<key>` or virtual-hosted
 * `https://<bucket>.s3[.<region>].amazonaws.com/<key>`; `+` is read as a space, as the agent does);
 * `destinationPath`, when absolute, is used as is, otherwise relative to `<orchestration dir>/downloads/`;
 * a destination that is an existing directory or ends with `/` receives the object under the key's
 * base name. Success prints `Content downloaded to <destination>`; any failure fails the step with
 * exit code 1 and the reason on stderr, as the plugin's MarkAsFailed does. GitHub and SSMDocument
 * sources are refused the same way (not emulated).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';

export const DownloadContentInputsSchema = z
  .object({
    sourceType: z.string(),
    sourceInfo: z.string(),
    destinationPath: z.string().optional(),
  })
  .loose();
export type DownloadContentInputs = z.output<typeof DownloadContentInputsSchema>;

/** Reads one S3 object (the runner's caller decides which S3: the local endpoint in local mode). */
export type S3ObjectReader = (bucket: string, key: string) => Promise<Buffer>;

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

const PATH_STYLE_HOST = /^s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?$/;
const VIRTUAL_HOSTED_HOST = /^(.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?$/;

/** The bucket and key an S3 URL names, or why it names none. */
export function parseS3Url(raw: string): S3Location | string {
  let url: URL;
  try {
    url = new URL(raw.trim().replaceAll('+', '%20'));
  } catch {
    return `not a URL: ${raw}`;
  }
  const path = decodeURIComponent(url.pathname.slice(1));
  const virtual = VIRTUAL_HOSTED_HOST.exec(url.hostname);
  if (virtual?.[1] !== undefined && path !== '') return { bucket: virtual[1], key: path };
  if (PATH_STYLE_HOST.test(url.hostname)) {
    const [bucket = '', ...key] = path.split('/');
    if (bucket !== '' && key.join('/') !== '') return { bucket, key: key.join('/') };
  }
  return `not an S3 object URL: ${raw}`;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export interface DownloadOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const failed = (reason: string): DownloadOutcome => ({ code: 1, stdout: '', stderr: `${reason}\n` });

export async function runDownloadContent(
  inputs: DownloadContentInputs,
  orchestrationDir: string,
  readObject: S3ObjectReader | undefined,
): Promise<DownloadOutcome> {
  if (inputs.sourceType === '') return failed('invalid input: Location Type must be specified');
  if (!['GitHub', 'S3', 'SSMDocument'].includes(inputs.sourceType))
    return failed('invalid input: Unsupported location type');
  if (inputs.sourceInfo === '') return failed('invalid input: Location Information must be specified');
  if (inputs.sourceType !== 'S3')
    return failed(`[local runner] sourceType ${inputs.sourceType} is not emulated (S3 only)`);
  let info: unknown;
  try {
    info = JSON.parse(inputs.sourceInfo);
  } catch (error) {
    return failed(
      `s3 url parsing failed. Source Info could not be unmarshalled for source type S3. Please check JSON format of SourceInfo - ${String(error)}`,
    );
  }
  const path = typeof info === 'object' && info !== null ? (info as { path?: unknown }).path : undefined;
  if (typeof path !== 'string' || path.trim() === '')
    return failed('S3 source path in SourceInfo must be specified');
  const location = parseS3Url(path);
  if (typeof location === 'string') return failed(location);
  if (readObject === undefined)
    return failed('[local runner] no S3 to download from was given to the runner');
  const requested = inputs.destinationPath ?? '';
  const destination = isAbsolute(requested)
    ? requested
    : `${join(orchestrationDir, 'downloads')}/${requested}`;
  const target =
    destination.endsWith('/') || (await isDirectory(destination))
      ? join(destination, basename(location.key))
      : destination;
  try {
    const body = await readObject(location.bucket, location.key);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, body);
  } catch (error) {
    return failed(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
  return { code: 0, stdout: `Content downloaded to ${destination}\n`, stderr: '' };
}
