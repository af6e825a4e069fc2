/**
 * The host agent as one file: a zipapp (`python3 -I rejuv-agent.pyz <subcommand> ...`) of the launcher
 * host/agent/__main__.py and the rejuv_agent package. Deterministic: entries in sorted order, every
 * timestamp 1980-01-01 00:00, fixed modes, no extra fields, entries stored uncompressed (so the bytes
 * depend on no zlib version); the same sources always give the same bytes, so the archive's SHA-256
 * names the agent's version wherever it travels. Written here rather than with python's zipapp, which
 * stamps each entry with its file's mtime. Whoever carries it may compress it as a whole.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const AGENT_DIR = join(import.meta.dirname, '..', 'agent');
export const AGENT_PACKAGE = 'rejuv_agent';

export interface AgentArchive {
  readonly bytes: Buffer;
  readonly sha256: string;
  /** Paths inside the archive, in order. */
  readonly files: readonly string[];
}

interface ArchiveFile {
  readonly path: string;
  readonly data: Buffer;
}

/** The launcher and every module of the package (no tests, no __pycache__), sorted by path. */
export function agentSourceFiles(agentDir: string = AGENT_DIR): ArchiveFile[] {
  const modules = readdirSync(join(agentDir, AGENT_PACKAGE))
    .filter((name) => name.endsWith('.py'))
    .map((name) => `${AGENT_PACKAGE}/${name}`);
  return ['__main__.py', ...modules]
    .sort()
    .map((path) => ({ path, data: readFileSync(join(agentDir, ...path.split('/'))) }));
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const DOS_TIME_MIDNIGHT = 0;
const VERSION_NEEDED = 20;
/** Made by Unix (3), so that the external attributes carry a Unix mode. */
const VERSION_MADE_BY = (3 << 8) | VERSION_NEEDED;
const METHOD_STORED = 0;
const FILE_MODE = 0o100644;

function localHeader(name: Buffer, crc: number, size: number): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(VERSION_NEEDED, 4);
  header.writeUInt16LE(0, 6);
  header.writeUInt16LE(METHOD_STORED, 8);
  header.writeUInt16LE(DOS_TIME_MIDNIGHT, 10);
  header.writeUInt16LE(DOS_DATE_1980_01_01, 12);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(size, 18);
  header.writeUInt32LE(size, 22);
  header.writeUInt16LE(name.length, 26);
  header.writeUInt16LE(0, 28);
  return Buffer.concat([header, name]);
}

function centralHeader(name: Buffer, crc: number, size: number, offset: number): Buffer {
  const header = Buffer.alloc(46);
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(VERSION_NEEDED, 6);
  header.writeUInt16LE(0, 8);
  header.writeUInt16LE(METHOD_STORED, 10);
  header.writeUInt16LE(DOS_TIME_MIDNIGHT, 12);
  header.writeUInt16LE(DOS_DATE_1980_01_01, 14);
  header.writeUInt32LE(crc, 16);
  header.writeUInt32LE(size, 20);
  header.writeUInt32LE(size, 24);
  header.writeUInt16LE(name.length, 28);
  // Extra field, comment, disk number, internal attributes: none.
  header.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
  header.writeUInt32LE(offset, 42);
  return Buffer.concat([header, name]);
}

function endOfCentralDirectory(entries: number, size: number, offset: number): Buffer {
  const record = Buffer.alloc(22);
  record.writeUInt32LE(0x06054b50, 0);
  record.writeUInt16LE(entries, 8);
  record.writeUInt16LE(entries, 10);
  record.writeUInt32LE(size, 12);
  record.writeUInt32LE(offset, 16);
  return record;
}

/** A deterministic zip of `files`, stored, in the order given. */
export function zipArchive(files: readonly ArchiveFile[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.path, 'utf8');
    const crc = crc32(file.data);
    const local = Buffer.concat([localHeader(name, crc, file.data.length), file.data]);
    centrals.push(centralHeader(name, crc, file.data.length, offset));
    locals.push(local);
    offset += local.length;
  }
  const directory = Buffer.concat(centrals);
  return Buffer.concat([...locals, directory, endOfCentralDirectory(files.length, directory.length, offset)]);
}

/** The agent's archive, built from the sources in `agentDir` (this repository's by default). */
export function agentArchive(agentDir: string = AGENT_DIR): AgentArchive {
  const files = agentSourceFiles(agentDir);
  const bytes = zipArchive(files);
  return {
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    files: files.map((file) => file.path),
  };
}
